//! The `Logins` map: which provider each key names, and whether its token is good.
//!
//! A key names a tessera user pool (as Cognito names it, `cognito-idp.<region>.amazonaws.com/
//! <pool id>`, or as Amplify computes it from the ID token's issuer, the issuer without its
//! scheme), tessera's identity issuer (`cognito-identity.amazonaws.com`: a token from
//! GetOpenIdToken or GetOpenIdTokenForDeveloperIdentity, passed through), or an OpenID
//! Connect provider the pool lists and the configuration maps to an issuer. Both spellings of
//! a user pool are one provider: a login is stored under the Cognito spelling, so a user
//! reaches the same identity whichever the client sends.

use serde_json::{Map, Value};
use tessera_core::{excerpt, IdentityPool, KeyUse, Login, TokenError};

use crate::upstream::UpstreamError;
use crate::{Error, IdentityService};

/// The provider name of tokens from tessera's identity issuer, as in Cognito.
pub const IDENTITY_PROVIDER: &str = "cognito-identity.amazonaws.com";

/// What kind of provider vouched for a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginKind {
    /// A tessera user pool's ID token.
    UserPool,
    /// An external OpenID Connect provider's ID token.
    OpenId,
    /// The pool's developer provider (through GetOpenIdTokenForDeveloperIdentity only).
    Developer,
    /// A token of tessera's identity issuer for this identity, passed through.
    IdentityToken { authenticated: bool },
}

/// A login whose token checked out.
#[derive(Debug, Clone)]
pub struct VerifiedLogin {
    pub login: Login,
    pub kind: LoginKind,
    /// The key role mappings and principal-tag maps use: `<provider>:<client id>` for a user
    /// pool (the provider as the pool configures it), the provider name otherwise.
    pub mapping_key: String,
    /// The provider name as the pool configures it (principal-tag maps are keyed by it).
    pub configured_name: String,
    /// The token's claims (none for a developer login).
    pub claims: Map<String, Value>,
    /// The token's `amr` entries, for a passed-through identity token.
    pub amr: Vec<String>,
}

impl VerifiedLogin {
    /// The third `amr` entry of OpenID tokens issued for this login.
    pub fn amr_entry(&self, pool_id: &str) -> String {
        match self.kind {
            LoginKind::UserPool => format!(
                "{}:CognitoSignIn:{}",
                self.login.provider, self.login.subject
            ),
            LoginKind::OpenId => format!("{}:OIDC:{}", self.login.provider, self.login.subject),
            LoginKind::Developer | LoginKind::IdentityToken { .. } => {
                format!("{}:{pool_id}:{}", self.login.provider, self.login.subject)
            }
        }
    }
}

fn refused(message: impl Into<String>) -> Error {
    Error::new("NotAuthorizedException", message)
}

fn not_supported() -> Error {
    refused("Token is not from a supported provider of this identity pool.")
}

fn not_oidc() -> Error {
    refused("Invalid login token. Not a valid OpenId Connect identity token.")
}

/// The user pool a provider name names: `cognito-idp.<region>.amazonaws.com/<pool id>`, or
/// the issuer of this server's tokens for the pool without its scheme.
pub fn user_pool_of_provider(state: &IdentityService, name: &str) -> Option<String> {
    if let Some(rest) = name.strip_prefix("cognito-idp.") {
        let (host, pool_id) = rest.split_once('/')?;
        let region = host.strip_suffix(".amazonaws.com")?;
        return (tessera_core::region_of_pool_id(pool_id) == Some(region)
            && !pool_id.contains('/'))
        .then(|| pool_id.to_owned());
    }
    let public = state.idp.config.public_url.as_str();
    let host = public
        .strip_prefix("https://")
        .or_else(|| public.strip_prefix("http://"))
        .unwrap_or(public);
    let pool_id = name.strip_prefix(host)?.strip_prefix('/')?;
    (tessera_core::region_of_pool_id(pool_id).is_some_and(tessera_core::is_region_name)
        && !pool_id.contains('/'))
    .then(|| pool_id.to_owned())
}

/// The Cognito spelling of a user-pool provider.
pub fn user_pool_provider(pool_id: &str) -> String {
    let region = tessera_core::region_of_pool_id(pool_id).unwrap_or("us-east-1");
    format!("cognito-idp.{region}.amazonaws.com/{pool_id}")
}

/// Whether a key names tessera's identity issuer.
pub fn is_identity_provider(state: &IdentityService, name: &str) -> bool {
    let issuer = state.issuer();
    let bare = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .unwrap_or(&issuer);
    name == IDENTITY_PROVIDER || name == bare
}

/// The pool's developer provider name, if it has one.
pub fn developer_provider(pool: &IdentityPool) -> Option<&str> {
    pool.settings
        .get("DeveloperProviderName")
        .and_then(Value::as_str)
}

/// Checks every login of a `Logins` map and returns them in the map's order. A developer
/// provider's login is refused here: only the signed developer operation may assert one.
pub async fn verify_all(
    state: &IdentityService,
    pool: &IdentityPool,
    logins: Option<&Value>,
) -> Result<Vec<VerifiedLogin>, Error> {
    let mut verified = Vec::new();
    for (key, token) in logins.and_then(Value::as_object).into_iter().flatten() {
        let token = token.as_str().unwrap_or("");
        if developer_provider(pool) == Some(key.as_str()) {
            return Err(Error::invalid_parameter(
                "Developer-authenticated logins are accepted only by GetOpenIdTokenForDeveloperIdentity; pass its token under cognito-identity.amazonaws.com.",
            ));
        }
        verified.push(verify(state, pool, key, token).await?);
    }
    Ok(verified)
}

/// Checks one login.
pub async fn verify(
    state: &IdentityService,
    pool: &IdentityPool,
    key: &str,
    token: &str,
) -> Result<VerifiedLogin, Error> {
    if let Some(user_pool_id) = user_pool_of_provider(state, key) {
        return verify_user_pool(state, pool, key, &user_pool_id, token).await;
    }
    if is_identity_provider(state, key) {
        return verify_identity_token(state, pool, token).await;
    }
    verify_openid(state, pool, key, token).await
}

async fn verify_user_pool(
    state: &IdentityService,
    pool: &IdentityPool,
    key: &str,
    user_pool_id: &str,
    token: &str,
) -> Result<VerifiedLogin, Error> {
    // The pool's configured entries for this user pool, whichever spelling they use.
    let entries: Vec<&Value> = pool
        .settings
        .get("CognitoIdentityProviders")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|entry| {
            entry
                .get("ProviderName")
                .and_then(Value::as_str)
                .and_then(|name| user_pool_of_provider(state, name))
                .as_deref()
                == Some(user_pool_id)
        })
        .collect();
    if entries.is_empty() {
        return Err(not_supported());
    }
    let unverified = tessera_core::unverified_claims(token).ok_or_else(not_oidc)?;
    let Some(audience) = unverified.get("aud").and_then(Value::as_str) else {
        return Err(refused(
            "Invalid login token. Missing a required claim: aud",
        ));
    };
    let issuer = state.idp.issuer(user_pool_id);
    if unverified.get("iss").and_then(Value::as_str) != Some(issuer.as_str()) {
        return Err(refused(
            "Invalid login token. Issuer doesn't match providerName",
        ));
    }
    let keys = tessera_idp::pool::keys::pool_keys(&state.idp, user_pool_id)
        .await
        .map_err(|_| not_oidc())?;
    let now = state.now();
    let claims = tessera_core::verify_jwt(token, &keys.verifiers(KeyUse::Id), "id", now).map_err(
        |error| match error {
            TokenError::Expired => refused(format!(
                "Invalid login token. Token expired: {} >= {}",
                state.now_seconds(),
                unverified.get("exp").and_then(Value::as_u64).unwrap_or(0)
            )),
            _ => not_oidc(),
        },
    )?;
    let entry = entries
        .iter()
        .find(|entry| {
            entry
                .get("ClientId")
                .and_then(Value::as_str)
                .is_none_or(|client| client == audience)
        })
        .ok_or_else(not_supported)?;
    let configured_name = entry
        .get("ProviderName")
        .and_then(Value::as_str)
        .unwrap_or(key)
        .to_owned();
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(not_oidc)?
        .to_owned();
    if entry
        .get("ServerSideTokenCheck")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        server_side_check(state, user_pool_id, &claims, &subject).await?;
    }
    Ok(VerifiedLogin {
        login: Login {
            provider: user_pool_provider(user_pool_id),
            subject,
        },
        kind: LoginKind::UserPool,
        mapping_key: format!("{configured_name}:{audience}"),
        configured_name,
        claims,
        amr: Vec::new(),
    })
}

/// ServerSideTokenCheck: the token's sign-in session has not been revoked (sign-out, token
/// revocation) and its user still exists and is enabled.
async fn server_side_check(
    state: &IdentityService,
    user_pool_id: &str,
    claims: &Map<String, Value>,
    subject: &str,
) -> Result<(), Error> {
    // Wording ours: Cognito's message for a revoked token was not found.
    let revoked = || refused("Invalid login token. Token has been revoked.");
    let origin = claims
        .get("origin_jti")
        .and_then(Value::as_str)
        .ok_or_else(revoked)?;
    if state.store().origin_revoked(origin).await? {
        return Err(revoked());
    }
    let username = claims
        .get("cognito:username")
        .and_then(Value::as_str)
        .ok_or_else(revoked)?;
    let directory = tessera_idp::directory::Directory::load(&state.idp, user_pool_id)
        .await
        .map_err(|_| revoked())?;
    let user = state
        .store()
        .user(user_pool_id, &directory.key(username))
        .await?
        .filter(|user| user.sub == subject)
        .ok_or_else(|| refused("Invalid login token. User does not exist."))?;
    if !user.enabled {
        return Err(Error::user_disabled());
    }
    Ok(())
}

async fn verify_identity_token(
    state: &IdentityService,
    pool: &IdentityPool,
    token: &str,
) -> Result<VerifiedLogin, Error> {
    let claims = crate::issuer::verify(state, token).await?;
    if claims.get("aud").and_then(Value::as_str) != Some(pool.id.as_str()) {
        return Err(not_supported());
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(not_oidc)?
        .to_owned();
    let amr = crate::issuer::amr_of(&claims);
    let authenticated = amr.iter().any(|entry| entry == "authenticated");
    Ok(VerifiedLogin {
        login: Login {
            provider: IDENTITY_PROVIDER.to_owned(),
            subject,
        },
        kind: LoginKind::IdentityToken { authenticated },
        mapping_key: IDENTITY_PROVIDER.to_owned(),
        configured_name: IDENTITY_PROVIDER.to_owned(),
        claims,
        amr,
    })
}

async fn verify_openid(
    state: &IdentityService,
    pool: &IdentityPool,
    key: &str,
    token: &str,
) -> Result<VerifiedLogin, Error> {
    let listed = pool
        .settings
        .get("OpenIdConnectProviderARNs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|arn| arn.split_once(":oidc-provider/").map(|(_, name)| name) == Some(key))
        || pool
            .settings
            .get("SupportedLoginProviders")
            .and_then(Value::as_object)
            .is_some_and(|providers| providers.contains_key(key));
    if !listed {
        return Err(not_supported());
    }
    let Some(provider) = state.settings.openid_providers.get(key) else {
        return Err(Error::new(
            "ExternalServiceException",
            format!(
                "tessera cannot check tokens of {}: no [[identity.openid_providers]] entry names its issuer.",
                excerpt(key)
            ),
        ));
    };
    let claims = state
        .upstream
        .verify_openid_token(provider, token)
        .await
        .map_err(|error| match error {
            UpstreamError::InvalidToken(message) => {
                refused(format!("Invalid login token. {message}"))
            }
            UpstreamError::Refused { message, .. } | UpstreamError::Unavailable(message) => {
                tracing::warn!(provider = key, error = %message, "OpenID provider unavailable");
                Error::new(
                    "ExternalServiceException",
                    format!("The OpenID provider {} could not be reached.", excerpt(key)),
                )
            }
        })?;
    // A provider listed in SupportedLoginProviders names the app whose tokens it accepts.
    if let Some(app) = pool
        .settings
        .get("SupportedLoginProviders")
        .and_then(|providers| providers.get(key))
        .and_then(Value::as_str)
    {
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == app,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(app)),
            _ => false,
        };
        if !audience_ok {
            return Err(refused("Invalid login token. Incorrect token audience."));
        }
    }
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or_else(|| refused("Invalid login token. Missing a required claim: sub"))?
        .to_owned();
    Ok(VerifiedLogin {
        login: Login {
            provider: key.to_owned(),
            subject,
        },
        kind: LoginKind::OpenId,
        mapping_key: key.to_owned(),
        configured_name: key.to_owned(),
        claims,
        amr: Vec::new(),
    })
}
