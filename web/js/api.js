// Every call the page makes to the Seatline API: the bearer and queue tokens, idempotency
// keys, and the error shape `{error: {code, message, details}}` turned into an ApiError.
import { setUser, state } from './state.js';

/** A failed call. `code` is the API's error code (api/src/error.rs), or NETWORK, SERVER or HTTP_<status>. */
export class ApiError extends Error {
  constructor({ status = 0, code = 'NETWORK', message = '', details = {}, network = false }) {
    super(message || code);
    Object.assign(this, { status, code, details, network });
  }
}

/** Worth a Retry as it is: the network, the server's own trouble, or too many requests. */
export const isTransient = (error) => error.network || error.status >= 500 || error.status === 429;

/** Access tokens last minutes: on a 401, trade the refresh token for new ones, once. */
let renewing = null;
async function renewTokens() {
  const user = state.user;
  if (!user || !user.refresh_token) return false;
  renewing = renewing || fetch('/api/v1/auth/refresh', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ refresh_token: user.refresh_token }),
  }).then(async (response) => {
    if (!response.ok) return false;
    const renewed = await response.json();
    if (state.user && state.user.user_id === user.user_id) {
      setUser({ ...state.user, token: renewed.access_token, refresh_token: renewed.refresh_token });
    }
    return true;
  }).catch(() => false).finally(() => { renewing = null; });
  return renewing;
}

async function request(method, path, options = {}) {
  try {
    return await send(method, path, options);
  } catch (error) {
    if (error.status === 401 && error.code === 'UNAUTHORIZED' && await renewTokens()) {
      return send(method, path, options);
    }
    throw error;
  }
}

async function send(method, path, { body, queueToken, idempotencyKey, withResponse = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (state.user) headers.Authorization = `Bearer ${state.user.token}`;
  if (queueToken) headers['X-Queue-Token'] = queueToken;
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  } catch (e) {
    throw new ApiError({ network: true, message: String(e) });
  }
  const text = await response.text().catch(() => '');
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError({
      status: response.status,
      code: error.code || (response.status >= 500 ? 'SERVER' : `HTTP_${response.status}`),
      message: error.message,
      details: error.details || {},
    });
  }
  return withResponse ? { data, response, text } : data;
}

/** A fresh Idempotency-Key; an action keeps its key across retries. */
export function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---------------------------------------------------------------- queue tokens, per user and schedule, in localStorage
const QUEUE_TOKENS = 'seatline.queue';
function allQueueTokens() { try { return JSON.parse(localStorage.getItem(QUEUE_TOKENS)) || {}; } catch { return {}; } }

export const queueTokens = {
  get(scheduleId) {
    const mine = (state.user && allQueueTokens()[state.user.user_id]) || {};
    return mine[scheduleId] || null;
  },
  /** Stores the signed-in user's token for a schedule; `null` forgets it. */
  set(scheduleId, token) {
    if (!state.user) return;
    const all = allQueueTokens();
    const mine = all[state.user.user_id] || {};
    if (token) mine[scheduleId] = token; else delete mine[scheduleId];
    all[state.user.user_id] = mine;
    localStorage.setItem(QUEUE_TOKENS, JSON.stringify(all));
  },
  forgetUser(userId) {
    const all = allQueueTokens();
    delete all[userId];
    localStorage.setItem(QUEUE_TOKENS, JSON.stringify(all));
  },
};

// ---------------------------------------------------------------- the endpoints
const id = encodeURIComponent;

export const api = {
  createUser: (name) => request('POST', '/api/v1/users', { body: { name } }),
  logout: () => send('POST', '/api/v1/auth/logout'),
  signInMethods: () => request('GET', '/api/v1/auth/methods'),
  signup: (email, password, name) => request('POST', '/api/v1/auth/signup', { body: { email, password, name } }),
  login: (email, password) => request('POST', '/api/v1/auth/login', { body: { email, password } }),
  me: () => request('GET', '/api/v1/auth/me'),
  concerts: () => request('GET', '/api/v1/concerts'),
  schedules: (concertId) => request('GET', `/api/v1/concerts/${id(concertId)}/schedules`),

  joinQueue: (scheduleId) => request('POST', '/api/v1/queue/tokens', { body: { schedule_id: scheduleId } }),
  queueStatus: (queueToken) => request('GET', '/api/v1/queue/tokens/current', { queueToken }),

  /** The whole seat map; resolves to `{data, response, text}` (the page measures its size). */
  seatMap: (scheduleId) => request('GET', `/api/v1/schedules/${id(scheduleId)}/seats`,
    { queueToken: queueTokens.get(scheduleId), withResponse: true }),
  /** Only the statuses, one letter per seat in the seat map's order: `{statuses: "AAHS…"}`. */
  seatStatuses: (scheduleId) => request('GET', `/api/v1/schedules/${id(scheduleId)}/seats?format=compact`,
    { queueToken: queueTokens.get(scheduleId) }),
  /** The Server-Sent Events of seat changes. EventSource sends no headers: a short-lived ticket
   *  goes in the query, never the bearer token. */
  seatStreamUrl: async (scheduleId) => {
    const { ticket } = await request('POST', `/api/v1/schedules/${id(scheduleId)}/seats/stream-tickets`,
      { queueToken: queueTokens.get(scheduleId) });
    return `/api/v1/schedules/${id(scheduleId)}/seats/stream?ticket=${id(ticket)}`;
  },

  hold: (scheduleId, seatIds, idempotencyKey) => request('POST', '/api/v1/reservations',
    { body: { schedule_id: scheduleId, seat_ids: seatIds }, queueToken: queueTokens.get(scheduleId), idempotencyKey }),
  reservation: (reservationId) => request('GET', `/api/v1/reservations/${id(reservationId)}`),
  reservationEvents: (reservationId) => request('GET', `/api/v1/reservations/${id(reservationId)}/events`),
  payWithBalance: (reservation, idempotencyKey) => request('POST', `/api/v1/reservations/${id(reservation.reservation_id)}/payment`,
    { body: {}, queueToken: queueTokens.get(reservation.schedule_id), idempotencyKey }),
  startCardPayment: (reservation, idempotencyKey) => request('POST', `/api/v1/reservations/${id(reservation.reservation_id)}/checkout`,
    { body: {}, queueToken: queueTokens.get(reservation.schedule_id), idempotencyKey }),
  cancelReservation: (reservation, idempotencyKey) => request('POST', `/api/v1/reservations/${id(reservation.reservation_id)}/cancel`,
    { body: {}, queueToken: queueTokens.get(reservation.schedule_id), idempotencyKey }),
  myReservations: () => request('GET', '/api/v1/users/me/reservations'),

  balance: () => request('GET', '/api/v1/users/me/balance'),
  topUp: (amount, idempotencyKey) => request('POST', '/api/v1/users/me/balance/charges', { body: { amount }, idempotencyKey }),
  /** A top-up paid by card: resolves to `{topup_id, checkout_url, …}`; the balance grows once
   *  the provider confirms the payment. */
  cardTopUp: (amount, idempotencyKey) => request('POST', '/api/v1/users/me/balance/topups', { body: { amount }, idempotencyKey }),
};

let deployment = null;
/** What this deployment offers (`GET /auth/methods`), asked once. */
export const deploymentMethods = () => {
  deployment = deployment || api.signInMethods().catch(() => ({ password: true, demo: false, free_topups: false }));
  return deployment;
};
