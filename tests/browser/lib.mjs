// Helpers of the browser tests: one headless Debian Chromium, pages that sign in, queue and
// load the seat map through the real UI, screenshots into artifacts/, and a few REST calls.
import { chromium } from 'playwright-core';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export const BASE = (process.env.SEATLINE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
/** An API started with a short HOLD_SECONDS (same database and worker) for the expiry test; defaults to BASE. */
export const SHORT_HOLD_BASE = (process.env.SEATLINE_SHORT_HOLD_URL || BASE).replace(/\/+$/, '');
export const BIG_SCHEDULE = '00000000-0000-4000-8000-00000000d001';
/** The schedule the flow tests book on (the 15,000-seat night by default, so runs don't sell it out). */
export const SCHEDULE = process.env.SEATLINE_SCHEDULE_ID || BIG_SCHEDULE;
/** How long a test waits to be admitted from the waiting room. */
export const ADMIT_TIMEOUT_MS = Number(process.env.SEATLINE_ADMIT_TIMEOUT_MS || 120_000);
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync'];
export const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));

let browser = null;
export async function launch() {
  await mkdir(ARTIFACTS, { recursive: true });
  const health = await fetch(`${BASE}/healthz`).catch((e) => ({ ok: false, statusText: String(e) }));
  if (!health.ok) throw new Error(`the API at ${BASE} is not answering /healthz (${health.status || ''} ${health.statusText}); set SEATLINE_URL`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  return browser;
}
export async function close() { if (browser) await browser.close(); browser = null; }

const baseOf = new WeakMap();
/** A fresh browser context (its own localStorage, i.e. its own user) with one page on `base`. */
export async function newPage(label, base = BASE) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: 'ko-KR' });
  const page = await context.newPage();
  baseOf.set(page, base);
  const errors = [];
  page.on('pageerror', (e) => errors.push(`${label}: ${e.message}`));
  // The page is served with a Content-Security-Policy: anything it blocks is a bug.
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) errors.push(`${label}: ${m.text()}`); });
  let step = 0;
  const shot = (name) => page.screenshot({ path: `${ARTIFACTS}${label}-${String(++step).padStart(2, '0')}-${name}.png` });
  return { page, context, errors, shot, label };
}

export async function api(method, path, { token, queueToken, body, idem, base = BASE } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  if (queueToken) headers['X-Queue-Token'] = queueToken;
  if (idem) headers['Idempotency-Key'] = idem;
  const res = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

let concertOf = null;
/** The concert a schedule belongs to, from the public catalog. */
export async function concertFor(scheduleId) {
  if (!concertOf) {
    concertOf = new Map();
    const { body } = await api('GET', '/api/v1/concerts');
    for (const c of body.concerts) {
      const s = await api('GET', `/api/v1/concerts/${c.id}/schedules`);
      for (const x of s.body.schedules) concertOf.set(x.id, c.id);
    }
  }
  const id = concertOf.get(scheduleId);
  if (!id) throw new Error(`schedule ${scheduleId} is not in the catalog`);
  return id;
}

export const state = (page) => page.evaluate(() => window.seatline.state());
export const seatStatus = (page, id) => page.evaluate((x) => window.seatline.seatStatus(x), id);
export const userToken = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('seatline.user')).token);

export async function signIn(page, name) {
  await page.goto(`${baseOf.get(page)}/#/`);
  await page.fill('[data-testid=signin-name]', name);
  await page.click('[data-testid=signin-submit]');
  await page.waitForSelector('[data-testid=concert-item]');
}

/** From the concert list: open the schedule's concert so its join button shows. */
export async function showSchedule(page, scheduleId) {
  const item = page.locator(`[data-testid=schedule-item][data-schedule-id="${scheduleId}"]`);
  if (!(await item.isVisible())) {
    if (!(await page.locator('[data-testid=concert-item]').first().isVisible())) await page.goto(`${baseOf.get(page)}/#/`);
    const concert = await concertFor(scheduleId);
    const button = page.locator(`[data-testid=concert-item][data-concert-id="${concert}"] > button`);
    await button.waitFor();
    if ((await button.getAttribute('aria-expanded')) !== 'true') await button.click();
  }
  await item.waitFor();
  return item;
}

/** Joins the queue through the page and waits until the seat map is loaded and drawn. */
export async function joinAndWaitForMap(page, scheduleId = SCHEDULE) {
  const item = await showSchedule(page, scheduleId);
  const frames = await page.evaluate(() => window.seatline.metrics.frames);
  await item.locator('[data-testid=join-queue]').click();
  await page.waitForFunction((f) => {
    const s = window.seatline.state();
    return s.view === 'seats' && s.seatMap && window.seatline.metrics.frames > f;
  }, frames, { timeout: ADMIT_TIMEOUT_MS, polling: 100 });
}

/** `n` available seats side by side in one row, chosen at random so runs don't collide. */
export function pickSeats(page, n = 1) {
  return page.evaluate((n) => {
    const seats = window.seatline.state().seatMap.seats;
    const byPos = new Map(seats.map((s) => [`${s.row}:${s.number}`, s]));
    const free = seats.filter((s) => s.status === 'AVAILABLE');
    for (let tries = 0; tries < 500 && free.length; tries++) {
      const start = free[Math.floor(Math.random() * free.length)];
      const run = [];
      for (let k = 0; k < n; k++) {
        const s = byPos.get(`${start.row}:${start.number + k}`);
        if (!s || s.status !== 'AVAILABLE') break;
        run.push(s.seat_id);
      }
      if (run.length === n) return run;
    }
    throw new Error(`no ${n} adjacent available seats left`);
  }, n);
}

/** Ends the hold the page shows (cancel, or it already ran out) and waits for the seat map. */
export async function releaseHold(page) {
  const back = page.waitForFunction(() => window.seatline.state().view === 'seats', null, { timeout: 30_000 });
  await page.click('[data-testid=cancel-button]', { timeout: 3_000 }).catch(() => {});
  await back;
}

export const isHoldRequest = (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/v1/reservations';
