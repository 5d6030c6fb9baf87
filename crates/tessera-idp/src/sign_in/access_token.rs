//! How the token-authorised operations (GetUser, ChangePassword, …) check the
//! `AccessToken` member, in Cognito's order: signature and `token_use`, expiry, revocation,
//! scope, then the user.

use serde_json::{Map, Value};
use tessera_core::{verify_jwt, KeyUse, TokenError, User, ADMIN_SCOPE};

use crate::directory::{user_not_found, Directory};
use crate::input::Input;
use crate::pool::keys::pool_keys;
use crate::{Error, Service};

/// A verified access token with its pool and user.
pub struct Authorized {
    pub directory: Directory,
    pub key: String,
    pub user: User,
    pub claims: std::sync::Arc<Map<String, Value>>,
}

fn refused(message: &str) -> Error {
    Error::new("NotAuthorizedException", message)
}

pub async fn authorize(state: &Service, input: &Input) -> Result<Authorized, Error> {
    let token = input.required_str("AccessToken")?;
    authorize_token(state, token, true).await
}

/// Verified tokens: SHA-256 of the token to its claims and `exp`.
pub type VerifiedCache =
    std::collections::HashMap<[u8; 32], (std::sync::Arc<Map<String, Value>>, u64)>;

/// How many verified tokens the cache keeps before it is pruned.
const VERIFIED_CACHE_LIMIT: usize = 100_000;

/// The pool id of an issuer URL of this server.
pub(crate) fn pool_of_issuer<'a>(state: &Service, issuer: &'a str) -> Option<&'a str> {
    issuer
        .strip_prefix(&state.config.public_url)
        .and_then(|rest| rest.strip_prefix('/'))
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

/// The claims of a verified access token. A token's signature is checked once; afterwards
/// the claims come from memory (only expiry is checked again), because an RSA verification
/// costs far more than the rest of a GetUser. Revocation and the user record are still
/// checked for every request (through the store, which may answer them from its own
/// invalidated cache), so this cache never outlives a revocation.
async fn verified_claims(
    state: &Service,
    token: &str,
) -> Result<std::sync::Arc<Map<String, Value>>, TokenError> {
    let now = state.clock.now();
    let now_secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let cache_key = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let cache_key: [u8; 32] = cache_key.as_ref().try_into().unwrap_or([0; 32]);
    if let Some((claims, exp)) = state
        .verified
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&cache_key)
    {
        return if now_secs < *exp {
            Ok(claims.clone())
        } else {
            Err(TokenError::Expired)
        };
    }
    // The issuer picks the keys; a token claiming another pool's issuer fails their check.
    let issuer = tessera_core::unverified_issuer(token).ok_or(TokenError::Invalid)?;
    let pool_id = pool_of_issuer(state, &issuer).ok_or(TokenError::Invalid)?;
    let keys = pool_keys(state, pool_id)
        .await
        .map_err(|_| TokenError::Invalid)?;
    let claims = std::sync::Arc::new(verify_jwt(
        token,
        &keys.verifiers(KeyUse::Access),
        "access",
        now,
    )?);
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    let mut cache = state.verified.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= VERIFIED_CACHE_LIMIT {
        cache.retain(|_, (_, exp)| now_secs < *exp);
        if cache.len() >= VERIFIED_CACHE_LIMIT {
            cache.clear();
        }
    }
    cache.insert(cache_key, (claims.clone(), exp));
    Ok(claims)
}

/// Verifies an access token; `require_admin_scope` is false only where Cognito accepts any
/// access token of the user (none today, kept for the OAuth endpoints).
pub async fn authorize_token(
    state: &Service,
    token: &str,
    require_admin_scope: bool,
) -> Result<Authorized, Error> {
    let invalid = || refused("Invalid Access Token");
    let claims = verified_claims(state, token).await.map_err(|e| match e {
        TokenError::Expired => refused("Access Token has expired"),
        _ => invalid(),
    })?;
    let pool_id = claims
        .get("iss")
        .and_then(Value::as_str)
        .and_then(|issuer| pool_of_issuer(state, issuer))
        .ok_or_else(invalid)?;
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
        return Err(Error::user_disabled());
    }
    Ok(Authorized {
        directory,
        key,
        user,
        claims,
    })
}
