// The seat-map canvas: draws state.seatMap with the selection and the keyboard cursor, and
// turns pointer, wheel and keys into panning, zooming and picking seats.
import { announce } from './banner.js';
import { seatName, won } from './format.js';
import { label, t } from './i18n.js';
import {
  AVAILABLE, HELD, SEAT_PITCH, SEAT_SIZE, SOLD, MARGIN_LEFT, MARGIN_TOP, columnAtOrLeftOf, columnX, rowY,
  seatIndexAt, seatIndexAtPoint, statusName,
} from './seat-map-model.js';
import { setCursor, state, subscribe } from './state.js';

export const GRADE_COLORS = ['#7b2cbf', '#c1121f', '#1d6fb8', '#1f7a70', '#9a4d00', '#5b5f97', '#8a2c6b', '#3f6b1d'];
export const COLORS = {
  background: '#15181d', held: '#aeb4bc', sold: '#41464f', soldCross: '#a3a9b1', selected: '#ffd23f', white: '#ffffff',
  cursor: '#38bdf8', label: '#d3d8df', stage: '#2d3442',
};
// 0xAABBGGRR words for the pixel buffer (every browser we target is little-endian)
const pixel = (hex) => (0xff000000 | (parseInt(hex.slice(5, 7), 16) << 16) | (parseInt(hex.slice(3, 5), 16) << 8) | parseInt(hex.slice(1, 3), 16)) >>> 0;
const PIXELS = Object.fromEntries(Object.entries(COLORS).map(([name, hex]) => [name, pixel(hex)]));
const GRADE_PIXELS = GRADE_COLORS.map(pixel);
const MIN_ZOOM_OF_FIT = 0.6, MAX_ZOOM = 5;

/** What the seat-map test reads (window.seatline.metrics). */
export const seatMapMetrics = { firstDrawMs: null, lastFrameMs: null, seatMapBytes: null, seatMapFetchMs: null, frames: 0 };

const canvasState = {
  canvas: null, context: null, image: null, pixels: null,
  cssWidth: 0, cssHeight: 0, devicePixelRatio: 1, frameRequest: 0,
  firstDrawSince: null, // performance.now() of the first load, until its first frame is drawn
  detach: null,
};

/** The next frame draws the map for the first time since `since` (performance.now()). */
export function timeFirstDraw(since) { canvasState.firstDrawSince = since; }

/** Draws on the next animation frame (once, however often it is asked). */
export function invalidate() {
  const c = canvasState;
  if (!c.canvas || c.frameRequest) return;
  c.frameRequest = requestAnimationFrame(() => { c.frameRequest = 0; draw(); });
}

/** Zooms so the whole hall shows, centred. */
export function fit() {
  const model = state.seatMap, c = canvasState; if (!model || !c.cssWidth) return;
  const scale = Math.min(c.cssWidth / model.width, c.cssHeight / model.height);
  model.viewport = {
    scale, fitScale: scale,
    offsetX: (c.cssWidth - model.width * scale) / 2, offsetY: Math.max(0, (c.cssHeight - model.height * scale) / 2),
  };
}

function zoomAt(factor, screenX, screenY) {
  const model = state.seatMap; if (!model || !model.viewport) return;
  const v = model.viewport;
  const scale = Math.min(Math.max(v.scale * factor, v.fitScale * MIN_ZOOM_OF_FIT), MAX_ZOOM);
  const hallX = (screenX - v.offsetX) / v.scale, hallY = (screenY - v.offsetY) / v.scale;
  v.offsetX = screenX - hallX * scale; v.offsetY = screenY - hallY * scale; v.scale = scale;
  invalidate();
}

function resize() {
  const c = canvasState, canvas = c.canvas; if (!canvas) return;
  const box = canvas.getBoundingClientRect();
  c.devicePixelRatio = window.devicePixelRatio || 1;
  c.cssWidth = box.width; c.cssHeight = box.height;
  canvas.width = Math.round(box.width * c.devicePixelRatio); canvas.height = Math.round(box.height * c.devicePixelRatio);
  if (state.seatMap && !state.seatMap.viewport) fit();
  invalidate();
}

// Seats are rasterized straight into a pixel buffer (one putImageData per frame): a software
// canvas needs ~40 ms to fill 15,000 path rectangles, the buffer takes a few ms.
export function draw() {
  const model = state.seatMap, c = canvasState, canvas = c.canvas; if (!model || !canvas || !c.cssWidth) return;
  if (!model.viewport) fit();
  const startedAt = performance.now();
  const ctx = c.context, dpr = c.devicePixelRatio, { scale, offsetX, offsetY } = model.viewport, W = c.cssWidth, H = c.cssHeight;
  const deviceWidth = canvas.width, deviceHeight = canvas.height;
  if (!c.image || c.image.width !== deviceWidth || c.image.height !== deviceHeight) {
    c.image = ctx.createImageData(deviceWidth, deviceHeight); c.pixels = new Uint32Array(c.image.data.buffer);
  }
  const pixels = c.pixels;
  pixels.fill(PIXELS.background);
  // only the rows and columns in view
  const hallLeft = -offsetX / scale, hallRight = (W - offsetX) / scale, hallTop = -offsetY / scale, hallBottom = (H - offsetY) / scale;
  const firstRow = Math.max(1, Math.floor((hallTop - MARGIN_TOP) / SEAT_PITCH)), lastRow = Math.min(model.rows, Math.ceil((hallBottom - MARGIN_TOP) / SEAT_PITCH) + 1);
  const firstColumn = Math.max(1, columnAtOrLeftOf(hallLeft) - 1), lastColumn = Math.min(model.columns, columnAtOrLeftOf(hallRight) + 1);
  const toDevice = scale * dpr;
  const columnEdges = new Int32Array(2 * (lastColumn - firstColumn + 1) + 2); // device x from and to, per column
  for (let col = firstColumn; col <= lastColumn; col++) {
    const from = Math.round(offsetX * dpr + columnX(col) * toDevice);
    let to = Math.round(offsetX * dpr + (columnX(col) + SEAT_SIZE) * toDevice); if (to <= from) to = from + 1;
    columnEdges[2 * (col - firstColumn)] = from; columnEdges[2 * (col - firstColumn) + 1] = to;
  }
  const selected = new Set(state.selectedSeatIds.map((id) => model.indexBySeatId.get(id)));
  const { seatIndexByPosition, statusCodes, gradeIndexes, columns } = model;
  const seatPx = SEAT_SIZE * scale, seatDevicePx = SEAT_SIZE * toDevice;
  const crossWidth = seatDevicePx >= 7 ? Math.max(1, Math.round(seatDevicePx / 12)) : 0, border = Math.max(1, Math.round(seatDevicePx / 9));
  const gradePixels = model.grades.map((_, i) => GRADE_PIXELS[i % GRADE_PIXELS.length]);
  const fill = (x0, x1, y0, y1, value) => {
    x0 = Math.max(x0, 0); x1 = Math.min(x1, deviceWidth); y0 = Math.max(y0, 0); y1 = Math.min(y1, deviceHeight);
    for (let y = y0; y < y1; y++) { const line = y * deviceWidth; for (let x = x0; x < x1; x++) pixels[line + x] = value; }
  };
  for (let row = firstRow; row <= lastRow; row++) {
    const y0 = Math.round(offsetY * dpr + rowY(row) * toDevice);
    let y1 = Math.round(offsetY * dpr + (rowY(row) + SEAT_SIZE) * toDevice); if (y1 <= y0) y1 = y0 + 1;
    if (y1 <= 0 || y0 >= deviceHeight) continue;
    const rowStart = (row - 1) * columns;
    for (let col = firstColumn; col <= lastColumn; col++) {
      const i = seatIndexByPosition[rowStart + col - 1]; if (i < 0) continue;
      const x0 = columnEdges[2 * (col - firstColumn)], x1 = columnEdges[2 * (col - firstColumn) + 1];
      if (selected.has(i)) {
        fill(x0, x1, y0, y1, PIXELS.white);
        fill(x0 + border, x1 - border, y0 + border, y1 - border, PIXELS.selected);
      } else if (statusCodes[i] === AVAILABLE) fill(x0, x1, y0, y1, gradePixels[gradeIndexes[i]]);
      else if (statusCodes[i] === HELD) fill(x0, x1, y0, y1, PIXELS.held);
      else {
        fill(x0, x1, y0, y1, PIXELS.sold);
        if (crossWidth) { // a cross on sold seats once they are big enough to show one
          const n = Math.min(x1 - x0, y1 - y0), inset = Math.round(n * 0.2), end = n - inset;
          for (let d = inset; d < end; d++) {
            fill(x0 + d, x0 + d + crossWidth, y0 + d, y0 + d + 1, PIXELS.soldCross);
            fill(x0 + n - 1 - d - crossWidth + 1, x0 + n - d, y0 + d, y0 + d + 1, PIXELS.soldCross);
          }
        }
      }
    }
  }
  ctx.putImageData(c.image, 0, 0);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  // stage
  ctx.fillStyle = COLORS.stage;
  ctx.fillRect(offsetX + model.width * 0.25 * scale, offsetY + 14 * scale, model.width * 0.5 * scale, 34 * scale);
  // labels, drawn in screen space so they stay crisp
  ctx.textBaseline = 'middle';
  const stageHeight = 34 * scale;
  if (stageHeight > 10) {
    ctx.fillStyle = COLORS.label; ctx.textAlign = 'center';
    ctx.font = `600 ${Math.min(Math.max(stageHeight * 0.45, 10), 22)}px system-ui, sans-serif`;
    ctx.fillText(t('stage'), offsetX + (model.width / 2) * scale, offsetY + 31 * scale);
  }
  if (seatPx >= 18) { // seat numbers on the seats
    ctx.font = `600 ${Math.min(seatPx * 0.42, 16)}px system-ui, sans-serif`; ctx.textAlign = 'center';
    for (let row = firstRow; row <= lastRow; row++) {
      const rowStart = (row - 1) * columns, y = offsetY + (rowY(row) + SEAT_SIZE / 2) * scale;
      for (let col = firstColumn; col <= lastColumn; col++) {
        const i = seatIndexByPosition[rowStart + col - 1]; if (i < 0 || (statusCodes[i] === SOLD && !selected.has(i))) continue;
        ctx.fillStyle = selected.has(i) || statusCodes[i] === HELD ? COLORS.background : COLORS.white;
        ctx.fillText(String(col), offsetX + (columnX(col) + SEAT_SIZE / 2) * scale, y);
      }
    }
  }
  const rowPx = SEAT_PITCH * scale;
  const rowLabelStep = rowPx >= 11 ? 1 : rowPx >= 4 ? 5 : 10;
  let rowLabelX = offsetX + (MARGIN_LEFT - 6) * scale;
  ctx.font = `${Math.min(Math.max(rowPx * 0.75, 10), 14)}px system-ui, sans-serif`;
  const rowLabelsPinned = rowLabelX < 30; // scrolled off to the left: keep them on a strip at the edge
  if (rowLabelsPinned) { ctx.fillStyle = 'rgba(21,24,29,.96)'; ctx.fillRect(0, 0, 32, H); rowLabelX = 28; }
  ctx.fillStyle = COLORS.label; ctx.textAlign = 'right';
  for (let row = firstRow; row <= lastRow; row++) {
    if (row === 1 || row % rowLabelStep === 0) ctx.fillText(String(row), rowLabelX, offsetY + (rowY(row) + SEAT_SIZE / 2) * scale);
  }
  if (seatPx >= 5) {
    const columnLabelStep = seatPx >= 16 ? 1 : seatPx >= 9 ? 5 : 10;
    let labelY = offsetY + (MARGIN_TOP - 9) * scale;
    if (labelY < 10) { ctx.fillStyle = 'rgba(21,24,29,.96)'; ctx.fillRect(0, 0, W, 20); labelY = 10; }
    ctx.fillStyle = COLORS.label; ctx.textAlign = 'center'; ctx.font = '11px system-ui, sans-serif';
    for (let col = firstColumn; col <= lastColumn; col++) {
      const x = offsetX + (columnX(col) + SEAT_SIZE / 2) * scale;
      if ((col === 1 || col % columnLabelStep === 0) && (!rowLabelsPinned || x > 42)) ctx.fillText(String(col), x, labelY);
    }
  }
  if (seatPx < 12) { // small seats: ring the selection so it stands out at a glance
    ctx.strokeStyle = COLORS.selected; ctx.lineWidth = 2;
    for (const i of selected) {
      const seat = model.seats[i];
      ctx.strokeRect(offsetX + columnX(seat.number) * scale - 4, offsetY + rowY(seat.row) * scale - 4, seatPx + 8, seatPx + 8);
    }
  }
  const cursor = state.cursor;
  if (cursor && document.activeElement === canvas) {
    ctx.strokeStyle = COLORS.cursor; ctx.lineWidth = 3;
    ctx.strokeRect(offsetX + columnX(cursor.column) * scale - 4, offsetY + rowY(cursor.row) * scale - 4, seatPx + 8, seatPx + 8);
  }
  const took = performance.now() - startedAt;
  seatMapMetrics.lastFrameMs = Math.round(took * 100) / 100; seatMapMetrics.frames++;
  if (c.firstDrawSince !== null) { seatMapMetrics.firstDrawMs = Math.round(performance.now() - c.firstDrawSince); c.firstDrawSince = null; }
}

/** Full-map redraws for measuring frame time: fits the whole hall, draws `frames` frames, returns the stats. */
export function benchmark(frames) {
  const c = canvasState;
  if (!state.seatMap || !c.canvas) return null;
  fit();
  const times = [];
  // getImageData forces the canvas to finish rasterizing, so the time is the whole frame's
  for (let i = 0; i < frames; i++) {
    const startedAt = performance.now(); draw(); c.context.getImageData(0, 0, 1, 1); times.push(performance.now() - startedAt);
  }
  times.sort((a, b) => a - b);
  return { frames, avgMs: times.reduce((a, b) => a + b, 0) / frames, medianMs: times[frames >> 1], maxMs: times[frames - 1] };
}

function seatIndexAtPointer(event) {
  const model = state.seatMap; if (!model || !model.viewport) return -1;
  const box = canvasState.canvas.getBoundingClientRect(), v = model.viewport;
  return seatIndexAtPoint(model, (event.clientX - box.left - v.offsetX) / v.scale, (event.clientY - box.top - v.offsetY) / v.scale);
}

/** Keeps the keyboard cursor on screen and big enough to read. */
function revealCursor() {
  const model = state.seatMap, cursor = state.cursor; if (!model || !cursor) return;
  const v = model.viewport, c = canvasState;
  const centre = () => [(columnX(cursor.column) + SEAT_SIZE / 2) * v.scale + v.offsetX, (rowY(cursor.row) + SEAT_SIZE / 2) * v.scale + v.offsetY];
  if (SEAT_SIZE * v.scale < 14) zoomAt(16 / (SEAT_SIZE * v.scale), ...centre());
  const [x, y] = centre();
  const margin = 60;
  if (x < margin || x > c.cssWidth - margin) v.offsetX += c.cssWidth / 2 - x;
  if (y < margin || y > c.cssHeight - margin) v.offsetY += c.cssHeight / 2 - y;
  invalidate();
}

/** "Row 3, Seat 12 · R · ₩150,000 · Available", for the tooltip and screen readers. */
export function describeSeat(index) {
  const model = state.seatMap, seat = model.seats[index];
  const status = state.selectedSeatIds.includes(seat.seat_id) ? t('selected') : label('seatStatus', statusName(model.statusCodes[index]));
  return t('seatInfo', { seat: seatName(seat), grade: seat.grade, price: won(seat.price), status });
}

const KEY_MOVES = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };

/**
 * Draws the seat map on `canvas` (its parent holds the `.tip` tooltip; the page has the zoom buttons)
 * until the returned function detaches it. `toggleSeat(seatId)` picks or drops a seat; true when it did.
 */
export function attachSeatMap(canvas, { toggleSeat }) {
  if (canvasState.detach) canvasState.detach();
  const c = canvasState;
  c.canvas = canvas; c.context = canvas.getContext('2d', { alpha: false });
  const wrap = canvas.parentElement, tip = wrap.querySelector('.tip');
  const resizes = new ResizeObserver(() => resize()); resizes.observe(canvas);
  const unsubscribe = subscribe(['seatMap', 'selectedSeatIds', 'cursor'], invalidate);
  let pressed = null, dragging = false;
  canvas.onpointerdown = (event) => {
    const v = state.seatMap?.viewport;
    pressed = { x: event.clientX, y: event.clientY, offsetX: v?.offsetX, offsetY: v?.offsetY }; dragging = false;
    canvas.setPointerCapture(event.pointerId);
  };
  canvas.onpointermove = (event) => {
    const model = state.seatMap; if (!model || !model.viewport) return;
    if (pressed && (dragging || Math.hypot(event.clientX - pressed.x, event.clientY - pressed.y) > 4)) {
      dragging = true; canvas.classList.add('dragging'); tip.hidden = true;
      model.viewport.offsetX = pressed.offsetX + event.clientX - pressed.x; model.viewport.offsetY = pressed.offsetY + event.clientY - pressed.y;
      invalidate();
      return;
    }
    const i = seatIndexAtPointer(event);
    if (i < 0) { tip.hidden = true; canvas.style.cursor = ''; return; }
    const box = wrap.getBoundingClientRect();
    tip.textContent = describeSeat(i); tip.hidden = false;
    tip.style.left = Math.min(event.clientX - box.left + 14, box.width - tip.offsetWidth - 6) + 'px';
    tip.style.top = Math.max(event.clientY - box.top - 36, 4) + 'px';
    canvas.style.cursor = model.statusCodes[i] === AVAILABLE ? 'pointer' : 'not-allowed';
  };
  canvas.onpointerup = (event) => {
    const wasDrag = dragging; pressed = null; dragging = false; canvas.classList.remove('dragging');
    if (wasDrag) return;
    const i = seatIndexAtPointer(event); if (i < 0) return;
    const seat = state.seatMap.seats[i];
    setCursor({ row: seat.row, column: seat.number });
    if (toggleSeat(seat.seat_id) || state.seatMap.statusCodes[i] !== AVAILABLE) announce(describeSeat(i));
  };
  canvas.onpointerleave = () => { tip.hidden = true; };
  canvas.addEventListener('wheel', (event) => {
    event.preventDefault();
    const box = canvas.getBoundingClientRect();
    zoomAt(Math.exp(-event.deltaY * (event.deltaMode === 1 ? 0.05 : 0.0015)), event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });
  canvas.onfocus = canvas.onblur = () => invalidate();
  canvas.onkeydown = (event) => {
    const model = state.seatMap; if (!model) return;
    const key = event.key;
    if (key === '+' || key === '=' || key === '-' || key === '_') {
      event.preventDefault();
      const cursor = state.cursor, v = model.viewport; // zoom around the keyboard cursor when there is one
      const x = cursor ? v.offsetX + (columnX(cursor.column) + SEAT_SIZE / 2) * v.scale : c.cssWidth / 2;
      const y = cursor ? v.offsetY + (rowY(cursor.row) + SEAT_SIZE / 2) * v.scale : c.cssHeight / 2;
      zoomAt(key === '+' || key === '=' ? 1.25 : 0.8, x, y);
      return;
    }
    const startCursor = () => ({ row: 1, column: Math.ceil(model.columns / 2) });
    if (KEY_MOVES[key]) {
      event.preventDefault();
      const cursor = state.cursor, step = event.shiftKey ? 10 : 1, [down, right] = KEY_MOVES[key];
      setCursor(!cursor ? startCursor() : {
        row: Math.min(Math.max(cursor.row + down * step, 1), model.rows),
        column: Math.min(Math.max(cursor.column + right * step, 1), model.columns),
      });
      revealCursor();
      const i = seatIndexAt(model, state.cursor.row, state.cursor.column);
      if (i >= 0) announce(describeSeat(i));
      return;
    }
    if (key === 'Enter' || key === ' ') {
      event.preventDefault();
      if (!state.cursor) { setCursor(startCursor()); revealCursor(); }
      const i = seatIndexAt(model, state.cursor.row, state.cursor.column);
      if (i >= 0) { toggleSeat(model.seats[i].seat_id); announce(describeSeat(i)); }
    }
  };
  const centreX = () => c.cssWidth / 2, centreY = () => c.cssHeight / 2;
  document.querySelector('[data-testid=zoom-in]').onclick = () => zoomAt(1.4, centreX(), centreY());
  document.querySelector('[data-testid=zoom-out]').onclick = () => zoomAt(1 / 1.4, centreX(), centreY());
  document.querySelector('[data-testid=zoom-fit]').onclick = () => { fit(); invalidate(); };
  resize();
  c.detach = () => {
    resizes.disconnect(); unsubscribe();
    if (c.frameRequest) cancelAnimationFrame(c.frameRequest);
    c.frameRequest = 0; c.canvas = null; c.detach = null;
  };
  return c.detach;
}
