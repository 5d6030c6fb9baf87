//! USER_SRP_AUTH's first factor: the PASSWORD_VERIFIER challenge (salt, B and a secret block
//! naming the sealed server state) and the check of the client's proof. An unknown user gets a
//! decoy challenge shaped exactly like a real one (see [`super::machine::decoy`]), whose proof
//! can never match.

use std::time::{Duration, SystemTime};

use base64::Engine;
use serde_json::{json, Map};
use tessera_core::srp::to_hex;
use tessera_core::{srp_challenge, srp_pool_name, verify_password_claim, SrpChallenge, User};

use super::challenge::{Challenge, ChallengeName};
use super::machine::{decoy, Context, Found};
use super::session::{self, Attempt, SrpState};
use crate::directory::user_not_found;
use crate::{Error, Service};

/// How far the client's TIMESTAMP may be from the server's clock.
const CLOCK_SKEW: Duration = Duration::from_secs(300);

/// The client's proof, as received.
pub struct Proof<'a> {
    pub signature: &'a str,
    pub timestamp: &'a str,
    /// The TIMESTAMP, already parsed by the caller (a malformed one is a parameter error).
    pub signed_at: SystemTime,
}

/// Asks PASSWORD_VERIFIER: draws the server's secret, stores it sealed as the session named by
/// a fresh SECRET_BLOCK, and returns the challenge.
pub async fn ask(
    service: &Service,
    context: &Context<'_>,
    found: Found,
    typed: &str,
    srp_a: &str,
    custom: Option<super::custom::CustomAuth>,
) -> Result<Challenge, Error> {
    let pool_id = &context.directory.pool.id;
    let real = match found {
        Found::User { key, user } => user
            .srp_verifier
            .clone()
            .map(|verifier| (Attempt::of_user(key, &user), verifier)),
        Found::Unknown if !context.hides_users() => return Err(user_not_found()),
        Found::Unknown => None,
    };
    // An unknown user, or one without a password, gets a decoy, so that the answer cannot
    // tell them from anyone else.
    let (attempt, verifier) = match real {
        Some(real) => real,
        None => {
            let decoy = decoy(service, context.directory, typed);
            let mut password = [0u8; 32];
            service.random.fill(&mut password);
            let verifier = tessera_core::SrpVerifier::with_salt(
                srp_pool_name(pool_id),
                &decoy.user_id,
                &hex::encode(password),
                &decoy.salt,
            );
            (Attempt::of_decoy(decoy), verifier)
        }
    };
    // The 3072-bit exponentiations take milliseconds: off the async workers, so that a burst
    // of SRP sign-ins does not hold up requests waiting for the database or the network.
    let random = service.random.clone();
    let (exchange_verifier, srp_a) = (verifier.clone(), srp_a.to_owned());
    let challenge = service
        .hash_work(move || srp_challenge(&exchange_verifier, &srp_a, random.as_ref()))
        .await?
        .map_err(|_| Error::wrong_credentials())?;
    let mut block = [0u8; 64];
    service.random.fill(&mut block);
    let secret_block = base64::engine::general_purpose::STANDARD.encode(block);
    let attempt = Attempt {
        custom,
        srp: Some(SrpState {
            big_a: hex::encode(&challenge.big_a),
            b: hex::encode(&challenge.b),
            big_b: hex::encode(&challenge.big_b),
        }),
        ..attempt
    };
    session::store(
        service,
        context,
        &secret_block,
        ChallengeName::PasswordVerifier,
        &attempt,
    )
    .await?;
    let mut parameters = Map::new();
    parameters.insert("SALT".into(), json!(to_hex(&verifier.salt)));
    parameters.insert("SECRET_BLOCK".into(), json!(secret_block));
    parameters.insert("SRP_B".into(), json!(to_hex(&challenge.big_b)));
    parameters.insert("USERNAME".into(), json!(attempt.user_id));
    parameters.insert("USER_ID_FOR_SRP".into(), json!(attempt.user_id));
    Ok(Challenge {
        name: ChallengeName::PasswordVerifier,
        parameters,
        session: secret_block,
        available: Vec::new(),
    })
}

/// Whether the proof's TIMESTAMP is close enough to the server's clock.
pub fn within_skew(service: &Service, proof: &Proof<'_>) -> bool {
    let now = service.clock.now();
    let skew = if now > proof.signed_at {
        now.duration_since(proof.signed_at)
    } else {
        proof.signed_at.duration_since(now)
    }
    .unwrap_or_default();
    skew <= CLOCK_SKEW
}

/// Whether the proof shows the user's password for the exchange of `attempt`.
pub async fn verify(
    service: &Service,
    context: &Context<'_>,
    attempt: &Attempt,
    user: &User,
    secret_block: &str,
    proof: &Proof<'_>,
) -> Result<bool, Error> {
    let (Some(verifier), Some(state)) = (&user.srp_verifier, &attempt.srp) else {
        return Ok(false);
    };
    if !within_skew(service, proof) {
        return Ok(false);
    }
    let bytes = |hex_text: &str| hex::decode(hex_text).map_err(|e| Error::internal(&e));
    let challenge = SrpChallenge {
        big_a: bytes(&state.big_a)?,
        b: bytes(&state.b)?,
        big_b: bytes(&state.big_b)?,
    };
    let pool_name = srp_pool_name(&context.directory.pool.id).to_owned();
    let (username, verifier) = (user.username.clone(), verifier.clone());
    let (secret_block, timestamp, signature) = (
        secret_block.to_owned(),
        proof.timestamp.to_owned(),
        proof.signature.to_owned(),
    );
    // Off the async workers, as in `ask`.
    service
        .hash_work(move || {
            verify_password_claim(
                &pool_name,
                &username,
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
        .await
}
