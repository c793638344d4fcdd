//! The one error type of the API and the one place that maps it to a status and a code.
//! Internal errors are logged here, once, and never shown to the client.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use seatline_domain::ParseError;
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    MalformedJson(String),
    #[error("{0}")]
    Validation(String),
    #[error("a valid bearer token is required")]
    Unauthorized,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("some seats are held or sold")]
    SeatUnavailable { seat_ids: Vec<i64> },
    #[error("these seats are not part of the schedule")]
    UnknownSeats { seat_ids: Vec<i64> },
    #[error("booking is not open for this schedule")]
    BookingClosed,
    #[error("the hold has expired or was cancelled")]
    ReservationExpired,
    #[error("the reservation is already paid")]
    AlreadyConfirmed,
    #[error("the balance is too low for this reservation")]
    InsufficientBalance { balance: i64, amount: i64 },
    #[error("the balance would exceed its limit")]
    BalanceLimitExceeded,
    #[error("no valid queue token for this user and schedule; join the queue")]
    TokenNotFound,
    #[error("your turn has ended; join the queue again")]
    TokenExpired,
    #[error("it is not your turn yet")]
    WrongTokenTurn { position: u64, sold_out: bool },
    #[error("the webhook signature is not valid: {0}")]
    InvalidSignature(&'static str),
    #[error("the amount does not match the payment")]
    AmountMismatch { expected: i64, got: i64 },
    #[error("this Idempotency-Key was used for another request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still being processed")]
    IdempotencyInProgress,
    #[error("too many holds are being placed right now; nothing was held, try again in a moment")]
    Busy,
    #[error("too many requests; try again in a moment")]
    RateLimited { retry_after_seconds: u64 },
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("an account with this email exists; log in instead")]
    EmailTaken,
    #[error("one buyer may hold or own at most {limit} seats of this schedule")]
    PurchaseLimitReached { limit: u32, owned: u32 },
    #[error("the layout has problems; nothing was stored")]
    LayoutInvalid {
        problems: Vec<seatline_domain::LayoutProblem>,
    },
    #[error("{0}")]
    ScheduleHasSales(String),
    #[error("{limit} top-ups are already waiting for payment; finish or wait for one")]
    TooManyPendingTopups { limit: u64 },
    #[error("a dependency is unavailable, try again")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// What a BUSY answer tells the client to wait before trying again.
const BUSY_RETRY_AFTER_SECONDS: u64 = 1;

impl ApiError {
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }

    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        let (status, code, _) = self.parts();
        (status, code)
    }

    /// One error of each kind: the catalogue of codes the OpenAPI tests check against.
    #[cfg(test)]
    pub(crate) fn one_of_each() -> Vec<ApiError> {
        use ApiError::*;
        let all = vec![
            MalformedJson(String::new()),
            Validation(String::new()),
            Unauthorized,
            NotFound("resource"),
            RouteNotFound,
            MethodNotAllowed,
            SeatUnavailable { seat_ids: vec![] },
            UnknownSeats { seat_ids: vec![] },
            BookingClosed,
            ReservationExpired,
            AlreadyConfirmed,
            InsufficientBalance {
                balance: 0,
                amount: 0,
            },
            BalanceLimitExceeded,
            TokenNotFound,
            TokenExpired,
            WrongTokenTurn {
                position: 0,
                sold_out: false,
            },
            InvalidSignature(""),
            AmountMismatch {
                expected: 0,
                got: 0,
            },
            IdempotencyKeyReused,
            IdempotencyInProgress,
            Busy,
            RateLimited {
                retry_after_seconds: 1,
            },
            Forbidden(""),
            InvalidCredentials,
            EmailTaken,
            PurchaseLimitReached { limit: 4, owned: 4 },
            TooManyPendingTopups { limit: 3 },
            LayoutInvalid { problems: vec![] },
            ScheduleHasSales(String::new()),
            Unavailable(anyhow::anyhow!("")),
            Internal(anyhow::anyhow!("")),
        ];
        // A new variant fails to compile here until it is added to the list above.
        for e in &all {
            match e {
                MalformedJson(_)
                | Validation(_)
                | Unauthorized
                | NotFound(_)
                | RouteNotFound
                | MethodNotAllowed
                | SeatUnavailable { .. }
                | UnknownSeats { .. }
                | BookingClosed
                | ReservationExpired
                | AlreadyConfirmed
                | InsufficientBalance { .. }
                | BalanceLimitExceeded
                | TokenNotFound
                | TokenExpired
                | WrongTokenTurn { .. }
                | InvalidSignature(_)
                | AmountMismatch { .. }
                | IdempotencyKeyReused
                | IdempotencyInProgress
                | Busy
                | RateLimited { .. }
                | Forbidden(_)
                | InvalidCredentials
                | EmailTaken
                | PurchaseLimitReached { .. }
                | TooManyPendingTopups { .. }
                | LayoutInvalid { .. }
                | ScheduleHasSales(_)
                | Unavailable(_)
                | Internal(_) => {}
            }
        }
        all
    }

    /// Status, stable code and details of each error: the single mapping.
    fn parts(&self) -> (StatusCode, &'static str, Value) {
        use ApiError::*;
        match self {
            MalformedJson(_) => (StatusCode::BAD_REQUEST, "MALFORMED_JSON", json!({})),
            Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "VALIDATION_FAILED",
                json!({}),
            ),
            Unauthorized => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED", json!({})),
            NotFound(what) => (
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                json!({ "resource": what }),
            ),
            RouteNotFound => (StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND", json!({})),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                json!({}),
            ),
            SeatUnavailable { seat_ids } => (
                StatusCode::CONFLICT,
                "SEAT_UNAVAILABLE",
                json!({ "seat_ids": seat_ids }),
            ),
            UnknownSeats { seat_ids } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNKNOWN_SEATS",
                json!({ "seat_ids": seat_ids }),
            ),
            BookingClosed => (StatusCode::CONFLICT, "BOOKING_CLOSED", json!({})),
            ReservationExpired => (StatusCode::CONFLICT, "RESERVATION_EXPIRED", json!({})),
            AlreadyConfirmed => (StatusCode::CONFLICT, "ALREADY_CONFIRMED", json!({})),
            InsufficientBalance { balance, amount } => (
                StatusCode::PAYMENT_REQUIRED,
                "INSUFFICIENT_BALANCE",
                json!({ "balance": balance, "amount": amount }),
            ),
            BalanceLimitExceeded => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "BALANCE_LIMIT_EXCEEDED",
                json!({}),
            ),
            InvalidSignature(reason) => (
                StatusCode::UNAUTHORIZED,
                "INVALID_SIGNATURE",
                json!({ "reason": reason }),
            ),
            AmountMismatch { expected, got } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "AMOUNT_MISMATCH",
                json!({ "expected": expected, "got": got }),
            ),
            IdempotencyKeyReused => (StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED", json!({})),
            LayoutInvalid { problems } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "LAYOUT_INVALID",
                json!({ "problems": problems.iter().map(|p| json!({ "row": p.row, "message": p.message })).collect::<Vec<_>>() }),
            ),
            ScheduleHasSales(_) => (StatusCode::CONFLICT, "SCHEDULE_HAS_SALES", json!({})),
            TooManyPendingTopups { limit } => (
                StatusCode::CONFLICT,
                "TOO_MANY_PENDING_TOPUPS",
                json!({ "limit": limit }),
            ),
            IdempotencyInProgress => (StatusCode::CONFLICT, "IDEMPOTENCY_IN_PROGRESS", json!({})),
            TokenNotFound => (StatusCode::UNAUTHORIZED, "TOKEN_NOT_FOUND", json!({})),
            TokenExpired => (StatusCode::UNAUTHORIZED, "TOKEN_EXPIRED", json!({})),
            WrongTokenTurn { position, sold_out } => (
                StatusCode::FORBIDDEN,
                "WRONG_TOKEN_TURN",
                json!({ "position": position, "sold_out": sold_out }),
            ),
            Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "BUSY",
                json!({ "retry_after_seconds": BUSY_RETRY_AFTER_SECONDS }),
            ),
            RateLimited {
                retry_after_seconds,
            } => (
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                json!({ "retry_after_seconds": retry_after_seconds }),
            ),
            Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN", json!({})),
            InvalidCredentials => (StatusCode::UNAUTHORIZED, "INVALID_CREDENTIALS", json!({})),
            EmailTaken => (StatusCode::CONFLICT, "EMAIL_TAKEN", json!({})),
            PurchaseLimitReached { limit, owned } => (
                StatusCode::CONFLICT,
                "PURCHASE_LIMIT_REACHED",
                json!({ "limit": limit, "owned": owned }),
            ),
            Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                json!({}),
            ),
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", json!({})),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, details) = self.parts();
        match &self {
            ApiError::Internal(err) => tracing::error!(error = ?err, "internal error"),
            ApiError::Unavailable(err) => tracing::warn!(error = ?err, "dependency unavailable"),
            _ => {}
        }
        let body = json!({
            "error": { "code": code, "message": self.to_string(), "details": details }
        });
        let mut response = (status, Json(body)).into_response();
        let retry_after = match self {
            ApiError::Busy => Some(BUSY_RETRY_AFTER_SECONDS),
            ApiError::RateLimited {
                retry_after_seconds,
            } => Some(retry_after_seconds),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(err: redis::RedisError) -> Self {
        Self::Unavailable(err.into())
    }
}

impl From<ParseError> for ApiError {
    fn from(err: ParseError) -> Self {
        Self::Validation(err.0)
    }
}

/// A database error that no call site turned into a business outcome (those map violations of
/// the constraints they expect, by name, where they know the details): worth a retry when the
/// database was busy or away, internal otherwise.
impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if is_transient(&err) {
            Self::Unavailable(err.into())
        } else {
            Self::Internal(err.into())
        }
    }
}

/// Database failures worth retrying: the database is restarting, busy or slow (a statement
/// or lock timeout), not wrong. They answer 503, so clients (and the provider) try again.
fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            // query_canceled (statement_timeout), lock_not_available (lock_timeout),
            // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections,
            // serialization_failure, deadlock_detected
            Some("57014" | "55P03" | "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01")
        ),
        _ => false,
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_is_a_503_that_says_when_to_try_again() {
        let response = ApiError::Busy.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[axum::http::header::RETRY_AFTER], "1");
    }
}
