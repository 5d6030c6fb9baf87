//! `POST /oauth2/token`: the grants Cognito's token endpoint serves: authorization_code
//! (with PKCE, single use, replay revoking what the code issued), refresh_token (with
//! rotation and reuse detection when the client rotates) and client_credentials
//! (machine-to-machine access tokens with custom scopes).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::{json, Value};
use tessera_core::rate_limit::Category;
use tessera_core::{issue_client_token, AppClient, ClientTokenRequest, KeyUse};
use tessera_idp::rate_limit::EndpointQuota;

use super::client_auth::authenticate;
use super::error::{no_store, OAuthError, JSON_UTF8};
use super::form::Form;
use crate::protocol::RequestId;
use crate::AppState;
use tessera_idp::directory::Directory;
use tessera_idp::pool::app_client::strings;
use tessera_idp::pool::keys::pool_keys;
use tessera_idp::sign_in::customization::{self, TokenEvent};
use tessera_idp::sign_in::{
    issue_tokens_for, refresh_tokens, Credential, Issue, Issued, NewRefresh,
};

/// A failure of the service behind a grant: a trigger's refusal is told to the client as
/// Cognito's hosted UI tells it (its message as the `error_description` of an
/// `invalid_request`); anything else is the server's own error.
fn grant_failure(error: tessera_idp::Error) -> OAuthError {
    if tessera_idp::trigger::is_failure(error.kind) {
        OAuthError::invalid_request(error.message)
    } else {
        OAuthError::server_error(&error.message)
    }
}

/// The `aws_client_metadata` parameter: a URL-encoded JSON object of strings, which Cognito
/// hands to the PreTokenGeneration trigger as `clientMetadata`.
fn client_metadata(form: &Form) -> Result<Option<serde_json::Map<String, Value>>, OAuthError> {
    let Some(text) = form.get("aws_client_metadata") else {
        return Ok(None);
    };
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) if map.values().all(Value::is_string) => Ok(Some(map)),
        _ => Err(OAuthError::invalid_request(
            "aws_client_metadata must be a JSON object of strings.",
        )),
    }
}

pub(crate) async fn token(
    State(state): State<AppState>,
    Path(pool_id): Path<String>,
    id: Option<Extension<RequestId>>,
    peer: Option<Extension<crate::connection::Peer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let event_id = id.map(|Extension(id)| id.0).unwrap_or_default();
    let source = peer.map(|Extension(peer)| peer.0.ip());
    let started = std::time::Instant::now();
    let answer = grant(&state, &pool_id, &headers, &body, &event_id, source).await;
    crate::telemetry::request(
        "oauth2",
        "token",
        match &answer {
            Ok(_) => "ok",
            Err(error) => error.error,
        },
        started,
    );
    match answer {
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
    event_id: &str,
    source: Option<std::net::IpAddr>,
) -> Result<Value, OAuthError> {
    let form = Form::parse(headers, body)?;
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("The grant_type parameter is missing."))?;
    // The client is authenticated before the grant is looked at, so that an unknown client
    // learns nothing about what the endpoint supports.
    let caller = authenticate(state, pool_id, headers, &form).await?;
    // Cognito's quotas (issue 16): client_credentials counts against ClientAuthentication;
    // redeeming an authorization code in an allocation of its own at UserAuthentication's
    // rate; a refresh against UserAuthentication. The user grants are also limited per
    // source address.
    let quota = match grant_type {
        "client_credentials" => EndpointQuota::of(Category::ClientAuthentication),
        "authorization_code" => EndpointQuota {
            own_allocation: true,
            ..EndpointQuota::credentials(Category::UserAuthentication)
        },
        _ => EndpointQuota::credentials(Category::UserAuthentication),
    };
    if !state
        .admit_endpoint(pool_id, quota, source, None)
        .await
        .map_err(|e| OAuthError::server_error(&e))?
    {
        return Err(OAuthError::too_many_requests());
    }
    match grant_type {
        "client_credentials" => client_credentials(state, pool_id, &caller.client, &form).await,
        "authorization_code" => {
            authorization_code(state, pool_id, &caller.client, &form, event_id).await
        }
        "refresh_token" => refresh_token(state, pool_id, &caller.client, &form, event_id).await,
        other => Err(OAuthError::unsupported_grant_type(format!(
            "The grant type {} is not supported.",
            tessera_core::excerpt(other)
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
                        "The scope {} is not allowed for this client.",
                        tessera_core::excerpt(scope)
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
    // A scope stays allowed on the client after its resource server is deleted or loses it;
    // only scopes that still exist are granted.
    let existing = tessera_idp::oauth_config::resource_server::existing_custom_scopes(
        state, pool_id, &granted,
    )
    .await
    .map_err(|e| OAuthError::server_error(&e.message))?;
    if existing.is_empty() {
        return Err(OAuthError::invalid_scope(
            "No custom scope is allowed for this client.",
        ));
    }
    let scope = existing.join(" ");
    let directory = Directory::load(state, pool_id)
        .await
        .map_err(|e| OAuthError::server_error(&e.message))?;
    let metadata = client_metadata(form)?;
    let customization = customization::for_client(
        state,
        &directory,
        &client.client_id,
        &scope,
        metadata.as_ref(),
    )
    .await
    .map_err(grant_failure)?;
    let keys = pool_keys(state, pool_id)
        .await
        .map_err(|e| OAuthError::server_error(&e.message))?;
    let validity = tessera_idp::sign_in::validity(
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
        customization: customization.as_ref(),
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

/// The token response of a user's tokens: the ID token only when `openid` was granted.
fn user_tokens(issued: Issued, scope: &str) -> Value {
    let mut out = json!({
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
        "token_type": "Bearer",
    });
    if scope.split(' ').any(|s| s == "openid") {
        out["id_token"] = json!(issued.id_token);
    }
    if let Some(refresh_token) = issued.refresh_token {
        out["refresh_token"] = json!(refresh_token);
    }
    out
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn verifier_syntax_ok(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether BASE64URL(SHA-256(verifier)) is the challenge, compared in constant time.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    use base64::Engine;
    use subtle::ConstantTimeEq;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    computed.len() == challenge.len() && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

async fn authorization_code(
    state: &AppState,
    pool_id: &str,
    client: &AppClient,
    form: &Form,
    event_id: &str,
) -> Result<Value, OAuthError> {
    if !flow_allowed(client, "code") {
        return Err(OAuthError::unauthorized_client(
            "The client is not allowed the authorization code grant.",
        ));
    }
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("The code parameter is missing."))?;
    let redirect_uri = form
        .get("redirect_uri")
        .ok_or_else(|| OAuthError::invalid_request("The redirect_uri parameter is missing."))?;
    let metadata = client_metadata(form)?;
    let code_hash = super::page::sha256_hex(code);
    let invalid = || OAuthError::invalid_grant("The authorization code is invalid or has expired.");
    let record = state
        .store
        .authorization_code(&code_hash)
        .await?
        .filter(|record| record.pool_id == pool_id)
        .ok_or_else(invalid)?;
    let now = state.clock.now();
    // Another client's code tells this client nothing, stays usable by its owner and, used,
    // revokes nothing: only the client it was issued to can have it replayed.
    if record.client_id != client.client_id {
        return Err(invalid());
    }
    if record.consumed_at.is_some() {
        // RFC 6749 §4.1.2: a code used twice was stolen or replayed; what it issued is
        // revoked, since the server cannot tell the client from the thief.
        if let Some(origin) = &record.origin_jti {
            tracing::warn!(
                client_id = %client.client_id,
                pool_id,
                "an authorization code was used twice; the tokens it issued are revoked"
            );
            state.store.revoke_origin(origin).await?;
        }
        return Err(OAuthError::invalid_grant(
            "The authorization code has already been used.",
        ));
    }
    // From here on a failed check burns the code: it may be tried once.
    let burn = |reason: &'static str| {
        let code_hash = code_hash.clone();
        async move {
            state.store.burn_authorization_code(&code_hash, now).await?;
            Err::<Value, OAuthError>(OAuthError::invalid_grant(reason))
        }
    };
    if now >= record.expires_at {
        return burn("The authorization code has expired.").await;
    }
    if redirect_uri != record.redirect_uri {
        return burn("The redirect_uri differs from the one of the authorization request.").await;
    }
    match (&record.code_challenge, form.get("code_verifier")) {
        (Some(challenge), Some(verifier)) => {
            if !verifier_syntax_ok(verifier) || !pkce_matches(verifier, challenge) {
                return burn("The code_verifier does not match the code_challenge.").await;
            }
        }
        (Some(_), None) => return burn("The code_verifier parameter is missing.").await,
        // A verifier for a code requested without a challenge is a downgrade attempt
        // (RFC 9700 §2.1.1).
        (None, Some(_)) => {
            return burn("A code_verifier was sent for a code requested without PKCE.").await
        }
        (None, None) => {}
    }
    let user = state
        .store
        .user(pool_id, &record.username_key)
        .await?
        .filter(|user| user.enabled);
    let Some(user) = user else {
        return burn("The user can no longer sign in.").await;
    };
    // The client may have lost a callback URL or scopes since the code was issued.
    if !strings(&client.settings, "CallbackURLs").contains(&redirect_uri) {
        return burn("The redirect_uri is no longer registered for this client.").await;
    }
    let scope = tessera_idp::oauth_config::resource_server::still_granted(
        state,
        client,
        pool_id,
        &record.scope,
    )
    .await
    .map_err(|e| OAuthError::server_error(&e.message))?;
    if scope.is_empty() {
        return burn("No scope of the authorization request is allowed any more.").await;
    }
    let origin_jti = state.random_uuid();
    let issue = Issue {
        auth_time: record.auth_time,
        origin_jti,
        refresh: NewRefresh::RedeemCode(code_hash.clone()),
        event_id,
        scope: Some(&scope),
        granted: Some(&scope),
        nonce: record.nonce.as_deref(),
        event: TokenEvent {
            source: "TokenGeneration_HostedAuth",
            client_metadata: metadata.as_ref(),
        },
        device_key: None,
    };
    let directory = Directory::load(state, pool_id)
        .await
        .map_err(|e| OAuthError::server_error(&e.message))?;
    let issued = match issue_tokens_for(
        state,
        client,
        &directory,
        &record.username_key,
        &user,
        issue,
    )
    .await
    {
        Ok(issued) => issued,
        Err(error) => {
            // The pool's PreTokenGeneration function refused (or failed): the code was tried
            // like any code that fails a check, and is spent.
            if tessera_idp::trigger::is_failure(error.kind) {
                state.store.burn_authorization_code(&code_hash, now).await?;
            }
            return Err(grant_failure(error));
        }
    };
    match issued {
        Some(issued) => Ok(user_tokens(issued, &scope)),
        None => {
            // Another request redeemed the code between the read and the write: a replay.
            if let Some(origin) = state
                .store
                .authorization_code(&code_hash)
                .await?
                .and_then(|r| r.origin_jti)
            {
                state.store.revoke_origin(&origin).await?;
            }
            Err(OAuthError::invalid_grant(
                "The authorization code has already been used.",
            ))
        }
    }
}

async fn refresh_token(
    state: &AppState,
    pool_id: &str,
    client: &AppClient,
    form: &Form,
    event_id: &str,
) -> Result<Value, OAuthError> {
    if !flow_allowed(client, "code") {
        return Err(OAuthError::unauthorized_client(
            "The client is not allowed to refresh tokens at this endpoint.",
        ));
    }
    let token = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("The refresh_token parameter is missing."))?;
    let directory = Directory::load(state, pool_id)
        .await
        .map_err(|e| OAuthError::server_error(&e.message))?;
    let issued = refresh_tokens(
        state,
        client,
        &directory,
        token,
        Credential::OAuth,
        event_id,
        form.get("scope"),
        client_metadata(form)?.as_ref(),
        // `device_key`, as Cognito's token endpoint takes it.
        form.get("device_key"),
    )
    .await
    .map_err(|error| match error.kind {
        tessera_idp::sign_in::INVALID_SCOPE => OAuthError::invalid_scope(error.message),
        _ if tessera_idp::trigger::is_failure(error.kind) => {
            OAuthError::invalid_request(error.message)
        }
        _ if error.is_internal() => OAuthError::server_error(&error.message),
        _ => OAuthError::invalid_grant(error.message),
    })?;
    let scope = issued.scope.clone();
    Ok(user_tokens(issued, &scope))
}
