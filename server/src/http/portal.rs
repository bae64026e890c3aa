//! The demo portal: its static files and the extension's page library
//! (`extension/page/tokenconfirm.js`), embedded in the binary and served with a strict
//! Content-Security-Policy.

use super::AppState;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

fn file(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// `/`, `/portal.js`, `/portal.css`, `/page/tokenconfirm.js`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            get(|| async {
                file(
                    "text/html; charset=utf-8",
                    include_str!("../../portal/index.html"),
                )
            }),
        )
        .route(
            "/portal.js",
            get(|| async {
                file(
                    "text/javascript; charset=utf-8",
                    include_str!("../../portal/portal.js"),
                )
            }),
        )
        .route(
            "/page/tokenconfirm.js",
            get(|| async {
                file(
                    "text/javascript; charset=utf-8",
                    include_str!("../../../extension/page/tokenconfirm.js"),
                )
            }),
        )
        .route(
            "/portal.css",
            get(|| async {
                file(
                    "text/css; charset=utf-8",
                    include_str!("../../portal/portal.css"),
                )
            }),
        )
}
