//! Sessions and accounts: anonymous session with a CSRF token, password registration and
//! login (argon2id, rate-limited, session rotated), logout, the account and its profile.

use super::request::{checked_session, current_session, json_body, logged_in, session_cookie};
use super::{AppState, SMALL_BODY_LIMIT};
use crate::error::{ApiCode, ApiError};
use crate::model::{self, Account, Profile, SessionRecord};
use crate::secrets::{self, random_token, token_digest};
use crate::store::NewAccount;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;

/// Creates a session (logged in when `account` is given); returns it and its cookie.
pub async fn new_session(
    state: &AppState,
    account: Option<i64>,
) -> Result<(SessionRecord, String), ApiError> {
    let internal = |_| ApiError::new(ApiCode::Internal);
    let token = random_token(32).map_err(internal)?;
    let now = state.now().unix_timestamp();
    let ttl = state.config.session_ttl.whole_seconds();
    let session = SessionRecord {
        id: token_digest(&token),
        account_id: account,
        csrf: random_token(32).map_err(internal)?,
        expires_at: now + ttl,
    };
    state
        .store
        .create_session(session.clone(), now)
        .await
        .map_err(|e| state.store_error(e))?;
    let cookie = session_cookie(Some(&token), ttl, state.config.secure_cookies());
    Ok((session, cookie))
}

/// Replaces the request's session (if any) by a new logged-in one: no session fixation.
pub async fn rotate_session(
    state: &AppState,
    old: &SessionRecord,
    account: i64,
) -> Result<(SessionRecord, String), ApiError> {
    state
        .store
        .delete_session(&old.id)
        .await
        .map_err(|e| state.store_error(e))?;
    new_session(state, Some(account)).await
}

/// A JSON response with a `Set-Cookie`.
pub fn with_cookie(status: StatusCode, cookie: String, body: serde_json::Value) -> Response {
    (status, [(header::SET_COOKIE, cookie)], Json(body)).into_response()
}

async fn account_of(state: &AppState, id: i64) -> Result<Account, ApiError> {
    state
        .store
        .account(id)
        .await
        .map_err(|e| state.store_error(e))?
        .ok_or_else(|| ApiError::new(ApiCode::Unauthenticated))
}

/// `GET /api/v1/session`: the session's CSRF token and account; creates an anonymous session
/// when there is none.
pub async fn get_session(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(session) = current_session(&state, &headers).await? {
        let account = match session.account_id {
            Some(id) => state
                .store
                .account(id)
                .await
                .map_err(|e| state.store_error(e))?,
            None => None,
        };
        return Ok(Json(json!({
            "csrfToken": session.csrf,
            "authenticated": account.is_some(),
            "account": account,
        }))
        .into_response());
    }
    if !state.limits.sessions.allow(&peer.ip().to_string()) {
        return Err(ApiError::new(ApiCode::RateLimited));
    }
    let (session, cookie) = new_session(&state, None).await?;
    Ok(with_cookie(
        StatusCode::OK,
        cookie,
        json!({"csrfToken": session.csrf, "authenticated": false, "account": null}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    login: String,
    password: SecretString,
}

/// `POST /api/v1/session`: log in with login and password.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // The body is read first, whatever comes next: an unread body would cost the connection.
    let body: LoginBody = json_body(&headers, body, SMALL_BODY_LIMIT).await?;
    let session = checked_session(&state, &headers).await?;
    let login = model::normalize_login(&body.login)
        .map_err(|_| ApiError::new(ApiCode::InvalidCredentials))?;
    if !state.limits.login.allow(&format!("ip:{}", peer.ip()))
        || !state.limits.login.allow(&format!("login:{login}"))
    {
        return Err(ApiError::new(ApiCode::RateLimited));
    }
    let found = state
        .store
        .account_by_login(&login)
        .await
        .map_err(|e| state.store_error(e))?;
    let hash = found
        .as_ref()
        .map(|(_, h)| h.clone())
        .unwrap_or_else(|| state.dummy_hash.clone());
    let password = body.password;
    let ok = tokio::task::spawn_blocking(move || secrets::verify_password(&password, &hash))
        .await
        .map_err(|_| ApiError::new(ApiCode::Internal))?;
    let Some((account, _)) = found.filter(|_| ok) else {
        tracing::info!(target: "tokenconfirm::audit", event = "login-failed", "login refused");
        return Err(ApiError::new(ApiCode::InvalidCredentials));
    };
    let (new, cookie) = rotate_session(&state, &session, account.id).await?;
    tracing::info!(target: "tokenconfirm::audit", event = "login", account = account.id, "logged in");
    Ok(with_cookie(
        StatusCode::OK,
        cookie,
        json!({"account": account, "csrfToken": new.csrf}),
    ))
}

/// `DELETE /api/v1/session`: log out.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let session = checked_session(&state, &headers).await?;
    state
        .store
        .delete_session(&session.id)
        .await
        .map_err(|e| state.store_error(e))?;
    let cookie = session_cookie(None, 0, state.config.secure_cookies());
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    name: String,
    login: String,
    password: SecretString,
}

/// Checks and hashes a new account's password off the async threads.
pub async fn hashed(state: &AppState, password: SecretString) -> Result<String, ApiError> {
    {
        use secrecy::ExposeSecret;
        model::check_password(password.expose_secret())?;
    }
    let cost = state.config.password_cost;
    tokio::task::spawn_blocking(move || secrets::hash_password(&password, cost))
        .await
        .map_err(|_| ApiError::new(ApiCode::Internal))?
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::new(ApiCode::Internal)
        })
}

/// `POST /api/v1/accounts`: register a simplified account and log in.
pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body: RegisterBody = json_body(&headers, body, SMALL_BODY_LIMIT).await?;
    let session = checked_session(&state, &headers).await?;
    let name = model::normalize_name(&body.name, "name")?;
    let login = model::normalize_login(&body.login)?;
    if !state.limits.registration.allow(&peer.ip().to_string()) {
        return Err(ApiError::new(ApiCode::RateLimited));
    }
    let password_hash = hashed(&state, body.password).await?;
    let now = state.now().unix_timestamp();
    let account = state
        .store
        .create_account(
            NewAccount {
                login,
                name,
                password_hash,
            },
            now,
        )
        .await
        .map_err(|e| state.store_error(e))?
        .ok_or_else(|| ApiError::new(ApiCode::LoginTaken))?;
    let (new, cookie) = rotate_session(&state, &session, account.id).await?;
    tracing::info!(target: "tokenconfirm::audit", event = "registered", account = account.id, "account registered");
    Ok(with_cookie(
        StatusCode::CREATED,
        cookie,
        json!({"account": account, "csrfToken": new.csrf}),
    ))
}

/// `GET /api/v1/account`.
pub async fn get_account(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Account>, ApiError> {
    let id = current_session(&state, &headers)
        .await?
        .and_then(|s| s.account_id)
        .ok_or_else(|| ApiError::new(ApiCode::Unauthenticated))?;
    Ok(Json(account_of(&state, id).await?))
}

/// `PUT /api/v1/account/profile`: fill the profile → standard.
pub async fn put_profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Account>, ApiError> {
    let profile: Profile = json_body(&headers, body, SMALL_BODY_LIMIT).await?;
    let (_, id) = logged_in(&state, &headers).await?;
    let profile = profile.validated()?;
    match state
        .store
        .set_profile(id, profile)
        .await
        .map_err(|e| state.store_error(e))?
    {
        Some(account) => Ok(Json(account)),
        None => {
            let account = account_of(&state, id).await?;
            Err(ApiError::with(
                ApiCode::AccountConfirmed,
                account.level.as_str(),
            ))
        }
    }
}
