// The banner under the header (one message at a time, with Retry and Dismiss) and the
// screen-reader announcements.
import { html, render } from './html.js';
import { t } from './i18n.js';

const AUTO_HIDE_MS = 12000;
let hideTimer = 0;
const bannerElement = () => document.getElementById('banner');

/**
 * Shows `message`. `code` (an API error code or one of the page's own: NETWORK, CLIENT, MAX_SEATS, …)
 * lands in `data-code`; `retry` adds a Retry button; info and success banners hide by themselves unless `sticky`.
 */
export function showBanner(message, { kind = 'info', code = '', retry = null, sticky = false } = {}) {
  const el = bannerElement();
  clearTimeout(hideTimer);
  el.hidden = false;
  el.dataset.kind = kind;
  el.dataset.code = code;
  render(el, html`<span class="msg" data-testid="banner-text">${message}</span>${
    retry ? html`<button type="button" class="primary" data-testid="banner-retry">${t('retry')}</button>` : ''
  }<button type="button" class="x" data-testid="banner-dismiss" aria-label="${t('dismiss')}">×</button>`);
  if (retry) el.querySelector('[data-testid=banner-retry]').onclick = () => { clearBanner(); retry(); };
  el.querySelector('[data-testid=banner-dismiss]').onclick = clearBanner;
  if ((kind === 'info' || kind === 'success') && !sticky) hideTimer = setTimeout(clearBanner, AUTO_HIDE_MS);
}

export function clearBanner() {
  const el = bannerElement();
  el.hidden = true;
  el.replaceChildren();
  el.dataset.code = '';
  el.dataset.kind = '';
}

/** The code of the banner on show ('' when none). */
export const bannerCode = () => bannerElement().dataset.code || '';

/** Reads `message` out to screen readers. */
export function announce(message) {
  const el = document.getElementById('sr-live');
  el.textContent = '';
  setTimeout(() => { el.textContent = message; }, 30);
}
