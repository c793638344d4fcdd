// Signing the demo user in and out, the route to come back to after signing in, and the balance.
import { api, queueTokens } from './api.js';
import { setBalance, setUser, state } from './state.js';

const NEXT_ROUTE = 'seatline.next';

export function signIn(user) {
  setUser({ user_id: user.user_id, name: user.name, token: user.token, refresh_token: user.refresh_token });
}

/** Signs out; `forgetQueue` also drops the user's places in line (an explicit sign-out does). */
export function signOut(forgetQueue) {
  if (forgetQueue && state.user) queueTokens.forgetUser(state.user.user_id);
  // Ends the session on the server too: its tokens stop working everywhere.
  if (state.user) api.logout().catch(() => {});
  setUser(null);
}

/** Remembers where to go once signed in. */
export const rememberRoute = (hash) => sessionStorage.setItem(NEXT_ROUTE, hash);
export function takeRememberedRoute() {
  const hash = sessionStorage.getItem(NEXT_ROUTE);
  sessionStorage.removeItem(NEXT_ROUTE);
  return hash;
}

/** Reloads the balance; failures stay silent (the views that need it report their own). */
export async function refreshBalance() {
  try { setBalance((await api.balance()).balance); } catch { /* shown elsewhere when it matters */ }
  return state.balance;
}
