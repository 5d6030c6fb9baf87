//! How the token-authorised operations (GetUser, ChangePassword, …) check the
//! `AccessToken` member, in Cognito's order: signature and `token_use`, expiry, revocation,
//! scope, then the user.

use serde_json::{Map, Value};
use tessera_core::{verify_jwt, KeyUse, TokenError, User, ADMIN_SCOPE};

use crate::directory::{user_not_found, Directory};
use crate::input::Input;
use crate::pool_keys::pool_keys;
use crate::{ApiError, AppState};

/// A verified access token with its pool and user.
pub(crate) struct Authorized {
    pub(crate) directory: Directory,
    pub(crate) key: String,
    pub(crate) user: User,
    pub(crate) claims: Map<String, Value>,
}

fn refused(message: &str) -> ApiError {
    ApiError::new("NotAuthorizedException", message)
}

pub(crate) async fn authorize(state: &AppState, input: &Input) -> Result<Authorized, ApiError> {
    let token = input.required_str("AccessToken")?;
    authorize_token(state, token, true).await
}

/// Verifies an access token; `require_admin_scope` is false only where Cognito accepts any
/// access token of the user (none today, kept for the OAuth endpoints).
pub(crate) async fn authorize_token(
    state: &AppState,
    token: &str,
    require_admin_scope: bool,
) -> Result<Authorized, ApiError> {
    let invalid = || refused("Invalid Access Token");
    let issuer = tessera_core::unverified_issuer(token).ok_or_else(invalid)?;
    let pool_id = issuer
        .strip_prefix(&state.config.public_url)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .ok_or_else(invalid)?;
    let keys = pool_keys(state, pool_id).await?;
    let claims = verify_jwt(
        token,
        &keys.verifiers(KeyUse::Access),
        "access",
        state.clock.now(),
    )
    .map_err(|e| match e {
        TokenError::Expired => refused("Access Token has expired"),
        _ => invalid(),
    })?;
    let origin = claims
        .get("origin_jti")
        .and_then(Value::as_str)
        .ok_or_else(invalid)?;
    if state.store.origin_revoked(origin).await? {
        return Err(refused("Access Token has been revoked"));
    }
    if require_admin_scope {
        let scope = claims.get("scope").and_then(Value::as_str).unwrap_or("");
        if !scope.split(' ').any(|s| s == ADMIN_SCOPE) {
            return Err(refused("Access Token does not have required scopes"));
        }
    }
    let directory = Directory::load(state, pool_id)
        .await
        .map_err(|_| invalid())?;
    let username = claims
        .get("username")
        .and_then(Value::as_str)
        .ok_or_else(invalid)?;
    let key = directory.key(username);
    let user = state
        .store
        .user(pool_id, &key)
        .await?
        // A user deleted and created again under the same name is another user.
        .filter(|u| Some(u.sub.as_str()) == claims.get("sub").and_then(Value::as_str))
        .ok_or_else(user_not_found)?;
    if !user.enabled {
        return Err(refused("User is disabled."));
    }
    Ok(Authorized {
        directory,
        key,
        user,
        claims,
    })
}
