//! CreateUserPoolDomain, DescribeUserPoolDomain, UpdateUserPoolDomain and
//! DeleteUserPoolDomain: the domains a pool's hosted pages are served on.
//!
//! A pool has at most one prefix domain (`my-app`, served as `my-app.<hosted domain
//! suffix>`) and one custom domain (an FQDN sent with `CustomDomainConfig`); every domain is
//! unique across pools. There is no CloudFront here: the host that serves a domain stands in
//! for the distribution, so tools that create a CNAME to it (Terraform, CDK) have a target.
//! Domains are ACTIVE as soon as they are written.

use std::time::SystemTime;

use serde_json::{json, Map, Value};
use tessera_store::{StoreError, UserPoolDomain};

use crate::input::Input;
use crate::pool::user_pool;
use crate::{Error, Service};

/// The model's pattern for prefix domains, quoted in Cognito's message.
const PREFIX_PATTERN: &str = r"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$";

/// Words Cognito reserves in prefix domains.
const RESERVED_WORDS: &[&str] = &["aws", "amazon", "cognito"];

/// Members of Create and Update kept with the domain and returned as given.
const SETTINGS: &[&str] = &["CustomDomainConfig", "ManagedLoginVersion", "Routing"];

/// A time as `yyyyMMddHHmmss` in UTC, the form of a domain's `Version` and of `CSSVersion`.
pub fn compact_timestamp(time: SystemTime) -> String {
    tessera_core::UtcFields::of(time).compact()
}

/// The host that serves a domain: the FQDN of a custom domain, `<prefix>.<suffix>` for a
/// prefix domain.
pub fn serving_host(state: &Service, domain: &UserPoolDomain) -> String {
    if domain.custom {
        domain.domain.clone()
    } else {
        format!("{}.{}", domain.domain, state.config.hosted_domain_suffix)
    }
}

fn no_such_domain() -> Error {
    Error::invalid_parameter("No such domain or user pool exists.")
}

fn taken() -> Error {
    Error::invalid_parameter("Domain already associated with another user pool.")
}

/// The settings a Create or Update request gives.
fn requested_settings(input: &Input) -> Map<String, Value> {
    let mut settings = Map::new();
    for member in SETTINGS {
        if let Some(value) = input.get(member) {
            settings.insert((*member).into(), value.clone());
        }
    }
    settings
}

/// The Create and Update response.
fn write_output(state: &Service, domain: &UserPoolDomain) -> Value {
    let mut out = json!({ "CloudFrontDomain": serving_host(state, domain) });
    for member in ["ManagedLoginVersion", "Routing"] {
        if let Some(value) = domain.settings.get(member) {
            out[member] = value.clone();
        }
    }
    out
}

/// Checks a new domain's name for its kind.
fn check_name(name: &str, custom: bool) -> Result<(), Error> {
    if custom {
        // The validator lets a dotted name through only when it is a lower-case FQDN.
        if !name.contains('.') {
            return Err(Error::invalid_parameter(
                "A custom domain must be a fully qualified domain name, such as auth.example.com.",
            ));
        }
        return Ok(());
    }
    if name.contains('.') {
        return Err(Error::invalid_parameter(format!(
            "The domain name contains an invalid character. Domain names can only contain lower-case letters, numbers, and hyphens. Please enter a different name that follows this format: {PREFIX_PATTERN}"
        )));
    }
    if let Some(word) = RESERVED_WORDS.iter().find(|word| name.contains(**word)) {
        return Err(Error::invalid_parameter(format!(
            "Domain cannot contain reserved word: {word}"
        )));
    }
    Ok(())
}

pub async fn create(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let name = input.required_str("Domain")?.to_owned();
    let settings = {
        let mut settings = requested_settings(&input);
        // Without a version Cognito gives a new domain the classic hosted UI.
        settings.entry("ManagedLoginVersion").or_insert(json!(1));
        settings
    };
    let custom = settings.contains_key("CustomDomainConfig");
    check_name(&name, custom)?;
    if state.store.pool_of_domain(&name).await?.is_some() {
        return Err(taken());
    }
    let existing = state.store.domains_of_pool(&pool.id).await?;
    if existing.iter().any(|d| d.custom == custom) {
        return Err(one_of_a_kind(custom));
    }
    let now = state.clock.now();
    let domain = UserPoolDomain {
        domain: name,
        pool_id: pool.id.clone(),
        custom,
        settings,
        version: compact_timestamp(now),
        created_at: now,
    };
    match state.store.insert_domain(&domain).await {
        Ok(()) => {}
        // Another request won the race; say which rule it broke.
        Err(StoreError::Conflict) => {
            return Err(
                if state.store.pool_of_domain(&domain.domain).await?.is_some() {
                    taken()
                } else {
                    one_of_a_kind(custom)
                },
            );
        }
        Err(other) => return Err(other.into()),
    }
    tracing::info!(pool_id = %pool.id, domain = %domain.domain, custom, "user pool domain created");
    Ok(write_output(state, &domain))
}

fn one_of_a_kind(custom: bool) -> Error {
    Error::invalid_parameter(if custom {
        "The user pool already has a custom domain configured."
    } else {
        "The user pool already has a domain configured."
    })
}

pub async fn describe(state: &Service, input: Input) -> Result<Value, Error> {
    let name = input.required_str("Domain")?;
    // Cognito answers an unknown domain with an empty description rather than an error;
    // Terraform relies on it (a description without Status means "gone").
    let Some(domain) = state.store.domain(name).await? else {
        return Ok(json!({ "DomainDescription": {} }));
    };
    let mut description = json!({
        "UserPoolId": domain.pool_id,
        "AWSAccountId": state.config.account_id,
        "Domain": domain.domain,
        "CloudFrontDistribution": serving_host(state, &domain),
        "Version": domain.version,
        "Status": "ACTIVE",
    });
    for (member, value) in &domain.settings {
        description[member] = value.clone();
    }
    Ok(json!({ "DomainDescription": description }))
}

pub async fn update(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let mut domain = match state.store.domain(input.required_str("Domain")?).await? {
        Some(domain) if domain.pool_id == pool.id => domain,
        _ => return Err(no_such_domain()),
    };
    let requested = requested_settings(&input);
    if requested.contains_key("CustomDomainConfig") && !domain.custom {
        return Err(Error::invalid_parameter(
            "CustomDomainConfig can only be set for a custom domain.",
        ));
    }
    // Members the request leaves out keep their values: a certificate is not dropped by an
    // update that only changes the managed login version.
    for (member, value) in requested {
        domain.settings.insert(member, value);
    }
    domain.version = compact_timestamp(state.clock.now());
    if !state.store.update_domain(&domain).await? {
        return Err(no_such_domain());
    }
    Ok(write_output(state, &domain))
}

pub async fn delete(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = user_pool::load(state, input.user_pool_id()?).await?;
    let name = input.required_str("Domain")?;
    if !state.store.delete_domain(&pool.id, name).await? {
        return Err(no_such_domain());
    }
    tracing::info!(pool_id = %pool.id, domain = %name, "user pool domain deleted");
    Ok(json!({}))
}

/// The `Domain` and `CustomDomain` members of a pool's description.
pub async fn pool_members(state: &Service, pool_id: &str) -> Result<Map<String, Value>, Error> {
    let mut members = Map::new();
    for domain in state.store.domains_of_pool(pool_id).await? {
        let member = if domain.custom {
            "CustomDomain"
        } else {
            "Domain"
        };
        members.insert(member.into(), json!(domain.domain));
    }
    Ok(members)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::compact_timestamp;

    #[test]
    fn compact_timestamps_are_utc_calendar_times() {
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(compact_timestamp(at(0)), "19700101000000");
        assert_eq!(compact_timestamp(at(1_700_000_000)), "20231114221320");
        // 2024-02-29T23:59:59Z, a leap day.
        assert_eq!(compact_timestamp(at(1_709_251_199)), "20240229235959");
    }
}
