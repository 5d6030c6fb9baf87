//! The hosted MFA pages (issue 13): after the right password, the page asks for the code of
//! the challenge the sign-in machine chose (an authenticator app's, or one sent by SMS or
//! e-mail), offers the choice of factor (SELECT_MFA_TYPE), or sets up an authenticator app
//! (MFA_SETUP) with a QR code the server draws, so the page runs no script.
//!
//! The page carries the challenge session in a hidden field, as the API's client carries its
//! `Session`; every answer goes through the same machine as RespondToAuthChallenge, and the
//! set-up through AssociateSoftwareToken and VerifySoftwareToken, as a client would call them.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tessera_core::totp::TotpSecret;
use tessera_idp::directory::Directory;
use tessera_idp::sign_in::challenge::ChallengeName;
use tessera_idp::sign_in::{hosted_mfa, HostedMfaAnswer, HostedSignIn};

use super::{login_page, or_error, PageRequest, Submitted};
use crate::oauth::authorize::Authorization;
use crate::oauth::page::Chrome;
use crate::ApiError;

/// A choice of SELECT_MFA_TYPE.
struct Choice {
    value: String,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "mfa.html")]
struct MfaPage {
    page: Chrome,
    action: String,
    handle: String,
    /// `code`, `select` or `setup`.
    kind: &'static str,
    prompt: String,
    code_length: usize,
    choices: Vec<Choice>,
    qr_svg: String,
    secret: String,
    /// The pool tracks devices: "Remember this device" is offered.
    remember: bool,
}

#[derive(Template)]
#[template(path = "passkey.html")]
pub(super) struct PasskeyPage {
    pub(super) page: Chrome,
    pub(super) action: String,
    pub(super) handle: String,
    /// The ceremony's options (JSON), read by the page's script.
    pub(super) options: String,
    /// `get` (sign-in) or `create` (registration).
    pub(super) ceremony: &'static str,
    pub(super) prompt: &'static str,
    pub(super) button: &'static str,
    pub(super) skip_link: Option<String>,
    pub(super) skip_text: &'static str,
    pub(super) script: &'static str,
}

/// What the page's hidden field carries between the page and its answer.
#[derive(Serialize, Deserialize)]
struct Handle {
    session: String,
    username: String,
    challenge: ChallengeName,
    #[serde(default)]
    parameters: Map<String, Value>,
    /// MFA_SETUP: the secret being set up, shown again after a mistyped code.
    #[serde(default)]
    secret: Option<String>,
}

impl Handle {
    fn encode(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(text: &str) -> Option<Self> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

fn label(factor: &str) -> Option<&'static str> {
    Some(match factor {
        "SOFTWARE_TOKEN_MFA" => "Use my authenticator app",
        "SMS_MFA" => "Send a code by text message",
        "EMAIL_OTP" => "Send a code by e-mail",
        _ => return None,
    })
}

fn parameter_of(parameters: &Map<String, Value>, name: &str) -> String {
    parameters
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn listed(parameters: &Map<String, Value>, name: &str) -> Vec<String> {
    parameters
        .get(name)
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// Shows the page of an MFA challenge the machine asked. MFA_SETUP first associates a new
/// software token with the session, as a client would.
pub(super) async fn challenge_page(
    request: &PageRequest,
    auth: &Authorization,
    directory: &Directory,
    session: String,
    username: String,
    challenge: ChallengeName,
    parameters: Map<String, Value>,
) -> Result<Response, ApiError> {
    // The pages ask only these; anything else (USER_AUTH's choice, which a button can lead
    // to when the pool's settings withhold the factor) sends the user back to the password.
    if !matches!(
        challenge,
        ChallengeName::SoftwareTokenMfa
            | ChallengeName::SmsMfa
            | ChallengeName::EmailOtp
            | ChallengeName::SmsOtp
            | ChallengeName::SelectMfaType
            | ChallengeName::MfaSetup
            | ChallengeName::WebAuthn
    ) {
        return super::cannot_be_used_here(request, auth, "").await;
    }
    let mut handle = Handle {
        session,
        username,
        challenge,
        parameters,
        secret: None,
    };
    if challenge == ChallengeName::WebAuthn {
        let options = parameter_of(&handle.parameters, "CREDENTIAL_REQUEST_OPTIONS");
        let page = PasskeyPage {
            page: request
                .chrome(Some(&auth.client.client_id), "Sign in with a passkey")
                .await,
            action: request.link(auth, "mfa", &[]),
            handle: handle.encode(),
            options,
            ceremony: "get",
            prompt: "Use the passkey of this account on this device or on a security key.",
            button: "Use passkey",
            skip_link: Some(request.link(auth, "login", &[])),
            skip_text: "Sign in with your password instead",
            script: super::passkey::SCRIPT,
        };
        return Ok(super::passkey::with_script(request.show(
            &page,
            StatusCode::OK,
            auth,
        )));
    }
    if challenge == ChallengeName::MfaSetup {
        if !listed(&handle.parameters, "MFAS_CAN_SETUP")
            .iter()
            .any(|f| f == "SOFTWARE_TOKEN_MFA")
        {
            return login_page(
                request,
                auth,
                StatusCode::OK,
                Some("Your account needs multi-factor authentication, which cannot be set up on this page. Ask your administrator.".into()),
                "",
            )
            .await;
        }
        let associated = request
            .state
            .call(
                "AssociateSoftwareToken",
                json!({ "Session": handle.session }),
                &request.request_id,
            )
            .await?;
        let text = |name: &str| {
            associated
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        handle.session = text("Session");
        handle.secret = Some(text("SecretCode"));
    }
    show(request, auth, directory, &handle, None).await
}

async fn show(
    request: &PageRequest,
    auth: &Authorization,
    directory: &Directory,
    handle: &Handle,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let mut chrome = request
        .chrome(Some(&auth.client.client_id), "Confirm it is you")
        .await;
    chrome.error = error;
    let parameter = |name: &str| {
        handle
            .parameters
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let mut page = MfaPage {
        page: chrome,
        action: request.link(auth, "mfa", &[]),
        handle: handle.encode(),
        kind: "code",
        prompt: String::new(),
        code_length: 6,
        choices: Vec::new(),
        qr_svg: String::new(),
        secret: String::new(),
        // Offered only where a remembered device stands in for MFA.
        remember: tessera_idp::sign_in::device::tracking(directory)
            .is_some_and(|t| t.challenge_required_on_new_device),
    };
    match handle.challenge {
        ChallengeName::SoftwareTokenMfa => {
            page.prompt = "Enter the code your authenticator app shows.".into();
        }
        ChallengeName::SmsMfa => {
            page.prompt = format!(
                "We sent a code by text message to {}.",
                parameter("CODE_DELIVERY_DESTINATION")
            );
        }
        ChallengeName::SmsOtp => {
            page.code_length = 8;
            page.prompt = format!(
                "We sent a code by text message to {}.",
                parameter("CODE_DELIVERY_DESTINATION")
            );
        }
        ChallengeName::EmailOtp => {
            page.code_length = 8;
            page.prompt = format!(
                "We sent a code by e-mail to {}.",
                parameter("CODE_DELIVERY_DESTINATION")
            );
        }
        ChallengeName::SelectMfaType => {
            page.kind = "select";
            page.choices = listed(&handle.parameters, "MFAS_CAN_CHOOSE")
                .into_iter()
                .filter_map(|value| {
                    Some(Choice {
                        label: label(&value)?,
                        value,
                    })
                })
                .collect();
        }
        ChallengeName::MfaSetup => {
            let secret = handle.secret.clone().unwrap_or_default();
            // The key comes back from the page's own field: one that is not a key ends the
            // attempt like an expired session.
            let Ok(key) = TotpSecret::from_base32(&secret) else {
                return expired(request, auth).await;
            };
            let uri = key.otpauth_uri(&directory.pool.name, &handle.username);
            page.kind = "setup";
            page.qr_svg = qr_svg(&uri)?;
            page.secret = secret;
        }
        _ => return expired(request, auth).await,
    }
    Ok(request.show(&page, StatusCode::OK, auth))
}

/// The QR code of an `otpauth://` URI as inline SVG.
fn qr_svg(uri: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| ApiError::internal(&e))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// `POST /mfa`: a code, a choice, or the code of a new authenticator.
pub(crate) async fn mfa_submit(Submitted(request, auth, form): Submitted) -> Response {
    or_error(answer(&request, &auth, &form).await)
}

async fn answer(
    request: &PageRequest,
    auth: &Authorization,
    form: &super::Form,
) -> Result<Response, ApiError> {
    let directory = Directory::load(&request.state, &auth.pool_id).await?;
    let Some(handle) = form.get("handle").and_then(Handle::decode) else {
        return expired(request, auth).await;
    };
    let code = form.get("code").unwrap_or("").trim().to_owned();
    let outcome = match handle.challenge {
        ChallengeName::SelectMfaType => {
            let choice = form.get("choice").unwrap_or("");
            hosted_mfa(
                &request.state,
                &auth.client,
                &directory,
                &handle.session,
                &handle.username,
                handle.challenge,
                HostedMfaAnswer::Select(choice),
            )
            .await
        }
        ChallengeName::MfaSetup => {
            let mut input = json!({ "Session": handle.session, "UserCode": code });
            if let Some(name) = form
                .get("device_name")
                .map(str::trim)
                .filter(|n| !n.is_empty())
            {
                input["FriendlyDeviceName"] = json!(name);
            }
            match request
                .state
                .call("VerifySoftwareToken", input, &request.request_id)
                .await
            {
                Ok(verified) => {
                    let session = verified
                        .get("Session")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    hosted_mfa(
                        &request.state,
                        &auth.client,
                        &directory,
                        &session,
                        &handle.username,
                        handle.challenge,
                        HostedMfaAnswer::SetUp,
                    )
                    .await
                }
                Err(error) => Err(error),
            }
        }
        ChallengeName::WebAuthn => {
            let credential = form.get("credential").unwrap_or("");
            hosted_mfa(
                &request.state,
                &auth.client,
                &directory,
                &handle.session,
                &handle.username,
                handle.challenge,
                HostedMfaAnswer::Passkey(credential),
            )
            .await
        }
        _ => {
            hosted_mfa(
                &request.state,
                &auth.client,
                &directory,
                &handle.session,
                &handle.username,
                handle.challenge,
                HostedMfaAnswer::Code(&code),
            )
            .await
        }
    };
    // A passkey that did not sign in says no more than a wrong password would.
    if handle.challenge == ChallengeName::WebAuthn {
        return match outcome {
            Ok(HostedSignIn::SignedIn { key }) => request.signed_in(auth, &key, true).await,
            Err(error)
                if matches!(
                    error.kind,
                    "NotAuthorizedException" | "InvalidParameterException"
                ) || error.kind.starts_with("WebAuthn") =>
            {
                login_page(
                    request,
                    auth,
                    StatusCode::OK,
                    Some(
                        "The passkey could not sign you in. Try again, or use your password."
                            .into(),
                    ),
                    "",
                )
                .await
            }
            Ok(_) => expired(request, auth).await,
            Err(error) => Err(error.into()),
        };
    }
    match outcome {
        Ok(HostedSignIn::SignedIn { key }) => {
            let mut response = request.signed_in(auth, &key, true).await?;
            // "Remember this device": the browser keeps a device password in a cookie, and
            // later sign-ins from it skip MFA where the pool lets a remembered device do so.
            if form.get("remember_device").is_some_and(|v| !v.is_empty()) {
                if let Some(value) =
                    tessera_idp::sign_in::hosted_remember_browser(&request.state, &directory, &key)
                        .await?
                {
                    if let Ok(header) =
                        axum::http::HeaderValue::from_str(&request.site.device_cookie(&value))
                    {
                        response
                            .headers_mut()
                            .append(axum::http::header::SET_COOKIE, header);
                    }
                }
            }
            Ok(response)
        }
        Ok(HostedSignIn::Mfa {
            session,
            username,
            challenge,
            parameters,
        }) => {
            challenge_page(
                request, auth, &directory, session, username, challenge, parameters,
            )
            .await
        }
        Ok(_) => expired(request, auth).await,
        // A wrong or used code (or a choice not offered): the session is still good.
        Err(error)
            if matches!(
                error.kind,
                "CodeMismatchException"
                    | "ExpiredCodeException"
                    | "EnableSoftwareTokenMFAException"
                    | "InvalidParameterException"
            ) =>
        {
            let message = match error.kind {
                "ExpiredCodeException" => "That code was used already. Wait for the next one.",
                "InvalidParameterException" => "Choose one of the options.",
                _ => "The code is not right. Try again.",
            };
            show(request, auth, &directory, &handle, Some(message.into())).await
        }
        Err(error) if error.kind == "NotAuthorizedException" => expired(request, auth).await,
        Err(error) => Err(error.into()),
    }
}

async fn expired(request: &PageRequest, auth: &Authorization) -> Result<Response, ApiError> {
    login_page(
        request,
        auth,
        StatusCode::OK,
        Some("Your session expired. Sign in again.".into()),
        "",
    )
    .await
}
