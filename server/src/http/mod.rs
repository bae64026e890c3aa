//! The HTTP service: routes, shared state, access logging and metrics, security headers,
//! graceful shutdown.

mod accounts;
mod confirmations;
mod ops;
mod portal;
pub mod request;

use crate::config::Config;
use crate::error::{ApiCode, ApiError};
use crate::limits::RateLimiter;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};
use crate::verifier::Verifier;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use std::sync::Arc;
use std::time::Instant;

/// Largest body of a confirmation or registration (an envelope with its chain).
pub const ENVELOPE_BODY_LIMIT: usize = 256 * 1024;
/// Largest body of any other request.
pub const SMALL_BODY_LIMIT: usize = 16 * 1024;

/// Rate limiters by action.
pub struct Limits {
    /// Login attempts per client address and per login.
    pub login: RateLimiter,
    /// Registrations per client address.
    pub registration: RateLimiter,
    /// Challenges per client address and per session.
    pub challenges: RateLimiter,
    /// New sessions per client address.
    pub sessions: RateLimiter,
}

/// Everything a handler needs.
pub struct App {
    /// Effective configuration.
    pub config: Config,
    /// The database.
    pub store: Store,
    /// Trust material and verification.
    pub verifier: Verifier,
    /// Counters.
    pub metrics: Metrics,
    /// Rate limits.
    pub limits: Limits,
    /// Hash checked when a login is unknown (same time as a known one).
    pub dummy_hash: String,
}

/// Shared state.
pub type AppState = Arc<App>;

impl App {
    /// Builds the state.
    pub fn new(config: Config, store: Store, verifier: Verifier) -> App {
        let r = config.rate_limits;
        let dummy_hash = crate::secrets::dummy_hash(config.password_cost);
        App {
            limits: Limits {
                login: RateLimiter::new(r.login_per_minute),
                registration: RateLimiter::new(r.registration_per_minute),
                challenges: RateLimiter::new(r.challenges_per_minute),
                sessions: RateLimiter::new(r.sessions_per_minute),
            },
            config,
            store,
            verifier,
            metrics: Metrics::default(),
            dummy_hash,
        }
    }

    /// The current time (the server is the clock authority for challenges).
    pub fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }

    /// Logs a storage failure and turns it into `unavailable`.
    pub fn store_error(&self, e: StoreError) -> ApiError {
        tracing::error!(error = %e, "storage failure");
        ApiError::new(ApiCode::Unavailable)
    }
}

/// The router with every route.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/api/v1/session",
            get(accounts::get_session)
                .post(accounts::login)
                .delete(accounts::logout),
        )
        .route("/api/v1/accounts", post(accounts::register))
        .route("/api/v1/account", get(accounts::get_account))
        .route("/api/v1/account/profile", put(accounts::put_profile))
        .route("/api/v1/challenges", post(confirmations::issue_challenge))
        .route("/api/v1/confirmations", post(confirmations::confirm))
        .route("/api/v1/registrations", post(confirmations::register))
        .fallback(api_not_found)
        .layer(axum::middleware::map_response(no_store));
    Router::new()
        .merge(api)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .merge(portal::routes())
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn api_not_found() -> ApiError {
    ApiError::new(ApiCode::NotFound)
}

async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Access log line and request counter per response; security headers on every response.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    state.metrics.request(&route, status);
    tracing::info!(
        target: "tokenconfirm::access",
        method = %method,
        route = %route,
        status,
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    let h = response.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

/// Serves until `shutdown` resolves; requests in flight then finish before it returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    /// Every API route is described in the OpenAPI document, and nothing more.
    #[test]
    fn openapi_describes_every_route() {
        let spec = include_str!("../../../docs/openapi.yaml");
        let described: Vec<&str> = spec
            .lines()
            .filter(|l| l.starts_with("  /") && l.ends_with(':'))
            .map(|l| l.trim().trim_end_matches(':'))
            .collect();
        let routes = [
            "/api/v1/session",
            "/api/v1/accounts",
            "/api/v1/account",
            "/api/v1/account/profile",
            "/api/v1/challenges",
            "/api/v1/confirmations",
            "/api/v1/registrations",
            "/healthz",
            "/readyz",
            "/metrics",
        ];
        let mut sorted_routes = routes.to_vec();
        sorted_routes.sort();
        let mut sorted_described = described.clone();
        sorted_described.sort();
        assert_eq!(sorted_routes, sorted_described);
        for code in crate::error::ApiCode::ALL {
            assert!(
                spec.contains(code.as_str()),
                "{} missing from openapi.yaml",
                code.as_str()
            );
        }
    }
}
