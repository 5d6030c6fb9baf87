//! The JWTs Cognito issues: ID and access tokens with Cognito's claim sets, signed RS256
//! with the pool's keys, and their verification.
//!
//! Claims are emitted in the order real Cognito tokens carry them, so that a decoded tessera
//! token reads like a Cognito one.

use std::time::{Duration, SystemTime};

use base64::Engine;
use serde_json::{json, Map, Value};

use crate::{CoreError, Group, SigningKey, User};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The scope of tokens from the API sign-in flows.
pub const ADMIN_SCOPE: &str = "aws.cognito.signin.user.admin";

/// Everything a token issuance needs besides the keys.
#[derive(Debug)]
pub struct TokenRequest<'a> {
    /// `<public url>/<pool id>`.
    pub issuer: &'a str,
    /// The app client.
    pub client_id: &'a str,
    /// The user.
    pub user: &'a User,
    /// The user's groups, by precedence.
    pub groups: &'a [Group],
    /// The attributes the client may read; `None` means all.
    pub read_attributes: Option<&'a [String]>,
    /// When the user authenticated (unchanged by refreshes).
    pub auth_time: SystemTime,
    /// The sign-in session: constant across refreshes of one refresh token.
    pub origin_jti: &'a str,
    /// The request that issued the tokens.
    pub event_id: &'a str,
    /// Now.
    pub now: SystemTime,
    /// Access-token lifetime.
    pub access_validity: Duration,
    /// ID-token lifetime.
    pub id_validity: Duration,
    /// Space-separated scopes of the access token.
    pub scope: &'a str,
    /// Issued at the OAuth token endpoint rather than by the API sign-in flows: the ID token
    /// then carries `at_hash` (OIDC Core §3.1.3.6; Authlib checks it) and the access token
    /// Cognito's `version` claim, as hosted-UI tokens do.
    pub oauth: bool,
    /// The `nonce` of the authorization request, echoed in the ID token (and only then: an
    /// ID token with a nonce nobody sent is refused by openid-client).
    pub nonce: Option<&'a str>,
    /// What the pool's PreTokenGeneration function changes, if it has one.
    pub customization: Option<&'a TokenCustomization>,
    /// The tracked device of the sign-in (issue 13): the access token's `device_key`.
    pub device_key: Option<&'a str>,
}

/// What a PreTokenGeneration function changes in the tokens it is shown. The claims of
/// [`is_protected_claim`] are never changed, whatever this says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenCustomization {
    /// Claims added to (or replaced in) the ID token.
    pub id_claims: Map<String, Value>,
    /// Claims removed from the ID token; removal wins over addition.
    pub id_suppress: Vec<String>,
    /// Claims added to (or replaced in) the access token.
    pub access_claims: Map<String, Value>,
    /// Claims removed from the access token.
    pub access_suppress: Vec<String>,
    /// Scopes added to the access token's `scope`.
    pub scopes_to_add: Vec<String>,
    /// Scopes removed from it; removal wins over addition.
    pub scopes_to_suppress: Vec<String>,
    /// `groupOverrideDetails`: when given, replaces the groups of both tokens and the roles
    /// of the ID token.
    pub groups: Option<GroupOverride>,
}

/// The groups and roles a PreTokenGeneration function puts in place of the user's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupOverride {
    pub groups: Vec<String>,
    pub roles: Vec<String>,
    pub preferred_role: Option<String>,
}

/// Claims no trigger adds, replaces or removes, in either token (Cognito's "claims and scopes
/// reference"): they say who the token is for, which client and session it belongs to, and
/// how long it lives. Any other `cognito:` claim is protected too; the group claims change
/// only through [`GroupOverride`].
pub const PROTECTED_CLAIMS: &[&str] = &[
    "acr",
    "amr",
    "aud",
    "at_hash",
    "auth_time",
    "azp",
    "client_id",
    "device_key",
    "event_id",
    "exp",
    "iat",
    "identities",
    "iss",
    "jti",
    "nbf",
    "nonce",
    "origin_jti",
    "scope",
    "sub",
    "token_use",
    "username",
    "version",
];

/// Whether a trigger may not change `claim`. Developer-only attributes (`dev:`) never reach a
/// token, so none may be added under their names either.
pub fn is_protected_claim(claim: &str) -> bool {
    claim.starts_with("cognito:") || claim.starts_with("dev:") || PROTECTED_CLAIMS.contains(&claim)
}

/// Adds, replaces and removes the claims a trigger asked for, leaving the protected ones.
fn customize_claims(
    claims: &mut Map<String, Value>,
    add: &Map<String, Value>,
    suppress: &[String],
) {
    for (name, value) in add {
        if !is_protected_claim(name) {
            claims.insert(name.clone(), value.clone());
        }
    }
    for name in suppress {
        if !is_protected_claim(name) {
            claims.remove(name);
        }
    }
}

/// The access token's scopes after a trigger's additions and removals, in order, each once.
pub fn customized_scope(scope: &str, customization: Option<&TokenCustomization>) -> String {
    let Some(customization) = customization else {
        return scope.to_owned();
    };
    let mut scopes: Vec<&str> = Vec::new();
    for name in scope
        .split_whitespace()
        .chain(customization.scopes_to_add.iter().map(String::as_str))
    {
        if !scopes.contains(&name) && !customization.scopes_to_suppress.iter().any(|s| s == name) {
            scopes.push(name);
        }
    }
    scopes.join(" ")
}

/// A signed ID token and access token.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The ID token.
    pub id_token: String,
    /// The access token.
    pub access_token: String,
    /// Access-token lifetime in seconds (`ExpiresIn`).
    pub expires_in: u64,
    /// The access token's scopes, as a PreTokenGeneration function left them.
    pub scope: String,
}

fn seconds(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn uuid_v4(random: &dyn crate::Random) -> String {
    let mut bytes = [0u8; 16];
    random.fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// OIDC's `at_hash`: the left half of the SHA-256 of the access token, base64url.
pub fn at_hash(access_token: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, access_token.as_bytes());
    B64.encode(&digest.as_ref()[..16])
}

/// Signs claims as a compact JWS with header `{"kid":…,"alg":"RS256"}`, as Cognito's.
pub fn sign_jwt(key: &SigningKey, claims: &Value) -> Result<String, CoreError> {
    let header = json!({ "kid": key.kid, "alg": "RS256" });
    let mut token = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let signature = key.sign_rs256(token.as_bytes())?;
    token.push('.');
    token.push_str(&B64.encode(signature));
    Ok(token)
}

/// The preferred role of a user in `groups`: the role of the group with the lowest
/// precedence; a tie means there is none.
pub fn preferred_role(groups: &[Group]) -> Option<&str> {
    let ranked: Vec<&Group> = groups
        .iter()
        .filter(|g| g.role_arn.is_some() && g.precedence.is_some())
        .collect();
    let best = ranked.iter().min_by_key(|g| g.precedence)?;
    let ties = ranked
        .iter()
        .filter(|g| g.precedence == best.precedence)
        .count();
    if ties == 1 {
        best.role_arn.as_deref()
    } else {
        None
    }
}

/// Issues an ID token and an access token.
/// The `identities` claim of a federated user: the attribute holds a JSON array (numbers and
/// booleans as JSON), and the claim is that array with every value a string except `null`,
/// as real Cognito ID tokens carry it (`"primary":"true"`, `"dateCreated":"1673913190125"`,
/// `"issuer":null`).
fn identities_claim(attribute: &str) -> Value {
    let Ok(Value::Array(entries)) = serde_json::from_str::<Value>(attribute) else {
        return json!(attribute);
    };
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|entry| match entry {
            Value::Object(fields) => Value::Object(
                fields
                    .into_iter()
                    .map(|(name, value)| {
                        let value = match value {
                            Value::Null | Value::String(_) => value,
                            Value::Bool(flag) => json!(flag.to_string()),
                            Value::Number(number) => json!(number.to_string()),
                            other => json!(other.to_string()),
                        };
                        (name, value)
                    })
                    .collect(),
            ),
            other => other,
        })
        .collect();
    Value::Array(entries)
}

pub fn issue_tokens(
    request: &TokenRequest<'_>,
    id_key: &SigningKey,
    access_key: &SigningKey,
    random: &dyn crate::Random,
) -> Result<TokenPair, CoreError> {
    let iat = seconds(request.now);
    let auth_time = seconds(request.auth_time);
    let user = request.user;
    let overridden = request.customization.and_then(|c| c.groups.as_ref());
    let group_names: Vec<&str> = match overridden {
        Some(given) => given.groups.iter().map(String::as_str).collect(),
        None => request.groups.iter().map(|g| g.name.as_str()).collect(),
    };
    let scope = customized_scope(request.scope, request.customization);

    // The access token is built and signed first, because the ID token's `at_hash` is a hash
    // of it.
    let mut access = Map::new();
    access.insert("sub".into(), json!(user.sub));
    if !group_names.is_empty() {
        access.insert("cognito:groups".into(), json!(group_names));
    }
    if let Some(device_key) = request.device_key {
        access.insert("device_key".into(), json!(device_key));
    }
    access.insert("iss".into(), json!(request.issuer));
    if request.oauth {
        access.insert("version".into(), json!(2));
    }
    access.insert("client_id".into(), json!(request.client_id));
    access.insert("origin_jti".into(), json!(request.origin_jti));
    access.insert("event_id".into(), json!(request.event_id));
    access.insert("token_use".into(), json!("access"));
    access.insert("scope".into(), json!(scope));
    access.insert("auth_time".into(), json!(auth_time));
    access.insert("exp".into(), json!(iat + request.access_validity.as_secs()));
    access.insert("iat".into(), json!(iat));
    access.insert("jti".into(), json!(uuid_v4(random)));
    access.insert("username".into(), json!(user.username));
    if let Some(customization) = request.customization {
        customize_claims(
            &mut access,
            &customization.access_claims,
            &customization.access_suppress,
        );
    }
    let access_token = sign_jwt(access_key, &Value::Object(access))?;

    let mut id = Map::new();
    if request.oauth {
        id.insert("at_hash".into(), json!(at_hash(&access_token)));
    }
    id.insert("sub".into(), json!(user.sub));
    if !group_names.is_empty() {
        id.insert("cognito:groups".into(), json!(group_names));
    }
    let readable = |name: &str| {
        request
            .read_attributes
            .is_none_or(|names| names.iter().any(|n| n == name))
    };
    for (name, value) in &user.attributes {
        if name.starts_with("dev:") || !readable(name) {
            continue;
        }
        let claim = match name.as_str() {
            // A flag stored as "True" is a verified one; the claim is a JSON boolean.
            "email_verified" | "phone_number_verified" => {
                json!(crate::boolean_value(value) == Some(true))
            }
            "updated_at" => value
                .parse::<i64>()
                .map_or_else(|_| json!(value), |n| json!(n)),
            "address" => json!({ "formatted": value }),
            "identities" => identities_claim(value),
            _ => json!(value),
        };
        id.insert(name.clone(), claim);
    }
    id.insert("iss".into(), json!(request.issuer));
    id.insert("cognito:username".into(), json!(user.username));
    id.insert("origin_jti".into(), json!(request.origin_jti));
    let roles: Vec<&str> = match overridden {
        Some(given) => given.roles.iter().map(String::as_str).collect(),
        None => request
            .groups
            .iter()
            .filter_map(|g| g.role_arn.as_deref())
            .collect(),
    };
    if let Some(given) = overridden {
        if !roles.is_empty() {
            id.insert("cognito:roles".into(), json!(roles));
        }
        if let Some(role) = &given.preferred_role {
            id.insert("cognito:preferred_role".into(), json!(role));
        }
    } else if !roles.is_empty() {
        id.insert("cognito:roles".into(), json!(roles));
        if let Some(role) = preferred_role(request.groups) {
            id.insert("cognito:preferred_role".into(), json!(role));
        }
    }
    id.insert("aud".into(), json!(request.client_id));
    if let Some(nonce) = request.nonce {
        id.insert("nonce".into(), json!(nonce));
    }
    id.insert("event_id".into(), json!(request.event_id));
    id.insert("token_use".into(), json!("id"));
    id.insert("auth_time".into(), json!(auth_time));
    id.insert("exp".into(), json!(iat + request.id_validity.as_secs()));
    id.insert("iat".into(), json!(iat));
    id.insert("jti".into(), json!(uuid_v4(random)));
    if let Some(customization) = request.customization {
        customize_claims(
            &mut id,
            &customization.id_claims,
            &customization.id_suppress,
        );
    }

    Ok(TokenPair {
        id_token: sign_jwt(id_key, &Value::Object(id))?,
        access_token,
        expires_in: request.access_validity.as_secs(),
        scope,
    })
}

/// Everything a machine-to-machine (client_credentials) access token needs besides the key.
#[derive(Debug)]
pub struct ClientTokenRequest<'a> {
    /// `<public url>/<pool id>`.
    pub issuer: &'a str,
    /// The app client, which is also the token's subject.
    pub client_id: &'a str,
    /// The granted custom scopes, space-separated.
    pub scope: &'a str,
    /// Now (also the `auth_time`: the client authenticated with this request).
    pub now: SystemTime,
    /// Access-token lifetime.
    pub validity: Duration,
    /// What the pool's PreTokenGeneration function (version 3) changes, if it has one.
    pub customization: Option<&'a TokenCustomization>,
}

/// Issues the access token of the client_credentials grant: Cognito's claim set for a
/// machine, with the client as `sub` and no user claims (`username`, `origin_jti`,
/// `cognito:groups`, `event_id`), since no user and no sign-in session stand behind it.
pub fn issue_client_token(
    request: &ClientTokenRequest<'_>,
    access_key: &SigningKey,
    random: &dyn crate::Random,
) -> Result<String, CoreError> {
    let iat = seconds(request.now);
    let mut access = Map::new();
    access.insert("sub".into(), json!(request.client_id));
    access.insert("token_use".into(), json!("access"));
    access.insert(
        "scope".into(),
        json!(customized_scope(request.scope, request.customization)),
    );
    access.insert("auth_time".into(), json!(iat));
    access.insert("iss".into(), json!(request.issuer));
    access.insert("exp".into(), json!(iat + request.validity.as_secs()));
    access.insert("iat".into(), json!(iat));
    access.insert("version".into(), json!(2));
    access.insert("jti".into(), json!(uuid_v4(random)));
    access.insert("client_id".into(), json!(request.client_id));
    if let Some(customization) = request.customization {
        customize_claims(
            &mut access,
            &customization.access_claims,
            &customization.access_suppress,
        );
    }
    sign_jwt(access_key, &Value::Object(access))
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a JWS, not ours, bad signature, wrong algorithm or wrong `token_use`.
    #[error("invalid token")]
    Invalid,
    /// Past its `exp`.
    #[error("token has expired")]
    Expired,
}

/// The unverified `iss` of a token, to find the pool whose keys must verify it.
pub fn unverified_issuer(token: &str) -> Option<String> {
    unverified_claims(token)?
        .get("iss")?
        .as_str()
        .map(String::from)
}

/// A token's claims, unverified: only to choose which keys verify it or which message a
/// refusal carries.
pub fn unverified_claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&B64.decode(payload).ok()?).ok()
}

/// Verifies a token signed by one of `keys` and returns its claims: RS256 only, the key
/// chosen by `kid`, `token_use` as expected, not expired at `now`.
pub fn verify_jwt(
    token: &str,
    keys: &[&SigningKey],
    token_use: &str,
    now: SystemTime,
) -> Result<Map<String, Value>, TokenError> {
    let claims = verify_signed_jwt(token, keys, now)?;
    if claims.get("token_use").and_then(Value::as_str) != Some(token_use) {
        return Err(TokenError::Invalid);
    }
    Ok(claims)
}

/// Verifies a token signed by one of `keys` and returns its claims: RS256 only, the key
/// chosen by `kid`, not expired at `now`. Tokens without a `token_use` (the identity
/// issuer's) are checked with this alone.
pub fn verify_signed_jwt(
    token: &str,
    keys: &[&SigningKey],
    now: SystemTime,
) -> Result<Map<String, Value>, TokenError> {
    // Tokens are a few kilobytes; anything far larger is not one of ours.
    if token.len() > 16 * 1024 {
        return Err(TokenError::Invalid);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Invalid);
    };
    let header: Value = B64
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(TokenError::Invalid)?;
    // The algorithm is pinned by the key, never taken from the token.
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(TokenError::Invalid);
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(TokenError::Invalid)?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or(TokenError::Invalid)?;
    let signature = B64.decode(signature).map_err(|_| TokenError::Invalid)?;
    let signed = &token[..header_len(token)];
    if !key.verify_rs256(signed.as_bytes(), &signature) {
        return Err(TokenError::Invalid);
    }
    let claims: Map<String, Value> = B64
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(TokenError::Invalid)?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or(TokenError::Invalid)?;
    if seconds(now) >= exp {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

/// The length of `header.payload`, the part the signature covers.
fn header_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(0)
}
