//! AdminLinkProviderForUser and AdminDisableProviderForUser: an upstream identity linked to
//! an existing user, so that signing in through the provider lands on that user; and a
//! provider (or a native password) taken away from a user.
//!
//! A link is found by the provider, an attribute name (`Cognito_Subject`, the provider's
//! subject, or a mapped attribute of the pool) and its value. Messages quoted in
//! docs/design/federation-facts.md §4.4 are Cognito's; the others are tessera's.

use serde_json::{json, Value};
use tessera_core::User;
use tessera_store::{FederatedLink, StoreError};

use crate::directory::{revise, user_not_found, Directory, Revision};
use crate::input::Input;
use crate::{Error, Service};

/// "The maximum number of federated identities linked to a user is five."
pub const MAX_LINKS: i64 = 5;
/// The attribute name that stands for the provider's own subject.
pub const SUBJECT: &str = "Cognito_Subject";

struct ProviderUser {
    provider: String,
    attribute: String,
    value: String,
}

fn provider_user(input: &Input, member: &str) -> Result<ProviderUser, Error> {
    let object = input.get(member).and_then(Value::as_object);
    let field = |name: &str| {
        object
            .and_then(|o| o.get(name))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let user = ProviderUser {
        provider: field("ProviderName"),
        attribute: field("ProviderAttributeName"),
        value: field("ProviderAttributeValue"),
    };
    if user.provider.is_empty() || user.value.is_empty() {
        return Err(Error::invalid_parameter(format!(
            "{member} must name a ProviderName and a ProviderAttributeValue."
        )));
    }
    Ok(user)
}

/// The username a federated user of `provider` with `subject` has in this pool.
pub fn federated_username(directory: &Directory, provider: &str, subject: &str) -> String {
    let raw = format!("{provider}_{subject}");
    if directory.case_sensitive {
        raw
    } else {
        raw.to_lowercase()
    }
}

/// The user an identity given as `<ProviderName, value>` stands for: a native user by
/// username for `Cognito`, otherwise the federated user of that provider and subject.
async fn destination(
    state: &Service,
    directory: &Directory,
    user: &ProviderUser,
) -> Result<(String, User), Error> {
    if user.provider == "Cognito" {
        return directory.get(state, &user.value).await;
    }
    let key = directory.key(&federated_username(directory, &user.provider, &user.value));
    let found = state.store.user(&directory.pool.id, &key).await?;
    found.map(|u| (key, u)).ok_or_else(user_not_found)
}

async fn provider_type(state: &Service, pool_id: &str, name: &str) -> Result<String, Error> {
    state
        .store
        .identity_provider(pool_id, name)
        .await?
        .map(|p| p.provider_type)
        .ok_or_else(|| {
            Error::invalid_parameter(format!(
                "The provider {} does not exist for User Pool {pool_id}.",
                tessera_core::excerpt(name)
            ))
        })
}

/// The `identities` attribute with `entry` added (an entry of the same provider and user id
/// is replaced).
pub fn with_identity(user: &User, entry: Value) -> String {
    let mut list: Vec<Value> = user
        .attributes
        .get("identities")
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    list.retain(|existing| {
        existing.get("providerName") != entry.get("providerName")
            || existing.get("userId") != entry.get("userId")
    });
    list.push(entry);
    Value::Array(list).to_string()
}

fn without_identity(user: &User, provider: &str, user_id: &str) -> Option<String> {
    let mut list: Vec<Value> = serde_json::from_str::<Value>(user.attributes.get("identities")?)
        .ok()?
        .as_array()?
        .clone();
    let before = list.len();
    list.retain(|existing| {
        existing.get("providerName").and_then(Value::as_str) != Some(provider)
            || existing.get("userId").and_then(Value::as_str) != Some(user_id)
    });
    (list.len() != before).then(|| Value::Array(list).to_string())
}

pub async fn admin_link_provider_for_user(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let pool_id = directory.pool.id.clone();
    let source = provider_user(&input, "SourceUser")?;
    if source.provider == "Cognito" {
        return Err(Error::invalid_parameter(
            "Invalid SourceUser: Cognito users with a username/password may not be passed in as a SourceUser, only as a DestinationUser",
        ));
    }
    let source_type = provider_type(state, &pool_id, &source.provider).await?;
    let attribute = if source.attribute.is_empty() {
        SUBJECT.to_owned()
    } else {
        source.attribute.clone()
    };
    let destination_user = provider_user(&input, "DestinationUser")?;
    if destination_user.provider != "Cognito" {
        provider_type(state, &pool_id, &destination_user.provider).await?;
    }
    let (key, _) = destination(state, &directory, &destination_user).await?;
    if attribute == SUBJECT {
        let federated = directory.key(&federated_username(
            &directory,
            &source.provider,
            &source.value,
        ));
        let signed_up = state
            .store
            .federated_link(&pool_id, &source.provider, SUBJECT, &source.value)
            .await?
            .is_some_and(|l| l.username_key == federated);
        if signed_up || state.store.user(&pool_id, &federated).await?.is_some() {
            return Err(Error::invalid_parameter(
                "Merging is not currently supported, provide a SourceUser that has not been signed up in order to link",
            ));
        }
    }
    let now = state.clock.now();
    let link = FederatedLink {
        pool_id: pool_id.clone(),
        provider_name: source.provider.clone(),
        attribute_name: attribute.clone(),
        attribute_value: source.value.clone(),
        username_key: key.clone(),
        created_at: now,
    };
    match state.store.insert_federated_link(&link, MAX_LINKS).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(Error::new(
                "LimitExceededException",
                format!("A user can have at most {MAX_LINKS} linked identities."),
            ))
        }
        Err(StoreError::Conflict) => {
            let existing = state
                .store
                .federated_link(&pool_id, &source.provider, &attribute, &source.value)
                .await?;
            // Linking the same identity to the same user again changes nothing.
            if existing.is_some_and(|l| l.username_key == key) {
                return Ok(json!({}));
            }
            return Err(Error::invalid_parameter(
                "The SourceUser is already linked to another user.",
            ));
        }
        Err(other) => return Err(other.into()),
    }
    if attribute == SUBJECT {
        let Some(user) = state.store.user(&pool_id, &key).await? else {
            return Err(user_not_found());
        };
        let created = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let entry = json!({
            "userId": source.value,
            "providerName": source.provider,
            "providerType": source_type,
            "issuer": null,
            "primary": false,
            "dateCreated": created,
        });
        revise(state, &directory, &key, user, |user| {
            let identities = with_identity(user, entry.clone());
            user.attributes.insert("identities".into(), identities);
            Ok(Some(Revision::default()))
        })
        .await?;
    }
    Ok(json!({}))
}

pub async fn admin_disable_provider_for_user(
    state: &Service,
    input: Input,
) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let pool_id = directory.pool.id.clone();
    let target = provider_user(&input, "User")?;
    let attribute = if target.attribute.is_empty() {
        SUBJECT.to_owned()
    } else {
        target.attribute.clone()
    };
    if target.provider == "Cognito" {
        // A native user "can't use their password to sign in" any more.
        let (key, user) = directory.get(state, &target.value).await?;
        revise(state, &directory, &key, user, |user| {
            if user.password_hash.is_none() && user.srp_verifier.is_none() {
                return Ok(None);
            }
            user.password_hash = None;
            user.srp_verifier = None;
            Ok(Some(Revision::default()))
        })
        .await?;
        return Ok(json!({}));
    }
    provider_type(state, &pool_id, &target.provider).await?;
    let own_key = directory.key(&federated_username(
        &directory,
        &target.provider,
        &target.value,
    ));
    let link = state
        .store
        .federated_link(&pool_id, &target.provider, &attribute, &target.value)
        .await?;
    // The identity of a federated user of its own (not linked to another user): the user
    // may no longer sign in through the provider.
    if attribute == SUBJECT && link.as_ref().is_none_or(|l| l.username_key == own_key) {
        if let Some(user) = state.store.user(&pool_id, &own_key).await? {
            if user.status == tessera_core::UserStatus::ExternalProvider {
                revise(state, &directory, &own_key, user, |user| {
                    if !user.enabled {
                        return Ok(None);
                    }
                    user.enabled = false;
                    Ok(Some(Revision::default()))
                })
                .await?;
                return Ok(json!({}));
            }
        }
    }
    if let Some(link) = state
        .store
        .delete_federated_link(&pool_id, &target.provider, &attribute, &target.value)
        .await?
    {
        // The link goes, and the identity with it from the user's `identities`.
        if let Some(user) = state.store.user(&pool_id, &link.username_key).await? {
            revise(
                state,
                &directory,
                &link.username_key,
                user,
                |user| match without_identity(user, &target.provider, &target.value) {
                    Some(identities) => {
                        user.attributes.insert("identities".into(), identities);
                        Ok(Some(Revision::default()))
                    }
                    None => Ok(None),
                },
            )
            .await?;
        }
        return Ok(json!({}));
    }
    Err(user_not_found())
}
