// The seat map as data: every seat of a schedule, where it sits in the hall's drawing, and its
// status. Statuses are kept as small codes in a typed array (15,000 seats are redrawn per frame).

// ---------------------------------------------------------------- statuses
/** Status codes of the model's `statusCodes` array. */
export const AVAILABLE = 0, HELD = 1, SOLD = 2;
const STATUS_NAMES = ['AVAILABLE', 'HELD', 'SOLD'];
// The one-letter statuses of the compact seat map (`GET …/seats?format=compact`): the only place the page reads them.
const STATUS_LETTERS = { A: AVAILABLE, H: HELD, S: SOLD };

export const statusName = (code) => STATUS_NAMES[code];
/** The code of a status name; anything unknown counts as sold, so it is never offered. */
export function statusCode(name) {
  const code = STATUS_NAMES.indexOf(name);
  return code < 0 ? SOLD : code;
}
/** The status name of a compact-map letter (`A`, `H`, `S`); anything unknown counts as sold. */
export const statusOfLetter = (letter) => STATUS_NAMES[STATUS_LETTERS[letter] ?? SOLD];

// ---------------------------------------------------------------- geometry of the drawing (hall units)
export const SEAT_SIZE = 10; // a seat's square
export const SEAT_PITCH = 12; // from one seat to the next, in a row and between rows
export const SEATS_PER_BLOCK = 50; // columns between two aisles
export const AISLE_WIDTH = 24;
export const BLOCK_WIDTH = SEATS_PER_BLOCK * SEAT_PITCH + AISLE_WIDTH;
export const MARGIN_LEFT = 44, MARGIN_TOP = 70, MARGIN_RIGHT = 44, MARGIN_BOTTOM = 24; // room for labels and the stage

/** Left edge of column `column` (from 1). */
export const columnX = (column) => MARGIN_LEFT + (column - 1) * SEAT_PITCH + Math.floor((column - 1) / SEATS_PER_BLOCK) * AISLE_WIDTH;
/** Top edge of row `row` (from 1). */
export const rowY = (row) => MARGIN_TOP + (row - 1) * SEAT_PITCH;

/** The seat's index at a point of the drawing, or -1 between seats. */
export function seatIndexAtPoint(model, x, y) {
  const fromLeft = x - MARGIN_LEFT; if (fromLeft < 0) return -1;
  const block = Math.floor(fromLeft / BLOCK_WIDTH), inBlock = fromLeft - block * BLOCK_WIDTH;
  if (inBlock >= SEATS_PER_BLOCK * SEAT_PITCH) return -1;
  const column = block * SEATS_PER_BLOCK + Math.floor(inBlock / SEAT_PITCH) + 1, row = Math.floor((y - MARGIN_TOP) / SEAT_PITCH) + 1;
  if ((inBlock % SEAT_PITCH) > SEAT_SIZE + 1 || ((y - MARGIN_TOP) % SEAT_PITCH) > SEAT_SIZE + 1) return -1;
  if (column < 1 || column > model.columns || row < 1 || row > model.rows) return -1;
  return model.seatIndexByPosition[(row - 1) * model.columns + column - 1];
}

/** The column at or left of `x` (an aisle counts as the block's last column); 1 left of the hall. */
export function columnAtOrLeftOf(x) {
  const fromLeft = x - MARGIN_LEFT; if (fromLeft < 0) return 1;
  const block = Math.floor(fromLeft / BLOCK_WIDTH), inBlock = Math.min(fromLeft - block * BLOCK_WIDTH, SEATS_PER_BLOCK * SEAT_PITCH - 1);
  return block * SEATS_PER_BLOCK + Math.floor(inBlock / SEAT_PITCH) + 1;
}

/** The seat index at (row, column), or -1 where there is no seat. */
export const seatIndexAt = (model, row, column) => model.seatIndexByPosition[(row - 1) * model.columns + column - 1];

// ---------------------------------------------------------------- the model
/** Builds the model from `GET /api/v1/schedules/{id}/seats`. Grades are ordered by price, dearest first. */
export function buildSeatMap(data) {
  const seats = data.seats || [];
  const seatCount = seats.length;
  let rows = 0, columns = 0;
  for (const s of seats) { if (s.row > rows) rows = s.row; if (s.number > columns) columns = s.number; }
  const grades = [...(data.grades || [])].sort((a, b) => b.price - a.price);
  const gradeIndexOf = new Map(grades.map((g, i) => [g.grade, i]));
  const seatIndexByPosition = new Int32Array(rows * columns).fill(-1);
  const statusCodes = new Uint8Array(seatCount), gradeIndexes = new Uint8Array(seatCount);
  const indexBySeatId = new Map();
  let available = 0;
  for (let i = 0; i < seatCount; i++) {
    const s = seats[i];
    if (!gradeIndexOf.has(s.grade)) { gradeIndexOf.set(s.grade, grades.length); grades.push({ grade: s.grade, price: s.price }); }
    gradeIndexes[i] = gradeIndexOf.get(s.grade);
    statusCodes[i] = statusCode(s.status);
    if (statusCodes[i] === AVAILABLE) available++;
    indexBySeatId.set(s.seat_id, i);
    seatIndexByPosition[(s.row - 1) * columns + (s.number - 1)] = i;
  }
  return {
    scheduleId: data.schedule_id, seats, seatCount, rows, columns, seatIndexByPosition, statusCodes, gradeIndexes,
    indexBySeatId, grades, available,
    width: columnX(Math.max(columns, 1)) + SEAT_SIZE + MARGIN_RIGHT, height: rowY(Math.max(rows, 1)) + SEAT_SIZE + MARGIN_BOTTOM,
    viewport: null, // { scale, offsetX, offsetY, fitScale }: set by the canvas, kept across reloads of the statuses
  };
}

export function seatById(model, seatId) {
  if (!model) return null;
  const i = model.indexBySeatId.get(Number(seatId));
  return i === undefined ? null : model.seats[i];
}

/** Sets one seat's status by name; true when it changed. */
export function setSeatStatus(model, seatId, name) {
  if (!model) return false;
  const i = model.indexBySeatId.get(Number(seatId)); if (i === undefined) return false;
  const code = statusCode(name);
  if (model.statusCodes[i] === code) return false;
  if (model.statusCodes[i] === AVAILABLE) model.available--; else if (code === AVAILABLE) model.available++;
  model.statusCodes[i] = code;
  model.seats[i].status = STATUS_NAMES[code];
  return true;
}

/**
 * The changes `[{seat_id, status}]` that bring the model to a compact map's status letters
 * (one per seat, in the order of the full map), or null when the letters do not fit the model.
 */
export function changesFromLetters(model, letters) {
  if (typeof letters !== 'string' || letters.length !== model.seatCount) return null;
  const changes = [];
  for (let i = 0; i < model.seatCount; i++) {
    const name = statusOfLetter(letters[i]);
    if (model.seats[i].status !== name) changes.push({ seat_id: model.seats[i].seat_id, status: name });
  }
  return changes;
}
