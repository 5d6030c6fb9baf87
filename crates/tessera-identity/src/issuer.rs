//! tessera's identity issuer: the OpenID tokens of GetOpenIdToken and
//! GetOpenIdTokenForDeveloperIdentity, signed with keys of the identity service (not a user
//! pool's), published at `<public url>/identity/.well-known/jwks_uri` (Cognito's path) with a
//! discovery document beside it, so an external STS can be told to trust the issuer.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use tessera_core::{KeyUse, SigningKey, TokenError};

use crate::{Error, IdentityService};

/// The issuer's keys, opened once.
pub struct IssuerKeys {
    /// Oldest first; the newest signs, all verify.
    pub all: Vec<SigningKey>,
    /// The JWKS document, serialised once.
    pub jwks: String,
}

/// GetOpenIdToken's tokens last ten minutes, as Cognito's.
pub const OPEN_ID_TOKEN_SECONDS: u64 = 600;
/// GetOpenIdTokenForDeveloperIdentity's default lifetime: fifteen minutes.
pub const DEVELOPER_TOKEN_SECONDS: u64 = 900;

/// The issuer's keys, created on first use. Two nodes creating the first key at once each
/// store one; the oldest signs everywhere, and a node that meets a key it does not know
/// reads the keys again, so both verify on every node.
pub async fn keys(state: &IdentityService) -> Result<Arc<IssuerKeys>, Error> {
    if let Some(keys) = state
        .issuer_keys
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
    {
        return Ok(keys);
    }
    load_keys(state).await
}

/// Reads the keys from the store (creating the first), and remembers them.
async fn load_keys(state: &IdentityService) -> Result<Arc<IssuerKeys>, Error> {
    let mut all = state.store().identity_signing_keys().await?;
    if all.is_empty() {
        let now = state.now();
        let key = tokio::task::spawn_blocking(move || SigningKey::generate(KeyUse::Id, now))
            .await
            .map_err(|e| Error::internal(&e))??;
        state.store().insert_identity_signing_key(&key).await?;
        all = state.store().identity_signing_keys().await?;
    }
    let jwks =
        json!({ "keys": all.iter().map(SigningKey::public_jwk).collect::<Vec<_>>() }).to_string();
    let keys = Arc::new(IssuerKeys { all, jwks });
    *state.issuer_keys.write().unwrap_or_else(|p| p.into_inner()) = Some(keys.clone());
    Ok(keys)
}

/// The issuer's discovery document.
pub fn discovery(state: &IdentityService) -> Value {
    let issuer = state.issuer();
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks_uri"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "claims_supported": ["sub", "aud", "amr", "iat", "exp", "iss", "https://aws.amazon.com/tags"],
    })
}

/// What an OpenID token says.
pub struct TokenClaims<'a> {
    pub identity_id: &'a str,
    pub pool_id: &'a str,
    pub amr: Vec<String>,
    /// Principal tags, put under `https://aws.amazon.com/tags` as AWS session tags.
    pub principal_tags: &'a Map<String, Value>,
    pub lifetime_seconds: u64,
}

/// Signs an OpenID token.
pub async fn sign(state: &IdentityService, claims: &TokenClaims<'_>) -> Result<String, Error> {
    let keys = keys(state).await?;
    let key = keys
        .all
        .first()
        .ok_or_else(|| Error::internal(&"the identity issuer has no key"))?;
    let now = state.now_seconds();
    let mut body = json!({
        "sub": claims.identity_id,
        "aud": claims.pool_id,
        "amr": claims.amr,
        "iss": state.issuer(),
        "iat": now,
        "exp": now + claims.lifetime_seconds,
    });
    if !claims.principal_tags.is_empty() {
        let tags: Map<String, Value> = claims
            .principal_tags
            .iter()
            .map(|(k, v)| (k.clone(), json!([v])))
            .collect();
        body["https://aws.amazon.com/tags"] = json!({
            "principal_tags": tags,
            "transitive_tag_keys": [],
        });
    }
    Ok(tessera_core::sign_jwt(key, &body)?)
}

/// Verifies a token of this issuer and returns its claims (they carry no `token_use`).
pub async fn verify(state: &IdentityService, token: &str) -> Result<Map<String, Value>, Error> {
    let refused = |message: String| Error::new("NotAuthorizedException", message);
    let mut keys = keys(state).await?;
    // A key another node created since these were read: read them again, once.
    if kid_of(token).is_some_and(|kid| !keys.all.iter().any(|k| k.kid == kid)) {
        keys = load_keys(state).await?;
    }
    let claims =
        tessera_core::verify_signed_jwt(token, &keys.all.iter().collect::<Vec<_>>(), state.now())
            .map_err(|error| match error {
            TokenError::Expired => refused("Invalid login token. Token expired.".into()),
            _ => refused("Invalid login token. Not a valid OpenId Connect identity token.".into()),
        })?;
    if claims.get("iss").and_then(Value::as_str) != Some(state.issuer().as_str()) {
        return Err(refused(
            "Invalid login token. Issuer doesn't match providerName".into(),
        ));
    }
    Ok(claims)
}

/// The `kid` of a token's header, unverified: only to tell whether the keys are current.
fn kid_of(token: &str) -> Option<String> {
    use base64::Engine;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let header: Value = serde_json::from_slice(&bytes).ok()?;
    header.get("kid")?.as_str().map(str::to_owned)
}

/// The principal tags a token of this issuer carries (`https://aws.amazon.com/tags`, each
/// value the first of its list), as passed through to credentials.
pub fn carried_tags(claims: &Map<String, Value>) -> Map<String, Value> {
    claims
        .get("https://aws.amazon.com/tags")
        .and_then(|t| t.get("principal_tags"))
        .and_then(Value::as_object)
        .map(|tags| {
            tags.iter()
                .filter_map(|(k, v)| {
                    let value = v.as_array().and_then(|a| a.first()).unwrap_or(v);
                    value.as_str().map(|s| (k.clone(), json!(s)))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The `amr` entries of a token's claims.
pub fn amr_of(claims: &Map<String, Value>) -> Vec<String> {
    claims
        .get("amr")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}
