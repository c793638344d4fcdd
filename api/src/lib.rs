//! The Seatline HTTP API. `Application::build` is what `main` and the tests both start.

pub mod auth;
mod catalog_cache;
mod dto;
pub mod error;
mod extract;
mod holds;
mod http_metrics;
mod idempotency;
mod openapi;
pub mod queue_token;
pub mod rate_limit;
mod routes;
mod seat_map;
mod serve;
mod sessions;
mod signing;
pub mod startup;
mod state;
mod temporal;
pub mod waiting_room;

pub use startup::Application;
