// What the page does with a failed action: the message for its error code, a Retry when trying
// again can help, and the codes that move the buyer elsewhere (sign in, back to the queue, …).
import { ApiError, isTransient, queueTokens } from './api.js';
import { showBanner } from './banner.js';
import { errorMessage, t } from './i18n.js';
import { go } from './router.js';
import { rememberRoute, signOut } from './session.js';
import { state } from './state.js';

/** The message for a failed call, in plain words. */
export function describeError(error) {
  if (error.network) return t('errNetwork');
  return errorMessage(error.code) ?? (isTransient(error) ? t('errServer') : t('errGeneric', { code: error.code }));
}

/** Back to the seat map after a hold ran out. */
export function showHoldExpired(scheduleId) {
  showBanner(errorMessage('RESERVATION_EXPIRED'), { kind: 'warn', code: 'RESERVATION_EXPIRED', sticky: true });
  if (scheduleId) go(`#/schedule/${scheduleId}/seats`, true); else go('#/bookings');
}

/** Every failed action ends here unless its caller handled it; `retry` repeats the action. */
export function handleError(error, retry) {
  if (!(error instanceof ApiError)) {
    console.error(error);
    showBanner(t('errServer'), { kind: 'error', code: 'CLIENT', retry });
    return;
  }
  if (isTransient(error) || error.code === 'IDEMPOTENCY_IN_PROGRESS') {
    showBanner(describeError(error), { kind: 'error', code: error.network ? 'NETWORK' : error.code, retry });
    return;
  }
  const scheduleId = state.scheduleId;
  if (error.code === 'UNAUTHORIZED') {
    signOut(false);
    showBanner(describeError(error), { kind: 'warn', code: error.code, sticky: true });
    rememberRoute(location.hash);
    go('#/');
    return;
  }
  if ((error.code === 'TOKEN_EXPIRED' || error.code === 'TOKEN_NOT_FOUND') && scheduleId) {
    queueTokens.set(scheduleId, null);
    showBanner(describeError(error), { kind: 'warn', code: error.code, sticky: true });
    go(`#/schedule/${scheduleId}/queue`, true);
    return;
  }
  if (error.code === 'WRONG_TOKEN_TURN' && scheduleId) {
    showBanner(describeError(error), { kind: 'warn', code: error.code });
    go(`#/schedule/${scheduleId}/queue`, true);
    return;
  }
  if (error.code === 'RESERVATION_EXPIRED') {
    showHoldExpired(state.reservation ? state.reservation.schedule_id : scheduleId);
    return;
  }
  showBanner(describeError(error), { kind: 'error', code: error.code });
}

/**
 * Runs an action with its button (an element or a selector, looked up on every run) disabled;
 * a failure goes to handleError with a Retry that runs it again.
 */
export function runAction(button, action) {
  const run = async () => {
    const find = () => (typeof button === 'string' ? document.querySelector(button) : button);
    const before = find();
    if (before) { before.disabled = true; before.setAttribute('aria-busy', 'true'); }
    try { await action(); } catch (error) { handleError(error, run); } finally {
      const after = typeof button === 'string' ? find() : before;
      if (after) { after.disabled = false; after.removeAttribute('aria-busy'); }
    }
  };
  return run();
}
