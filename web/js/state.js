// The page's one state store. Every field is named here; modules read them through `state`
// (read-only) and change them only through the setters below, which tell subscribers.
// Nothing here touches the browser at import time (node's test runner imports i18n.js, which reads it).

const STORAGE = { user: 'seatline.user', language: 'seatline.lang' };

const fields = {
  language: 'ko', // 'ko' | 'en'
  user: null, // { user_id, name, token } of the signed-in demo user
  balance: null, // the user's balance in won, once known
  route: { view: 'home', id: null, query: new URLSearchParams() },
  concerts: null, // the catalog's concerts, once loaded
  schedulesByConcert: new Map(), // concert id -> its schedules
  scheduleById: new Map(),
  openConcertId: null, // the concert whose dates the home page shows
  scheduleId: null, // the schedule being queued for or booked
  queue: null, // the last waiting-room answer: { status, position, eta_seconds, expires_at, token, schedule_id }
  seatMap: null, // the seat-map model (seat-map-model.js) of the seats view
  selectedSeatIds: [],
  cursor: null, // the seat map's keyboard cursor: { row, column }
  liveUpdates: null, // how the seat map stays current: 'connecting' | 'sse' | 'polling'
  reservation: null, // the reservation the reservation view shows
  topUpNeeded: null, // { balance, amount } after a refused balance payment
  cardPayment: null, // 'waiting' | 'timeout' while a card payment is being confirmed
  bookings: null, // the user's reservations, newest first, once loaded
  bookingEvents: new Map(), // reservation id -> its audit events
  openBookingIds: new Set(), // bookings whose history is shown
};

/** Read-only view of the store: assigning a field throws, use its setter. */
export const state = new Proxy(fields, {
  set(_, field) { throw new TypeError(`state.${String(field)} is read-only; use its setter in state.js`); },
  deleteProperty(_, field) { throw new TypeError(`state.${String(field)} cannot be deleted`); },
});

const listeners = new Map(); // field -> Set of functions

/** Calls `fn` after any of `names` changes; returns the function that unsubscribes. */
export function subscribe(names, fn) {
  const list = Array.isArray(names) ? names : [names];
  for (const name of list) {
    if (!(name in fields)) throw new Error(`no state field ${name}`);
    if (!listeners.has(name)) listeners.set(name, new Set());
    listeners.get(name).add(fn);
  }
  return () => { for (const name of list) listeners.get(name).delete(fn); };
}

// Sets the given fields, then calls each subscriber of a changed field once.
// `touched` names fields whose contents changed in place (Maps, the seat-map model).
function update(changes, touched = []) {
  const changed = new Set(touched);
  for (const [name, value] of Object.entries(changes)) {
    if (!(name in fields)) throw new Error(`no state field ${name}`);
    if (fields[name] !== value) { fields[name] = value; changed.add(name); }
  }
  const calls = new Set();
  for (const name of changed) for (const fn of listeners.get(name) || []) calls.add(fn);
  for (const fn of calls) fn();
}

function readJson(key) { try { return JSON.parse(localStorage.getItem(key)); } catch { return null; } }

/** Restores the language and the signed-in user from localStorage (at boot). */
export function restoreSession() {
  update({ language: localStorage.getItem(STORAGE.language) === 'en' ? 'en' : 'ko', user: readJson(STORAGE.user) });
}

export function setLanguage(language) {
  localStorage.setItem(STORAGE.language, language);
  update({ language });
}

/** Signs the user in (`user`) or out (`null`); signing out forgets the balance. */
export function setUser(user) {
  if (user) localStorage.setItem(STORAGE.user, JSON.stringify(user)); else localStorage.removeItem(STORAGE.user);
  update(user ? { user } : { user: null, balance: null });
}

export const setBalance = (balance) => update({ balance });

/** A new route: the seat selection only lives on the seats view. */
export function setRoute(route) {
  const changes = { route };
  if (route.view !== 'seats') Object.assign(changes, { seatMap: null, selectedSeatIds: [], cursor: null });
  if (route.view === 'queue' || route.view === 'seats') changes.scheduleId = route.id;
  update(changes);
}

export const setConcerts = (concerts) => update({ concerts });
export function setSchedules(concertId, schedules) {
  fields.schedulesByConcert.set(concertId, schedules);
  for (const s of schedules) fields.scheduleById.set(s.id, s);
  update({}, ['schedulesByConcert', 'scheduleById']);
}
export const setOpenConcert = (openConcertId) => update({ openConcertId });

export const setScheduleId = (scheduleId) => update({ scheduleId });
export const setQueue = (queue) => update({ queue });

export const setSeatMap = (seatMap) => update({ seatMap });
/** The seat-map model's statuses changed in place. */
export const seatMapChanged = () => update({}, ['seatMap']);
export const setSelectedSeats = (selectedSeatIds) => update({ selectedSeatIds });
export const setCursor = (cursor) => update({ cursor });
export const setLiveUpdates = (liveUpdates) => update({ liveUpdates });

export const setReservation = (reservation) => update({ reservation });
export const setTopUpNeeded = (topUpNeeded) => update({ topUpNeeded });
export const setCardPayment = (cardPayment) => update({ cardPayment });

/** Starts the bookings view afresh: nothing loaded, no history open. */
export function resetBookings() {
  fields.bookingEvents.clear();
  fields.openBookingIds.clear();
  update({ bookings: null }, ['bookingEvents', 'openBookingIds']);
}
export const setBookings = (bookings) => update({ bookings });
export function setBookingEvents(reservationId, events) {
  fields.bookingEvents.set(reservationId, events);
  update({}, ['bookingEvents']);
}
export function toggleBookingHistory(reservationId) {
  if (fields.openBookingIds.has(reservationId)) fields.openBookingIds.delete(reservationId);
  else fields.openBookingIds.add(reservationId);
  update({}, ['openBookingIds']);
}
