//! tessera as an OAuth 2.0 authorization server: the endpoints Cognito serves under a pool's
//! domain, here under `<public url>/<pool id>/oauth2/…` (the path form, always on).
//!
//! Errors here speak RFC 6749, not the AWS JSON protocol: `{"error", "error_description"}`
//! with the status the RFC gives, translated once in `error.rs`.

mod client_auth;
mod error;
mod form;
mod token;

use axum::routing::post;
use axum::Router;

use crate::AppState;

/// The OAuth routes, to be nested into the application router.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/{pool_id}/oauth2/token", post(token::token))
}
