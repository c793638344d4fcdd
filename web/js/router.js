// Hash routes: #/  #/schedule/<id>/queue  #/schedule/<id>/seats  #/reservation/<id>  #/bookings
// Each time a route is entered is a "visit": work that finishes after the visit ended checks
// isCurrentVisit(visit) and drops its result; onLeave() registers what to stop when it ends.

let currentVisit = 0;
let leaving = [];
let enter = () => {};

export function parseHash(hash = location.hash) {
  const [path, query = ''] = hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean);
  const q = new URLSearchParams(query);
  if (parts[0] === 'schedule' && parts[1] && parts[2] === 'queue') return { view: 'queue', id: parts[1], query: q };
  if (parts[0] === 'schedule' && parts[1] && parts[2] === 'seats') return { view: 'seats', id: parts[1], query: q };
  if (parts[0] === 'reservation' && parts[1]) return { view: 'reservation', id: parts[1], query: q };
  if (parts[0] === 'bookings') return { view: 'bookings', id: null, query: q };
  return { view: 'home', id: null, query: q };
}

/** Ends the current visit and starts one of the route in the address bar. */
export function reroute() {
  const ending = leaving;
  leaving = [];
  for (const fn of ending) { try { fn(); } catch (e) { console.error(e); } }
  currentVisit++;
  enter(parseHash(), currentVisit);
}

/** Goes to `hash` (entering it again when already there); `replace` keeps it out of the history. */
export function go(hash, replace = false) {
  if (location.hash === hash) { reroute(); return; }
  if (replace) { history.replaceState(null, '', hash); reroute(); } else location.hash = hash;
}

export const onLeave = (fn) => { leaving.push(fn); };
export const visit = () => currentVisit;
export const isCurrentVisit = (v) => v === currentVisit;

/** Starts routing: `onEnter(route, visit)` runs for every route entered, the current one first. */
export function startRouter(onEnter) {
  enter = onEnter;
  window.addEventListener('hashchange', reroute);
  if (!location.hash) history.replaceState(null, '', '#/');
  reroute();
}
