// window.seatline: what the browser tests (tests/browser/) read and do. Its shape is their contract.
import { seatById } from './seat-map-model.js';
import { benchmark, seatMapMetrics } from './seatmap.js';
import { state } from './state.js';
import { toggleSeat } from './views/seats.js';

export function installTestHooks() {
  window.seatline = {
    state: () => {
      const model = state.seatMap, view = state.route.view;
      return {
        view, route: location.hash || '#/', user: state.user ? { user_id: state.user.user_id, name: state.user.name } : null,
        lang: state.language, selected: [...state.selectedSeatIds],
        focus: state.cursor ? { r: state.cursor.row, c: state.cursor.column } : null,
        live: view === 'seats' ? state.liveUpdates : null, queue: state.queue, reservation: state.reservation, balance: state.balance,
        seatMap: model ? { schedule_id: model.scheduleId, total_seats: model.seatCount, available_seats: model.available, grades: model.grades, seats: model.seats } : null,
      };
    },
    selectSeat: (seatId) => toggleSeat(seatId),
    seatStatus: (seatId) => { const seat = seatById(state.seatMap, seatId); return seat ? seat.status : null; },
    metrics: seatMapMetrics,
    // Full-map redraws for measuring frame time: fits the whole hall, draws n frames, returns the stats.
    benchmark: (n = 20) => benchmark(n),
  };
}
