//! User bearer tokens: `<user uuid>.<HMAC-SHA256 of it>`, base64url. Stateless, so checking one
//! costs no database round trip; forging one needs `AUTH_SECRET`.

pub use crate::signing::TokenSigner;
use crate::{error::ApiError, state::AppState};
use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts, HeaderMap},
};
use seatline_domain::UserId;

/// The token of an `Authorization: Bearer <token>` header: the one place that reads it.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The caller, from `Authorization: Bearer <token>`.
pub struct AuthUser(pub UserId);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = bearer_token(&parts.headers)
            .and_then(|token| state.tokens.verify(token))
            .ok_or(ApiError::Unauthorized)?;
        tracing::Span::current().record("user_id", tracing::field::display(user));
        Ok(Self(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_forgeries_do_not() {
        let signer = TokenSigner::new("secret-a");
        let user = UserId::new();
        let token = signer.issue(user);
        assert_eq!(signer.verify(&token), Some(user));

        // Another secret, another user's signature, garbage.
        assert_eq!(TokenSigner::new("secret-b").verify(&token), None);
        let other = signer.issue(UserId::new());
        let (id, _) = token.split_once('.').unwrap();
        let (_, other_sig) = other.split_once('.').unwrap();
        assert_eq!(signer.verify(&format!("{id}.{other_sig}")), None);
        assert_eq!(signer.verify("garbage"), None);
        assert_eq!(signer.verify("a.b"), None);
        assert_eq!(signer.verify(""), None);
    }
}
