//! Accounts: sign-up, login, refresh, logout, and who am I.

use crate::{
    auth::{self, Caller, IssuedSession, RefreshToken},
    dto::{ErrorBody, Login, Me, RefreshSession, Session, SignInMethods, Signup},
    error::{ApiError, ApiResult},
    extract::JsonBody,
    rate_limit::{self, ClientIp, Rate},
    state::AppState,
};
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use axum::{extract::State, http::StatusCode, Json};
use seatline_domain::{Email, Password, Role, UserId, UserName};
use seatline_storage::accounts::{self, Refresh, SignupError};
use std::sync::LazyLock;

/// Checked against when the email is unknown, so a login takes as long either way and does
/// not tell which emails have accounts.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("not anyone's password at all").expect("hashing a constant"));

fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

fn password_matches(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .and_then(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed))
        .is_ok()
}

/// Argon2id takes tens of milliseconds of CPU on purpose: off the async threads.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)
}

fn session(user: UserId, role: Role, issued: IssuedSession) -> Session {
    Session {
        user_id: user.as_uuid(),
        role,
        access_token: issued.access_token,
        refresh_token: issued.refresh_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
    }
}

/// Create an account (role `buyer`) and log it in.
#[utoipa::path(post, path = "/auth/signup", tag = "accounts", request_body = Signup,
    responses(
        (status = 201, description = "the account and its first session", body = Session),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 409, description = "EMAIL_TAKEN", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED (email, password of 10 to 128 characters, name)", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED: too many sign-ups from this address (`Retry-After`)", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<Signup>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    let email = Email::parse(&body.email)?;
    let password = Password::parse(&body.password)?;
    let name = UserName::parse(&body.name)?;
    rate_limit::check(&state, Rate::accounts(&state.settings.limits), &ip).await?;
    let hash = blocking(move || hash_password(password.expose()))
        .await?
        .map_err(ApiError::internal)?;
    let user = UserId::new();
    tracing::Span::current().record("user_id", tracing::field::display(user));
    accounts::create_account(&state.pool, user, &email, &name, &hash)
        .await
        .map_err(|e| match e {
            SignupError::EmailTaken => ApiError::EmailTaken,
            SignupError::Database(err) => err.into(),
        })?;
    let issued = auth::open_session(&state, user, Role::Buyer).await?;
    metrics::counter!("accounts_created_total").increment(1);
    Ok((
        StatusCode::CREATED,
        Json(session(user, Role::Buyer, issued)),
    ))
}

/// Log in with email and password: a new session.
#[utoipa::path(post, path = "/auth/login", tag = "accounts", request_body = Login,
    responses(
        (status = 200, description = "a new session", body = Session),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "INVALID_CREDENTIALS: the same for an unknown email and a wrong password", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED: too many logins from this address or for this email", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<Login>,
) -> ApiResult<Json<Session>> {
    let email = Email::parse(&body.email).map_err(|_| ApiError::InvalidCredentials)?;
    let logins = Rate::logins(&state.settings.limits);
    let (by_address, by_email) = (format!("ip:{ip}"), format!("email:{email}"));
    rate_limit::check_all(&state, &[(logins, &by_address), (logins, &by_email)]).await?;
    let found = accounts::credentials(&state.pool, &email).await?;
    let hash = found
        .as_ref()
        .map(|c| c.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let password = body.password;
    let matches = blocking(move || password_matches(&password, &hash)).await?;
    let Some(account) = found.filter(|_| matches) else {
        metrics::counter!("logins_refused_total").increment(1);
        return Err(ApiError::InvalidCredentials);
    };
    tracing::Span::current().record("user_id", tracing::field::display(account.user_id));
    let issued = auth::open_session(&state, account.user_id, account.role).await?;
    Ok(Json(session(account.user_id, account.role, issued)))
}

/// Trade a refresh token for new tokens. Each refresh token works once: presenting an old one
/// again ends the session (someone else has a copy).
#[utoipa::path(post, path = "/auth/refresh", tag = "accounts", request_body = RefreshSession,
    responses(
        (status = 200, description = "new tokens; the refresh token presented is spent", body = Session),
        (status = 400, description = "MALFORMED_JSON", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED: unknown, spent, ended or expired", body = ErrorBody),
        (status = 422, description = "VALIDATION_FAILED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
    ))]
#[tracing::instrument(skip_all, fields(user_id))]
pub async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<RefreshSession>,
) -> ApiResult<Json<Session>> {
    let logins = Rate::logins(&state.settings.limits);
    rate_limit::check(&state, logins, &format!("refresh:{ip}")).await?;
    let presented = RefreshToken::parse(&body.refresh_token).ok_or(ApiError::Unauthorized)?;
    let next = RefreshToken::new(presented.session);
    let outcome = accounts::rotate_refresh(
        &state.pool,
        presented.session,
        &presented.hash(),
        &next.hash(),
    )
    .await?;
    match outcome {
        Refresh::Rotated { user, role } => {
            tracing::Span::current().record("user_id", tracing::field::display(user));
            Ok(Json(session(
                user,
                role,
                auth::issue(&state, user, role, next),
            )))
        }
        Refresh::Reused => {
            tracing::warn!(session = %presented.session, "a spent refresh token came back; session ended");
            state.revocations.mark_ended(presented.session);
            Err(ApiError::Unauthorized)
        }
        Refresh::Invalid => Err(ApiError::Unauthorized),
    }
}

/// End the caller's session: its refresh token stops working at once and its access tokens
/// within a second, on every API process.
#[utoipa::path(post, path = "/auth/logout", tag = "accounts", security(("bearer" = [])),
    responses(
        (status = 204, description = "the session has ended"),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
    ))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    let claims = caller.0;
    accounts::end_session(&state.pool, claims.session, claims.user).await?;
    state.revocations.mark_ended(claims.session);
    Ok(StatusCode::NO_CONTENT)
}

/// How one may sign in: the page shows the demo login only where it exists.
#[utoipa::path(get, path = "/auth/methods", tag = "accounts",
    responses((status = 200, description = "the sign-in methods of this deployment", body = SignInMethods)))]
pub async fn methods(State(state): State<AppState>) -> Json<SignInMethods> {
    Json(SignInMethods {
        password: true,
        demo: !state.settings.accounts.is_production(),
        free_topups: !state.settings.accounts.is_production(),
    })
}

/// The caller's account and role.
#[utoipa::path(get, path = "/auth/me", tag = "accounts", security(("bearer" = [])),
    responses(
        (status = 200, description = "the account", body = Me),
        (status = 401, description = "UNAUTHORIZED", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody),
    ))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Me>> {
    let account = accounts::account(&state.pool, caller.0.user)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    Ok(Json(Me {
        user_id: account.user_id.as_uuid(),
        name: account.name,
        email: account.email,
        role: account.role,
        created_at: account.created_at,
    }))
}
