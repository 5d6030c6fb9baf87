//! The PreTokenGeneration trigger: the event that shows a function the tokens about to be
//! issued, and the changes its answer asks for, read into a [`TokenCustomization`] the token
//! issuer applies. Version 1 events change the ID token (and the groups of both tokens);
//! versions 2 and 3 change both tokens and the access token's scopes; only version 3 runs for
//! machine (client_credentials) tokens.

use serde_json::{json, Map, Value};
use tessera_core::{preferred_role, Group, GroupOverride, TokenCustomization, User};

use crate::directory::Directory;
use crate::trigger::{self, unrecognizable, Call, Trigger};
use crate::{Error, Service};

/// Why tokens are being issued: the event's `triggerSource` and the caller's
/// `ClientMetadata`.
#[derive(Debug, Clone, Copy)]
pub struct TokenEvent<'a> {
    pub source: &'a str,
    pub client_metadata: Option<&'a Map<String, Value>>,
}

impl<'a> TokenEvent<'a> {
    pub fn new(source: &'a str) -> Self {
        Self {
            source,
            client_metadata: None,
        }
    }
}

/// Runs the pool's PreTokenGeneration function for a user's tokens, if it has one.
pub async fn for_user(
    service: &Service,
    directory: &Directory,
    client_id: &str,
    user: &User,
    groups: &[Group],
    scope: &str,
    event: TokenEvent<'_>,
) -> Result<Option<TokenCustomization>, Error> {
    let Some((_, version)) = trigger::function(&directory.pool, Trigger::PreTokenGeneration) else {
        return Ok(None);
    };
    let mut request = json!({
        "userAttributes": trigger::user_attributes(directory, user),
        "groupConfiguration": {
            "groupsToOverride": groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            "iamRolesToOverride": groups.iter().filter_map(|g| g.role_arn.as_deref()).collect::<Vec<_>>(),
            "preferredRole": preferred_role(groups),
        },
    });
    if version != "1" {
        request["scopes"] = json!(scope.split_whitespace().collect::<Vec<_>>());
    }
    let call = Call {
        trigger: Trigger::PreTokenGeneration,
        source: event.source,
        pool: &directory.pool,
        user_name: &user.username,
        client_id: Some(client_id),
        request: trigger::with_client_metadata_map(request, event.client_metadata),
    };
    run(service, &call, version).await
}

/// Runs the pool's PreTokenGeneration function for a machine's token (client_credentials),
/// if it has one of version 3: earlier versions never see machine tokens. The event names
/// the client as its `userName` and has no attributes or groups, since no user stands
/// behind the token.
pub async fn for_client(
    service: &Service,
    directory: &Directory,
    client_id: &str,
    scope: &str,
    client_metadata: Option<&Map<String, Value>>,
) -> Result<Option<TokenCustomization>, Error> {
    match trigger::function(&directory.pool, Trigger::PreTokenGeneration) {
        Some((_, "3")) => {}
        _ => return Ok(None),
    }
    let request = json!({
        "userAttributes": {},
        "groupConfiguration": {"groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": null},
        "scopes": scope.split_whitespace().collect::<Vec<_>>(),
    });
    let call = Call {
        trigger: Trigger::PreTokenGeneration,
        source: "TokenGeneration_ClientCredentials",
        pool: &directory.pool,
        user_name: client_id,
        client_id: Some(client_id),
        request: trigger::with_client_metadata_map(request, client_metadata),
    };
    run(service, &call, "3").await
}

/// Runs the function of `call` and reads its answer as a `version` event's.
async fn run(
    service: &Service,
    call: &Call<'_>,
    version: &str,
) -> Result<Option<TokenCustomization>, Error> {
    match trigger::run(service, call).await? {
        Some(response) => customization(version, &response).map(Some),
        None => Ok(None),
    }
}

/// Reads a function's `response` as the changes it asks for. A member of the wrong type is
/// an unrecognizable answer; changes to protected claims are dropped when the tokens are
/// built (see `tessera_core::is_protected_claim`).
pub fn customization(
    version: &str,
    response: &Map<String, Value>,
) -> Result<TokenCustomization, Error> {
    let mut customization = TokenCustomization::default();
    let versioned = if version == "1" {
        None
    } else {
        object(response.get("claimsAndScopeOverrideDetails"))?
    };
    match versioned {
        Some(details) => {
            if let Some(id) = object(details.get("idTokenGeneration"))? {
                customization.id_claims = claims(id.get("claimsToAddOrOverride"), true)?;
                customization.id_suppress = names(id.get("claimsToSuppress"))?;
            }
            if let Some(access) = object(details.get("accessTokenGeneration"))? {
                customization.access_claims = claims(access.get("claimsToAddOrOverride"), false)?;
                customization.access_suppress = names(access.get("claimsToSuppress"))?;
                customization.scopes_to_add = scopes(access.get("scopesToAdd"))?;
                customization.scopes_to_suppress = scopes(access.get("scopesToSuppress"))?;
            }
            customization.groups = groups(details)?;
        }
        // Version 1's shape: the ID token only, with string values.
        None => {
            if let Some(details) = object(response.get("claimsOverrideDetails"))? {
                customization.id_claims = claims(details.get("claimsToAddOrOverride"), false)?;
                if customization.id_claims.values().any(|v| !v.is_string()) && version == "1" {
                    return Err(unrecognizable());
                }
                customization.id_suppress = names(details.get("claimsToSuppress"))?;
                customization.groups = groups(details)?;
            }
        }
    }
    // Suppressing `cognito:groups` removes the groups and the roles that come with them.
    let suppressed = |list: &[String]| list.iter().any(|name| name == "cognito:groups");
    if suppressed(&customization.id_suppress) || suppressed(&customization.access_suppress) {
        customization.groups = Some(GroupOverride::default());
    }
    Ok(customization)
}

/// An object member: absent, `null` (and the empty list the documentation's test event
/// shows) mean none.
fn object(value: Option<&Value>) -> Result<Option<&Map<String, Value>>, Error> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(list)) if list.is_empty() => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err(unrecognizable()),
    }
}

/// `claimsToAddOrOverride`. In the ID token, the claims Cognito writes as scalars
/// (`email_verified`, `phone_number_verified`, `updated_at`, `address`) take no arrays or
/// objects; a `null` value asks for nothing.
fn claims(value: Option<&Value>, id_token: bool) -> Result<Map<String, Value>, Error> {
    let Some(map) = object(value)? else {
        return Ok(Map::new());
    };
    let mut claims = Map::new();
    for (name, value) in map {
        let complex = value.is_array() || value.is_object();
        let scalar_claim = matches!(
            name.as_str(),
            "email_verified" | "phone_number_verified" | "updated_at" | "address"
        );
        if id_token && complex && scalar_claim {
            return Err(unrecognizable());
        }
        if !value.is_null() {
            claims.insert(name.clone(), value.clone());
        }
    }
    Ok(claims)
}

/// A list of strings (absent or `null` is empty).
fn names(value: Option<&Value>) -> Result<Vec<String>, Error> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(list)) => list
            .iter()
            .map(|name| name.as_str().map(str::to_owned).ok_or_else(unrecognizable))
            .collect(),
        Some(_) => Err(unrecognizable()),
    }
}

/// Scope names, which cannot contain blanks.
fn scopes(value: Option<&Value>) -> Result<Vec<String>, Error> {
    let scopes = names(value)?;
    if scopes
        .iter()
        .any(|scope| scope.is_empty() || scope.chars().any(char::is_whitespace))
    {
        return Err(unrecognizable());
    }
    Ok(scopes)
}

/// `groupOverrideDetails`: when present, it replaces the user's groups and roles, and an
/// empty or `null` one removes them.
fn groups(details: &Map<String, Value>) -> Result<Option<GroupOverride>, Error> {
    if !details.contains_key("groupOverrideDetails") {
        return Ok(None);
    }
    let Some(given) = object(details.get("groupOverrideDetails"))? else {
        return Ok(Some(GroupOverride::default()));
    };
    let preferred_role = match given.get("preferredRole") {
        None | Some(Value::Null) => None,
        Some(Value::String(role)) => Some(role.clone()),
        Some(_) => return Err(unrecognizable()),
    };
    Ok(Some(GroupOverride {
        groups: names(given.get("groupsToOverride"))?,
        roles: names(given.get("iamRolesToOverride"))?,
        preferred_role,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(version: &str, response: Value) -> Result<TokenCustomization, Error> {
        customization(version, response.as_object().unwrap())
    }

    #[test]
    fn version_one_changes_the_id_token_with_strings() {
        let c = read(
            "1",
            json!({"claimsOverrideDetails": {
                "claimsToAddOrOverride": {"tier": "gold"},
                "claimsToSuppress": ["email"],
                "groupOverrideDetails": {"groupsToOverride": ["a"], "iamRolesToOverride": [], "preferredRole": null}
            }}),
        )
        .unwrap();
        assert_eq!(c.id_claims["tier"], "gold");
        assert_eq!(c.id_suppress, ["email"]);
        assert!(c.access_claims.is_empty());
        assert_eq!(c.groups.unwrap().groups, ["a"]);
        let error = read(
            "1",
            json!({"claimsOverrideDetails": {"claimsToAddOrOverride": {"roles": ["a"]}}}),
        )
        .unwrap_err();
        assert_eq!(error.kind, "InvalidLambdaResponseException");
        // A version-2 answer to a version-1 event changes nothing.
        let c = read(
            "1",
            json!({"claimsAndScopeOverrideDetails": {"idTokenGeneration": {"claimsToAddOrOverride": {"x": "y"}}}}),
        )
        .unwrap();
        assert_eq!(c, TokenCustomization::default());
    }

    #[test]
    fn version_two_changes_both_tokens_and_scopes() {
        let c = read(
            "2",
            json!({"claimsAndScopeOverrideDetails": {
                "idTokenGeneration": {"claimsToAddOrOverride": {"n": 1, "o": {"a": [true]}, "gone": null}},
                "accessTokenGeneration": {
                    "claimsToAddOrOverride": {"roles": ["r"]},
                    "claimsToSuppress": ["cognito:groups"],
                    "scopesToAdd": ["api/read"],
                    "scopesToSuppress": ["aws.cognito.signin.user.admin"]
                }
            }}),
        )
        .unwrap();
        assert_eq!(c.id_claims["o"], json!({"a": [true]}));
        assert!(!c.id_claims.contains_key("gone"));
        assert_eq!(c.access_claims["roles"], json!(["r"]));
        assert_eq!(c.scopes_to_add, ["api/read"]);
        assert_eq!(c.scopes_to_suppress, ["aws.cognito.signin.user.admin"]);
        // Suppressing the groups claim removes the groups.
        assert_eq!(c.groups, Some(GroupOverride::default()));
        // The documentation's own test event answers an empty list.
        assert_eq!(
            read("2", json!({"claimsAndScopeOverrideDetails": []})).unwrap(),
            TokenCustomization::default()
        );
    }

    #[test]
    fn malformed_answers_are_unrecognizable() {
        for (version, response) in [
            ("2", json!({"claimsAndScopeOverrideDetails": "x"})),
            (
                "2",
                json!({"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"scopesToAdd": ["a b"]}}}),
            ),
            (
                "2",
                json!({"claimsAndScopeOverrideDetails": {"accessTokenGeneration": {"claimsToSuppress": [1]}}}),
            ),
            (
                "3",
                json!({"claimsAndScopeOverrideDetails": {"idTokenGeneration": {"claimsToAddOrOverride": {"email_verified": [true]}}}}),
            ),
            (
                "1",
                json!({"claimsOverrideDetails": {"groupOverrideDetails": {"preferredRole": 3}}}),
            ),
        ] {
            let error = read(version, response).unwrap_err();
            assert_eq!(error.message, "Unrecognizable lambda output");
        }
    }

    #[test]
    fn a_null_group_override_removes_the_groups() {
        let c = read(
            "1",
            json!({"claimsOverrideDetails": {"groupOverrideDetails": null}}),
        )
        .unwrap();
        assert_eq!(c.groups, Some(GroupOverride::default()));
        let c = read("1", json!({"claimsOverrideDetails": {}})).unwrap();
        assert_eq!(c.groups, None);
    }
}
