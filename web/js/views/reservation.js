// A reservation: the hold's countdown, paying by balance (with a top-up when short) or by card,
// cancelling, and the confirmation.
import { api, deploymentMethods, newIdempotencyKey } from '../api.js';
import { announce, clearBanner, showBanner } from '../banner.js';
import { ensureScheduleTitle, scheduleTitle } from '../catalog.js';
import { handleError, runAction, showHoldExpired } from '../errors.js';
import { minutesSeconds, seatName, won } from '../format.js';
import { html, render } from '../html.js';
import { label, t } from '../i18n.js';
import { go, isCurrentVisit, onLeave, visit as currentVisit } from '../router.js';
import { refreshBalance } from '../session.js';
import {
  setBalance, setCardPayment, setReservation, setScheduleId, setTopUpNeeded, state,
} from '../state.js';

const TICK_MS = 250;
const CARD_POLL_MS = 1000;
const CARD_POLL_LIMIT_MS = 60000;
const MAX_TOP_UP = 10000000;
// sessionStorage: when a card payment of this reservation was started (the provider's page comes in between)
const cardStartedKey = (reservationId) => `seatline.card.${reservationId}`;
const main = () => document.getElementById('main');
let recheckCard = () => {};

export function enter(route, visit) {
  const reservationId = route.id;
  if (state.reservation && state.reservation.reservation_id !== reservationId) setReservation(null);
  setTopUpNeeded(null); setCardPayment(null);
  redraw();
  const ticker = setInterval(() => tick(visit), TICK_MS);
  let pollTimer = 0;
  onLeave(() => { clearInterval(ticker); clearTimeout(pollTimer); });
  const cardKey = cardStartedKey(reservationId);
  // the provider's page sends the buyer back with ?payment=failed (or similar) when the card was refused
  const cardFailedParam = /^(fail|failed|declined|cancel|cancelled)$/i.test(route.query.get('payment') || route.query.get('status') || '');

  // After the provider's page: poll until the webhook has settled the reservation.
  const pollCard = (startedAt) => {
    const step = async () => {
      if (!isCurrentVisit(visit)) return;
      try {
        const reservation = await api.reservation(reservationId);
        if (!isCurrentVisit(visit)) return;
        setReservation(reservation);
        if (reservation.status !== 'HELD') {
          sessionStorage.removeItem(cardKey); setCardPayment(null);
          if (reservation.status === 'CONFIRMED') announce(t('confirmedTitle'));
          redraw();
          return;
        }
        const audit = await api.reservationEvents(reservationId).catch(() => null);
        if (audit && (audit.events || []).some((e) => /FAIL|DECLIN/i.test(e.kind) && new Date(e.created_at).getTime() >= startedAt - 5000)) {
          sessionStorage.removeItem(cardKey); setCardPayment(null); redraw();
          showBanner(t('cardFailed'), { kind: 'error', code: 'PAYMENT_FAILED' });
          return;
        }
      } catch (error) {
        if (!error.network && error.status < 500) { handleError(error); return; }
      }
      if (Date.now() - startedAt > CARD_POLL_LIMIT_MS) { sessionStorage.removeItem(cardKey); setCardPayment('timeout'); redraw(); return; }
      pollTimer = setTimeout(step, CARD_POLL_MS);
    };
    step();
  };
  recheckCard = () => { setCardPayment('waiting'); redraw(); pollCard(Date.now()); };

  runAction(null, async () => {
    const reservation = await api.reservation(reservationId);
    if (!isCurrentVisit(visit)) return;
    setReservation(reservation); setScheduleId(reservation.schedule_id);
    const cardStartedAt = Number(sessionStorage.getItem(cardKey) || 0);
    if (reservation.status !== 'HELD' || cardFailedParam) sessionStorage.removeItem(cardKey);
    if (reservation.status === 'HELD' && cardFailedParam) showBanner(t('cardFailed'), { kind: 'error', code: 'PAYMENT_FAILED' });
    else if (reservation.status === 'HELD' && cardStartedAt) { setCardPayment('waiting'); pollCard(cardStartedAt); }
    redraw();
    ensureScheduleTitle(reservation.schedule_id, visit);
    if (reservation.status === 'HELD') refreshBalance().then(() => isCurrentVisit(visit) && redraw());
  });
}

function tick(visit) {
  const reservation = state.reservation;
  if (!reservation || reservation.status !== 'HELD' || !isCurrentVisit(visit)) return;
  const el = document.querySelector('[data-testid=countdown]'); if (!el) return;
  const left = new Date(reservation.expires_at) - Date.now();
  el.textContent = minutesSeconds(left);
  el.classList.toggle('low', left < 60000);
  if (left <= 0 && state.cardPayment !== 'waiting') {
    setReservation({ ...reservation, status: 'EXPIRED' });
    showHoldExpired(reservation.schedule_id);
  }
}

export function redraw() {
  const reservation = state.reservation, m = main();
  if (!reservation) { render(m, html`<p class="muted" aria-busy="true">${t('loading')}</p>`); return; }
  const seats = html`<ul class="plain sel-list" data-testid="reservation-seats">${(reservation.seats || []).map((seat) => html`<li data-seat-id="${seat.seat_id}"><span>${seatName(seat)} · ${seat.grade}</span><span>${won(seat.price)}</span></li>`)}</ul>
    <p class="total" data-testid="reservation-amount">${t('amount', { amount: won(reservation.amount) })}</p>`;
  const head = html`<p class="muted" data-testid="schedule-title">${scheduleTitle(reservation.schedule_id)}</p>`;
  const statusName = label('reservationStatus', reservation.status);
  const status = html`<span class="badge ${reservation.status}" data-testid="reservation-status" data-status="${reservation.status}">${statusName}</span>`;
  if (reservation.status === 'CONFIRMED') {
    render(m, html`<section class="card confirm" data-testid="confirmation" data-reservation-id="${reservation.reservation_id}">
      <div class="check" aria-hidden="true">✓</div><h1 tabindex="-1" id="conf-h">${t('confirmedTitle')}</h1>${head}<p>${status}</p><p>${t('confirmedText')}</p>
      <div class="centered-box">${seats}</div>
      <a class="btn primary" href="#/bookings" data-testid="go-bookings">${t('goBookings')}</a></section>`);
    document.getElementById('conf-h').focus();
    return;
  }
  if (reservation.status !== 'HELD') {
    render(m, html`<section class="card"><h1>${t('resTitle')}</h1>${head}<p>${t('resStatusText', { status: statusName })} ${status}</p>
      <p>${t('resEnded')}</p>${seats}<div class="row"><a class="btn primary" href="#/schedule/${reservation.schedule_id}/seats" data-testid="back-to-map">${t('backToMap')}</a>
      <a class="btn" href="#/bookings">${t('bookings')}</a></div></section>`);
    return;
  }
  const need = state.topUpNeeded;
  const waiting = state.cardPayment === 'waiting';
  render(m, html`<div class="seatview"><section class="card"><h1>${t('resTitle')} ${status}</h1>${head}${seats}
      ${waiting ? html`<p data-testid="card-waiting" aria-busy="true"><span class="spinner inline"></span>${t('cardWaiting')}</p>` : ''}
      ${state.cardPayment === 'timeout' ? html`<p data-testid="card-timeout">${t('cardTimeout')} <button type="button" data-testid="card-recheck">${t('checkAgain')}</button></p>` : ''}
    </section>
    <aside class="card"><div class="muted">${t('holdFor')}</div>
      <div class="countdown" data-testid="countdown" data-expires-at="${reservation.expires_at}" role="timer" aria-live="off">${minutesSeconds(new Date(reservation.expires_at) - Date.now())}</div>
      <p class="muted">${t('holdHelp')}</p>
      <p data-testid="balance">${state.balance !== null ? t('myBalance', { amount: won(state.balance) }) : ''}</p>
      <div class="paybox">
        <button type="button" class="primary" data-testid="pay-balance" ${waiting ? 'disabled' : ''}>${t('payBalance')}</button>
        <div class="topup${need ? ' need' : ''}" data-testid="topup">
          <h2 class="plain-size">${t('topupTitle')}</h2>
          ${need ? html`<p data-testid="topup-need">${topUpNeedText(need)}</p>` : ''}
          <form class="row" id="topup-form" novalidate><div class="field grow"><label for="topup-amount">${t('topupAmount')}</label>
            <input id="topup-amount" type="number" inputmode="numeric" min="1" max="${MAX_TOP_UP}" step="1" data-testid="topup-amount" value="${need ? Math.max(need.amount - need.balance, 1) : ''}"></div>
            <button type="submit" data-testid="topup-button" class="end">${t('topup')}</button></form>
        </div>
        <button type="button" data-testid="pay-card" ${waiting ? 'disabled' : ''}>${t('payCard')}</button>
        <button type="button" class="danger" data-testid="cancel-button">${t('cancel')}</button>
      </div></aside></div>`);
  document.querySelector('[data-testid=pay-balance]').onclick = payWithBalance;
  document.querySelector('[data-testid=pay-card]').onclick = payByCard;
  document.querySelector('[data-testid=cancel-button]').onclick = cancelReservation;
  document.getElementById('topup-form').onsubmit = (event) => { event.preventDefault(); topUp(); };
  const recheck = document.querySelector('[data-testid=card-recheck]');
  if (recheck) recheck.onclick = () => recheckCard();
}

const topUpNeedText = (need) => t('topupNeed', { balance: won(need.balance), amount: won(need.amount), short: won(need.amount - need.balance) });

async function payWithBalance() {
  const reservation = state.reservation, idempotencyKey = newIdempotencyKey(), visit = currentVisit();
  await runAction('[data-testid=pay-balance]', async () => {
    try {
      const payment = await api.payWithBalance(reservation, idempotencyKey);
      if (!isCurrentVisit(visit)) return;
      setBalance(payment.balance); setTopUpNeeded(null);
      setReservation({ ...state.reservation, status: 'CONFIRMED' });
      clearBanner(); redraw(); announce(t('confirmedTitle'));
    } catch (error) {
      if (error.code === 'INSUFFICIENT_BALANCE') {
        const details = error.details || {};
        const need = { balance: Number(details.balance) || 0, amount: Number(details.amount) || reservation.amount };
        setTopUpNeeded(need); setBalance(need.balance);
        redraw();
        showBanner(topUpNeedText(need), { kind: 'warn', code: 'INSUFFICIENT_BALANCE', sticky: true });
        document.querySelector('[data-testid=topup-amount]').focus();
        return;
      }
      if (error.code === 'ALREADY_CONFIRMED') { setReservation({ ...state.reservation, status: 'CONFIRMED' }); redraw(); return; }
      throw error;
    }
  });
}

async function topUp() {
  const input = document.querySelector('[data-testid=topup-amount]');
  const amount = Number(input.value);
  if (!Number.isInteger(amount) || amount < 1 || amount > MAX_TOP_UP) {
    showBanner(t('topupInvalid'), { kind: 'error', code: 'VALIDATION_FAILED' }); input.focus(); return;
  }
  const idempotencyKey = newIdempotencyKey();
  await runAction('[data-testid=topup-button]', async () => {
    if (!(await deploymentMethods()).free_topups) {
      // Production: a card payment at the provider; the balance grows when it confirms.
      const topup = await api.cardTopUp(amount, idempotencyKey);
      location.assign(topup.checkout_url);
      return;
    }
    const result = await api.topUp(amount, idempotencyKey);
    setBalance(result.balance); setTopUpNeeded(null);
    if (state.route.view === 'reservation') redraw();
    showBanner(t('topupDone', { balance: won(result.balance) }), { kind: 'success', code: 'TOPUP_DONE' });
    const pay = document.querySelector('[data-testid=pay-balance]'); if (pay) pay.focus();
  });
}

async function payByCard() {
  const reservation = state.reservation, idempotencyKey = newIdempotencyKey();
  await runAction('[data-testid=pay-card]', async () => {
    const checkout = await api.startCardPayment(reservation, idempotencyKey);
    sessionStorage.setItem(cardStartedKey(reservation.reservation_id), String(Date.now()));
    location.assign(checkout.checkout_url);
  });
}

async function cancelReservation() {
  const reservation = state.reservation, idempotencyKey = newIdempotencyKey();
  await runAction('[data-testid=cancel-button]', async () => {
    try { await api.cancelReservation(reservation, idempotencyKey); } catch (error) {
      if (error.code !== 'RESERVATION_EXPIRED') throw error;
    }
    if (state.reservation && state.reservation.reservation_id === reservation.reservation_id) setReservation({ ...state.reservation, status: 'CANCELLED' });
    showBanner(t('cancelled'), { kind: 'success', code: 'CANCELLED' });
    go(`#/schedule/${reservation.schedule_id}/seats`);
  });
}
