mod admin;
mod auth;
mod balance;
mod catalog;
mod ops;
mod payments;
mod queue;
mod reservations;
mod users;
mod web;

use crate::{openapi, state::AppState};
pub use admin::CATALOG_CHANNEL;
use axum::Router;
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};
use utoipa_swagger_ui::SwaggerUi;

/// The API's routes and the OpenAPI document of exactly those routes: each route is added
/// with the `#[utoipa::path]` of its handler, so the two cannot drift.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
        .routes(routes!(users::create_user))
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::methods))
        .routes(routes!(reservations::list_mine))
        .routes(routes!(balance::get_balance))
        .routes(routes!(balance::charge))
        .routes(routes!(balance::history))
        .routes(routes!(balance::start_topup, balance::list_topups))
        .routes(routes!(balance::get_topup))
        .routes(routes!(admin::create_concert, admin::list_concerts))
        .routes(routes!(admin::edit_concert))
        .routes(routes!(admin::publish_concert))
        .routes(routes!(admin::unpublish_concert))
        .routes(routes!(admin::create_schedule))
        .routes(routes!(admin::get_schedule, admin::edit_schedule))
        .routes(routes!(admin::publish_schedule))
        .routes(routes!(admin::unpublish_schedule))
        .routes(routes!(admin::withhold))
        .routes(routes!(admin::release_withheld))
        .routes(routes!(admin::events))
        .routes(routes!(admin::steer_admission))
        .routes(routes!(admin::sales))
        .routes(routes!(admin::cancel_reservation))
        .routes(routes!(queue::join))
        .routes(routes!(queue::current, queue::leave))
        .routes(routes!(queue::receipt))
        .routes(routes!(queue::pre_queue_draw))
        .routes(routes!(catalog::list_concerts))
        .routes(routes!(catalog::list_schedules))
        .routes(routes!(catalog::seat_map))
        .routes(routes!(catalog::seat_layout))
        .routes(routes!(catalog::seat_stream))
        .routes(routes!(catalog::stream_ticket))
        .routes(routes!(reservations::hold))
        .routes(routes!(reservations::get_one))
        .routes(routes!(reservations::pay))
        .routes(routes!(reservations::cancel))
        .routes(routes!(reservations::events))
        .routes(routes!(payments::checkout))
        .routes(routes!(payments::webhook))
        // A 15,000-seat layout is a few hundred kilobytes; everything else stays small.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(admin::create_hall, admin::list_halls))
                .layer(axum::extract::DefaultBodyLimit::max(
                    admin::MAX_LAYOUT_BYTES,
                )),
        );
    let (router, doc) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest("/api/v1", v1)
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .split_for_parts();
    (router, openapi::finish(doc))
}

pub fn router() -> Router<AppState> {
    let (api, doc) = api();
    api.merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
        .merge(web::router())
}
