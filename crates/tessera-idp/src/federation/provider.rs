//! CreateIdentityProvider, DescribeIdentityProvider, UpdateIdentityProvider,
//! DeleteIdentityProvider, ListIdentityProviders, GetIdentityProviderByIdentifier and
//! GetSigningCertificate.
//!
//! Messages measured against Cognito (docs/design/federation-facts.md §1.2) are used word for
//! word; the ones no source gave are tessera's and listed there. Create and Update return
//! `IdpIdentifiers` only when the request gave them, Describe always; Update merges (an
//! omitted member keeps its value, an empty one clears it). The type of a provider never
//! changes.

use std::collections::HashSet;

use base64::Engine;
use serde_json::{json, Map, Value};
use tessera_core::{AttributeSchema, IdentityProvider, UserPool};
use tessera_store::StoreError;

use super::details::{self, Context, ProviderKind};
use crate::input::{decode_token, encode_token, epoch_seconds, Input};
use crate::pool::user_pool;
use crate::{Error, Service};

/// Cognito's quota of identity providers per user pool (its quotas page lists 300).
const MAX_PROVIDERS: usize = 300;
/// The model's bound on ListIdentityProviders' MaxResults.
const MAX_RESULTS: i64 = 60;

/// The SAML service provider entity id of a pool, as Cognito names it.
pub fn sp_entity_id(pool_id: &str) -> String {
    format!("urn:amazon:cognito:sp:{pool_id}")
}

fn kind_of(provider: &IdentityProvider) -> Result<ProviderKind, Error> {
    ProviderKind::parse(&provider.provider_type)
        .ok_or_else(|| Error::internal(&format!("stored provider type {}", provider.provider_type)))
}

/// The `IdentityProviderType` document.
fn provider_type(provider: &IdentityProvider, with_identifiers: bool) -> Result<Value, Error> {
    let kind = kind_of(provider)?;
    let mut out = json!({
        "UserPoolId": provider.pool_id,
        "ProviderName": provider.name,
        "ProviderType": provider.provider_type,
        "ProviderDetails": details::public_view(kind, &provider.details),
        "AttributeMapping": provider.attribute_mapping,
        "LastModifiedDate": epoch_seconds(provider.last_modified_at),
        "CreationDate": epoch_seconds(provider.created_at),
    });
    if with_identifiers {
        out["IdpIdentifiers"] = json!(provider.idp_identifiers);
    }
    if let Some(acr) = &provider.acr_mapping {
        out["AcrMapping"] = Value::Object(acr.clone());
    }
    Ok(out)
}

fn not_found_in_pool(name: &str, pool_id: &str) -> Error {
    Error::not_found(format!(
        "Identity provider {} in User Pool {pool_id} does not exist.",
        tessera_core::excerpt(name)
    ))
}

fn object(input: &Input, name: &str) -> Option<Map<String, Value>> {
    input.get(name).and_then(Value::as_object).cloned()
}

/// Checks `AttributeMapping` against the pool's schema: every key is `username` or an
/// attribute of the pool, and a custom attribute must be mutable, since every sign-in
/// writes the mapped attributes again (docs/design/federation-facts.md §4.3).
fn attribute_mapping(
    pool: &UserPool,
    kind: ProviderKind,
    requested: Option<Map<String, Value>>,
    creation: bool,
) -> Result<Map<String, Value>, Error> {
    let schema = AttributeSchema::from_pool_settings(&pool.settings);
    let mut mapping = requested.unwrap_or_default();
    for (attribute, source) in &mapping {
        if source.as_str().is_none_or(str::is_empty) {
            return Err(Error::invalid_parameter(format!(
                "The attribute mapping of {} names no upstream attribute.",
                tessera_core::excerpt(attribute)
            )));
        }
        if attribute == "username" {
            continue;
        }
        match schema.get(attribute) {
            None => {
                return Err(Error::invalid_parameter(format!(
                    "The attribute mapping names {}, which is not an attribute of the user pool.",
                    tessera_core::excerpt(attribute)
                )))
            }
            Some(entry)
                if attribute == "sub" || (!entry.mutable && attribute.starts_with("custom:")) =>
            {
                return Err(Error::invalid_parameter(format!(
                    "The attribute mapping names {}, which cannot change after a user is created.",
                    tessera_core::excerpt(attribute)
                )))
            }
            Some(_) => {}
        }
    }
    // "As a default, the OIDC claim sub is mapped to the user pool attribute Username"; the
    // social providers' ids likewise. A SAML user is identified by the NameID. An update
    // that sends `{}` clears the mapping, as Cognito does (the sign-in then falls back on the
    // same defaults).
    if creation && kind != ProviderKind::Saml && !mapping.contains_key("username") {
        mapping.insert(
            "username".into(),
            Value::String(kind.default_subject().into()),
        );
    }
    Ok(mapping)
}

fn identifiers(input: &Input) -> Result<Option<Vec<String>>, Error> {
    let Some(list) = input.get("IdpIdentifiers") else {
        return Ok(None);
    };
    let list: Vec<String> = list
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let mut seen = HashSet::new();
    for identifier in &list {
        if !seen.insert(identifier.as_str()) {
            return Err(Error::invalid_parameter(format!(
                "The identifier {} appears more than once in IdpIdentifiers.",
                tessera_core::excerpt(identifier)
            )));
        }
    }
    Ok(Some(list))
}

/// Refuses identifiers another provider of the pool already has; IdP identifiers "must be
/// unique across the user pool".
async fn identifiers_free(
    state: &Service,
    pool_id: &str,
    name: &str,
    identifiers: &[String],
) -> Result<(), Error> {
    for identifier in identifiers {
        if let Some(holder) = state
            .store
            .identity_provider_by_identifier(pool_id, identifier)
            .await?
        {
            if holder.name != name {
                return Err(identifier_taken(identifier));
            }
        }
    }
    Ok(())
}

fn identifier_taken(identifier: &str) -> Error {
    Error::invalid_parameter(format!(
        "The identifier {} is already used by another identity provider of the user pool.",
        tessera_core::excerpt(identifier)
    ))
}

fn acr_mapping(kind: ProviderKind, input: &Input) -> Result<Option<Map<String, Value>>, Error> {
    let acr = object(input, "AcrMapping");
    if acr.is_some() && kind != ProviderKind::Oidc {
        return Err(Error::invalid_parameter(
            "Only OIDC IdPs support ACR mapping.",
        ));
    }
    Ok(acr)
}

async fn validated_details(
    state: &Service,
    kind: ProviderKind,
    name: &str,
    requested: &Map<String, Value>,
    previous: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, Error> {
    let now = state.clock.now();
    let random = state.random.clone();
    let subject = format!("{name} encryption");
    let encryption_key =
        move || super::signing::key_and_certificate(&subject, now, random.as_ref());
    let context = Context {
        upstream: state.upstream.as_ref(),
        overrides: &state.federation,
        now,
        previous,
        encryption_key: &encryption_key,
    };
    details::validate(kind, name, requested, &context).await
}

pub async fn create(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let name = input.required_str("ProviderName")?.to_owned();
    let type_name = input.required_str("ProviderType")?;
    let kind = ProviderKind::parse(type_name).ok_or_else(|| {
        Error::invalid_parameter(format!(
            "1 validation error detected: Value '{}' at 'providerType' failed to satisfy constraint: Member must satisfy enum value set: [Facebook, SAML, SignInWithApple, LoginWithAmazon, OIDC, Google]",
            tessera_core::excerpt(type_name)
        ))
    })?;
    let duplicate = || {
        Error::new(
            "DuplicateProviderException",
            format!(
                "{} already exists for tenant {}.",
                tessera_core::excerpt(&name),
                pool.id
            ),
        )
    };
    if state
        .store
        .identity_provider(&pool.id, &name)
        .await?
        .is_some()
    {
        return Err(duplicate());
    }
    let requested = object(&input, "ProviderDetails").unwrap_or_default();
    let details = validated_details(state, kind, &name, &requested, None).await?;
    let mapping = attribute_mapping(&pool, kind, object(&input, "AttributeMapping"), true)?;
    let given_identifiers = identifiers(&input)?;
    let idp_identifiers = given_identifiers.clone().unwrap_or_default();
    identifiers_free(state, &pool.id, &name, &idp_identifiers).await?;
    let acr = acr_mapping(kind, &input)?;
    let existing = state
        .store
        .identity_providers(&pool.id, "", MAX_PROVIDERS as i64)
        .await?;
    if existing.len() >= MAX_PROVIDERS {
        return Err(Error::new(
            "LimitExceededException",
            format!("A user pool can have at most {MAX_PROVIDERS} identity providers."),
        ));
    }
    let now = state.clock.now();
    let provider = IdentityProvider {
        pool_id: pool.id.clone(),
        name: name.clone(),
        provider_type: kind.as_str().to_owned(),
        details,
        attribute_mapping: mapping,
        idp_identifiers,
        acr_mapping: acr,
        created_at: now,
        last_modified_at: now,
        version: 0,
    };
    match state.store.insert_identity_provider(&provider).await {
        Ok(()) => {}
        // Another request took the name or an identifier between the checks and the write.
        Err(StoreError::Conflict) => {
            return Err(
                if state
                    .store
                    .identity_provider(&pool.id, &name)
                    .await?
                    .is_some()
                {
                    duplicate()
                } else {
                    Error::invalid_parameter(
                    "An identifier of the request is already used by another identity provider of the user pool.",
                )
                },
            )
        }
        Err(other) => return Err(other.into()),
    }
    Ok(json!({ "IdentityProvider": provider_type(&provider, given_identifiers.is_some())? }))
}

async fn load(state: &Service, input: &Input) -> Result<IdentityProvider, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let name = input.required_str("ProviderName")?;
    state
        .store
        .identity_provider(&pool.id, name)
        .await?
        .ok_or_else(|| {
            Error::not_found(format!(
                "Identity provider {} for tenantId {} does not exist.",
                tessera_core::excerpt(name),
                pool.id
            ))
        })
}

pub async fn describe(state: &Service, input: Input) -> Result<Value, Error> {
    let provider = load(state, &input).await?;
    Ok(json!({ "IdentityProvider": provider_type(&provider, true)? }))
}

/// How many times an update is applied to a fresher read when another write landed between
/// its read and its write.
const UPDATE_ATTEMPTS: usize = 4;

pub async fn update(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let name = input.required_str("ProviderName")?;
    let given_identifiers = identifiers(&input)?;
    for _ in 0..UPDATE_ATTEMPTS {
        let mut provider = state
            .store
            .identity_provider(&pool.id, name)
            .await?
            .ok_or_else(|| not_found_in_pool(name, &pool.id))?;
        let kind = kind_of(&provider)?;
        if let Some(requested) = object(&input, "ProviderDetails") {
            provider.details =
                validated_details(state, kind, name, &requested, Some(&provider.details)).await?;
        }
        if let Some(mapping) = object(&input, "AttributeMapping") {
            provider.attribute_mapping = attribute_mapping(&pool, kind, Some(mapping), false)?;
        }
        if let Some(list) = &given_identifiers {
            identifiers_free(state, &pool.id, name, list).await?;
            provider.idp_identifiers = list.clone();
        }
        if input.get("AcrMapping").is_some() {
            provider.acr_mapping = acr_mapping(kind, &input)?;
        }
        provider.last_modified_at = state.clock.now();
        match state.store.update_identity_provider(&provider).await {
            Ok(true) => {
                provider.version += 1;
                return Ok(json!({
                    "IdentityProvider": provider_type(&provider, given_identifiers.is_some())?
                }));
            }
            // Another update landed since the read: this one is applied again to the
            // provider as it now is, so neither loses its members.
            Ok(false) => continue,
            Err(StoreError::Conflict) => {
                return Err(Error::invalid_parameter(
                    "An identifier of the request is already used by another identity provider of the user pool.",
                ))
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(Error::new(
        "ConcurrentModificationException",
        "The identity provider is being changed by other requests; retry.",
    ))
}

pub async fn delete(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let name = input.required_str("ProviderName")?;
    if !state.store.delete_identity_provider(&pool.id, name).await? {
        return Err(not_found_in_pool(name, &pool.id));
    }
    Ok(json!({}))
}

pub async fn list(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let limit = input
        .i64("MaxResults")
        .unwrap_or(MAX_RESULTS)
        .clamp(1, MAX_RESULTS);
    let after = input.str("NextToken").map(decode_token).transpose()?;
    let mut providers = state
        .store
        .identity_providers(&pool.id, after.as_deref().unwrap_or(""), limit + 1)
        .await?;
    let more = providers.len() > limit as usize;
    providers.truncate(limit as usize);
    let mut output = json!({
        "Providers": providers
            .iter()
            .map(|p| json!({
                "ProviderName": p.name,
                "ProviderType": p.provider_type,
                "LastModifiedDate": epoch_seconds(p.last_modified_at),
                "CreationDate": epoch_seconds(p.created_at),
            }))
            .collect::<Vec<_>>(),
    });
    if more {
        if let Some(last) = providers.last() {
            output["NextToken"] = json!(encode_token(&last.name));
        }
    }
    Ok(output)
}

pub async fn by_identifier(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let identifier = input.required_str("IdpIdentifier")?;
    let provider = state
        .store
        .identity_provider_by_identifier(&pool.id, identifier)
        .await?
        .ok_or_else(|| {
            Error::not_found(format!(
                "Identity provider with identifier {} for tenantId {} does not exist.",
                tessera_core::excerpt(identifier),
                pool.id
            ))
        })?;
    Ok(json!({ "IdentityProvider": provider_type(&provider, true)? }))
}

pub async fn signing_certificate(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let key = super::signing::pool_key(state, &pool.id).await?;
    Ok(json!({
        "Certificate": base64::engine::general_purpose::STANDARD.encode(&key.certificate),
    }))
}

/// The names a client's `SupportedIdentityProviders` may hold that are not the pool's own
/// providers are `COGNITO` alone; every other name must be an identity provider of the
/// pool: "The provider <name> does not exist for User Pool <poolId>." (Cognito's message).
pub async fn check_supported(state: &Service, pool_id: &str, names: &[&str]) -> Result<(), Error> {
    for name in names {
        if *name == "COGNITO" {
            continue;
        }
        if state
            .store
            .identity_provider(pool_id, name)
            .await?
            .is_none()
        {
            return Err(Error::invalid_parameter(format!(
                "The provider {} does not exist for User Pool {pool_id}.",
                tessera_core::excerpt(name)
            )));
        }
    }
    Ok(())
}
