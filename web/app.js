// Seatline buyer page: vanilla ES module, no build step, no dependencies.
// Hash routes: #/  #/schedule/<id>/queue  #/schedule/<id>/seats  #/reservation/<id>  #/bookings

const MAX_SEATS = 4;
const QUEUE_POLL_MS = 1500;
const FALLBACK_POLL_MS = 5000;
const CARD_POLL_MS = 1000;
const CARD_POLL_LIMIT_MS = 60000;
const KEY = { user: 'seatline.user', lang: 'seatline.lang', queue: 'seatline.queue', next: 'seatline.next', card: 'seatline.card.' };

// ---------------------------------------------------------------- strings
const DICT = {
  ko: {
    skip: '본문으로 건너뛰기', bookings: '내 예매', signOut: '로그아웃', langToggle: 'English', langLabel: 'Switch to English',
    balance: '잔액 {amount}', hello: '{name}님',
    signInTitle: '데모 사용자로 로그인', signInIntro: '이름만 입력하면 바로 예매를 시작할 수 있습니다.', nameLabel: '이름', signIn: '시작하기',
    concerts: '공연', noConcerts: '예정된 공연이 없습니다.', schedulesOf: '{title} 일정', noSchedules: '예정된 일정이 없습니다.',
    remaining: '남은 좌석 {available} / {total}', joinQueue: '대기열 입장', bookingNotOpen: '예매 기간이 아닙니다', soldOutShort: '매진',
    opensAt: '예매 오픈 {when}', closesAt: '예매 마감 {when}', loading: '불러오는 중…',
    queueTitle: '대기 중입니다', queueIntro: '순서가 되면 좌석 선택 화면으로 자동으로 이동합니다. 이 창을 닫지 마세요.',
    position: '나의 대기 순번', positionValue: '{n}번째', eta: '예상 대기 시간: {eta}', etaUnknown: '예상 대기 시간을 계산하는 중',
    statusWAITING: '대기 중', statusACTIVE: '입장 가능', statusEXPIRED: '입장 시간이 끝났습니다', statusSOLD_OUT: '매진되었습니다',
    soldOutText: '모든 좌석이 판매되었습니다. 다른 일정을 선택해 주세요.', expiredText: '입장 시간이 지났습니다. 다시 대기열에 들어가 주세요.',
    rejoin: '대기열 다시 입장', backToConcerts: '공연 목록으로',
    min: '{m}분', sec: '{s}초', minSec: '{m}분 {s}초',
    mapTitle: '좌석 선택', mapAria: '좌석 배치도. 화살표 키로 좌석을 이동하고 Enter 또는 스페이스로 선택합니다. +와 -로 확대/축소합니다.',
    zoomIn: '확대', zoomOut: '축소', zoomFit: '전체 보기', stage: '무대',
    held: '선점됨', sold: '판매됨', selected: '선택한 좌석', available: '선택 가능',
    seatLabel: '{row}열 {number}번', seatInfo: '{seat} · {grade}석 · {price} · {status}',
    yourSeats: '선택한 좌석 ({n}/{max})', noneSelected: '좌석 배치도에서 좌석을 선택하세요 (최대 {max}석).', total: '합계 {amount}',
    hold: '좌석 선점하기', clear: '선택 해제', remove: '{seat} 선택 해제', turnEnds: '입장 시간 {time} 남음',
    maxSeats: '한 번에 최대 {max}석까지 선택할 수 있습니다.', seatNotAvailable: '{seat}은(는) 선택할 수 없는 좌석입니다.',
    seatsTaken: '방금 다른 분이 선택한 좌석입니다: {seats}. 좌석 배치도를 새로 고쳤습니다.',
    seatsGone: '선택하신 좌석이 다른 분에게 넘어갔습니다: {seats}',
    liveLost: '실시간 연결이 끊어져 5초마다 좌석 현황을 새로 고칩니다.',
    resTitle: '예매 확인', holdFor: '남은 시간', holdHelp: '시간 안에 결제하지 않으면 좌석이 자동으로 반환됩니다.',
    amount: '결제 금액 {amount}', myBalance: '내 잔액 {amount}', payBalance: '잔액으로 결제', payCard: '카드로 결제', cancel: '예매 취소',
    topupTitle: '잔액 충전', topupAmount: '충전 금액 (원)', topup: '충전하기', topupNeed: '잔액 {balance}으로는 {amount}을(를) 결제할 수 없습니다. {short} 이상 충전해 주세요.',
    topupDone: '충전했습니다. 현재 잔액 {balance}', topupInvalid: '충전 금액을 1원 이상 10,000,000원 이하로 입력하세요.',
    cardWaiting: '카드 결제를 확인하는 중입니다…', cardFailed: '카드 결제가 완료되지 않았습니다. 다시 시도하거나 잔액으로 결제해 주세요.',
    cardTimeout: '카드 결제 결과를 아직 받지 못했습니다. 잠시 후 다시 확인해 주세요.', checkAgain: '다시 확인',
    confirmedTitle: '예매가 완료되었습니다', confirmedText: '결제가 확인되었습니다. 좋은 공연 되세요!', goBookings: '내 예매 보기',
    cancelled: '예매를 취소했습니다. 좌석이 반환되었습니다.', holdExpired: '선점 시간이 끝나 좌석이 반환되었습니다. 좌석을 다시 선택해 주세요.',
    resStatusText: '이 예매의 상태: {status}', backToMap: '좌석 선택으로', resEnded: '이 예매는 더 이상 결제할 수 없습니다.',
    stHELD: '선점 중', stCONFIRMED: '예매 완료', stEXPIRED: '시간 만료', stCANCELLED: '취소됨', stREFUNDED: '환불됨', stPENDING: '처리 중',
    bookingsTitle: '내 예매', noBookings: '아직 예매 내역이 없습니다.', showHistory: '처리 기록 보기', hideHistory: '처리 기록 닫기',
    noEvents: '기록이 없습니다.', open: '열기', bookedAt: '{when} 예매',
    evHELD: '좌석 선점', evPAYMENT_APPLIED: '결제 반영', evPAYMENT_DECLINED: '결제 거절', evPAYMENT_FAILED: '결제 실패', evCONFIRMED: '예매 확정', evEXPIRED: '시간 만료로 좌석 반환', evCANCELLED: '취소', evREFUNDED: '환불', evCHECKOUT_STARTED: '카드 결제 시작', evPAYMENT_WEBHOOK: '결제사 결과 수신', evPAYMENT_WEBHOOK_DUPLICATE: '결제사 결과 중복 수신',
    actorUSER: '구매자', actorPROVIDER: '결제사', actorTIMER: '타이머', actorOPERATOR: '운영자', actorSYSTEM: '시스템',
    retry: '다시 시도', dismiss: '닫기',
    errNetwork: '서버에 연결할 수 없습니다. 네트워크를 확인하고 다시 시도해 주세요.', errServer: '일시적인 문제가 발생했습니다. 잠시 후 다시 시도해 주세요.',
    errUnauthorized: '다시 로그인해 주세요.', errTurnEnded: '입장 시간이 끝났습니다. 대기열에 다시 들어갑니다.', errWrongTurn: '아직 순서가 아닙니다. 대기 화면으로 돌아갑니다.',
    errGeneric: '요청을 처리하지 못했습니다 ({code}).', signInFirst: '먼저 로그인해 주세요.',
    errNameInvalid: '이름을 확인해 주세요 (1자 이상).',
    err_BOOKING_CLOSED: '지금은 이 일정의 예매 기간이 아닙니다.', err_ALREADY_CONFIRMED: '이미 결제가 완료된 예매입니다.',
    err_NOT_FOUND: '찾을 수 없습니다. 이미 정리되었을 수 있습니다.', err_VALIDATION_FAILED: '입력 내용을 확인해 주세요.',
    err_BALANCE_LIMIT_EXCEEDED: '잔액 한도를 넘어 충전할 수 없습니다.', err_UNKNOWN_SEATS: '이 공연에 없는 좌석입니다.',
    err_RATE_LIMITED: '요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.', err_BUSY: '지금 예매가 몰리고 있어 좌석을 잡지 못했습니다. 잠시 후 다시 시도해 주세요.', err_IDEMPOTENCY_CONFLICT: '같은 요청이 다른 내용으로 이미 처리되었습니다. 새로 고친 뒤 다시 시도해 주세요.',
    err_PAYMENT_FAILED: '결제를 처리하지 못했습니다. 다시 시도해 주세요.', err_SOLD_OUT: '매진되었습니다.', err_QUEUE_PAUSED: '입장이 잠시 중단되었습니다. 잠시만 기다려 주세요.',
  },
  en: {
    skip: 'Skip to content', bookings: 'My bookings', signOut: 'Sign out', langToggle: '한국어', langLabel: '한국어로 보기',
    balance: 'Balance {amount}', hello: 'Hi, {name}',
    signInTitle: 'Sign in as a demo user', signInIntro: 'Enter a name to start booking right away.', nameLabel: 'Name', signIn: 'Start',
    concerts: 'Concerts', noConcerts: 'No concerts scheduled.', schedulesOf: 'Dates of {title}', noSchedules: 'No dates scheduled.',
    remaining: '{available} of {total} seats left', joinQueue: 'Join the queue', bookingNotOpen: 'Booking is not open', soldOutShort: 'Sold out',
    opensAt: 'Booking opens {when}', closesAt: 'Booking closes {when}', loading: 'Loading…',
    queueTitle: 'You are in the queue', queueIntro: 'When it is your turn you will move to the seat map automatically. Please keep this page open.',
    position: 'Your place in line', positionValue: 'No. {n}', eta: 'Estimated wait: {eta}', etaUnknown: 'Estimating your wait',
    statusWAITING: 'Waiting', statusACTIVE: 'Your turn', statusEXPIRED: 'Your turn has ended', statusSOLD_OUT: 'Sold out',
    soldOutText: 'Every seat has been sold. Please pick another date.', expiredText: 'Your turn has passed. Please join the queue again.',
    rejoin: 'Join the queue again', backToConcerts: 'Back to concerts',
    min: '{m} min', sec: '{s} s', minSec: '{m} min {s} s',
    mapTitle: 'Choose your seats', mapAria: 'Seat map. Arrow keys move between seats, Enter or Space selects, plus and minus zoom.',
    zoomIn: 'Zoom in', zoomOut: 'Zoom out', zoomFit: 'Show all', stage: 'STAGE',
    held: 'Held', sold: 'Sold', selected: 'Your selection', available: 'Available',
    seatLabel: 'Row {row}, Seat {number}', seatInfo: '{seat} · {grade} · {price} · {status}',
    yourSeats: 'Your seats ({n}/{max})', noneSelected: 'Pick seats on the map (up to {max}).', total: 'Total {amount}',
    hold: 'Hold these seats', clear: 'Clear', remove: 'Remove {seat}', turnEnds: 'Your turn ends in {time}',
    maxSeats: 'You can pick at most {max} seats at a time.', seatNotAvailable: '{seat} cannot be selected.',
    seatsTaken: 'Just taken by someone else: {seats}. The seat map has been refreshed.',
    seatsGone: 'A seat you picked was just taken: {seats}',
    liveLost: 'Live updates were interrupted; the seat map refreshes every 5 seconds.',
    resTitle: 'Your reservation', holdFor: 'Time left', holdHelp: 'If you do not pay in time, the seats are released automatically.',
    amount: 'Amount {amount}', myBalance: 'Your balance {amount}', payBalance: 'Pay with balance', payCard: 'Pay by card', cancel: 'Cancel reservation',
    topupTitle: 'Top up balance', topupAmount: 'Amount (KRW)', topup: 'Top up', topupNeed: 'Your balance of {balance} does not cover {amount}. Please add at least {short}.',
    topupDone: 'Balance topped up. It is now {balance}.', topupInvalid: 'Enter an amount between 1 and 10,000,000 won.',
    cardWaiting: 'Confirming your card payment…', cardFailed: 'The card payment did not go through. Try again or pay with your balance.',
    cardTimeout: 'We have not heard back about the card payment yet. Please check again shortly.', checkAgain: 'Check again',
    confirmedTitle: 'Booking confirmed', confirmedText: 'Your payment went through. Enjoy the show!', goBookings: 'See my bookings',
    cancelled: 'Reservation cancelled; the seats were released.', holdExpired: 'Your hold expired and the seats were released. Please pick seats again.',
    resStatusText: 'Status of this reservation: {status}', backToMap: 'Back to the seat map', resEnded: 'This reservation can no longer be paid.',
    stHELD: 'Held', stCONFIRMED: 'Confirmed', stEXPIRED: 'Expired', stCANCELLED: 'Cancelled', stREFUNDED: 'Refunded', stPENDING: 'Processing',
    bookingsTitle: 'My bookings', noBookings: 'No bookings yet.', showHistory: 'Show history', hideHistory: 'Hide history',
    noEvents: 'No entries.', open: 'Open', bookedAt: 'Booked {when}',
    evHELD: 'Seats held', evPAYMENT_APPLIED: 'Payment applied', evPAYMENT_DECLINED: 'Payment declined', evPAYMENT_FAILED: 'Payment failed', evCONFIRMED: 'Booking confirmed', evEXPIRED: 'Hold expired, seats released', evCANCELLED: 'Cancelled', evREFUNDED: 'Refunded', evCHECKOUT_STARTED: 'Card payment started', evPAYMENT_WEBHOOK: 'Payment result from the provider', evPAYMENT_WEBHOOK_DUPLICATE: 'Repeated payment result from the provider',
    actorUSER: 'you', actorPROVIDER: 'payment provider', actorTIMER: 'timer', actorOPERATOR: 'operator', actorSYSTEM: 'system',
    retry: 'Retry', dismiss: 'Dismiss',
    errNetwork: 'Cannot reach the server. Check your connection and try again.', errServer: 'Something went wrong on our side. Please try again in a moment.',
    errUnauthorized: 'Please sign in again.', errTurnEnded: 'Your turn has ended. Joining the queue again.', errWrongTurn: 'It is not your turn yet. Back to the waiting room.',
    errGeneric: 'The request could not be completed ({code}).', signInFirst: 'Please sign in first.',
    errNameInvalid: 'Please check the name (at least one character).',
    err_BOOKING_CLOSED: 'Booking is not open for this date right now.', err_ALREADY_CONFIRMED: 'This reservation is already paid.',
    err_NOT_FOUND: 'Not found; it may have been removed.', err_VALIDATION_FAILED: 'Please check what you entered.',
    err_BALANCE_LIMIT_EXCEEDED: 'This top-up would exceed the balance limit.', err_UNKNOWN_SEATS: 'These seats are not part of this show.',
    err_RATE_LIMITED: 'Too many requests. Please try again in a moment.', err_BUSY: 'Very busy right now: the seats were not held. Please try again in a moment.', err_IDEMPOTENCY_CONFLICT: 'This request was already made with different details. Please reload and try again.',
    err_PAYMENT_FAILED: 'The payment could not be processed. Please try again.', err_SOLD_OUT: 'Sold out.', err_QUEUE_PAUSED: 'Admission is paused for a moment. Please wait.',
  },
};

// ---------------------------------------------------------------- state
const S = {
  lang: localStorage.getItem(KEY.lang) === 'en' ? 'en' : 'ko',
  user: readJson(KEY.user),
  balance: null,
  view: 'home', params: {}, gen: 0, cleanups: [],
  concerts: null, schedules: new Map(), scheduleById: new Map(), openConcert: null,
  queue: null, scheduleId: null,
  map: null, selected: [], focus: null,
  reservation: null, needTopup: null, cardState: null,
};
const metrics = { firstDrawMs: null, lastFrameMs: null, seatMapBytes: null, seatMapFetchMs: null, frames: 0 };

function readJson(k) { try { return JSON.parse(localStorage.getItem(k)); } catch { return null; } }
function t(key, vars = {}) {
  let s = DICT[S.lang][key] ?? DICT.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? ''));
}
const tOr = (key, fallback) => (DICT[S.lang][key] ? t(key) : fallback);
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const won = (n) => '₩' + intFmt.format(Math.round(Number(n) || 0));
const num = (n) => intFmt.format(n);
function when(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return '';
  return new Intl.DateTimeFormat(S.lang === 'ko' ? 'ko-KR' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'Asia/Seoul' }).format(d) + ' KST';
}
function duration(secs) {
  secs = Math.max(0, Math.round(secs));
  const m = Math.floor(secs / 60), s = secs % 60;
  return m === 0 ? t('sec', { s }) : s === 0 ? t('min', { m }) : t('minSec', { m, s });
}
const mmss = (ms) => { const s = Math.max(0, Math.ceil(ms / 1000)); return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`; };
function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
const $ = (sel, root = document) => root.querySelector(sel);
const main = () => document.getElementById('main');

// ---------------------------------------------------------------- queue tokens (per user, per schedule)
function queueTokens() { const all = readJson(KEY.queue) || {}; return (S.user && all[S.user.user_id]) || {}; }
function queueToken(scheduleId) { return queueTokens()[scheduleId] || null; }
function setQueueToken(scheduleId, token) {
  if (!S.user) return;
  const all = readJson(KEY.queue) || {};
  const mine = all[S.user.user_id] || {};
  if (token) mine[scheduleId] = token; else delete mine[scheduleId];
  all[S.user.user_id] = mine;
  localStorage.setItem(KEY.queue, JSON.stringify(all));
}

// ---------------------------------------------------------------- API
class ApiError extends Error {
  constructor({ status = 0, code = 'NETWORK', message = '', details = {}, network = false }) {
    super(message || code);
    Object.assign(this, { status, code, details, network });
  }
}
async function api(method, path, { body, queue, idem, raw } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (S.user) headers.Authorization = `Bearer ${S.user.token}`;
  if (queue) headers['X-Queue-Token'] = queue;
  if (idem) headers['Idempotency-Key'] = idem;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (e) {
    throw new ApiError({ network: true, message: String(e) });
  }
  const text = await res.text().catch(() => '');
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const err = (data && data.error) || {};
    throw new ApiError({ status: res.status, code: err.code || (res.status >= 500 ? 'SERVER' : `HTTP_${res.status}`), message: err.message, details: err.details || {} });
  }
  return raw ? { data, res, text } : data;
}

// ---------------------------------------------------------------- banner, errors, actions
let bannerTimer = 0;
function banner(message, { kind = 'info', code = '', retry = null, sticky = false } = {}) {
  const el = document.getElementById('banner');
  clearTimeout(bannerTimer);
  el.hidden = false;
  el.dataset.kind = kind;
  el.dataset.code = code;
  el.innerHTML = `<span class="msg" data-testid="banner-text">${esc(message)}</span>` +
    (retry ? `<button type="button" class="primary" data-testid="banner-retry">${esc(t('retry'))}</button>` : '') +
    `<button type="button" class="x" data-testid="banner-dismiss" aria-label="${esc(t('dismiss'))}">×</button>`;
  if (retry) $('[data-testid=banner-retry]', el).onclick = () => { clearBanner(); retry(); };
  $('[data-testid=banner-dismiss]', el).onclick = clearBanner;
  if ((kind === 'info' || kind === 'success') && !sticky) bannerTimer = setTimeout(clearBanner, 12000);
}
function clearBanner() {
  const el = document.getElementById('banner');
  el.hidden = true; el.innerHTML = ''; el.dataset.code = ''; el.dataset.kind = '';
}
function announce(msg) { const el = document.getElementById('sr-live'); el.textContent = ''; setTimeout(() => { el.textContent = msg; }, 30); }

// Every failed call ends here unless the caller handled it. `retry` repeats the action.
function handleError(e, retry) {
  if (!(e instanceof ApiError)) { console.error(e); banner(t('errServer'), { kind: 'error', code: 'CLIENT', retry }); return; }
  if (e.network || e.status >= 500 || e.status === 429) {
    banner(t(e.network ? 'errNetwork' : e.status === 429 ? 'err_RATE_LIMITED' : e.code === 'BUSY' ? 'err_BUSY' : 'errServer'), { kind: 'error', code: e.network ? 'NETWORK' : e.code, retry });
    return;
  }
  const sid = S.scheduleId;
  switch (e.code) {
    case 'UNAUTHORIZED':
      signOut(false);
      banner(t('errUnauthorized'), { kind: 'warn', code: e.code, sticky: true });
      sessionStorage.setItem(KEY.next, location.hash);
      go('#/');
      return;
    case 'TOKEN_EXPIRED': case 'TOKEN_NOT_FOUND':
      if (sid) { setQueueToken(sid, null); banner(t('errTurnEnded'), { kind: 'warn', code: e.code, sticky: true }); go(`#/schedule/${sid}/queue`, true); return; }
      break;
    case 'WRONG_TOKEN_TURN':
      if (sid) { banner(t('errWrongTurn'), { kind: 'warn', code: e.code }); go(`#/schedule/${sid}/queue`, true); return; }
      break;
    case 'RESERVATION_EXPIRED':
      holdExpired(S.reservation ? S.reservation.schedule_id : sid);
      return;
  }
  const key = 'err_' + e.code;
  banner(tOr(key, t('errGeneric', { code: e.code })), { kind: 'error', code: e.code });
}
function holdExpired(scheduleId) {
  banner(t('holdExpired'), { kind: 'warn', code: 'RESERVATION_EXPIRED', sticky: true });
  if (scheduleId) go(`#/schedule/${scheduleId}/seats`, true); else go('#/bookings');
}

// Runs an action with its button disabled; failures go to handleError with a Retry that repeats it.
async function act(button, fn) {
  const run = async () => {
    const b = typeof button === 'string' ? $(button) : button;
    if (b) { b.disabled = true; b.setAttribute('aria-busy', 'true'); }
    try { await fn(); } catch (e) { handleError(e, run); } finally {
      const b2 = typeof button === 'string' ? $(button) : b;
      if (b2) { b2.disabled = false; b2.removeAttribute('aria-busy'); }
    }
  };
  return run();
}

// ---------------------------------------------------------------- routing
function go(hash, replace = false) {
  if (location.hash === hash) { route(); return; }
  if (replace) { history.replaceState(null, '', hash); route(); } else location.hash = hash;
}
function onCleanup(fn) { S.cleanups.push(fn); }
function teardown() { for (const fn of S.cleanups.splice(0)) { try { fn(); } catch (e) { console.error(e); } } }
const alive = (gen) => gen === S.gen;

function parseHash() {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const parts = path.split('/').filter(Boolean);
  const q = new URLSearchParams(query);
  if (parts[0] === 'schedule' && parts[1] && parts[2] === 'queue') return { view: 'queue', id: parts[1], q };
  if (parts[0] === 'schedule' && parts[1] && parts[2] === 'seats') return { view: 'seats', id: parts[1], q };
  if (parts[0] === 'reservation' && parts[1]) return { view: 'reservation', id: parts[1], q };
  if (parts[0] === 'bookings') return { view: 'bookings', q };
  return { view: 'home', q };
}
function route() {
  teardown();
  S.gen++;
  const p = parseHash();
  if (p.view !== 'home' && !S.user) {
    sessionStorage.setItem(KEY.next, location.hash);
    banner(t('signInFirst'), { kind: 'info' });
    p.view = 'home';
  }
  S.view = p.view; S.params = p;
  if (p.view !== 'seats') { S.map = null; S.selected = []; S.focus = null; }
  if (p.view === 'queue' || p.view === 'seats') S.scheduleId = p.id;
  renderHeader();
  VIEWS[p.view].enter(p, S.gen);
}
function rerender() { renderHeader(); document.documentElement.lang = S.lang; $('#skip').textContent = t('skip'); VIEWS[S.view].render(); }

// ---------------------------------------------------------------- header
function renderHeader() {
  const el = document.getElementById('top');
  el.innerHTML = `<a class="brand" href="#/" data-testid="home-link">Seatline</a>
    <nav aria-label="Seatline">
      ${S.user ? `<span class="who" data-testid="user-name">${esc(t('hello', { name: S.user.name }))}</span>
        ${S.balance !== null ? `<span class="who" data-testid="header-balance">${esc(t('balance', { amount: won(S.balance) }))}</span>` : ''}
        <a href="#/bookings" data-testid="nav-bookings">${esc(t('bookings'))}</a>
        <button type="button" data-testid="sign-out">${esc(t('signOut'))}</button>` : ''}
      <button type="button" data-testid="lang-toggle" lang="${S.lang === 'ko' ? 'en' : 'ko'}" aria-label="${esc(t('langLabel'))}">${esc(t('langToggle'))}</button>
    </nav>`;
  $('[data-testid=lang-toggle]', el).onclick = () => {
    S.lang = S.lang === 'ko' ? 'en' : 'ko';
    localStorage.setItem(KEY.lang, S.lang);
    rerender();
    $('[data-testid=lang-toggle]').focus();
  };
  const so = $('[data-testid=sign-out]', el);
  if (so) so.onclick = () => { signOut(true); go('#/'); };
}
function signOut(clearQueue) {
  if (clearQueue && S.user) { const all = readJson(KEY.queue) || {}; delete all[S.user.user_id]; localStorage.setItem(KEY.queue, JSON.stringify(all)); }
  S.user = null; S.balance = null;
  localStorage.removeItem(KEY.user);
}
async function refreshBalance() {
  try { S.balance = (await api('GET', '/api/v1/users/me/balance')).balance; renderHeader(); } catch { /* shown elsewhere when it matters */ }
  return S.balance;
}

// ---------------------------------------------------------------- catalog cache
async function loadCatalog(withSchedules = true) {
  if (!S.concerts) S.concerts = (await api('GET', '/api/v1/concerts')).concerts || [];
  if (withSchedules) await Promise.all(S.concerts.map((c) => loadSchedules(c.id)));
}
async function loadSchedules(concertId, fresh = false) {
  if (!fresh && S.schedules.has(concertId)) return S.schedules.get(concertId);
  const list = (await api('GET', `/api/v1/concerts/${concertId}/schedules`)).schedules || [];
  S.schedules.set(concertId, list);
  for (const s of list) S.scheduleById.set(s.id, s);
  return list;
}
function scheduleTitle(scheduleId) {
  const s = S.scheduleById.get(scheduleId);
  if (!s) return '';
  const c = (S.concerts || []).find((x) => x.id === s.concert_id);
  return `${c ? `${c.title} — ${c.artist} · ${c.venue} · ` : ''}${when(s.starts_at)}`;
}
async function ensureScheduleTitle(scheduleId, gen) {
  if (S.scheduleById.has(scheduleId)) return;
  try { await loadCatalog(true); } catch { return; }
  if (alive(gen)) { const el = $('[data-testid=schedule-title]'); if (el) el.textContent = scheduleTitle(scheduleId); }
}

// ---------------------------------------------------------------- view: home (sign-in, concerts, schedules)
const home = {
  enter(p, gen) {
    home.render();
    if (S.user) {
      refreshBalance();
      act(null, async () => {
        S.concerts = null;
        await loadCatalog(false);
        if (!alive(gen)) return;
        if (!S.openConcert && S.concerts.length === 1) S.openConcert = S.concerts[0].id;
        if (S.openConcert) await loadSchedules(S.openConcert, true);
        if (alive(gen)) home.render();
      });
    }
  },
  render() {
    const m = main();
    if (!S.user) {
      m.innerHTML = `<section class="card" style="max-width:30rem">
        <h1>${esc(t('signInTitle'))}</h1><p class="muted">${esc(t('signInIntro'))}</p>
        <form id="signin" class="row" novalidate>
          <div class="field grow"><label for="name">${esc(t('nameLabel'))}</label>
          <input id="name" name="name" autocomplete="nickname" maxlength="64" required data-testid="signin-name"></div>
          <button type="submit" class="primary" data-testid="signin-submit" style="align-self:flex-end">${esc(t('signIn'))}</button>
        </form></section>`;
      $('#signin').onsubmit = (ev) => {
        ev.preventDefault();
        const name = $('#name').value.trim();
        if (!name) { banner(t('errNameInvalid'), { kind: 'error', code: 'VALIDATION_FAILED' }); $('#name').focus(); return; }
        act('[data-testid=signin-submit]', async () => {
          const u = await api('POST', '/api/v1/users', { body: { name } });
          S.user = { user_id: u.user_id, name: u.name || name, token: u.token };
          localStorage.setItem(KEY.user, JSON.stringify(S.user));
          clearBanner();
          const next = sessionStorage.getItem(KEY.next);
          sessionStorage.removeItem(KEY.next);
          go(next && next !== '#/' ? next : '#/', true);
        });
      };
      return;
    }
    if (!S.concerts) { m.innerHTML = `<p class="muted" aria-busy="true">${esc(t('loading'))}</p>`; return; }
    m.innerHTML = `<h1>${esc(t('concerts'))}</h1>` + (S.concerts.length === 0 ? `<p>${esc(t('noConcerts'))}</p>` : '') +
      `<ul class="plain">${S.concerts.map((c) => {
        const open = S.openConcert === c.id;
        const list = S.schedules.get(c.id);
        return `<li class="concert" data-testid="concert-item" data-concert-id="${esc(c.id)}">
          <button type="button" aria-expanded="${open}" data-concert="${esc(c.id)}">
            <span><span class="title">${esc(c.title)}</span><br><span class="muted">${esc(c.artist)} · ${esc(c.venue)}</span></span><span aria-hidden="true">${open ? '▲' : '▼'}</span>
          </button>
          ${open ? `<div class="schedules"><h2 class="sr-only">${esc(t('schedulesOf', { title: c.title }))}</h2>${!list ? `<p class="muted">${esc(t('loading'))}</p>` : list.length === 0 ? `<p>${esc(t('noSchedules'))}</p>` : `<ul class="plain">${list.map(scheduleItem).join('')}</ul>`}</div>` : ''}
        </li>`;
      }).join('')}</ul>`;
    m.querySelectorAll('button[data-concert]').forEach((b) => {
      b.onclick = () => {
        const id = b.dataset.concert;
        S.openConcert = S.openConcert === id ? null : id;
        home.render();
        $(`button[data-concert="${id}"]`).focus();
        if (S.openConcert) act(null, async () => { await loadSchedules(id, true); if (S.view === 'home') { home.render(); $(`button[data-concert="${id}"]`).focus(); } });
      };
    });
    m.querySelectorAll('[data-testid=join-queue]').forEach((b) => { b.onclick = () => joinQueue(b.dataset.scheduleId, b); });
  },
};
function scheduleItem(s) {
  const now = Date.now();
  const open = new Date(s.booking_opens_at) <= now && now < new Date(s.booking_closes_at);
  const soldOut = s.available_seats === 0;
  const note = soldOut ? t('soldOutShort') : !open ? (new Date(s.booking_opens_at) > now ? t('opensAt', { when: when(s.booking_opens_at) }) : t('bookingNotOpen')) : t('closesAt', { when: when(s.booking_closes_at) });
  return `<li class="schedule" data-testid="schedule-item" data-schedule-id="${esc(s.id)}">
    <div class="grow"><div class="when">${esc(when(s.starts_at))}</div>
      <div><span data-testid="schedule-remaining">${esc(t('remaining', { available: num(s.available_seats), total: num(s.total_seats) }))}</span> · <span class="muted">${esc(note)}</span></div></div>
    <button type="button" class="primary" data-testid="join-queue" data-schedule-id="${esc(s.id)}" ${open && !soldOut ? '' : 'disabled'}>${esc(t('joinQueue'))}</button>
  </li>`;
}
async function joinQueue(scheduleId, button) {
  S.scheduleId = scheduleId;
  await act(button, async () => {
    const q = await api('POST', '/api/v1/queue/tokens', { body: { schedule_id: scheduleId } });
    setQueueToken(scheduleId, q.token);
    S.queue = { ...q, schedule_id: scheduleId };
    go(q.status === 'ACTIVE' ? `#/schedule/${scheduleId}/seats` : `#/schedule/${scheduleId}/queue`);
  });
}

// ---------------------------------------------------------------- view: waiting room
const queueView = {
  enter(p, gen) {
    const sid = p.id;
    S.queue = S.queue && S.queue.schedule_id === sid ? S.queue : null;
    queueView.render();
    ensureScheduleTitle(sid, gen);
    let timer = 0, rejoined = false;
    onCleanup(() => clearTimeout(timer));
    const poll = async () => {
      if (!alive(gen)) return;
      try {
        let token = queueToken(sid);
        if (!token) {
          const j = await api('POST', '/api/v1/queue/tokens', { body: { schedule_id: sid } });
          token = j.token; setQueueToken(sid, token);
          if (!alive(gen)) return;
          S.queue = { ...j, schedule_id: sid };
        } else {
          const q = await api('GET', '/api/v1/queue/tokens/current', { queue: token });
          if (!alive(gen)) return;
          S.queue = { ...q, token, schedule_id: sid };
        }
        if ($('#banner').dataset.code === 'NETWORK') clearBanner();
        queueView.render();
        if (S.queue.status === 'ACTIVE') { announce(t('statusACTIVE')); go(`#/schedule/${sid}/seats`, true); return; }
        if (S.queue.status === 'SOLD_OUT' || S.queue.status === 'EXPIRED') return;
      } catch (e) {
        if (!alive(gen)) return;
        if (e.code === 'TOKEN_NOT_FOUND' || e.code === 'TOKEN_EXPIRED') {
          setQueueToken(sid, null);
          if (!rejoined) { rejoined = true; timer = setTimeout(poll, 0); return; }
          S.queue = { status: 'EXPIRED', schedule_id: sid }; queueView.render(); return;
        }
        if (e.network || e.status >= 500 || e.status === 429) banner(t(e.network ? 'errNetwork' : 'errServer'), { kind: 'error', code: e.network ? 'NETWORK' : e.code, retry: () => { clearTimeout(timer); poll(); } });
        else { handleError(e, () => { clearTimeout(timer); poll(); }); if (e.code === 'UNAUTHORIZED') return; }
      }
      timer = setTimeout(poll, QUEUE_POLL_MS);
    };
    poll();
  },
  render() {
    const sid = S.params.id, q = S.queue || {};
    const status = q.status || 'WAITING';
    let body = '';
    if (status === 'SOLD_OUT') {
      body = `<h1 data-testid="queue-status" data-status="SOLD_OUT">${esc(t('statusSOLD_OUT'))}</h1><p>${esc(t('soldOutText'))}</p>
        <a class="btn" href="#/">${esc(t('backToConcerts'))}</a>`;
    } else if (status === 'EXPIRED') {
      body = `<h1 data-testid="queue-status" data-status="EXPIRED">${esc(t('statusEXPIRED'))}</h1><p>${esc(t('expiredText'))}</p>
        <button type="button" class="primary" data-testid="rejoin-queue">${esc(t('rejoin'))}</button>`;
    } else {
      body = `<h1>${esc(t('queueTitle'))}</h1>
        <p data-testid="queue-status" data-status="${esc(status)}" class="badge">${esc(t('status' + status))}</p>
        <div class="spinner" aria-hidden="true"></div>
        <div class="muted">${esc(t('position'))}</div>
        <div class="pos" data-testid="queue-position" data-position="${q.position ?? ''}">${q.position != null ? esc(t('positionValue', { n: num(q.position) })) : '…'}</div>
        <p data-testid="queue-eta">${q.eta_seconds != null ? esc(t('eta', { eta: duration(q.eta_seconds) })) : esc(t('etaUnknown'))}</p>
        <p class="muted">${esc(t('queueIntro'))}</p>`;
    }
    main().innerHTML = `<section class="card queue" aria-labelledby="qh"><p class="muted" data-testid="schedule-title" id="qh">${esc(scheduleTitle(sid))}</p>${body}</section>`;
    const rj = $('[data-testid=rejoin-queue]');
    if (rj) rj.onclick = () => { setQueueToken(sid, null); S.queue = null; joinQueue(sid, rj); };
  },
};

// ---------------------------------------------------------------- seat map model
const CELL = 12, SEAT = 10, BLOCK = 50, AISLE = 24, ML = 44, MT = 70, MR = 44, MB = 24;
const BW = BLOCK * CELL + AISLE;
const ST = { AVAILABLE: 0, HELD: 1, SOLD: 2 };
const ST_NAME = ['AVAILABLE', 'HELD', 'SOLD'];
const GRADE_COLORS = ['#7b2cbf', '#c1121f', '#1d6fb8', '#1f7a70', '#9a4d00', '#5b5f97', '#8a2c6b', '#3f6b1d'];
const COL = { bg: '#15181d', held: '#aeb4bc', sold: '#41464f', cross: '#a3a9b1', selected: '#ffd23f', white: '#ffffff', focus: '#38bdf8', label: '#d3d8df', stage: '#2d3442' };
// 0xAABBGGRR words for the pixel buffer (every browser we target is little-endian)
const rgba = (hex) => (0xff000000 | (parseInt(hex.slice(5, 7), 16) << 16) | (parseInt(hex.slice(3, 5), 16) << 8) | parseInt(hex.slice(1, 3), 16)) >>> 0;
const RGBA = Object.fromEntries(Object.entries(COL).map(([k, v]) => [k, rgba(v)]));
RGBA.grades = GRADE_COLORS.map(rgba);
const colX = (c) => ML + (c - 1) * CELL + Math.floor((c - 1) / BLOCK) * AISLE;
const rowY = (r) => MT + (r - 1) * CELL;

function buildMap(data) {
  const seats = data.seats || [];
  const n = seats.length;
  let rows = 0, cols = 0;
  for (const s of seats) { if (s.row > rows) rows = s.row; if (s.number > cols) cols = s.number; }
  const grades = [...(data.grades || [])].sort((a, b) => b.price - a.price);
  const gIndex = new Map(grades.map((g, i) => [g.grade, i]));
  const grid = new Int32Array(rows * cols).fill(-1);
  const st = new Uint8Array(n), gi = new Uint8Array(n);
  const byId = new Map();
  for (let i = 0; i < n; i++) {
    const s = seats[i];
    if (!gIndex.has(s.grade)) { gIndex.set(s.grade, grades.length); grades.push({ grade: s.grade, price: s.price }); }
    gi[i] = gIndex.get(s.grade);
    st[i] = ST[s.status] ?? 2;
    byId.set(s.seat_id, i);
    grid[(s.row - 1) * cols + (s.number - 1)] = i;
  }
  const m = { data, seats, n, rows, cols, grid, st, gi, byId, grades, available: 0, width: colX(Math.max(cols, 1)) + SEAT + MR, height: rowY(Math.max(rows, 1)) + SEAT + MB, view: null };
  m.available = st.reduce((a, v) => a + (v === 0 ? 1 : 0), 0);
  return m;
}
function seatIndexAt(m, wx, wy) {
  const x = wx - ML; if (x < 0) return -1;
  const b = Math.floor(x / BW), w = x - b * BW; if (w >= BLOCK * CELL) return -1;
  const c = b * BLOCK + Math.floor(w / CELL) + 1, r = Math.floor((wy - MT) / CELL) + 1;
  if ((w % CELL) > SEAT + 1 || ((wy - MT) % CELL) > SEAT + 1) return -1;
  if (c < 1 || c > m.cols || r < 1 || r > m.rows) return -1;
  return m.grid[(r - 1) * m.cols + c - 1];
}
function colFloor(wx) {
  const x = wx - ML; if (x < 0) return 1;
  const b = Math.floor(x / BW), w = Math.min(x - b * BW, BLOCK * CELL - 1);
  return b * BLOCK + Math.floor(w / CELL) + 1;
}
const seatName = (s) => t('seatLabel', { row: s.row, number: s.number });
function seatById(id) { const m = S.map; if (!m) return null; const i = m.byId.get(Number(id)); return i === undefined ? null : m.seats[i]; }
function setSeatStatus(id, status) {
  const m = S.map; if (!m) return false;
  const i = m.byId.get(Number(id)); if (i === undefined) return false;
  const code = ST[status] ?? 2;
  if (m.st[i] === code) return false;
  if (m.st[i] === 0) m.available--; else if (code === 0) m.available++;
  m.st[i] = code; m.seats[i].status = ST_NAME[code];
  return true;
}
// Applies a batch of status changes; drops selected seats that someone else took.
function applyChanges(changes) {
  if (!S.map || !Array.isArray(changes)) return;
  let changed = false; const lost = [];
  for (const ch of changes) {
    if (setSeatStatus(ch.seat_id, ch.status)) {
      changed = true;
      if (ch.status !== 'AVAILABLE' && S.selected.includes(Number(ch.seat_id))) lost.push(Number(ch.seat_id));
    }
  }
  if (lost.length) {
    S.selected = S.selected.filter((id) => !lost.includes(id));
    banner(t('seatsGone', { seats: lost.map((id) => seatName(seatById(id))).join(', ') }), { kind: 'warn', code: 'SEAT_UNAVAILABLE' });
  }
  if (changed) { mapView.invalidate(); mapView.renderPanel(); }
}
function toggleSeat(id, { quiet = false } = {}) {
  const s = seatById(id); if (!s) return false;
  const sid = s.seat_id;
  if (S.selected.includes(sid)) S.selected = S.selected.filter((x) => x !== sid);
  else if (s.status !== 'AVAILABLE') { if (!quiet) announce(t('seatNotAvailable', { seat: seatName(s) })); return false; }
  else if (S.selected.length >= MAX_SEATS) { banner(t('maxSeats', { max: MAX_SEATS }), { kind: 'warn', code: 'MAX_SEATS' }); return false; }
  else S.selected.push(sid);
  mapView.invalidate(); mapView.renderPanel();
  return true;
}

// ---------------------------------------------------------------- seat map canvas
const mapView = {
  canvas: null, ctx: null, img: null, buf: null, W: 0, H: 0, dpr: 1, raf: 0, dirty: false, pendingFirst: null,
  invalidate() {
    if (!mapView.canvas || mapView.raf) return;
    mapView.raf = requestAnimationFrame(() => { mapView.raf = 0; mapView.draw(); });
  },
  fit() {
    const m = S.map; if (!m || !mapView.W) return;
    const s = Math.min(mapView.W / m.width, mapView.H / m.height);
    m.view = { s, ox: (mapView.W - m.width * s) / 2, oy: Math.max(0, (mapView.H - m.height * s) / 2), fit: s };
  },
  zoomAt(factor, sx, sy) {
    const m = S.map; if (!m || !m.view) return;
    const v = m.view;
    const ns = Math.min(Math.max(v.s * factor, v.fit * 0.6), 5);
    const wx = (sx - v.ox) / v.s, wy = (sy - v.oy) / v.s;
    v.ox = sx - wx * ns; v.oy = sy - wy * ns; v.s = ns;
    mapView.invalidate();
  },
  resize() {
    const c = mapView.canvas; if (!c) return;
    const r = c.getBoundingClientRect();
    mapView.dpr = window.devicePixelRatio || 1;
    mapView.W = r.width; mapView.H = r.height;
    c.width = Math.round(r.width * mapView.dpr); c.height = Math.round(r.height * mapView.dpr);
    if (S.map && !S.map.view) mapView.fit();
    mapView.invalidate();
  },
  // Seats are rasterized straight into a pixel buffer (one putImageData per frame): a software
  // canvas needs ~40 ms to fill 15,000 path rectangles, the buffer takes a few ms.
  draw() {
    const m = S.map, c = mapView.canvas; if (!m || !c || !mapView.W) return;
    if (!m.view) mapView.fit();
    const t0 = performance.now();
    const ctx = mapView.ctx, dpr = mapView.dpr, { s, ox, oy } = m.view, W = mapView.W, H = mapView.H;
    const PW = c.width, PH = c.height;
    if (!mapView.img || mapView.img.width !== PW || mapView.img.height !== PH) {
      mapView.img = ctx.createImageData(PW, PH); mapView.buf = new Uint32Array(mapView.img.data.buffer);
    }
    const buf = mapView.buf;
    buf.fill(RGBA.bg);
    // visible range (culling)
    const wx0 = -ox / s, wx1 = (W - ox) / s, wy0 = -oy / s, wy1 = (H - oy) / s;
    const r0 = Math.max(1, Math.floor((wy0 - MT) / CELL)), r1 = Math.min(m.rows, Math.ceil((wy1 - MT) / CELL) + 1);
    const c0 = Math.max(1, colFloor(wx0) - 1), c1 = Math.min(m.cols, colFloor(wx1) + 1);
    const k = s * dpr, xs = new Int32Array(2 * (c1 - c0 + 1) + 2);
    for (let col = c0; col <= c1; col++) {
      const a = Math.round(ox * dpr + colX(col) * k); let b = Math.round(ox * dpr + (colX(col) + SEAT) * k); if (b <= a) b = a + 1;
      xs[2 * (col - c0)] = a; xs[2 * (col - c0) + 1] = b;
    }
    const sel = new Set(S.selected.map((id) => m.byId.get(id)));
    const { grid, st, gi, cols } = m;
    const px = SEAT * s, dev = SEAT * k;
    const crossW = dev >= 7 ? Math.max(1, Math.round(dev / 12)) : 0, border = Math.max(1, Math.round(dev / 9));
    const gradeRGBA = m.grades.map((_, i) => RGBA.grades[i % RGBA.grades.length]);
    const fill = (x0, x1, y0, y1, v) => {
      x0 = Math.max(x0, 0); x1 = Math.min(x1, PW); y0 = Math.max(y0, 0); y1 = Math.min(y1, PH);
      for (let y = y0; y < y1; y++) { const o = y * PW; for (let x = x0; x < x1; x++) buf[o + x] = v; }
    };
    for (let r = r0; r <= r1; r++) {
      const y0 = Math.round(oy * dpr + rowY(r) * k); let y1 = Math.round(oy * dpr + (rowY(r) + SEAT) * k); if (y1 <= y0) y1 = y0 + 1;
      if (y1 <= 0 || y0 >= PH) continue;
      const base = (r - 1) * cols;
      for (let col = c0; col <= c1; col++) {
        const i = grid[base + col - 1]; if (i < 0) continue;
        const x0 = xs[2 * (col - c0)], x1 = xs[2 * (col - c0) + 1];
        if (sel.has(i)) {
          fill(x0, x1, y0, y1, RGBA.white);
          fill(x0 + border, x1 - border, y0 + border, y1 - border, RGBA.selected);
        } else if (st[i] === 0) fill(x0, x1, y0, y1, gradeRGBA[gi[i]]);
        else if (st[i] === 1) fill(x0, x1, y0, y1, RGBA.held);
        else {
          fill(x0, x1, y0, y1, RGBA.sold);
          if (crossW) { // a cross on sold seats once they are big enough to show one
            const n = Math.min(x1 - x0, y1 - y0), in0 = Math.round(n * 0.2), in1 = n - in0;
            for (let d = in0; d < in1; d++) {
              fill(x0 + d, x0 + d + crossW, y0 + d, y0 + d + 1, RGBA.cross);
              fill(x0 + n - 1 - d - crossW + 1, x0 + n - d, y0 + d, y0 + d + 1, RGBA.cross);
            }
          }
        }
      }
    }
    ctx.putImageData(mapView.img, 0, 0);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    // stage
    ctx.fillStyle = COL.stage;
    ctx.fillRect(ox + m.width * 0.25 * s, oy + 14 * s, m.width * 0.5 * s, 34 * s);
    // labels, drawn in screen space so they stay crisp
    ctx.textBaseline = 'middle';
    const stageH = 34 * s;
    if (stageH > 10) {
      ctx.fillStyle = COL.label; ctx.textAlign = 'center';
      ctx.font = `600 ${Math.min(Math.max(stageH * 0.45, 10), 22)}px system-ui, sans-serif`;
      ctx.fillText(t('stage'), ox + (m.width / 2) * s, oy + 31 * s);
    }
    if (px >= 18) {
      ctx.font = `600 ${Math.min(px * 0.42, 16)}px system-ui, sans-serif`; ctx.textAlign = 'center';
      for (let r = r0; r <= r1; r++) {
        const base = (r - 1) * cols, y = oy + (rowY(r) + SEAT / 2) * s;
        for (let col = c0; col <= c1; col++) {
          const i = grid[base + col - 1]; if (i < 0 || (st[i] === 2 && !sel.has(i))) continue;
          ctx.fillStyle = sel.has(i) || st[i] === 1 ? '#15181d' : '#ffffff';
          ctx.fillText(String(col), ox + (colX(col) + SEAT / 2) * s, y);
        }
      }
    }
    const rowPx = CELL * s;
    const step = rowPx >= 11 ? 1 : rowPx >= 4 ? 5 : 10;
    let lx = ox + (ML - 6) * s;
    ctx.font = `${Math.min(Math.max(rowPx * 0.75, 10), 14)}px system-ui, sans-serif`;
    const pinned = lx < 30;
    if (pinned) { ctx.fillStyle = 'rgba(21,24,29,.96)'; ctx.fillRect(0, 0, 32, H); lx = 28; }
    ctx.fillStyle = COL.label; ctx.textAlign = 'right';
    for (let r = r0; r <= r1; r++) if (r === 1 || r % step === 0) ctx.fillText(String(r), lx, oy + (rowY(r) + SEAT / 2) * s);
    if (px >= 5) {
      const cstep = px >= 16 ? 1 : px >= 9 ? 5 : 10;
      let ty = oy + (MT - 9) * s;
      if (ty < 10) { ctx.fillStyle = 'rgba(21,24,29,.96)'; ctx.fillRect(0, 0, W, 20); ty = 10; }
      ctx.fillStyle = COL.label; ctx.textAlign = 'center'; ctx.font = '11px system-ui, sans-serif';
      for (let col = c0; col <= c1; col++) {
        const x = ox + (colX(col) + SEAT / 2) * s;
        if ((col === 1 || col % cstep === 0) && (!pinned || x > 42)) ctx.fillText(String(col), x, ty);
      }
    }
    if (px < 12) { // small seats: ring the selection so it stands out at a glance
      ctx.strokeStyle = COL.selected; ctx.lineWidth = 2;
      for (const i of sel) { const z = m.seats[i]; ctx.strokeRect(ox + colX(z.number) * s - 4, oy + rowY(z.row) * s - 4, px + 8, px + 8); }
    }
    if (S.focus && document.activeElement === c) {
      const f = S.focus;
      ctx.strokeStyle = COL.focus; ctx.lineWidth = 3;
      ctx.strokeRect(ox + colX(f.c) * s - 4, oy + rowY(f.r) * s - 4, px + 8, px + 8);
    }
    const dt = performance.now() - t0;
    metrics.lastFrameMs = Math.round(dt * 100) / 100; metrics.frames++;
    if (mapView.pendingFirst !== null) { metrics.firstDrawMs = Math.round(performance.now() - mapView.pendingFirst); mapView.pendingFirst = null; }
  },
  screenToSeat(ev) {
    const m = S.map; if (!m || !m.view) return -1;
    const r = mapView.canvas.getBoundingClientRect();
    return seatIndexAt(m, (ev.clientX - r.left - m.view.ox) / m.view.s, (ev.clientY - r.top - m.view.oy) / m.view.s);
  },
  // Keeps the keyboard cursor visible and readable.
  reveal() {
    const m = S.map, f = S.focus; if (!m || !f) return;
    const v = m.view;
    if (SEAT * v.s < 14) mapView.zoomAt(16 / (SEAT * v.s), (colX(f.c) + SEAT / 2) * v.s + v.ox, (rowY(f.r) + SEAT / 2) * v.s + v.oy);
    const sx = (colX(f.c) + SEAT / 2) * v.s + v.ox, sy = (rowY(f.r) + SEAT / 2) * v.s + v.oy;
    const pad = 60;
    if (sx < pad || sx > mapView.W - pad) v.ox += mapView.W / 2 - sx;
    if (sy < pad || sy > mapView.H - pad) v.oy += mapView.H / 2 - sy;
    mapView.invalidate();
  },
  describe(i) {
    const m = S.map, s = m.seats[i];
    const status = S.selected.includes(s.seat_id) ? t('selected') : t(['available', 'held', 'sold'][m.st[i]]);
    return t('seatInfo', { seat: seatName(s), grade: s.grade, price: won(s.price), status });
  },
  detach: null,
  attach(canvas) {
    if (mapView.detach) mapView.detach();
    mapView.canvas = canvas; mapView.ctx = canvas.getContext('2d', { alpha: false });
    const wrap = canvas.parentElement, tip = $('.tip', wrap);
    const ro = new ResizeObserver(() => mapView.resize()); ro.observe(canvas);
    let down = null, dragging = false;
    canvas.onpointerdown = (ev) => { down = { x: ev.clientX, y: ev.clientY, ox: S.map?.view?.ox, oy: S.map?.view?.oy }; dragging = false; canvas.setPointerCapture(ev.pointerId); };
    canvas.onpointermove = (ev) => {
      const m = S.map; if (!m || !m.view) return;
      if (down && (dragging || Math.hypot(ev.clientX - down.x, ev.clientY - down.y) > 4)) {
        dragging = true; canvas.classList.add('dragging'); tip.hidden = true;
        m.view.ox = down.ox + ev.clientX - down.x; m.view.oy = down.oy + ev.clientY - down.y; mapView.invalidate(); return;
      }
      const i = mapView.screenToSeat(ev);
      if (i < 0) { tip.hidden = true; canvas.style.cursor = ''; return; }
      const r = wrap.getBoundingClientRect();
      tip.textContent = mapView.describe(i); tip.hidden = false;
      tip.style.left = Math.min(ev.clientX - r.left + 14, r.width - tip.offsetWidth - 6) + 'px';
      tip.style.top = Math.max(ev.clientY - r.top - 36, 4) + 'px';
      canvas.style.cursor = m.st[i] === 0 ? 'pointer' : 'not-allowed';
    };
    canvas.onpointerup = (ev) => {
      const wasDrag = dragging; down = null; dragging = false; canvas.classList.remove('dragging');
      if (wasDrag) return;
      const i = mapView.screenToSeat(ev); if (i < 0) return;
      const s = S.map.seats[i];
      S.focus = { r: s.row, c: s.number };
      if (toggleSeat(s.seat_id) || S.map.st[i] !== 0) announce(mapView.describe(i));
    };
    canvas.onpointerleave = () => { tip.hidden = true; };
    canvas.addEventListener('wheel', (ev) => {
      ev.preventDefault();
      const r = canvas.getBoundingClientRect();
      mapView.zoomAt(Math.exp(-ev.deltaY * (ev.deltaMode === 1 ? 0.05 : 0.0015)), ev.clientX - r.left, ev.clientY - r.top);
    }, { passive: false });
    canvas.onfocus = canvas.onblur = () => mapView.invalidate();
    canvas.onkeydown = (ev) => {
      const m = S.map; if (!m) return;
      const k = ev.key;
      if (k === '+' || k === '=' || k === '-' || k === '_') {
        ev.preventDefault();
        const f = S.focus, v = m.view; // zoom around the keyboard cursor when there is one
        const ax = f ? v.ox + (colX(f.c) + SEAT / 2) * v.s : mapView.W / 2, ay = f ? v.oy + (rowY(f.r) + SEAT / 2) * v.s : mapView.H / 2;
        mapView.zoomAt(k === '+' || k === '=' ? 1.25 : 0.8, ax, ay);
        return;
      }
      const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
      if (moves[k]) {
        ev.preventDefault();
        if (!S.focus) S.focus = { r: 1, c: Math.ceil(m.cols / 2) };
        else {
          const f = S.focus, step = ev.shiftKey ? 10 : 1;
          f.r = Math.min(Math.max(f.r + moves[k][0] * step, 1), m.rows);
          f.c = Math.min(Math.max(f.c + moves[k][1] * step, 1), m.cols);
        }
        mapView.reveal();
        const i = m.grid[(S.focus.r - 1) * m.cols + S.focus.c - 1];
        if (i >= 0) announce(mapView.describe(i));
        return;
      }
      if (k === 'Enter' || k === ' ') {
        ev.preventDefault();
        if (!S.focus) { S.focus = { r: 1, c: Math.ceil(m.cols / 2) }; mapView.reveal(); }
        const i = m.grid[(S.focus.r - 1) * m.cols + S.focus.c - 1];
        if (i >= 0) { toggleSeat(m.seats[i].seat_id); announce(mapView.describe(i)); }
      }
    };
    $('[data-testid=zoom-in]').onclick = () => mapView.zoomAt(1.4, mapView.W / 2, mapView.H / 2);
    $('[data-testid=zoom-out]').onclick = () => mapView.zoomAt(1 / 1.4, mapView.W / 2, mapView.H / 2);
    $('[data-testid=zoom-fit]').onclick = () => { mapView.fit(); mapView.invalidate(); };
    mapView.resize();
    mapView.detach = () => { ro.disconnect(); if (mapView.raf) cancelAnimationFrame(mapView.raf); mapView.raf = 0; mapView.canvas = null; mapView.detach = null; };
    return mapView.detach;
  },
  renderPanel() {
    const el = $('#seat-panel'); if (!el || !S.map) return;
    const m = S.map;
    const chosen = S.selected.map(seatById).filter(Boolean);
    const total = chosen.reduce((a, s) => a + s.price, 0);
    const q = S.queue && S.queue.schedule_id === S.params.id ? S.queue : null;
    el.innerHTML = `<h2>${esc(t('yourSeats', { n: chosen.length, max: MAX_SEATS }))}</h2>
      ${chosen.length === 0 ? `<p class="muted">${esc(t('noneSelected', { max: MAX_SEATS }))}</p>` :
        `<ul class="plain sel-list" data-testid="selected-seats">${chosen.map((s) => `<li data-seat-id="${s.seat_id}"><span>${esc(seatName(s))} · ${esc(s.grade)}</span><span>${esc(won(s.price))} <button type="button" class="x" data-remove="${s.seat_id}" aria-label="${esc(t('remove', { seat: seatName(s) }))}">×</button></span></li>`).join('')}</ul>`}
      <p class="total" data-testid="selection-total">${esc(t('total', { amount: won(total) }))}</p>
      <div class="row"><button type="button" class="primary grow" data-testid="hold-button" ${chosen.length ? '' : 'disabled'}>${esc(t('hold'))}</button>
      <button type="button" data-testid="clear-selection" ${chosen.length ? '' : 'disabled'}>${esc(t('clear'))}</button></div>
      <p class="muted" data-testid="available-count">${esc(t('remaining', { available: num(m.available), total: num(m.n) }))}</p>
      ${q && q.expires_at ? `<p class="muted" data-testid="turn-ends" data-expires-at="${esc(q.expires_at)}"></p>` : ''}`;
    el.querySelectorAll('[data-remove]').forEach((b) => { b.onclick = () => toggleSeat(Number(b.dataset.remove)); });
    $('[data-testid=clear-selection]', el).onclick = () => { S.selected = []; mapView.invalidate(); mapView.renderPanel(); };
    $('[data-testid=hold-button]', el).onclick = holdSeats;
    tickTurn();
  },
};
function tickTurn() {
  const el = $('[data-testid=turn-ends]'); if (!el) return;
  el.textContent = t('turnEnds', { time: mmss(new Date(el.dataset.expiresAt) - Date.now()) });
}

async function fetchSeatMap(sid, gen, { first = false } = {}) {
  const t0 = performance.now();
  const { data, res, text } = await api('GET', `/api/v1/schedules/${sid}/seats`, { queue: queueToken(sid), raw: true });
  if (!alive(gen)) return;
  metrics.seatMapFetchMs = Math.round(performance.now() - t0);
  const len = Number(res.headers.get('content-length'));
  const entry = performance.getEntriesByName(res.url).pop();
  metrics.seatMapBytes = len > 0 ? len : entry && entry.encodedBodySize ? entry.encodedBodySize : new TextEncoder().encode(text).length;
  if (first || !S.map) {
    const view = S.map && S.map.view;
    S.map = buildMap(data); S.map.view = view;
    mapView.pendingFirst = first ? t0 : null;
  } else {
    applyChanges((data.seats || []).map((s) => ({ seat_id: s.seat_id, status: s.status })));
  }
}

// ---------------------------------------------------------------- view: seats
const seatsView = {
  enter(p, gen) {
    const sid = p.id;
    if (!queueToken(sid)) { go(`#/schedule/${sid}/queue`, true); return; }
    seatsView.render();
    ensureScheduleTitle(sid, gen);
    let fallback = 0, es = null, turnTimer = setInterval(tickTurn, 1000);
    onCleanup(() => { clearInterval(fallback); clearInterval(turnTimer); if (es) es.close(); });
    S.live = 'connecting';
    const startFallback = () => {
      S.live = 'polling';
      if (fallback) return;
      banner(t('liveLost'), { kind: 'info', code: 'SSE_FALLBACK' });
      fallback = setInterval(() => fetchSeatMap(sid, gen).then(() => { mapView.invalidate(); mapView.renderPanel(); }).catch((e) => { if (!e.network && e.status < 500) { clearInterval(fallback); handleError(e); } }), FALLBACK_POLL_MS);
    };
    const connect = () => {
      if (typeof EventSource === 'undefined') { startFallback(); return; }
      const url = `/api/v1/schedules/${encodeURIComponent(sid)}/seats/stream?token=${encodeURIComponent(S.user.token)}&queue_token=${encodeURIComponent(queueToken(sid) || '')}`;
      es = new EventSource(url);
      let hadError = false;
      es.addEventListener('seats', (ev) => { try { applyChanges(JSON.parse(ev.data).changes); } catch (e) { console.error(e); } });
      es.onopen = () => {
        S.live = 'sse';
        if (fallback) { clearInterval(fallback); fallback = 0; if ($('#banner').dataset.code === 'SSE_FALLBACK') clearBanner(); }
        // after a reconnect, catch up on what we missed
        if (hadError) fetchSeatMap(sid, gen).then(() => { mapView.invalidate(); mapView.renderPanel(); }).catch(() => {});
      };
      // A stream that the browser is reconnecting gets a few seconds before we fall back to polling.
      es.onerror = () => {
        hadError = true;
        if (!alive(gen)) return;
        if (es.readyState === EventSource.CLOSED) startFallback();
        else setTimeout(() => { if (alive(gen) && es.readyState !== EventSource.OPEN) startFallback(); }, 3000);
      };
    };
    const load = () => act(null, async () => {
      await fetchSeatMap(sid, gen, { first: true });
      if (!alive(gen)) return;
      seatsView.render();
      if (!es) connect();
    });
    load();
  },
  render() {
    const sid = S.params.id, m = S.map;
    main().innerHTML = `<h1>${esc(t('mapTitle'))}</h1><p class="muted" data-testid="schedule-title">${esc(scheduleTitle(sid))}</p>
      ${!m ? `<p class="muted" aria-busy="true">${esc(t('loading'))}</p>` : `<div class="seatview">
        <div>
          <div class="mapbar"><div class="legend" data-testid="legend">${m.grades.map((g, k) => `<span data-grade="${esc(g.grade)}"><span class="sw" style="background:${GRADE_COLORS[k % GRADE_COLORS.length]}"></span>${esc(g.grade)} ${esc(won(g.price))}</span>`).join('')}
            <span><span class="sw" style="background:${COL.selected}"></span>${esc(t('selected'))}</span>
            <span><span class="sw" style="background:${COL.held}"></span>${esc(t('held'))}</span>
            <span><span class="sw" style="background:${COL.sold}"></span>${esc(t('sold'))} ✕</span></div>
            <div class="maptools"><button type="button" data-testid="zoom-in" aria-label="${esc(t('zoomIn'))}" title="${esc(t('zoomIn'))}">+</button>
              <button type="button" data-testid="zoom-out" aria-label="${esc(t('zoomOut'))}" title="${esc(t('zoomOut'))}">−</button>
              <button type="button" data-testid="zoom-fit" aria-label="${esc(t('zoomFit'))}" title="${esc(t('zoomFit'))}">⤢</button></div></div>
          <div class="mapwrap">
            <canvas tabindex="0" role="application" aria-roledescription="seat map" aria-label="${esc(t('mapAria'))}" data-testid="seat-canvas"></canvas>
            <div class="tip" hidden></div>
          </div>
        </div>
        <aside class="card panel" id="seat-panel"></aside></div>`}`;
    if (m) {
      mapView.attach($('[data-testid=seat-canvas]'));
      onCleanup(() => mapView.detach && mapView.detach());
      mapView.renderPanel();
    }
  },
};

async function holdSeats() {
  const sid = S.params.id;
  const seatIds = [...S.selected];
  if (!seatIds.length) return;
  const key = uuid();
  const gen = S.gen;
  await act('[data-testid=hold-button]', async () => {
    try {
      const r = await api('POST', '/api/v1/reservations', { body: { schedule_id: sid, seat_ids: seatIds }, queue: queueToken(sid), idem: key });
      if (!alive(gen)) return;
      S.reservation = r;
      for (const id of seatIds) setSeatStatus(id, 'HELD');
      S.selected = [];
      clearBanner();
      go(`#/reservation/${r.reservation_id}`);
    } catch (e) {
      if (e.code !== 'SEAT_UNAVAILABLE') throw e;
      const taken = (e.details && e.details.seat_ids) || [];
      const names = taken.map(seatById).filter(Boolean).map(seatName);
      for (const id of taken) setSeatStatus(id, 'HELD');
      S.selected = S.selected.filter((id) => !taken.includes(id));
      banner(t('seatsTaken', { seats: names.join(', ') || '—' }), { kind: 'error', code: 'SEAT_UNAVAILABLE', sticky: true });
      mapView.invalidate(); mapView.renderPanel();
      fetchSeatMap(sid, gen).then(() => { mapView.invalidate(); mapView.renderPanel(); }).catch(() => {});
    }
  });
}

// ---------------------------------------------------------------- view: reservation (hold, pay, confirmation)
const resView = {
  enter(p, gen) {
    const id = p.id;
    if (!S.reservation || S.reservation.reservation_id !== id) S.reservation = null;
    S.needTopup = null; S.cardState = null;
    resView.render();
    let tick = setInterval(() => resView.tick(gen), 250), poll = 0;
    onCleanup(() => { clearInterval(tick); clearTimeout(poll); });
    const cardKey = KEY.card + id;
    const cardFailedParam = /^(fail|failed|declined|cancel|cancelled)$/i.test(p.q.get('payment') || p.q.get('status') || '');
    const load = () => act(null, async () => {
      const r = await api('GET', `/api/v1/reservations/${id}`);
      if (!alive(gen)) return;
      S.reservation = r; S.scheduleId = r.schedule_id;
      const started = Number(sessionStorage.getItem(cardKey) || 0);
      if (r.status !== 'HELD' || cardFailedParam) sessionStorage.removeItem(cardKey);
      if (r.status === 'HELD' && cardFailedParam) banner(t('cardFailed'), { kind: 'error', code: 'PAYMENT_FAILED' });
      else if (r.status === 'HELD' && started) { S.cardState = 'waiting'; pollCard(started); }
      resView.render();
      ensureScheduleTitle(r.schedule_id, gen);
      if (r.status === 'HELD') refreshBalance().then(() => alive(gen) && resView.render());
    });
    // After the provider page: poll until the webhook has settled the reservation.
    const pollCard = (started) => {
      const step = async () => {
        if (!alive(gen)) return;
        try {
          const r = await api('GET', `/api/v1/reservations/${id}`);
          if (!alive(gen)) return;
          S.reservation = r;
          if (r.status !== 'HELD') { sessionStorage.removeItem(cardKey); S.cardState = null; if (r.status === 'CONFIRMED') announce(t('confirmedTitle')); resView.render(); return; }
          const ev = await api('GET', `/api/v1/reservations/${id}/events`).catch(() => null);
          if (ev && (ev.events || []).some((e) => /FAIL|DECLIN/i.test(e.kind) && new Date(e.created_at).getTime() >= started - 5000)) {
            sessionStorage.removeItem(cardKey); S.cardState = null; resView.render();
            banner(t('cardFailed'), { kind: 'error', code: 'PAYMENT_FAILED' }); return;
          }
        } catch (e) { if (!e.network && e.status < 500) { handleError(e); return; } }
        if (Date.now() - started > CARD_POLL_LIMIT_MS) { sessionStorage.removeItem(cardKey); S.cardState = 'timeout'; resView.render(); return; }
        poll = setTimeout(step, CARD_POLL_MS);
      };
      step();
    };
    resView.recheck = () => { S.cardState = 'waiting'; resView.render(); pollCard(Date.now()); };
    load();
  },
  tick(gen) {
    const r = S.reservation; if (!r || r.status !== 'HELD' || !alive(gen)) return;
    const el = $('[data-testid=countdown]'); if (!el) return;
    const left = new Date(r.expires_at) - Date.now();
    el.textContent = mmss(left);
    el.classList.toggle('low', left < 60000);
    if (left <= 0 && S.cardState !== 'waiting') {
      r.status = 'EXPIRED';
      holdExpired(r.schedule_id);
    }
  },
  render() {
    const r = S.reservation, m = main();
    if (!r) { m.innerHTML = `<p class="muted" aria-busy="true">${esc(t('loading'))}</p>`; return; }
    const seats = `<ul class="plain sel-list" data-testid="reservation-seats">${(r.seats || []).map((s) => `<li data-seat-id="${s.seat_id}"><span>${esc(seatName(s))} · ${esc(s.grade)}</span><span>${esc(won(s.price))}</span></li>`).join('')}</ul>
      <p class="total" data-testid="reservation-amount">${esc(t('amount', { amount: won(r.amount) }))}</p>`;
    const head = `<p class="muted" data-testid="schedule-title">${esc(scheduleTitle(r.schedule_id))}</p>`;
    const status = `<span class="badge ${esc(r.status)}" data-testid="reservation-status" data-status="${esc(r.status)}">${esc(t('st' + r.status))}</span>`;
    if (r.status === 'CONFIRMED') {
      m.innerHTML = `<section class="card confirm" data-testid="confirmation" data-reservation-id="${esc(r.reservation_id)}">
        <div class="check" aria-hidden="true">✓</div><h1 tabindex="-1" id="conf-h">${esc(t('confirmedTitle'))}</h1>${head}<p>${status}</p><p>${esc(t('confirmedText'))}</p>
        <div style="max-width:28rem;margin:0 auto;text-align:left">${seats}</div>
        <a class="btn primary" href="#/bookings" data-testid="go-bookings">${esc(t('goBookings'))}</a></section>`;
      $('#conf-h').focus();
      return;
    }
    if (r.status !== 'HELD') {
      m.innerHTML = `<section class="card"><h1>${esc(t('resTitle'))}</h1>${head}<p>${esc(t('resStatusText', { status: t('st' + r.status) }))} ${status}</p>
        <p>${esc(t('resEnded'))}</p>${seats}<div class="row"><a class="btn primary" href="#/schedule/${esc(r.schedule_id)}/seats" data-testid="back-to-map">${esc(t('backToMap'))}</a>
        <a class="btn" href="#/bookings">${esc(t('bookings'))}</a></div></section>`;
      return;
    }
    const need = S.needTopup;
    const waiting = S.cardState === 'waiting';
    m.innerHTML = `<div class="seatview"><section class="card"><h1>${esc(t('resTitle'))} ${status}</h1>${head}${seats}
        ${waiting ? `<p data-testid="card-waiting" aria-busy="true"><span class="spinner" style="display:inline-block;width:1.2rem;height:1.2rem;margin:0 .5rem -4px 0;border-width:3px"></span>${esc(t('cardWaiting'))}</p>` : ''}
        ${S.cardState === 'timeout' ? `<p data-testid="card-timeout">${esc(t('cardTimeout'))} <button type="button" data-testid="card-recheck">${esc(t('checkAgain'))}</button></p>` : ''}
      </section>
      <aside class="card"><div class="muted">${esc(t('holdFor'))}</div>
        <div class="countdown" data-testid="countdown" data-expires-at="${esc(r.expires_at)}" role="timer" aria-live="off">${mmss(new Date(r.expires_at) - Date.now())}</div>
        <p class="muted">${esc(t('holdHelp'))}</p>
        <p data-testid="balance">${S.balance !== null ? esc(t('myBalance', { amount: won(S.balance) })) : ''}</p>
        <div class="paybox">
          <button type="button" class="primary" data-testid="pay-balance" ${waiting ? 'disabled' : ''}>${esc(t('payBalance'))}</button>
          <div class="topup${need ? ' need' : ''}" data-testid="topup">
            <h2 style="font-size:1rem">${esc(t('topupTitle'))}</h2>
            ${need ? `<p data-testid="topup-need">${esc(t('topupNeed', { balance: won(need.balance), amount: won(need.amount), short: won(need.amount - need.balance) }))}</p>` : ''}
            <form class="row" id="topup-form" novalidate><div class="field grow"><label for="topup-amount">${esc(t('topupAmount'))}</label>
              <input id="topup-amount" type="number" inputmode="numeric" min="1" max="10000000" step="1" data-testid="topup-amount" value="${need ? Math.max(need.amount - need.balance, 1) : ''}"></div>
              <button type="submit" data-testid="topup-button" style="align-self:flex-end">${esc(t('topup'))}</button></form>
          </div>
          <button type="button" data-testid="pay-card" ${waiting ? 'disabled' : ''}>${esc(t('payCard'))}</button>
          <button type="button" class="danger" data-testid="cancel-button">${esc(t('cancel'))}</button>
        </div></aside></div>`;
    $('[data-testid=pay-balance]').onclick = payBalance;
    $('[data-testid=pay-card]').onclick = payCard;
    $('[data-testid=cancel-button]').onclick = cancelReservation;
    $('#topup-form').onsubmit = (ev) => { ev.preventDefault(); topUp(); };
    const rc = $('[data-testid=card-recheck]'); if (rc) rc.onclick = () => resView.recheck();
  },
};
function resQueueToken() { return queueToken(S.reservation.schedule_id); }
async function payBalance() {
  const r = S.reservation, key = uuid(), gen = S.gen;
  await act('[data-testid=pay-balance]', async () => {
    try {
      const p = await api('POST', `/api/v1/reservations/${r.reservation_id}/payment`, { body: {}, queue: resQueueToken(), idem: key });
      if (!alive(gen)) return;
      S.balance = p.balance; r.status = 'CONFIRMED'; S.needTopup = null;
      clearBanner(); renderHeader(); resView.render(); announce(t('confirmedTitle'));
    } catch (e) {
      if (e.code === 'INSUFFICIENT_BALANCE') {
        const d = e.details || {};
        S.needTopup = { balance: Number(d.balance) || 0, amount: Number(d.amount) || r.amount };
        S.balance = S.needTopup.balance; renderHeader();
        resView.render();
        banner(t('topupNeed', { balance: won(S.needTopup.balance), amount: won(S.needTopup.amount), short: won(S.needTopup.amount - S.needTopup.balance) }), { kind: 'warn', code: 'INSUFFICIENT_BALANCE', sticky: true });
        $('[data-testid=topup-amount]').focus();
        return;
      }
      if (e.code === 'ALREADY_CONFIRMED') { r.status = 'CONFIRMED'; resView.render(); return; }
      throw e;
    }
  });
}
async function topUp() {
  const input = $('[data-testid=topup-amount]');
  const amount = Number(input.value);
  if (!Number.isInteger(amount) || amount < 1 || amount > 10000000) { banner(t('topupInvalid'), { kind: 'error', code: 'VALIDATION_FAILED' }); input.focus(); return; }
  const key = uuid();
  await act('[data-testid=topup-button]', async () => {
    const b = await api('POST', '/api/v1/users/me/balance/charges', { body: { amount }, idem: key });
    S.balance = b.balance; S.needTopup = null;
    renderHeader(); if (S.view === 'reservation') resView.render();
    banner(t('topupDone', { balance: won(b.balance) }), { kind: 'success', code: 'TOPUP_DONE' });
    const pay = $('[data-testid=pay-balance]'); if (pay) pay.focus();
  });
}
async function payCard() {
  const r = S.reservation, key = uuid();
  await act('[data-testid=pay-card]', async () => {
    const c = await api('POST', `/api/v1/reservations/${r.reservation_id}/checkout`, { body: {}, queue: resQueueToken(), idem: key });
    sessionStorage.setItem(KEY.card + r.reservation_id, String(Date.now()));
    location.assign(c.checkout_url);
  });
}
async function cancelReservation() {
  const r = S.reservation, key = uuid();
  await act('[data-testid=cancel-button]', async () => {
    try { await api('POST', `/api/v1/reservations/${r.reservation_id}/cancel`, { body: {}, queue: resQueueToken(), idem: key }); } catch (e) {
      if (e.code !== 'RESERVATION_EXPIRED') throw e;
    }
    r.status = 'CANCELLED';
    banner(t('cancelled'), { kind: 'success', code: 'CANCELLED' });
    go(`#/schedule/${r.schedule_id}/seats`);
  });
}

// ---------------------------------------------------------------- view: my bookings
const bookingsView = {
  list: null, events: new Map(), open: new Set(),
  enter(p, gen) {
    bookingsView.list = null; bookingsView.events.clear(); bookingsView.open.clear();
    bookingsView.render();
    refreshBalance();
    act(null, async () => {
      const [list] = await Promise.all([api('GET', '/api/v1/users/me/reservations'), loadCatalog(true).catch(() => {})]);
      if (!alive(gen)) return;
      bookingsView.list = (list.reservations || []).sort((a, b) => new Date(b.created_at) - new Date(a.created_at));
      bookingsView.render();
    });
  },
  render() {
    const m = main(), list = bookingsView.list;
    if (!list) { m.innerHTML = `<h1>${esc(t('bookingsTitle'))}</h1><p class="muted" aria-busy="true">${esc(t('loading'))}</p>`; return; }
    m.innerHTML = `<h1>${esc(t('bookingsTitle'))}</h1>` + (list.length === 0 ? `<p>${esc(t('noBookings'))}</p>` : `<ul class="plain">${list.map((r) => {
      const open = bookingsView.open.has(r.reservation_id), ev = bookingsView.events.get(r.reservation_id);
      return `<li class="booking" data-testid="booking-item" data-reservation-id="${esc(r.reservation_id)}" data-status="${esc(r.status)}">
        <div class="row"><strong class="grow">${esc(scheduleTitle(r.schedule_id) || r.schedule_id)}</strong>
          <span class="badge ${esc(r.status)}" data-testid="booking-status">${esc(t('st' + r.status))}</span></div>
        <div>${(r.seats || []).map((s) => esc(`${seatName(s)} (${s.grade})`)).join(', ')} · <strong>${esc(won(r.amount))}</strong></div>
        <div class="muted">${esc(t('bookedAt', { when: when(r.created_at) }))}</div>
        <div class="row" style="margin-top:.4rem">
          <button type="button" data-testid="booking-events-toggle" aria-expanded="${open}" aria-controls="ev-${esc(r.reservation_id)}" data-id="${esc(r.reservation_id)}">${esc(t(open ? 'hideHistory' : 'showHistory'))}</button>
          <a class="btn" href="#/reservation/${esc(r.reservation_id)}" data-testid="booking-open">${esc(t('open'))}</a></div>
        <div id="ev-${esc(r.reservation_id)}" ${open ? '' : 'hidden'}>${open ? (!ev ? `<p class="muted">${esc(t('loading'))}</p>` : ev.length === 0 ? `<p>${esc(t('noEvents'))}</p>` :
          `<ol class="events" data-testid="booking-events">${ev.map((e) => `<li data-kind="${esc(e.kind)}">${esc(tOr('ev' + e.kind, e.kind))} · ${esc(tOr('actor' + e.actor, e.actor))} · <span class="muted">${esc(when(e.created_at))}</span></li>`).join('')}</ol>`) : ''}</div>
      </li>`;
    }).join('')}</ul>`);
    m.querySelectorAll('[data-testid=booking-events-toggle]').forEach((b) => {
      b.onclick = () => {
        const id = b.dataset.id;
        if (bookingsView.open.has(id)) bookingsView.open.delete(id); else bookingsView.open.add(id);
        bookingsView.render(); $(`[data-testid=booking-events-toggle][data-id="${id}"]`).focus();
        if (bookingsView.open.has(id) && !bookingsView.events.has(id)) {
          const gen = S.gen;
          act(null, async () => {
            const ev = await api('GET', `/api/v1/reservations/${id}/events`);
            if (!alive(gen)) return;
            bookingsView.events.set(id, ev.events || []); bookingsView.render();
            $(`[data-testid=booking-events-toggle][data-id="${id}"]`).focus();
          });
        }
      };
    });
  },
};

const VIEWS = { home, queue: queueView, seats: seatsView, reservation: resView, bookings: bookingsView };

// ---------------------------------------------------------------- test hooks
window.seatline = {
  state: () => ({
    view: S.view, route: location.hash || '#/', user: S.user ? { user_id: S.user.user_id, name: S.user.name } : null,
    lang: S.lang, selected: [...S.selected], focus: S.focus, live: S.view === 'seats' ? S.live : null, queue: S.queue, reservation: S.reservation, balance: S.balance,
    seatMap: S.map ? { schedule_id: S.map.data.schedule_id, total_seats: S.map.n, available_seats: S.map.available, grades: S.map.grades, seats: S.map.seats } : null,
  }),
  selectSeat: (seatId) => toggleSeat(seatId),
  seatStatus: (seatId) => { const s = seatById(seatId); return s ? s.status : null; },
  metrics,
  // Full-map redraws for measuring frame time: fits the whole hall, draws n frames, returns the stats.
  benchmark(n = 20) {
    if (!S.map || !mapView.canvas) return null;
    mapView.fit();
    const times = [];
    // getImageData forces the canvas to finish rasterizing, so the time is the whole frame's
    for (let i = 0; i < n; i++) { const t0 = performance.now(); mapView.draw(); mapView.ctx.getImageData(0, 0, 1, 1); times.push(performance.now() - t0); }
    times.sort((a, b) => a - b);
    return { frames: n, avgMs: times.reduce((a, b) => a + b, 0) / n, medianMs: times[n >> 1], maxMs: times[n - 1] };
  },
};

// ---------------------------------------------------------------- start
document.documentElement.lang = S.lang;
$('#skip').textContent = t('skip');
$('#skip').onclick = (ev) => { ev.preventDefault(); main().focus(); };
window.addEventListener('hashchange', route);
if (!location.hash) history.replaceState(null, '', '#/');
route();
