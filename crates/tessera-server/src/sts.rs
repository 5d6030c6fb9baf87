//! The built-in STS at the edge (issue 14): the AWS Query protocol (`POST /` with a
//! form-encoded `Action=…&Version=2011-06-15` body, answered in XML), for
//! AssumeRoleWithWebIdentity (unsigned, as on AWS) and GetCallerIdentity (signed with
//! credentials tessera issued, or with one of its access keys); and `POST /credentials/check`,
//! the check of a request signed with those credentials for services not written in Rust.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_core::UtcFields;
use tessera_credentials::CheckRequest;
use tessera_identity::sts::{self, StsError};

use crate::protocol::{read_body, RequestId};
use crate::AppState;

const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
const VERSION: &str = "2011-06-15";

/// Whether a request to `POST /` is an STS Query request: form-encoded, without the
/// `X-Amz-Target` the JSON APIs carry.
pub(crate) fn is_query_request(parts: &http::request::Parts) -> bool {
    parts.headers.get("x-amz-target").is_none()
        && parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// Escapes text for an XML element.
fn xml_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// ISO 8601 in UTC, as STS writes `Expiration`.
fn iso8601(epoch_seconds: u64) -> String {
    let f = UtcFields::of(std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch_seconds));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        f.year, f.month, f.day, f.hour, f.minute, f.second
    )
}

fn xml_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml"),
    );
    response
}

fn error_response(error: &StsError, request_id: &str) -> Response {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let kind = if status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    xml_response(
        status,
        format!(
            "<ErrorResponse xmlns=\"{NAMESPACE}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
            error.code,
            xml_text(&error.message),
            xml_text(request_id)
        ),
    )
}

fn success(action: &str, result: &str, request_id: &str) -> Response {
    xml_response(
        StatusCode::OK,
        format!(
            "<{action}Response xmlns=\"{NAMESPACE}\">\n  <{action}Result>\n{result}  </{action}Result>\n  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</{action}Response>\n",
            xml_text(request_id)
        ),
    )
}

fn sts_error(code: &'static str, message: impl Into<String>, status: u16) -> StsError {
    StsError {
        code,
        message: message.into(),
        status,
    }
}

/// One STS request.
pub(crate) async fn handle(state: &AppState, parts: &http::request::Parts, body: Body) -> Response {
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => {
            return error_response(
                &sts_error("ValidationError", error.message, 400),
                &request_id,
            )
        }
    };
    let params: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let action = params.get("Action").map(String::as_str).unwrap_or("");
    if params.get("Version").map(String::as_str) != Some(VERSION) {
        return error_response(
            &sts_error(
                "InvalidAction",
                format!(
                    "Could not find operation {} for version {}",
                    tessera_core::excerpt(action),
                    tessera_core::excerpt(
                        params
                            .get("Version")
                            .map_or("NO_VERSION_SPECIFIED", String::as_str)
                    )
                ),
                400,
            ),
            &request_id,
        );
    }
    let result = match action {
        "AssumeRoleWithWebIdentity" => assume_role_with_web_identity(state, &params).await,
        "GetCallerIdentity" => get_caller_identity(state, parts, &body).await,
        other => Err(sts_error(
            "InvalidAction",
            format!(
                "Could not find operation {} for version {VERSION}",
                tessera_core::excerpt(other)
            ),
            400,
        )),
    };
    match result {
        Ok(xml) => success(action, &xml, &request_id),
        Err(error) => error_response(&error, &request_id),
    }
}

async fn assume_role_with_web_identity(
    state: &AppState,
    params: &BTreeMap<String, String>,
) -> Result<String, StsError> {
    let assumed = sts::assume_role_with_web_identity(&state.identity, params).await?;
    let c = &assumed.credentials;
    let mut xml = String::new();
    let _ = write!(
        xml,
        "    <Credentials>\n      <AccessKeyId>{}</AccessKeyId>\n      <SecretAccessKey>{}</SecretAccessKey>\n      <SessionToken>{}</SessionToken>\n      <Expiration>{}</Expiration>\n    </Credentials>\n",
        xml_text(&c.access_key_id),
        xml_text(&c.secret_key),
        xml_text(&c.session_token),
        iso8601(c.expiration)
    );
    let _ = write!(
        xml,
        "    <SubjectFromWebIdentityToken>{}</SubjectFromWebIdentityToken>\n    <AssumedRoleUser>\n      <AssumedRoleId>{}</AssumedRoleId>\n      <Arn>{}</Arn>\n    </AssumedRoleUser>\n    <Provider>{}</Provider>\n    <Audience>{}</Audience>\n",
        xml_text(&assumed.subject),
        xml_text(&assumed.assumed_role_id),
        xml_text(&assumed.assumed_role_arn),
        xml_text(&assumed.provider),
        xml_text(&assumed.audience)
    );
    Ok(xml)
}

/// GetCallerIdentity: credentials from the built-in STS (they carry a session token) are
/// checked with the session keys; anything else must be one of tessera's access keys, which
/// stand for the account's root.
async fn get_caller_identity(
    state: &AppState,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<String, StsError> {
    let (user_id, account, arn) = if parts.headers.contains_key("x-amz-security-token") {
        let request = tessera_sigv4::Request {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            body,
        };
        let caller = state
            .identity
            .verifier
            .check(&request, "sts", state.clock.now())
            .map_err(|error| sts_check_error(&error))?;
        sts::caller_identity(&caller.session)
    } else {
        crate::signature::authenticate_for(
            state,
            parts,
            body,
            crate::signature::Covers::Path,
            "sts",
        )
        .await
        .map_err(|error| {
            sts_error(
                if error.kind == "UnrecognizedClientException" {
                    "InvalidClientTokenId"
                } else {
                    "SignatureDoesNotMatch"
                },
                error.message,
                403,
            )
        })?;
        let account = state.config.account_id.clone();
        (
            account.clone(),
            account.clone(),
            format!("arn:aws:iam::{account}:root"),
        )
    };
    Ok(format!(
        "    <UserId>{}</UserId>\n    <Account>{}</Account>\n    <Arn>{}</Arn>\n",
        xml_text(&user_id),
        xml_text(&account),
        xml_text(&arn)
    ))
}

/// The STS codes of a failed check of built-in credentials (STS's own, not S3's).
fn sts_check_error(error: &tessera_credentials::Error) -> StsError {
    use tessera_credentials::Error as E;
    match error {
        E::ExpiredToken => sts_error(
            "ExpiredToken",
            "The security token included in the request is expired",
            400,
        ),
        E::SignatureMismatch => sts_error(
            "SignatureDoesNotMatch",
            tessera_sigv4::SIGNATURE_MISMATCH_MESSAGE,
            403,
        ),
        E::RequestTimeTooSkewed => sts_error(
            "SignatureDoesNotMatch",
            "Signature expired: the request time is more than 15 minutes away from the server's time.",
            403,
        ),
        E::AuthorizationMalformed(message) => sts_error("IncompleteSignature", message.clone(), 400),
        _ => sts_error(
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
            403,
        ),
    }
}

/// `POST /credentials/check`: a service describes a request it received (method, path,
/// query, headers, the body's SHA-256) and what it is about (service, action, resource,
/// condition keys); tessera answers who signed it and what the role's policies decide, or
/// why the signature is refused, with the code S3 would send.
pub(crate) async fn check(
    State(state): State<AppState>,
    axum::Json(described): axum::Json<CheckRequest>,
) -> Response {
    match state
        .identity
        .verifier
        .check_described(&described, state.clock.now())
    {
        Ok(outcome) => (StatusCode::OK, axum::Json(outcome)).into_response(),
        Err(error) => (
            error.http_status(),
            axum::Json(serde_json::json!({
                "code": error.aws_code(),
                "message": error.to_string(),
            })),
        )
            .into_response(),
    }
}
