//! CreateResourceServer, DescribeResourceServer, UpdateResourceServer,
//! DeleteResourceServer and ListResourceServers, and the check of custom scopes
//! (`<identifier>/<scope name>`) that app clients may be allowed.
//!
//! UpdateResourceServer replaces the name and the whole scope list, as in Cognito. Deleting
//! a resource server leaves clients that list its scopes untouched; a scope that no longer
//! exists is simply never granted.

use std::collections::HashSet;

use serde_json::{json, Value};
use tessera_store::{ResourceServer, StoreError};

use crate::input::{decode_token, encode_token, Input};
use crate::pool::user_pool;
use crate::{Error, Service};

/// The model's bound for ListResourceServers' MaxResults.
const MAX_RESULTS: u32 = 50;

/// The `ResourceServerType` document. A server without scopes has no `Scopes` member at all,
/// rather than an empty list. That is moto's answer (PR 7167, for issue 7163, which asserts
/// `"Scopes" not in ResourceServer`); no real Cognito response was found, and the model makes
/// the member optional.
fn resource_server_type(server: &ResourceServer) -> Value {
    let mut out = json!({
        "UserPoolId": server.pool_id,
        "Identifier": server.identifier,
        "Name": server.name,
    });
    if !server.scopes.is_empty() {
        out["Scopes"] = json!(server.scopes);
    }
    out
}

fn not_found(identifier: &str) -> Error {
    Error::not_found(format!(
        "Resource server {} does not exist.",
        tessera_core::excerpt(identifier)
    ))
}

/// The scopes of a request, refused when a name repeats.
fn scopes(input: &Input) -> Result<Vec<Value>, Error> {
    let scopes = input
        .get("Scopes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut seen = HashSet::new();
    for scope in &scopes {
        let name = scope
            .get("ScopeName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !seen.insert(name) {
            return Err(Error::invalid_parameter(format!(
                "Duplicate scope name {} in the scopes of a resource server.",
                tessera_core::excerpt(name)
            )));
        }
    }
    Ok(scopes)
}

async fn load(state: &Service, input: &Input) -> Result<ResourceServer, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let identifier = input.required_str("Identifier")?;
    state
        .store
        .resource_server(&pool.id, identifier)
        .await?
        .ok_or_else(|| not_found(identifier))
}

pub async fn create(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let server = ResourceServer {
        pool_id: pool.id.clone(),
        identifier: input.required_str("Identifier")?.to_owned(),
        name: input.required_str("Name")?.to_owned(),
        scopes: scopes(&input)?,
        created_at: state.clock.now(),
    };
    state
        .store
        .insert_resource_server(&server)
        .await
        .map_err(|error| match error {
            // moto's wording (the only one found; no real Cognito answer was seen, neither
            // its text nor its exception).
            StoreError::Conflict => Error::invalid_parameter(format!(
                "{} already exists in user pool {}.",
                tessera_core::excerpt(&server.identifier),
                server.pool_id
            )),
            other => other.into(),
        })?;
    Ok(json!({ "ResourceServer": resource_server_type(&server) }))
}

pub async fn describe(state: &Service, input: Input) -> Result<Value, Error> {
    let server = load(state, &input).await?;
    Ok(json!({ "ResourceServer": resource_server_type(&server) }))
}

pub async fn update(state: &Service, input: Input) -> Result<Value, Error> {
    let mut server = load(state, &input).await?;
    server.name = input.required_str("Name")?.to_owned();
    server.scopes = scopes(&input)?;
    if !state.store.update_resource_server(&server).await? {
        return Err(not_found(&server.identifier));
    }
    Ok(json!({ "ResourceServer": resource_server_type(&server) }))
}

pub async fn delete(state: &Service, input: Input) -> Result<Value, Error> {
    let server = load(state, &input).await?;
    if !state
        .store
        .delete_resource_server(&server.pool_id, &server.identifier)
        .await?
    {
        return Err(not_found(&server.identifier));
    }
    Ok(json!({}))
}

pub async fn list(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let limit = u32::try_from(input.i64("MaxResults").unwrap_or(i64::from(MAX_RESULTS)))
        .unwrap_or(MAX_RESULTS)
        .clamp(1, MAX_RESULTS);
    let after = input.str("NextToken").map(decode_token).transpose()?;
    let mut servers = state
        .store
        .list_resource_servers(&pool.id, after.as_deref(), limit + 1)
        .await?;
    let more = servers.len() > limit as usize;
    servers.truncate(limit as usize);
    let mut output = json!({
        "ResourceServers": servers.iter().map(resource_server_type).collect::<Vec<_>>(),
    });
    if more {
        if let Some(last) = servers.last() {
            output["NextToken"] = json!(encode_token(&last.identifier));
        }
    }
    Ok(output)
}

/// The first of `scopes` that names no scope of a resource server of the pool. A custom
/// scope is `<identifier>/<scope name>`; identifiers may contain `/` but scope names may
/// not, so the name is what follows the last `/`.
pub async fn unknown_custom_scope<'a>(
    state: &Service,
    pool_id: &str,
    scopes: Vec<&'a str>,
) -> Result<Option<&'a str>, Error> {
    let existing = existing_custom_scopes(state, pool_id, &scopes).await?;
    Ok(scopes.into_iter().find(|scope| !existing.contains(scope)))
}

/// The scopes of `scopes` that a resource server of the pool has, in their order. Each
/// resource server is read once, however many of its scopes are asked for (the token
/// endpoint asks on every request, and on PostgreSQL each read is a query).
pub async fn existing_custom_scopes<'a>(
    state: &Service,
    pool_id: &str,
    scopes: &[&'a str],
) -> Result<Vec<&'a str>, Error> {
    let mut servers: Vec<(&str, Option<tessera_store::ResourceServer>)> = Vec::new();
    let mut existing = Vec::with_capacity(scopes.len());
    for scope in scopes {
        let Some((identifier, name)) = scope.rsplit_once('/') else {
            continue;
        };
        let position = match servers.iter().position(|(id, _)| *id == identifier) {
            Some(position) => position,
            None => {
                let server = state.store.resource_server(pool_id, identifier).await?;
                servers.push((identifier, server));
                servers.len() - 1
            }
        };
        if servers[position]
            .1
            .as_ref()
            .is_some_and(|server| server.scope_names().any(|n| n == name))
        {
            existing.push(*scope);
        }
    }
    Ok(existing)
}

/// The scopes of `scope` (space-separated, as granted) that still hold for `client`: those it
/// is still allowed (`AllowedOAuthScopes`), custom ones only while their resource server
/// still has them. Used when a code is redeemed and when a session is refreshed, so that
/// taking a scope away from a client takes it away from the sessions it already has.
pub async fn still_granted(
    state: &Service,
    client: &tessera_core::AppClient,
    pool_id: &str,
    scope: &str,
) -> Result<String, Error> {
    let allowed = crate::pool::app_client::strings(&client.settings, "AllowedOAuthScopes");
    let kept: Vec<&str> = scope
        .split(' ')
        .filter(|s| !s.is_empty() && allowed.contains(s))
        .collect();
    let custom: Vec<&str> = kept.iter().copied().filter(|s| s.contains('/')).collect();
    let existing = existing_custom_scopes(state, pool_id, &custom).await?;
    Ok(kept
        .into_iter()
        .filter(|s| !s.contains('/') || existing.contains(s))
        .collect::<Vec<_>>()
        .join(" "))
}
