//! A user's MFA settings (issue 13): the software token (AssociateSoftwareToken,
//! VerifySoftwareToken, AdminDeleteSoftwareToken), the factors turned on and the preferred
//! one ((Admin)SetUserMFAPreference, and the legacy (Admin)SetUserSettings), and what
//! GetUser, AdminGetUser and (Admin)GetUserAuthFactors report of them.
//!
//! Every change goes through [`revise`]: the checks run on the user as stored when the write
//! lands, so a preference cannot turn a software token back on that an administrator
//! deleted meanwhile. Software-token secrets are sealed by the store.

use serde_json::{json, Map, Value};
use tessera_core::totp::TotpSecret;
use tessera_core::{AppClient, CodePurpose, MfaFactor, User};
use tessera_store::CodeAction;

use crate::directory::code::{limit_exceeded, WRONG_CODE_LIMIT};
use crate::directory::{revise, Directory, Revision};
use crate::input::Input;
use crate::pool::mfa_config::factors;
use crate::sign_in::access_token::{authorize, Authorized};
use crate::sign_in::challenge::ChallengeName;
use crate::sign_in::machine::{Channel, Context};
use crate::sign_in::session::{self, Attempt, Taken};
use crate::sign_in::{mfa, opaque};
use crate::{Error, Service};

/// The members GetUser and AdminGetUser add for MFA: the factors turned on, the preferred
/// one, and the legacy `MFAOptions` for SMS. Absent when the user has none.
pub fn user_members(user: &User) -> Map<String, Value> {
    let mut members = Map::new();
    let preferences = &user.mfa.preferences;
    let enabled: Vec<&str> = preferences
        .enabled()
        .into_iter()
        .map(MfaFactor::as_str)
        .collect();
    if preferences.sms.enabled {
        members.insert(
            "MFAOptions".into(),
            json!([{ "DeliveryMedium": "SMS", "AttributeName": "phone_number" }]),
        );
    }
    if let Some(preferred) = preferences.preferred() {
        members.insert("PreferredMfaSetting".into(), json!(preferred.as_str()));
    }
    if !enabled.is_empty() {
        members.insert("UserMFASettingList".into(), json!(enabled));
    }
    members
}

fn software_token_not_enabled() -> Error {
    Error::new(
        "SoftwareTokenMFANotFoundException",
        "Software Token MFA has not been enabled by the userPool",
    )
}

/// A sign-in paused at MFA_SETUP, resumed by AssociateSoftwareToken or VerifySoftwareToken
/// (which carry its session but no client).
struct Setup {
    taken: Taken,
    client: AppClient,
    directory: Directory,
}

impl Setup {
    async fn take(service: &Service, token: &str) -> Result<Self, Error> {
        let (taken, client_id) =
            session::take_unbound(service, token, ChallengeName::MfaSetup).await?;
        let client =
            service.store.app_client(&client_id).await?.ok_or_else(|| {
                Error::new("NotAuthorizedException", "Invalid session for the user.")
            })?;
        let directory = Directory::load(service, &client.user_pool_id).await?;
        Ok(Self {
            taken,
            client,
            directory,
        })
    }

    fn context(&self) -> Context<'_> {
        Context {
            client: &self.client,
            directory: &self.directory,
            channel: Channel::Api,
            validation_data: None,
            client_metadata: None,
            device_key: None,
            browser_device: None,
        }
    }

    /// The session's user as stored now.
    async fn user(&self, service: &Service) -> Result<User, Error> {
        let attempt = &self.taken.attempt;
        service
            .store
            .user(&self.directory.pool.id, &attempt.key)
            .await?
            .filter(|user| !attempt.decoy && user.sub == attempt.sub && user.enabled)
            .ok_or_else(|| Error::new("NotAuthorizedException", "Invalid session for the user."))
    }

    /// Stores the sign-in under a new session of MFA_SETUP and returns its token.
    async fn next(&self, service: &Service, attempt: &Attempt) -> Result<String, Error> {
        let token = opaque(service, 48);
        session::store(
            service,
            &self.context(),
            &token,
            ChallengeName::MfaSetup,
            attempt,
        )
        .await?;
        Ok(token)
    }
}

/// Whose token: the signed-in user of an access token, or the user of an MFA_SETUP session.
enum Caller {
    Token(Box<Authorized>),
    Setup(Box<Setup>),
}

async fn caller(service: &Service, input: &Input) -> Result<Caller, Error> {
    match (input.str("AccessToken"), input.str("Session")) {
        (Some(_), _) => Ok(Caller::Token(Box::new(authorize(service, input).await?))),
        (None, Some(token)) => Ok(Caller::Setup(Box::new(Setup::take(service, token).await?))),
        // Cognito's wording for a request with neither was not found; the model says one of
        // the two authorises the request.
        (None, None) => Err(Error::invalid_parameter(
            "Either AccessToken or Session must be provided.",
        )),
    }
}

pub async fn associate_software_token(service: &Service, input: Input) -> Result<Value, Error> {
    let secret = TotpSecret::generate(service.random.as_ref());
    let code = secret.to_base32();
    match caller(service, &input).await? {
        Caller::Token(authorized) => {
            let Authorized {
                directory,
                key,
                user,
                ..
            } = *authorized;
            if !factors(&directory.pool.settings).software_token {
                return Err(software_token_not_enabled());
            }
            set_pending(service, &directory, &key, user, &secret).await?;
            Ok(json!({ "SecretCode": code }))
        }
        Caller::Setup(setup) => {
            if !factors(&setup.directory.pool.settings).software_token {
                return Err(software_token_not_enabled());
            }
            let user = setup.user(service).await?;
            let key = setup.taken.attempt.key.clone();
            set_pending(service, &setup.directory, &key, user, &secret).await?;
            let session = setup.next(service, &setup.taken.attempt).await?;
            Ok(json!({ "SecretCode": code, "Session": session }))
        }
    }
}

/// Hands the user a new secret to verify; the verified one (if any) keeps working until then.
async fn set_pending(
    service: &Service,
    directory: &Directory,
    key: &str,
    user: User,
    secret: &TotpSecret,
) -> Result<(), Error> {
    revise(service, directory, key, user, |user| {
        user.mfa.totp_pending = Some(secret.clone());
        Ok(Some(Revision::default()))
    })
    .await?;
    Ok(())
}

pub async fn verify_software_token(service: &Service, input: Input) -> Result<Value, Error> {
    let code = input.required_str("UserCode")?;
    let name = input
        .str("FriendlyDeviceName")
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    match caller(service, &input).await? {
        Caller::Token(authorized) => {
            let Authorized {
                directory,
                key,
                user,
                ..
            } = *authorized;
            verify(service, &directory, &key, user, code, name, false).await?;
            Ok(json!({ "Status": "SUCCESS" }))
        }
        Caller::Setup(setup) => {
            let user = setup.user(service).await?;
            let key = setup.taken.attempt.key.clone();
            match verify(service, &setup.directory, &key, user, code, name, true).await {
                Ok(()) => {}
                Err(error) => {
                    // A mistyped code leaves the session for another try.
                    if error.kind == "EnableSoftwareTokenMFAException" {
                        let Setup { taken, .. } = *setup;
                        taken.restore(service).await?;
                    }
                    return Err(error);
                }
            }
            let mut attempt = setup.taken.attempt.clone();
            attempt.mfa.set_up = true;
            let session = setup.next(service, &attempt).await?;
            Ok(json!({ "Status": "SUCCESS", "Session": session }))
        }
    }
}

/// Checks a code of the user's pending secret (counted first, and each step accepted once)
/// and makes that secret the user's software token. In MFA_SETUP the token also becomes the
/// user's MFA factor, preferred unless another is.
async fn verify(
    service: &Service,
    directory: &Directory,
    key: &str,
    user: User,
    code: &str,
    name: Option<String>,
    set_up: bool,
) -> Result<(), Error> {
    let pool_id = &directory.pool.id;
    // Cognito's wording for a verification without an associated token was not found.
    let pending = user.mfa.totp_pending.clone().ok_or_else(|| {
        Error::new(
            "SoftwareTokenMFANotFoundException",
            "Software Token MFA has not been associated with the user.",
        )
    })?;
    let now = service.clock.now();
    if !service
        .store
        .take_code_attempt(
            pool_id,
            key,
            CodePurpose::SoftwareToken,
            CodeAction::Guess,
            WRONG_CODE_LIMIT,
            now,
        )
        .await?
    {
        return Err(limit_exceeded());
    }
    let last = service.store.totp_last_step(pool_id, key).await?;
    match pending.check(code, now, last) {
        Some(step) => {
            if !service.store.claim_totp_step(pool_id, key, step).await? {
                return Err(mfa::token_used());
            }
        }
        None if pending.check(code, now, None).is_some() => return Err(mfa::token_used()),
        None => {
            return Err(Error::new(
                "EnableSoftwareTokenMFAException",
                "Code mismatch and fail enable Software Token MFA",
            ))
        }
    }
    service
        .store
        .clear_code_attempts(pool_id, key, CodePurpose::SoftwareToken, CodeAction::Guess)
        .await?;
    revise(service, directory, key, user, |user| {
        // Another AssociateSoftwareToken since the check handed out another secret.
        if user.mfa.totp_pending.as_ref() != Some(&pending) {
            return Err(Error::new(
                "EnableSoftwareTokenMFAException",
                "Code mismatch and fail enable Software Token MFA",
            ));
        }
        user.mfa.totp = user.mfa.totp_pending.take();
        user.mfa.preferences.totp_name = name.clone();
        if set_up {
            let preferred = user.mfa.preferences.preferred().is_none();
            user.mfa
                .preferences
                .set(MfaFactor::SoftwareToken, true, preferred);
        }
        Ok(Some(Revision::default()))
    })
    .await?;
    Ok(())
}

/// The three `*MfaSettings` members of (Admin)SetUserMFAPreference, applied to `user` as
/// stored: a factor turned on needs what it sends its code to.
fn apply_preferences(input: &Input, user: &mut User) -> Result<(), Error> {
    for (member, factor) in [
        ("SMSMfaSettings", MfaFactor::Sms),
        ("SoftwareTokenMfaSettings", MfaFactor::SoftwareToken),
        ("EmailMfaSettings", MfaFactor::Email),
    ] {
        let Some(settings) = input.get(member).filter(|v| v.is_object()) else {
            continue;
        };
        let current = user.mfa.preferences.get(factor);
        let enabled = settings
            .get("Enabled")
            .and_then(Value::as_bool)
            .unwrap_or(current.enabled);
        let preferred = settings
            .get("PreferredMfa")
            .and_then(Value::as_bool)
            .unwrap_or(current.preferred);
        if enabled {
            let has = match factor {
                MfaFactor::SoftwareToken => user.mfa.totp.is_some(),
                MfaFactor::Sms => user.attributes.contains_key("phone_number"),
                MfaFactor::Email => user.attributes.contains_key("email"),
            };
            if !has {
                return Err(Error::invalid_parameter(format!(
                    "User does not have delivery config set to turn on {}",
                    factor.as_str()
                )));
            }
        }
        user.mfa.preferences.set(factor, enabled, preferred);
    }
    Ok(())
}

pub async fn set_user_mfa_preference(service: &Service, input: Input) -> Result<Value, Error> {
    let Authorized {
        directory,
        key,
        user,
        ..
    } = authorize(service, &input).await?;
    revise(service, &directory, &key, user, |user| {
        apply_preferences(&input, user)?;
        Ok(Some(Revision::default()))
    })
    .await?;
    Ok(json!({}))
}

pub async fn admin_set_user_mfa_preference(
    service: &Service,
    input: Input,
) -> Result<Value, Error> {
    let directory = Directory::load(service, input.user_pool_id()?).await?;
    let (key, user) = directory
        .get(service, input.required_str("Username")?)
        .await?;
    revise(service, &directory, &key, user, |user| {
        apply_preferences(&input, user)?;
        Ok(Some(Revision::default()))
    })
    .await?;
    Ok(json!({}))
}

/// The legacy `MFAOptions`: SMS to `phone_number` on, or (an empty list) off.
fn apply_mfa_options(input: &Input, user: &mut User) -> Result<(), Error> {
    let options = input
        .get("MFAOptions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut sms = false;
    for option in &options {
        let medium = option.get("DeliveryMedium").and_then(Value::as_str);
        let attribute = option.get("AttributeName").and_then(Value::as_str);
        // The model: "The only valid value is phone_number"; Cognito's refusal of another
        // was not found.
        if medium != Some("SMS") || attribute != Some("phone_number") {
            return Err(Error::invalid_parameter(
                "Only SMS to phone_number can be set in MFAOptions.",
            ));
        }
        sms = true;
    }
    if sms && !user.attributes.contains_key("phone_number") {
        return Err(Error::invalid_parameter(
            "User does not have delivery config set to turn on SMS_MFA",
        ));
    }
    let preferred = user.mfa.preferences.sms.preferred;
    user.mfa.preferences.set(MfaFactor::Sms, sms, preferred);
    Ok(())
}

pub async fn set_user_settings(service: &Service, input: Input) -> Result<Value, Error> {
    let Authorized {
        directory,
        key,
        user,
        ..
    } = authorize(service, &input).await?;
    revise(service, &directory, &key, user, |user| {
        apply_mfa_options(&input, user)?;
        Ok(Some(Revision::default()))
    })
    .await?;
    Ok(json!({}))
}

pub async fn admin_set_user_settings(service: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(service, input.user_pool_id()?).await?;
    let (key, user) = directory
        .get(service, input.required_str("Username")?)
        .await?;
    revise(service, &directory, &key, user, |user| {
        apply_mfa_options(&input, user)?;
        Ok(Some(Revision::default()))
    })
    .await?;
    Ok(json!({}))
}

pub async fn admin_delete_software_token(service: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(service, input.user_pool_id()?).await?;
    let (key, user) = directory
        .get(service, input.required_str("Username")?)
        .await?;
    revise(service, &directory, &key, user, |user| {
        if user.mfa.totp.is_none() && user.mfa.totp_pending.is_none() {
            return Ok(None);
        }
        user.mfa.totp = None;
        user.mfa.totp_pending = None;
        user.mfa.preferences.totp_name = None;
        user.mfa
            .preferences
            .set(MfaFactor::SoftwareToken, false, false);
        Ok(Some(Revision::default()))
    })
    .await?;
    Ok(json!({}))
}

/// `ConfiguredUserAuthFactors`: how the user can sign in with USER_AUTH (a password, codes
/// to their e-mail address or phone number) and the software token as an MFA factor.
fn auth_factors(directory: &Directory, user: &User) -> Vec<&'static str> {
    let mut configured = Vec::new();
    if user.password_hash.is_some() {
        configured.push("PASSWORD");
    }
    let offered = factors(&directory.pool.settings);
    let first = crate::sign_in::choice::allowed_first_factors(directory);
    if user.attributes.contains_key("email")
        && (first.contains(&"EMAIL_OTP") || (offered.email && user.mfa.preferences.email.enabled))
    {
        configured.push("EMAIL_OTP");
    }
    if user.attributes.contains_key("phone_number")
        && (first.contains(&"SMS_OTP") || (offered.sms && user.mfa.preferences.sms.enabled))
    {
        configured.push("SMS_OTP");
    }
    if user.mfa.totp.is_some() && user.mfa.preferences.software_token.enabled {
        configured.push("SOFTWARE_TOKEN");
    }
    configured
}

fn auth_factors_answer(directory: &Directory, user: &User) -> Value {
    let mut answer = user_members(user);
    answer.remove("MFAOptions");
    answer.insert("Username".into(), json!(user.username));
    answer.insert(
        "ConfiguredUserAuthFactors".into(),
        json!(auth_factors(directory, user)),
    );
    Value::Object(answer)
}

pub async fn get_user_auth_factors(service: &Service, input: Input) -> Result<Value, Error> {
    let Authorized {
        directory, user, ..
    } = authorize(service, &input).await?;
    Ok(auth_factors_answer(&directory, &user))
}

pub async fn admin_get_user_auth_factors(service: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(service, input.user_pool_id()?).await?;
    let (_, user) = directory
        .get(service, input.required_str("Username")?)
        .await?;
    Ok(auth_factors_answer(&directory, &user))
}
