//! JSON errors: `{"error":{"code":"...","message":"..."}}` with a fitting status.

use crate::payment::{RefundError, TransitionError};
use axum::{
    extract::rejection::JsonRejection,
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
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
        let body = json!({ "error": { "code": self.code, "message": self.message } });
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
            TransitionError::InvalidTarget => (StatusCode::BAD_REQUEST, "INVALID_STATUS"),
        };
        Self::new(status, code, err.to_string())
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
