// The header: brand, the signed-in user and balance, My bookings, sign-out and the language switch.
// It redraws itself whenever the user, the balance or the language changes.
import { won } from '../format.js';
import { html, render } from '../html.js';
import { t } from '../i18n.js';
import { go } from '../router.js';
import { signOut } from '../session.js';
import { setLanguage, state, subscribe } from '../state.js';

export function renderHeader() {
  const el = document.getElementById('top');
  const user = state.user;
  render(el, html`<a class="brand" href="#/" data-testid="home-link">Seatline</a>
    <nav aria-label="Seatline">
      ${user ? html`<span class="who" data-testid="user-name">${t('hello', { name: user.name })}</span>
        ${state.balance !== null ? html`<span class="who" data-testid="header-balance">${t('balance', { amount: won(state.balance) })}</span>` : ''}
        <a href="#/bookings" data-testid="nav-bookings">${t('bookings')}</a>
        <button type="button" data-testid="sign-out">${t('signOut')}</button>` : ''}
      <button type="button" data-testid="lang-toggle" lang="${state.language === 'ko' ? 'en' : 'ko'}" aria-label="${t('langLabel')}">${t('langToggle')}</button>
    </nav>`);
  el.querySelector('[data-testid=lang-toggle]').onclick = () => {
    setLanguage(state.language === 'ko' ? 'en' : 'ko');
    document.querySelector('[data-testid=lang-toggle]').focus();
  };
  const signOutButton = el.querySelector('[data-testid=sign-out]');
  if (signOutButton) signOutButton.onclick = () => { signOut(true); go('#/'); };
}

export function startHeader() {
  subscribe(['user', 'balance', 'language'], renderHeader);
  renderHeader();
}
