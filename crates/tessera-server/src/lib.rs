//! The HTTP edge of tessera: the Cognito Identity Provider JSON API (AWS JSON 1.1 at
//! `POST /`), the per-pool well-known documents, health, and the translation of every
//! failure into the error shape a client expects.
//!
//! Architecture invariants: this is the only crate that knows HTTP; it never sends internal
//! error detail to a client; and the router is a plain function of its state ([`app`]), so
//! tests drive it without a socket.

pub mod connection;
mod error;
mod import_upload;
mod key_rotation;
mod master_key;
mod oauth;
mod outbox;
mod protocol;
mod signature;
mod state;
mod sts;
pub mod telemetry;
pub mod test_mode;
mod ui_asset;
mod well_known;

use std::time::Duration;

use axum::http::{HeaderName, Method};
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceBuilder;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use state::{AppState, SystemClock};
pub use tessera_idp::ServiceConfig;

/// Builds the whole HTTP application for `state`.
pub fn app(state: AppState) -> Router {
    let test_mode = state.test_mode.is_some();
    // Browsers (amazon-cognito-identity-js, Amplify) call the API cross-origin with custom
    // headers, so preflights must succeed and the error headers must be readable; the list
    // of exposed headers is the one Cognito sends.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([Method::POST, Method::GET, Method::OPTIONS])
        .allow_headers(AllowHeaders::mirror_request())
        .expose_headers([
            HeaderName::from_static("x-amzn-requestid"),
            HeaderName::from_static("x-amzn-errortype"),
            HeaderName::from_static("x-amzn-errormessage"),
            HeaderName::from_static("date"),
        ])
        .max_age(Duration::from_secs(3600));

    let routes = Router::new()
        .route("/", post(protocol::cognito_api).get(protocol::not_post))
        .route("/health", get(well_known::health))
        .route("/metrics", get(telemetry::scrape))
        .route("/admin/test/clock", post(test_mode::clock))
        .route("/admin/test/codes", get(test_mode::codes))
        .route("/admin/outbox", get(outbox::read))
        .route(
            "/admin/pools/{pool_id}/signing-keys/rotate",
            post(key_rotation::rotate),
        )
        .route("/admin/master-key/reseal", post(master_key::reseal))
        .route(
            "/user-import-uploads/{job_id}",
            axum::routing::put(import_upload::upload),
        )
        .route("/{pool_id}/.well-known/jwks.json", get(well_known::jwks))
        .route(
            "/{pool_id}/.well-known/openid-configuration",
            get(well_known::openid_configuration),
        )
        .route("/{pool_id}/ui/{client_id}/{asset}", get(ui_asset::asset))
        .route("/credentials/check", post(sts::check))
        .route(
            "/identity/.well-known/jwks_uri",
            get(well_known::identity_jwks),
        )
        .route(
            "/identity/.well-known/jwks.json",
            get(well_known::identity_jwks),
        )
        .route(
            "/identity/.well-known/openid-configuration",
            get(well_known::identity_openid_configuration),
        )
        .merge(oauth::routes(state.clone()))
        .fallback(well_known::not_found)
        .with_state(state.clone());
    // A pool's domain is matched on the Host header and its requests rewritten to the path
    // form before routing, so this runs around the router rather than inside it.
    let by_host = ServiceBuilder::new()
        .layer(axum::middleware::from_fn_with_state(
            state,
            oauth::host::route_by_host,
        ))
        .service(routes);
    let app = Router::new().fallback_service(by_host).layer(
        // Read top to bottom: the request id is assigned first so that every later
        // layer's response, including CORS preflights and timeouts, carries it.
        ServiceBuilder::new()
            .layer(axum::middleware::from_fn(protocol::request_id))
            .layer(TraceLayer::new_for_http())
            .layer(cors)
            // A slow or stalled client cannot hold a connection open forever.
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                Duration::from_secs(30),
            )),
    );
    // In test mode every answer says so, whichever layer produced it: outermost.
    if test_mode {
        app.layer(axum::middleware::from_fn(test_mode::announce))
    } else {
        app
    }
}

#[cfg(test)]
mod tests;
