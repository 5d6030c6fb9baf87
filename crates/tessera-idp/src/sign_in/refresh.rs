//! Refresh and revocation: REFRESH_TOKEN_AUTH, GetTokensFromRefreshToken (and the OAuth
//! refresh_token grant), RevokeToken, GlobalSignOut and AdminUserGlobalSignOut.

use serde_json::{json, Map, Value};
use tessera_core::{AppClient, ADMIN_SCOPE};

use super::customization::TokenEvent;
use super::tokens::{api_result, issue_tokens_for, sha256_hex, Issue, Issued, NewRefresh};
use super::{client_of, flow_enabled, refused};
use crate::directory::{check_secret_hash, Directory};
use crate::input::Input;
use crate::{Error, Service};

/// How a refresh request proves the client: SECRET_HASH (InitiateAuth), the client secret
/// itself (GetTokensFromRefreshToken), or already at the OAuth token endpoint.
pub enum Credential<'a> {
    SecretHash(Option<&'a str>),
    ClientSecret(Option<&'a str>),
    /// The OAuth token endpoint authenticated the client; a rotated token used again there
    /// ends its whole sign-in session (RFC 9700 §4.14.2 reuse detection).
    OAuth,
}

fn rotation_enabled(client: &AppClient) -> bool {
    client
        .settings
        .get("RefreshTokenRotation")
        .and_then(|r| r.get("Feature"))
        .and_then(Value::as_str)
        == Some("ENABLED")
}

/// True when the client has a secret and `given` is it, compared in constant time.
pub fn secret_matches(client: &AppClient, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    client.secret.as_ref().is_some_and(|secret| {
        secret.len() == given.len() && bool::from(secret.as_bytes().ct_eq(given.as_bytes()))
    })
}

fn check_client_secret(client: &AppClient, given: Option<&str>) -> Result<(), Error> {
    match (&client.secret, given) {
        (None, None) => Ok(()),
        (Some(_), Some(given)) if secret_matches(client, given) => Ok(()),
        _ => Err(refused(format!(
            "Unable to verify secret hash for client {}",
            client.client_id
        ))),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn refresh(
    state: &Service,
    client: &AppClient,
    directory: &Directory,
    token: &str,
    credential: Credential<'_>,
    event_id: &str,
    client_metadata: Option<&Map<String, Value>>,
    device_key: Option<&str>,
) -> Result<Value, Error> {
    let issued = refresh_tokens(
        state,
        client,
        directory,
        token,
        credential,
        event_id,
        None,
        client_metadata,
        device_key,
    )
    .await?;
    Ok(api_result(issued))
}

/// A refresh: new ID and access tokens for the session of a refresh token (and a new refresh
/// token when the client rotates them). `narrow` is an OAuth `scope` parameter, which may
/// only ask for a subset of the scopes the session was granted. `client_metadata` goes to
/// the PreTokenGeneration trigger. `device_key` is the device the client refreshes from
/// (`DEVICE_KEY`, `DeviceKey`): a refresh token issued to a device is refused from another
/// device or without one, as Cognito refuses a device's token "used on any other device".
#[allow(clippy::too_many_arguments)]
pub async fn refresh_tokens(
    state: &Service,
    client: &AppClient,
    directory: &Directory,
    token: &str,
    credential: Credential<'_>,
    event_id: &str,
    narrow: Option<&str>,
    client_metadata: Option<&Map<String, Value>>,
    device_key: Option<&str>,
) -> Result<Issued, Error> {
    let pool_id = directory.pool.id.as_str();
    let invalid = || refused("Invalid Refresh Token");
    let hash = sha256_hex(token);
    let record = state
        .store
        .refresh_token(&hash)
        .await?
        .ok_or_else(invalid)?;
    if record.client_id != client.client_id || record.pool_id != pool_id {
        return Err(invalid());
    }
    // A device's refresh token works only from that device, once it is confirmed: the
    // request must name it (Cognito refuses a device's token "used on any other device", and
    // the token of a device never confirmed with ConfirmDevice).
    if let Some(bound) = record.device_key.as_deref() {
        if device_key != Some(bound)
            || super::device::find(state, directory, &record.username_key, bound)
                .await?
                .is_none()
        {
            return Err(invalid());
        }
    }
    let user = state
        .store
        .user(&record.pool_id, &record.username_key)
        .await?
        .ok_or_else(invalid)?;
    let oauth = matches!(credential, Credential::OAuth);
    match credential {
        Credential::SecretHash(given) => {
            // There is no USERNAME in a refresh; the hash is over the internal username.
            check_secret_hash(client, Some(&user.username), given).map_err(|e| {
                if e.kind == "NotAuthorizedException" && given.is_some() {
                    refused(format!(
                        "SecretHash does not match for the client: {}",
                        client.client_id
                    ))
                } else {
                    e
                }
            })?;
        }
        Credential::ClientSecret(given) => check_client_secret(client, given)?,
        Credential::OAuth => {}
    }
    if record.revoked {
        return Err(refused("Refresh Token has been revoked"));
    }
    if record.rotated {
        // A refresh token replaced by rotation was used again. The API answers as Cognito
        // does; the OAuth endpoint also ends the session, since either the client or a thief
        // holds the newer token and the server cannot tell which (RFC 9700 §4.14.2).
        if oauth {
            tracing::warn!(
                client_id = %client.client_id,
                pool_id,
                "a rotated refresh token was used again; its sign-in session is revoked"
            );
            state.store.revoke_origin(&record.origin_jti).await?;
        }
        return Err(Error::new(
            "RefreshTokenReuseException",
            "Refresh Token has been revoked",
        ));
    }
    if state.clock.now() > record.expires_at {
        return Err(refused("Refresh Token has expired"));
    }
    if !user.enabled {
        return Err(Error::user_disabled());
    }
    // Scopes granted at the OAuth endpoints hold only while the client is still allowed
    // them and their resource server still has them.
    let session_scope = match &record.scope {
        Some(scope) => Some(
            crate::oauth_config::resource_server::still_granted(state, client, pool_id, scope)
                .await?,
        ),
        None => None,
    };
    let granted = session_scope.as_deref().unwrap_or(ADMIN_SCOPE);
    let scope = match narrow {
        Some(requested) => {
            let mut kept: Vec<&str> = Vec::new();
            for scope in requested.split(' ').filter(|s| !s.is_empty()) {
                if !granted.split(' ').any(|g| g == scope) {
                    return Err(Error::new(
                        INVALID_SCOPE,
                        format!(
                            "The scope {} was not granted to this refresh token.",
                            tessera_core::excerpt(scope)
                        ),
                    ));
                }
                if !kept.contains(&scope) {
                    kept.push(scope);
                }
            }
            Some(kept.join(" "))
        }
        None => session_scope.clone(),
    };
    let refresh = if rotation_enabled(client) {
        NewRefresh::Rotate {
            replaces: hash,
            expires_at: record.expires_at,
        }
    } else {
        NewRefresh::None
    };
    let issue = Issue {
        auth_time: record.auth_time,
        origin_jti: record.origin_jti.clone(),
        refresh,
        event_id,
        scope: scope.as_deref(),
        granted: record.scope.as_deref(),
        nonce: None,
        event: TokenEvent {
            source: "TokenGeneration_RefreshTokens",
            client_metadata,
        },
        device_key: record.device_key.as_deref(),
    };
    match issue_tokens_for(state, client, directory, &record.username_key, &user, issue).await? {
        Some(issued) => Ok(issued),
        None => {
            // Another refresh rotated (or a revocation ended) this token between the read
            // and the write: a reuse like any other.
            if oauth {
                state.store.revoke_origin(&record.origin_jti).await?;
            }
            Err(Error::new(
                "RefreshTokenReuseException",
                "Refresh Token has been revoked",
            ))
        }
    }
}

/// The error kind of a refresh asking for scopes it was not granted (only the OAuth
/// endpoint sends `scope`; it answers `invalid_scope`).
pub const INVALID_SCOPE: &str = "InvalidScope";

pub async fn get_tokens_from_refresh_token(state: &Service, input: Input) -> Result<Value, Error> {
    let (client, directory) = client_of(state, &input, false).await?;
    if !flow_enabled(&client, "ALLOW_REFRESH_TOKEN_AUTH", None) {
        return Err(Error::invalid_parameter(
            "Auth flow not enabled for this client",
        ));
    }
    let token = input.required_str("RefreshToken")?;
    let result = refresh(
        state,
        &client,
        &directory,
        token,
        Credential::ClientSecret(input.str("ClientSecret")),
        input.request_id(),
        input.get("ClientMetadata").and_then(Value::as_object),
        input.str("DeviceKey"),
    )
    .await?;
    Ok(json!({ "AuthenticationResult": result["AuthenticationResult"] }))
}

pub async fn revoke_token(state: &Service, input: Input) -> Result<Value, Error> {
    let client_id = input.required_str("ClientId")?;
    let client = state
        .store
        .app_client(client_id)
        .await?
        .ok_or_else(|| Error::client_not_found(client_id))?;
    let secret_ok = match (&client.secret, input.str("ClientSecret")) {
        (None, _) => true,
        (Some(_), given) => given.is_some_and(|given| secret_matches(&client, given)),
    };
    if !secret_ok {
        return Err(Error::new(
            "UnauthorizedException",
            "Invalid client secret.",
        ));
    }
    if client
        .settings
        .get("EnableTokenRevocation")
        .and_then(Value::as_bool)
        == Some(false)
    {
        return Err(Error::new(
            "UnsupportedOperationException",
            "Token revocation is not enabled for this client.",
        ));
    }
    let token = input.required_str("Token")?;
    if token.split('.').count() == 3 {
        return Err(Error::new(
            "UnsupportedTokenTypeException",
            "Only refresh tokens can be revoked.",
        ));
    }
    revoke_session_of(state, &client, token).await?;
    Ok(json!({}))
}

/// Revokes the refresh token `token` of `client`, and with it its whole sign-in session
/// (RevokeToken and `/oauth2/revoke`). Unknown tokens and other clients' tokens are answered
/// like revoked ones: the answer tells nothing about which tokens exist (RFC 7009 §2.2).
pub async fn revoke_session_of(
    state: &Service,
    client: &AppClient,
    token: &str,
) -> Result<(), tessera_store::StoreError> {
    if let Some(record) = state.store.refresh_token(&sha256_hex(token)).await? {
        if record.client_id == client.client_id {
            state.store.revoke_refresh_token(&record.token_hash).await?;
        }
    }
    Ok(())
}

pub async fn global_sign_out(state: &Service, input: Input) -> Result<Value, Error> {
    let authorized = crate::sign_in::access_token::authorize(state, &input).await?;
    state
        .store
        .revoke_user_tokens(&authorized.directory.pool.id, &authorized.key)
        .await?;
    Ok(json!({}))
}

pub async fn admin_user_global_sign_out(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let (key, _) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    state
        .store
        .revoke_user_tokens(&directory.pool.id, &key)
        .await?;
    Ok(json!({}))
}
