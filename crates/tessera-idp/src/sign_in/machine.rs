//! Sign-in as one state machine. Every flow (USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH,
//! USER_SRP_AUTH and the hosted sign-in page) runs the same named steps:
//!
//! ```text
//!   begin ──▶ find the user ──▶ first factor ──▶ further challenges ──▶ after sign-in ──▶ signed in
//!                                   │    ▲              │    ▲
//!                                   ▼    │              ▼    │
//!                          PASSWORD_VERIFIER     NEW_PASSWORD_REQUIRED, …
//!                          (answer ──▶ first factor)   (answer ──▶ further challenges)
//! ```
//!
//! A challenge ends the call with a sealed session ([`super::session`]); its answer resumes the
//! machine where it stopped. The caller turns [`Outcome::SignedIn`] into tokens (the API) or
//! an authorization code (the hosted pages), both through [`super::tokens`].
//!
//! Rules every path keeps: an attempt counts towards the lockout before its credential is
//! checked ([`claim`]); an unknown user costs the same work and writes the same rows as a
//! known one and, where the client hides users, reads the same; every call that resumes a
//! sign-in reads the user afresh, so one disabled or deleted while a challenge is pending gets
//! no tokens.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use tessera_core::lockout::Attempt as Claim;
use tessera_core::{AppClient, User, UserStatus};

use super::challenge::{self, Challenge, ChallengeName, NewPassword, FURTHER};
use super::refused;
use super::session::{self, Attempt};
use super::srp::{self, Proof};
use crate::directory::{check_secret_hash, hides_users, Directory};
use crate::trigger::{self, Call, Trigger};
use crate::{Error, Service};

/// Where a sign-in comes from, which decides what its refusals may reveal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// InitiateAuth / RespondToAuthChallenge, public.
    Api,
    /// AdminInitiateAuth / AdminRespondToAuthChallenge, signed.
    Admin,
    /// The hosted sign-in page: it never says whether a user exists or is locked.
    HostedPage,
}

/// The client, pool and channel of a sign-in.
pub struct Context<'a> {
    pub client: &'a AppClient,
    pub directory: &'a Directory,
    pub channel: Channel,
    /// InitiateAuth's `ClientMetadata`: the `validationData` of PreAuthentication and
    /// UserMigration.
    pub validation_data: Option<&'a Map<String, Value>>,
    /// RespondToAuthChallenge's `ClientMetadata`: the `clientMetadata` of the triggers after
    /// the first factor.
    pub client_metadata: Option<&'a Map<String, Value>>,
    /// The `DEVICE_KEY` of the request (AuthParameters or ChallengeResponses): the remembered
    /// device the client signs in from.
    pub device_key: Option<&'a str>,
    /// The hosted pages' remembered-browser cookie (`<device key>.<device password>`): a
    /// browser cannot run device SRP without a script, so the page proves its device with the
    /// password the cookie holds.
    pub browser_device: Option<&'a str>,
}

impl Context<'_> {
    /// Whether refusals must not tell an unknown user from a wrong password.
    pub fn hides_users(&self) -> bool {
        self.channel == Channel::HostedPage || hides_users(self.client)
    }
}

/// The first factor a flow offers.
pub enum FirstFactor<'a> {
    /// A username and password (USER_PASSWORD_AUTH, ADMIN_USER_PASSWORD_AUTH, the page).
    Password {
        username: &'a str,
        password: &'a str,
    },
    /// A username and the client's SRP public value (USER_SRP_AUTH).
    Srp { username: &'a str, srp_a: &'a str },
}

/// An answer to a challenge.
pub enum Answer<'a> {
    /// PASSWORD_VERIFIER: the session is the secret block.
    PasswordVerifier(Proof<'a>),
    /// NEW_PASSWORD_REQUIRED.
    NewPassword(NewPassword<'a>),
    /// CUSTOM_CHALLENGE: the client's `ANSWER`.
    Custom(&'a str),
    /// SOFTWARE_TOKEN_MFA, SMS_MFA or EMAIL_OTP: the code.
    MfaCode(ChallengeName, &'a str),
    /// SELECT_MFA_TYPE: the factor chosen.
    SelectMfa(&'a str),
    /// MFA_SETUP, with the session VerifySoftwareToken returned.
    MfaSetup,
    /// DEVICE_SRP_AUTH: the device's key and SRP_A.
    DeviceSrp { device_key: &'a str, srp_a: &'a str },
    /// DEVICE_PASSWORD_VERIFIER: the session is the secret block.
    DeviceProof {
        device_key: &'a str,
        proof: Proof<'a>,
    },
    /// USER_AUTH's WEB_AUTHN: the browser's assertion (JSON).
    WebAuthn(&'a str),
    /// USER_AUTH's SELECT_CHALLENGE: the factor chosen, with its password or SRP_A.
    SelectChallenge {
        answer: &'a str,
        password: Option<&'a str>,
        srp_a: Option<&'a str>,
    },
}

impl Answer<'_> {
    fn challenge(&self) -> ChallengeName {
        match self {
            Answer::PasswordVerifier(_) => ChallengeName::PasswordVerifier,
            Answer::NewPassword(_) => ChallengeName::NewPasswordRequired,
            Answer::Custom(_) => ChallengeName::CustomChallenge,
            Answer::MfaCode(name, _) => *name,
            Answer::SelectMfa(_) => ChallengeName::SelectMfaType,
            Answer::MfaSetup => ChallengeName::MfaSetup,
            Answer::DeviceSrp { .. } => ChallengeName::DeviceSrpAuth,
            Answer::DeviceProof { .. } => ChallengeName::DevicePasswordVerifier,
            Answer::SelectChallenge { .. } => ChallengeName::SelectChallenge,
            Answer::WebAuthn(_) => ChallengeName::WebAuthn,
        }
    }
}

/// Who answers a challenge: the `USERNAME` and `SECRET_HASH` of the challenge responses.
#[derive(Default)]
pub struct Responder<'a> {
    pub username: Option<&'a str>,
    /// Checked against the client's secret unless the channel is the hosted page (the page
    /// is the client's own).
    pub secret_hash: Option<&'a str>,
}

/// Where a sign-in call ends.
#[derive(Debug)]
pub enum Outcome {
    /// A challenge to answer.
    Challenge(Challenge),
    /// Signed in: tokens (or a code) may be issued.
    SignedIn(Box<SignedIn>),
}

/// A user who has passed every step.
#[derive(Debug)]
pub struct SignedIn {
    pub key: String,
    pub user: User,
    /// When the first factor was proved.
    pub auth_time: SystemTime,
    /// The PreTokenGeneration `triggerSource` of the tokens this sign-in earns.
    pub token_source: &'static str,
    /// The tracked device the sign-in proved, if any.
    pub device: Option<String>,
}

/// A user as step 1 found them.
pub enum Found {
    User { key: String, user: Box<User> },
    Unknown,
}

/// Starts a sign-in with its first factor.
pub async fn begin(
    service: &Service,
    context: &Context<'_>,
    first: FirstFactor<'_>,
) -> Result<Outcome, Error> {
    match first {
        FirstFactor::Password { username, password } => {
            let mut found = find_user(service, context, username).await?;
            if matches!(found, Found::Unknown)
                && trigger::function(&context.directory.pool, Trigger::UserMigration).is_some()
            {
                found = migrate(service, context, username, password).await?;
            }
            pre_authentication(service, context, &found, username).await?;
            let (mut attempt, user) =
                password_factor(service, context, found, username, password).await?;
            // A password flow that names a device the user does not have is signed in as
            // from a new device.
            attempt.device = match super::device::named(service, context, &attempt).await {
                Err(error) if error.kind == "ResourceNotFoundException" => None,
                other => other?,
            };
            if attempt.device.is_none() {
                attempt.device = super::device::browser(service, context, &attempt).await?;
            }
            further_challenges(service, context, attempt, Some(user)).await
        }
        FirstFactor::Srp { username, srp_a } => {
            let found = find_user(service, context, username).await?;
            pre_authentication(service, context, &found, username).await?;
            let challenge = srp::ask(service, context, found, username, srp_a, None).await?;
            Ok(Outcome::Challenge(challenge))
        }
    }
}

/// Resumes a sign-in with the answer to the challenge of session `token`.
pub async fn answer(
    service: &Service,
    context: &Context<'_>,
    token: &str,
    responder: &Responder<'_>,
    answer: Answer<'_>,
) -> Result<Outcome, Error> {
    // Only these challenges are answered with a code (the hosted pages name the challenge in
    // a field the browser sends back).
    if let Answer::MfaCode(name, _) = &answer {
        if !matches!(
            name,
            ChallengeName::SoftwareTokenMfa
                | ChallengeName::SmsMfa
                | ChallengeName::EmailOtp
                | ChallengeName::SmsOtp
        ) {
            return Err(refused("Invalid session for the user."));
        }
    }
    let mut taken = session::take(service, context, token, answer.challenge()).await?;
    check_responder(service, context, &taken.attempt, responder).await?;
    taken.attempt.answering = Some(token.to_owned());
    match answer {
        Answer::PasswordVerifier(proof) => {
            // A device the client names must be one of the user's before the proof is
            // spent: clients answer `Device does not exist.` by sending the same proof again
            // without the key.
            let device = match super::device::named(service, context, &taken.attempt).await {
                Ok(device) => device,
                Err(error) => {
                    taken.restore(service).await?;
                    return Err(error);
                }
            };
            let attempt = taken.attempt;
            let custom = attempt.custom.clone();
            let (mut attempt, user) =
                proof_factor(service, context, attempt, token, &proof).await?;
            attempt.device = device;
            if custom.is_some() {
                attempt.custom = custom;
                return super::custom::after_password(service, context, attempt, user).await;
            }
            further_challenges(service, context, attempt, Some(user)).await
        }
        Answer::Custom(answer) => {
            let user = if taken.attempt.decoy {
                None
            } else {
                Some(current_user(service, context, &taken.attempt).await?)
            };
            super::custom::answer(service, context, taken.attempt, user, answer).await
        }
        Answer::SelectChallenge {
            answer,
            password,
            srp_a,
        } => {
            let credentials = super::choice::Credentials { password, srp_a };
            super::choice::select(service, context, taken, answer, credentials).await
        }
        Answer::WebAuthn(credential) => {
            // A passkey is the first factor: read, then counted like a password before it is
            // checked; the user's state is looked at only after the check, so that a wrong
            // assertion reads the same for anyone.
            super::passkey::assertion(credential)?;
            if claim(service, context, &taken.attempt.key).await? == Claim::Locked {
                return Err(locked(service, context, "").await);
            }
            if taken.attempt.decoy {
                return Err(Error::wrong_credentials());
            }
            super::passkey::verify(service, context, &taken.attempt, credential).await?;
            service
                .store
                .clear_sign_in_failures(&context.directory.pool.id, &taken.attempt.key)
                .await?;
            let user = current_user(service, context, &taken.attempt).await?;
            if user.status != UserStatus::Confirmed {
                return Err(refused("Invalid session for the user."));
            }
            let mut attempt = taken.attempt;
            attempt.authenticated_at = Some(epoch_millis(service.clock.now()));
            attempt.passwordless = true;
            attempt.webauthn = None;
            attempt.answered.push(ChallengeName::WebAuthn);
            further_challenges(service, context, attempt, Some(user)).await
        }
        Answer::MfaCode(name, code) if taken.attempt.authenticated_at.is_none() => {
            // USER_AUTH's EMAIL_OTP or SMS_OTP: the code is the first factor, counted like a
            // password on the user's (or the decoy's) counter before it is compared. The
            // user's state is looked at only after a right code, so that a wrong code reads
            // the same for anyone.
            if claim(service, context, &taken.attempt.key).await? == Claim::Locked {
                return Err(locked(service, context, "").await);
            }
            let matches = !taken.attempt.decoy
                && taken
                    .attempt
                    .mfa
                    .code
                    .as_ref()
                    .is_some_and(|c| c.matches(code));
            if !matches {
                count_wrong_answer(service, taken).await?;
                return Err(Error::new(
                    "CodeMismatchException",
                    "Invalid code or auth state for the user.",
                ));
            }
            service
                .store
                .clear_sign_in_failures(&context.directory.pool.id, &taken.attempt.key)
                .await?;
            let user = current_user(service, context, &taken.attempt).await?;
            if user.status != UserStatus::Confirmed {
                return Err(refused("Invalid session for the user."));
            }
            let mut attempt = taken.attempt;
            attempt.authenticated_at = Some(epoch_millis(service.clock.now()));
            attempt.passwordless = true;
            attempt.answered.push(name);
            attempt.mfa.code = None;
            further_challenges(service, context, attempt, Some(user)).await
        }
        Answer::MfaCode(name, code) => {
            let user = current_user(service, context, &taken.attempt).await?;
            let checked =
                super::mfa::check_code(service, context, name, &taken.attempt, &user, code).await;
            if let Err(error) = checked {
                // A wrong code may be corrected in the same session, a few times.
                if super::mfa::retry(&error) {
                    count_wrong_answer(service, taken).await?;
                }
                return Err(error);
            }
            let mut attempt = taken.attempt;
            attempt.answered.push(name);
            attempt.mfa.code = None;
            // The check may have verified the phone number: read the user again.
            further_challenges(service, context, attempt, None).await
        }
        Answer::SelectMfa(choice) => {
            let user = current_user(service, context, &taken.attempt).await?;
            let factor = match super::mfa::choose(context.directory, &user, choice) {
                Ok(factor) => factor,
                Err(error) => {
                    taken.restore(service).await?;
                    return Err(error);
                }
            };
            let mut attempt = taken.attempt;
            attempt.answered.push(ChallengeName::SelectMfaType);
            attempt.mfa.choice = Some(factor);
            further_challenges(service, context, attempt, Some(user)).await
        }
        Answer::DeviceSrp { device_key, srp_a } => {
            let challenge =
                super::device::exchange(service, context, taken.attempt, device_key, srp_a).await?;
            Ok(Outcome::Challenge(challenge))
        }
        Answer::DeviceProof { device_key, proof } => {
            let mut attempt = taken.attempt;
            super::device::verify(service, context, &mut attempt, device_key, token, &proof)
                .await?;
            attempt.answered.push(ChallengeName::DeviceSrpAuth);
            further_challenges(service, context, attempt, None).await
        }
        Answer::MfaSetup => {
            // Only the session VerifySoftwareToken returned has set a factor up.
            if !taken.attempt.mfa.set_up {
                return Err(refused("Invalid session for the user."));
            }
            let mut attempt = taken.attempt;
            attempt.answered.push(ChallengeName::MfaSetup);
            further_challenges(service, context, attempt, None).await
        }
        Answer::NewPassword(new_password) => {
            let user = current_user(service, context, &taken.attempt).await?;
            let key = taken.attempt.key.clone();
            match challenge::answer_new_password(service, context, &key, user, &new_password).await
            {
                Ok(_) => {}
                Err(error) if challenge::correctable(&error) => {
                    taken.restore(service).await?;
                    return Err(error);
                }
                Err(error) => return Err(error),
            }
            let mut attempt = taken.attempt;
            attempt.answered.push(ChallengeName::NewPasswordRequired);
            // The answer changed the user: read it again.
            further_challenges(service, context, attempt, None).await
        }
    }
}

/// A wrong code leaves its session for another try, a few times: the session goes back with
/// the wrong answer counted, until the last one it takes.
async fn count_wrong_answer(service: &Service, taken: session::Taken) -> Result<(), Error> {
    let mut attempt = taken.attempt.clone();
    attempt.mfa.wrong += 1;
    if attempt.mfa.wrong < super::mfa::WRONG_CODES_PER_SESSION {
        taken.restore_as(service, &attempt).await?;
    }
    Ok(())
}

/// A session belongs to one user: a USERNAME naming anyone else makes it invalid. The
/// SECRET_HASH is over the name the client gives (or the session's user when it gives none).
async fn check_responder(
    service: &Service,
    context: &Context<'_>,
    attempt: &Attempt,
    responder: &Responder<'_>,
) -> Result<(), Error> {
    let name = responder.username.unwrap_or(&attempt.user_id);
    if name != attempt.user_id {
        // A decoy answers to the names that lead to it, as a user answers to the names that
        // find them; anything else would tell the two apart.
        let same = if attempt.decoy {
            attempt.typed.as_deref() == Some(name)
                || decoy(service, context.directory, name).counter == attempt.key
        } else {
            let named = context
                .directory
                .find(service, name)
                .await?
                .map(|(key, _)| key);
            named.as_deref() == Some(attempt.key.as_str())
        };
        if !same {
            return Err(refused("Invalid session for the user."));
        }
    }
    if context.channel != Channel::HostedPage {
        check_secret_hash(context.client, Some(name), responder.secret_hash)?;
    }
    Ok(())
}

/// Step 1: the user by username, e-mail or phone number serving as username, or alias.
async fn find_user(
    service: &Service,
    context: &Context<'_>,
    username: &str,
) -> Result<Found, Error> {
    let Some((key, _)) = context.directory.find(service, username).await? else {
        return Ok(Found::Unknown);
    };
    // The password is checked against the row as it is now, not a cached copy another node
    // may have changed (a password reset, a disabled user) a moment ago.
    Ok(
        match service
            .store
            .user_current(&context.directory.pool.id, &key)
            .await?
        {
            Some(user) => Found::User {
                key,
                user: Box::new(user),
            },
            None => Found::Unknown,
        },
    )
}

/// Step 1 for a name the pool does not know, in a pool with a UserMigration function: the
/// typed password goes to the function, which checks it against a legacy store, so the
/// attempt is counted first, on the name's own counter (the decoy's, which no user can
/// share), and a locked name never reaches the function. A migrated user starts with no
/// failures; a name the function does not know is refused here, already counted.
async fn migrate(
    service: &Service,
    context: &Context<'_>,
    typed: &str,
    password: &str,
) -> Result<Found, Error> {
    let counter = decoy(service, context.directory, typed).counter;
    if claim(service, context, &counter).await? == Claim::Locked {
        return Err(locked(service, context, password).await);
    }
    match super::migration::on_sign_in(service, context, typed, password).await? {
        Found::Unknown => Err(if context.hides_users() {
            Error::wrong_credentials()
        } else {
            crate::directory::user_not_found()
        }),
        found => {
            service
                .store
                .clear_sign_in_failures(&context.directory.pool.id, &counter)
                .await?;
            Ok(found)
        }
    }
}

/// Step 2 for a password: counted, then checked, then the user's state.
async fn password_factor(
    service: &Service,
    context: &Context<'_>,
    found: Found,
    typed: &str,
    password: &str,
) -> Result<(Attempt, User), Error> {
    match found {
        Found::Unknown => {
            // Where users are hidden, an unknown name is counted and locked like a user,
            // so neither the rows written nor a lockout tell it apart.
            if context.hides_users() {
                let counter = decoy(service, context.directory, typed).counter;
                if claim(service, context, &counter).await? == Claim::Locked {
                    return Err(locked(service, context, password).await);
                }
            }
            // The same hashing work as a wrong password.
            verify_password(service, password, None).await?;
            Err(if context.hides_users() {
                Error::wrong_credentials()
            } else {
                Error::new("UserNotFoundException", "User does not exist.")
            })
        }
        Found::User { key, user } => {
            if claim(service, context, &key).await? == Claim::Locked {
                return Err(locked(service, context, password).await);
            }
            if user.password_hash.is_none() && user.status == UserStatus::ResetRequired {
                // A user a CSV import job created has no password until it resets one, and
                // Cognito answers its sign-in so, whatever the password (after the same work).
                verify_password(service, password, None).await?;
                return Err(reset_required());
            }
            let correct = verify_password(service, password, user.password_hash.clone()).await?;
            let imported = correct && crate::directory::needs_new_hash(&user);
            let (attempt, user) =
                first_factor_checked(service, context, key, *user, correct).await?;
            if !imported {
                return Ok((attempt, user));
            }
            // The first sign-in of a user imported with another system's hash (issue 16).
            let user = crate::directory::replace_imported_hash(
                service,
                context.directory,
                &attempt.key,
                user,
                password,
            )
            .await?;
            Ok((attempt, user))
        }
    }
}

/// Step 2 for SRP: the proof against the session's exchange, counted like a password.
async fn proof_factor(
    service: &Service,
    context: &Context<'_>,
    attempt: Attempt,
    secret_block: &str,
    proof: &Proof<'_>,
) -> Result<(Attempt, User), Error> {
    if attempt.decoy {
        if claim(service, context, &attempt.key).await? == Claim::Locked {
            return Err(locked(service, context, "").await);
        }
        return Err(Error::wrong_credentials());
    }
    let Some(user) = service
        .store
        .user_current(&context.directory.pool.id, &attempt.key)
        .await?
        .filter(|user| user.sub == attempt.sub)
    else {
        return Err(Error::wrong_credentials());
    };
    if claim(service, context, &attempt.key).await? == Claim::Locked {
        return Err(locked(service, context, "").await);
    }
    let correct = srp::verify(service, context, &attempt, &user, secret_block, proof).await?;
    first_factor_checked(service, context, attempt.key, user, correct).await
}

/// What follows a first-factor check in every flow, in Cognito's order: an unconfirmed
/// account (revealed, where users are hidden, only to someone who proved its password), the
/// wrong credential (already counted), then a disabled user and a required reset. The user
/// read for the check goes on to the next step, which needs no second read in the same call.
async fn first_factor_checked(
    service: &Service,
    context: &Context<'_>,
    key: String,
    user: User,
    correct: bool,
) -> Result<(Attempt, User), Error> {
    let pool_id = &context.directory.pool.id;
    if correct {
        service.store.clear_sign_in_failures(pool_id, &key).await?;
    }
    if user.status == UserStatus::Unconfirmed && (correct || !context.hides_users()) {
        return Err(Error::new(
            "UserNotConfirmedException",
            "User is not confirmed.",
        ));
    }
    if !correct {
        metrics::counter!("tessera_sign_in_failures_total").increment(1);
        crate::directory::auth_event::record(
            service,
            &context.directory.pool,
            (&key, &user.username),
            crate::directory::auth_event::Kind::SignIn,
            false,
            &[("Password", false)],
        )
        .await?;
        return Err(Error::wrong_credentials());
    }
    if !user.enabled {
        return Err(Error::user_disabled());
    }
    if user.status == UserStatus::ResetRequired {
        return Err(reset_required());
    }
    let attempt = Attempt {
        authenticated_at: Some(epoch_millis(service.clock.now())),
        ..Attempt::of_user(key, &user)
    };
    Ok((attempt, user))
}

/// Step 3: the first challenge the sign-in still owes, or step 4 when none is left. `read` is
/// the user as this call already read it after the last change it made, if it did.
pub(super) async fn further_challenges(
    service: &Service,
    context: &Context<'_>,
    attempt: Attempt,
    read: Option<User>,
) -> Result<Outcome, Error> {
    let user = match read {
        Some(user) => user,
        None => current_user(service, context, &attempt).await?,
    };
    for name in FURTHER {
        if name.due(context, &attempt, &user) {
            let challenge = name.ask(service, context, &attempt, &user).await?;
            return Ok(Outcome::Challenge(challenge));
        }
    }
    after_sign_in(service, context, attempt, user).await
}

/// Runs the pool's PreAuthentication function, if any, before the first factor is checked
/// (and counted): its refusal ends the sign-in. An unknown name is shown to it, with
/// `userNotFound`, only where the client hides users, as in Cognito; elsewhere the sign-in
/// ends without it.
pub(super) async fn pre_authentication(
    service: &Service,
    context: &Context<'_>,
    found: &Found,
    typed: &str,
) -> Result<(), Error> {
    let (user_name, attributes, not_found) = match found {
        Found::User { user, .. } => (
            user.username.clone(),
            trigger::user_attributes(context.directory, user),
            false,
        ),
        Found::Unknown if context.hides_users() => (typed.to_owned(), json!({}), true),
        Found::Unknown => return Ok(()),
    };
    let mut request = json!({
        "userAttributes": attributes,
        // Cognito hands InitiateAuth's ClientMetadata to this trigger as validationData.
        "validationData": context.validation_data.map_or(Value::Null, |m| Value::Object(m.clone())),
    });
    if context.hides_users() {
        request["userNotFound"] = json!(not_found);
    }
    trigger::notify(
        service,
        &Call {
            trigger: Trigger::PreAuthentication,
            source: "PreAuthentication_Authentication",
            pool: &context.directory.pool,
            user_name: &user_name,
            client_id: Some(&context.client.client_id),
            request,
        },
    )
    .await
}

/// Step 4: the user, as stored now, may have tokens once the pool's PostAuthentication
/// function (if any) has heard of the sign-in; its failure ends the sign-in without tokens.
async fn after_sign_in(
    service: &Service,
    context: &Context<'_>,
    attempt: Attempt,
    user: User,
) -> Result<Outcome, Error> {
    match user.status {
        UserStatus::Confirmed => {}
        UserStatus::ResetRequired => return Err(reset_required()),
        // An administrator changed the account while a challenge was pending.
        _ => return Err(refused("Invalid session for the user.")),
    }
    let auth_time = attempt
        .auth_time()
        .ok_or_else(|| Error::internal(&"a signed-in attempt without auth_time"))?;
    let request = trigger::with_client_metadata_map(
        json!({
            "userAttributes": trigger::user_attributes(context.directory, &user),
            // A sign-in that proved no device is issued a new one (API channels only).
            "newDeviceUsed": context.channel != Channel::HostedPage
                && attempt.device.is_none()
                && super::device::tracking(context.directory).is_some(),
        }),
        context.client_metadata,
    );
    trigger::notify(
        service,
        &Call {
            trigger: Trigger::PostAuthentication,
            source: "PostAuthentication_Authentication",
            pool: &context.directory.pool,
            user_name: &user.username,
            client_id: Some(&context.client.client_id),
            request,
        },
    )
    .await?;
    let proved_device = attempt
        .device
        .as_ref()
        .filter(|d| d.proved)
        .map(|d| d.key.clone());
    let token_source = if proved_device.is_some() {
        "TokenGeneration_AuthenticateDevice"
    } else if attempt
        .answered
        .contains(&ChallengeName::NewPasswordRequired)
    {
        "TokenGeneration_NewPasswordChallenge"
    } else if context.channel == Channel::HostedPage {
        "TokenGeneration_HostedAuth"
    } else {
        "TokenGeneration_Authentication"
    };
    let mut challenges = Vec::new();
    if attempt.authenticated_at.is_some() && !attempt.passwordless {
        challenges.push(("Password", true));
    }
    // An e-mailed code is a second factor after a password, the first one when passwordless.
    if attempt.answered.iter().any(|name| {
        matches!(
            name,
            ChallengeName::SoftwareTokenMfa | ChallengeName::SmsMfa
        ) || (*name == ChallengeName::EmailOtp && !attempt.passwordless)
    }) {
        challenges.push(("Mfa", true));
    }
    crate::directory::auth_event::record(
        service,
        &context.directory.pool,
        (&attempt.key, &user.username),
        crate::directory::auth_event::Kind::SignIn,
        true,
        &challenges,
    )
    .await?;
    Ok(Outcome::SignedIn(Box::new(SignedIn {
        key: attempt.key,
        user,
        auth_time,
        token_source,
        device: proved_device,
    })))
}

/// The attempt's user as stored now: gone (or another user under the same name) makes the
/// session invalid, disabled refuses.
async fn current_user(
    service: &Service,
    context: &Context<'_>,
    attempt: &Attempt,
) -> Result<User, Error> {
    let user = service
        .store
        .user_current(&context.directory.pool.id, &attempt.key)
        .await?
        .filter(|user| !attempt.decoy && user.sub == attempt.sub)
        .ok_or_else(|| refused("Invalid session for the user."))?;
    if !user.enabled {
        return Err(Error::user_disabled());
    }
    Ok(user)
}

/// Counts an attempt at `key` before its credential is checked (see
/// `Store::claim_sign_in_attempt`).
async fn claim(service: &Service, context: &Context<'_>, key: &str) -> Result<Claim, Error> {
    let claim = service
        .store
        .claim_sign_in_attempt(&context.directory.pool.id, key, service.clock.now())
        .await?;
    if claim == Claim::Locked {
        metrics::counter!("tessera_sign_in_lockouts_total").increment(1);
    }
    Ok(claim)
}

/// The refusal of a locked attempt. The API says so, as Cognito does; the hosted page answers
/// like a wrong password after the same hashing work, since a lockout message (or a quicker
/// answer) would say that the user exists.
async fn locked(service: &Service, context: &Context<'_>, password: &str) -> Error {
    if context.channel == Channel::HostedPage {
        if let Err(error) = verify_password(service, password, None).await {
            return error;
        }
        return Error::wrong_credentials();
    }
    refused("Password attempts exceeded")
}

/// Cognito's answer to a user who must reset the password before signing in.
fn reset_required() -> Error {
    Error::new(
        "PasswordResetRequiredException",
        "Password reset required for the user",
    )
}

/// Checks a password against a stored hash, or does the same work against nothing.
pub async fn verify_password(
    service: &Service,
    password: &str,
    hash: Option<String>,
) -> Result<bool, Error> {
    let hasher = service.hasher.clone();
    let password = password.to_owned();
    service
        .hash_work(move || match hash {
            Some(hash) => hasher.verify(&password, &hash),
            None => hasher.verify_dummy(&password),
        })
        .await
}

/// What an unknown name is shown and counted as, stable per pool and name on every node and
/// across restarts (the key is derived from the master key).
pub struct Decoy {
    /// `USER_ID_FOR_SRP`: in pools whose usernames are e-mail addresses or phone numbers a
    /// real user's is a UUID, so a decoy's is one too; otherwise the name in the pool's case
    /// rule.
    pub user_id: String,
    /// The SRP salt.
    pub salt: Vec<u8>,
    /// The lockout counter's key. It starts with a control character, which no username can
    /// contain, so it never names a user.
    pub counter: String,
}

/// The decoy of `name` in `directory`'s pool.
pub fn decoy(service: &Service, directory: &Directory, name: &str) -> Decoy {
    let normalised = directory.key(name);
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, service.decoy_key.as_slice());
    let tag = aws_lc_rs::hmac::sign(
        &key,
        format!("{}:{normalised}", directory.pool.id).as_bytes(),
    );
    let tag = tag.as_ref();
    let user_id = if directory.username_attributes.is_empty() {
        normalised
    } else {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&tag[16..32]);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    };
    Decoy {
        user_id,
        salt: tag[..16].to_vec(),
        counter: format!("\u{1}{}", hex::encode(&tag[..16])),
    }
}

pub(super) fn epoch_millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
