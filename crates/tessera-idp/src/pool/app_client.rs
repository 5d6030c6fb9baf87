//! CreateUserPoolClient, DescribeUserPoolClient, UpdateUserPoolClient,
//! DeleteUserPoolClient and ListUserPoolClients.
//!
//! As with pools, UpdateUserPoolClient replaces every setting: one the request leaves out
//! returns to its default (Cognito documents this, and SDK users trip over it).

use serde_json::{json, Map, Value};
use tessera_core::{app_client_id, app_client_secret, AppClient};

use crate::input::{decode_token, encode_token, epoch_seconds, Input};
use crate::oauth_config::resource_server;
use crate::pool::user_pool;
use crate::{Error, Service};

/// Client settings stored as given, defaults applied after.
const SETTINGS: &[&str] = &[
    "RefreshTokenValidity",
    "AccessTokenValidity",
    "IdTokenValidity",
    "TokenValidityUnits",
    "ReadAttributes",
    "WriteAttributes",
    "ExplicitAuthFlows",
    "SupportedIdentityProviders",
    "CallbackURLs",
    "LogoutURLs",
    "DefaultRedirectURI",
    "AllowedOAuthFlows",
    "AllowedOAuthScopes",
    "AllowedOAuthFlowsUserPoolClient",
    "AnalyticsConfiguration",
    "PreventUserExistenceErrors",
    "EnableTokenRevocation",
    "EnablePropagateAdditionalUserContextData",
    "AuthSessionValidity",
    "RefreshTokenRotation",
];

/// Scopes every pool knows without a resource server.
const STANDARD_SCOPES: &[&str] = &[
    "phone",
    "email",
    "openid",
    "profile",
    "aws.cognito.signin.user.admin",
];

pub async fn create(state: &Service, input: Input) -> Result<Value, Error> {
    let client = create_client(state, input, None).await?;
    Ok(json!({ "UserPoolClient": describe_client(&client) }))
}

/// Creates a client with a fresh id and secret, or with the given ones (declarative
/// bootstrap; the secret is used when `GenerateSecret` is true).
pub async fn create_client(
    state: &Service,
    input: Input,
    fixed: Option<(String, Option<String>)>,
) -> Result<AppClient, Error> {
    let (fixed_id, fixed_secret) = match fixed {
        Some((id, secret)) => (Some(id), secret),
        None => (None, None),
    };
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let generate_secret = input.bool("GenerateSecret").unwrap_or(false);
    let settings = client_settings(&input, &pool, generate_secret, Change::Create)?;
    check_custom_scopes(state, &pool.id, &settings).await?;
    crate::federation::provider::check_supported(
        state,
        &pool.id,
        &strings(&settings, "SupportedIdentityProviders"),
    )
    .await?;
    let now = state.clock.now();
    let client = AppClient {
        user_pool_id: pool.id.clone(),
        client_id: fixed_id.unwrap_or_else(|| app_client_id(state.random.as_ref())),
        client_name: input.required_str("ClientName")?.to_owned(),
        secret: generate_secret
            .then(|| fixed_secret.unwrap_or_else(|| app_client_secret(state.random.as_ref()))),
        created_at: now,
        last_modified_at: now,
        settings,
    };
    state.store.insert_app_client(&client).await?;
    Ok(client)
}

pub async fn describe(state: &Service, input: Input) -> Result<Value, Error> {
    let client = load(state, &input).await?;
    Ok(json!({ "UserPoolClient": describe_client(&client) }))
}

pub async fn update(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let mut client = load(state, &input).await?;
    client.settings = client_settings(&input, &pool, client.secret.is_some(), Change::Update)?;
    check_custom_scopes(state, &pool.id, &client.settings).await?;
    crate::federation::provider::check_supported(
        state,
        &pool.id,
        &strings(&client.settings, "SupportedIdentityProviders"),
    )
    .await?;
    if let Some(name) = input.str("ClientName") {
        client.client_name = name.to_owned();
    }
    client.last_modified_at = state.clock.now();
    if !state.store.update_app_client(&client).await? {
        return Err(Error::client_not_found(&client.client_id));
    }
    Ok(json!({ "UserPoolClient": describe_client(&client) }))
}

pub async fn delete(state: &Service, input: Input) -> Result<Value, Error> {
    let pool_id = input.user_pool_id()?;
    let client_id = input.required_str("ClientId")?;
    user_pool::load(state, pool_id).await?;
    if !state.store.delete_app_client(pool_id, client_id).await? {
        return Err(Error::client_not_found(client_id));
    }
    Ok(json!({}))
}

pub async fn list(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let limit = u32::try_from(input.i64("MaxResults").unwrap_or(60)).unwrap_or(60);
    let after = input.str("NextToken").map(decode_token).transpose()?;
    let mut clients = state
        .store
        .list_app_clients(&pool.id, after.as_deref(), limit + 1)
        .await?;
    let more = clients.len() > limit as usize;
    clients.truncate(limit as usize);
    let descriptions: Vec<Value> = clients
        .iter()
        .map(|c| json!({ "ClientId": c.client_id, "UserPoolId": c.user_pool_id, "ClientName": c.client_name }))
        .collect();
    let mut output = json!({ "UserPoolClients": descriptions });
    if more {
        if let Some(last) = clients.last() {
            output["NextToken"] = json!(encode_token(&last.client_id));
        }
    }
    Ok(output)
}

async fn load(state: &Service, input: &Input) -> Result<AppClient, Error> {
    let pool_id = input.user_pool_id()?;
    let client_id = input.required_str("ClientId")?;
    match state.store.app_client(client_id).await? {
        Some(client) if client.user_pool_id == pool_id => Ok(client),
        _ => {
            // Cognito names the pool when the pool itself is missing.
            user_pool::load(state, pool_id).await?;
            Err(Error::client_not_found(client_id))
        }
    }
}

/// The `UserPoolClientType` document.
pub fn describe_client(client: &AppClient) -> Value {
    let mut out = Map::new();
    out.insert("UserPoolId".into(), json!(client.user_pool_id));
    out.insert("ClientName".into(), json!(client.client_name));
    out.insert("ClientId".into(), json!(client.client_id));
    if let Some(secret) = &client.secret {
        out.insert("ClientSecret".into(), json!(secret));
    }
    out.insert(
        "LastModifiedDate".into(),
        epoch_seconds(client.last_modified_at),
    );
    out.insert("CreationDate".into(), epoch_seconds(client.created_at));
    for (member, value) in &client.settings {
        out.insert(member.clone(), value.clone());
    }
    Value::Object(out)
}

/// A token validity in minutes, for range checks.
fn minutes(value: i64, unit: &str) -> i64 {
    match unit {
        "seconds" => value / 60,
        "minutes" => value,
        "hours" => value.saturating_mul(60),
        _ => value.saturating_mul(24 * 60),
    }
}

/// Whether a client's settings are being created or replaced; Cognito's messages say which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// CreateUserPoolClient.
    Create,
    /// UpdateUserPoolClient.
    Update,
}

/// Validates a Create or Update request's settings and applies Cognito's defaults.
pub fn client_settings(
    input: &Input,
    pool: &tessera_core::UserPool,
    has_secret: bool,
    change: Change,
) -> Result<Map<String, Value>, Error> {
    let mut settings = Map::new();
    for member in SETTINGS {
        if let Some(value) = input.get(member) {
            settings.insert((*member).into(), value.clone());
        }
    }

    // Token validities: a value given without a unit is in hours (access and ID tokens) or
    // days (refresh tokens); a client created without any has 60 minutes, 60 minutes and
    // 30 days.
    let mut units = settings
        .remove("TokenValidityUnits")
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let mut validity = |member: &str,
                        unit_member: &str,
                        default_value: i64,
                        default_unit: &str,
                        given_unit: &str| {
        let value = settings.get(member).and_then(Value::as_i64);
        let unit = match (value, units.get(unit_member).and_then(Value::as_str)) {
            (_, Some(unit)) => unit.to_owned(),
            (Some(_), None) => given_unit.to_owned(),
            (None, None) => default_unit.to_owned(),
        };
        let value = value.unwrap_or(default_value);
        settings.insert(member.into(), json!(value));
        units.insert(unit_member.into(), json!(unit));
        minutes(value, &unit)
    };
    let access = validity("AccessTokenValidity", "AccessToken", 60, "minutes", "hours");
    let id = validity("IdTokenValidity", "IdToken", 60, "minutes", "hours");
    let refresh = validity("RefreshTokenValidity", "RefreshToken", 30, "days", "days");
    settings.insert("TokenValidityUnits".into(), Value::Object(units));
    if !(5..=24 * 60).contains(&access) {
        return Err(Error::invalid_parameter(
            "Access token validity must be between 5 minutes and 1 day.",
        ));
    }
    if !(5..=24 * 60).contains(&id) {
        return Err(Error::invalid_parameter(
            "Id token validity must be between 5 minutes and 1 day.",
        ));
    }
    if !(60..=3650 * 24 * 60).contains(&refresh) {
        return Err(Error::invalid_parameter(
            "Refresh token validity must be between 60 minutes and 10 years.",
        ));
    }
    if refresh <= access || refresh <= id {
        return Err(Error::invalid_parameter(
            "Refresh token validity must be greater than the access token and ID token validity.",
        ));
    }

    let flows: Vec<&str> = settings
        .get("ExplicitAuthFlows")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let modern = flows.iter().filter(|f| f.starts_with("ALLOW_")).count();
    if modern != 0 && modern != flows.len() {
        return Err(Error::invalid_parameter(
            "ExplicitAuthFlow values cannot be mixed with ALLOW_ and non-ALLOW_ prefix.",
        ));
    }
    if settings.get("ExplicitAuthFlows").is_none() {
        settings.insert(
            "ExplicitAuthFlows".into(),
            json!([
                "ALLOW_REFRESH_TOKEN_AUTH",
                "ALLOW_USER_SRP_AUTH",
                "ALLOW_CUSTOM_AUTH"
            ]),
        );
    }

    validate_oauth(&settings, has_secret)?;
    validate_attributes(&settings, pool, change)?;

    settings
        .entry("AllowedOAuthFlowsUserPoolClient")
        .or_insert(json!(false));
    // PreventUserExistenceErrors is left out when not given: through the API it then means
    // LEGACY ("Defaults to LEGACY when you don't provide a value", API reference; the console
    // is what selects ENABLED), and Cognito does not return the member. terraform-provider-aws'
    // acceptance test TestAccCognitoIDPUserPoolClient_basic, run against AWS, reads it back
    // empty from DescribeUserPoolClient for a client created without it.
    settings
        .entry("EnableTokenRevocation")
        .or_insert(json!(true));
    settings
        .entry("EnablePropagateAdditionalUserContextData")
        .or_insert(json!(false));
    settings.entry("AuthSessionValidity").or_insert(json!(3));
    Ok(settings)
}

fn scope_does_not_exist(scope: &str) -> Error {
    Error::new(
        "ScopeDoesNotExistException",
        format!("Invalid scope requested: {}", tessera_core::excerpt(scope)),
    )
}

/// Refuses custom scopes that no resource server of the pool defines.
async fn check_custom_scopes(
    state: &Service,
    pool_id: &str,
    settings: &Map<String, Value>,
) -> Result<(), Error> {
    let mut custom = strings(settings, "AllowedOAuthScopes");
    custom.retain(|s| !STANDARD_SCOPES.contains(s));
    match resource_server::unknown_custom_scope(state, pool_id, custom).await? {
        Some(scope) => Err(scope_does_not_exist(scope)),
        None => Ok(()),
    }
}

/// The strings of a list member of a client's settings (`AllowedOAuthFlows`, …).
pub fn strings<'a>(settings: &'a Map<String, Value>, member: &str) -> Vec<&'a str> {
    settings
        .get(member)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn validate_oauth(settings: &Map<String, Value>, has_secret: bool) -> Result<(), Error> {
    let flows = strings(settings, "AllowedOAuthFlows");
    let scopes = strings(settings, "AllowedOAuthScopes");
    let enabled = settings
        .get("AllowedOAuthFlowsUserPoolClient")
        .and_then(Value::as_bool)
        == Some(true);
    if enabled && (flows.is_empty() || scopes.is_empty()) {
        return Err(Error::invalid_parameter(
            "AllowedOAuthFlows and AllowedOAuthScopes are required if user pool client is allowed to use OAuth flows.",
        ));
    }
    if flows.contains(&"client_credentials") {
        if !has_secret {
            return Err(Error::invalid_parameter(
                "client_credentials flow can not be selected if client does not have a client secret.",
            ));
        }
        if flows.len() > 1 {
            return Err(Error::invalid_parameter(
                "client_credentials flow can not be selected along with code flow or implicit flow.",
            ));
        }
    }
    // Custom scopes (`<identifier>/<scope name>`) are checked against the pool's resource
    // servers by `check_custom_scopes`.
    if let Some(scope) = scopes
        .iter()
        .find(|s| !STANDARD_SCOPES.contains(s) && !s.contains('/'))
    {
        return Err(scope_does_not_exist(scope));
    }
    if scopes
        .iter()
        .any(|s| *s != "openid" && ["email", "profile", "phone"].contains(s))
        && !scopes.contains(&"openid")
    {
        return Err(Error::invalid_parameter(
            "Scopes email, phone and profile require the openid scope.",
        ));
    }
    let callbacks = strings(settings, "CallbackURLs");
    for url in callbacks
        .iter()
        .chain(strings(settings, "LogoutURLs").iter())
    {
        if !acceptable_redirect(url) {
            return Err(Error::invalid_parameter(format!(
                "Invalid URL {}: redirect URLs must be absolute, use https (http only for localhost) and have no fragment.",
                tessera_core::excerpt(url)
            )));
        }
    }
    if (flows.contains(&"code") || flows.contains(&"implicit")) && callbacks.is_empty() {
        return Err(Error::invalid_parameter(
            "CallbackURLs are required when the code or implicit flow is allowed.",
        ));
    }
    if let Some(default) = settings.get("DefaultRedirectURI").and_then(Value::as_str) {
        if !callbacks.contains(&default) {
            return Err(Error::invalid_parameter(
                "DefaultRedirectURI must be one of the CallbackURLs.",
            ));
        }
    }
    Ok(())
}

/// Cognito accepts https URLs, http only for localhost, and custom app schemes
/// (`myapp://callback`), never with a fragment.
fn acceptable_redirect(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    if url.contains('#')
        || rest.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return false;
    }
    match scheme.to_ascii_lowercase().as_str() {
        "http" => {
            let host = rest.split(['/', '?']).next().unwrap_or("");
            let host = host.rsplit_once(':').map_or(host, |(h, port)| {
                if port.chars().all(|c| c.is_ascii_digit()) {
                    h
                } else {
                    host
                }
            });
            matches!(host, "localhost" | "127.0.0.1" | "[::1]")
        }
        _ => true,
    }
}

/// Refuses Read or WriteAttributes that name an attribute the pool does not have, in
/// Cognito's words, which name neither the attribute nor anything else:
/// `Invalid read attributes specified while creating a client` (aws-cdk issue 34379),
/// `Invalid write attributes specified while creating a client` (aws-cdk issues 20760, 2608),
/// `Invalid write attributes specified while updating a client` (aws-sdk-java issue 1395), and
/// by analogy, not seen, `Invalid read attributes specified while updating a client`.
fn validate_attributes(
    settings: &Map<String, Value>,
    pool: &tessera_core::UserPool,
    change: Change,
) -> Result<(), Error> {
    let schema: Vec<&str> = pool
        .settings
        .get("SchemaAttributes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.get("Name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    let doing = match change {
        Change::Create => "creating",
        Change::Update => "updating",
    };
    for (member, what) in [("ReadAttributes", "read"), ("WriteAttributes", "write")] {
        if strings(settings, member)
            .iter()
            .any(|attribute| !schema.contains(attribute))
        {
            return Err(Error::invalid_parameter(format!(
                "Invalid {what} attributes specified while {doing} a client"
            )));
        }
    }
    Ok(())
}
