//! Remembered devices in sign-in (issue 13): a device named by the client's `DEVICE_KEY`
//! proves itself with device SRP (DEVICE_SRP_AUTH, then DEVICE_PASSWORD_VERIFIER, the same
//! exchange as USER_SRP_AUTH with the `DeviceGroupKey` for the pool name and the `DeviceKey`
//! for the user), and a sign-in without one is issued a new device (`NewDeviceMetadata`).
//!
//! Order, as clients expect it (`docs/design/mfa-facts.md` §4.4): a remembered device in a
//! pool whose `DeviceConfiguration.ChallengeRequiredOnNewDevice` is true proves itself first
//! and then skips MFA; any other known device proves itself after MFA. Device SRP always
//! follows the password step within one sealed session chain: a `DEVICE_SRP_AUTH` answer
//! without the session the password step issued is refused, so a stolen device secret never
//! signs in without the password.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tessera_core::srp::to_hex;
use tessera_core::{srp_challenge, verify_password_claim, Device, SrpChallenge, User};

use super::challenge::{Challenge, ChallengeName};
use super::machine::Context;
use super::session::{self, Attempt, SrpState};
use super::srp::Proof;
use crate::directory::Directory;
use crate::{Error, Service};

/// The pool's `DeviceConfiguration`, when device tracking is on.
#[derive(Debug, Clone, Copy)]
pub struct Tracking {
    /// A remembered device stands in for MFA.
    pub challenge_required_on_new_device: bool,
    /// ConfirmDevice leaves the device not remembered until the user says so.
    pub only_remembered_on_user_prompt: bool,
}

/// Device tracking of a pool: `None` when its `DeviceConfiguration` is absent.
pub fn tracking(directory: &Directory) -> Option<Tracking> {
    let config = directory
        .pool
        .settings
        .get("DeviceConfiguration")
        .filter(|c| c.is_object())?;
    let flag = |name: &str| config.get(name).and_then(Value::as_bool).unwrap_or(false);
    Some(Tracking {
        challenge_required_on_new_device: flag("ChallengeRequiredOnNewDevice"),
        only_remembered_on_user_prompt: flag("DeviceOnlyRememberedOnUserPrompt"),
    })
}

/// The device of a sign-in, once the first factor found it to be one of the user's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceState {
    pub key: String,
    pub remembered: bool,
    /// DEVICE_PASSWORD_VERIFIER was answered.
    #[serde(default)]
    pub proved: bool,
}

fn device_not_found() -> Error {
    Error::new("ResourceNotFoundException", "Device does not exist.")
}

/// A confirmed device of the user under `key`, named by the request's `DEVICE_KEY`.
pub async fn find(
    service: &Service,
    directory: &Directory,
    key: &str,
    device_key: &str,
) -> Result<Option<Device>, Error> {
    Ok(service
        .store
        .device(&directory.pool.id, key, device_key)
        .await?
        .filter(|device| device.verifier.is_some()))
}

/// The device a sign-in names, checked when its password step is answered: a key that is
/// not one of the user's confirmed devices is Cognito's `Device does not exist.` (clients
/// then sign in again without it). `Ok(None)` when no key is named or tracking is off.
pub async fn named(
    service: &Service,
    context: &Context<'_>,
    attempt: &Attempt,
) -> Result<Option<DeviceState>, Error> {
    let (Some(device_key), Some(_)) = (context.device_key, tracking(context.directory)) else {
        return Ok(None);
    };
    // A decoy has no devices: it answers like a user whose device is unknown.
    if attempt.decoy {
        return Err(device_not_found());
    }
    match find(service, context.directory, &attempt.key, device_key).await? {
        Some(device) => Ok(Some(DeviceState {
            key: device.device_key,
            remembered: device.remembered,
            proved: false,
        })),
        None => Err(device_not_found()),
    }
}

/// Whether a remembered, proved device stands in for MFA in this sign-in.
pub fn replaces_mfa(directory: &Directory, attempt: &Attempt) -> bool {
    let eligible = tracking(directory).is_some_and(|t| t.challenge_required_on_new_device);
    eligible
        && attempt
            .device
            .as_ref()
            .is_some_and(|d| d.proved && d.remembered)
}

/// Whether DEVICE_SRP_AUTH is due: a known device not yet proved, first when it will stand
/// in for MFA, else once MFA is done.
pub fn due(directory: &Directory, attempt: &Attempt, user: &User) -> bool {
    let Some(device) = &attempt.device else {
        return false;
    };
    let Some(tracking) = tracking(directory).filter(|_| !device.proved) else {
        return false;
    };
    (tracking.challenge_required_on_new_device && device.remembered)
        || super::mfa::owed(directory, attempt, user).is_none()
}

/// Asks DEVICE_SRP_AUTH: the client answers with the device's SRP_A.
pub async fn ask(
    service: &Service,
    context: &Context<'_>,
    attempt: &Attempt,
    user: &User,
) -> Result<Challenge, Error> {
    // Under the token of the answer that led here, which the session it answered no longer
    // uses (see `Attempt::answering`); a new one when the sign-in just began.
    let token = attempt
        .answering
        .clone()
        .unwrap_or_else(|| super::tokens::opaque(service, 48));
    session::store(
        service,
        context,
        &token,
        ChallengeName::DeviceSrpAuth,
        attempt,
    )
    .await?;
    let mut parameters = Map::new();
    parameters.insert("USERNAME".into(), json!(user.username));
    Ok(Challenge {
        name: ChallengeName::DeviceSrpAuth,
        parameters,
        session: token,
        available: Vec::new(),
    })
}

/// The answer to DEVICE_SRP_AUTH: the device's SRP exchange starts; DEVICE_PASSWORD_VERIFIER
/// is asked with the salt, B and a secret block naming the sealed state.
pub async fn exchange(
    service: &Service,
    context: &Context<'_>,
    mut attempt: Attempt,
    device_key: &str,
    srp_a: &str,
) -> Result<Challenge, Error> {
    let named = attempt.device.as_ref().map(|d| d.key.as_str());
    if named != Some(device_key) {
        return Err(device_not_found());
    }
    let device = find(service, context.directory, &attempt.key, device_key)
        .await?
        .ok_or_else(device_not_found)?;
    let verifier = device.verifier.clone().ok_or_else(device_not_found)?;
    let random = service.random.clone();
    let (exchange_verifier, srp_a) = (verifier.clone(), srp_a.to_owned());
    let challenge = service
        .hash_work(move || srp_challenge(&exchange_verifier, &srp_a, random.as_ref()))
        .await?
        .map_err(|_| Error::wrong_credentials())?;
    let mut block = [0u8; 64];
    service.random.fill(&mut block);
    let secret_block = base64::engine::general_purpose::STANDARD.encode(block);
    attempt.srp = Some(SrpState {
        big_a: hex::encode(&challenge.big_a),
        b: hex::encode(&challenge.b),
        big_b: hex::encode(&challenge.big_b),
    });
    session::store(
        service,
        context,
        &secret_block,
        ChallengeName::DevicePasswordVerifier,
        &attempt,
    )
    .await?;
    let mut parameters = Map::new();
    parameters.insert("DEVICE_KEY".into(), json!(device_key));
    parameters.insert("SALT".into(), json!(to_hex(&verifier.salt)));
    parameters.insert("SECRET_BLOCK".into(), json!(secret_block));
    parameters.insert("SRP_B".into(), json!(to_hex(&challenge.big_b)));
    parameters.insert("USERNAME".into(), json!(attempt.user_id));
    Ok(Challenge {
        name: ChallengeName::DevicePasswordVerifier,
        parameters,
        session: secret_block,
        available: Vec::new(),
    })
}

/// Checks the device's proof for the exchange of `attempt`; marks the device proved.
pub async fn verify(
    service: &Service,
    context: &Context<'_>,
    attempt: &mut Attempt,
    device_key: &str,
    secret_block: &str,
    proof: &Proof<'_>,
) -> Result<(), Error> {
    let refused = || Error::new("NotAuthorizedException", "Incorrect username or password.");
    if attempt.device.as_ref().map(|d| d.key.as_str()) != Some(device_key) {
        return Err(device_not_found());
    }
    let device = find(service, context.directory, &attempt.key, device_key)
        .await?
        .ok_or_else(device_not_found)?;
    let (Some(verifier), Some(state)) = (device.verifier.clone(), attempt.srp.clone()) else {
        return Err(refused());
    };
    if !super::srp::within_skew(service, proof) {
        return Err(refused());
    }
    let bytes = |hex_text: &str| hex::decode(hex_text).map_err(|e| Error::internal(&e));
    let challenge = SrpChallenge {
        big_a: bytes(&state.big_a)?,
        b: bytes(&state.b)?,
        big_b: bytes(&state.big_b)?,
    };
    let (group_key, key) = (device.group_key.clone(), device.device_key.clone());
    let (secret_block, timestamp, signature) = (
        secret_block.to_owned(),
        proof.timestamp.to_owned(),
        proof.signature.to_owned(),
    );
    let correct = service
        .hash_work(move || {
            verify_password_claim(
                &group_key,
                &key,
                &verifier,
                &challenge,
                &tessera_core::PasswordClaim {
                    secret_block_b64: &secret_block,
                    timestamp: &timestamp,
                    signature_b64: &signature,
                },
            )
            .unwrap_or(false)
        })
        .await?;
    if !correct {
        return Err(refused());
    }
    service
        .store
        .device_authenticated(
            &context.directory.pool.id,
            &attempt.key,
            device_key,
            service.clock.now(),
        )
        .await?;
    attempt.srp = None;
    if let Some(state) = attempt.device.as_mut() {
        state.proved = true;
        // As stored now: a device no longer remembered does not stand in for MFA.
        state.remembered = device.remembered;
    }
    Ok(())
}

/// The hosted pages' remembered browser: the device its cookie names, proved by the device
/// password the cookie holds (checked against the device's verifier, off the async
/// workers). `None` when there is no cookie, or it does not prove one of the user's devices.
pub async fn browser(
    service: &Service,
    context: &Context<'_>,
    attempt: &Attempt,
) -> Result<Option<DeviceState>, Error> {
    let (Some(cookie), Some(_)) = (context.browser_device, tracking(context.directory)) else {
        return Ok(None);
    };
    let Some((device_key, password)) = cookie.split_once('.') else {
        return Ok(None);
    };
    if attempt.decoy {
        return Ok(None);
    }
    let Some(device) = find(service, context.directory, &attempt.key, device_key).await? else {
        return Ok(None);
    };
    let Some(verifier) = device.verifier.clone() else {
        return Ok(None);
    };
    let (group_key, key, password) = (
        device.group_key.clone(),
        device.device_key.clone(),
        password.to_owned(),
    );
    let proved = service
        .hash_work(move || verifier.matches_password(&group_key, &key, &password))
        .await?;
    if !proved {
        return Ok(None);
    }
    service
        .store
        .device_authenticated(
            &context.directory.pool.id,
            &attempt.key,
            device_key,
            service.clock.now(),
        )
        .await?;
    Ok(Some(DeviceState {
        key: device.device_key,
        remembered: device.remembered,
        proved: true,
    }))
}

/// Remembers the browser of a hosted sign-in ("Remember this device"): a device confirmed
/// at once with a random device password, which only the browser's cookie holds. Returns the
/// cookie's value, or `None` where the pool does not track devices.
pub async fn remember_browser(
    service: &Service,
    directory: &Directory,
    key: &str,
) -> Result<Option<String>, Error> {
    if tracking(directory).is_none() {
        return Ok(None);
    }
    let mut device = issue(service, directory, key).await?;
    let password = super::tokens::opaque(service, 32);
    let random = service.random.clone();
    let (group_key, device_key, secret) = (
        device.group_key.clone(),
        device.device_key.clone(),
        password.clone(),
    );
    let verifier = service
        .hash_work(move || {
            tessera_core::SrpVerifier::new(&group_key, &device_key, &secret, random.as_ref())
        })
        .await?;
    device.verifier = Some(verifier);
    device.name = Some("Web browser".into());
    device.remembered = true;
    device.last_modified_at = service.clock.now();
    if !service.store.confirm_device(&device).await? {
        return Ok(None);
    }
    Ok(Some(format!("{}.{password}", device.device_key)))
}

/// A device issued to a sign-in that named none: stored unconfirmed, returned as
/// `NewDeviceMetadata`.
pub async fn issue(service: &Service, directory: &Directory, key: &str) -> Result<Device, Error> {
    let now = service.clock.now();
    let region = tessera_core::region_of_pool_id(&directory.pool.id).unwrap_or("us-east-1");
    let device = Device {
        pool_id: directory.pool.id.clone(),
        username_key: key.to_owned(),
        device_key: format!("{region}_{}", service.random_uuid()),
        group_key: Device::new_group_key(service.random.as_ref()),
        verifier: None,
        name: None,
        remembered: false,
        created_at: now,
        last_modified_at: now,
        last_authenticated_at: now,
    };
    service.store.insert_device(&device).await?;
    Ok(device)
}
