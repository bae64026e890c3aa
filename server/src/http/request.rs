//! What every API handler needs from a request: the session from its cookie, the CSRF and
//! same-origin checks for state-changing requests, and a size-limited strict JSON body.

use super::AppState;
use crate::error::{ApiCode, ApiError};
use crate::model::SessionRecord;
use crate::secrets::{constant_time_eq, token_digest};
use axum::body::Body;
use axum::http::header::{HeaderMap, CONTENT_TYPE, COOKIE, ORIGIN};
use serde::de::DeserializeOwned;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "tc_session";
/// The CSRF header's name.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session token from the `Cookie` header, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The `Set-Cookie` value for a session token (`None` clears it).
pub fn session_cookie(token: Option<&str>, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match token {
        Some(t) => format!(
            "{COOKIE_NAME}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        ),
        None => format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// The unexpired session the cookie names.
pub async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SessionRecord>, ApiError> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    state
        .store
        .session(&token_digest(&token), state.now().unix_timestamp())
        .await
        .map_err(|e| state.store_error(e))
}

/// For a state-changing request: same-origin (`Origin` and `Sec-Fetch-Site` when present),
/// a session, and its CSRF token in `X-CSRF-Token`.
pub async fn checked_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<SessionRecord, ApiError> {
    if let Some(origin) = headers.get(ORIGIN) {
        if origin.as_bytes() != state.config.public_origin.as_str().as_bytes() {
            return Err(ApiError::with(ApiCode::CsrfFailed, "origin"));
        }
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return Err(ApiError::with(ApiCode::CsrfFailed, "sec-fetch-site"));
        }
    }
    let session = current_session(state, headers)
        .await?
        .ok_or_else(|| ApiError::with(ApiCode::CsrfFailed, "no session"))?;
    let given = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !constant_time_eq(given, &session.csrf) {
        return Err(ApiError::with(ApiCode::CsrfFailed, "token"));
    }
    Ok(session)
}

/// As [`checked_session`], and the session must be logged in; returns its account id.
pub async fn logged_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(SessionRecord, i64), ApiError> {
    let session = checked_session(state, headers).await?;
    match session.account_id {
        Some(id) => Ok((session, id)),
        None => Err(ApiError::new(ApiCode::Unauthenticated)),
    }
}

/// Reads a JSON body of at most `limit` bytes: `Content-Type: application/json` required,
/// unknown members refused by the target type. The body is read before anything is decided, so
/// a refused request leaves the connection reusable.
pub async fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::new(ApiCode::BodyTooLarge))?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(ApiCode::UnsupportedMediaType));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        // Only messages that name a field are passed on: others may quote a value (a password).
        let text = e.to_string();
        let reason = if text.starts_with("unknown field") || text.starts_with("missing field") {
            text
        } else {
            format!("malformed JSON at line {} column {}", e.line(), e.column())
        };
        ApiError::with(ApiCode::InvalidRequest, reason)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookie_parsing_and_attributes() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("a=1; tc_session=abc; b=2"));
        assert_eq!(session_token(&h).as_deref(), Some("abc"));
        let c = session_cookie(Some("abc"), 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.ends_with("Secure"));
        assert!(!session_cookie(Some("abc"), 60, false).contains("Secure"));
        assert!(session_cookie(None, 0, false).contains("Max-Age=0"));
    }
}
