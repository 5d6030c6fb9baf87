//! tessera as an OAuth 2.0 authorization server and OpenID provider: the endpoints and hosted
//! pages Cognito serves on a pool's domain, here under `<public url>/<pool id>/…` (the path
//! form, always on) and on the pool's domain (`host.rs` rewrites those requests to the path
//! form). The contract the pages keep is `docs/design/hosted-pages.md`.
//!
//! Errors here speak RFC 6749, not the AWS JSON protocol: `{"error", "error_description"}`
//! with the status the RFC gives (`error.rs`), a redirect to the client's callback, or an
//! error page when the callback cannot be trusted (`authorize.rs`).

pub(crate) mod authorize;
pub(crate) mod client_auth;
mod domain_limit;
pub(crate) mod error;
pub(crate) mod form;
pub(crate) mod host;
pub(crate) mod hosted;
pub(crate) mod page;
mod revoke;
mod token;
mod userinfo;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// The OAuth routes and hosted pages, to be merged into the application router; every
/// request they answer counts against the pool domain's bulk limits first.
pub(crate) fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/{pool_id}/oauth2/authorize", get(hosted::authorize))
        .route("/{pool_id}/oauth2/token", post(token::token))
        .route(
            "/{pool_id}/oauth2/userInfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/{pool_id}/oauth2/revoke", post(revoke::revoke))
        .route(
            "/{pool_id}/login",
            get(hosted::login).post(hosted::login_submit),
        )
        .route(
            "/{pool_id}/oauth2/idpresponse",
            get(hosted::idp_response).post(hosted::idp_response_post),
        )
        .route("/{pool_id}/federate", post(hosted::federate))
        .route("/{pool_id}/saml2/idpresponse", post(hosted::saml_response))
        .route("/{pool_id}/saml2/logout", post(hosted::saml_logout))
        .route("/{pool_id}/saml2/metadata", get(hosted::saml_metadata))
        .route("/{pool_id}/logout", get(hosted::logout))
        .route(
            "/{pool_id}/signup",
            get(hosted::signup).post(hosted::signup_submit),
        )
        .route(
            "/{pool_id}/confirm",
            get(hosted::confirm).post(hosted::confirm_submit),
        )
        .route("/{pool_id}/resendcode", post(hosted::resend_submit))
        .route(
            "/{pool_id}/forgotPassword",
            get(hosted::forgot).post(hosted::forgot_submit),
        )
        .route(
            "/{pool_id}/confirmForgotPassword",
            get(hosted::confirm_forgot).post(hosted::confirm_forgot_submit),
        )
        .route("/{pool_id}/newPassword", post(hosted::new_password_submit))
        .route("/{pool_id}/mfa", post(hosted::mfa_submit))
        .route(
            "/{pool_id}/passkeys/add",
            get(hosted::passkey_add).post(hosted::passkey_add_submit),
        )
        .route("/{pool_id}/error", get(hosted::error))
        .route("/{pool_id}/ui/tessera.css", get(hosted::stylesheet))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            domain_limit::limit,
        ))
}
