//! Challenges, confirmations and registrations with an e-signature: the envelope is verified
//! (signature, chain, revocation, profile) at the server's time, its statement checked
//! against this portal, and the outcome settled and audited in one transaction.

use super::accounts::{hashed, rotate_session, with_cookie};
use super::request::{checked_session, json_body, logged_in};
use super::{AppState, ENVELOPE_BODY_LIMIT, SMALL_BODY_LIMIT};
use crate::confirm::{self, Submitter};
use crate::error::{ApiCode, ApiError};
use crate::model::{self, ChallengeRecord, SessionRecord};
use crate::secrets::random_token;
use crate::store::{Decide, NewAccount, Settle};
use crate::verifier::{self, summary};
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::time::Instant;
use tokenconfirm_verify::path::UnixTime;
use tokenconfirm_wire::challenge::{Challenge, Purpose, Timestamp};

/// The account reference a registration challenge shows.
const NEW_ACCOUNT: &str = "новая учётная запись / new account";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChallengeBody {
    purpose: Purpose,
}

/// `POST /api/v1/challenges`: a fresh challenge bound to this session (and its account).
pub async fn issue_challenge(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body: ChallengeBody = json_body(&headers, body, SMALL_BODY_LIMIT).await?;
    let session = checked_session(&state, &headers).await?;
    if !state.limits.challenges.allow(&format!("ip:{}", peer.ip()))
        || !state
            .limits
            .challenges
            .allow(&format!("session:{}", session.id))
    {
        return Err(ApiError::new(ApiCode::RateLimited));
    }
    let account = match (body.purpose, session.account_id) {
        (Purpose::AccountConfirmation, Some(id)) => state
            .store
            .account(id)
            .await
            .map_err(|e| state.store_error(e))?
            .map(|a| a.reference())
            .ok_or_else(|| ApiError::new(ApiCode::Unauthenticated))?,
        (Purpose::AccountConfirmation, None) => {
            return Err(ApiError::new(ApiCode::Unauthenticated))
        }
        (Purpose::AccountRegistration, None) => NEW_ACCOUNT.to_owned(),
        (Purpose::AccountRegistration, Some(_)) => {
            return Err(ApiError::new(ApiCode::AlreadyAuthenticated))
        }
    };
    let now = state.now();
    let issued = now.replace_nanosecond(0).unwrap_or(now);
    let expires = issued + state.config.challenge_ttl;
    let challenge = Challenge {
        version: 1,
        nonce: random_token(32).map_err(|_| ApiError::new(ApiCode::Internal))?,
        origin: state.config.public_origin.clone(),
        account,
        purpose: body.purpose,
        issued_at: Timestamp::from_datetime(issued),
        expires_at: Timestamp::from_datetime(expires),
    };
    let record = ChallengeRecord {
        nonce: challenge.nonce.clone(),
        session: session.id.clone(),
        account_id: session.account_id,
        challenge_json: serde_json::to_string(&challenge)
            .map_err(|_| ApiError::new(ApiCode::Internal))?,
        expires_at: expires.unix_timestamp(),
        consumed_at: None,
    };
    state
        .store
        .insert_challenge(record, body.purpose.as_str(), issued.unix_timestamp())
        .await
        .map_err(|e| state.store_error(e))?;
    Ok((StatusCode::CREATED, Json(challenge)).into_response())
}

/// A verified envelope whose statement passed the portal's checks.
struct Accepted {
    challenge: Challenge,
    identity: tokenconfirm_verify::identity::Identity,
    certificate: model::CertificateSummary,
    verification: String,
}

/// Decodes, verifies and checks an envelope. A refusal comes with its audit text.
fn accept(
    state: &AppState,
    envelope: &[u8],
    purpose: Purpose,
    now: time::OffsetDateTime,
) -> Result<Accepted, (ApiError, String)> {
    let started = Instant::now();
    let verified = state
        .verifier
        .verify(envelope, UnixTime::from_datetime(now));
    state.metrics.verification(started.elapsed());
    let verified = verified.map_err(|e| {
        let api = verifier::api_error(&e);
        let text = verifier::failure_json(&api, &e.detail);
        (api, text)
    })?;
    let verification = verifier::success_json(&verified);
    let Some(signer) = verified.path.chain.first() else {
        let e = ApiError::with(ApiCode::Internal, "empty path");
        return Err((e.clone(), verifier::failure_json(&e, "")));
    };
    let statement = confirm::check_statement(
        &verified.content,
        &signer.der,
        &state.config.public_origin,
        purpose,
    )
    .map_err(|e| (e.clone(), verifier::failure_json(&e, "")))?;
    Ok(Accepted {
        challenge: statement.challenge,
        identity: verified.identity,
        certificate: summary(signer),
        verification,
    })
}

fn decode_envelope(text: &str) -> Result<Vec<u8>, ApiError> {
    tokenconfirm_wire::b64::std_decode(text.trim())
        .or_else(|_| tokenconfirm_wire::b64::url_decode(text.trim()))
        .map_err(|_| ApiError::with(ApiCode::EnvelopeInvalid, "envelope: not base64"))
}

/// Settles a submission and counts its outcome.
async fn settle(
    state: &AppState,
    kind: &'static str,
    envelope: Vec<u8>,
    by: &Submitter,
    accepted: Result<(Accepted, Decide), (ApiError, String)>,
    now: i64,
) -> Result<model::Account, ApiError> {
    let settle = match accepted {
        Ok((a, decide)) => Settle {
            nonce: Some(a.challenge.nonce.clone()),
            account_hint: by.account,
            now,
            decide,
            envelope,
            verification: a.verification,
        },
        Err((e, verification)) => {
            let refusal = e.clone();
            Settle {
                nonce: None,
                account_hint: by.account,
                now,
                decide: Box::new(move |_, _| Err(refusal)),
                envelope,
                verification,
            }
        }
    };
    let outcome = state
        .store
        .settle(settle)
        .await
        .map_err(|e| state.store_error(e))?;
    let code = match &outcome {
        Ok(_) => "ok",
        Err(e) => e.code.as_str(),
    };
    state.metrics.submission(kind, code);
    tracing::info!(target: "tokenconfirm::audit", event = kind, outcome = code, account = ?by.account, "submission settled");
    outcome
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    envelope: String,
}

/// `POST /api/v1/confirmations`: a standard account becomes confirmed.
pub async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body: ConfirmBody = json_body(&headers, body, ENVELOPE_BODY_LIMIT).await?;
    let (session, account) = logged_in(&state, &headers).await?;
    let envelope = decode_envelope(&body.envelope)?;
    let now = state.now();
    let by = Submitter {
        session: session.id,
        account: Some(account),
    };
    let accepted = accept(&state, &envelope, Purpose::AccountConfirmation, now).map(|a| {
        let decide = confirm::decide_confirmation(
            a.challenge.clone(),
            by.clone(),
            a.identity.clone(),
            a.certificate.clone(),
            now.unix_timestamp(),
        );
        (a, decide)
    });
    let account = settle(
        &state,
        "confirmation",
        envelope,
        &by,
        accepted,
        now.unix_timestamp(),
    )
    .await?;
    Ok(Json(json!({"level": account.level, "account": account})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrationBody {
    envelope: String,
    login: String,
    password: SecretString,
}

/// `POST /api/v1/registrations`: a confirmed account created from the certificate.
pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body: RegistrationBody = json_body(&headers, body, ENVELOPE_BODY_LIMIT).await?;
    let session: SessionRecord = checked_session(&state, &headers).await?;
    if session.account_id.is_some() {
        return Err(ApiError::new(ApiCode::AlreadyAuthenticated));
    }
    let login = model::normalize_login(&body.login)?;
    if !state.limits.registration.allow(&peer.ip().to_string()) {
        return Err(ApiError::new(ApiCode::RateLimited));
    }
    let envelope = decode_envelope(&body.envelope)?;
    let now = state.now();
    let by = Submitter {
        session: session.id.clone(),
        account: None,
    };
    let accepted = accept(&state, &envelope, Purpose::AccountRegistration, now);
    let accepted = match accepted {
        Ok(a) => {
            let password_hash = hashed(&state, body.password).await?;
            match confirm::profile_from(&a.identity) {
                Ok(profile) => {
                    let name =
                        a.identity.common_name.clone().unwrap_or_else(|| {
                            format!("{} {}", profile.surname, profile.first_name)
                        });
                    let decide = confirm::decide_registration(
                        a.challenge.clone(),
                        by.clone(),
                        NewAccount {
                            login,
                            name,
                            password_hash,
                        },
                        profile,
                        a.certificate.clone(),
                        now.unix_timestamp(),
                    );
                    Ok((a, decide))
                }
                Err(e) => {
                    let text = verifier::failure_json(&e, "");
                    Err((e, text))
                }
            }
        }
        Err(e) => Err(e),
    };
    let account = settle(
        &state,
        "registration",
        envelope,
        &by,
        accepted,
        now.unix_timestamp(),
    )
    .await?;
    let (new, cookie) = rotate_session(&state, &session, account.id).await?;
    Ok(with_cookie(
        StatusCode::CREATED,
        cookie,
        json!({"account": account, "csrfToken": new.csrf}),
    ))
}
