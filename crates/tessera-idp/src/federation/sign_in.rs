//! A sign-in through an upstream OpenID Connect or social provider: [`depart`] sends the
//! browser to the provider's authorization endpoint, [`arrive`] takes its answer at
//! `/oauth2/idpresponse`, redeems the code, checks the ID token and lands the browser on the
//! pool's federated user.
//!
//! The request sent upstream carries a fresh `state`, `nonce` and PKCE S256 challenge.
//! What the answer needs (the app's authorization request, the nonce, the PKCE verifier)
//! stays on the server, sealed, found by the hash of the state, usable once and for five
//! minutes (Cognito cancels a federated sign-in that takes longer). The state is also bound
//! to the browser that started the sign-in: [`Departure::binding`] goes into a cookie, and a
//! callback from another browser (a login CSRF, where an attacker's code lands in a
//! victim's browser) is refused.

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Map, Value};
use tessera_core::{IdentityProvider, User};
use tessera_store::FederationRequest;

use super::details::ProviderKind;
use super::upstream::{CodeExchange, IdTokenCheck};
use crate::directory::Directory;
use crate::sign_in::tokens::{opaque, sha256_hex};
use crate::{Error, Service};

/// How long a sign-in may stay at the upstream provider.
pub const UPSTREAM_LIFETIME: Duration = Duration::from_secs(300);

/// Where to send the browser, and the value its binding cookie must hold on return.
#[derive(Debug)]
pub struct Departure {
    pub location: String,
    pub binding: String,
}

/// A callback that came back to a known sign-in: the app's authorization request, and the
/// user it signed in or the error the app is told.
#[derive(Debug)]
pub struct Arrival {
    pub authorize_query: String,
    pub outcome: Result<(String, User), (String, String)>,
}

/// How a failure is told to the app at its callback: a refusal with its message, an
/// internal failure (logged where it happened) as `server_error` without detail.
pub fn for_app(error: Error) -> (String, String) {
    if error.is_internal() {
        (
            "server_error".to_owned(),
            "An internal error occurred.".to_owned(),
        )
    } else {
        ("invalid_request".to_owned(), error.message)
    }
}

/// The `client_id` of the app's authorization request.
pub(crate) fn client_id_of(authorize_query: &str) -> Option<String> {
    form_urlencoded::parse(authorize_query.as_bytes())
        .find(|(name, _)| name == "client_id")
        .map(|(_, value)| value.into_owned())
}

pub(crate) fn text<'a>(details: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    details
        .get(key)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

pub(crate) fn kind_of(provider: &IdentityProvider) -> Result<ProviderKind, Error> {
    ProviderKind::parse(&provider.provider_type)
        .ok_or_else(|| Error::internal(&"stored provider type"))
}

/// Starts a sign-in at `provider_name` for the app's authorization request
/// `authorize_query`. `pages_url` is the base URL of the pool's pages: an OpenID provider
/// answers at `<pages_url>/oauth2/idpresponse`, a SAML IdP posts to
/// `<pages_url>/saml2/idpresponse`.
pub async fn depart(
    state: &Service,
    pool_id: &str,
    provider_name: &str,
    authorize_query: &str,
    pages_url: &str,
) -> Result<Departure, Error> {
    let provider = state
        .store
        .identity_provider(pool_id, provider_name)
        .await?
        .ok_or_else(|| Error::invalid_parameter("The identity provider does not exist."))?;
    let kind = kind_of(&provider)?;
    if kind == ProviderKind::Saml {
        return super::saml_sign_in::depart(state, pool_id, &provider, authorize_query, pages_url)
            .await;
    }
    let redirect_uri = format!("{pages_url}/oauth2/idpresponse");
    let redirect_uri = redirect_uri.as_str();
    let details = &provider.details;
    let authorize_url = text(details, "authorize_url")
        .ok_or_else(|| Error::internal(&"provider without authorize_url"))?;
    let upstream_state = opaque(state, 32);
    let nonce = opaque(state, 24);
    let verifier = opaque(state, 32);
    let binding = opaque(state, 32);
    let now = state.clock.now();
    state
        .store
        .insert_federation_request(&FederationRequest {
            state_hash: sha256_hex(&upstream_state),
            pool_id: pool_id.to_owned(),
            provider_name: provider.name.clone(),
            request: json!({
                "authorize_query": authorize_query,
                "nonce": nonce,
                "verifier": verifier,
                "binding": sha256_hex(&binding),
                "redirect_uri": redirect_uri,
            }),
            created_at: now,
            expires_at: now + UPSTREAM_LIFETIME,
        })
        .await?;
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()),
    );
    let mut query = form_query(authorize_url);
    query.append_pair("response_type", "code");
    query.append_pair("client_id", text(details, "client_id").unwrap_or_default());
    query.append_pair("redirect_uri", redirect_uri);
    query.append_pair(
        "scope",
        text(details, "authorize_scopes").unwrap_or_default(),
    );
    query.append_pair("state", &upstream_state);
    if matches!(
        kind,
        ProviderKind::Oidc | ProviderKind::Google | ProviderKind::SignInWithApple
    ) {
        query.append_pair("nonce", &nonce);
    }
    query.append_pair("code_challenge", &challenge);
    query.append_pair("code_challenge_method", "S256");
    // Apple answers by form POST when the name or e-mail address is asked for (its rule).
    if kind == ProviderKind::SignInWithApple {
        query.append_pair("response_mode", "form_post");
    }
    Ok(Departure {
        location: query.finish(),
        binding,
    })
}

/// A URL with its own query kept, ready for more parameters.
struct UrlQuery {
    base: String,
    query: form_urlencoded::Serializer<'static, String>,
}

impl UrlQuery {
    fn append_pair(&mut self, name: &str, value: &str) {
        self.query.append_pair(name, value);
    }

    fn finish(mut self) -> String {
        format!("{}?{}", self.base, self.query.finish())
    }
}

fn form_query(url: &str) -> UrlQuery {
    let (base, existing) = url.split_once('?').unwrap_or((url, ""));
    UrlQuery {
        base: base.to_owned(),
        query: form_urlencoded::Serializer::new(existing.to_owned()),
    }
}

/// The parameters of the provider's answer.
#[derive(Debug, Default)]
pub struct Callback<'a> {
    pub state: Option<&'a str>,
    pub code: Option<&'a str>,
    pub error: Option<&'a str>,
    pub error_description: Option<&'a str>,
    /// The browser's binding cookie.
    pub binding: Option<&'a str>,
}

/// Takes the provider's answer. An `Err` is for the error page: the answer belongs to no
/// sign-in this browser started, so there is no app to send it to.
pub async fn arrive(
    state: &Service,
    pool_id: &str,
    callback: &Callback<'_>,
) -> Result<Arrival, Error> {
    let upstream_state = callback.state.ok_or_else(|| {
        Error::invalid_parameter("The answer of the identity provider has no state.")
    })?;
    let request = state
        .store
        .take_federation_request(&sha256_hex(upstream_state), state.clock.now())
        .await?
        .ok_or_else(expired)?;
    if request.pool_id != pool_id {
        return Err(expired());
    }
    let stored = |name: &str| {
        request
            .request
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    check_binding(&request, callback.binding)?;
    let authorize_query = stored("authorize_query");
    let outcome = land(
        state,
        pool_id,
        &request,
        callback,
        &stored("nonce"),
        &stored("verifier"),
        &stored("redirect_uri"),
    )
    .await;
    Ok(Arrival {
        authorize_query,
        outcome,
    })
}

/// Checks that the callback comes back to the browser that started the sign-in.
pub(crate) fn check_binding(
    request: &FederationRequest,
    cookie: Option<&str>,
) -> Result<(), Error> {
    let stored = request
        .request
        .get("binding")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let matches = cookie.is_some_and(|cookie| {
        use subtle::ConstantTimeEq;
        sha256_hex(cookie)
            .as_bytes()
            .ct_eq(stored.as_bytes())
            .into()
    });
    if matches {
        Ok(())
    } else {
        Err(Error::invalid_parameter(
            "This sign-in was started in another browser. Start again from the app.",
        ))
    }
}

/// The error page's answer to a callback of no known sign-in.
pub(crate) fn expired() -> Error {
    Error::invalid_parameter(
        "This sign-in through the identity provider has expired or was already completed. Start again from the app.",
    )
}

/// An OAuth error code of RFC 6749 §4.1.2.1 passed on as it came, anything else as
/// `server_error`: the provider's text goes to the app only inside the description.
fn oauth_error(error: &str) -> &'static str {
    match error {
        "access_denied" => "access_denied",
        "invalid_scope" => "invalid_scope",
        "temporarily_unavailable" => "temporarily_unavailable",
        "unauthorized_client" => "unauthorized_client",
        "invalid_request" => "invalid_request",
        _ => "server_error",
    }
}

async fn land(
    state: &Service,
    pool_id: &str,
    request: &FederationRequest,
    callback: &Callback<'_>,
    nonce: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<(String, User), (String, String)> {
    let name = request.provider_name.as_str();
    if let Some(error) = callback.error {
        // Cognito puts the provider's name before what the provider said.
        let description = callback.error_description.unwrap_or(error);
        return Err((
            oauth_error(error).to_owned(),
            format!("{name} Error - {}", clip(description)),
        ));
    }
    let internal = for_app;
    let Some(code) = callback.code else {
        return Err((
            "invalid_request".into(),
            format!("{name} Error - the answer has no code."),
        ));
    };
    let provider = state
        .store
        .identity_provider(pool_id, name)
        .await
        .map_err(|e| internal(e.into()))?
        .ok_or_else(|| {
            (
                "invalid_request".to_owned(),
                format!("The identity provider {name} no longer exists."),
            )
        })?;
    let kind = kind_of(&provider).map_err(internal)?;
    let details = &provider.details;
    let id_token = match (
        kind,
        text(details, "oidc_issuer"),
        text(details, "jwks_uri"),
    ) {
        (ProviderKind::Facebook | ProviderKind::LoginWithAmazon, _, _) => None,
        (_, Some(issuer), Some(jwks_uri)) => Some(IdTokenCheck {
            issuer,
            jwks_uri,
            nonce,
        }),
        _ => {
            return Err(internal(Error::internal(&format!(
                "provider {name} has no oidc_issuer or jwks_uri"
            ))))
        }
    };
    let userinfo_url = text(details, "attributes_url").map(|url| {
        // "attributes_url_add_attributes": the mapped attributes are appended, comma-separated
        // (Facebook's `fields=`, Google's `personFields=`).
        if text(details, "attributes_url_add_attributes") == Some("true") {
            let fields: Vec<&str> = provider
                .attribute_mapping
                .values()
                .filter_map(Value::as_str)
                .collect();
            format!("{url}{}", fields.join(","))
        } else {
            url.to_owned()
        }
    });
    // Apple's client secret is a JWT signed for this redemption.
    let apple_secret = if kind == ProviderKind::SignInWithApple {
        Some(
            super::apple::client_secret(
                text(details, "team_id").unwrap_or_default(),
                text(details, "key_id").unwrap_or_default(),
                text(details, "client_id").unwrap_or_default(),
                text(details, "private_key").unwrap_or_default(),
                state.clock.now(),
            )
            .map_err(internal)?,
        )
    } else {
        None
    };
    let exchange = CodeExchange {
        token_url: text(details, "token_url").unwrap_or_default(),
        token_method: text(details, "token_request_method").unwrap_or("POST"),
        client_id: text(details, "client_id").unwrap_or_default(),
        client_secret: apple_secret.as_deref().or(text(details, "client_secret")),
        code,
        code_verifier: verifier,
        redirect_uri,
        id_token,
        userinfo: userinfo_url.as_deref().map(|url| {
            (
                url,
                text(details, "attributes_request_method").unwrap_or("GET"),
            )
        }),
    };
    let claims = state.upstream.redeem(&exchange).await.map_err(|error| {
        tracing::info!(provider = name, %error, "upstream sign-in refused");
        (
            "invalid_request".to_owned(),
            format!("{name} Error - {}", clip(&error.0)),
        )
    })?;
    let client_id = client_id_of(
        request
            .request
            .get("authorize_query")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    let claims = inbound_federation(
        state,
        pool_id,
        &provider,
        client_id.as_deref(),
        "idToken",
        claims,
    )
    .await
    .map_err(internal)?;
    let issuer = match kind {
        ProviderKind::Oidc => text(details, "oidc_issuer"),
        _ => None,
    };
    federated_user(
        state,
        pool_id,
        &provider,
        kind,
        &claims,
        client_id.as_deref(),
        issuer,
    )
    .await
    .map_err(internal)
}

pub(crate) fn clip(text: &str) -> String {
    text.chars().take(300).collect()
}

/// A claim as an attribute value: strings as they are, booleans and numbers as text.
fn claim_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(number.to_string()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Runs the pool's InboundFederation function, if any, on what the provider said: its
/// `userAttributesToMap` replaces the attributes the mapping reads ("All attributes to be
/// retained must be included"), an empty object keeps them all. The user's identifier is
/// the provider's whatever the function returns, since the mapping of `username` names it.
pub(crate) async fn inbound_federation(
    state: &Service,
    pool_id: &str,
    provider: &IdentityProvider,
    client_id: Option<&str>,
    source: &str,
    claims: Map<String, Value>,
) -> Result<Map<String, Value>, Error> {
    let pool = crate::pool::user_pool::load(state, pool_id).await?;
    if crate::trigger::function(&pool, crate::trigger::Trigger::InboundFederation).is_none() {
        return Ok(claims);
    }
    let call = crate::trigger::Call {
        trigger: crate::trigger::Trigger::InboundFederation,
        source: "InboundFederation_ExternalProvider",
        pool: &pool,
        user_name: "",
        client_id,
        request: json!({
            "providerName": provider.name,
            "providerType": provider.provider_type,
            "attributes": { source: claims },
        }),
    };
    let Some(response) = crate::trigger::run(state, &call).await? else {
        return Ok(claims);
    };
    match response.get("userAttributesToMap") {
        Some(Value::Object(given)) if !given.is_empty() => {
            let mut kept = given.clone();
            // The provider's identifier of the user is the provider's: a function cannot
            // make the sign-in land on another user.
            for key in ["sub", "id", "user_id", "NameID"] {
                match claims.get(key) {
                    Some(value) => {
                        kept.insert(key.to_owned(), value.clone());
                    }
                    None => {
                        kept.remove(key);
                    }
                }
            }
            Ok(kept)
        }
        _ => Ok(claims),
    }
}

/// Creates or refreshes the pool's user for these upstream claims.
pub(crate) async fn federated_user(
    state: &Service,
    pool_id: &str,
    provider: &IdentityProvider,
    kind: ProviderKind,
    claims: &Map<String, Value>,
    client_id: Option<&str>,
    // The `issuer` of the identity: the OIDC issuer or the SAML IdP's entity id; none for
    // the social providers.
    issuer: Option<&str>,
) -> Result<(String, User), Error> {
    let directory = Directory::load(state, pool_id).await?;
    let source = provider
        .attribute_mapping
        .get("username")
        .and_then(Value::as_str)
        .unwrap_or(kind.default_subject());
    let subject = claims
        .get(source)
        .and_then(claim_text)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::invalid_parameter(format!(
                "The identity provider did not send {source}, which identifies its users."
            ))
        })?;
    // New federated users' names are lower-case in pools whose usernames ignore case
    // (docs/design/federation-facts.md §4.1); the provider's name keeps its case in
    // `identities`.
    let username = super::link::federated_username(&directory, &provider.name, &subject);
    let mut mapped: Vec<(String, String)> = Vec::new();
    for (attribute, claim) in &provider.attribute_mapping {
        if attribute == "username" {
            continue;
        }
        let Some(claim) = claim.as_str() else {
            continue;
        };
        if let Some(value) = claims.get(claim).and_then(claim_text) {
            mapped.push((attribute.clone(), value));
        }
    }
    let now_ms = state
        .clock
        .now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let identity = |user: Option<&User>, primary: bool| {
        json!({
            "userId": subject,
            "providerName": provider.name,
            "providerType": provider.provider_type,
            "issuer": issuer,
            "primary": primary,
            "dateCreated": user
                .and_then(|user| identity_date(user, &provider.name))
                .unwrap_or(now_ms),
        })
    };
    if let Some(found) = linked_user(state, &directory, provider, &subject, &mapped, claims).await?
    {
        let (key, user) = found;
        // The federated user of this identity is found through the link made when it was
        // created; its identity stays the primary one.
        let own = key == directory.key(&username);
        let user = crate::directory::revise(state, &directory, &key, user, |user| {
            if !user.enabled {
                return Err(Error::user_disabled());
            }
            let mut pairs = mapped.clone();
            pairs.push((
                "identities".into(),
                super::link::with_identity(user, identity(Some(user), own)),
            ));
            let written = crate::directory::write_attributes(
                &directory.pool,
                crate::directory::Writer::Administrator,
                crate::directory::Moment::Update,
                &user.attributes,
                &pairs,
            )?;
            if written.attributes == user.attributes {
                return Ok(None);
            }
            user.attributes = written.attributes;
            Ok(Some(crate::directory::Revision::default()))
        })
        .await?;
        return Ok((key, user));
    }
    // A federated user is found by its identity (the link made at its creation), never by
    // its name alone: a user who merely has the name `<provider>_<subject>` (one signed up
    // with a password, or another subject equal but for case in a case-insensitive pool)
    // is not this identity's user.
    let existing = state.store.user(pool_id, &directory.key(&username)).await?;
    let taken = || {
        Error::invalid_parameter(format!(
            "The user name {} is taken by another user of the pool.",
            tessera_core::excerpt(&username)
        ))
    };
    if existing
        .as_ref()
        .is_some_and(|user| !is_own_user(user, &provider.name, &subject))
    {
        return Err(taken());
    }
    let identities = Value::Array(vec![identity(existing.as_ref(), true)]);
    mapped.push(("identities".into(), identities.to_string()));
    let (key, user, created) =
        crate::directory::user::federated_user(state, &directory, &username, &mapped, client_id)
            .await?;
    if !is_own_user(&user, &provider.name, &subject) {
        return Err(taken());
    }
    // The identity's link: how the next sign-in finds this user (made again here when a
    // crash came between the user and its link).
    let link = tessera_store::FederatedLink {
        pool_id: pool_id.to_owned(),
        provider_name: provider.name.clone(),
        attribute_name: super::link::SUBJECT.to_owned(),
        attribute_value: subject.clone(),
        username_key: key.clone(),
        created_at: state.clock.now(),
    };
    match state.store.insert_federated_link(&link, i64::MAX).await {
        Ok(_) | Err(tessera_store::StoreError::Conflict) => {}
        Err(other) => return Err(other.into()),
    }
    if created {
        join_provider_group(state, pool_id, &provider.name, &key).await?;
    }
    Ok((key, user))
}

/// Whether `user` is the federated user of this identity: made by a sign-in through the
/// provider (`EXTERNAL_PROVIDER`) and holding the identity, subject compared exactly, as
/// its primary one.
fn is_own_user(user: &User, provider: &str, subject: &str) -> bool {
    if user.status != tessera_core::UserStatus::ExternalProvider {
        return false;
    }
    let Some(identities) = user
        .attributes
        .get("identities")
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
    else {
        return false;
    };
    identities.as_array().is_some_and(|list| {
        list.iter().any(|entry| {
            entry.get("providerName").and_then(Value::as_str) == Some(provider)
                && entry.get("userId").and_then(Value::as_str) == Some(subject)
                && entry.get("primary").and_then(Value::as_bool) == Some(true)
        })
    })
}

/// The existing user an administrator linked this upstream identity to
/// (AdminLinkProviderForUser), by the provider's subject or by a mapped attribute. A link by
/// attribute is also recorded by subject at its first use, so that the identity stays linked
/// when the attribute changes and AdminDisableProviderForUser finds it by subject.
async fn linked_user(
    state: &Service,
    directory: &Directory,
    provider: &IdentityProvider,
    subject: &str,
    mapped: &[(String, String)],
    claims: &Map<String, Value>,
) -> Result<Option<(String, User)>, Error> {
    use super::link::SUBJECT;
    let pool_id = directory.pool.id.as_str();
    let mut link = state
        .store
        .federated_link(pool_id, &provider.name, SUBJECT, subject)
        .await?;
    if link.is_none() {
        for attribute in state
            .store
            .federated_link_attributes(pool_id, &provider.name)
            .await?
        {
            if attribute == SUBJECT {
                continue;
            }
            let value = mapped
                .iter()
                .find(|(name, _)| *name == attribute)
                .map(|(_, value)| value.clone())
                .or_else(|| claims.get(&attribute).and_then(claim_text));
            let Some(value) = value else { continue };
            link = state
                .store
                .federated_link(pool_id, &provider.name, &attribute, &value)
                .await?;
            if let Some(found) = &link {
                let by_subject = tessera_store::FederatedLink {
                    attribute_name: SUBJECT.to_owned(),
                    attribute_value: subject.to_owned(),
                    created_at: state.clock.now(),
                    ..found.clone()
                };
                match state
                    .store
                    .insert_federated_link(&by_subject, i64::MAX)
                    .await
                {
                    Ok(_) | Err(tessera_store::StoreError::Conflict) => {}
                    Err(other) => return Err(other.into()),
                }
                break;
            }
        }
    }
    let Some(link) = link else { return Ok(None) };
    Ok(state
        .store
        .user(pool_id, &link.username_key)
        .await?
        .map(|user| (link.username_key, user)))
}

/// When the user's identity at `provider` was first recorded (epoch milliseconds).
fn identity_date(user: &User, provider: &str) -> Option<u64> {
    let identities: Value = serde_json::from_str(user.attributes.get("identities")?).ok()?;
    identities
        .as_array()?
        .iter()
        .find(|i| i.get("providerName").and_then(Value::as_str) == Some(provider))?
        .get("dateCreated")?
        .as_u64()
}

/// Cognito puts federated users in a group `<poolId>_<ProviderName>`, made on first use
/// (real tokens carry e.g. `us-east-1_h6I5IqQSs_Google` in `cognito:groups`).
async fn join_provider_group(
    state: &Service,
    pool_id: &str,
    provider: &str,
    key: &str,
) -> Result<(), Error> {
    let name = format!("{pool_id}_{provider}");
    if state.store.group(pool_id, &name).await?.is_none() {
        let now = state.clock.now();
        let group = tessera_core::Group {
            pool_id: pool_id.to_owned(),
            name: name.clone(),
            // The description Cognito gives these groups was not found; this one is ours.
            description: Some(format!(
                "Autogenerated group for users who sign in using {provider}"
            )),
            precedence: None,
            role_arn: None,
            created_at: now,
            last_modified_at: now,
        };
        match state.store.insert_group(&group).await {
            Ok(()) | Err(tessera_store::StoreError::Conflict) => {}
            Err(other) => return Err(other.into()),
        }
    }
    state.store.add_group_member(pool_id, &name, key).await?;
    Ok(())
}
