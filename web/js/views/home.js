// Home: sign-in for a new visitor; the concerts and their dates, with "Join the queue", once signed in.
import { api, queueTokens } from '../api.js';
import { clearBanner, showBanner } from '../banner.js';
import { loadCatalog, loadSchedules } from '../catalog.js';
import { runAction } from '../errors.js';
import { count, dateTime } from '../format.js';
import { html, render } from '../html.js';
import { t } from '../i18n.js';
import { go, isCurrentVisit } from '../router.js';
import { refreshBalance, signIn, takeRememberedRoute } from '../session.js';
import { setOpenConcert, setQueue, setScheduleId, state } from '../state.js';

const main = () => document.getElementById('main');

export function enter(route, visit) {
  redraw();
  if (!state.user) return;
  refreshBalance();
  runAction(null, async () => {
    await loadCatalog({ withSchedules: false, fresh: true });
    if (!isCurrentVisit(visit)) return;
    if (!state.openConcertId && state.concerts.length === 1) setOpenConcert(state.concerts[0].id);
    if (state.openConcertId) await loadSchedules(state.openConcertId, { fresh: true });
    if (isCurrentVisit(visit)) redraw();
  });
}

export function redraw() {
  if (!state.user) renderSignIn(); else renderConcerts();
}

/** How one may sign in here (`GET /auth/methods`), asked once. */
let methods = null;

function renderSignIn() {
  if (!methods) {
    methods = { password: true, demo: false };
    api.signInMethods()
      .then((m) => { methods = m; })
      // Unknown: offer the demo too; where it is off, it answers FORBIDDEN, in words.
      .catch(() => { methods = { password: true, demo: true }; })
      .finally(() => { if (!state.user && state.route.view === 'home') redraw(); });
  }
  render(main(), html`<section class="card narrow">
    <h1>${t('accountTitle')}</h1><p class="muted">${t('accountIntro')}</p>
    <form id="account" novalidate>
      <div class="field"><label for="email">${t('emailLabel')}</label>
      <input id="email" type="email" autocomplete="username" maxlength="254" required data-testid="login-email"></div>
      <div class="field"><label for="password">${t('passwordLabel')} <span class="muted">(${t('passwordHint')})</span></label>
      <input id="password" type="password" autocomplete="current-password" maxlength="128" required data-testid="login-password"></div>
      <div class="field"><label for="account-name">${t('nameForSignup')}</label>
      <input id="account-name" autocomplete="nickname" maxlength="100" data-testid="login-name"></div>
      <div class="row"><button type="submit" class="primary" data-testid="login-submit">${t('logIn')}</button>
      <button type="button" data-testid="signup-submit">${t('signUp')}</button></div>
    </form></section>
    ${methods && methods.demo ? html`<section class="card narrow" data-testid="demo-signin">
    <h2>${t('signInTitle')}</h2><p class="muted">${t('signInIntro')}</p>
    <form id="signin" class="row" novalidate>
      <div class="field grow"><label for="name">${t('nameLabel')}</label>
      <input id="name" name="name" autocomplete="nickname" maxlength="64" required data-testid="signin-name"></div>
      <button type="submit" class="primary end" data-testid="signin-submit">${t('signIn')}</button>
    </form></section>` : ''}`);
  const value = (id) => document.getElementById(id).value;
  document.getElementById('account').onsubmit = (event) => {
    event.preventDefault();
    const email = value('email').trim(), password = value('password');
    if (!email || !password) { showBanner(t('errLoginFields'), { kind: 'error', code: 'VALIDATION_FAILED' }); return; }
    runAction('[data-testid=login-submit]', async () => {
      const session = await api.login(email, password);
      await enterSession(session, email);
    });
  };
  document.querySelector('[data-testid=signup-submit]').onclick = () => {
    const email = value('email').trim(), password = value('password'), name = value('account-name').trim();
    if (!email || password.length < 10 || !name) { showBanner(t('errSignupFields'), { kind: 'error', code: 'VALIDATION_FAILED' }); return; }
    runAction('[data-testid=signup-submit]', async () => {
      const session = await api.signup(email, password, name);
      await enterSession(session, name);
    });
  };
  const demo = document.getElementById('signin');
  if (demo) {
    demo.onsubmit = (event) => {
      event.preventDefault();
      const input = document.getElementById('name');
      const name = input.value.trim();
      if (!name) { showBanner(t('errNameInvalid'), { kind: 'error', code: 'VALIDATION_FAILED' }); input.focus(); return; }
      runAction('[data-testid=signin-submit]', async () => {
        const user = await api.createUser(name);
        signIn({ ...user, name: user.name || name });
        afterSignIn();
      });
    };
  }
}

/** A session from sign-up or login: signed in under `name`, then under the account's own. */
async function enterSession(session, name) {
  signIn({ user_id: session.user_id, name, token: session.access_token, refresh_token: session.refresh_token });
  try {
    const me = await api.me();
    signIn({ user_id: session.user_id, name: me.name, token: state.user.token, refresh_token: state.user.refresh_token });
  } catch { /* the name shown stays the one typed */ }
  afterSignIn();
}

function afterSignIn() {
  clearBanner();
  const next = takeRememberedRoute();
  go(next && next !== '#/' ? next : '#/', true);
}

function renderConcerts() {
  const m = main();
  if (!state.concerts) { render(m, html`<p class="muted" aria-busy="true">${t('loading')}</p>`); return; }
  render(m, html`<h1>${t('concerts')}</h1>${state.concerts.length === 0 ? html`<p>${t('noConcerts')}</p>` : ''}<ul class="plain">${
    state.concerts.map((concert) => {
      const open = state.openConcertId === concert.id;
      const schedules = state.schedulesByConcert.get(concert.id);
      return html`<li class="concert" data-testid="concert-item" data-concert-id="${concert.id}">
          <button type="button" aria-expanded="${open}" data-concert="${concert.id}">
            <span><span class="title">${concert.title}</span><br><span class="muted">${concert.artist} · ${concert.venue}</span></span><span aria-hidden="true">${open ? '▲' : '▼'}</span>
          </button>
          ${open ? html`<div class="schedules"><h2 class="sr-only">${t('schedulesOf', { title: concert.title })}</h2>${
            !schedules ? html`<p class="muted">${t('loading')}</p>`
            : schedules.length === 0 ? html`<p>${t('noSchedules')}</p>`
            : html`<ul class="plain">${schedules.map(scheduleItem)}</ul>`}</div>` : ''}
        </li>`;
    })}</ul>`);
  const focusConcert = (id) => document.querySelector(`button[data-concert="${CSS.escape(id)}"]`).focus();
  m.querySelectorAll('button[data-concert]').forEach((button) => {
    button.onclick = () => {
      const id = button.dataset.concert;
      setOpenConcert(state.openConcertId === id ? null : id);
      redraw();
      focusConcert(id);
      if (state.openConcertId) {
        runAction(null, async () => {
          await loadSchedules(id, { fresh: true });
          if (state.route.view === 'home') { redraw(); focusConcert(id); }
        });
      }
    };
  });
  m.querySelectorAll('[data-testid=join-queue]').forEach((button) => { button.onclick = () => joinQueue(button.dataset.scheduleId, button); });
}

function scheduleItem(schedule) {
  const now = Date.now();
  const open = new Date(schedule.booking_opens_at) <= now && now < new Date(schedule.booking_closes_at);
  const soldOut = schedule.available_seats === 0;
  const note = soldOut ? t('soldOutShort')
    : !open ? (new Date(schedule.booking_opens_at) > now ? t('opensAt', { when: dateTime(schedule.booking_opens_at) }) : t('bookingNotOpen'))
    : t('closesAt', { when: dateTime(schedule.booking_closes_at) });
  return html`<li class="schedule" data-testid="schedule-item" data-schedule-id="${schedule.id}">
    <div class="grow"><div class="when">${dateTime(schedule.starts_at)}</div>
      <div><span data-testid="schedule-remaining">${t('remaining', { available: count(schedule.available_seats), total: count(schedule.total_seats) })}</span> · <span class="muted">${note}</span></div></div>
    <button type="button" class="primary" data-testid="join-queue" data-schedule-id="${schedule.id}" ${open && !soldOut ? '' : 'disabled'}>${t('joinQueue')}</button>
  </li>`;
}

/** Joins the schedule's waiting line (also from the waiting room's "join again"). */
export async function joinQueue(scheduleId, button) {
  setScheduleId(scheduleId);
  await runAction(button, async () => {
    const answer = await api.joinQueue(scheduleId);
    queueTokens.set(scheduleId, answer.token);
    setQueue({ ...answer, schedule_id: scheduleId });
    go(answer.status === 'ACTIVE' ? `#/schedule/${scheduleId}/seats` : `#/schedule/${scheduleId}/queue`);
  });
}
