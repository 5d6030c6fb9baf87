//! The crate's one error type. Each variant knows the AWS error code and HTTP status a service
//! answers it with ([`Error::aws_code`], [`Error::http_status`]), under S3's names, because S3 is
//! the service whose protocol tessera's credentials are most often checked in.

use http::StatusCode;

/// Why a token could not be opened, a request was not accepted, or a policy was refused.
///
/// The `Display` text is the message AWS sends with the same code, so that a service can put it
/// straight into its error response; where AWS's wording is not known or does not fit, the
/// variant's documentation says the wording is ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A session key is not 32 bytes in base64. Not an AWS condition; the wording is ours.
    #[error("a session key is 32 bytes in base64")]
    InvalidSessionKey,
    /// The request carries no `Authorization` header. S3 answers an anonymous request to a
    /// private bucket with `AccessDenied`.
    #[error("Access Denied")]
    Anonymous,
    /// The `Authorization` header is malformed, names another service, or the request lacks a
    /// header the client claims to have signed. The message is tessera-sigv4's (AWS's wording for
    /// its JSON services) or, for a wrong service, S3's.
    #[error("{0}")]
    AuthorizationMalformed(String),
    /// The request is signed but carries no `x-amz-security-token`. S3 answers a temporary
    /// access key sent without its token as an access key it does not know.
    #[error("The AWS Access Key Id you provided does not exist in our records.")]
    MissingSecurityToken,
    /// The session token was not written by tessera under any of the verifier's keys: it is
    /// malformed, was altered, was sealed under a key the verifier does not hold, or is of a
    /// version this crate does not know. AES-GCM cannot tell these apart, and need not.
    #[error("The provided token is malformed or otherwise invalid.")]
    InvalidToken,
    /// The session token belongs to another access key id than the one that signed. AWS's
    /// exact answer is not documented; an access key that does not go with its token is one S3
    /// does not know.
    #[error("The AWS Access Key Id you provided does not exist in our records.")]
    AccessKeyMismatch,
    /// The credentials have expired.
    #[error("The provided token has expired.")]
    ExpiredToken,
    /// The request was signed more than 15 minutes away from the service's clock.
    #[error("The difference between the request time and the current time is too large.")]
    RequestTimeTooSkewed,
    /// The signature is not the one the token's secret gives.
    #[error("The request signature we calculated does not match the signature you provided. Check your key and signing method.")]
    SignatureMismatch,
    /// `x-amz-content-sha256` names a SHA-256 other than the body's.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    /// `x-amz-content-sha256` is neither a SHA-256 nor an unsigned-payload marker. The wording
    /// is tessera-sigv4's: S3's lists the signed streaming forms, which are not supported.
    #[error("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a valid sha256 value.")]
    UnsupportedContentSha256,
    /// The policies do not allow the request. Returned by services, not by this crate's checks,
    /// which report a [`crate::Decision`] instead; it is here so that a service has one type
    /// for every refusal.
    #[error("Access Denied")]
    AccessDenied,
    /// A request described to [`crate::Verifier::check_described`] cannot be a real one (a
    /// header name or value HTTP does not allow, a body hash that is not 64 hex digits). The
    /// wording is ours.
    #[error("{0}")]
    InvalidRequest(String),
    /// A policy document is not one this crate can enforce: not IAM's grammar, or a part of it
    /// tessera does not implement. STS calls this `MalformedPolicyDocument`; the message, which
    /// says what is wrong and where, is ours, as STS's ("Syntax errors in policy.") says neither.
    #[error("{0}")]
    MalformedPolicy(String),
}

impl Error {
    /// The AWS error code, as S3 (or, for a policy, STS) names it.
    pub fn aws_code(&self) -> &'static str {
        match self {
            Error::InvalidSessionKey => "InvalidArgument",
            Error::Anonymous | Error::AccessDenied => "AccessDenied",
            Error::AuthorizationMalformed(_) => "AuthorizationHeaderMalformed",
            Error::MissingSecurityToken | Error::AccessKeyMismatch => "InvalidAccessKeyId",
            Error::InvalidToken => "InvalidToken",
            Error::ExpiredToken => "ExpiredToken",
            Error::RequestTimeTooSkewed => "RequestTimeTooSkewed",
            Error::SignatureMismatch => "SignatureDoesNotMatch",
            Error::ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            Error::UnsupportedContentSha256 => "InvalidArgument",
            Error::InvalidRequest(_) => "InvalidRequest",
            Error::MalformedPolicy(_) => "MalformedPolicyDocument",
        }
    }

    /// The HTTP status S3 sends with [`Error::aws_code`]: 403 for a refusal of who the caller
    /// is or what it may do, 400 for a request or token that is malformed or expired.
    pub fn http_status(&self) -> StatusCode {
        match self {
            Error::Anonymous
            | Error::AccessDenied
            | Error::MissingSecurityToken
            | Error::AccessKeyMismatch
            | Error::RequestTimeTooSkewed
            | Error::SignatureMismatch => StatusCode::FORBIDDEN,
            Error::InvalidSessionKey
            | Error::AuthorizationMalformed(_)
            | Error::InvalidToken
            | Error::ExpiredToken
            | Error::ContentSha256Mismatch
            | Error::UnsupportedContentSha256
            | Error::InvalidRequest(_)
            | Error::MalformedPolicy(_) => StatusCode::BAD_REQUEST,
        }
    }
}
