// Money, counts, dates and durations as the page shows them.
import { state } from './state.js';
import { t } from './i18n.js';

const integers = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** `₩12,000` */
export const won = (amount) => '₩' + integers.format(Math.round(Number(amount) || 0));
/** `15,000` */
export const count = (n) => integers.format(n);

/** A moment in Seoul time, in the page's language; '' for an invalid date. */
export function dateTime(iso) {
  const date = new Date(iso);
  if (isNaN(date)) return '';
  const locale = state.language === 'ko' ? 'ko-KR' : 'en-GB';
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Seoul' }).format(date) + ' KST';
}

/** `2 min 5 s` */
export function duration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const m = Math.floor(total / 60), s = total % 60;
  return m === 0 ? t('sec', { s }) : s === 0 ? t('min', { m }) : t('minSec', { m, s });
}

/** `4:05`, rounding up, never below 0:00. */
export function minutesSeconds(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

/** `Row 3, Seat 12` */
export const seatName = (seat) => t('seatLabel', { row: seat.row, number: seat.number });
