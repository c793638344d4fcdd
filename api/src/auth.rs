//! Who is calling: access tokens (`Authorization: Bearer`), the sessions they belong to, and
//! roles. Access tokens are signed claims that expire after `ACCESS_TOKEN_TTL_SECONDS`; a
//! refresh token (kept hashed in `sessions`) gets new ones, and ending a session refuses its
//! access tokens on every API process within a second (`crate::sessions`).

pub use crate::signing::{AccessClaims, AccessRefusal, TokenSigner};
use crate::{
    error::ApiError,
    rate_limit::{self, Rate},
    state::AppState,
};
use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts, HeaderMap},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use seatline_domain::{Role, UserId};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The token of an `Authorization: Bearer <token>` header: the one place that reads it.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The claims of a valid access token whose session has not ended.
pub fn authenticate(state: &AppState, token: &str) -> Result<AccessClaims, ApiError> {
    let now = chrono::Utc::now().timestamp();
    let claims = state
        .tokens
        .verify(token, now)
        .map_err(|_| ApiError::Unauthorized)?;
    if state.revocations.is_ended(claims.session) {
        return Err(ApiError::Unauthorized);
    }
    Ok(claims)
}

/// The caller: a valid access token of a live session. Its requests count against
/// `RATE_LIMIT_USER_REQUESTS_PER_SECOND` for the account and
/// `RATE_LIMIT_ADDRESS_REQUESTS_PER_SECOND` for the client address.
pub struct Caller(pub AccessClaims);

impl Caller {
    /// `FORBIDDEN` unless the caller has `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.0.role == role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "your account does not have the role this needs",
            ))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let claims = authenticate(state, token)?;
        tracing::Span::current().record("user_id", tracing::field::display(claims.user));
        let limits = &state.settings.limits;
        let per_user = limits.user_requests_per_second;
        let per_address = limits.address_requests_per_second;
        let user = claims.user.to_string();
        let address = rate_limit::client_ip(parts, state);
        rate_limit::check_all(
            state,
            &[
                (
                    Rate::per_second("user", per_user, per_user.saturating_mul(2)),
                    &user,
                ),
                (
                    Rate::per_second("address", per_address, per_address.saturating_mul(2)),
                    &address,
                ),
            ],
        )
        .await?;
        Ok(Self(claims))
    }
}

/// The calling user, for endpoints that only need to know who.
pub struct AuthUser(pub UserId);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Caller(claims) = Caller::from_request_parts(parts, state).await?;
        Ok(Self(claims.user))
    }
}

/// A new session's tokens.
pub struct IssuedSession {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

/// A refresh token: `<session id>.<32 random bytes>`, base64url. Only its hash is stored.
pub struct RefreshToken {
    pub session: Uuid,
    secret: [u8; 32],
}

impl RefreshToken {
    pub fn new(session: Uuid) -> Self {
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        Self { session, secret }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let (session, secret) = raw.trim().split_once('.')?;
        let session = Uuid::parse_str(session).ok()?;
        let secret: [u8; 32] = URL_SAFE_NO_PAD.decode(secret).ok()?.try_into().ok()?;
        Some(Self { session, secret })
    }

    pub fn hash(&self) -> Vec<u8> {
        Sha256::digest(self.secret).to_vec()
    }

    pub fn encode(&self) -> String {
        format!("{}.{}", self.session, URL_SAFE_NO_PAD.encode(self.secret))
    }
}

/// Opens a session for `user` and issues its first tokens.
pub async fn open_session(
    state: &AppState,
    user: UserId,
    role: Role,
) -> Result<IssuedSession, ApiError> {
    let refresh = RefreshToken::new(Uuid::new_v4());
    let accounts = &state.settings.accounts;
    seatline_storage::accounts::open_session(
        &state.pool,
        refresh.session,
        user,
        &refresh.hash(),
        accounts.session_ttl_seconds as i64,
    )
    .await?;
    Ok(issue(state, user, role, refresh))
}

/// The access token for `refresh`'s session, and the refresh token itself.
pub fn issue(state: &AppState, user: UserId, role: Role, refresh: RefreshToken) -> IssuedSession {
    let ttl = state.settings.accounts.access_token_ttl_seconds;
    let claims = AccessClaims {
        user,
        session: refresh.session,
        role,
        expires_at: chrono::Utc::now().timestamp() + ttl as i64,
    };
    IssuedSession {
        access_token: state.tokens.issue(&claims),
        refresh_token: refresh.encode(),
        expires_in: ttl,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_tokens_round_trip_and_only_their_secret_hashes_alike() {
        let token = RefreshToken::new(Uuid::new_v4());
        let parsed = RefreshToken::parse(&token.encode()).unwrap();
        assert_eq!(parsed.session, token.session);
        assert_eq!(parsed.hash(), token.hash());
        assert_ne!(RefreshToken::new(token.session).hash(), token.hash());
        for garbage in [
            "",
            "x.y",
            "not-a-uuid.AAAA",
            &format!("{}.short", Uuid::new_v4()),
        ] {
            assert!(RefreshToken::parse(garbage).is_none(), "{garbage}");
        }
    }
}
