//! The challenges of sign-in: their names, which of them a sign-in still owes after its first
//! factor ([`FURTHER`], in the order they are asked), how each is asked, and how each answer
//! is checked. A new kind of challenge (MFA, a remembered device, a custom challenge, a
//! passkey) is a new name here with its `due`, `ask` and answer; the flows do not change.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tessera_core::{AttributeSchema, PasswordPolicy, User, UserStatus};

use super::machine::Context;
use super::refused;
use super::session::{self, Attempt};
use super::tokens::opaque;
use crate::directory::{check_policy, revise, write_attributes, Moment, Revision, Writer};
use crate::{Error, Service};

/// A challenge's `ChallengeName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChallengeName {
    /// USER_SRP_AUTH's second step: the client's proof of the password.
    #[serde(rename = "PASSWORD_VERIFIER")]
    PasswordVerifier,
    /// A user with a temporary password chooses a new one.
    #[serde(rename = "NEW_PASSWORD_REQUIRED")]
    NewPasswordRequired,
    /// CUSTOM_AUTH: a challenge the pool's CreateAuthChallenge function made up.
    #[serde(rename = "CUSTOM_CHALLENGE")]
    CustomChallenge,
    /// MFA with a code from the user's authenticator app.
    #[serde(rename = "SOFTWARE_TOKEN_MFA")]
    SoftwareTokenMfa,
    /// MFA with a code sent by SMS.
    #[serde(rename = "SMS_MFA")]
    SmsMfa,
    /// MFA with a code sent by e-mail.
    #[serde(rename = "EMAIL_OTP")]
    EmailOtp,
    /// The user chooses one of several MFA factors.
    #[serde(rename = "SELECT_MFA_TYPE")]
    SelectMfaType,
    /// MFA is required and the user has no factor: a software token is set up.
    #[serde(rename = "MFA_SETUP")]
    MfaSetup,
    /// A remembered device starts its SRP exchange.
    #[serde(rename = "DEVICE_SRP_AUTH")]
    DeviceSrpAuth,
    /// The device's proof of its password (device SRP's second step).
    #[serde(rename = "DEVICE_PASSWORD_VERIFIER")]
    DevicePasswordVerifier,
    /// USER_AUTH: the user chooses a first factor from `AvailableChallenges`.
    #[serde(rename = "SELECT_CHALLENGE")]
    SelectChallenge,
    /// USER_AUTH: a code sent by SMS as the first factor.
    #[serde(rename = "SMS_OTP")]
    SmsOtp,
    /// USER_AUTH: a passkey's assertion as the first factor.
    #[serde(rename = "WEB_AUTHN")]
    WebAuthn,
}

/// The challenges that may follow the first factor, in the order they are asked: a new
/// password, a remembered device (before MFA when it stands in for MFA, else after it; see
/// [`super::device`]), then MFA (at most one of its challenges is due at a time; see
/// [`super::mfa`]).
pub const FURTHER: &[ChallengeName] = &[
    ChallengeName::NewPasswordRequired,
    ChallengeName::DeviceSrpAuth,
    ChallengeName::MfaSetup,
    ChallengeName::SelectMfaType,
    ChallengeName::SoftwareTokenMfa,
    ChallengeName::SmsMfa,
    ChallengeName::EmailOtp,
];

/// A challenge as the client receives it.
#[derive(Debug)]
pub struct Challenge {
    pub name: ChallengeName,
    pub parameters: Map<String, Value>,
    /// The token that answers it: the `Session` (for PASSWORD_VERIFIER, the `SECRET_BLOCK`).
    pub session: String,
    /// USER_AUTH: the `AvailableChallenges` the user may choose from.
    pub available: Vec<&'static str>,
}

impl ChallengeName {
    /// Cognito's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeName::PasswordVerifier => "PASSWORD_VERIFIER",
            ChallengeName::NewPasswordRequired => "NEW_PASSWORD_REQUIRED",
            ChallengeName::CustomChallenge => "CUSTOM_CHALLENGE",
            ChallengeName::SoftwareTokenMfa => "SOFTWARE_TOKEN_MFA",
            ChallengeName::SmsMfa => "SMS_MFA",
            ChallengeName::EmailOtp => "EMAIL_OTP",
            ChallengeName::SelectMfaType => "SELECT_MFA_TYPE",
            ChallengeName::MfaSetup => "MFA_SETUP",
            ChallengeName::DeviceSrpAuth => "DEVICE_SRP_AUTH",
            ChallengeName::DevicePasswordVerifier => "DEVICE_PASSWORD_VERIFIER",
            ChallengeName::SelectChallenge => "SELECT_CHALLENGE",
            ChallengeName::SmsOtp => "SMS_OTP",
            ChallengeName::WebAuthn => "WEB_AUTHN",
        }
    }

    /// Parses Cognito's spelling; `None` for challenges tessera does not ask.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "PASSWORD_VERIFIER" => Some(ChallengeName::PasswordVerifier),
            "NEW_PASSWORD_REQUIRED" => Some(ChallengeName::NewPasswordRequired),
            "CUSTOM_CHALLENGE" => Some(ChallengeName::CustomChallenge),
            "SOFTWARE_TOKEN_MFA" => Some(ChallengeName::SoftwareTokenMfa),
            "SMS_MFA" => Some(ChallengeName::SmsMfa),
            "EMAIL_OTP" => Some(ChallengeName::EmailOtp),
            "SELECT_MFA_TYPE" => Some(ChallengeName::SelectMfaType),
            "MFA_SETUP" => Some(ChallengeName::MfaSetup),
            "DEVICE_SRP_AUTH" => Some(ChallengeName::DeviceSrpAuth),
            "DEVICE_PASSWORD_VERIFIER" => Some(ChallengeName::DevicePasswordVerifier),
            "SELECT_CHALLENGE" => Some(ChallengeName::SelectChallenge),
            "SMS_OTP" => Some(ChallengeName::SmsOtp),
            "WEB_AUTHN" => Some(ChallengeName::WebAuthn),
            _ => None,
        }
    }

    /// Whether a sign-in that has proved its first factor still owes this challenge.
    pub fn due(self, context: &Context<'_>, attempt: &Attempt, user: &User) -> bool {
        if attempt.answered.contains(&self) {
            return false;
        }
        match self {
            ChallengeName::PasswordVerifier
            | ChallengeName::CustomChallenge
            | ChallengeName::DevicePasswordVerifier
            | ChallengeName::SelectChallenge
            | ChallengeName::SmsOtp
            | ChallengeName::WebAuthn => false,
            ChallengeName::NewPasswordRequired => user.status == UserStatus::ForceChangePassword,
            ChallengeName::DeviceSrpAuth => super::device::due(context.directory, attempt, user),
            ChallengeName::SoftwareTokenMfa
            | ChallengeName::SmsMfa
            | ChallengeName::EmailOtp
            | ChallengeName::SelectMfaType
            | ChallengeName::MfaSetup => {
                super::mfa::owed(context.directory, attempt, user) == Some(self)
            }
        }
    }

    /// Asks this challenge: stores the sign-in as its session and returns what the client
    /// is sent.
    pub async fn ask(
        self,
        service: &Service,
        context: &Context<'_>,
        attempt: &Attempt,
        user: &User,
    ) -> Result<Challenge, Error> {
        match self {
            ChallengeName::NewPasswordRequired => {
                ask_new_password(service, context, attempt, user).await
            }
            ChallengeName::SoftwareTokenMfa
            | ChallengeName::SmsMfa
            | ChallengeName::EmailOtp
            | ChallengeName::SelectMfaType
            | ChallengeName::MfaSetup => {
                super::mfa::ask(service, context, self, attempt, user).await
            }
            ChallengeName::DeviceSrpAuth => {
                super::device::ask(service, context, attempt, user).await
            }
            // PASSWORD_VERIFIER is the first factor of USER_SRP_AUTH, asked by `srp::ask`;
            // CUSTOM_CHALLENGE is asked by `custom::create`, when DefineAuthChallenge says so;
            // DEVICE_PASSWORD_VERIFIER by `device::exchange`; USER_AUTH's by `choice`.
            ChallengeName::PasswordVerifier
            | ChallengeName::CustomChallenge
            | ChallengeName::DevicePasswordVerifier
            | ChallengeName::SelectChallenge
            | ChallengeName::SmsOtp
            | ChallengeName::WebAuthn => Err(Error::internal(&"not a further challenge")),
        }
    }
}

async fn ask_new_password(
    service: &Service,
    context: &Context<'_>,
    attempt: &Attempt,
    user: &User,
) -> Result<Challenge, Error> {
    let directory = context.directory;
    let now = service.clock.now();
    let days = PasswordPolicy::from_pool_settings(&directory.pool.settings)
        .temporary_password_validity_days;
    if let Some(set_at) = user.password_set_at {
        if now > set_at + Duration::from_secs(u64::from(days) * 86_400) {
            return Err(refused(
                "Temporary password has expired and must be reset by an administrator.",
            ));
        }
    }
    let token = opaque(service, 48);
    session::store(
        service,
        context,
        &token,
        ChallengeName::NewPasswordRequired,
        attempt,
    )
    .await?;
    let attributes: Map<String, Value> = user
        .attributes
        .iter()
        .filter(|(name, _)| !name.ends_with("_verified"))
        .map(|(name, value)| (name.clone(), json!(value)))
        .collect();
    let schema = AttributeSchema::from_pool_settings(&directory.pool.settings);
    let present: Vec<&str> = user.attributes.keys().map(String::as_str).collect();
    let required: Vec<String> = schema
        .missing_required(&present)
        .into_iter()
        .map(|name| format!("userAttributes.{name}"))
        .collect();
    let mut parameters = Map::new();
    parameters.insert("USER_ID_FOR_SRP".into(), json!(user.username));
    parameters.insert(
        "requiredAttributes".into(),
        json!(serde_json::to_string(&required).unwrap_or_else(|_| "[]".into())),
    );
    parameters.insert(
        "userAttributes".into(),
        json!(Value::Object(attributes).to_string()),
    );
    Ok(Challenge {
        name: ChallengeName::NewPasswordRequired,
        parameters,
        session: token,
        available: Vec::new(),
    })
}

/// The answer to NEW_PASSWORD_REQUIRED: the new password and any `userAttributes.*`.
pub struct NewPassword<'a> {
    pub password: &'a str,
    pub attributes: Vec<(String, String)>,
}

/// Whether an error is a mistake the user can correct in the same session.
pub fn correctable(error: &Error) -> bool {
    matches!(
        error.kind,
        "InvalidPasswordException" | "InvalidParameterException"
    )
}

/// Checks and applies a new password (and the attributes given with it) for the user of
/// `attempt`. The attributes follow the rules of every user write: the client's
/// WriteAttributes, no verified flags from the user, the schema, and a changed e-mail address
/// or phone number is unverified.
pub async fn answer_new_password(
    service: &Service,
    context: &Context<'_>,
    key: &str,
    user: User,
    answer: &NewPassword<'_>,
) -> Result<User, Error> {
    let directory = context.directory;
    // An invited user may complete a missing e-mail address but not replace the one the
    // administrator gave: Cognito refuses it with this answer (observed in 2022, even for
    // the same value).
    if user.attributes.contains_key("email") && answer.attributes.iter().any(|(n, _)| n == "email")
    {
        return Err(refused("Cannot modify an already provided email"));
    }
    let write = write_attributes(
        &directory.pool,
        Writer::User(Some(context.client)),
        Moment::Update,
        &user.attributes,
        &answer.attributes,
    )?;
    let schema = AttributeSchema::from_pool_settings(&directory.pool.settings);
    let present: Vec<&str> = write.attributes.keys().map(String::as_str).collect();
    let missing = schema.missing_required(&present);
    if !missing.is_empty() {
        return Err(Error::invalid_parameter(
            tessera_core::AttributeError::required(missing).to_string(),
        ));
    }
    check_policy(
        directory,
        answer.password,
        "Password does not conform to policy",
    )?;
    let password = crate::directory::NewPassword::of(service, &user, answer.password).await?;
    let checked = user.password_hash.clone();
    let requested = &answer.attributes;
    // Redone on a fresher read when another write landed meanwhile: the attribute rules run
    // again on the user as it now is, and a user disabled, or given another password, since
    // the session began no longer owes this challenge.
    let user = revise(service, directory, key, user, |user| {
        if !user.enabled {
            return Err(Error::user_disabled());
        }
        if user.status != UserStatus::ForceChangePassword || user.password_hash != checked {
            return Err(refused("Invalid session for the user."));
        }
        let write = write_attributes(
            &directory.pool,
            Writer::User(Some(context.client)),
            Moment::Update,
            &user.attributes,
            requested,
        )?;
        user.attributes = write.attributes;
        password.apply(user);
        user.status = UserStatus::Confirmed;
        Ok(Some(Revision {
            aliases: true,
            ..Revision::default()
        }))
    })
    .await?;
    Ok(user)
}
