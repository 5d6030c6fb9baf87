//! The challenge session: what a sign-in in progress carries between InitiateAuth and each
//! RespondToAuthChallenge. The client holds an opaque random token (`Session`, or for SRP the
//! `SECRET_BLOCK`); the store keeps the [`Attempt`] under the token's SHA-256, sealed with the
//! master key and bound to that hash, so any node can resume it and nobody who reads the
//! database learns the SRP server secret. A session answers one challenge: taking it deletes
//! it, and the next challenge gets a new one.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use tessera_core::AppClient;
use tessera_store::AuthSession;

use super::challenge::ChallengeName;
use super::machine::Context;
use super::refused;
use super::tokens::sha256_hex;
use crate::{Error, Service};

/// A sign-in in progress: who is signing in, what they have proved, and what the next
/// challenge needs to check the answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    /// The user's lookup key; empty for a decoy (an unknown user whose sign-in must look
    /// like anyone's).
    pub key: String,
    /// The user's `sub` when the sign-in began: a user deleted and created again under the
    /// same name is someone else.
    pub sub: String,
    /// `USER_ID_FOR_SRP` and `USERNAME` as the client was told them.
    pub user_id: String,
    /// True for a decoy: no answer can ever succeed.
    pub decoy: bool,
    /// When the first factor was proved (the tokens' `auth_time`), in milliseconds since the
    /// epoch; `None` until then.
    pub authenticated_at: Option<u64>,
    /// The challenges answered so far, in order.
    pub answered: Vec<ChallengeName>,
    /// The SRP server state of a PASSWORD_VERIFIER challenge.
    pub srp: Option<SrpState>,
    /// A CUSTOM_AUTH sign-in's state: present from its first step to its last.
    #[serde(default)]
    pub custom: Option<super::custom::CustomAuth>,
    /// MFA's state between its challenges.
    #[serde(default)]
    pub mfa: super::mfa::MfaState,
    /// The tracked device the sign-in comes from, once the password step found it.
    #[serde(default)]
    pub device: Option<super::device::DeviceState>,
    /// USER_AUTH: the name as the client typed it, for the factor chosen later.
    #[serde(default)]
    pub typed: Option<String>,
    /// USER_AUTH: the first factor was a one-time code, which MFA does not repeat.
    #[serde(default)]
    pub passwordless: bool,
    /// WEB_AUTHN: webauthn-rs's authentication state of the pending challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webauthn: Option<serde_json::Value>,
    /// The token of the session this call answers (never stored): DEVICE_SRP_AUTH is asked
    /// under it again, because amazon-cognito-identity-js answers a DEVICE_SRP_AUTH that
    /// follows its MFA answer with the MFA challenge's session.
    #[serde(skip)]
    pub answering: Option<String>,
}

/// The server half of an SRP exchange, in hex: the client's A, the server's secret b and its
/// public B.
#[derive(Clone, Serialize, Deserialize)]
pub struct SrpState {
    pub big_a: String,
    pub b: String,
    pub big_b: String,
}

/// The secret exponent never reaches a log.
impl std::fmt::Debug for SrpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrpState").finish_non_exhaustive()
    }
}

impl Attempt {
    /// A sign-in of `user`, found under `key`, that has proved nothing yet.
    pub fn of_user(key: String, user: &tessera_core::User) -> Self {
        Self {
            key,
            sub: user.sub.clone(),
            user_id: user.username.clone(),
            decoy: false,
            authenticated_at: None,
            answered: Vec::new(),
            srp: None,
            custom: None,
            mfa: Default::default(),
            device: None,
            typed: None,
            passwordless: false,
            webauthn: None,
            answering: None,
        }
    }

    /// The sign-in of an unknown name, shown as `decoy` (see `machine::decoy`): no answer
    /// to any of its challenges can succeed. Its key is the decoy's lockout counter, so its
    /// answers are counted where the password flow counts the same name.
    pub fn of_decoy(decoy: super::machine::Decoy) -> Self {
        Self {
            key: decoy.counter,
            sub: String::new(),
            user_id: decoy.user_id,
            decoy: true,
            authenticated_at: None,
            answered: Vec::new(),
            srp: None,
            custom: None,
            mfa: Default::default(),
            device: None,
            typed: None,
            passwordless: false,
            webauthn: None,
            answering: None,
        }
    }

    /// The time the first factor was proved.
    pub fn auth_time(&self) -> Option<SystemTime> {
        self.authenticated_at
            .map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
    }
}

/// How long a challenge session lives: the client's `AuthSessionValidity` in minutes (3 by
/// default, as in Cognito).
pub fn validity(client: &AppClient) -> Duration {
    Duration::from_secs(
        60 * client
            .settings
            .get("AuthSessionValidity")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(3),
    )
}

/// Stores `attempt` as the session of challenge `challenge` under `token`.
pub async fn store(
    service: &Service,
    context: &Context<'_>,
    token: &str,
    challenge: ChallengeName,
    attempt: &Attempt,
) -> Result<(), Error> {
    let state = serde_json::to_string(attempt).map_err(|e| Error::internal(&e))?;
    service
        .store
        .insert_auth_session(&AuthSession {
            session_hash: sha256_hex(token),
            pool_id: context.directory.pool.id.clone(),
            username_key: attempt.key.clone(),
            client_id: context.client.client_id.clone(),
            challenge: challenge.as_str().to_owned(),
            state,
            expires_at: service.clock.now() + validity(context.client),
        })
        .await?;
    Ok(())
}

/// A session taken from the store to answer its challenge.
pub struct Taken {
    pub attempt: Attempt,
    row: AuthSession,
}

impl Taken {
    /// Puts the session back, unchanged, for another answer: a correctable mistake (a weak
    /// new password, a missing attribute) leaves the session usable, as in Cognito.
    pub async fn restore(self, service: &Service) -> Result<(), Error> {
        service.store.insert_auth_session(&self.row).await?;
        Ok(())
    }

    /// Puts the session back with its sign-in changed (a wrong code counted), under the same
    /// token and expiry.
    pub async fn restore_as(mut self, service: &Service, attempt: &Attempt) -> Result<(), Error> {
        self.row.state = serde_json::to_string(attempt).map_err(|e| Error::internal(&e))?;
        service.store.insert_auth_session(&self.row).await?;
        Ok(())
    }
}

/// Takes the session of `token` by the token alone, for AssociateSoftwareToken and
/// VerifySoftwareToken, which carry an MFA_SETUP session but no client: it must be a live
/// session of `challenge`, and the caller learns its client (the id) from it.
pub async fn take_unbound(
    service: &Service,
    token: &str,
    challenge: ChallengeName,
) -> Result<(Taken, String), Error> {
    let invalid = || refused("Invalid session for the user.");
    let row = service
        .store
        .take_auth_session(&sha256_hex(token))
        .await?
        .ok_or_else(invalid)?;
    if row.challenge != challenge.as_str() {
        return Err(invalid());
    }
    if service.clock.now() > row.expires_at {
        return Err(refused("Invalid session for the user, session is expired."));
    }
    let attempt: Attempt = serde_json::from_str(&row.state).map_err(|e| Error::internal(&e))?;
    let client_id = row.client_id.clone();
    Ok((Taken { attempt, row }, client_id))
}

/// Takes the session of `token`, which must be a live session of `challenge` started by this
/// client in this pool; anything else is "Invalid session for the user.".
pub async fn take(
    service: &Service,
    context: &Context<'_>,
    token: &str,
    challenge: ChallengeName,
) -> Result<Taken, Error> {
    let invalid = || refused("Invalid session for the user.");
    let row = service
        .store
        .take_auth_session(&sha256_hex(token))
        .await?
        .ok_or_else(invalid)?;
    if row.client_id != context.client.client_id
        || row.pool_id != context.directory.pool.id
        || row.challenge != challenge.as_str()
    {
        return Err(invalid());
    }
    if service.clock.now() > row.expires_at {
        return Err(refused("Invalid session for the user, session is expired."));
    }
    let attempt: Attempt = serde_json::from_str(&row.state).map_err(|e| Error::internal(&e))?;
    Ok(Taken { attempt, row })
}
