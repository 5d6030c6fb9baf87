//! MFA in sign-in (issue 13): which MFA challenge a sign-in owes once its first factor (and a
//! required new password) is done, how each is asked, and how its code is checked.
//!
//! Cognito's rules, as `docs/design/mfa-facts.md` §3 gathers them:
//! - `OFF`: never.
//! - `OPTIONAL`: only a user who turned a factor on. One factor, or a preferred one, is asked
//!   directly; several without a preference are offered in SELECT_MFA_TYPE.
//! - `ON`: every user. One with no factor turned on is asked with what they have: a verified
//!   software token, else a phone number (where the pool offers SMS), else an e-mail address
//!   (where it offers e-mail); one with nothing is asked to set up a software token
//!   (MFA_SETUP).
//!
//! Every code is a guess at a second factor, counted like a password before it is compared
//! (the sign-in lockout, on the user's counter), and capped per session as well. A software
//! token's code is accepted once: the step it matched is claimed with one conditional write
//! (`Store::claim_totp_step`), so a code seen on the wire cannot be replayed in its window,
//! on any node. SMS and e-mail codes live in the sealed session and die with it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tessera_core::lockout::Attempt as Claim;
use tessera_core::message::mask_destination;
use tessera_core::{MfaFactor, User};

use super::challenge::{Challenge, ChallengeName};
use super::machine::Context;
use super::refused;
use super::session::{self, Attempt};
use super::tokens::opaque;
use crate::directory::{deliver, revise, Destination, Directory, Occasion, Revision};
use crate::pool::mfa_config::{factors, MfaFactors};
use crate::{Error, Service};

/// Wrong codes one challenge session takes before it is spent.
pub const WRONG_CODES_PER_SESSION: u32 = 5;

/// Sign-in codes (MFA by SMS or e-mail, passwordless codes) one user can be sent: ten in an
/// hour that starts with the first, so that nobody can flood an address or run up an SMS
/// bill by asking for codes (the passwordless ones need no password to ask).
pub const SIGN_IN_CODE_LIMIT: tessera_store::AttemptLimit = tessera_store::AttemptLimit {
    cap: 10,
    window: std::time::Duration::from_secs(3600),
};

/// Takes a send slot of [`SIGN_IN_CODE_LIMIT`] for `key` (a user's, or a decoy's counter),
/// before the code is sent.
pub async fn take_send_slot(service: &Service, pool_id: &str, key: &str) -> Result<(), Error> {
    let taken = service
        .store
        .take_code_attempt(
            pool_id,
            key,
            tessera_core::CodePurpose::SignInCode,
            tessera_store::CodeAction::Issue,
            SIGN_IN_CODE_LIMIT,
            service.clock.now(),
        )
        .await?;
    if !taken {
        // InitiateAuth and RespondToAuthChallenge model TooManyRequestsException, not
        // LimitExceededException; Cognito's wording for this case was not found.
        return Err(Error::new(
            "TooManyRequestsException",
            "Too many sign-in codes were sent to this user. Try again later.",
        ));
    }
    Ok(())
}

/// Digits of an SMS MFA code (Cognito's SMS_MFA codes have six).
const SMS_DIGITS: usize = 6;
/// Digits of an e-mail code: Cognito's e-mail one-time codes have eight (amplify-js#14428).
const EMAIL_DIGITS: usize = 8;

/// A pool's `MfaConfiguration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    Optional,
    On,
}

impl Mode {
    pub fn of(directory: &Directory) -> Self {
        match directory
            .pool
            .settings
            .get("MfaConfiguration")
            .and_then(Value::as_str)
        {
            Some("ON") => Mode::On,
            Some("OPTIONAL") => Mode::Optional,
            _ => Mode::Off,
        }
    }
}

/// What a sign-in carries for MFA between its challenges.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MfaState {
    /// The factor chosen in SELECT_MFA_TYPE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choice: Option<MfaFactor>,
    /// The SMS or e-mail code sent for the pending challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<SentCode>,
    /// Wrong answers given in this session so far.
    #[serde(default)]
    pub wrong: u32,
    /// MFA_SETUP: a software token was associated and verified in this sign-in.
    #[serde(default)]
    pub set_up: bool,
}

/// A code sent by SMS or e-mail, kept in the sealed session.
#[derive(Clone, Serialize, Deserialize)]
pub struct SentCode {
    pub code: String,
}

impl SentCode {
    /// Compares a guess in constant time.
    pub fn matches(&self, guess: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.code.len() == guess.len() && bool::from(self.code.as_bytes().ct_eq(guess.as_bytes()))
    }
}

impl std::fmt::Debug for SentCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SentCode(<redacted>)")
    }
}

/// The MFA challenges, in the order `challenge::FURTHER` lists them.
pub const CHALLENGES: [ChallengeName; 5] = [
    ChallengeName::MfaSetup,
    ChallengeName::SelectMfaType,
    ChallengeName::SoftwareTokenMfa,
    ChallengeName::SmsMfa,
    ChallengeName::EmailOtp,
];

/// True once the sign-in has passed MFA.
pub fn passed(attempt: &Attempt) -> bool {
    attempt.answered.iter().any(|name| {
        matches!(
            name,
            ChallengeName::SoftwareTokenMfa
                | ChallengeName::SmsMfa
                | ChallengeName::EmailOtp
                | ChallengeName::MfaSetup
        )
    })
}

fn challenge_of(factor: MfaFactor) -> ChallengeName {
    match factor {
        MfaFactor::Sms => ChallengeName::SmsMfa,
        MfaFactor::Email => ChallengeName::EmailOtp,
        MfaFactor::SoftwareToken => ChallengeName::SoftwareTokenMfa,
    }
}

/// Whether the user can be asked `factor` in this pool: a verified software token (which
/// keeps working after the pool stops offering new ones, as in Cognito), or a phone number
/// or e-mail address where the pool offers that factor.
fn usable(offered: &MfaFactors, user: &User, factor: MfaFactor) -> bool {
    match factor {
        MfaFactor::SoftwareToken => user.mfa.totp.is_some(),
        MfaFactor::Sms => offered.sms && user.attributes.contains_key("phone_number"),
        MfaFactor::Email => offered.email && user.attributes.contains_key("email"),
    }
}

/// The factors the user turned on and can be asked, in Cognito's order.
pub fn choosable(directory: &Directory, user: &User) -> Vec<MfaFactor> {
    let offered = factors(&directory.pool.settings);
    user.mfa
        .preferences
        .enabled()
        .into_iter()
        .filter(|factor| usable(&offered, user, *factor))
        .collect()
}

/// The MFA challenge the sign-in owes now, if any.
pub fn owed(directory: &Directory, attempt: &Attempt, user: &User) -> Option<ChallengeName> {
    if passed(attempt) || attempt.passwordless || super::device::replaces_mfa(directory, attempt) {
        return None;
    }
    let mode = Mode::of(directory);
    if mode == Mode::Off {
        return None;
    }
    if let Some(choice) = attempt.mfa.choice {
        return Some(challenge_of(choice));
    }
    let enabled = choosable(directory, user);
    if enabled.is_empty() {
        if mode == Mode::Optional {
            return None;
        }
        let offered = factors(&directory.pool.settings);
        return Some(
            [MfaFactor::SoftwareToken, MfaFactor::Sms, MfaFactor::Email]
                .into_iter()
                .find(|factor| usable(&offered, user, *factor))
                .map_or(ChallengeName::MfaSetup, challenge_of),
        );
    }
    let preferred = user
        .mfa
        .preferences
        .preferred()
        .filter(|factor| enabled.contains(factor));
    match (preferred, enabled.as_slice()) {
        (Some(factor), _) | (None, &[factor]) => Some(challenge_of(factor)),
        _ => Some(ChallengeName::SelectMfaType),
    }
}

/// Asks an MFA challenge: sends the code of SMS_MFA and EMAIL_OTP, stores the session.
pub async fn ask(
    service: &Service,
    context: &Context<'_>,
    name: ChallengeName,
    attempt: &Attempt,
    user: &User,
) -> Result<Challenge, Error> {
    let mut attempt = attempt.clone();
    attempt.mfa.wrong = 0;
    let mut parameters = Map::new();
    match name {
        ChallengeName::SoftwareTokenMfa => {
            if let Some(name) = &user.mfa.preferences.totp_name {
                parameters.insert("FRIENDLY_DEVICE_NAME".into(), json!(name));
            }
        }
        ChallengeName::SmsMfa | ChallengeName::EmailOtp => {
            let (attribute, digits, template) = if name == ChallengeName::SmsMfa {
                ("phone_number", SMS_DIGITS, sms_template(context.directory))
            } else {
                ("email", EMAIL_DIGITS, email_template(context.directory))
            };
            let destination = Destination::of(user, attribute)
                .ok_or_else(|| Error::internal(&"an MFA code without a destination"))?;
            take_send_slot(service, &context.directory.pool.id, &attempt.key).await?;
            let code = digits_code(service, digits);
            let occasion = Occasion {
                purpose: "Authentication",
                client_id: Some(context.client.client_id.clone()),
                client_metadata: context.client_metadata.cloned(),
            };
            deliver(
                service,
                context.directory,
                user,
                &destination,
                template,
                &code,
                &occasion,
            )
            .await?;
            attempt.mfa.code = Some(SentCode { code });
            parameters.insert(
                "CODE_DELIVERY_DELIVERY_MEDIUM".into(),
                json!(destination.channel.as_str()),
            );
            parameters.insert(
                "CODE_DELIVERY_DESTINATION".into(),
                json!(mask_destination(destination.channel, &destination.address)),
            );
        }
        ChallengeName::SelectMfaType => {
            let names: Vec<&str> = choosable(context.directory, user)
                .into_iter()
                .map(MfaFactor::as_str)
                .collect();
            parameters.insert(
                "MFAS_CAN_CHOOSE".into(),
                json!(serde_json::to_string(&names).unwrap_or_default()),
            );
        }
        ChallengeName::MfaSetup => {
            let offered = factors(&context.directory.pool.settings);
            // E-mail MFA is not set up inside sign-in here (Amplify's `EMAIL` answer to
            // MFA_SETUP), so it is not listed: a client would offer a way that fails. A user
            // with an address is asked EMAIL_OTP directly instead.
            let names: Vec<&str> = MfaFactor::ALL
                .into_iter()
                .filter(|factor| match factor {
                    MfaFactor::Sms => offered.sms,
                    MfaFactor::SoftwareToken => offered.software_token,
                    MfaFactor::Email => false,
                })
                .map(MfaFactor::as_str)
                .collect();
            parameters.insert(
                "MFAS_CAN_SETUP".into(),
                json!(serde_json::to_string(&names).unwrap_or_default()),
            );
        }
        _ => return Err(Error::internal(&"not an MFA challenge")),
    }
    parameters.insert("USER_ID_FOR_SRP".into(), json!(user.username));
    let token = opaque(service, 48);
    session::store(service, context, &token, name, &attempt).await?;
    Ok(Challenge {
        name,
        parameters,
        session: token,
        available: Vec::new(),
    })
}

/// `SmsAuthenticationMessage`, or Cognito's default.
pub(super) fn sms_template(directory: &Directory) -> (Option<String>, String) {
    let body = directory
        .pool
        .settings
        .get("SmsAuthenticationMessage")
        .and_then(Value::as_str)
        .unwrap_or("Your authentication code is {####}. ");
    (None, body.to_owned())
}

/// `EmailMfaConfiguration`'s subject and message, or defaults.
pub(super) fn email_template(directory: &Directory) -> (Option<String>, String) {
    let config = directory
        .pool
        .settings
        .get(crate::pool::mfa_config::MFA_SETTINGS)
        .and_then(|s| s.get("EmailMfaConfiguration"));
    let member = |name: &str| config.and_then(|c| c.get(name)).and_then(Value::as_str);
    (
        Some(member("Subject").unwrap_or("Your sign-in code").to_owned()),
        member("Message")
            .unwrap_or("Your authentication code is {####}. ")
            .to_owned(),
    )
}

pub(super) fn digits_code(service: &Service, digits: usize) -> String {
    let mut code = String::with_capacity(digits);
    while code.len() < digits {
        code.push_str(&tessera_core::OneTimeCode::generate_digits(
            service.random.as_ref(),
        ));
    }
    code.truncate(digits);
    code
}

/// Whether an MFA answer's failure leaves its session usable for another try.
pub fn retry(error: &Error) -> bool {
    matches!(
        error.kind,
        "CodeMismatchException" | "ExpiredCodeException" | "InvalidParameterException"
    )
}

/// Checks the code answering SOFTWARE_TOKEN_MFA, SMS_MFA or EMAIL_OTP for the user of
/// `attempt`: counted first, then compared; a software token's step is then claimed.
pub async fn check_code(
    service: &Service,
    context: &Context<'_>,
    name: ChallengeName,
    attempt: &Attempt,
    user: &User,
    code: &str,
) -> Result<(), Error> {
    let pool_id = &context.directory.pool.id;
    if name == ChallengeName::SoftwareTokenMfa && user.mfa.totp.is_none() {
        return Err(Error::new(
            "SoftwareTokenMFANotFoundException",
            "Software Token MFA does not exist for the user.",
        ));
    }
    // MFA guesses have a counter of their own, which a right password never clears: on the
    // password's counter, signing in again after every four wrong codes would reset it and
    // give whoever knows the password unlimited guesses at the second factor.
    let counter = mfa_counter(&attempt.key);
    let claim = service
        .store
        .claim_sign_in_attempt(pool_id, &counter, service.clock.now())
        .await?;
    if claim == Claim::Locked {
        return Err(refused("Password attempts exceeded"));
    }
    let now = service.clock.now();
    match name {
        ChallengeName::SoftwareTokenMfa => {
            let secret = user.mfa.totp.as_ref().ok_or_else(|| {
                Error::new(
                    "SoftwareTokenMFANotFoundException",
                    "Software Token MFA does not exist for the user.",
                )
            })?;
            let last = service.store.totp_last_step(pool_id, &attempt.key).await?;
            match secret.check(code, now, last) {
                Some(step) => {
                    if !service
                        .store
                        .claim_totp_step(pool_id, &attempt.key, step)
                        .await?
                    {
                        return Err(token_used());
                    }
                }
                None if secret.check(code, now, None).is_some() => return Err(token_used()),
                None => {
                    return Err(Error::new(
                        "CodeMismatchException",
                        "Invalid code received for user",
                    ))
                }
            }
        }
        ChallengeName::SmsMfa | ChallengeName::EmailOtp => {
            let sent = attempt
                .mfa
                .code
                .as_ref()
                .ok_or_else(|| refused("Invalid session for the user."))?;
            if !sent.matches(code) {
                return Err(Error::new(
                    "CodeMismatchException",
                    "Invalid code or auth state for the user.",
                ));
            }
        }
        _ => return Err(refused("Invalid session for the user.")),
    }
    service
        .store
        .clear_sign_in_failures(pool_id, &counter)
        .await?;
    // A phone number that received and returned an SMS code is verified, as in Cognito
    // ("These numbers will receive verified status after MFA succeeds").
    if name == ChallengeName::SmsMfa && !user.verified("phone_number") {
        let number = user.attributes.get("phone_number").cloned();
        revise(
            service,
            context.directory,
            &attempt.key,
            user.clone(),
            |user| {
                if user.attributes.get("phone_number") != number.as_ref()
                    || user.verified("phone_number")
                {
                    return Ok(None);
                }
                user.attributes
                    .insert("phone_number_verified".into(), "true".into());
                Ok(Some(Revision::default()))
            },
        )
        .await?;
    }
    Ok(())
}

/// The lockout counter of a user's MFA codes. It starts with a control character, which no
/// username can contain, so it never names a user (like the decoys' counters).
pub fn mfa_counter(key: &str) -> String {
    format!("\u{2}mfa:{key}")
}

/// A software-token code accepted before (its step is claimed), as Cognito answers it.
pub fn token_used() -> Error {
    Error::new(
        "ExpiredCodeException",
        "Your software token has already been used once.",
    )
}

/// SELECT_MFA_TYPE's `ANSWER`: one of the factors offered.
pub fn choose(directory: &Directory, user: &User, answer: &str) -> Result<MfaFactor, Error> {
    MfaFactor::parse(answer)
        .filter(|factor| choosable(directory, user).contains(factor))
        .ok_or_else(|| {
            // Cognito's wording for an answer it did not offer was not found
            // (docs/design/mfa-facts.md §2); this names the problem plainly.
            Error::invalid_parameter(format!(
                "{} is not an MFA type the user can choose.",
                tessera_core::excerpt(answer)
            ))
        })
}

#[cfg(test)]
mod tests {
    //! The decision of which MFA challenge a sign-in owes (`docs/design/mfa-facts.md` §3.1).

    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::SystemTime;

    use serde_json::json;
    use tessera_core::totp::TotpSecret;
    use tessera_core::{MfaFactor, User, UserPool, UserStatus};

    use super::*;

    fn directory(mode: &str, factors: serde_json::Value) -> Directory {
        let mut settings = serde_json::Map::new();
        settings.insert("MfaConfiguration".into(), json!(mode));
        settings.insert(crate::pool::mfa_config::MFA_SETTINGS.into(), factors);
        Directory::new(Arc::new(UserPool {
            id: "us-east-1_Mfa000000".into(),
            name: "mfa".into(),
            created_at: SystemTime::UNIX_EPOCH,
            last_modified_at: SystemTime::UNIX_EPOCH,
            settings,
        }))
    }

    fn all_factors() -> serde_json::Value {
        json!({
            "SoftwareTokenMfaConfiguration": {"Enabled": true},
            "SmsMfaConfiguration": {},
            "EmailMfaConfiguration": {},
        })
    }

    fn user(attributes: &[(&str, &str)]) -> User {
        User {
            pool_id: "us-east-1_Mfa000000".into(),
            username: "ana".into(),
            sub: "sub-ana".into(),
            status: UserStatus::Confirmed,
            enabled: true,
            attributes: attributes
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            password_hash: None,
            password_set_at: None,
            srp_verifier: None,
            mfa: Default::default(),
            created_at: SystemTime::UNIX_EPOCH,
            last_modified_at: SystemTime::UNIX_EPOCH,
            version: 1,
        }
    }

    fn attempt(user: &User) -> Attempt {
        Attempt::of_user("ana".into(), user)
    }

    #[test]
    fn off_never_asks_and_optional_asks_only_what_the_user_turned_on() {
        let mut ana = user(&[("phone_number", "+15555550100"), ("email", "a@example.com")]);
        let off = directory("OFF", json!({}));
        assert_eq!(owed(&off, &attempt(&ana), &ana), None);
        let optional = directory("OPTIONAL", all_factors());
        assert_eq!(owed(&optional, &attempt(&ana), &ana), None);
        ana.mfa.preferences.set(MfaFactor::Sms, true, false);
        assert_eq!(
            owed(&optional, &attempt(&ana), &ana),
            Some(ChallengeName::SmsMfa)
        );
        ana.mfa.preferences.set(MfaFactor::Email, true, false);
        assert_eq!(
            owed(&optional, &attempt(&ana), &ana),
            Some(ChallengeName::SelectMfaType)
        );
        ana.mfa.preferences.set(MfaFactor::Email, true, true);
        assert_eq!(
            owed(&optional, &attempt(&ana), &ana),
            Some(ChallengeName::EmailOtp)
        );
        // A factor the pool no longer offers is not asked (a software token is: it keeps
        // working after the pool stops offering new ones).
        let sms_only = directory("OPTIONAL", json!({"SmsMfaConfiguration": {}}));
        assert_eq!(
            owed(&sms_only, &attempt(&ana), &ana),
            Some(ChallengeName::SmsMfa)
        );
    }

    #[test]
    fn on_asks_what_the_user_has_or_to_set_up_a_token() {
        let on = directory("ON", all_factors());
        let bare = user(&[]);
        assert_eq!(
            owed(&on, &attempt(&bare), &bare),
            Some(ChallengeName::MfaSetup)
        );
        let mut with_token = user(&[("email", "a@example.com")]);
        with_token.mfa.totp = Some(TotpSecret::from_bytes(vec![1; 32]).unwrap());
        assert_eq!(
            owed(&on, &attempt(&with_token), &with_token),
            Some(ChallengeName::SoftwareTokenMfa)
        );
        let phone = user(&[("phone_number", "+15555550100")]);
        assert_eq!(
            owed(&on, &attempt(&phone), &phone),
            Some(ChallengeName::SmsMfa)
        );
        let email = user(&[("email", "a@example.com")]);
        assert_eq!(
            owed(&on, &attempt(&email), &email),
            Some(ChallengeName::EmailOtp)
        );
    }

    #[test]
    fn a_passed_challenge_or_a_passwordless_first_factor_owes_nothing_and_a_choice_is_asked() {
        let on = directory("ON", all_factors());
        let ana = user(&[("email", "a@example.com")]);
        let mut passed = attempt(&ana);
        passed.answered.push(ChallengeName::EmailOtp);
        assert_eq!(owed(&on, &passed, &ana), None);
        let mut passwordless = attempt(&ana);
        passwordless.passwordless = true;
        assert_eq!(owed(&on, &passwordless, &ana), None);
        // A choice made in SELECT_MFA_TYPE is what is asked next.
        let mut chose = attempt(&ana);
        chose.mfa.choice = Some(MfaFactor::SoftwareToken);
        assert_eq!(
            owed(&on, &chose, &ana),
            Some(ChallengeName::SoftwareTokenMfa)
        );
    }
}
