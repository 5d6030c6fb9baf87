//! A user's passkeys (issue 13): StartWebAuthnRegistration and CompleteWebAuthnRegistration
//! (the ceremony checked by webauthn-rs), ListWebAuthnCredentials and
//! DeleteWebAuthnCredential.
//!
//! The registration state is stored sealed, as a challenge session, under the SHA-256 of the
//! challenge it was issued with: the browser's response names its challenge in
//! `clientDataJSON`, so any node finds the state, and the state names the user it was
//! started for, so another user's access token cannot finish it.

use base64::Engine;
use serde_json::{json, Value};
use tessera_store::{AuthSession, PasskeyRecord};
use webauthn_rs_core::proto::{Credential, UserVerificationPolicy};

use crate::input::{epoch_seconds, Input};
use crate::sign_in::access_token::{authorize, Authorized};
use crate::sign_in::passkey::{b64url, credentials, refusal, registration_response, relying_party};
use crate::sign_in::sha256_hex;
use crate::{Error, Service};

/// The challenge name of a stored registration ceremony (never a sign-in challenge).
const REGISTRATION: &str = "WEB_AUTHN_REGISTRATION";

/// How many passkeys a user may have (Cognito's quota is 20 per user).
const MAX_PASSKEYS: usize = 20;

fn not_enabled() -> Error {
    // Cognito's wording was not found; this names the setting.
    Error::new(
        "WebAuthnNotEnabledException",
        "Passkeys are not enabled: WEB_AUTHN is not among the user pool's AllowedFirstAuthFactors.",
    )
}

/// Whether the pool offers passkeys (`WEB_AUTHN` among its first factors).
pub fn passkeys_allowed(directory: &crate::directory::Directory) -> bool {
    crate::sign_in::choice::first_factor_allowed(directory, "WEB_AUTHN")
}

fn registration_key(challenge: &[u8]) -> String {
    sha256_hex(&format!("webauthn-registration:{}", b64url(challenge)))
}

pub async fn start_registration(service: &Service, input: Input) -> Result<Value, Error> {
    let Authorized {
        directory,
        key,
        user,
        claims,
    } = authorize(service, &input).await?;
    let client_id = claims
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let options = begin_registration(service, &directory, &key, &user, &client_id).await?;
    Ok(json!({ "CredentialCreationOptions": options }))
}

/// Starts registering a passkey for the user under `key`: the creation options for the
/// browser, with the ceremony's state stored. The API and the hosted pages both start here.
pub async fn begin_registration(
    service: &Service,
    directory: &crate::directory::Directory,
    key: &str,
    user: &tessera_core::User,
    client_id: &str,
) -> Result<Value, Error> {
    if !passkeys_allowed(directory) {
        return Err(not_enabled());
    }
    let party = relying_party(service, directory).await?;
    let existing = service.store.passkeys(&directory.pool.id, key).await?;
    if existing.len() >= MAX_PASSKEYS {
        return Err(Error::new(
            "LimitExceededException",
            format!("A user can register at most {MAX_PASSKEYS} passkeys."),
        ));
    }
    let core = party.core()?;
    let exclude = credentials(&existing)?
        .into_iter()
        .map(|c| c.cred_id)
        .collect::<Vec<_>>();
    let user_id = uuid::Uuid::parse_str(&user.sub).map_err(|e| Error::internal(&e))?;
    let display = user
        .attributes
        .get("name")
        .or_else(|| user.attributes.get("email"))
        .cloned()
        .unwrap_or_else(|| user.username.clone());
    let builder = core
        .new_challenge_register_builder(user_id.as_bytes(), &user.username, &display)
        .map_err(|e| refusal(&e))?
        .user_verification_policy(party.user_verification)
        .require_resident_key(true)
        .exclude_credentials(Some(exclude));
    let (options, state) = core
        .generate_challenge_register(builder)
        .map_err(|e| refusal(&e))?;
    service
        .store
        .insert_auth_session(&AuthSession {
            session_hash: registration_key(&options.public_key.challenge),
            pool_id: directory.pool.id.clone(),
            username_key: key.to_owned(),
            client_id: client_id.to_owned(),
            challenge: REGISTRATION.into(),
            state: serde_json::to_string(&json!({ "sub": user.sub, "state": state }))
                .map_err(|e| Error::internal(&e))?,
            expires_at: service.clock.now() + crate::sign_in::passkey::CEREMONY_TIMEOUT,
        })
        .await?;
    let mut options = serde_json::to_value(&options.public_key).map_err(|e| Error::internal(&e))?;
    // A passkey, as Cognito asks for one: discoverable, in the platform or a key.
    options["authenticatorSelection"]["residentKey"] = json!("required");
    options["authenticatorSelection"]["userVerification"] = json!(match party.user_verification {
        UserVerificationPolicy::Required => "required",
        _ => "preferred",
    });
    Ok(options)
}

/// The challenge a registration response was made for, from its `clientDataJSON`.
fn challenge_of(credential: &Value) -> Option<Vec<u8>> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let client_data = credential
        .get("response")?
        .get("clientDataJSON")?
        .as_str()?;
    let client_data: Value =
        serde_json::from_slice(&b64.decode(client_data.trim_end_matches('=')).ok()?).ok()?;
    b64.decode(
        client_data
            .get("challenge")?
            .as_str()?
            .trim_end_matches('='),
    )
    .ok()
}

pub async fn complete_registration(service: &Service, input: Input) -> Result<Value, Error> {
    let Authorized {
        directory,
        key,
        user,
        claims,
    } = authorize(service, &input).await?;
    let credential = input
        .get("Credential")
        .cloned()
        .ok_or_else(|| Error::invalid_parameter("Missing required parameter Credential"))?;
    let client_id = claims
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    finish_registration(service, &directory, &key, &user, client_id, &credential).await?;
    Ok(json!({}))
}

/// Finishes registering a passkey: the browser's response is checked against the stored
/// ceremony, which must have been started for this user through this client.
pub async fn finish_registration(
    service: &Service,
    directory: &crate::directory::Directory,
    key: &str,
    user: &tessera_core::User,
    client_id: &str,
    credential: &Value,
) -> Result<(), Error> {
    if !passkeys_allowed(directory) {
        return Err(not_enabled());
    }
    let response = registration_response(credential)?;
    // Cognito's wording was not found.
    let no_challenge = || {
        Error::new(
            "WebAuthnChallengeNotFoundException",
            "No passkey registration was started for this credential, or it expired.",
        )
    };
    let challenge = challenge_of(credential).ok_or_else(no_challenge)?;
    let session = service
        .store
        .take_auth_session(&registration_key(&challenge))
        .await?
        .filter(|s| s.challenge == REGISTRATION && s.pool_id == directory.pool.id)
        .ok_or_else(no_challenge)?;
    if service.clock.now() > session.expires_at {
        return Err(no_challenge());
    }
    let stored: Value = serde_json::from_str(&session.state).map_err(|e| Error::internal(&e))?;
    // Started by this user (the same one: a user deleted and created again is not) through
    // this client. Someone else's attempt leaves the ceremony to its owner.
    if session.username_key != key
        || stored.get("sub").and_then(Value::as_str) != Some(&user.sub)
        || session.client_id != client_id
    {
        service.store.insert_auth_session(&session).await?;
        return Err(Error::new(
            "WebAuthnClientMismatchException",
            "The passkey registration was started by another user or app client.",
        ));
    }
    let state = serde_json::from_value(stored["state"].clone()).map_err(|e| Error::internal(&e))?;
    let party = relying_party(service, directory).await?;
    let registered: Credential = party
        .core()?
        .register_credential(&response, &state, None)
        .map_err(|e| refusal(&e))?;
    let transports: Vec<String> = credential
        .get("response")
        .and_then(|r| r.get("transports"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let attachment = credential
        .get("authenticatorAttachment")
        .and_then(Value::as_str)
        .filter(|a| matches!(*a, "platform" | "cross-platform"))
        .map(String::from);
    // Ceremonies started side by side must not add up to more than the quota.
    if service.store.passkeys(&directory.pool.id, key).await?.len() >= MAX_PASSKEYS {
        return Err(Error::new(
            "LimitExceededException",
            format!("A user can register at most {MAX_PASSKEYS} passkeys."),
        ));
    }
    let record = PasskeyRecord {
        pool_id: directory.pool.id.clone(),
        username_key: key.to_owned(),
        credential_id: b64url(registered.cred_id.as_ref()),
        credential: serde_json::to_string(&registered).map_err(|e| Error::internal(&e))?,
        name: friendly_name(&attachment),
        relying_party_id: party.id.clone(),
        attachment,
        transports,
        created_at: service.clock.now(),
    };
    match service.store.insert_passkey(&record).await {
        Ok(()) => Ok(()),
        Err(tessera_store::StoreError::Conflict) => Err(Error::new(
            "WebAuthnCredentialNotSupportedException",
            "This passkey is registered already.",
        )),
        Err(e) => Err(e.into()),
    }
}

/// `FriendlyCredentialName`: what kind of authenticator it is, as far as the browser said.
fn friendly_name(attachment: &Option<String>) -> String {
    match attachment.as_deref() {
        Some("platform") => "Passkey on this device".into(),
        Some("cross-platform") => "Security key".into(),
        _ => "Passkey".into(),
    }
}

pub async fn list_credentials(service: &Service, input: Input) -> Result<Value, Error> {
    let Authorized { directory, key, .. } = authorize(service, &input).await?;
    let records = service.store.passkeys(&directory.pool.id, &key).await?;
    let max = input
        .get("MaxResults")
        .and_then(Value::as_u64)
        .filter(|m| *m > 0)
        .unwrap_or(20)
        .min(20) as usize;
    let after = input.str("NextToken");
    let start = match after {
        Some(token) => {
            records
                .iter()
                .position(|r| r.credential_id == token)
                .ok_or_else(|| Error::invalid_parameter("The NextToken is not valid."))?
                + 1
        }
        None => 0,
    };
    let page: Vec<&PasskeyRecord> = records.iter().skip(start).take(max).collect();
    let mut answer = json!({
        "Credentials": page.iter().map(|r| {
            let mut item = json!({
                "CredentialId": r.credential_id,
                "FriendlyCredentialName": r.name,
                "RelyingPartyId": r.relying_party_id,
                "AuthenticatorTransports": r.transports,
                "CreatedAt": epoch_seconds(r.created_at),
            });
            if let Some(attachment) = &r.attachment {
                item["AuthenticatorAttachment"] = json!(attachment);
            }
            item
        }).collect::<Vec<_>>(),
    });
    if start + page.len() < records.len() {
        if let Some(last) = page.last() {
            answer["NextToken"] = json!(last.credential_id);
        }
    }
    Ok(answer)
}

pub async fn delete_credential(service: &Service, input: Input) -> Result<Value, Error> {
    let Authorized { directory, key, .. } = authorize(service, &input).await?;
    let id = input.required_str("CredentialId")?;
    if !service
        .store
        .delete_passkey(&directory.pool.id, &key, id)
        .await?
    {
        return Err(Error::new(
            "ResourceNotFoundException",
            "The passkey does not exist.",
        ));
    }
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_read_from_client_data() {
        let client_data =
            json!({"type": "webauthn.create", "challenge": "AAEC", "origin": "https://x"});
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let credential =
            json!({"response": {"clientDataJSON": b64.encode(client_data.to_string())}});
        assert_eq!(challenge_of(&credential), Some(vec![0, 1, 2]));
        assert_eq!(challenge_of(&json!({})), None);
    }
}
