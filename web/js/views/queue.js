// The waiting room: the place in line and the wait, polled until the buyer's turn comes.
import { api, isTransient, queueTokens } from '../api.js';
import { announce, bannerCode, clearBanner, showBanner } from '../banner.js';
import { ensureScheduleTitle, scheduleTitle } from '../catalog.js';
import { describeError, handleError } from '../errors.js';
import { count, duration } from '../format.js';
import { html, render } from '../html.js';
import { label, t } from '../i18n.js';
import { go, isCurrentVisit, onLeave } from '../router.js';
import { setQueue, state } from '../state.js';
import { joinQueue } from './home.js';

const POLL_MS = 1500;

export function enter(route, visit) {
  const scheduleId = route.id;
  if (state.queue && state.queue.schedule_id !== scheduleId) setQueue(null);
  redraw();
  ensureScheduleTitle(scheduleId, visit);
  let timer = 0, rejoined = false;
  onLeave(() => clearTimeout(timer));
  const pollAgainNow = () => { clearTimeout(timer); poll(); };
  const poll = async () => {
    if (!isCurrentVisit(visit)) return;
    try {
      let token = queueTokens.get(scheduleId);
      if (!token) {
        const joined = await api.joinQueue(scheduleId);
        token = joined.token; queueTokens.set(scheduleId, token);
        if (!isCurrentVisit(visit)) return;
        setQueue({ ...joined, schedule_id: scheduleId });
      } else {
        const current = await api.queueStatus(token);
        if (!isCurrentVisit(visit)) return;
        setQueue({ ...current, token, schedule_id: scheduleId });
      }
      if (bannerCode() === 'NETWORK') clearBanner();
      redraw();
      if (state.queue.status === 'ACTIVE') { announce(label('queueStatus', 'ACTIVE')); go(`#/schedule/${scheduleId}/seats`, true); return; }
      if (state.queue.status === 'SOLD_OUT' || state.queue.status === 'EXPIRED') return;
    } catch (error) {
      if (!isCurrentVisit(visit)) return;
      if (error.code === 'TOKEN_NOT_FOUND' || error.code === 'TOKEN_EXPIRED') {
        queueTokens.set(scheduleId, null);
        if (!rejoined) { rejoined = true; timer = setTimeout(poll, 0); return; }
        setQueue({ status: 'EXPIRED', schedule_id: scheduleId }); redraw(); return;
      }
      if (isTransient(error)) {
        showBanner(describeError(error), { kind: 'error', code: error.network ? 'NETWORK' : error.code, retry: pollAgainNow });
      } else {
        handleError(error, pollAgainNow);
        if (error.code === 'UNAUTHORIZED') return;
      }
    }
    timer = setTimeout(poll, POLL_MS);
  };
  poll();
}

export function redraw() {
  const scheduleId = state.route.id, queue = state.queue || {};
  const status = queue.status || 'WAITING';
  let body;
  if (status === 'SOLD_OUT') {
    body = html`<h1 data-testid="queue-status" data-status="SOLD_OUT">${label('queueStatus', 'SOLD_OUT')}</h1><p>${t('soldOutText')}</p>
      <a class="btn" href="#/">${t('backToConcerts')}</a>`;
  } else if (status === 'EXPIRED') {
    body = html`<h1 data-testid="queue-status" data-status="EXPIRED">${label('queueStatus', 'EXPIRED')}</h1><p>${t('expiredText')}</p>
      <button type="button" class="primary" data-testid="rejoin-queue">${t('rejoin')}</button>`;
  } else {
    body = html`<h1>${t('queueTitle')}</h1>
      <p data-testid="queue-status" data-status="${status}" class="badge">${label('queueStatus', status)}</p>
      <div class="spinner" aria-hidden="true"></div>
      <div class="muted">${t('position')}</div>
      <div class="pos" data-testid="queue-position" data-position="${queue.position ?? ''}">${queue.position != null ? t('positionValue', { n: count(queue.position) }) : '…'}</div>
      <p data-testid="queue-eta">${queue.eta_seconds != null ? t('eta', { eta: duration(queue.eta_seconds) }) : t('etaUnknown')}</p>
      <p class="muted">${t('queueIntro')}</p>`;
  }
  render(document.getElementById('main'), html`<section class="card queue" aria-labelledby="qh"><p class="muted" data-testid="schedule-title" id="qh">${scheduleTitle(scheduleId)}</p>${body}</section>`);
  const rejoin = document.querySelector('[data-testid=rejoin-queue]');
  if (rejoin) rejoin.onclick = () => { queueTokens.set(scheduleId, null); setQueue(null); joinQueue(scheduleId, rejoin); };
}
