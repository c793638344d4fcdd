// Seatline's buyer page: plain ES modules, no build step, no dependencies. This module boots
// the page and decides which view a route shows.
import { showBanner } from './banner.js';
import { t } from './i18n.js';
import { startRouter } from './router.js';
import { rememberRoute } from './session.js';
import { restoreSession, setRoute, state, subscribe } from './state.js';
import { installTestHooks } from './test-hooks.js';
import * as bookings from './views/bookings.js';
import { startHeader } from './views/header.js';
import * as home from './views/home.js';
import * as queue from './views/queue.js';
import * as reservation from './views/reservation.js';
import * as seats from './views/seats.js';

// Each view: enter(route, visit) when its route is entered, redraw() when the language changes.
const VIEWS = { home, queue, seats, reservation, bookings };

function enterRoute(route, visit) {
  if (route.view !== 'home' && !state.user) { // signed out: sign in first, then come back here
    rememberRoute(location.hash);
    showBanner(t('signInFirst'), { kind: 'info' });
    route = { ...route, view: 'home' };
  }
  setRoute(route);
  VIEWS[route.view].enter(route, visit);
}

function showLanguage() {
  document.documentElement.lang = state.language;
  document.getElementById('skip').textContent = t('skip');
}

restoreSession();
showLanguage();
document.getElementById('skip').onclick = (event) => { event.preventDefault(); document.getElementById('main').focus(); };
startHeader();
subscribe('language', () => { showLanguage(); VIEWS[state.route.view].redraw(); });
installTestHooks();
startRouter(enterRoute);
