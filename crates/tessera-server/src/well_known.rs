//! The per-pool documents OIDC and JWT libraries fetch (JWKS and discovery), and health.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::{ApiError, AppState};

/// How long clients may cache the well-known documents. Short enough that a rotated key is
/// picked up quickly, long enough that verifiers do not refetch on every request.
const CACHE_CONTROL: &str = "public, max-age=300";

fn json_document(value: Value) -> Response {
    let mut response = (StatusCode::OK, value.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    response
}

/// A JSON document already serialised (a cached JWKS), with the same headers as
/// [`json_document`].
fn serialised_document(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    response
}

fn missing(message: String) -> Response {
    let mut response = (
        StatusCode::NOT_FOUND,
        json!({ "message": message }).to_string(),
    )
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `GET /health`.
pub(crate) async fn health() -> Response {
    json_document(json!({ "status": "ok" }))
}

/// Any path no route serves.
pub(crate) async fn not_found() -> Response {
    missing("Not found.".into())
}

/// `GET /{poolId}/.well-known/jwks.json`.
pub(crate) async fn jwks(State(state): State<AppState>, Path(pool_id): Path<String>) -> Response {
    // Served from the per-pool key cache: after the first request for a pool, no database
    // round trip and no serialisation.
    match tessera_idp::pool::keys::pool_keys(&state, &pool_id).await {
        Ok(keys) if !keys.all.is_empty() => serialised_document(keys.jwks.clone()),
        Ok(_) => match state.store.public_jwks(&pool_id).await {
            Ok(Some(keys)) => json_document(json!({ "keys": keys })),
            Ok(None) => missing(format!(
                "User pool {} does not exist.",
                tessera_core::excerpt(&pool_id)
            )),
            Err(error) => ApiError::from(error).into_response(),
        },
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// `GET /{poolId}/.well-known/openid-configuration`.
pub(crate) async fn openid_configuration(
    State(state): State<AppState>,
    Path(pool_id): Path<String>,
) -> Response {
    match state.store.user_pool(&pool_id).await {
        Ok(Some(_)) => {
            let issuer = state.issuer(&pool_id);
            // Members in alphabetical order, as Cognito publishes them.
            json_document(json!({
                "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
                // RFC 9207: every authorization response names its issuer, and openid-client
                // then requires it.
                "authorization_response_iss_parameter_supported": true,
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "email", "email_verified", "phone_number", "phone_number_verified", "cognito:username", "cognito:groups"],
                "code_challenge_methods_supported": ["S256"],
                "end_session_endpoint": format!("{issuer}/logout"),
                "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "issuer": issuer,
                "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
                "response_modes_supported": ["query"],
                "response_types_supported": ["code"],
                "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
                "scopes_supported": ["openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"],
                "subject_types_supported": ["public"],
                "token_endpoint": format!("{issuer}/oauth2/token"),
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
                "userinfo_endpoint": format!("{issuer}/oauth2/userInfo"),
            }))
        }
        Ok(None) => missing(format!(
            "User pool {} does not exist.",
            tessera_core::excerpt(&pool_id)
        )),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// `GET /identity/.well-known/jwks_uri` (Cognito's path for its identity issuer) and
/// `…/jwks.json`: the keys of tessera's identity issuer.
pub(crate) async fn identity_jwks(State(state): State<AppState>) -> Response {
    match tessera_identity::issuer::keys(&state.identity).await {
        Ok(keys) => serialised_document(keys.jwks.clone()),
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// `GET /identity/.well-known/openid-configuration`: the identity issuer's discovery
/// document, which an external STS (an IAM OIDC provider, MinIO) reads to trust it.
pub(crate) async fn identity_openid_configuration(State(state): State<AppState>) -> Response {
    json_document(tessera_identity::issuer::discovery(&state.identity))
}
