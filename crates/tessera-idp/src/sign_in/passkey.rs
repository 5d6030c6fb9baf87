//! Passkeys (issue 13): the pool's relying party and the WebAuthn ceremonies, checked by
//! webauthn-rs (its core, so the pool's `UserVerification` can be `preferred` as well as
//! `required`). Registration state is kept sealed in the store under the SHA-256 of its
//! challenge, so any node can finish the ceremony; authentication state travels in the
//! sign-in's sealed session. The WEB_AUTHN challenge of USER_AUTH is asked here.

use std::time::Duration;

use serde_json::{json, Map, Value};
use tessera_store::PasskeyRecord;
use url::Url;
use webauthn_rs_core::proto::{
    Credential, PublicKeyCredential, RegisterPublicKeyCredential, UserVerificationPolicy,
};
use webauthn_rs_core::WebauthnCore;

use super::challenge::{Challenge, ChallengeName};
use super::machine::Context;
use super::session::{self, Attempt};
use super::tokens::opaque;
use crate::directory::Directory;
use crate::pool::mfa_config::MFA_SETTINGS;
use crate::{Error, Service};

/// How long a browser has for a ceremony.
pub const CEREMONY_TIMEOUT: Duration = Duration::from_secs(180);

/// The pool's relying party, from its `WebAuthnConfiguration` (or its domain).
pub struct RelyingParty {
    pub id: String,
    pub user_verification: UserVerificationPolicy,
    /// `FactorConfiguration: MULTI_FACTOR_WITH_USER_VERIFICATION`: a passkey verified by
    /// its user is both factors, also where the pool requires MFA.
    pub multi_factor: bool,
    name: String,
}

fn config(directory: &Directory) -> Option<&Map<String, Value>> {
    directory
        .pool
        .settings
        .get(MFA_SETTINGS)
        .and_then(|s| s.get("WebAuthnConfiguration"))
        .and_then(Value::as_object)
}

/// Whether the pool's `FactorConfiguration` counts a passkey verified by its user as both
/// factors.
pub fn multi_factor(directory: &Directory) -> bool {
    config(directory)
        .and_then(|c| c.get("FactorConfiguration"))
        .and_then(Value::as_str)
        == Some("MULTI_FACTOR_WITH_USER_VERIFICATION")
}

/// The relying party of a pool: `WebAuthnConfiguration.RelyingPartyId`, else the host of
/// its domain (custom, or the prefix domain), else none.
pub async fn relying_party(
    service: &Service,
    directory: &Directory,
) -> Result<RelyingParty, Error> {
    let config = config(directory);
    let member = |name: &str| config.and_then(|c| c.get(name)).and_then(Value::as_str);
    let id = match member("RelyingPartyId") {
        Some(id) => id.to_owned(),
        None => {
            let domains = service.store.domains_of_pool(&directory.pool.id).await?;
            let domain = domains
                .iter()
                .find(|d| d.custom)
                .or_else(|| domains.first())
                .ok_or_else(|| {
                    // Cognito's wording was not found; this names what is missing.
                    Error::new(
                        "WebAuthnConfigurationMissingException",
                        "The user pool has no relying party: set WebAuthnConfiguration.RelyingPartyId or a domain.",
                    )
                })?;
            crate::oauth_config::domain::serving_host(service, domain)
        }
    };
    Ok(RelyingParty {
        id,
        user_verification: if member("UserVerification") == Some("required") {
            UserVerificationPolicy::Required
        } else {
            UserVerificationPolicy::Preferred
        },
        multi_factor: member("FactorConfiguration") == Some("MULTI_FACTOR_WITH_USER_VERIFICATION"),
        name: directory.pool.name.clone(),
    })
}

impl RelyingParty {
    /// The ceremony checker: origins are `https://<id>` and its subdomains on any port, and
    /// `http://localhost` when the id is `localhost` (browsers treat it as secure).
    pub fn core(&self) -> Result<WebauthnCore, Error> {
        let mut origins = vec![Url::parse(&format!("https://{}", self.id))
            .map_err(|_| Error::invalid_parameter("The relying party id is not a host name."))?];
        if self.id == "localhost" {
            origins.push(Url::parse("http://localhost").map_err(|e| Error::internal(&e))?);
        }
        Ok(WebauthnCore::new_unsafe_experts_only(
            &self.name,
            &self.id,
            origins,
            CEREMONY_TIMEOUT,
            Some(true),
            Some(true),
        ))
    }
}

/// The refusal of a ceremony webauthn-rs did not accept, as the exception Cognito names for
/// its kind.
pub fn refusal(error: &webauthn_rs_core::error::WebauthnError) -> Error {
    use webauthn_rs_core::error::WebauthnError as E;
    match error {
        E::InvalidRPIDHash => Error::new(
            "WebAuthnRelyingPartyMismatchException",
            "The credential is for another relying party.",
        ),
        E::InvalidRPOrigin | E::CredentialCrossOrigin => Error::new(
            "WebAuthnOriginNotAllowedException",
            "The origin of the credential is not allowed for this relying party.",
        ),
        E::ParseNOMFailure | E::ParseCBORFailure(_) | E::ParseBase64Failure(_) => {
            Error::invalid_parameter("The credential could not be read.")
        }
        other => Error::new(
            "WebAuthnCredentialNotSupportedException",
            format!("The credential was not accepted: {other}."),
        ),
    }
}

/// The credentials of a user, as webauthn-rs reads them.
pub fn credentials(records: &[PasskeyRecord]) -> Result<Vec<Credential>, Error> {
    records
        .iter()
        .map(|r| serde_json::from_str(&r.credential).map_err(|e| Error::internal(&e)))
        .collect()
}

/// Reads a browser's registration response.
pub fn registration_response(value: &Value) -> Result<RegisterPublicKeyCredential, Error> {
    serde_json::from_value(value.clone()).map_err(|_| {
        Error::invalid_parameter("The credential is not a WebAuthn registration response.")
    })
}

/// Reads a browser's assertion (a document, or JSON text as USER_AUTH's `CREDENTIAL`).
pub fn assertion(text: &str) -> Result<PublicKeyCredential, Error> {
    serde_json::from_str(text)
        .map_err(|_| Error::invalid_parameter("The credential is not a WebAuthn assertion."))
}

/// Asks WEB_AUTHN: the request options over the user's credentials (none for a decoy),
/// with the authentication state kept in the sealed session.
pub async fn ask(
    service: &Service,
    context: &Context<'_>,
    mut attempt: Attempt,
) -> Result<Challenge, Error> {
    let party = relying_party(service, context.directory).await?;
    let records = if attempt.decoy {
        Vec::new()
    } else {
        service
            .store
            .passkeys(&context.directory.pool.id, &attempt.key)
            .await?
    };
    let core = party.core()?;
    let builder = core
        .new_challenge_authenticate_builder(credentials(&records)?, Some(party.user_verification))
        .map_err(|e| refusal(&e))?;
    let (mut options, state) = core
        .generate_challenge_authenticate(builder)
        .map_err(|e| refusal(&e))?;
    // The hosted page offers a passkey to any name typed; its options name no credential
    // (passkeys are discoverable; the state still holds the user's, which the assertion is
    // checked against), so that the page's source does not tell who has one. The API lists
    // them, as Cognito does; there a user without a passkey is not offered WEB_AUTHN at all.
    if context.channel == super::machine::Channel::HostedPage {
        options.public_key.allow_credentials.clear();
    }
    attempt.webauthn = Some(serde_json::to_value(&state).map_err(|e| Error::internal(&e))?);
    let token = opaque(service, 48);
    session::store(service, context, &token, ChallengeName::WebAuthn, &attempt).await?;
    let options = serde_json::to_string(&options.public_key).map_err(|e| Error::internal(&e))?;
    let mut parameters = Map::new();
    parameters.insert("CREDENTIAL_REQUEST_OPTIONS".into(), json!(options));
    Ok(Challenge {
        name: ChallengeName::WebAuthn,
        parameters,
        session: token,
        available: vec!["WEB_AUTHN"],
    })
}

/// Checks the assertion answering WEB_AUTHN against the session's state and the user's
/// credentials, and records the credential's new counter.
pub async fn verify(
    service: &Service,
    context: &Context<'_>,
    attempt: &Attempt,
    credential: &str,
) -> Result<(), Error> {
    let wrong = || Error::new("NotAuthorizedException", "Incorrect username or password.");
    let assertion = assertion(credential)?;
    let state = attempt.webauthn.clone().ok_or_else(wrong)?;
    let state = serde_json::from_value(state).map_err(|e| Error::internal(&e))?;
    let party = relying_party(service, context.directory).await?;
    let result = party
        .core()?
        .authenticate_credential(&assertion, &state)
        .map_err(|e| match e {
            webauthn_rs_core::error::WebauthnError::InvalidRPIDHash
            | webauthn_rs_core::error::WebauthnError::InvalidRPOrigin => refusal(&e),
            _ => wrong(),
        })?;
    // Where MFA is required, the passkey stands for both factors only with its user verified.
    if super::mfa::Mode::of(context.directory) == super::mfa::Mode::On && !result.user_verified() {
        return Err(wrong());
    }
    // The counter (and backup state) move on; a clone of the authenticator racing this
    // sign-in finds the document changed.
    let records = service
        .store
        .passkeys(&context.directory.pool.id, &attempt.key)
        .await?;
    let id = b64url(result.cred_id().as_ref());
    if let Some(record) = records.iter().find(|r| r.credential_id == id) {
        let mut credential: Credential =
            serde_json::from_str(&record.credential).map_err(|e| Error::internal(&e))?;
        let mut changed = false;
        if result.counter() > credential.counter {
            credential.counter = result.counter();
            changed = true;
        }
        if result.backup_state() != credential.backup_state {
            credential.backup_state = result.backup_state();
            changed = true;
        }
        if changed {
            let updated = serde_json::to_string(&credential).map_err(|e| Error::internal(&e))?;
            if !service
                .store
                .update_passkey(
                    &context.directory.pool.id,
                    &id,
                    &record.credential,
                    &updated,
                )
                .await?
            {
                return Err(wrong());
            }
        }
    } else {
        return Err(wrong());
    }
    Ok(())
}

/// Base64url without padding, as WebAuthn JSON spells binary.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
