//! Sign-in: InitiateAuth and AdminInitiateAuth, RespondToAuthChallenge and
//! AdminRespondToAuthChallenge, the refresh flows and revocation. This module reads the wire
//! members and renders the answers; [`machine`] is the sign-in itself, one state machine
//! every flow and the hosted pages run through.

pub mod access_token;
pub mod challenge;
pub mod choice;
pub mod custom;
pub mod customization;
pub mod device;
pub mod machine;
pub mod mfa;
pub mod migration;
pub mod passkey;
pub mod refresh;
pub mod session;
pub mod srp;
pub mod tokens;

use serde_json::{json, Value};
use tessera_core::AppClient;

use crate::directory::{check_secret_hash, Directory};
use crate::input::Input;
use crate::{Error, Service};
use challenge::{ChallengeName, NewPassword};
use customization::TokenEvent;
use machine::{Answer, Channel, Context, FirstFactor, Outcome, Responder};

pub use refresh::{
    admin_user_global_sign_out, get_tokens_from_refresh_token, global_sign_out, refresh_tokens,
    revoke_session_of, revoke_token, secret_matches, Credential, INVALID_SCOPE,
};
pub use tokens::{
    issue_tokens_for, opaque, read_attributes, sha256_hex, validity, Issue, Issued, NewRefresh,
};

fn refused(message: impl Into<String>) -> Error {
    Error::new("NotAuthorizedException", message)
}

fn flows(client: &AppClient) -> Vec<&str> {
    client
        .settings
        .get("ExplicitAuthFlows")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Whether the client allows a flow, in either the `ALLOW_` or the legacy spelling. With
/// legacy settings, SRP and refresh are always allowed, as in Cognito.
fn flow_enabled(client: &AppClient, modern: &str, legacy: Option<&str>) -> bool {
    let flows = flows(client);
    let is_legacy = !flows.is_empty() && flows.iter().all(|f| !f.starts_with("ALLOW_"));
    if is_legacy {
        return match legacy {
            Some(name) => flows.contains(&name),
            None => true,
        };
    }
    flows.contains(&modern)
}

/// The app client of a sign-in request; for the admin operations it must belong to the
/// named pool.
async fn client_of(
    state: &Service,
    input: &Input,
    admin: bool,
) -> Result<(AppClient, Directory), Error> {
    let client_id = input.required_str("ClientId")?;
    let client = state
        .store
        .app_client(client_id)
        .await?
        .ok_or_else(|| Error::client_not_found(client_id))?;
    if admin {
        let pool_id = input.user_pool_id()?;
        if client.user_pool_id != pool_id {
            crate::pool::user_pool::load(state, pool_id).await?;
            return Err(Error::client_not_found(client_id));
        }
    }
    let directory = Directory::load(state, &client.user_pool_id).await?;
    Ok((client, directory))
}

fn parameter<'a>(input: &'a Input, member: &str, name: &str) -> Option<&'a str> {
    input
        .get(member)
        .and_then(|p| p.get(name))
        .and_then(Value::as_str)
}

fn required_parameter<'a>(input: &'a Input, member: &str, name: &str) -> Result<&'a str, Error> {
    parameter(input, member, name)
        .ok_or_else(|| Error::invalid_parameter(format!("Missing required parameter {name}")))
}

pub async fn initiate_auth(service: &Service, input: Input) -> Result<Value, Error> {
    initiate(service, input, Channel::Api).await
}

pub async fn admin_initiate_auth(service: &Service, input: Input) -> Result<Value, Error> {
    initiate(service, input, Channel::Admin).await
}

async fn initiate(service: &Service, input: Input, channel: Channel) -> Result<Value, Error> {
    let admin = channel == Channel::Admin;
    let (client, directory) = client_of(service, &input, admin).await?;
    // InitiateAuth's ClientMetadata reaches the triggers before the first factor only, as
    // their `validationData`.
    let context = Context {
        client: &client,
        directory: &directory,
        channel,
        validation_data: input.get("ClientMetadata").and_then(Value::as_object),
        client_metadata: None,
        device_key: parameter(&input, "AuthParameters", "DEVICE_KEY"),
        browser_device: None,
    };
    let flow = input.required_str("AuthFlow")?;
    let first = match flow {
        "USER_PASSWORD_AUTH" if !admin => {
            if !flow_enabled(
                &client,
                "ALLOW_USER_PASSWORD_AUTH",
                Some("USER_PASSWORD_AUTH"),
            ) {
                return Err(Error::invalid_parameter(
                    "USER_PASSWORD_AUTH flow not enabled for this client",
                ));
            }
            password_factor(&input, &client)?
        }
        "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" if admin => {
            if !flow_enabled(
                &client,
                "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                Some("ADMIN_NO_SRP_AUTH"),
            ) {
                return Err(Error::invalid_parameter(
                    "Auth flow not enabled for this client",
                ));
            }
            password_factor(&input, &client)?
        }
        "REFRESH_TOKEN_AUTH" | "REFRESH_TOKEN" => {
            if !flow_enabled(&client, "ALLOW_REFRESH_TOKEN_AUTH", None) {
                return Err(Error::invalid_parameter(
                    "Auth flow not enabled for this client",
                ));
            }
            let token = required_parameter(&input, "AuthParameters", "REFRESH_TOKEN")?;
            return refresh::refresh(
                service,
                &client,
                &directory,
                token,
                Credential::SecretHash(parameter(&input, "AuthParameters", "SECRET_HASH")),
                input.request_id(),
                // Cognito passes InitiateAuth's ClientMetadata to no token trigger.
                None,
                parameter(&input, "AuthParameters", "DEVICE_KEY"),
            )
            .await;
        }
        "USER_SRP_AUTH" => {
            if !flow_enabled(&client, "ALLOW_USER_SRP_AUTH", None) {
                return Err(Error::invalid_parameter(
                    "Auth flow not enabled for this client",
                ));
            }
            let username = required_parameter(&input, "AuthParameters", "USERNAME")?;
            let srp_a = required_parameter(&input, "AuthParameters", "SRP_A")?;
            check_secret_hash(
                &client,
                Some(username),
                parameter(&input, "AuthParameters", "SECRET_HASH"),
            )?;
            FirstFactor::Srp { username, srp_a }
        }
        "CUSTOM_AUTH" => {
            if !flow_enabled(&client, "ALLOW_CUSTOM_AUTH", Some("CUSTOM_AUTH_FLOW_ONLY")) {
                return Err(Error::invalid_parameter(
                    "Auth flow not enabled for this client",
                ));
            }
            let username = required_parameter(&input, "AuthParameters", "USERNAME")?;
            check_secret_hash(
                &client,
                Some(username),
                parameter(&input, "AuthParameters", "SECRET_HASH"),
            )?;
            let srp_a = match parameter(&input, "AuthParameters", "CHALLENGE_NAME") {
                Some("SRP_A") => Some(required_parameter(&input, "AuthParameters", "SRP_A")?),
                _ => None,
            };
            let outcome = custom::begin(service, &context, username, srp_a).await?;
            return render(service, &context, outcome, input.request_id()).await;
        }
        "USER_AUTH" => {
            // Choice-based sign-in needs its own flag; it covers the password and SRP
            // factors without USER_PASSWORD_AUTH or USER_SRP_AUTH (the model says so).
            if !flows(&client).contains(&"ALLOW_USER_AUTH") {
                return Err(Error::invalid_parameter(
                    "Auth flow not enabled for this client",
                ));
            }
            let username = required_parameter(&input, "AuthParameters", "USERNAME")?;
            check_secret_hash(
                &client,
                Some(username),
                parameter(&input, "AuthParameters", "SECRET_HASH"),
            )?;
            let credentials = choice::Credentials {
                password: parameter(&input, "AuthParameters", "PASSWORD"),
                srp_a: parameter(&input, "AuthParameters", "SRP_A"),
            };
            let preferred = parameter(&input, "AuthParameters", "PREFERRED_CHALLENGE");
            let outcome =
                choice::begin(service, &context, username, preferred, credentials).await?;
            return render(service, &context, outcome, input.request_id()).await;
        }
        "USER_PASSWORD_AUTH" | "ADMIN_USER_PASSWORD_AUTH" | "ADMIN_NO_SRP_AUTH" => {
            return Err(Error::invalid_parameter(
                "Initiate Auth method not supported.",
            ))
        }
        other => {
            return Err(Error::new(
                "UnsupportedOperationException",
                format!("The {other} flow is not supported by this version of tessera."),
            ))
        }
    };
    let outcome = machine::begin(service, &context, first).await?;
    render(service, &context, outcome, input.request_id()).await
}

/// USERNAME and PASSWORD of a password flow, with the client's SECRET_HASH checked.
fn password_factor<'a>(input: &'a Input, client: &AppClient) -> Result<FirstFactor<'a>, Error> {
    let username = required_parameter(input, "AuthParameters", "USERNAME")?;
    let password = required_parameter(input, "AuthParameters", "PASSWORD")?;
    check_secret_hash(
        client,
        Some(username),
        parameter(input, "AuthParameters", "SECRET_HASH"),
    )?;
    Ok(FirstFactor::Password { username, password })
}

/// The API's answer to a sign-in step: the challenge, or tokens (the "issue tokens" step).
async fn render(
    service: &Service,
    context: &Context<'_>,
    outcome: Outcome,
    event_id: &str,
) -> Result<Value, Error> {
    match outcome {
        Outcome::Challenge(challenge) => {
            let mut answer = json!({
                "ChallengeName": challenge.name.as_str(),
                "ChallengeParameters": challenge.parameters,
            });
            // PASSWORD_VERIFIER's session travels as SECRET_BLOCK; Cognito sends no Session
            // member with it.
            if challenge.name != ChallengeName::PasswordVerifier {
                answer["Session"] = json!(challenge.session);
            }
            if !challenge.available.is_empty() {
                answer["AvailableChallenges"] = json!(challenge.available);
            }
            Ok(answer)
        }
        Outcome::SignedIn(signed_in) => {
            // A sign-in that proved no device is issued one where the pool tracks devices.
            let new_device = match (&signed_in.device, device::tracking(context.directory)) {
                (None, Some(_)) => {
                    Some(device::issue(service, context.directory, &signed_in.key).await?)
                }
                _ => None,
            };
            let device_key = signed_in
                .device
                .as_deref()
                .or(new_device.as_ref().map(|d| d.device_key.as_str()));
            let issue = Issue {
                auth_time: signed_in.auth_time,
                origin_jti: service.random_uuid(),
                refresh: NewRefresh::Fresh,
                event_id,
                scope: None,
                granted: None,
                nonce: None,
                event: TokenEvent {
                    source: signed_in.token_source,
                    client_metadata: context.client_metadata,
                },
                device_key,
            };
            let issued = issue_tokens_for(
                service,
                context.client,
                context.directory,
                &signed_in.key,
                &signed_in.user,
                issue,
            )
            .await?
            .ok_or_else(|| Error::internal(&"a fresh refresh token was refused"))?;
            let mut answer = tokens::api_result(issued);
            if let Some(device) = new_device {
                answer["AuthenticationResult"]["NewDeviceMetadata"] = json!({
                    "DeviceKey": device.device_key,
                    "DeviceGroupKey": device.group_key,
                });
            }
            Ok(answer)
        }
    }
}

pub async fn respond_to_auth_challenge(service: &Service, input: Input) -> Result<Value, Error> {
    respond(service, input, Channel::Api).await
}

pub async fn admin_respond_to_auth_challenge(
    service: &Service,
    input: Input,
) -> Result<Value, Error> {
    respond(service, input, Channel::Admin).await
}

async fn respond(service: &Service, input: Input, channel: Channel) -> Result<Value, Error> {
    let (client, directory) = client_of(service, &input, channel == Channel::Admin).await?;
    let context = Context {
        client: &client,
        directory: &directory,
        channel,
        validation_data: None,
        client_metadata: input.get("ClientMetadata").and_then(Value::as_object),
        device_key: parameter(&input, "ChallengeResponses", "DEVICE_KEY"),
        browser_device: None,
    };
    let name = input.required_str("ChallengeName")?;
    let responder = Responder {
        username: parameter(&input, "ChallengeResponses", "USERNAME"),
        secret_hash: parameter(&input, "ChallengeResponses", "SECRET_HASH"),
    };
    let invalid_session = || refused("Invalid session for the user.");
    let (token, answer) = match ChallengeName::parse(name) {
        Some(ChallengeName::PasswordVerifier) => {
            let secret_block =
                required_parameter(&input, "ChallengeResponses", "PASSWORD_CLAIM_SECRET_BLOCK")?;
            let signature =
                required_parameter(&input, "ChallengeResponses", "PASSWORD_CLAIM_SIGNATURE")?;
            let timestamp = required_parameter(&input, "ChallengeResponses", "TIMESTAMP")?;
            required_parameter(&input, "ChallengeResponses", "USERNAME")?;
            let signed_at = tessera_core::srp::parse_timestamp(timestamp).map_err(|_| {
                Error::invalid_parameter(
                    "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.",
                )
            })?;
            let proof = srp::Proof {
                signature,
                timestamp,
                signed_at,
            };
            (secret_block, Answer::PasswordVerifier(proof))
        }
        Some(ChallengeName::NewPasswordRequired) => {
            let token = input.str("Session").ok_or_else(invalid_session)?;
            let password = required_parameter(&input, "ChallengeResponses", "NEW_PASSWORD")?;
            (
                token,
                Answer::NewPassword(NewPassword {
                    password,
                    attributes: user_attributes(&input),
                }),
            )
        }
        Some(ChallengeName::CustomChallenge) => {
            let token = input.str("Session").ok_or_else(invalid_session)?;
            required_parameter(&input, "ChallengeResponses", "USERNAME")?;
            let answer = required_parameter(&input, "ChallengeResponses", "ANSWER")?;
            (token, Answer::Custom(answer))
        }
        Some(
            name @ (ChallengeName::SoftwareTokenMfa
            | ChallengeName::SmsMfa
            | ChallengeName::EmailOtp
            | ChallengeName::SmsOtp),
        ) => {
            let token = input.str("Session").ok_or_else(invalid_session)?;
            // Clients send more than the code the challenge names (amazon-cognito-identity-js
            // puts the code under SMS_MFA_CODE as well): the key of the challenge is read.
            let member = match name {
                ChallengeName::SoftwareTokenMfa => "SOFTWARE_TOKEN_MFA_CODE",
                ChallengeName::SmsMfa => "SMS_MFA_CODE",
                ChallengeName::SmsOtp => "SMS_OTP_CODE",
                _ => "EMAIL_OTP_CODE",
            };
            required_parameter(&input, "ChallengeResponses", "USERNAME")?;
            let code = required_parameter(&input, "ChallengeResponses", member)?;
            (token, Answer::MfaCode(name, code))
        }
        Some(ChallengeName::SelectChallenge) => {
            let token = input.str("Session").ok_or_else(invalid_session)?;
            required_parameter(&input, "ChallengeResponses", "USERNAME")?;
            let answer = required_parameter(&input, "ChallengeResponses", "ANSWER")?;
            (
                token,
                Answer::SelectChallenge {
                    answer,
                    password: parameter(&input, "ChallengeResponses", "PASSWORD"),
                    srp_a: parameter(&input, "ChallengeResponses", "SRP_A"),
                },
            )
        }
        Some(ChallengeName::WebAuthn) => {
            let token = input.str("Session").ok_or_else(invalid_session)?;
            required_parameter(&input, "ChallengeResponses", "USERNAME")?;
            let credential = required_parameter(&input, "ChallengeResponses", "CREDENTIAL")?;
            (token, Answer::WebAuthn(credential))
        }
        Some(ChallengeName::SelectMfaType) => {
            let token = input.str("Session").ok_or_else(invalid_session)?;
            required_parameter(&input, "ChallengeResponses", "USERNAME")?;
            let answer = required_parameter(&input, "ChallengeResponses", "ANSWER")?;
            (token, Answer::SelectMfa(answer))
        }
        Some(ChallengeName::DeviceSrpAuth) => {
            let token = input.str("Session").ok_or_else(invalid_session)?;
            required_parameter(&input, "ChallengeResponses", "USERNAME")?;
            let device_key = required_parameter(&input, "ChallengeResponses", "DEVICE_KEY")?;
            let srp_a = required_parameter(&input, "ChallengeResponses", "SRP_A")?;
            (token, Answer::DeviceSrp { device_key, srp_a })
        }
        Some(ChallengeName::DevicePasswordVerifier) => {
            let secret_block =
                required_parameter(&input, "ChallengeResponses", "PASSWORD_CLAIM_SECRET_BLOCK")?;
            let signature =
                required_parameter(&input, "ChallengeResponses", "PASSWORD_CLAIM_SIGNATURE")?;
            let timestamp = required_parameter(&input, "ChallengeResponses", "TIMESTAMP")?;
            required_parameter(&input, "ChallengeResponses", "USERNAME")?;
            let device_key = required_parameter(&input, "ChallengeResponses", "DEVICE_KEY")?;
            let signed_at = tessera_core::srp::parse_timestamp(timestamp).map_err(|_| {
                Error::invalid_parameter(
                    "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.",
                )
            })?;
            let proof = srp::Proof {
                signature,
                timestamp,
                signed_at,
            };
            (secret_block, Answer::DeviceProof { device_key, proof })
        }
        Some(ChallengeName::MfaSetup) => {
            let token = input
                .str("Session")
                .ok_or_else(|| Error::invalid_parameter("Missing required parameter Session"))?;
            required_parameter(&input, "ChallengeResponses", "USERNAME")?;
            (token, Answer::MfaSetup)
        }
        // A challenge tessera never asks cannot have a session.
        None => return Err(invalid_session()),
    };
    let outcome = machine::answer(service, &context, token, &responder, answer).await?;
    render(service, &context, outcome, input.request_id()).await
}

/// The `userAttributes.*` members of the challenge responses.
fn user_attributes(input: &Input) -> Vec<(String, String)> {
    input
        .get("ChallengeResponses")
        .and_then(Value::as_object)
        .map(|responses| {
            responses
                .iter()
                .filter_map(|(name, value)| {
                    Some((
                        name.strip_prefix("userAttributes.")?.to_owned(),
                        value.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The outcome of a sign-in at the hosted pages.
pub enum HostedSignIn {
    /// Signed in: the pages start a browser session and hand the client a code.
    SignedIn { key: String },
    /// A temporary password: the pages ask for a new one (and for the required attributes
    /// the user lacks), answering the challenge session.
    NewPasswordRequired {
        session: String,
        username: String,
        required: Vec<String>,
    },
    /// The right password of a user who has not confirmed the account yet.
    Unconfirmed { username: String },
    /// An MFA challenge (issue 13): the pages ask for the code, the choice of factor, or the
    /// set-up of a software token, answering the challenge session.
    Mfa {
        session: String,
        username: String,
        challenge: ChallengeName,
        parameters: serde_json::Map<String, Value>,
    },
}

/// Remembers the browser of a hosted sign-in ("Remember this device"); the value of its
/// cookie, or `None` where the pool does not track devices.
pub async fn hosted_remember_browser(
    service: &Service,
    directory: &Directory,
    key: &str,
) -> Result<Option<String>, Error> {
    device::remember_browser(service, directory, key).await
}

/// An answer typed into a hosted MFA page.
pub enum HostedMfaAnswer<'a> {
    /// The code of SOFTWARE_TOKEN_MFA, SMS_MFA or EMAIL_OTP.
    Code(&'a str),
    /// SELECT_MFA_TYPE's choice.
    Select(&'a str),
    /// MFA_SETUP, with the session VerifySoftwareToken returned.
    SetUp,
    /// WEB_AUTHN: the browser's assertion (JSON).
    Passkey(&'a str),
}

/// The answer to an MFA challenge from the hosted pages, through the same machine as the
/// API on the page's channel.
pub async fn hosted_mfa(
    service: &Service,
    client: &AppClient,
    directory: &Directory,
    session: &str,
    username: &str,
    challenge: ChallengeName,
    answer: HostedMfaAnswer<'_>,
) -> Result<HostedSignIn, Error> {
    let context = hosted_context(client, directory);
    let responder = Responder {
        username: Some(username),
        secret_hash: None,
    };
    let answer = match answer {
        HostedMfaAnswer::Code(code) => Answer::MfaCode(challenge, code),
        HostedMfaAnswer::Select(choice) => Answer::SelectMfa(choice),
        HostedMfaAnswer::SetUp => Answer::MfaSetup,
        HostedMfaAnswer::Passkey(credential) => Answer::WebAuthn(credential),
    };
    let outcome = machine::answer(service, &context, session, &responder, answer).await?;
    Ok(hosted_outcome(outcome))
}

/// A username and password typed into the hosted sign-in page, through the same machine as
/// the API on the page's channel: an unknown user, a wrong password and a locked account all
/// read the same, and an unconfirmed account is revealed only to someone who knows its
/// password.
pub async fn hosted_sign_in(
    service: &Service,
    client: &AppClient,
    directory: &Directory,
    username: &str,
    password: &str,
    browser_device: Option<&str>,
) -> Result<HostedSignIn, Error> {
    let context = Context {
        browser_device,
        ..hosted_context(client, directory)
    };
    match machine::begin(
        service,
        &context,
        FirstFactor::Password { username, password },
    )
    .await
    {
        Ok(outcome) => Ok(hosted_outcome(outcome)),
        // The name as typed: in a pool whose usernames are e-mail addresses the internal
        // username is the sub, which means nothing to the person at the page.
        Err(error) if error.kind == "UserNotConfirmedException" => Ok(HostedSignIn::Unconfirmed {
            username: username.to_owned(),
        }),
        Err(error) => Err(error),
    }
}

/// A sign-in started at the hosted sign-in page without a password: USER_AUTH's WEB_AUTHN,
/// EMAIL_OTP or SMS_OTP challenge (`factor`) on the page's channel, which offers each for any
/// name, so that the page never tells who has a passkey or an address.
pub async fn hosted_first_factor(
    service: &Service,
    client: &AppClient,
    directory: &Directory,
    username: &str,
    factor: &str,
) -> Result<HostedSignIn, Error> {
    let context = hosted_context(client, directory);
    let credentials = choice::Credentials {
        password: None,
        srp_a: None,
    };
    let outcome = choice::begin(service, &context, username, Some(factor), credentials).await?;
    // The first-factor challenges name no user; the page answers as the name typed.
    Ok(match hosted_outcome(outcome) {
        HostedSignIn::Mfa {
            session,
            username: named,
            challenge,
            parameters,
        } => HostedSignIn::Mfa {
            session,
            username: if named.is_empty() {
                username.to_owned()
            } else {
                named
            },
            challenge,
            parameters,
        },
        other => other,
    })
}

/// The new password (and required attributes) typed into the hosted new-password page, as
/// the answer to the session of [`HostedSignIn::NewPasswordRequired`].
pub async fn hosted_new_password(
    service: &Service,
    client: &AppClient,
    directory: &Directory,
    session: &str,
    username: &str,
    password: &str,
    attributes: Vec<(String, String)>,
) -> Result<HostedSignIn, Error> {
    let context = hosted_context(client, directory);
    let responder = Responder {
        username: Some(username),
        secret_hash: None,
    };
    let answer = Answer::NewPassword(NewPassword {
        password,
        attributes,
    });
    let outcome = machine::answer(service, &context, session, &responder, answer).await?;
    Ok(hosted_outcome(outcome))
}

/// The context of a sign-in at the hosted pages: the page's channel, no metadata, no device
/// key (a browser proves its device with its cookie, `browser_device`).
fn hosted_context<'a>(client: &'a AppClient, directory: &'a Directory) -> Context<'a> {
    Context {
        client,
        directory,
        channel: Channel::HostedPage,
        validation_data: None,
        client_metadata: None,
        device_key: None,
        browser_device: None,
    }
}

fn hosted_outcome(outcome: Outcome) -> HostedSignIn {
    match outcome {
        Outcome::SignedIn(signed_in) => HostedSignIn::SignedIn { key: signed_in.key },
        Outcome::Challenge(challenge) if challenge.name != ChallengeName::NewPasswordRequired => {
            let username = challenge
                .parameters
                .get("USER_ID_FOR_SRP")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            HostedSignIn::Mfa {
                session: challenge.session,
                username,
                challenge: challenge.name,
                parameters: challenge.parameters,
            }
        }
        Outcome::Challenge(challenge) => {
            let required: Vec<String> = challenge
                .parameters
                .get("requiredAttributes")
                .and_then(Value::as_str)
                .and_then(|text| serde_json::from_str::<Vec<String>>(text).ok())
                .unwrap_or_default()
                .into_iter()
                .map(|name| name.trim_start_matches("userAttributes.").to_owned())
                .collect();
            let username = challenge
                .parameters
                .get("USER_ID_FOR_SRP")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            HostedSignIn::NewPasswordRequired {
                session: challenge.session,
                username,
                required,
            }
        }
    }
}
