// The concerts and their schedules, loaded once and kept in the state store.
import { api } from './api.js';
import { dateTime } from './format.js';
import { isCurrentVisit } from './router.js';
import { setConcerts, setSchedules, state } from './state.js';

export async function loadCatalog({ withSchedules = true, fresh = false } = {}) {
  if (fresh || !state.concerts) setConcerts((await api.concerts()).concerts || []);
  if (withSchedules) await Promise.all(state.concerts.map((c) => loadSchedules(c.id)));
}

export async function loadSchedules(concertId, { fresh = false } = {}) {
  if (!fresh && state.schedulesByConcert.has(concertId)) return state.schedulesByConcert.get(concertId);
  const schedules = (await api.schedules(concertId)).schedules || [];
  setSchedules(concertId, schedules);
  return schedules;
}

/** "Title — Artist · Venue · date" of a schedule, '' while unknown. */
export function scheduleTitle(scheduleId) {
  const schedule = state.scheduleById.get(scheduleId);
  if (!schedule) return '';
  const concert = (state.concerts || []).find((c) => c.id === schedule.concert_id);
  return `${concert ? `${concert.title} — ${concert.artist} · ${concert.venue} · ` : ''}${dateTime(schedule.starts_at)}`;
}

/** Loads the catalog when the schedule is unknown (a page opened on a deep link), then fills in its title. */
export async function ensureScheduleTitle(scheduleId, visit) {
  if (state.scheduleById.has(scheduleId)) return;
  try { await loadCatalog(); } catch { return; }
  if (!isCurrentVisit(visit)) return;
  const el = document.querySelector('[data-testid=schedule-title]');
  if (el) el.textContent = scheduleTitle(scheduleId);
}
