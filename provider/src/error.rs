//! JSON errors: `{"error":{"code":"...","message":"..."}}` with a fitting status, and a
//! `details` object where the caller needs more than the code.

use crate::payment::{CancelError, RefundError, TransitionError};
use axum::{
    extract::rejection::JsonRejection,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Shown as `error.details` when present.
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn payment_not_found(payment_id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "PAYMENT_NOT_FOUND",
            format!("no payment '{payment_id}'"),
        )
    }

    pub fn key_reused() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used with a different request",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(details) = self.details {
            error["details"] = details;
        }
        let body = json!({ "error": error });
        (self.status, Json(body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = match rejection.status() {
            s if s.is_client_error() => s,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, "INVALID_REQUEST", rejection.body_text())
    }
}

impl From<TransitionError> for ApiError {
    fn from(err: TransitionError) -> Self {
        let (status, code) = match err {
            TransitionError::AlreadySucceeded => (StatusCode::CONFLICT, "ALREADY_SUCCEEDED"),
            TransitionError::AlreadyFailed => (StatusCode::CONFLICT, "ALREADY_FAILED"),
            TransitionError::Canceled => (StatusCode::CONFLICT, "PAYMENT_CANCELED"),
            TransitionError::InvalidTarget => (StatusCode::BAD_REQUEST, "INVALID_STATUS"),
        };
        Self::new(status, code, err.to_string())
    }
}

impl From<CancelError> for ApiError {
    /// 409 `PAYMENT_ALREADY_COMPLETED` with `details.status`, the outcome the payment has.
    fn from(err: CancelError) -> Self {
        let CancelError::AlreadyCompleted(status) = err;
        Self::new(
            StatusCode::CONFLICT,
            "PAYMENT_ALREADY_COMPLETED",
            err.to_string(),
        )
        .with_details(json!({ "status": status }))
    }
}

impl From<RefundError> for ApiError {
    fn from(err: RefundError) -> Self {
        let (status, code) = match err {
            RefundError::InvalidAmount => (StatusCode::BAD_REQUEST, "INVALID_AMOUNT"),
            RefundError::NotSucceeded => (StatusCode::CONFLICT, "PAYMENT_NOT_SUCCEEDED"),
            RefundError::ExceedsPayment { .. } => {
                (StatusCode::BAD_REQUEST, "REFUND_EXCEEDS_PAYMENT")
            }
        };
        Self::new(status, code, err.to_string())
    }
}
