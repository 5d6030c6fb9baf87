//! A sign-in through a SAML 2.0 IdP, tessera being the service provider
//! `urn:amazon:cognito:sp:<poolId>`: [`depart`] sends the browser to the IdP with an
//! AuthnRequest (HTTP-Redirect binding, signed with the pool's key when the provider or its
//! metadata asks for it), [`arrive`] takes the response the IdP posts to
//! `/saml2/idpresponse`, for a request tessera sent (its `RelayState` finds the request, whose
//! id the assertion must answer) or, when the provider allows it (`IDPInit`), unsolicited,
//! its `RelayState` then carrying the app's authorization request. [`sign_out`] and
//! [`signed_out`] are single logout (`IDPSignout`).
//!
//! Every check of the response is [`super::saml_response`]'s; here an assertion id is
//! recorded so it is accepted once, and the user is landed as for any federated sign-in.

use base64::Engine;
use serde_json::{json, Map, Value};
use tessera_core::IdentityProvider;
use tessera_store::{FederationRequest, SamlSession};

use super::details::{self, ProviderKind};
use super::saml_metadata::{self, IdpMetadata};
use super::saml_request;
use super::saml_response::{self, Expectation, Keys};
use super::sign_in::{self, Arrival, Departure};
use crate::sign_in::tokens::{opaque, sha256_hex};
use crate::{Error, Service};

fn metadata(state: &Service, provider: &IdentityProvider) -> Result<IdpMetadata, Error> {
    let document = details::saml_metadata_document(&provider.details)
        .ok_or_else(|| Error::internal(&"SAML provider without metadata"))?;
    saml_metadata::parse(document, state.clock.now()).map_err(|error| {
        Error::invalid_parameter(format!(
            "The metadata of the identity provider {} is no longer usable: {error}",
            provider.name
        ))
    })
}

/// The RSA public keys of the IdP's signing certificates: the only keys its messages are
/// checked with.
fn idp_keys(metadata: &IdpMetadata) -> Vec<Vec<u8>> {
    metadata
        .signing_certificates
        .iter()
        .filter_map(|der| super::xml_signature::rsa_key_of_cert(der).ok())
        .collect()
}

fn message_id(state: &Service) -> String {
    let mut bytes = [0u8; 20];
    state.random.fill(&mut bytes);
    format!("_{}", hex::encode(bytes))
}

fn acs_url(pages_url: &str) -> String {
    format!("{pages_url}/saml2/idpresponse")
}

/// Whether requests to this provider are signed: when `RequestSigningAlgorithm` is set, or
/// the IdP's metadata says `WantAuthnRequestsSigned`.
fn signs_requests(provider: &IdentityProvider, metadata: &IdpMetadata) -> bool {
    sign_in::text(&provider.details, "RequestSigningAlgorithm").is_some()
        || metadata.wants_signed_requests
}

pub(crate) async fn depart(
    state: &Service,
    pool_id: &str,
    provider: &IdentityProvider,
    authorize_query: &str,
    pages_url: &str,
) -> Result<Departure, Error> {
    let metadata = metadata(state, provider)?;
    let sso = metadata
        .sso_redirect
        .clone()
        .ok_or_else(|| Error::internal(&"metadata without an SSO redirect URL"))?;
    let relay_state = opaque(state, 32);
    let binding = opaque(state, 32);
    let request_id = message_id(state);
    let now = state.clock.now();
    let acs = acs_url(pages_url);
    state
        .store
        .insert_federation_request(&FederationRequest {
            state_hash: sha256_hex(&relay_state),
            pool_id: pool_id.to_owned(),
            provider_name: provider.name.clone(),
            request: json!({
                "kind": "saml",
                "authorize_query": authorize_query,
                "binding": sha256_hex(&binding),
                "request_id": request_id,
                "acs": acs,
            }),
            created_at: now,
            expires_at: now + sign_in::UPSTREAM_LIFETIME,
        })
        .await?;
    let request = saml_request::authn_request(
        &request_id,
        &super::provider::sp_entity_id(pool_id),
        &sso,
        &acs,
        now,
    );
    let key = if signs_requests(provider, &metadata) {
        Some(super::signing::pool_key(state, pool_id).await?.private_key)
    } else {
        None
    };
    let location =
        saml_request::redirect_url(&sso, "SAMLRequest", &request, &relay_state, key.as_deref())?;
    Ok(Departure { location, binding })
}

/// What the IdP posted.
#[derive(Debug, Default)]
pub struct Posted<'a> {
    pub saml_response: Option<&'a str>,
    pub relay_state: Option<&'a str>,
    /// The browser's binding cookie.
    pub binding: Option<&'a str>,
}

/// The provider an IdP-initiated RelayState names (`identity_provider` or `idp_identifier`).
async fn unsolicited_provider(
    state: &Service,
    pool_id: &str,
    relay_state: &str,
) -> Result<IdentityProvider, Error> {
    let parameter = |name: &str| {
        form_urlencoded::parse(relay_state.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    let provider = match (parameter("identity_provider"), parameter("idp_identifier")) {
        (Some(name), _) => state.store.identity_provider(pool_id, &name).await?,
        (None, Some(identifier)) => {
            state
                .store
                .identity_provider_by_identifier(pool_id, &identifier)
                .await?
        }
        (None, None) => None,
    };
    provider
        .filter(|p| p.provider_type == "SAML")
        .filter(|p| sign_in::text(&p.details, "IDPInit") == Some("true"))
        .ok_or_else(sign_in::expired)
}

/// Takes the IdP's response. An `Err` is for the error page (no sign-in to go back to).
pub async fn arrive(
    state: &Service,
    pool_id: &str,
    posted: &Posted<'_>,
    pages_url: &str,
) -> Result<Arrival, Error> {
    let relay_state = posted.relay_state.unwrap_or_default();
    let now = state.clock.now();
    let solicited = if relay_state.is_empty() {
        None
    } else {
        state
            .store
            .take_federation_request(&sha256_hex(relay_state), now)
            .await?
    };
    let (provider, authorize_query, in_response_to, acs) = match &solicited {
        Some(request) => {
            if request.pool_id != pool_id
                || request.request.get("kind").and_then(Value::as_str) != Some("saml")
            {
                return Err(sign_in::expired());
            }
            sign_in::check_binding(request, posted.binding)?;
            let field = |name: &str| {
                request
                    .request
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let provider = state
                .store
                .identity_provider(pool_id, &request.provider_name)
                .await?
                .ok_or_else(sign_in::expired)?;
            (
                provider,
                field("authorize_query"),
                Some(field("request_id")),
                field("acs"),
            )
        }
        None if !relay_state.is_empty() => {
            // IdP-initiated: the RelayState is the app's authorization request.
            let provider = unsolicited_provider(state, pool_id, relay_state).await?;
            (provider, relay_state.to_owned(), None, acs_url(pages_url))
        }
        None => return Err(sign_in::expired()),
    };
    let outcome = land(
        state,
        pool_id,
        &provider,
        posted.saml_response.unwrap_or_default(),
        in_response_to.as_deref(),
        &acs,
        &authorize_query,
    )
    .await;
    Ok(Arrival {
        authorize_query,
        outcome,
    })
}

fn processing_error(text: &str) -> (String, String) {
    // Cognito's description of SAML failures starts so (awslabs/service-workbench-on-aws#605).
    (
        "invalid_request".to_owned(),
        format!("Error in SAML response processing: {text}"),
    )
}

async fn land(
    state: &Service,
    pool_id: &str,
    provider: &IdentityProvider,
    encoded: &str,
    in_response_to: Option<&str>,
    acs: &str,
    authorize_query: &str,
) -> Result<(String, tessera_core::User), (String, String)> {
    let internal = sign_in::for_app;
    if encoded.is_empty() {
        return Err(processing_error("The request has no SAMLResponse."));
    }
    if encoded.len() > saml_response::MAX_RESPONSE_CHARS * 2 {
        return Err(processing_error("The SAMLResponse is too long."));
    }
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let xml = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| processing_error("The SAMLResponse is not base64 XML."))?;
    let metadata = metadata(state, provider).map_err(internal)?;
    let idp_keys = idp_keys(&metadata);
    let encrypted = sign_in::text(&provider.details, "EncryptedResponses") == Some("true");
    let decryption = if encrypted {
        sign_in::text(&provider.details, details::ENCRYPTION_KEY)
            .and_then(|key| base64::engine::general_purpose::STANDARD.decode(key).ok())
    } else {
        None
    };
    let sp_entity_id = super::provider::sp_entity_id(pool_id);
    let identity = saml_response::check(
        &xml,
        &Expectation {
            sp_entity_id: &sp_entity_id,
            acs_url: acs,
            idp_entity_id: &metadata.entity_id,
            in_response_to,
            now: state.clock.now(),
            encrypted,
        },
        &Keys {
            idp: &idp_keys,
            decryption: decryption.as_deref(),
        },
    )
    .map_err(|refused| {
        tracing::info!(provider = %provider.name, reason = %refused, "SAML response refused");
        processing_error(&refused.0)
    })?;
    // Accepted once: the insert is the check, so the same assertion posted twice at once
    // passes once.
    if !state
        .store
        .record_saml_assertion(pool_id, &identity.assertion_id, identity.not_on_or_after)
        .await
        .map_err(|e| internal(e.into()))?
    {
        return Err(processing_error("The assertion was already used."));
    }
    let mut claims = Map::new();
    for (name, values) in &identity.attributes {
        claims.insert(name.clone(), Value::String(values.join(",")));
    }
    claims.insert("NameID".into(), Value::String(identity.name_id.clone()));
    let client_id = sign_in::client_id_of(authorize_query);
    let claims = sign_in::inbound_federation(
        state,
        pool_id,
        provider,
        client_id.as_deref(),
        "samlResponse",
        claims,
    )
    .await
    .map_err(internal)?;
    let (key, user) = sign_in::federated_user(
        state,
        pool_id,
        provider,
        ProviderKind::Saml,
        &claims,
        client_id.as_deref(),
        Some(&metadata.entity_id),
    )
    .await
    .map_err(internal)?;
    state
        .store
        .put_saml_session(&SamlSession {
            pool_id: pool_id.to_owned(),
            username_key: key.clone(),
            provider_name: provider.name.clone(),
            name_id: identity.name_id,
            session_index: identity.session_index,
            created_at: state.clock.now(),
        })
        .await
        .map_err(|e| internal(e.into()))?;
    Ok((key, user))
}

/// Where a signing-out user goes first: the IdP's single logout URL with a signed
/// LogoutRequest, when the user's last SAML sign-in was at a provider with `IDPSignout`.
/// The IdP answers at `<pages_url>/saml2/logout`, and [`signed_out`] then sends the browser
/// to `then`.
pub async fn sign_out(
    state: &Service,
    pool_id: &str,
    username_key: &str,
    then: &str,
    pages_url: &str,
) -> Result<Option<String>, Error> {
    for session in state.store.saml_sessions(pool_id, username_key).await? {
        let Some(provider) = state
            .store
            .identity_provider(pool_id, &session.provider_name)
            .await?
        else {
            continue;
        };
        if sign_in::text(&provider.details, "IDPSignout") != Some("true") {
            continue;
        }
        // A provider whose metadata is no longer usable is not signed out of; the user is
        // still signed out of tessera.
        let Ok(metadata) = metadata(state, &provider) else {
            continue;
        };
        let Some(slo) = metadata.slo_redirect.clone() else {
            continue;
        };
        let relay_state = opaque(state, 32);
        let request_id = message_id(state);
        let now = state.clock.now();
        state
            .store
            .insert_federation_request(&FederationRequest {
                state_hash: sha256_hex(&relay_state),
                pool_id: pool_id.to_owned(),
                provider_name: provider.name.clone(),
                request: json!({
                    "kind": "saml-logout",
                    "request_id": request_id,
                    "then": then,
                    "username_key": username_key,
                }),
                created_at: now,
                expires_at: now + sign_in::UPSTREAM_LIFETIME,
            })
            .await?;
        let request = saml_request::logout_request(
            &request_id,
            &super::provider::sp_entity_id(pool_id),
            &slo,
            &session.name_id,
            session.session_index.as_deref(),
            now,
        );
        let _ = pages_url;
        // Cognito signs every LogoutRequest with the pool's signing certificate.
        let key = super::signing::pool_key(state, pool_id).await?.private_key;
        let location =
            saml_request::redirect_url(&slo, "SAMLRequest", &request, &relay_state, Some(&key))?;
        return Ok(Some(location));
    }
    Ok(None)
}

/// Takes the IdP's LogoutResponse (HTTP-POST to `/saml2/logout`) and returns where the
/// browser goes now: the sign-out's destination. An `Err` is for the error page.
pub async fn signed_out(
    state: &Service,
    pool_id: &str,
    saml_response: Option<&str>,
    relay_state: Option<&str>,
) -> Result<String, Error> {
    let request = state
        .store
        .take_federation_request(
            &sha256_hex(relay_state.unwrap_or_default()),
            state.clock.now(),
        )
        .await?
        .filter(|r| r.pool_id == pool_id)
        .filter(|r| r.request.get("kind").and_then(Value::as_str) == Some("saml-logout"))
        .ok_or_else(|| {
            Error::invalid_parameter("This sign-out has expired or was already completed.")
        })?;
    let field = |name: &str| {
        request
            .request
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let provider = state
        .store
        .identity_provider(pool_id, &request.provider_name)
        .await?
        .ok_or_else(|| Error::invalid_parameter("The identity provider no longer exists."))?;
    let metadata = metadata(state, &provider)?;
    let xml = saml_response
        .map(|text| {
            text.chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
        })
        .and_then(|text| base64::engine::general_purpose::STANDARD.decode(text).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            Error::invalid_parameter("The LogoutResponse is missing or not base64 XML.")
        })?;
    let idp_keys = idp_keys(&metadata);
    super::saml_response::check_logout_response(
        &xml,
        &field("request_id"),
        &metadata.entity_id,
        &idp_keys,
    )
    .map_err(|refused| Error::invalid_parameter(format!("The sign-out was refused: {refused}")))?;
    state
        .store
        .delete_saml_session(pool_id, &field("username_key"), &provider.name)
        .await?;
    Ok(field("then"))
}

/// The pool's SAML service-provider metadata (Cognito publishes none; administrators build it
/// by hand from the pool id, the domain and the signing certificate, so tessera serves the
/// same facts at `<pages_url>/saml2/metadata`): the entity id, the signing certificate,
/// the assertion consumer service (HTTP-POST) and the single logout service (HTTP-POST).
pub async fn sp_metadata(state: &Service, pool_id: &str, pages_url: &str) -> Result<String, Error> {
    crate::pool::user_pool::load(state, pool_id).await?;
    let key = super::signing::pool_key(state, pool_id).await?;
    let certificate = base64::engine::general_purpose::STANDARD.encode(&key.certificate);
    let escape = saml_request::escape;
    Ok(format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity}">"#,
            r#"<md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">"#,
            r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{certificate}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
            r#"<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{slo}"/>"#,
            r#"<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"#,
            r#"<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="1" isDefault="true"/>"#,
            r#"</md:SPSSODescriptor></md:EntityDescriptor>"#
        ),
        entity = escape(&super::provider::sp_entity_id(pool_id)),
        certificate = certificate,
        slo = escape(&format!("{pages_url}/saml2/logout")),
        acs = escape(&acs_url(pages_url)),
    ))
}
