//! Identities: GetId (find or create the identity of a set of logins, linking and merging),
//! GetOpenIdToken, DescribeIdentity, ListIdentities, DeleteIdentities, UnlinkIdentity, and the
//! developer-authenticated operations.
//!
//! Linking rules. Logins presented together belong to one identity: GetId creates it, adds
//! any login not yet linked and merges identities the logins were linked to apart (the
//! identity of the first login survives). An identity holds one login per provider; a second
//! login of a provider it already has is a conflict. The operations that name an identity
//! (GetOpenIdToken, GetCredentialsForIdentity, UnlinkIdentity) require, for an authenticated
//! identity, at least one presented login already linked to it before they link any other:
//! knowing an identity id never lets a stranger attach their login to it. A guest identity
//! presented with a login that already has an identity is answered as that identity (the
//! response's `IdentityId` says which), which is how a returning user who was a guest on
//! this device gets their identity back.

use serde_json::{json, Map, Value};
use tessera_core::{excerpt, Identity, IdentityPool, Login};
use tessera_idp::input::{decode_token, encode_token, epoch_seconds};
use tessera_store::{IdentityLink, StoreError};

use crate::login::{self, LoginKind, VerifiedLogin};
use crate::pool::{self, pool_not_found};
use crate::{issuer, Error, IdentityService, Input};

/// How many times a link is retried after losing a race for one of its logins.
const LINK_ATTEMPTS: usize = 3;

pub fn identity_not_found(id: &str) -> Error {
    Error::not_found(format!("Identity '{}' not found.", excerpt(id)))
}

fn logins_do_not_match() -> Error {
    Error::new(
        "NotAuthorizedException",
        "Logins don't match. Please include at least one valid login for this identity or identity pool.",
    )
}

pub(crate) fn unauthenticated_not_supported() -> Error {
    Error::new(
        "NotAuthorizedException",
        "Unauthenticated access is not supported for this identity pool.",
    )
}

/// Whether the pool admits guests.
pub fn allows_guests(pool: &IdentityPool) -> bool {
    pool.settings
        .get("AllowUnauthenticatedIdentities")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Wording ours: Cognito's message for a second login of one provider was not found.
fn same_provider_conflict(provider: &str) -> Error {
    Error::new(
        "ResourceConflictException",
        format!(
            "The identity is already linked to another login of {}.",
            excerpt(provider)
        ),
    )
}

/// The identity with this id, with its pool.
pub async fn load(state: &IdentityService, id: &str) -> Result<(Identity, IdentityPool), Error> {
    let identity = state
        .store()
        .identity(id)
        .await?
        .ok_or_else(|| identity_not_found(id))?;
    let pool = state
        .store()
        .identity_pool(&identity.pool_id)
        .await?
        .ok_or_else(|| identity_not_found(id))?;
    Ok((identity, pool))
}

/// The logins of `verified` that are stored as links (a passed-through identity token is
/// the identity itself, not a login).
fn linkable(verified: &[VerifiedLogin]) -> Vec<Login> {
    verified
        .iter()
        .filter(|v| !matches!(v.kind, LoginKind::IdentityToken { .. }))
        .map(|v| v.login.clone())
        .collect()
}

/// Refuses two logins of one provider for one identity.
fn check_one_per_provider(existing: &[Login], adding: &[Login]) -> Result<(), Error> {
    for login in adding {
        let clash = existing
            .iter()
            .chain(adding)
            .any(|other| other.provider == login.provider && other.subject != login.subject);
        if clash {
            return Err(same_provider_conflict(&login.provider));
        }
    }
    Ok(())
}

/// A new identity of a pool, not yet stored.
fn fresh_identity(state: &IdentityService, pool: &IdentityPool) -> Identity {
    let now = state.now();
    Identity {
        id: state.new_id(tessera_core::region_of_identity_id(&pool.id).unwrap_or("us-east-1")),
        pool_id: pool.id.clone(),
        logins: Vec::new(),
        authenticated: false,
        created_at: now,
        last_modified_at: now,
    }
}

/// Finds or creates the one identity of `logins` in a pool (GetId), linking and merging.
pub async fn identity_of_logins(
    state: &IdentityService,
    pool: &IdentityPool,
    logins: &[Login],
) -> Result<String, Error> {
    for _ in 0..LINK_ATTEMPTS {
        let mut owners: Vec<String> = Vec::new();
        let mut missing: Vec<Login> = Vec::new();
        for login in logins {
            match state.store().identity_of_login(&pool.id, login).await? {
                Some(owner) => {
                    if !owners.contains(&owner) {
                        owners.push(owner);
                    }
                }
                None => missing.push(login.clone()),
            }
        }
        if missing.is_empty() && owners.len() == 1 {
            return Ok(owners.remove(0));
        }
        let now = state.now();
        let result = if owners.is_empty() {
            check_one_per_provider(&[], &missing)?;
            let identity = fresh_identity(state, pool);
            state
                .store()
                .link_identity(&IdentityLink {
                    pool_id: &pool.id,
                    into: &identity.id,
                    create: Some(&identity),
                    merge: &[],
                    add: &missing,
                    now,
                })
                .await
                .map(|()| identity.id)
        } else {
            let into = owners[0].clone();
            let mut existing = Vec::new();
            for owner in &owners {
                if let Some(identity) = state.store().identity(owner).await? {
                    existing.extend(identity.logins);
                }
            }
            check_one_per_provider(&existing, &missing)?;
            // Identities found apart are merged only if their logins do not clash. (One
            // identity may hold two logins of a provider after MergeDeveloperIdentities,
            // which is no reason to refuse it another login.)
            if owners.len() > 1 {
                check_one_per_provider(&[], &existing)?;
            }
            state
                .store()
                .link_identity(&IdentityLink {
                    pool_id: &pool.id,
                    into: &into,
                    create: None,
                    merge: &owners[1..],
                    add: &missing,
                    now,
                })
                .await
                .map(|()| into)
        };
        match result {
            Ok(id) => return Ok(id),
            // Another call linked one of the logins (or removed an identity) meanwhile:
            // decide again on a fresh read.
            Err(StoreError::Conflict) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(Error::new(
        "ResourceConflictException",
        "The logins were being linked by another request; retry.",
    ))
}

/// Links `new` logins to an existing identity (none is linked yet; one per provider).
/// `conflict` is the refusal when another call linked one of them first.
async fn add_logins(
    state: &IdentityService,
    identity: &Identity,
    new: &[Login],
    conflict: impl FnOnce() -> Error,
) -> Result<(), Error> {
    if new.is_empty() {
        return Ok(());
    }
    check_one_per_provider(&identity.logins, new)?;
    state
        .store()
        .link_identity(&IdentityLink {
            pool_id: &identity.pool_id,
            into: &identity.id,
            create: None,
            merge: &[],
            add: new,
            now: state.now(),
        })
        .await
        .map_err(|error| match error {
            StoreError::Conflict => conflict(),
            other => other.into(),
        })
}

/// A new guest identity.
pub async fn new_guest(state: &IdentityService, pool: &IdentityPool) -> Result<String, Error> {
    let identity = fresh_identity(state, pool);
    let now = identity.created_at;
    state
        .store()
        .link_identity(&IdentityLink {
            pool_id: &pool.id,
            into: &identity.id,
            create: Some(&identity),
            merge: &[],
            add: &[],
            now,
        })
        .await?;
    Ok(identity.id)
}

/// GetId.
pub async fn get_id(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let pool_id = input.required_str("IdentityPoolId")?;
    let pool = state
        .store()
        .identity_pool(pool_id)
        .await?
        .ok_or_else(|| pool_not_found(pool_id))?;
    let verified = login::verify_all(state, &pool, input.get("Logins")).await?;
    let id = if verified.is_empty() {
        if !allows_guests(&pool) {
            return Err(unauthenticated_not_supported());
        }
        new_guest(state, &pool).await?
    } else {
        // A passed-through identity token names its identity.
        if let Some(token) = verified
            .iter()
            .find(|v| matches!(v.kind, LoginKind::IdentityToken { .. }))
        {
            // It names its identity, which must still exist (and the token is only passed
            // through: any other login in the map is not linked by it).
            let (identity, _) = load(state, &token.login.subject).await?;
            identity.id
        } else {
            identity_of_logins(state, &pool, &linkable(&verified)).await?
        }
    };
    Ok(json!({ "IdentityId": id }))
}

/// What the operations naming an identity establish: the identity, its pool, and the logins
/// presented (verified and, where new, linked), or none for a guest.
pub struct Presented {
    pub identity: Identity,
    pub pool: IdentityPool,
    pub logins: Vec<VerifiedLogin>,
}

impl Presented {
    /// Whether credentials are for an authenticated session: logins were presented, or a
    /// passed-through token says so.
    pub fn authenticated(&self) -> bool {
        self.logins.iter().any(|login| match login.kind {
            LoginKind::IdentityToken { authenticated } => authenticated,
            _ => true,
        })
    }
}

/// Checks the `Logins` presented for an identity (GetOpenIdToken, GetCredentialsForIdentity,
/// UnlinkIdentity). A guest presents none, in a pool that admits guests; an authenticated
/// identity presents at least one login already linked to it, and the others are linked.
pub async fn present(
    state: &IdentityService,
    identity_id: &str,
    logins: Option<&Value>,
) -> Result<Presented, Error> {
    let (mut identity, pool) = load(state, identity_id).await?;
    let verified = login::verify_all(state, &pool, logins).await?;
    // A guest that signs in as a user who already has an identity becomes that identity:
    // the answer names it, and clients (Amplify) keep it from then on. The guest identity
    // is left as it is, so that naming someone else's guest id cannot remove it.
    if !identity.is_authenticated() {
        for login in linkable(&verified) {
            if let Some(owner) = state.store().identity_of_login(&pool.id, &login).await? {
                if owner != identity.id {
                    identity = load(state, &owner).await?.0;
                    break;
                }
            }
        }
    }
    if verified.is_empty() {
        if identity.is_authenticated() {
            return Err(logins_do_not_match());
        }
        if !allows_guests(&pool) {
            return Err(unauthenticated_not_supported());
        }
        return Ok(Presented {
            identity,
            pool,
            logins: verified,
        });
    }
    let mut anchored = false;
    let mut new = Vec::new();
    for login in &verified {
        if let LoginKind::IdentityToken { .. } = login.kind {
            if login.login.subject != identity.id {
                return Err(logins_do_not_match());
            }
            anchored = true;
            continue;
        }
        if identity.logins.contains(&login.login) {
            anchored = true;
            continue;
        }
        match state
            .store()
            .identity_of_login(&pool.id, &login.login)
            .await?
        {
            Some(_) => return Err(logins_do_not_match()),
            None => new.push(login.login.clone()),
        }
    }
    // A guest becomes authenticated by its first login; an authenticated identity is only
    // reached through a login it already has.
    if !anchored && identity.is_authenticated() {
        return Err(logins_do_not_match());
    }
    add_logins(state, &identity, &new, logins_do_not_match).await?;
    Ok(Presented {
        identity,
        pool,
        logins: verified,
    })
}

/// The principal tags of a session: the attribute map of the provider of the first login
/// that has one (`UseDefaults` gives `username` and `client`), read from its claims.
pub fn principal_tags(pool: &IdentityPool, logins: &[VerifiedLogin]) -> Map<String, Value> {
    let mut tags = Map::new();
    for login in logins {
        // A passed-through identity token carries the tags it was issued with.
        if let LoginKind::IdentityToken { .. } = login.kind {
            let carried = issuer::carried_tags(&login.claims);
            if !carried.is_empty() {
                tags.extend(carried);
                break;
            }
            continue;
        }
        let Some(entry) = pool
            .principal_tags
            .get(&login.configured_name)
            .or_else(|| pool.principal_tags.get(&login.login.provider))
        else {
            continue;
        };
        let map = entry
            .get("PrincipalTags")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (tag, claim) in map {
            let value = claim
                .as_str()
                .and_then(|claim| login.claims.get(claim))
                .and_then(|value| match value {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                });
            if let Some(value) = value {
                tags.insert(tag, json!(value));
            }
        }
        break;
    }
    tags
}

/// The `amr` of an OpenID token for what was presented.
pub fn amr(presented: &Presented) -> Vec<String> {
    if let Some(passed) = presented
        .logins
        .iter()
        .find(|l| matches!(l.kind, LoginKind::IdentityToken { .. }))
    {
        return passed.amr.clone();
    }
    if !presented.authenticated() {
        return vec!["unauthenticated".into()];
    }
    let mut amr = vec!["authenticated".to_owned()];
    for login in &presented.logins {
        amr.push(login.login.provider.clone());
        amr.push(login.amr_entry(&presented.pool.id));
    }
    amr
}

/// Whether the pool allows the basic (classic) flow.
fn classic_flow(pool: &IdentityPool) -> Result<(), Error> {
    if !pool
        .settings
        .get("AllowClassicFlow")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        // Wording as reported by Cognito users for a pool without the classic flow.
        return Err(Error::invalid_parameter(
            "Basic (classic) flow is not enabled, please use enhanced flow.",
        ));
    }
    if pool
        .roles
        .get("RoleMappings")
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
    {
        return Err(Error::invalid_parameter(
            "Basic (classic) flow is not supported with RoleMappings, please use enhanced flow.",
        ));
    }
    Ok(())
}

/// GetOpenIdToken: a ten-minute token of tessera's identity issuer for the identity, the
/// first step of the basic flow.
pub async fn get_open_id_token(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let presented = present(
        state,
        input.required_str("IdentityId")?,
        input.get("Logins"),
    )
    .await?;
    // An identity token is passed through to credentials, never exchanged for a fresh one:
    // otherwise a ten-minute token would renew itself without the login behind it.
    if presented
        .logins
        .iter()
        .any(|l| matches!(l.kind, LoginKind::IdentityToken { .. }))
    {
        return Err(Error::invalid_parameter(
            "A cognito-identity.amazonaws.com token cannot be exchanged for another; present the login it was issued for.",
        ));
    }
    classic_flow(&presented.pool)?;
    let tags = principal_tags(&presented.pool, &presented.logins);
    let token = issuer::sign(
        state,
        &issuer::TokenClaims {
            identity_id: &presented.identity.id,
            pool_id: &presented.pool.id,
            amr: amr(&presented),
            principal_tags: &tags,
            lifetime_seconds: issuer::OPEN_ID_TOKEN_SECONDS,
        },
    )
    .await?;
    Ok(json!({ "IdentityId": presented.identity.id, "Token": token }))
}

/// DescribeIdentity.
pub async fn describe(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let id = input.required_str("IdentityId")?;
    let (identity, _) = load(state, id).await?;
    if input
        .region()
        .is_some_and(|r| tessera_core::region_of_identity_id(&identity.id) != Some(r))
    {
        return Err(identity_not_found(id));
    }
    Ok(description(&identity))
}

fn description(identity: &Identity) -> Value {
    let mut providers: Vec<&str> = identity
        .logins
        .iter()
        .map(|l| l.provider.as_str())
        .collect();
    providers.dedup();
    json!({
        "IdentityId": identity.id,
        "Logins": providers,
        "CreationDate": epoch_seconds(identity.created_at),
        "LastModifiedDate": epoch_seconds(identity.last_modified_at),
    })
}

/// ListIdentities.
pub async fn list(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let pool = pool::load(state, &input, input.required_str("IdentityPoolId")?).await?;
    let limit = input.i64("MaxResults").unwrap_or(60).clamp(1, 60);
    let after = match input.str("NextToken") {
        Some(token) => decode_token(token)?,
        None => String::new(),
    };
    let mut page = state
        .store()
        .identities(&pool.id, &after, limit + 1)
        .await?;
    let more = page.len() > usize::try_from(limit).unwrap_or(60);
    page.truncate(usize::try_from(limit).unwrap_or(60));
    let mut out = json!({
        "IdentityPoolId": pool.id,
        "Identities": page.iter().map(description).collect::<Vec<_>>(),
    });
    if more {
        if let Some(last) = page.last() {
            out["NextToken"] = json!(encode_token(&last.id));
        }
    }
    Ok(out)
}

/// DeleteIdentities: deletes each identity (with its logins); an id that names no identity
/// is not an error, as nothing is left to delete.
pub async fn delete(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let mut unprocessed = Vec::new();
    for id in input.strings("IdentityIdsToDelete") {
        if input
            .region()
            .is_some_and(|r| tessera_core::region_of_identity_id(&id) != Some(r))
        {
            unprocessed.push(json!({ "IdentityId": id, "ErrorCode": "AccessDenied" }));
            continue;
        }
        state.store().delete_identity(&id).await?;
    }
    Ok(json!({ "UnprocessedIdentityIds": unprocessed }))
}

/// UnlinkIdentity: with a login of the identity, removes the logins of the providers named
/// in `LoginsToRemove`.
pub async fn unlink(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let presented = present(
        state,
        input.required_str("IdentityId")?,
        input.get("Logins"),
    )
    .await?;
    if !presented.authenticated() {
        return Err(logins_do_not_match());
    }
    let remove: Vec<String> = input.strings("LoginsToRemove");
    let canonical = |name: &str| {
        login::user_pool_of_provider(state, name)
            .map_or_else(|| name.to_owned(), |pool| login::user_pool_provider(&pool))
    };
    let targets: Vec<Login> = presented
        .identity
        .logins
        .iter()
        .filter(|l| remove.iter().any(|name| canonical(name) == l.provider))
        .cloned()
        .collect();
    state
        .store()
        .unlink_logins(&presented.identity.id, &targets, state.now())
        .await?;
    Ok(json!({}))
}

// ---- developer-authenticated identities ----

fn developer_provider(pool: &IdentityPool) -> Result<&str, Error> {
    login::developer_provider(pool).ok_or_else(|| {
        Error::invalid_parameter("The identity pool has no developer provider name.")
    })
}

/// GetOpenIdTokenForDeveloperIdentity: the developer's backend vouches for a user of its
/// own; the identity of that login is found, created or (with `IdentityId`) linked to.
pub async fn get_open_id_token_for_developer(
    state: &IdentityService,
    input: Input,
) -> Result<Value, Error> {
    let pool = pool::load(state, &input, input.required_str("IdentityPoolId")?).await?;
    let developer = developer_provider(&pool)?.to_owned();
    let logins = input
        .get("Logins")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut developer_login = None;
    let mut others = Map::new();
    for (key, value) in logins {
        if key == developer {
            developer_login = value.as_str().map(|subject| Login {
                provider: developer.clone(),
                subject: subject.to_owned(),
            });
        } else {
            others.insert(key, value);
        }
    }
    let developer_login = developer_login.ok_or_else(|| {
        Error::invalid_parameter(format!(
            "Logins must include the developer provider {}.",
            excerpt(&developer)
        ))
    })?;
    let mut verified = login::verify_all(state, &pool, Some(&Value::Object(others))).await?;
    let mut all = linkable(&verified);
    all.push(developer_login.clone());
    let id = match input.str("IdentityId") {
        Some(id) => {
            let (identity, _) = load(state, id).await?;
            if identity.pool_id != pool.id {
                return Err(identity_not_found(id));
            }
            // An identity whose last login was removed is inaccessible, also to its
            // developer.
            if identity.is_authenticated() && identity.logins.is_empty() {
                return Err(logins_do_not_match());
            }
            match state.store().identity_of_login(&pool.id, &developer_login).await? {
                Some(owner) if owner != identity.id => {
                    return Err(Error::new(
                        "DeveloperUserAlreadyRegisteredException",
                        "The provided developer user identifier is already registered with Cognito under a different identity ID.",
                    ))
                }
                _ => {}
            }
            let new: Vec<Login> = all
                .into_iter()
                .filter(|l| !identity.logins.contains(l))
                .collect();
            add_logins(state, &identity, &new, || {
                Error::new(
                    "ResourceConflictException",
                    "A login was linked to another identity meanwhile.",
                )
            })
            .await?;
            identity.id
        }
        None => identity_of_logins(state, &pool, &all).await?,
    };
    verified.push(VerifiedLogin {
        login: developer_login,
        kind: LoginKind::Developer,
        mapping_key: developer.clone(),
        configured_name: developer,
        claims: Map::new(),
        amr: Vec::new(),
    });
    let mut tags = principal_tags(&pool, &verified);
    if let Some(given) = input.get("PrincipalTags").and_then(Value::as_object) {
        tags.extend(given.clone());
    }
    let identity = state
        .store()
        .identity(&id)
        .await?
        .ok_or_else(|| identity_not_found(&id))?;
    let presented = Presented {
        identity,
        pool,
        logins: verified,
    };
    let lifetime = input
        .i64("TokenDuration")
        .and_then(|d| u64::try_from(d).ok())
        .unwrap_or(issuer::DEVELOPER_TOKEN_SECONDS);
    let token = issuer::sign(
        state,
        &issuer::TokenClaims {
            identity_id: &presented.identity.id,
            pool_id: &presented.pool.id,
            amr: amr(&presented),
            principal_tags: &tags,
            lifetime_seconds: lifetime,
        },
    )
    .await?;
    Ok(json!({ "IdentityId": presented.identity.id, "Token": token }))
}

/// LookupDeveloperIdentity: the identity of a developer user, or the developer users of an
/// identity.
pub async fn lookup_developer(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let pool = pool::load(state, &input, input.required_str("IdentityPoolId")?).await?;
    let developer = developer_provider(&pool)?.to_owned();
    let id = match (
        input.str("IdentityId"),
        input.str("DeveloperUserIdentifier"),
    ) {
        (_, Some(user)) => {
            let login = Login {
                provider: developer.clone(),
                subject: user.to_owned(),
            };
            let owner = state
                .store()
                .identity_of_login(&pool.id, &login)
                .await?
                .ok_or_else(|| identity_not_found(user))?;
            if input.str("IdentityId").is_some_and(|given| given != owner) {
                return Err(identity_not_found(input.str("IdentityId").unwrap_or("")));
            }
            owner
        }
        (Some(id), None) => id.to_owned(),
        (None, None) => {
            return Err(Error::invalid_parameter(
                "Either IdentityId or DeveloperUserIdentifier must be specified.",
            ))
        }
    };
    let (identity, _) = load(state, &id).await?;
    if identity.pool_id != pool.id {
        return Err(identity_not_found(&id));
    }
    let users: Vec<&str> = identity
        .logins
        .iter()
        .filter(|l| l.provider == developer)
        .map(|l| l.subject.as_str())
        .collect();
    Ok(json!({ "IdentityId": identity.id, "DeveloperUserIdentifierList": users }))
}

/// MergeDeveloperIdentities: the source user's identity is merged into the destination
/// user's; the destination identity survives.
pub async fn merge_developer(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let pool = pool::load(state, &input, input.required_str("IdentityPoolId")?).await?;
    let developer = developer_provider(&pool)?.to_owned();
    if input.required_str("DeveloperProviderName")? != developer {
        return Err(Error::invalid_parameter(
            "DeveloperProviderName does not match the identity pool's developer provider.",
        ));
    }
    let login = |subject: &str| Login {
        provider: developer.clone(),
        subject: subject.to_owned(),
    };
    let source = login(input.required_str("SourceUserIdentifier")?);
    let destination = login(input.required_str("DestinationUserIdentifier")?);
    let into = state
        .store()
        .identity_of_login(&pool.id, &destination)
        .await?
        .ok_or_else(|| identity_not_found(&destination.subject))?;
    let from = state
        .store()
        .identity_of_login(&pool.id, &source)
        .await?
        .ok_or_else(|| identity_not_found(&source.subject))?;
    if from != into {
        // Each identity has one developer login, so the merged identity holds two of one
        // provider: the one exception to one login per provider, as Cognito's merge makes.
        state
            .store()
            .link_identity(&IdentityLink {
                pool_id: &pool.id,
                into: &into,
                create: None,
                merge: &[from],
                add: &[],
                now: state.now(),
            })
            .await
            .map_err(|error| match error {
                StoreError::Conflict => Error::new(
                    "ResourceConflictException",
                    "The identity changed meanwhile; retry.",
                ),
                other => other.into(),
            })?;
    }
    Ok(json!({ "IdentityId": into }))
}

/// UnlinkDeveloperIdentity.
pub async fn unlink_developer(state: &IdentityService, input: Input) -> Result<Value, Error> {
    let pool = pool::load(state, &input, input.required_str("IdentityPoolId")?).await?;
    let developer = developer_provider(&pool)?.to_owned();
    if input.required_str("DeveloperProviderName")? != developer {
        return Err(Error::invalid_parameter(
            "DeveloperProviderName does not match the identity pool's developer provider.",
        ));
    }
    let id = input.required_str("IdentityId")?;
    let (identity, _) = load(state, id).await?;
    if identity.pool_id != pool.id {
        return Err(identity_not_found(id));
    }
    let login = Login {
        provider: developer,
        subject: input.required_str("DeveloperUserIdentifier")?.to_owned(),
    };
    if !identity.logins.contains(&login) {
        return Err(identity_not_found(&login.subject));
    }
    state
        .store()
        .unlink_logins(&identity.id, &[login], state.now())
        .await?;
    Ok(json!({}))
}
