//! Identity pools: create, describe, update (a whole replacement, as in Cognito), delete and
//! list; their roles and role mappings; principal-tag maps; tags.

use serde_json::{json, Map, Value};
use tessera_core::{excerpt, IdentityPool};
use tessera_idp::input::{decode_token, encode_token};

use crate::{Error, IdentityService, Input};

/// The most rules one provider's role mapping may hold (Cognito's limit; the model allows 400).
const MAX_RULES: usize = 25;
/// The most tags a resource may carry.
const MAX_TAGS: usize = 50;

/// `ResourceNotFoundException` for an identity pool.
pub fn pool_not_found(id: &str) -> Error {
    Error::not_found(format!("IdentityPool '{}' not found.", excerpt(id)))
}

/// A write from a read that another write has since replaced (wording ours).
fn concurrent_modification() -> Error {
    Error::new(
        "ConcurrentModificationException",
        "The identity pool was changed by another request; read it again and retry.",
    )
}

/// The members of an `IdentityPool` kept in its settings (all but the id).
const SETTINGS: [&str; 9] = [
    "IdentityPoolName",
    "AllowUnauthenticatedIdentities",
    "AllowClassicFlow",
    "SupportedLoginProviders",
    "DeveloperProviderName",
    "OpenIdConnectProviderARNs",
    "CognitoIdentityProviders",
    "SamlProviderARNs",
    "IdentityPoolTags",
];

/// Loads a pool; a signed request only sees the pools of the region it was signed for.
pub async fn load(state: &IdentityService, input: &Input, id: &str) -> Result<IdentityPool, Error> {
    if let Some(region) = input.region() {
        if tessera_core::region_of_identity_id(id) != Some(region) {
            return Err(pool_not_found(id));
        }
    }
    state
        .store()
        .identity_pool(id)
        .await?
        .ok_or_else(|| pool_not_found(id))
}

/// The `IdentityPool` shape of a pool.
pub fn describe_pool(pool: &IdentityPool) -> Value {
    let mut out = Map::new();
    out.insert("IdentityPoolId".into(), json!(pool.id));
    for name in SETTINGS {
        if let Some(value) = pool.settings.get(name) {
            out.insert(name.into(), value.clone());
        }
    }
    out.entry("AllowClassicFlow").or_insert(json!(false));
    out.entry("IdentityPoolTags").or_insert(json!({}));
    Value::Object(out)
}

fn settings_of(input: &Input) -> Map<String, Value> {
    SETTINGS
        .iter()
        .filter_map(|name| input.get(name).map(|v| ((*name).to_owned(), v.clone())))
        .collect()
}

/// What every configuration write checks: a user-pool provider is named as Cognito names it
/// (or as the issuer of this server's tokens, which is what Amplify computes), and tags stay
/// within bounds.
fn check_settings(state: &IdentityService, settings: &Map<String, Value>) -> Result<(), Error> {
    for provider in settings
        .get("CognitoIdentityProviders")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = provider
            .get("ProviderName")
            .and_then(Value::as_str)
            .unwrap_or("");
        if crate::login::user_pool_of_provider(state, name).is_none() {
            return Err(Error::invalid_parameter(format!(
                "Invalid Cognito Identity Provider {}: expected cognito-idp.<region>.amazonaws.com/<user pool id>.",
                excerpt(name)
            )));
        }
    }
    if settings
        .get("IdentityPoolTags")
        .and_then(Value::as_object)
        .is_some_and(|tags| tags.len() > MAX_TAGS)
    {
        return Err(Error::invalid_parameter(format!(
            "A resource can have at most {MAX_TAGS} tags."
        )));
    }
    Ok(())
}

/// The region a new pool belongs to: the one the request was signed for.
fn region(state: &IdentityService, input: &Input) -> String {
    input
        .region()
        .map_or_else(|| state.idp.config.region.clone(), str::to_owned)
}

pub async fn create(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let settings = settings_of(&input);
    check_settings(state, &settings)?;
    let now = state.now();
    let pool = IdentityPool {
        id: state.new_id(&region(state, &input)),
        name: input.required_str("IdentityPoolName")?.to_owned(),
        settings,
        roles: Map::new(),
        principal_tags: Map::new(),
        created_at: now,
        last_modified_at: now,
        version: 0,
    };
    state.store().insert_identity_pool(&pool).await?;
    Ok(describe_pool(&pool))
}

pub async fn describe(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let pool = load(state, &input, input.required_str("IdentityPoolId")?).await?;
    Ok(describe_pool(&pool))
}

pub async fn update(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let id = input.required_str("IdentityPoolId")?;
    let mut pool = load(state, &input, id).await?;
    let mut settings = settings_of(&input);
    check_settings(state, &settings)?;
    // "Once you have set a developer provider name, you cannot change it."
    let before = pool.settings.get("DeveloperProviderName");
    if before.is_some() && settings.get("DeveloperProviderName") != before {
        return Err(Error::invalid_parameter(
            "The developer provider name of an identity pool cannot be changed once set.",
        ));
    }
    // Tags are not part of an update; they stay as they were unless named.
    if !settings.contains_key("IdentityPoolTags") {
        if let Some(tags) = pool.settings.get("IdentityPoolTags") {
            settings.insert("IdentityPoolTags".into(), tags.clone());
        }
    }
    pool.name = input.required_str("IdentityPoolName")?.to_owned();
    pool.settings = settings;
    pool.last_modified_at = state.now();
    if !state.store().update_identity_pool(&pool).await? {
        return Err(concurrent_modification());
    }
    Ok(describe_pool(&pool))
}

pub async fn delete(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let pool = load(state, &input, input.required_str("IdentityPoolId")?).await?;
    if !state.store().delete_identity_pool(&pool.id).await? {
        return Err(pool_not_found(&pool.id));
    }
    Ok(json!({}))
}

pub async fn list(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let limit = input.i64("MaxResults").unwrap_or(60).clamp(1, 60);
    let after = match input.str("NextToken") {
        Some(token) => decode_token(token)?,
        None => String::new(),
    };
    let region = input.region().map(str::to_owned);
    // Pools of other regions are skipped, so a page is read until it is full or the table
    // ends.
    let mut pools = Vec::new();
    let mut cursor = after;
    let mut more = false;
    loop {
        let page = state.store().identity_pools(&cursor, limit + 1).await?;
        let ended = page.len() <= usize::try_from(limit).unwrap_or(60);
        for pool in page {
            cursor.clone_from(&pool.id);
            if region
                .as_deref()
                .is_some_and(|r| tessera_core::region_of_identity_id(&pool.id) != Some(r))
            {
                continue;
            }
            if pools.len() == usize::try_from(limit).unwrap_or(60) {
                more = true;
                break;
            }
            pools.push(pool);
        }
        if more || ended {
            break;
        }
    }
    let mut out = json!({
        "IdentityPools": pools.iter().map(|p| json!({
            "IdentityPoolId": p.id,
            "IdentityPoolName": p.name,
        })).collect::<Vec<_>>(),
    });
    if more {
        if let Some(last) = pools.last() {
            out["NextToken"] = json!(encode_token(&last.id));
        }
    }
    Ok(out)
}

/// The provider keys a role mapping may name: `<user-pool provider>:<client id>` for each
/// configured Cognito provider, and the name of every OpenID Connect, SAML and
/// social provider.
pub fn mapping_keys(pool: &IdentityPool) -> Vec<String> {
    let mut keys = Vec::new();
    for provider in pool
        .settings
        .get("CognitoIdentityProviders")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let (Some(name), Some(client)) = (
            provider.get("ProviderName").and_then(Value::as_str),
            provider.get("ClientId").and_then(Value::as_str),
        ) {
            keys.push(format!("{name}:{client}"));
        }
    }
    for arn in ["OpenIdConnectProviderARNs", "SamlProviderARNs"]
        .iter()
        .filter_map(|name| pool.settings.get(*name).and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
    {
        keys.push(arn.to_owned());
        if let Some((_, name)) = arn.split_once(":oidc-provider/") {
            keys.push(name.to_owned());
        }
    }
    if let Some(providers) = pool
        .settings
        .get("SupportedLoginProviders")
        .and_then(Value::as_object)
    {
        keys.extend(providers.keys().cloned());
    }
    keys
}

pub async fn set_roles(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let mut pool = load(state, &input, input.required_str("IdentityPoolId")?).await?;
    let roles = input.get("Roles").cloned().unwrap_or_else(|| json!({}));
    let mappings = input
        .get("RoleMappings")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let known = mapping_keys(&pool);
    for (key, mapping) in &mappings {
        if !known.iter().any(|k| k == key) {
            return Err(Error::invalid_parameter(format!(
                "{} is not a valid RoleMapping ProviderName or is not a configured provider.",
                excerpt(key)
            )));
        }
        let kind = mapping.get("Type").and_then(Value::as_str).unwrap_or("");
        let rules = mapping
            .pointer("/RulesConfiguration/Rules")
            .and_then(Value::as_array);
        if kind == "Rules" && rules.is_none() {
            return Err(Error::invalid_parameter(format!(
                "RulesConfiguration is required for the Rules role mapping of {}.",
                excerpt(key)
            )));
        }
        if rules.is_some_and(|rules| rules.len() > MAX_RULES) {
            return Err(Error::invalid_parameter(format!(
                "At most {MAX_RULES} rules can be specified per identity provider."
            )));
        }
        if mapping.get("AmbiguousRoleResolution").is_none() {
            return Err(Error::invalid_parameter(format!(
                "AmbiguousRoleResolution must be specified for the role mapping of {}.",
                excerpt(key)
            )));
        }
    }
    let mut document = Map::new();
    document.insert("Roles".into(), roles);
    if !mappings.is_empty() {
        document.insert("RoleMappings".into(), Value::Object(mappings));
    }
    pool.roles = document;
    pool.last_modified_at = state.now();
    if !state.store().update_identity_pool(&pool).await? {
        return Err(concurrent_modification());
    }
    Ok(json!({}))
}

pub async fn get_roles(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let pool = load(state, &input, input.required_str("IdentityPoolId")?).await?;
    let mut out = json!({
        "IdentityPoolId": pool.id,
        "Roles": pool.roles.get("Roles").cloned().unwrap_or_else(|| json!({})),
    });
    if let Some(mappings) = pool.roles.get("RoleMappings") {
        out["RoleMappings"] = mappings.clone();
    }
    Ok(out)
}

/// The default principal-tag map of a user-pool provider: `username` from `sub` and
/// `client` from `aud`.
pub fn default_principal_tags() -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("username".into(), json!("sub"));
    map.insert("client".into(), json!("aud"));
    map
}

pub async fn set_principal_tags(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let mut pool = load(state, &input, input.required_str("IdentityPoolId")?).await?;
    let provider = input.required_str("IdentityProviderName")?.to_owned();
    let use_defaults = input.bool("UseDefaults").unwrap_or(false);
    let tags = if use_defaults {
        default_principal_tags()
    } else {
        input
            .get("PrincipalTags")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    pool.principal_tags.insert(
        provider.clone(),
        json!({ "UseDefaults": use_defaults, "PrincipalTags": tags }),
    );
    pool.last_modified_at = state.now();
    if !state.store().update_identity_pool(&pool).await? {
        return Err(concurrent_modification());
    }
    Ok(json!({
        "IdentityPoolId": pool.id,
        "IdentityProviderName": provider,
        "UseDefaults": use_defaults,
        "PrincipalTags": tags,
    }))
}

pub async fn get_principal_tags(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let pool = load(state, &input, input.required_str("IdentityPoolId")?).await?;
    let provider = input.required_str("IdentityProviderName")?;
    let entry = pool.principal_tags.get(provider);
    Ok(json!({
        "IdentityPoolId": pool.id,
        "IdentityProviderName": provider,
        "UseDefaults": entry.and_then(|e| e.get("UseDefaults")).cloned().unwrap_or(json!(false)),
        "PrincipalTags": entry.and_then(|e| e.get("PrincipalTags")).cloned().unwrap_or_else(|| json!({})),
    }))
}

/// The pool an identity-pool ARN names, in this account and (for a signed request) region.
async fn pool_of_arn(
    state: &IdentityService,
    input: &Input,
    arn: &str,
) -> Result<IdentityPool, Error> {
    let missing = || Error::not_found(format!("Resource {} does not exist.", excerpt(arn)));
    let rest = arn
        .strip_prefix("arn:aws:cognito-identity:")
        .ok_or_else(missing)?;
    let (region, rest) = rest.split_once(':').ok_or_else(missing)?;
    let id = rest
        .strip_prefix(&format!("{}:identitypool/", state.account_id()))
        .ok_or_else(missing)?;
    if tessera_core::region_of_identity_id(id) != Some(region) {
        return Err(missing());
    }
    load(state, input, id).await.map_err(|_| missing())
}

async fn save_tags(
    state: &IdentityService,
    mut pool: IdentityPool,
    tags: Map<String, Value>,
) -> Result<(), Error> {
    if tags.len() > MAX_TAGS {
        return Err(Error::invalid_parameter(format!(
            "A resource can have at most {MAX_TAGS} tags."
        )));
    }
    pool.settings
        .insert("IdentityPoolTags".into(), Value::Object(tags));
    if !state.store().update_identity_pool(&pool).await? {
        return Err(concurrent_modification());
    }
    Ok(())
}

fn tags_of(pool: &IdentityPool) -> Map<String, Value> {
    pool.settings
        .get("IdentityPoolTags")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

pub async fn tag(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let pool = pool_of_arn(state, &input, input.required_str("ResourceArn")?).await?;
    let mut tags = tags_of(&pool);
    if let Some(new) = input.get("Tags").and_then(Value::as_object) {
        tags.extend(new.clone());
    }
    save_tags(state, pool, tags).await?;
    Ok(json!({}))
}

pub async fn untag(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let pool = pool_of_arn(state, &input, input.required_str("ResourceArn")?).await?;
    let mut tags = tags_of(&pool);
    for key in input.strings("TagKeys") {
        tags.remove(&key);
    }
    save_tags(state, pool, tags).await?;
    Ok(json!({}))
}

pub async fn list_tags(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let pool = pool_of_arn(state, &input, input.required_str("ResourceArn")?).await?;
    Ok(json!({ "Tags": tags_of(&pool) }))
}
