// The seats view: the seat map (seatmap.js draws it), kept current by the live stream (or by
// polling when the stream is lost), the selection panel, and holding the chosen seats.
import { api, isTransient, newIdempotencyKey, queueTokens } from '../api.js';
import { announce, bannerCode, clearBanner, showBanner } from '../banner.js';
import { ensureScheduleTitle, scheduleTitle } from '../catalog.js';
import { handleError, runAction } from '../errors.js';
import { count, minutesSeconds, seatName, won } from '../format.js';
import { html, render } from '../html.js';
import { label, t } from '../i18n.js';
import { go, isCurrentVisit, onLeave, visit as currentVisit } from '../router.js';
import { buildSeatMap, changesFromLetters, seatById, setSeatStatus } from '../seat-map-model.js';
import { COLORS, GRADE_COLORS, attachSeatMap, seatMapMetrics, timeFirstDraw } from '../seatmap.js';
import {
  seatMapChanged, setLiveUpdates, setReservation, setSeatMap, setSelectedSeats, state, subscribe,
} from '../state.js';

export const MAX_SEATS = 4;
const FALLBACK_POLL_MS = 5000;
const STREAM_GRACE_MS = 3000; // a reconnecting stream gets this long before the page falls back to polling

// ---------------------------------------------------------------- the selection
/** Picks or drops a seat (a click, Enter, or the test hook); true when the selection changed. */
export function toggleSeat(seatId, { quiet = false } = {}) {
  const seat = seatById(state.seatMap, seatId); if (!seat) return false;
  const id = seat.seat_id, selected = state.selectedSeatIds;
  if (selected.includes(id)) setSelectedSeats(selected.filter((x) => x !== id));
  else if (seat.status !== 'AVAILABLE') { if (!quiet) announce(t('seatNotAvailable', { seat: seatName(seat) })); return false; }
  else if (selected.length >= MAX_SEATS) { showBanner(t('maxSeats', { max: MAX_SEATS }), { kind: 'warn', code: 'MAX_SEATS' }); return false; }
  else setSelectedSeats([...selected, id]);
  return true;
}

/** Applies status changes `[{seat_id, status}]`; selected seats that someone else took leave the selection. */
function applySeatChanges(changes) {
  const model = state.seatMap;
  if (!model || !Array.isArray(changes)) return;
  let changed = false; const lost = [];
  for (const change of changes) {
    if (setSeatStatus(model, change.seat_id, change.status)) {
      changed = true;
      if (change.status !== 'AVAILABLE' && state.selectedSeatIds.includes(Number(change.seat_id))) lost.push(Number(change.seat_id));
    }
  }
  if (lost.length) {
    setSelectedSeats(state.selectedSeatIds.filter((id) => !lost.includes(id)));
    showBanner(t('seatsGone', { seats: lost.map((id) => seatName(seatById(model, id))).join(', ') }), { kind: 'warn', code: 'SEAT_UNAVAILABLE' });
  }
  if (changed) seatMapChanged();
}

// ---------------------------------------------------------------- loading
/** The whole seat map, measured for the seat-map test; undefined when the visit ended meanwhile. */
async function fetchWholeMap(scheduleId, visit) {
  const startedAt = performance.now();
  const { data, response, text } = await api.seatMap(scheduleId);
  if (!isCurrentVisit(visit)) return undefined;
  seatMapMetrics.seatMapFetchMs = Math.round(performance.now() - startedAt);
  const length = Number(response.headers.get('content-length'));
  const entry = performance.getEntriesByName(response.url).pop();
  seatMapMetrics.seatMapBytes = length > 0 ? length : entry && entry.encodedBodySize ? entry.encodedBodySize : new TextEncoder().encode(text).length;
  return { data, startedAt };
}

/** Loads the whole seat map into a new model (the zoom and pan stay) and times its first frame. */
async function loadSeatMap(scheduleId, visit) {
  const fetched = await fetchWholeMap(scheduleId, visit);
  if (!fetched) return;
  const model = buildSeatMap(fetched.data);
  model.viewport = state.seatMap && state.seatMap.viewport;
  timeFirstDraw(fetched.startedAt);
  setSeatMap(model);
}

/**
 * Brings the statuses up to date: from the compact map (one letter per seat) when it fits the
 * model, else from the whole map.
 */
async function refreshStatuses(scheduleId, visit) {
  if (state.seatMap) {
    const compact = await api.seatStatuses(scheduleId);
    if (!isCurrentVisit(visit)) return;
    const changes = state.seatMap && changesFromLetters(state.seatMap, compact && compact.statuses);
    if (changes) { applySeatChanges(changes); return; }
  }
  const fetched = await fetchWholeMap(scheduleId, visit);
  if (!fetched) return;
  if (!state.seatMap) setSeatMap(buildSeatMap(fetched.data));
  else applySeatChanges((fetched.data.seats || []).map((s) => ({ seat_id: s.seat_id, status: s.status })));
}

// ---------------------------------------------------------------- the view
export function enter(route, visit) {
  const scheduleId = route.id;
  if (!queueTokens.get(scheduleId)) { go(`#/schedule/${scheduleId}/queue`, true); return; }
  redraw();
  ensureScheduleTitle(scheduleId, visit);
  let fallbackTimer = 0, stream = null;
  const turnTimer = setInterval(tickTurn, 1000);
  const unsubscribe = subscribe(['seatMap', 'selectedSeatIds'], renderPanel);
  onLeave(() => { clearInterval(fallbackTimer); clearInterval(turnTimer); unsubscribe(); if (stream) stream.close(); });
  setLiveUpdates('connecting');
  const catchUp = () => refreshStatuses(scheduleId, visit).catch(() => {});
  const startPolling = () => {
    setLiveUpdates('polling');
    if (fallbackTimer) return;
    showBanner(t('liveLost'), { kind: 'info', code: 'SSE_FALLBACK' });
    fallbackTimer = setInterval(() => refreshStatuses(scheduleId, visit).catch((error) => {
      if (!isTransient(error)) { clearInterval(fallbackTimer); handleError(error); }
    }), FALLBACK_POLL_MS);
  };
  let opened = 0;
  const connect = async () => {
    if (typeof EventSource === 'undefined') { startPolling(); return; }
    let url;
    try { url = await api.seatStreamUrl(scheduleId); } catch { startPolling(); return; }
    if (!isCurrentVisit(visit)) return;
    stream = new EventSource(url);
    let hadError = false;
    stream.addEventListener('seats', (event) => {
      try { applySeatChanges(JSON.parse(event.data).changes); } catch (e) { console.error(e); }
    });
    // the server dropped changes for this subscriber (it fell behind): reload the statuses
    stream.addEventListener('resync', catchUp);
    stream.onopen = () => {
      opened = Date.now();
      setLiveUpdates('sse');
      if (fallbackTimer) { clearInterval(fallbackTimer); fallbackTimer = 0; if (bannerCode() === 'SSE_FALLBACK') clearBanner(); }
      if (hadError) catchUp(); // after a reconnect, catch up on what was missed
    };
    stream.onerror = () => {
      hadError = true;
      if (!isCurrentVisit(visit)) return;
      // Closed for good (its ticket is spent): after a while on the air, a new ticket; else poll.
      if (stream.readyState === EventSource.CLOSED) {
        if (opened && Date.now() - opened > STREAM_GRACE_MS) { opened = 0; connect(); } else startPolling();
      }
      else setTimeout(() => { if (isCurrentVisit(visit) && stream.readyState !== EventSource.OPEN) startPolling(); }, STREAM_GRACE_MS);
    };
  };
  runAction(null, async () => {
    await loadSeatMap(scheduleId, visit);
    if (!isCurrentVisit(visit)) return;
    redraw();
    if (!stream) connect();
  });
}

export function redraw() {
  const scheduleId = state.route.id, model = state.seatMap;
  const legend = model && html`<div class="legend" data-testid="legend">${model.grades.map((grade, k) => html`<span data-grade="${grade.grade}"><span class="sw" data-color="${GRADE_COLORS[k % GRADE_COLORS.length]}"></span>${grade.grade} ${won(grade.price)}</span>`)}
      <span><span class="sw" data-color="${COLORS.selected}"></span>${t('selected')}</span>
      <span><span class="sw" data-color="${COLORS.held}"></span>${label('seatStatus', 'HELD')}</span>
      <span><span class="sw" data-color="${COLORS.sold}"></span>${label('seatStatus', 'SOLD')} ✕</span></div>`;
  render(document.getElementById('main'), html`<h1>${t('mapTitle')}</h1><p class="muted" data-testid="schedule-title">${scheduleTitle(scheduleId)}</p>
    ${!model ? html`<p class="muted" aria-busy="true">${t('loading')}</p>` : html`<div class="seatview">
      <div>
        <div class="mapbar">${legend}
          <div class="maptools"><button type="button" data-testid="zoom-in" aria-label="${t('zoomIn')}" title="${t('zoomIn')}">+</button>
            <button type="button" data-testid="zoom-out" aria-label="${t('zoomOut')}" title="${t('zoomOut')}">−</button>
            <button type="button" data-testid="zoom-fit" aria-label="${t('zoomFit')}" title="${t('zoomFit')}">⤢</button></div></div>
        <div class="mapwrap">
          <canvas tabindex="0" role="application" aria-roledescription="seat map" aria-label="${t('mapAria')}" data-testid="seat-canvas"></canvas>
          <div class="tip" hidden></div>
        </div>
      </div>
      <aside class="card panel" id="seat-panel"></aside></div>`}`);
  // Colours as CSSOM writes: the Content-Security-Policy allows no inline style attributes.
  document.querySelectorAll('#main [data-color]').forEach((el) => { el.style.background = el.dataset.color; });
  if (model) {
    const detach = attachSeatMap(document.querySelector('[data-testid=seat-canvas]'), { toggleSeat });
    onLeave(detach);
    renderPanel();
  }
}

/** The panel beside the map: the chosen seats, the total, Hold and Clear. */
function renderPanel() {
  const el = document.getElementById('seat-panel'), model = state.seatMap; if (!el || !model) return;
  const chosen = state.selectedSeatIds.map((id) => seatById(model, id)).filter(Boolean);
  const total = chosen.reduce((sum, seat) => sum + seat.price, 0);
  const queue = state.queue && state.queue.schedule_id === state.route.id ? state.queue : null;
  render(el, html`<h2>${t('yourSeats', { n: chosen.length, max: MAX_SEATS })}</h2>
    ${chosen.length === 0 ? html`<p class="muted">${t('noneSelected', { max: MAX_SEATS })}</p>`
    : html`<ul class="plain sel-list" data-testid="selected-seats">${chosen.map((seat) => html`<li data-seat-id="${seat.seat_id}"><span>${seatName(seat)} · ${seat.grade}</span><span>${won(seat.price)} <button type="button" class="x" data-remove="${seat.seat_id}" aria-label="${t('remove', { seat: seatName(seat) })}">×</button></span></li>`)}</ul>`}
    <p class="total" data-testid="selection-total">${t('total', { amount: won(total) })}</p>
    <div class="row"><button type="button" class="primary grow" data-testid="hold-button" ${chosen.length ? '' : 'disabled'}>${t('hold')}</button>
    <button type="button" data-testid="clear-selection" ${chosen.length ? '' : 'disabled'}>${t('clear')}</button></div>
    <p class="muted" data-testid="available-count">${t('remaining', { available: count(model.available), total: count(model.seatCount) })}</p>
    ${queue && queue.expires_at ? html`<p class="muted" data-testid="turn-ends" data-expires-at="${queue.expires_at}"></p>` : ''}`);
  el.querySelectorAll('[data-remove]').forEach((button) => { button.onclick = () => toggleSeat(Number(button.dataset.remove)); });
  el.querySelector('[data-testid=clear-selection]').onclick = () => setSelectedSeats([]);
  el.querySelector('[data-testid=hold-button]').onclick = holdSeats;
  tickTurn();
}

function tickTurn() {
  const el = document.querySelector('[data-testid=turn-ends]'); if (!el) return;
  el.textContent = t('turnEnds', { time: minutesSeconds(new Date(el.dataset.expiresAt) - Date.now()) });
}

async function holdSeats() {
  const scheduleId = state.route.id;
  const seatIds = [...state.selectedSeatIds];
  if (!seatIds.length) return;
  const idempotencyKey = newIdempotencyKey();
  const visit = currentVisit();
  await runAction('[data-testid=hold-button]', async () => {
    try {
      const reservation = await api.hold(scheduleId, seatIds, idempotencyKey);
      if (!isCurrentVisit(visit)) return;
      setReservation(reservation);
      for (const id of seatIds) setSeatStatus(state.seatMap, id, 'HELD');
      setSelectedSeats([]);
      clearBanner();
      go(`#/reservation/${reservation.reservation_id}`);
    } catch (error) {
      if (error.code !== 'SEAT_UNAVAILABLE') throw error;
      const taken = (error.details && error.details.seat_ids) || [];
      const names = taken.map((id) => seatById(state.seatMap, id)).filter(Boolean).map(seatName);
      for (const id of taken) setSeatStatus(state.seatMap, id, 'HELD');
      setSelectedSeats(state.selectedSeatIds.filter((id) => !taken.includes(id)));
      seatMapChanged();
      showBanner(t('seatsTaken', { seats: names.join(', ') || '—' }), { kind: 'error', code: 'SEAT_UNAVAILABLE', sticky: true });
      refreshStatuses(scheduleId, visit).catch(() => {});
    }
  });
}
