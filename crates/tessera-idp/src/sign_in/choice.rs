//! USER_AUTH, choice-based sign-in (issue 13): the client names the user and, optionally,
//! the first factor it prefers (`PREFERRED_CHALLENGE`); the factors the pool allows
//! (`Policies.SignInPolicy.AllowedFirstAuthFactors`) and the user can use are offered in
//! SELECT_CHALLENGE's `AvailableChallenges` when there is no usable preference. PASSWORD and
//! PASSWORD_SRP run the password flows of the machine; EMAIL_OTP and SMS_OTP send an
//! eight-digit code that is the first factor itself.
//!
//! Decisions where Cognito's behaviour is not documented (docs/design/mfa-facts.md §5.5, §7):
//! one-time codes are offered as first factors only to confirmed users with a verified
//! address, and not where the pool requires MFA; a sign-in whose first factor was such a
//! code is not asked MFA again. An unknown user, where users are hidden, is offered what
//! the pool allows and sent nothing: the code it is asked for can never match.

use serde_json::{json, Map, Value};
use tessera_core::message::{mask_destination, Channel as Medium};
use tessera_core::{User, UserStatus};

use super::challenge::{Challenge, ChallengeName};
use super::machine::{self, decoy, Context, FirstFactor, Found, Outcome};
use super::mfa::{Mode, SentCode};
use super::session::{self, Attempt};
use super::tokens::opaque;
use crate::directory::{deliver, user_not_found, Destination, Directory, Occasion};
use crate::{Error, Service};

/// Digits of a passwordless code (Cognito's are eight, amplify-js#14428).
const OTP_DIGITS: usize = 8;

/// A first factor of USER_AUTH, as `PREFERRED_CHALLENGE` and SELECT_CHALLENGE's `ANSWER`
/// name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Factor {
    Password,
    PasswordSrp,
    EmailOtp,
    SmsOtp,
    WebAuthn,
}

impl Factor {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "PASSWORD" => Factor::Password,
            "PASSWORD_SRP" => Factor::PasswordSrp,
            "EMAIL_OTP" => Factor::EmailOtp,
            "SMS_OTP" => Factor::SmsOtp,
            "WEB_AUTHN" => Factor::WebAuthn,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Factor::Password => "PASSWORD",
            Factor::PasswordSrp => "PASSWORD_SRP",
            Factor::EmailOtp => "EMAIL_OTP",
            Factor::SmsOtp => "SMS_OTP",
            Factor::WebAuthn => "WEB_AUTHN",
        }
    }
}

/// The pool's `AllowedFirstAuthFactors` (`["PASSWORD"]` when it set none).
pub fn allowed_first_factors(directory: &Directory) -> Vec<&str> {
    let listed: Vec<&str> = directory
        .pool
        .settings
        .get("Policies")
        .and_then(|p| p.get("SignInPolicy"))
        .and_then(|p| p.get("AllowedFirstAuthFactors"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if listed.is_empty() {
        vec!["PASSWORD"]
    } else {
        listed
    }
}

/// Whether the pool lists `factor` among its `AllowedFirstAuthFactors`.
pub fn first_factor_allowed(directory: &Directory, factor: &str) -> bool {
    allowed_first_factors(directory).contains(&factor)
}

/// The factors offered to `user` (or, for an unknown user, to anyone), in Cognito's order.
/// `passkeys`: whether the user has a passkey (ignored for an unknown user).
fn available(context: &Context<'_>, user: Option<&User>, passkeys: bool) -> Vec<Factor> {
    let allowed = allowed_first_factors(context.directory);
    let allows = |name: &str| allowed.contains(&name);
    let passwordless = Mode::of(context.directory) != Mode::On
        && user.is_none_or(|u| u.status == UserStatus::Confirmed);
    // The hosted page offers every factor the pool allows to every name typed, so that
    // nothing it shows tells who exists or who can use which: a user who cannot is sent
    // nothing, like an unknown name. The API offers a user what they can use, as Cognito
    // does (clients show the choice to the user), and an unknown name what the pool allows.
    let page = context.channel == super::machine::Channel::HostedPage;
    let has = |attribute: &str| page || user.is_none_or(|u| u.verified(attribute));
    let passwordless = passwordless || (page && Mode::of(context.directory) != Mode::On);
    let mut factors = Vec::new();
    if allows("PASSWORD") && user.is_none_or(|u| u.password_hash.is_some()) {
        factors.push(Factor::PasswordSrp);
        factors.push(Factor::Password);
    }
    if passwordless && allows("EMAIL_OTP") && has("email") {
        factors.push(Factor::EmailOtp);
    }
    if passwordless && allows("SMS_OTP") && has("phone_number") {
        factors.push(Factor::SmsOtp);
    }
    // Where the pool requires MFA, a passkey signs in alone only when the pool's
    // FactorConfiguration counts one verified by its user as both factors (the assertion
    // must then carry user verification).
    let passkey_alone =
        Mode::of(context.directory) != Mode::On || super::passkey::multi_factor(context.directory);
    if allows("WEB_AUTHN")
        && passkey_alone
        && (page
            || (user.is_none_or(|u| u.status == UserStatus::Confirmed)
                && (user.is_none() || passkeys)))
    {
        factors.push(Factor::WebAuthn);
    }
    factors
}

/// What USER_AUTH's AuthParameters (or SELECT_CHALLENGE's answer) carry for the factor.
pub struct Credentials<'a> {
    pub password: Option<&'a str>,
    pub srp_a: Option<&'a str>,
}

/// InitiateAuth USER_AUTH.
pub async fn begin(
    service: &Service,
    context: &Context<'_>,
    username: &str,
    preferred: Option<&str>,
    credentials: Credentials<'_>,
) -> Result<Outcome, Error> {
    let found = match context.directory.find(service, username).await? {
        Some((key, user)) => Found::User {
            key,
            user: Box::new(user),
        },
        None if context.hides_users() => Found::Unknown,
        None => return Err(user_not_found()),
    };
    let user = match &found {
        Found::User { user, .. } => Some(user.as_ref()),
        Found::Unknown => None,
    };
    let offered = available(context, user, has_passkeys(service, context, &found).await?);
    if let Some(factor) = preferred.and_then(Factor::parse) {
        if offered.contains(&factor) {
            return start(service, context, found, username, factor, credentials).await;
        }
    }
    // No usable preference: the user chooses.
    let attempt = attempt_of(service, context, &found, username);
    let token = opaque(service, 48);
    session::store(
        service,
        context,
        &token,
        ChallengeName::SelectChallenge,
        &attempt,
    )
    .await?;
    Ok(Outcome::Challenge(Challenge {
        name: ChallengeName::SelectChallenge,
        parameters: Map::new(),
        session: token,
        available: offered.iter().map(|f| f.as_str()).collect(),
    }))
}

/// Whether a found user has a passkey; no read where the pool offers none.
async fn has_passkeys(
    service: &Service,
    context: &Context<'_>,
    found: &Found,
) -> Result<bool, Error> {
    if !first_factor_allowed(context.directory, "WEB_AUTHN") {
        return Ok(false);
    }
    Ok(match found {
        Found::User { key, .. } => !service
            .store
            .passkeys(&context.directory.pool.id, key)
            .await?
            .is_empty(),
        Found::Unknown => false,
    })
}

fn attempt_of(service: &Service, context: &Context<'_>, found: &Found, typed: &str) -> Attempt {
    let mut attempt = match found {
        Found::User { key, user } => Attempt::of_user(key.clone(), user),
        Found::Unknown => Attempt::of_decoy(decoy(service, context.directory, typed)),
    };
    attempt.typed = Some(typed.to_owned());
    attempt
}

/// The answer to SELECT_CHALLENGE: the factor chosen, with its credential.
pub async fn select(
    service: &Service,
    context: &Context<'_>,
    taken: session::Taken,
    answer: &str,
    credentials: Credentials<'_>,
) -> Result<Outcome, Error> {
    let attempt = &taken.attempt;
    let typed = attempt
        .typed
        .clone()
        .unwrap_or_else(|| attempt.user_id.clone());
    let found = if attempt.decoy {
        Found::Unknown
    } else {
        match service
            .store
            .user_current(&context.directory.pool.id, &attempt.key)
            .await?
            .filter(|user| user.sub == attempt.sub)
        {
            Some(user) => Found::User {
                key: attempt.key.clone(),
                user: Box::new(user),
            },
            None => return Err(super::refused("Invalid session for the user.")),
        }
    };
    let user = match &found {
        Found::User { user, .. } => Some(user.as_ref()),
        Found::Unknown => None,
    };
    let passkeys = has_passkeys(service, context, &found).await?;
    let Some(factor) =
        Factor::parse(answer).filter(|f| available(context, user, passkeys).contains(f))
    else {
        // Cognito's wording for an answer it did not offer was not found.
        taken.restore(service).await?;
        return Err(Error::invalid_parameter(format!(
            "{} is not an available challenge.",
            tessera_core::excerpt(answer)
        )));
    };
    start(service, context, found, &typed, factor, credentials).await
}

/// Runs the chosen first factor.
async fn start(
    service: &Service,
    context: &Context<'_>,
    found: Found,
    typed: &str,
    factor: Factor,
    credentials: Credentials<'_>,
) -> Result<Outcome, Error> {
    let missing =
        |name: &str| Error::invalid_parameter(format!("Missing required parameter {name}"));
    match factor {
        Factor::Password => {
            let password = credentials.password.ok_or_else(|| missing("PASSWORD"))?;
            machine::begin(
                service,
                context,
                FirstFactor::Password {
                    username: typed,
                    password,
                },
            )
            .await
        }
        Factor::PasswordSrp => {
            let srp_a = credentials.srp_a.ok_or_else(|| missing("SRP_A"))?;
            machine::begin(
                service,
                context,
                FirstFactor::Srp {
                    username: typed,
                    srp_a,
                },
            )
            .await
        }
        Factor::WebAuthn => {
            machine::pre_authentication(service, context, &found, typed).await?;
            let attempt = attempt_of(service, context, &found, typed);
            let challenge = super::passkey::ask(service, context, attempt).await?;
            Ok(Outcome::Challenge(challenge))
        }
        Factor::EmailOtp | Factor::SmsOtp => {
            machine::pre_authentication(service, context, &found, typed).await?;
            let attempt = attempt_of(service, context, &found, typed);
            let user = match &found {
                Found::User { user, .. } => Some(user.as_ref()),
                Found::Unknown => None,
            };
            send_otp(service, context, attempt, user, typed, factor).await
        }
    }
}

/// What a name that receives no code is shown as its destination: the name itself masked
/// when it is an address of the medium (as a real user's would be), otherwise a masked
/// address made up from the name's decoy key, stable per name, so that neither a fixed
/// placeholder nor the typed name tells it apart from a real user's.
fn unknown_destination(
    service: &Service,
    context: &Context<'_>,
    typed: &str,
    medium: Medium,
) -> String {
    let looks_like = match medium {
        Medium::Email => typed.contains('@'),
        Medium::Sms => typed.starts_with('+') && typed[1..].chars().all(|c| c.is_ascii_digit()),
    };
    if looks_like {
        return mask_destination(medium, typed);
    }
    let salt = decoy(service, context.directory, typed).salt;
    let letter = |byte: u8| char::from(b'a' + byte % 26);
    match medium {
        Medium::Email => mask_destination(
            medium,
            &format!("{}x@{}x.com", letter(salt[0]), letter(salt[1])),
        ),
        Medium::Sms => {
            let digits: String = salt[2..6]
                .iter()
                .map(|b| char::from(b'0' + b % 10))
                .collect();
            mask_destination(medium, &format!("+1555555{digits}"))
        }
    }
}

/// Sends the one-time code of EMAIL_OTP or SMS_OTP and asks for it. A decoy is sent nothing,
/// and shown the typed name masked.
async fn send_otp(
    service: &Service,
    context: &Context<'_>,
    mut attempt: Attempt,
    user: Option<&User>,
    typed: &str,
    factor: Factor,
) -> Result<Outcome, Error> {
    let (name, attribute, medium) = match factor {
        Factor::SmsOtp => (ChallengeName::SmsOtp, "phone_number", Medium::Sms),
        Factor::EmailOtp => (ChallengeName::EmailOtp, "email", Medium::Email),
        _ => return Err(Error::internal(&"not a one-time code")),
    };
    // A user who cannot receive this code (no verified address, or not confirmed) is sent
    // nothing, like an unknown name: only the hosted page offers them the factor.
    // Every ask takes a send slot, the decoy's included, so that the cap reads the same for
    // anyone.
    super::mfa::take_send_slot(service, &context.directory.pool.id, &attempt.key).await?;
    let user =
        user.filter(|u| u.enabled && u.status == UserStatus::Confirmed && u.verified(attribute));
    let destination = match user {
        Some(user) => {
            let destination = Destination::of(user, attribute)
                .ok_or_else(|| Error::internal(&"a one-time code without a destination"))?;
            let code = super::mfa::digits_code(service, OTP_DIGITS);
            let template = if factor == Factor::SmsOtp {
                super::mfa::sms_template(context.directory)
            } else {
                super::mfa::email_template(context.directory)
            };
            let occasion = Occasion {
                purpose: "Authentication",
                client_id: Some(context.client.client_id.clone()),
                client_metadata: context.validation_data.cloned(),
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
            mask_destination(medium, &destination.address)
        }
        None => unknown_destination(service, context, typed, medium),
    };
    let token = opaque(service, 48);
    session::store(service, context, &token, name, &attempt).await?;
    let mut parameters = Map::new();
    parameters.insert(
        "CODE_DELIVERY_DELIVERY_MEDIUM".into(),
        json!(medium.as_str()),
    );
    parameters.insert("CODE_DELIVERY_DESTINATION".into(), json!(destination));
    Ok(Outcome::Challenge(Challenge {
        name,
        parameters,
        session: token,
        available: vec![factor.as_str()],
    }))
}
