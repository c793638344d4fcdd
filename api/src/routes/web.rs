//! The buyer's web page, built into the binary: no CDN, no build step.
//! Every file of web/ is listed in FILES; tests/browser/web.test.mjs fails when one is missing.

use axum::{http::header, response::IntoResponse, routing::get, Router};

use crate::state::AppState;

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// `web_file!("js/main.js", JS)`: a file of web/, served at `/js/main.js`.
macro_rules! web_file {
    ($path:literal, $content_type:expr) => {
        (
            concat!("/", $path),
            $content_type,
            include_str!(concat!("../../../web/", $path)),
        )
    };
}

/// The page's files: URL path, content type, contents.
const FILES: &[(&str, &str, &str)] = &[
    ("/", HTML, include_str!("../../../web/index.html")),
    web_file!("app.css", CSS),
    web_file!("js/api.js", JS),
    web_file!("js/banner.js", JS),
    web_file!("js/catalog.js", JS),
    web_file!("js/errors.js", JS),
    web_file!("js/format.js", JS),
    web_file!("js/html.js", JS),
    web_file!("js/i18n.js", JS),
    web_file!("js/main.js", JS),
    web_file!("js/router.js", JS),
    web_file!("js/seat-map-model.js", JS),
    web_file!("js/seatmap.js", JS),
    web_file!("js/session.js", JS),
    web_file!("js/state.js", JS),
    web_file!("js/test-hooks.js", JS),
    web_file!("js/views/bookings.js", JS),
    web_file!("js/views/header.js", JS),
    web_file!("js/views/home.js", JS),
    web_file!("js/views/queue.js", JS),
    web_file!("js/views/reservation.js", JS),
    web_file!("js/views/seats.js", JS),
];

pub fn router() -> Router<AppState> {
    FILES
        .iter()
        .fold(Router::new(), |router, &(path, content_type, body)| {
            router.route(path, get(move || async move { page(content_type, body) }))
        })
}

/// The page runs only its own scripts and styles, talks only to its own origin, and can't be
/// framed: injected markup can run nothing and send nothing elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn page(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        body,
    )
}
