//! `POST /oauth2/revoke` (RFC 7009): ends the sign-in session of a refresh token, and with it
//! every access token issued in that session.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::client_auth::authenticate;
use super::error::{no_store, OAuthError};
use super::form::Form;
use crate::AppState;

pub(crate) async fn revoke(
    State(state): State<AppState>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match revoke_token(&state, &pool_id, &headers, &body).await {
        Ok(()) => {
            let mut response = StatusCode::OK.into_response();
            no_store(&mut response);
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn revoke_token(
    state: &AppState,
    pool_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), OAuthError> {
    let form = Form::parse(headers, body)?;
    let caller = authenticate(state, pool_id, headers, &form).await?;
    let token = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("The token parameter is missing."))?;
    if caller
        .client
        .settings
        .get("EnableTokenRevocation")
        .and_then(Value::as_bool)
        == Some(false)
    {
        return Err(OAuthError::invalid_request(
            "Token revocation is not enabled for this client.",
        ));
    }
    if token.split('.').count() == 3 {
        return Err(OAuthError::new_public(
            "unsupported_token_type",
            "Only refresh tokens can be revoked.",
        ));
    }
    tessera_idp::sign_in::revoke_session_of(state, &caller.client, token).await?;
    Ok(())
}
