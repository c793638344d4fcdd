// My bookings: the user's reservations, newest first, each with its audit history on demand.
import { api } from '../api.js';
import { loadCatalog, scheduleTitle } from '../catalog.js';
import { runAction } from '../errors.js';
import { dateTime, seatName, won } from '../format.js';
import { html, render } from '../html.js';
import { label, t } from '../i18n.js';
import { isCurrentVisit, visit as currentVisit } from '../router.js';
import { refreshBalance } from '../session.js';
import { resetBookings, setBookingEvents, setBookings, state, toggleBookingHistory } from '../state.js';

export function enter(route, visit) {
  resetBookings();
  redraw();
  refreshBalance();
  runAction(null, async () => {
    const [mine] = await Promise.all([api.myReservations(), loadCatalog().catch(() => {})]);
    if (!isCurrentVisit(visit)) return;
    setBookings((mine.reservations || []).sort((a, b) => new Date(b.created_at) - new Date(a.created_at)));
    redraw();
  });
}

function bookingItem(reservation) {
  const id = reservation.reservation_id;
  const open = state.openBookingIds.has(id), events = state.bookingEvents.get(id);
  const history = !open ? ''
    : !events ? html`<p class="muted">${t('loading')}</p>`
    : events.length === 0 ? html`<p>${t('noEvents')}</p>`
    : html`<ol class="events" data-testid="booking-events">${events.map((e) => html`<li data-kind="${e.kind}">${label('eventKind', e.kind)} · ${label('actor', e.actor)} · <span class="muted">${dateTime(e.created_at)}</span></li>`)}</ol>`;
  return html`<li class="booking" data-testid="booking-item" data-reservation-id="${id}" data-status="${reservation.status}">
    <div class="row"><strong class="grow">${scheduleTitle(reservation.schedule_id) || reservation.schedule_id}</strong>
      <span class="badge ${reservation.status}" data-testid="booking-status">${label('reservationStatus', reservation.status)}</span></div>
    <div>${(reservation.seats || []).map((seat) => `${seatName(seat)} (${seat.grade})`).join(', ')} · <strong>${won(reservation.amount)}</strong></div>
    <div class="muted">${t('bookedAt', { when: dateTime(reservation.created_at) })}</div>
    <div class="row gap-top">
      <button type="button" data-testid="booking-events-toggle" aria-expanded="${open}" aria-controls="ev-${id}" data-id="${id}">${t(open ? 'hideHistory' : 'showHistory')}</button>
      <a class="btn" href="#/reservation/${id}" data-testid="booking-open">${t('open')}</a></div>
    <div id="ev-${id}" ${open ? '' : 'hidden'}>${history}</div>
  </li>`;
}

export function redraw() {
  const m = document.getElementById('main'), bookings = state.bookings;
  if (!bookings) { render(m, html`<h1>${t('bookingsTitle')}</h1><p class="muted" aria-busy="true">${t('loading')}</p>`); return; }
  render(m, html`<h1>${t('bookingsTitle')}</h1>${bookings.length === 0 ? html`<p>${t('noBookings')}</p>` : html`<ul class="plain">${bookings.map(bookingItem)}</ul>`}`);
  const focusToggle = (id) => document.querySelector(`[data-testid=booking-events-toggle][data-id="${CSS.escape(id)}"]`).focus();
  m.querySelectorAll('[data-testid=booking-events-toggle]').forEach((button) => {
    button.onclick = () => {
      const id = button.dataset.id;
      toggleBookingHistory(id);
      redraw(); focusToggle(id);
      if (state.openBookingIds.has(id) && !state.bookingEvents.has(id)) {
        const visit = currentVisit();
        runAction(null, async () => {
          const audit = await api.reservationEvents(id);
          if (!isCurrentVisit(visit)) return;
          setBookingEvents(id, audit.events || []); redraw();
          focusToggle(id);
        });
      }
    };
  });
}
