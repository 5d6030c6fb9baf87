//! CreateUserPool, DescribeUserPool, UpdateUserPool, DeleteUserPool and ListUserPools.
//!
//! Like Cognito, UpdateUserPool replaces the whole updatable configuration: a setting the
//! request leaves out returns to its default. Settings fixed at creation (schema, username
//! and alias attributes, username configuration) are kept.

use serde_json::{json, Map, Value};
use tessera_core::{region_of_pool_id, user_pool_arn, user_pool_id, KeyUse, SigningKey, UserPool};

use crate::input::{decode_token, encode_token, epoch_seconds, Input};
use crate::{Error, Service};

/// Members of CreateUserPool and UpdateUserPool stored as given (defaults applied after).
const UPDATABLE: &[&str] = &[
    "Policies",
    "DeletionProtection",
    "LambdaConfig",
    "AutoVerifiedAttributes",
    "SmsVerificationMessage",
    "EmailVerificationMessage",
    "EmailVerificationSubject",
    "VerificationMessageTemplate",
    "SmsAuthenticationMessage",
    "MfaConfiguration",
    "UserAttributeUpdateSettings",
    "DeviceConfiguration",
    "EmailConfiguration",
    "SmsConfiguration",
    "UserPoolTags",
    "AdminCreateUserConfig",
    "UserPoolAddOns",
    "AccountRecoverySetting",
    "UserPoolTier",
];

/// Members only CreateUserPool sets (and the MFA settings only SetUserPoolMfaConfig sets);
/// UpdateUserPool keeps them.
const FIXED_AT_CREATION: &[&str] = &[
    "SchemaAttributes",
    "UsernameAttributes",
    "AliasAttributes",
    "UsernameConfiguration",
    crate::pool::mfa_config::MFA_SETTINGS,
];

/// Cognito's standard attributes, in the order DescribeUserPool lists them.
const STANDARD_ATTRIBUTES: &[(&str, &str)] = &[
    ("sub", "String"),
    ("name", "String"),
    ("given_name", "String"),
    ("family_name", "String"),
    ("middle_name", "String"),
    ("nickname", "String"),
    ("preferred_username", "String"),
    ("profile", "String"),
    ("picture", "String"),
    ("website", "String"),
    ("email", "String"),
    ("email_verified", "Boolean"),
    ("gender", "String"),
    ("birthdate", "String"),
    ("zoneinfo", "String"),
    ("locale", "String"),
    ("phone_number", "String"),
    ("phone_number_verified", "Boolean"),
    ("address", "String"),
    ("updated_at", "Number"),
    ("identities", "String"),
];

const MAX_CUSTOM_ATTRIBUTES: usize = 50;

pub async fn create(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = create_pool(state, input, None).await?;
    Ok(json!({ "UserPool": describe_pool(state, &pool, 0) }))
}

/// Creates a pool with a fresh id, or with `fixed_id` (declarative bootstrap).
pub async fn create_pool(
    state: &Service,
    input: Input,
    fixed_id: Option<String>,
) -> Result<UserPool, Error> {
    let name = input.required_str("PoolName")?.to_owned();
    let mut settings = updatable_settings(&input)?;
    if input.get("UsernameAttributes").is_some() && input.get("AliasAttributes").is_some() {
        return Err(Error::invalid_parameter(
            "Only one of the aliasAttributes or usernameAttributes can be set in a User Pool.",
        ));
    }
    for member in [
        "UsernameAttributes",
        "AliasAttributes",
        "UsernameConfiguration",
    ] {
        if let Some(value) = input.get(member) {
            settings.insert(member.into(), value.clone());
        }
    }
    let schema = schema_attributes(
        input
            .get("Schema")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[]),
    )?;
    settings.insert("SchemaAttributes".into(), Value::Array(schema));
    crate::pool::mfa_config::reconcile(&mut settings)?;

    let now = state.clock.now();
    let pool = UserPool {
        id: fixed_id.unwrap_or_else(|| {
            // A pool belongs to the region of the request that created it.
            let region = input.region().unwrap_or(&state.config.region);
            user_pool_id(region, state.random.as_ref())
        }),
        name,
        created_at: now,
        last_modified_at: now,
        settings,
    };
    // RSA key generation takes tens of milliseconds of CPU; keep it off the async workers.
    let keys = tokio::task::spawn_blocking(
        move || -> Result<Vec<SigningKey>, tessera_core::CoreError> {
            Ok(vec![
                SigningKey::generate(KeyUse::Id, now)?,
                SigningKey::generate(KeyUse::Access, now)?,
            ])
        },
    )
    .await
    .map_err(|e| Error::internal(&e))??;
    state.store.insert_user_pool(&pool, &keys).await?;
    tracing::info!(pool_id = %pool.id, "user pool created");
    Ok(pool)
}

pub async fn describe(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = load(state, input.user_pool_id()?).await?;
    let users = state.store.user_count(&pool.id).await?;
    let mut description = describe_pool(state, &pool, users);
    for (member, value) in crate::oauth_config::domain::pool_members(state, &pool.id).await? {
        description[member] = value;
    }
    Ok(json!({ "UserPool": description }))
}

pub async fn update(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = load(state, input.user_pool_id()?).await?;
    let mut pool = std::sync::Arc::unwrap_or_clone(pool);
    let mut settings = updatable_settings(&input)?;
    for member in FIXED_AT_CREATION {
        if let Some(value) = pool.settings.get(*member) {
            settings.insert((*member).into(), value.clone());
        }
    }
    // Tags have their own operations; an UpdateUserPool without tags leaves them alone.
    if input.get("UserPoolTags").is_none() {
        settings.insert("UserPoolTags".into(), Value::Object(pool.tags()));
    }
    crate::pool::mfa_config::reconcile(&mut settings)?;
    if let Some(name) = input.str("PoolName") {
        pool.name = name.to_owned();
    }
    pool.settings = settings;
    pool.last_modified_at = state.clock.now();
    if !state.store.update_user_pool(&pool).await? {
        return Err(Error::pool_not_found(&pool.id));
    }
    Ok(json!({}))
}

pub async fn delete(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = load(state, input.user_pool_id()?).await?;
    if pool.deletion_protected() {
        return Err(Error::invalid_parameter(
            "The user pool cannot be deleted because deletion protection is activated. Deletion protection must be inactivated first.",
        ));
    }
    if !state.store.domains_of_pool(&pool.id).await?.is_empty() {
        return Err(Error::invalid_parameter(
            "User pool cannot be deleted. It has a domain configured that should be deleted first.",
        ));
    }
    if !state.store.delete_user_pool(&pool.id).await? {
        return Err(Error::pool_not_found(&pool.id));
    }
    crate::pool::keys::forget(state, &pool.id);
    tracing::info!(pool_id = %pool.id, "user pool deleted");
    Ok(json!({}))
}

pub async fn list(state: &Service, input: Input) -> Result<Value, Error> {
    // The model bounds MaxResults to 1..=60 and marks it required.
    let limit = u32::try_from(input.i64("MaxResults").unwrap_or(60)).unwrap_or(60);
    let after = input.str("NextToken").map(decode_token).transpose()?;
    // Each region lists its own pools.
    let region = input.region().unwrap_or(&state.config.region);
    let mut pools = state
        .store
        .list_user_pools(region, after.as_deref(), limit + 1)
        .await?;
    let more = pools.len() > limit as usize;
    pools.truncate(limit as usize);
    let descriptions: Vec<Value> = pools
        .iter()
        .map(|pool| {
            json!({
                "Id": pool.id,
                "Name": pool.name,
                "LambdaConfig": pool.settings.get("LambdaConfig").cloned().unwrap_or_else(|| json!({})),
                "LastModifiedDate": epoch_seconds(pool.last_modified_at),
                "CreationDate": epoch_seconds(pool.created_at),
            })
        })
        .collect();
    let mut output = json!({ "UserPools": descriptions });
    if more {
        if let Some(last) = pools.last() {
            output["NextToken"] = json!(encode_token(&last.id));
        }
    }
    Ok(output)
}

/// AddCustomAttributes: appends custom attributes to the pool's schema. Every name becomes a
/// custom one (`custom:<name>`, or `dev:custom:<name>` for a developer-only attribute), as in
/// Cognito, where adding `email` adds `custom:email`.
pub async fn add_custom_attributes(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = load(state, input.user_pool_id()?).await?;
    let mut pool = std::sync::Arc::unwrap_or_clone(pool);
    let requested: Vec<Value> = input
        .get("CustomAttributes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut schema: Vec<Value> = pool
        .settings
        .get("SchemaAttributes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for attribute in &requested {
        let name = attribute.get("Name").and_then(Value::as_str).unwrap_or("");
        // tessera takes a leading `custom:` as part of the prefix rather than of the name.
        // (Cognito keeps it: sending `custom:x` adds `custom:custom:x`.)
        let bare = name.strip_prefix("custom:").unwrap_or(name);
        let existing = schema
            .iter()
            .filter_map(|s| s["Name"].as_str())
            .find(|existing| {
                existing.strip_prefix("custom:") == Some(bare)
                    || existing.strip_prefix("dev:custom:") == Some(bare)
            });
        if let Some(existing) = existing {
            // Cognito names the attribute asked for, then the one that holds the name
            // (serverless-cognito-add-custom-attributes issue 3 shows
            // `custom:custom:name: Existing attribute already has name custom:custom:name.`);
            // for a developer-only one moto answers `… has name dev:custom:<name>.`.
            return Err(Error::invalid_parameter(format!(
                "custom:{bare}: Existing attribute already has name {existing}."
            )));
        }
        let custom_count = schema
            .iter()
            .filter_map(|s| s["Name"].as_str())
            .filter(|n| n.contains("custom:"))
            .count();
        if custom_count >= MAX_CUSTOM_ATTRIBUTES {
            return Err(Error::invalid_parameter(format!(
                "A user pool can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes."
            )));
        }
        schema.push(custom_attribute(name, attribute)?);
    }
    pool.settings
        .insert("SchemaAttributes".into(), Value::Array(schema));
    pool.last_modified_at = state.clock.now();
    if !state.store.update_user_pool(&pool).await? {
        return Err(Error::pool_not_found(&pool.id));
    }
    Ok(json!({}))
}

/// Loads a pool or answers `ResourceNotFoundException`.
pub async fn load(state: &Service, pool_id: &str) -> Result<std::sync::Arc<UserPool>, Error> {
    state
        .store
        .user_pool(pool_id)
        .await?
        .ok_or_else(|| Error::pool_not_found(pool_id))
}

/// The `UserPoolType` document DescribeUserPool and CreateUserPool return. `users` is the
/// pool's user count, answered as `EstimatedNumberOfUsers` ("a number estimating the size of
/// the user pool"; an exact count is a faithful estimate). Only `UserPoolType` has the member:
/// ListUserPools' `UserPoolDescriptionType` does not.
fn describe_pool(state: &Service, pool: &UserPool, users: i64) -> Value {
    let mut out = Map::new();
    out.insert("Id".into(), json!(pool.id));
    out.insert("Name".into(), json!(pool.name));
    // tessera's own keys (`tessera:…`) are no member of the pool's Cognito document.
    for (member, value) in &pool.settings {
        if !member.starts_with("tessera:") {
            out.insert(member.clone(), value.clone());
        }
    }
    out.insert(
        "LastModifiedDate".into(),
        epoch_seconds(pool.last_modified_at),
    );
    out.insert("CreationDate".into(), epoch_seconds(pool.created_at));
    out.insert("EstimatedNumberOfUsers".into(), json!(users));
    out.insert(
        "Arn".into(),
        json!(user_pool_arn(
            region_of_pool_id(&pool.id).unwrap_or(&state.config.region),
            &state.config.account_id,
            &pool.id
        )),
    );
    Value::Object(out)
}

/// The updatable settings of a Create or Update request with Cognito's defaults applied.
fn updatable_settings(input: &Input) -> Result<Map<String, Value>, Error> {
    let mut settings = Map::new();
    for member in UPDATABLE {
        if let Some(value) = input.get(member) {
            settings.insert((*member).into(), value.clone());
        }
    }

    let mut policies = settings
        .remove("Policies")
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let password_policy = match policies
        .remove("PasswordPolicy")
        .and_then(|v| v.as_object().cloned())
    {
        // A policy that is given has its unset rules off, as in Cognito; only the validity
        // of temporary passwords has a default.
        Some(mut given) => {
            given.entry("MinimumLength").or_insert(json!(8));
            for rule in [
                "RequireUppercase",
                "RequireLowercase",
                "RequireNumbers",
                "RequireSymbols",
            ] {
                given.entry(rule).or_insert(json!(false));
            }
            given
                .entry("TemporaryPasswordValidityDays")
                .or_insert(json!(7));
            given
        }
        None => json!({
            "MinimumLength": 8,
            "RequireUppercase": true,
            "RequireLowercase": true,
            "RequireNumbers": true,
            "RequireSymbols": true,
            "TemporaryPasswordValidityDays": 7,
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    };
    policies.insert("PasswordPolicy".into(), Value::Object(password_policy));
    policies
        .entry("SignInPolicy")
        .or_insert(json!({ "AllowedFirstAuthFactors": ["PASSWORD"] }));
    settings.insert("Policies".into(), Value::Object(policies));

    settings
        .entry("DeletionProtection")
        .or_insert(json!("INACTIVE"));
    settings.entry("LambdaConfig").or_insert(json!({}));
    settings.entry("MfaConfiguration").or_insert(json!("OFF"));
    settings
        .entry("EmailConfiguration")
        .or_insert(json!({ "EmailSendingAccount": "COGNITO_DEFAULT" }));
    settings
        .entry("UserPoolTier")
        .or_insert(json!("ESSENTIALS"));
    settings
        .entry("UserAttributeUpdateSettings")
        .or_insert(json!({ "AttributesRequireVerificationBeforeUpdate": [] }));

    let mut admin_create = settings
        .remove("AdminCreateUserConfig")
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    admin_create
        .entry("AllowAdminCreateUserOnly")
        .or_insert(json!(false));
    admin_create
        .entry("UnusedAccountValidityDays")
        .or_insert(json!(7));
    settings.insert("AdminCreateUserConfig".into(), Value::Object(admin_create));

    // Cognito keeps the legacy e-mail verification members and the template in step.
    let mut template = settings
        .remove("VerificationMessageTemplate")
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    template
        .entry("DefaultEmailOption")
        .or_insert(json!("CONFIRM_WITH_CODE"));
    for (legacy, modern) in [
        ("EmailVerificationMessage", "EmailMessage"),
        ("EmailVerificationSubject", "EmailSubject"),
        ("SmsVerificationMessage", "SmsMessage"),
    ] {
        match (settings.get(legacy).cloned(), template.get(modern).cloned()) {
            (Some(value), None) => {
                template.insert(modern.into(), value);
            }
            (None, Some(value)) => {
                settings.insert(legacy.into(), value);
            }
            _ => {}
        }
    }
    settings.insert(
        "VerificationMessageTemplate".into(),
        Value::Object(template),
    );
    Ok(settings)
}

/// The full `SchemaAttributes` list: the standard attributes, adjusted where the request
/// mentions them, followed by the custom attributes it declares.
pub fn schema_attributes(requested: &[Value]) -> Result<Vec<Value>, Error> {
    let mut schema: Vec<Value> = STANDARD_ATTRIBUTES
        .iter()
        .map(|(name, kind)| standard_attribute(name, kind))
        .collect();
    let mut custom_count = 0;
    for attribute in requested {
        let Some(name) = attribute.get("Name").and_then(Value::as_str) else {
            return Err(Error::invalid_parameter(
                "Schema attributes must have a Name.",
            ));
        };
        if let Some(standard) = schema.iter_mut().find(|s| s["Name"] == name) {
            merge_standard(standard, attribute)?;
            continue;
        }
        custom_count += 1;
        if custom_count > MAX_CUSTOM_ATTRIBUTES {
            return Err(Error::invalid_parameter(format!(
                "A user pool can have at most {MAX_CUSTOM_ATTRIBUTES} custom attributes."
            )));
        }
        let custom = custom_attribute(name, attribute)?;
        if schema.iter().any(|s| s["Name"] == custom["Name"]) {
            // AddCustomAttributes' wording (see `add_custom_attributes`); that CreateUserPool
            // answers a repeated name the same way is our inference.
            let full = custom["Name"].as_str().unwrap_or(name);
            let bare = full.rsplit_once("custom:").map_or(full, |(_, bare)| bare);
            return Err(Error::invalid_parameter(format!(
                "custom:{bare}: Existing attribute already has name {full}."
            )));
        }
        schema.push(custom);
    }
    Ok(schema)
}

fn standard_attribute(name: &str, kind: &str) -> Value {
    let mut attribute = json!({
        "Name": name,
        "AttributeDataType": kind,
        "DeveloperOnlyAttribute": false,
        "Mutable": name != "sub",
        "Required": name == "sub",
    });
    match (name, kind) {
        ("sub", _) => {
            attribute["StringAttributeConstraints"] =
                json!({ "MinLength": "1", "MaxLength": "2048" })
        }
        ("birthdate", _) => {
            attribute["StringAttributeConstraints"] =
                json!({ "MinLength": "10", "MaxLength": "10" })
        }
        ("identities", _) => attribute["StringAttributeConstraints"] = json!({}),
        (_, "String") => {
            attribute["StringAttributeConstraints"] =
                json!({ "MinLength": "0", "MaxLength": "2048" })
        }
        (_, "Number") => attribute["NumberAttributeConstraints"] = json!({ "MinValue": "0" }),
        _ => {}
    }
    attribute
}

/// Cognito's answer to a custom attribute declared without `AttributeDataType` (amplify-cli
/// issues 9525 and 9960 quote it from CloudFormation). Standard attributes may leave the type
/// out: they keep their own, and templates rely on it (`{"Name": "email", "Required": true}`
/// is what the CDK and many CloudFormation templates send).
const MISSING_DATA_TYPE: &str =
    "Invalid AttributeDataType input, consider using the provided AttributeDataType enum.";

/// One bound of `StringAttributeConstraints` or `NumberAttributeConstraints`: absent (or
/// empty), or an integer written as a string, non-negative for lengths.
fn constraint_bound(
    constraints: &Value,
    member: &str,
    negative_allowed: bool,
) -> Result<Option<i128>, ()> {
    let text = match constraints.get(member) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) if text.is_empty() => return Ok(None),
        Some(Value::String(text)) => text.as_str(),
        Some(_) => return Err(()),
    };
    let digits = match text.strip_prefix('-') {
        Some(rest) if negative_allowed => rest,
        _ => text,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    text.parse().map(Some).map_err(|_| ())
}

/// Refuses the constraints of a schema attribute (`name` as it will be stored: `email`,
/// `custom:tier`, `dev:custom:id`) that Cognito refuses.
///
/// The wording is moto's (PR 4493); no message from Cognito itself was found for these
/// cases, so they are moto's reading of Cognito, unverified. Unlike moto, negative Number
/// bounds are accepted: nothing documents them as invalid, and moto gives no evidence.
fn check_constraints(name: &str, kind: &str, attribute: &Value) -> Result<(), Error> {
    match kind {
        "String" => {
            let Some(constraints) = attribute.get("StringAttributeConstraints") else {
                return Ok(());
            };
            let invalid = |_| {
                Error::invalid_parameter(format!(
                    "Invalid StringAttributeConstraints for schema attribute {name}"
                ))
            };
            let min = constraint_bound(constraints, "MinLength", false).map_err(invalid)?;
            let max = constraint_bound(constraints, "MaxLength", false).map_err(invalid)?;
            if min.into_iter().chain(max).any(|length| length > 2048) {
                return Err(Error::invalid_parameter(format!(
                    "user.{name}: String attributes cannot have a length of more than 2048"
                )));
            }
            if let (Some(min), Some(max)) = (min, max) {
                if min > max {
                    return Err(Error::invalid_parameter(format!(
                        "user.{name}: Max length cannot be less than min length."
                    )));
                }
            }
        }
        "Number" => {
            let Some(constraints) = attribute.get("NumberAttributeConstraints") else {
                return Ok(());
            };
            let invalid = |_| {
                Error::invalid_parameter(format!(
                    "Invalid NumberAttributeConstraints for schema attribute {name}"
                ))
            };
            let min = constraint_bound(constraints, "MinValue", true).map_err(invalid)?;
            let max = constraint_bound(constraints, "MaxValue", true).map_err(invalid)?;
            if let (Some(min), Some(max)) = (min, max) {
                if min > max {
                    return Err(Error::invalid_parameter(format!(
                        "user.{name}: Max value cannot be less than min value."
                    )));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn merge_standard(standard: &mut Value, requested: &Value) -> Result<(), Error> {
    let name = standard["Name"].as_str().unwrap_or_default().to_owned();
    if let Some(kind) = requested.get("AttributeDataType").and_then(Value::as_str) {
        if Some(kind) != standard["AttributeDataType"].as_str() {
            return Err(Error::invalid_parameter(format!(
                "You can not change AttributeDataType or set developerOnlyAttribute for standard schema attribute {name}"
            )));
        }
    }
    if requested
        .get("DeveloperOnlyAttribute")
        .and_then(Value::as_bool)
        == Some(true)
    {
        return Err(Error::invalid_parameter(format!(
            "You can not change AttributeDataType or set developerOnlyAttribute for standard schema attribute {name}"
        )));
    }
    if name == "sub" {
        return Err(Error::invalid_parameter(
            "You can not change the schema of attribute sub.",
        ));
    }
    let kind = standard["AttributeDataType"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    check_constraints(&name, &kind, requested)?;
    for member in [
        "Mutable",
        "Required",
        "StringAttributeConstraints",
        "NumberAttributeConstraints",
    ] {
        if let Some(value) = requested.get(member) {
            standard[member] = value.clone();
        }
    }
    Ok(())
}

fn custom_attribute(name: &str, requested: &Value) -> Result<Value, Error> {
    let bare = name.strip_prefix("custom:").unwrap_or(name);
    if bare.is_empty() || bare.chars().count() > 20 {
        return Err(Error::invalid_parameter(format!(
            "Custom attribute name {} must be between 1 and 20 characters.",
            tessera_core::excerpt(name)
        )));
    }
    let Some(kind) = requested.get("AttributeDataType").and_then(Value::as_str) else {
        return Err(Error::invalid_parameter(MISSING_DATA_TYPE));
    };
    if requested.get("Required").and_then(Value::as_bool) == Some(true) {
        return Err(Error::invalid_parameter(
            "Required custom attributes are not supported currently.",
        ));
    }
    let developer_only = requested
        .get("DeveloperOnlyAttribute")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let full_name = if developer_only {
        format!("dev:custom:{bare}")
    } else {
        format!("custom:{bare}")
    };
    check_constraints(&full_name, kind, requested)?;
    let mut attribute = json!({
        "Name": full_name,
        "AttributeDataType": kind,
        "DeveloperOnlyAttribute": developer_only,
        "Mutable": requested.get("Mutable").and_then(Value::as_bool).unwrap_or(true),
        "Required": false,
    });
    match kind {
        "String" => {
            attribute["StringAttributeConstraints"] = requested
                .get("StringAttributeConstraints")
                .cloned()
                .unwrap_or_else(|| json!({}));
        }
        "Number" => {
            attribute["NumberAttributeConstraints"] = requested
                .get("NumberAttributeConstraints")
                .cloned()
                .unwrap_or_else(|| json!({}));
        }
        _ => {}
    }
    Ok(attribute)
}
