// Korean and English: the page's words (STRINGS), a message for every error code the API
// answers (ERROR_MESSAGES, keyed by the codes of api/src/error.rs; tests/browser/i18n.test.mjs
// keeps the two in step), and names for the server's enums (LABELS).
import { state } from './state.js';

export const LANGUAGES = ['ko', 'en'];

export const STRINGS = {
  ko: {
    skip: '본문으로 건너뛰기', bookings: '내 예매', signOut: '로그아웃', langToggle: 'English', langLabel: 'Switch to English',
    balance: '잔액 {amount}', hello: '{name}님',
    signInTitle: '데모 사용자로 로그인', signInIntro: '이름만 입력하면 바로 예매를 시작할 수 있습니다.', nameLabel: '이름', signIn: '시작하기',
    concerts: '공연', noConcerts: '예정된 공연이 없습니다.', schedulesOf: '{title} 일정', noSchedules: '예정된 일정이 없습니다.',
    remaining: '남은 좌석 {available} / {total}', joinQueue: '대기열 입장', bookingNotOpen: '예매 기간이 아닙니다', soldOutShort: '매진',
    opensAt: '예매 오픈 {when}', closesAt: '예매 마감 {when}', loading: '불러오는 중…',
    queueTitle: '대기 중입니다', queueIntro: '순서가 되면 좌석 선택 화면으로 자동으로 이동합니다. 이 창을 닫지 마세요.',
    position: '나의 대기 순번', positionValue: '{n}번째', eta: '예상 대기 시간: {eta}', etaUnknown: '예상 대기 시간을 계산하는 중',
    soldOutText: '모든 좌석이 판매되었습니다. 다른 일정을 선택해 주세요.', expiredText: '입장 시간이 지났습니다. 다시 대기열에 들어가 주세요.',
    rejoin: '대기열 다시 입장', backToConcerts: '공연 목록으로',
    min: '{m}분', sec: '{s}초', minSec: '{m}분 {s}초',
    mapTitle: '좌석 선택', mapAria: '좌석 배치도. 화살표 키로 좌석을 이동하고 Enter 또는 스페이스로 선택합니다. +와 -로 확대/축소합니다.',
    zoomIn: '확대', zoomOut: '축소', zoomFit: '전체 보기', stage: '무대', selected: '선택한 좌석',
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
    cancelled: '예매를 취소했습니다. 좌석이 반환되었습니다.',
    resStatusText: '이 예매의 상태: {status}', backToMap: '좌석 선택으로', resEnded: '이 예매는 더 이상 결제할 수 없습니다.',
    bookingsTitle: '내 예매', noBookings: '아직 예매 내역이 없습니다.', showHistory: '처리 기록 보기', hideHistory: '처리 기록 닫기',
    noEvents: '기록이 없습니다.', open: '열기', bookedAt: '{when} 예매',
    retry: '다시 시도', dismiss: '닫기',
    errNetwork: '서버에 연결할 수 없습니다. 네트워크를 확인하고 다시 시도해 주세요.', errServer: '일시적인 문제가 발생했습니다. 잠시 후 다시 시도해 주세요.',
    errGeneric: '요청을 처리하지 못했습니다 ({code}).', signInFirst: '먼저 로그인해 주세요.',
    errNameInvalid: '이름을 확인해 주세요 (1자 이상).',
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
    soldOutText: 'Every seat has been sold. Please pick another date.', expiredText: 'Your turn has passed. Please join the queue again.',
    rejoin: 'Join the queue again', backToConcerts: 'Back to concerts',
    min: '{m} min', sec: '{s} s', minSec: '{m} min {s} s',
    mapTitle: 'Choose your seats', mapAria: 'Seat map. Arrow keys move between seats, Enter or Space selects, plus and minus zoom.',
    zoomIn: 'Zoom in', zoomOut: 'Zoom out', zoomFit: 'Show all', stage: 'STAGE', selected: 'Your selection',
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
    cancelled: 'Reservation cancelled; the seats were released.',
    resStatusText: 'Status of this reservation: {status}', backToMap: 'Back to the seat map', resEnded: 'This reservation can no longer be paid.',
    bookingsTitle: 'My bookings', noBookings: 'No bookings yet.', showHistory: 'Show history', hideHistory: 'Hide history',
    noEvents: 'No entries.', open: 'Open', bookedAt: 'Booked {when}',
    retry: 'Retry', dismiss: 'Dismiss',
    errNetwork: 'Cannot reach the server. Check your connection and try again.', errServer: 'Something went wrong on our side. Please try again in a moment.',
    errGeneric: 'The request could not be completed ({code}).', signInFirst: 'Please sign in first.',
    errNameInvalid: 'Please check the name (at least one character).',
  },
};

/** One message per error code the API answers (`fn parts` in api/src/error.rs), in both languages. */
export const ERROR_MESSAGES = {
  ko: {
    MALFORMED_JSON: '요청을 읽지 못했습니다. 페이지를 새로 고친 뒤 다시 시도해 주세요.',
    VALIDATION_FAILED: '입력 내용을 확인해 주세요.',
    UNAUTHORIZED: '다시 로그인해 주세요.',
    NOT_FOUND: '찾을 수 없습니다. 이미 정리되었을 수 있습니다.',
    ROUTE_NOT_FOUND: '서버에 없는 기능을 요청했습니다. 페이지를 새로 고쳐 주세요.',
    METHOD_NOT_ALLOWED: '서버가 받을 수 없는 요청입니다. 페이지를 새로 고쳐 주세요.',
    SEAT_UNAVAILABLE: '선택하신 좌석 중 이미 선점되었거나 판매된 좌석이 있습니다.',
    UNKNOWN_SEATS: '이 공연에 없는 좌석입니다.',
    BOOKING_CLOSED: '지금은 이 일정의 예매 기간이 아닙니다.',
    RESERVATION_EXPIRED: '선점 시간이 끝나 좌석이 반환되었습니다. 좌석을 다시 선택해 주세요.',
    ALREADY_CONFIRMED: '이미 결제가 완료된 예매입니다.',
    INSUFFICIENT_BALANCE: '잔액이 부족합니다. 충전한 뒤 다시 결제해 주세요.',
    BALANCE_LIMIT_EXCEEDED: '잔액 한도를 넘어 충전할 수 없습니다.',
    INVALID_SIGNATURE: '결제 결과의 서명이 올바르지 않습니다.',
    AMOUNT_MISMATCH: '결제 금액이 예매 금액과 다릅니다.',
    IDEMPOTENCY_KEY_REUSED: '같은 요청이 다른 내용으로 이미 처리되었습니다. 새로 고친 뒤 다시 시도해 주세요.',
    IDEMPOTENCY_IN_PROGRESS: '같은 요청을 아직 처리하고 있습니다. 잠시 후 다시 시도해 주세요.',
    TOKEN_NOT_FOUND: '입장 시간이 끝났습니다. 대기열에 다시 들어갑니다.',
    TOKEN_EXPIRED: '입장 시간이 끝났습니다. 대기열에 다시 들어갑니다.',
    WRONG_TOKEN_TURN: '아직 순서가 아닙니다. 대기 화면으로 돌아갑니다.',
    BUSY: '지금 예매가 몰리고 있어 좌석을 잡지 못했습니다. 잠시 후 다시 시도해 주세요.',
    RATE_LIMITED: '요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.',
    FORBIDDEN: '이 계정으로는 할 수 없는 일입니다.',
    INVALID_CREDENTIALS: '이메일 또는 비밀번호가 맞지 않습니다.',
    EMAIL_TAKEN: '이미 가입된 이메일입니다. 로그인해 주세요.',
    PURCHASE_LIMIT_REACHED: '한 사람이 이 공연에서 예매할 수 있는 좌석 수를 모두 채웠습니다.',
    SERVICE_UNAVAILABLE: '서비스를 잠시 이용할 수 없습니다. 잠시 후 다시 시도해 주세요.',
    INTERNAL: '일시적인 문제가 발생했습니다. 잠시 후 다시 시도해 주세요.',
  },
  en: {
    MALFORMED_JSON: 'The server could not read the request. Please reload the page and try again.',
    VALIDATION_FAILED: 'Please check what you entered.',
    UNAUTHORIZED: 'Please sign in again.',
    NOT_FOUND: 'Not found; it may have been removed.',
    ROUTE_NOT_FOUND: 'The page asked the server for something it does not offer. Please reload the page.',
    METHOD_NOT_ALLOWED: 'The server does not accept this request. Please reload the page.',
    SEAT_UNAVAILABLE: 'Some of these seats are already held or sold.',
    UNKNOWN_SEATS: 'These seats are not part of this show.',
    BOOKING_CLOSED: 'Booking is not open for this date right now.',
    RESERVATION_EXPIRED: 'Your hold expired and the seats were released. Please pick seats again.',
    ALREADY_CONFIRMED: 'This reservation is already paid.',
    INSUFFICIENT_BALANCE: 'Your balance is too low. Top it up and pay again.',
    BALANCE_LIMIT_EXCEEDED: 'This top-up would exceed the balance limit.',
    INVALID_SIGNATURE: 'The payment result is not correctly signed.',
    AMOUNT_MISMATCH: 'The payment amount does not match the reservation.',
    IDEMPOTENCY_KEY_REUSED: 'This request was already made with different details. Please reload and try again.',
    IDEMPOTENCY_IN_PROGRESS: 'This request is still being processed. Please try again in a moment.',
    TOKEN_NOT_FOUND: 'Your turn has ended. Joining the queue again.',
    TOKEN_EXPIRED: 'Your turn has ended. Joining the queue again.',
    WRONG_TOKEN_TURN: 'It is not your turn yet. Back to the waiting room.',
    BUSY: 'Very busy right now: the seats were not held. Please try again in a moment.',
    RATE_LIMITED: 'Too many requests. Please try again in a moment.',
    FORBIDDEN: 'Your account cannot do this.',
    INVALID_CREDENTIALS: 'Wrong email or password.',
    EMAIL_TAKEN: 'An account with this email exists. Please sign in.',
    PURCHASE_LIMIT_REACHED: 'You already hold or own as many seats of this show as one buyer may.',
    SERVICE_UNAVAILABLE: 'The service is briefly unavailable. Please try again in a moment.',
    INTERNAL: 'Something went wrong on our side. Please try again in a moment.',
  },
};

/** Names of the server's enum values, by enum. */
export const LABELS = {
  ko: {
    queueStatus: { WAITING: '대기 중', ACTIVE: '입장 가능', EXPIRED: '입장 시간이 끝났습니다', SOLD_OUT: '매진되었습니다' },
    seatStatus: { AVAILABLE: '선택 가능', HELD: '선점됨', SOLD: '판매됨' },
    reservationStatus: { HELD: '선점 중', CONFIRMED: '예매 완료', EXPIRED: '시간 만료', CANCELLED: '취소됨', REFUNDED: '환불됨' },
    eventKind: {
      HELD: '좌석 선점', PAYMENT_APPLIED: '결제 반영', PAYMENT_DECLINED: '결제 거절', PAYMENT_FAILED: '결제 실패', CONFIRMED: '예매 확정',
      EXPIRED: '시간 만료로 좌석 반환', CANCELLED: '취소', REFUNDED: '환불', CHECKOUT_STARTED: '카드 결제 시작',
      PAYMENT_WEBHOOK: '결제사 결과 수신', PAYMENT_WEBHOOK_DUPLICATE: '결제사 결과 중복 수신',
      PAYMENT_RECONCILED: '결제사에 결과 확인', PAYMENT_ABANDONED: '완료되지 않은 카드 결제 취소',
    },
    actor: { USER: '구매자', PROVIDER: '결제사', TIMER: '타이머', OPERATOR: '운영자', SYSTEM: '시스템' },
  },
  en: {
    queueStatus: { WAITING: 'Waiting', ACTIVE: 'Your turn', EXPIRED: 'Your turn has ended', SOLD_OUT: 'Sold out' },
    seatStatus: { AVAILABLE: 'Available', HELD: 'Held', SOLD: 'Sold' },
    reservationStatus: { HELD: 'Held', CONFIRMED: 'Confirmed', EXPIRED: 'Expired', CANCELLED: 'Cancelled', REFUNDED: 'Refunded' },
    eventKind: {
      HELD: 'Seats held', PAYMENT_APPLIED: 'Payment applied', PAYMENT_DECLINED: 'Payment declined', PAYMENT_FAILED: 'Payment failed',
      CONFIRMED: 'Booking confirmed', EXPIRED: 'Hold expired, seats released', CANCELLED: 'Cancelled', REFUNDED: 'Refunded',
      CHECKOUT_STARTED: 'Card payment started', PAYMENT_WEBHOOK: 'Payment result from the provider',
      PAYMENT_WEBHOOK_DUPLICATE: 'Repeated payment result from the provider',
      PAYMENT_RECONCILED: 'Payment result checked with the provider', PAYMENT_ABANDONED: 'Unfinished card payment cancelled',
    },
    actor: { USER: 'you', PROVIDER: 'payment provider', TIMER: 'timer', OPERATOR: 'operator', SYSTEM: 'system' },
  },
};

/** The page's text for `key` in the current language, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = STRINGS[state.language][key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (vars[name] ?? ''));
}

/** The message for an API error code, or null for a code this page does not know. */
export const errorMessage = (code) => ERROR_MESSAGES[state.language][code] ?? null;

/** The name of an enum value (`label('reservationStatus', 'HELD')`), or the value itself when unnamed. */
export const label = (group, value) => LABELS[state.language][group][value] ?? value;
