mod balance;
mod catalog;
mod ops;
mod payments;
mod queue;
mod reservations;
mod users;
mod web;

use crate::state::AppState;
use axum::{
    routing::{get, post},
    Router,
};

pub fn router() -> Router<AppState> {
    let v1 = Router::new()
        .route("/users", post(users::create_user))
        .route("/users/me/reservations", get(reservations::list_mine))
        .route("/users/me/balance", get(balance::get_balance))
        .route("/users/me/balance/charges", post(balance::charge))
        .route("/users/me/balance/history", get(balance::history))
        .route("/queue/tokens", post(queue::join))
        .route(
            "/queue/tokens/current",
            get(queue::current).delete(queue::leave),
        )
        .route("/concerts", get(catalog::list_concerts))
        .route(
            "/concerts/{concert_id}/schedules",
            get(catalog::list_schedules),
        )
        .route("/schedules/{schedule_id}/seats", get(catalog::seat_map))
        .route(
            "/schedules/{schedule_id}/seats/layout",
            get(catalog::seat_layout),
        )
        .route(
            "/schedules/{schedule_id}/seats/stream",
            get(catalog::seat_stream),
        )
        .route("/reservations", post(reservations::hold))
        .route("/reservations/{id}", get(reservations::get_one))
        .route("/reservations/{id}/payment", post(reservations::pay))
        .route("/reservations/{id}/cancel", post(reservations::cancel))
        .route("/reservations/{id}/events", get(reservations::events))
        .route("/reservations/{id}/checkout", post(payments::checkout))
        .route("/payments/webhook", post(payments::webhook));
    Router::new()
        .nest("/api/v1", v1)
        .merge(ops::router())
        .merge(web::router())
}
