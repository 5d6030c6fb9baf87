//! AssumeRoleWithWebIdentity on an external STS (AWS, MinIO, moto), in the AWS query
//! protocol: a form-encoded POST, an XML answer.
//!
//! The call is unsigned: AssumeRoleWithWebIdentity is one of the STS operations AWS accepts
//! without a signature (the token is the credential), so tessera holds no key of the STS.
//! An unsigned POST also reaches STS on moto, which routes signed requests by their
//! credential scope.

use serde::Deserialize;
use tessera_identity::upstream::{StsCredentials, UpstreamError};

/// The STS API version every query-protocol request names.
pub const API_VERSION: &str = "2011-06-15";
/// The longest answer read: an STS answer is a few kilobytes (a session token is at most a
/// few thousand characters), and a larger one is not an STS answer.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How much of an STS error message is kept for the log.
const MAX_MESSAGE_CHARS: usize = 512;

/// What tessera asks of the STS.
pub struct Request<'a> {
    pub role_arn: &'a str,
    pub session_name: &'a str,
    /// The web identity token: a secret, never logged.
    pub token: &'a str,
    pub duration_seconds: u64,
}

impl Request<'_> {
    /// The form body.
    pub fn form(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", "AssumeRoleWithWebIdentity")
            .append_pair("Version", API_VERSION)
            .append_pair("RoleArn", self.role_arn)
            .append_pair("RoleSessionName", self.session_name)
            .append_pair("WebIdentityToken", self.token)
            .append_pair("DurationSeconds", &self.duration_seconds.to_string())
            .finish()
    }
}

/// Asks the STS at `endpoint` for credentials.
pub async fn assume_role_with_web_identity(
    http: &reqwest::Client,
    endpoint: &str,
    request: &Request<'_>,
) -> Result<StsCredentials, UpstreamError> {
    let response = http
        .post(endpoint)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(request.form())
        .send()
        .await
        .map_err(transport)?;
    let status = response.status().as_u16();
    let body = read_body(response).await?;
    read_answer(status, &body)
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, UpstreamError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(UpstreamError::Unavailable(format!(
                "the STS answer is longer than {MAX_ANSWER_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A transport failure. The request body holds the token, but reqwest's errors never carry
/// a body; the URL is the configured endpoint.
fn transport(error: reqwest::Error) -> UpstreamError {
    UpstreamError::Unavailable(if error.is_timeout() {
        format!(
            "the STS did not answer within {} s",
            crate::REQUEST_TIMEOUT.as_secs()
        )
    } else if error.is_connect() {
        "could not connect to the STS".to_owned()
    } else {
        error.to_string()
    })
}

/// The two documents an STS answers with, read as one: serde ignores the root element's name
/// and every member not named here (`AssumedRoleUser`, `ResponseMetadata`, `xmlns`, …), so
/// `<AssumeRoleWithWebIdentityResponse>` fills `result` and `<ErrorResponse>` fills `error`.
#[derive(Deserialize)]
struct Document {
    #[serde(rename = "AssumeRoleWithWebIdentityResult")]
    result: Option<ResultElement>,
    #[serde(rename = "Error")]
    error: Option<ErrorElement>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultElement {
    credentials: CredentialsElement,
}

/// No `Debug`: it holds the secret key and the session token.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CredentialsElement {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorElement {
    code: String,
    #[serde(default)]
    message: String,
}

/// Error codes that say the STS could not answer now, not that it refuses this pool's role
/// or token: Cognito answers them with ExternalServiceException, not as a configuration error.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "IDPCommunicationError",
    "ServiceUnavailable",
    "InternalFailure",
];

/// Reads an STS answer: its credentials, or why there are none.
pub fn read_answer(status: u16, body: &[u8]) -> Result<StsCredentials, UpstreamError> {
    let document = std::str::from_utf8(body)
        .ok()
        .and_then(|text| quick_xml::de::from_str::<Document>(text).ok());
    match document {
        Some(Document {
            error: Some(error), ..
        }) => Err(refusal(status, error)),
        Some(Document {
            result: Some(result),
            ..
        }) if (200..300).contains(&status) => credentials(result.credentials),
        _ => Err(UpstreamError::Unavailable(format!(
            "the STS answered HTTP {status} with no AssumeRoleWithWebIdentity result"
        ))),
    }
}

fn refusal(status: u16, error: ErrorElement) -> UpstreamError {
    let message = clip(error.message.trim());
    let code = clip(error.code.trim());
    if status >= 500 || TRANSIENT_CODES.contains(&code.as_str()) {
        UpstreamError::Unavailable(format!("HTTP {status} {code}: {message}"))
    } else {
        UpstreamError::Refused { code, message }
    }
}

fn credentials(element: CredentialsElement) -> Result<StsCredentials, UpstreamError> {
    let expiration = parse_expiration(&element.expiration).ok_or_else(|| {
        UpstreamError::Unavailable(format!(
            "the STS answered an unreadable Expiration {:?}",
            clip(&element.expiration)
        ))
    })?;
    if element.access_key_id.trim().is_empty()
        || element.secret_access_key.trim().is_empty()
        || element.session_token.trim().is_empty()
    {
        return Err(UpstreamError::Unavailable(
            "the STS answered empty credentials".into(),
        ));
    }
    Ok(StsCredentials {
        access_key_id: element.access_key_id.trim().to_owned(),
        secret_access_key: element.secret_access_key.trim().to_owned(),
        session_token: element.session_token.trim().to_owned(),
        expiration,
    })
}

/// An ISO-8601 (RFC 3339) instant in epoch seconds: `2026-12-05T00:50:29Z` as AWS writes it,
/// `2026-12-05T00:50:29.616548Z` as moto does, or with a numeric offset. Fractions of a second
/// are dropped (credentials are said to expire no later than they do). A time without an
/// offset names no instant and is refused, as is one before 1970.
pub fn parse_expiration(text: &str) -> Option<u64> {
    let instant: jiff::Timestamp = text.trim().parse().ok()?;
    u64::try_from(instant.as_second()).ok()
}

fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}
