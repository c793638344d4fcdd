//! User bearer tokens: `<user uuid>.<HMAC-SHA256 of it>`, base64url. Stateless, so checking one
//! costs no database round trip; forging one needs `AUTH_SECRET`.

use crate::{error::ApiError, state::AppState};
use axum::{extract::FromRequestParts, http::request::Parts};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use seatline_domain::UserId;
use sha2::Sha256;
use std::sync::Arc;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct TokenSigner {
    /// Keyed once: every check starts from a copy instead of hashing the key again.
    keyed: Arc<HmacSha256>,
}

impl TokenSigner {
    pub fn new(secret: &str) -> Self {
        let mut keyed =
            HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
        keyed.update(b"seatline-user:");
        Self {
            keyed: Arc::new(keyed),
        }
    }

    fn mac(&self, user: UserId) -> HmacSha256 {
        let mut mac = (*self.keyed).clone();
        mac.update(user.as_uuid().as_bytes());
        mac
    }

    pub fn issue(&self, user: UserId) -> String {
        let signature = self.mac(user).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(user.as_uuid().as_bytes()),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    pub fn verify(&self, token: &str) -> Option<UserId> {
        let (id, signature) = token.split_once('.')?;
        let id = URL_SAFE_NO_PAD.decode(id).ok()?;
        let user = UserId::from(uuid::Uuid::from_slice(&id).ok()?);
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        self.mac(user).verify_slice(&signature).ok()?;
        Some(user)
    }
}

/// The caller, from `Authorization: Bearer <token>`.
pub struct AuthUser(pub UserId);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized)?;
        let user = state
            .tokens
            .verify(token.trim())
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
