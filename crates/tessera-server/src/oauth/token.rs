//! `POST /oauth2/token`: the grants Cognito's token endpoint serves. This slice serves
//! client_credentials (machine-to-machine access tokens with custom scopes); the
//! authorization_code and refresh_token grants arrive with the authorization endpoint.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tessera_core::{issue_client_token, AppClient, ClientTokenRequest, KeyUse};

use super::client_auth::authenticate;
use super::error::{no_store, OAuthError, JSON_UTF8};
use super::form::Form;
use crate::app_client::strings;
use crate::pool_keys::pool_keys;
use crate::AppState;

pub(crate) async fn token(
    State(state): State<AppState>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match grant(&state, &pool_id, &headers, &body).await {
        Ok(document) => {
            let mut response = (StatusCode::OK, document.to_string()).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
            no_store(&mut response);
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn grant(
    state: &AppState,
    pool_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, OAuthError> {
    let form = Form::parse(headers, body)?;
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("The grant_type parameter is missing."))?;
    // The client is authenticated before the grant is looked at, so that an unknown client
    // learns nothing about what the endpoint supports.
    let caller = authenticate(state, pool_id, headers, &form).await?;
    match grant_type {
        "client_credentials" => client_credentials(state, pool_id, &caller.client, &form).await,
        other => Err(OAuthError::unsupported_grant_type(format!(
            "The grant type {other} is not supported."
        ))),
    }
}

/// Whether the client may use an OAuth flow: Cognito's `AllowedOAuthFlowsUserPoolClient`
/// switch and the flow in `AllowedOAuthFlows`.
pub(crate) fn flow_allowed(client: &AppClient, flow: &str) -> bool {
    client
        .settings
        .get("AllowedOAuthFlowsUserPoolClient")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        && strings(&client.settings, "AllowedOAuthFlows").contains(&flow)
}

async fn client_credentials(
    state: &AppState,
    pool_id: &str,
    client: &AppClient,
    form: &Form,
) -> Result<Value, OAuthError> {
    if client.secret.is_none() || !flow_allowed(client, "client_credentials") {
        return Err(OAuthError::unauthorized_client(
            "The client is not allowed the client_credentials grant.",
        ));
    }
    // Only custom scopes (`<resource server>/<scope>`) are granted to a machine; the user
    // scopes (openid, email, aws.cognito.signin.user.admin, …) have no user to speak for.
    let allowed: Vec<&str> = strings(&client.settings, "AllowedOAuthScopes")
        .into_iter()
        .filter(|scope| scope.contains('/'))
        .collect();
    let granted: Vec<&str> = match form.get("scope") {
        Some(requested) => {
            let mut granted: Vec<&str> = Vec::new();
            for scope in requested.split(' ').filter(|s| !s.is_empty()) {
                if !allowed.contains(&scope) {
                    return Err(OAuthError::invalid_scope(format!(
                        "The scope {scope} is not allowed for this client."
                    )));
                }
                if !granted.contains(&scope) {
                    granted.push(scope);
                }
            }
            granted
        }
        None => allowed,
    };
    let mut existing = Vec::with_capacity(granted.len());
    for scope in granted {
        // A scope stays allowed on the client after its resource server is deleted or
        // loses it; only scopes that still exist are granted.
        let missing = crate::resource_server::unknown_custom_scope(state, pool_id, vec![scope])
            .await
            .map_err(|e| OAuthError::server_error(&e.message))?;
        if missing.is_none() {
            existing.push(scope);
        }
    }
    if existing.is_empty() {
        return Err(OAuthError::invalid_scope(
            "No custom scope is allowed for this client.",
        ));
    }
    let scope = existing.join(" ");
    let keys = pool_keys(state, pool_id)
        .await
        .map_err(|e| OAuthError::server_error(&e.message))?;
    let validity = crate::auth::validity(
        client,
        "AccessTokenValidity",
        "AccessToken",
        std::time::Duration::from_secs(3600),
    );
    let issuer = state.issuer(pool_id);
    let request = ClientTokenRequest {
        issuer: &issuer,
        client_id: &client.client_id,
        scope: &scope,
        now: state.clock.now(),
        validity,
    };
    let signer = keys
        .signer(KeyUse::Access)
        .map_err(|e| OAuthError::server_error(&e.message))?;
    let access_token = issue_client_token(&request, signer, state.random.as_ref())?;
    Ok(json!({
        "access_token": access_token,
        "expires_in": validity.as_secs(),
        "token_type": "Bearer",
    }))
}
