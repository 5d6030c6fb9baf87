//! Which role an identity's credentials are for: the pool's unauthenticated role for a
//! guest; for a login, the role mapping of its provider (Token: the token's
//! `cognito:preferred_role` or a `CustomRoleArn` among its `cognito:roles`; Rules: the first
//! rule whose claim matches) and, where the mapping decides nothing, its
//! `AmbiguousRoleResolution`; otherwise the pool's authenticated role.

use serde_json::{Map, Value};
use tessera_core::{excerpt, IdentityPool};

use crate::login::VerifiedLogin;
use crate::Error;

/// No role fits the pool's configuration.
pub fn invalid_configuration() -> Error {
    Error::new(
        "InvalidIdentityPoolConfigurationException",
        "Invalid identity pool configuration. Check assigned IAM roles for this pool.",
    )
}

fn default_role(pool: &IdentityPool, kind: &str) -> Result<String, Error> {
    pool.roles
        .get("Roles")
        .and_then(|roles| roles.get(kind))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(invalid_configuration)
}

/// The role of a guest.
pub fn unauthenticated(pool: &IdentityPool) -> Result<String, Error> {
    default_role(pool, "unauthenticated")
}

/// The role of an identity that presented `logins` (verified), with an optional
/// `CustomRoleArn`. The first login whose provider has a role mapping decides; without one,
/// the authenticated role (a `CustomRoleArn` must then name it).
pub fn authenticated(
    pool: &IdentityPool,
    logins: &[VerifiedLogin],
    custom: Option<&str>,
) -> Result<String, Error> {
    let mappings = pool.roles.get("RoleMappings").and_then(Value::as_object);
    for login in logins {
        if let Some(mapping) = mappings.and_then(|m| m.get(&login.mapping_key)) {
            return mapped(pool, login, mapping, custom);
        }
    }
    let role = default_role(pool, "authenticated")?;
    match custom {
        Some(custom) if custom != role => Err(custom_not_allowed(custom)),
        _ => Ok(role),
    }
}

/// Wording ours: Cognito's message for a `CustomRoleArn` the token does not allow was not
/// found.
fn custom_not_allowed(custom: &str) -> Error {
    Error::new(
        "NotAuthorizedException",
        format!(
            "The role {} is not one this identity may assume.",
            excerpt(custom)
        ),
    )
}

fn mapped(
    pool: &IdentityPool,
    login: &VerifiedLogin,
    mapping: &Value,
    custom: Option<&str>,
) -> Result<String, Error> {
    let decided = match mapping.get("Type").and_then(Value::as_str) {
        Some("Token") => by_token(&login.claims, custom)?,
        Some("Rules") => by_rules(&login.claims, mapping, custom)?,
        _ => None,
    };
    if let Some(role) = decided {
        return Ok(role);
    }
    match mapping
        .get("AmbiguousRoleResolution")
        .and_then(Value::as_str)
    {
        Some("AuthenticatedRole") => default_role(pool, "authenticated"),
        _ => Err(Error::new(
            "NotAuthorizedException",
            format!(
                "The ambiguous role mapping rules for: {} denied this request.",
                excerpt(&login.mapping_key)
            ),
        )),
    }
}

/// `cognito:roles` as a list: a JSON array in tessera's and Cognito's ID tokens, a
/// comma-separated string as the developer guide describes it.
fn token_roles(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("cognito:roles") {
        Some(Value::Array(roles)) => roles
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(roles)) => roles
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn by_token(claims: &Map<String, Value>, custom: Option<&str>) -> Result<Option<String>, Error> {
    let roles = token_roles(claims);
    if let Some(custom) = custom {
        return if roles.iter().any(|r| r == custom) {
            Ok(Some(custom.to_owned()))
        } else {
            Err(custom_not_allowed(custom))
        };
    }
    Ok(claims
        .get("cognito:preferred_role")
        .and_then(Value::as_str)
        .map(str::to_owned))
}

/// A claim's values as strings: each element of an array (`cognito:groups`), or the one
/// value.
fn claim_values(claims: &Map<String, Value>, name: &str) -> Option<Vec<String>> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match claims.get(name)? {
        Value::Array(items) => Some(items.iter().map(text).collect()),
        Value::Null => None,
        value => Some(vec![text(value)]),
    }
}

/// Whether a rule matches. A `NotEqual` rule on an absent claim is not evaluated (does not
/// match), as the developer guide says; an array claim matches when one of its values does
/// (for `NotEqual`, when none is equal).
pub fn rule_matches(claims: &Map<String, Value>, rule: &Value) -> bool {
    let claim = rule.get("Claim").and_then(Value::as_str).unwrap_or("");
    let value = rule.get("Value").and_then(Value::as_str).unwrap_or("");
    let Some(values) = claim_values(claims, claim) else {
        return false;
    };
    match rule.get("MatchType").and_then(Value::as_str) {
        Some("Equals") => values.iter().any(|v| v == value),
        Some("Contains") => values.iter().any(|v| v.contains(value)),
        Some("StartsWith") => values.iter().any(|v| v.starts_with(value)),
        Some("NotEqual") => values.iter().all(|v| v != value),
        _ => false,
    }
}

fn by_rules(
    claims: &Map<String, Value>,
    mapping: &Value,
    custom: Option<&str>,
) -> Result<Option<String>, Error> {
    let matching: Vec<&str> = mapping
        .pointer("/RulesConfiguration/Rules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|rule| rule_matches(claims, rule))
        .filter_map(|rule| rule.get("RoleARN").and_then(Value::as_str))
        .collect();
    // "The IAM role for the first matching rule is used, unless CustomRoleArn is specified
    // to override the order": a CustomRoleArn picks among the matching rules' roles, and is
    // refused when none of them names it (it must never reach the ambiguous fallback).
    match custom {
        Some(custom) => matching
            .into_iter()
            .find(|r| *r == custom)
            .map(|r| Some(r.to_owned()))
            .ok_or_else(|| custom_not_allowed(custom)),
        None => Ok(matching.first().map(|r| (*r).to_owned())),
    }
}
