//! Why a token was refused, and why a verifier could not be built.

use crate::config::TokenUse;

/// Why a token was not accepted. Each variant names the check that failed.
///
/// Strings inside variants (a `kid`, an issuer) come from the token and are truncated; they
/// are meant for logs. [`VerifyError::description`] gives a fixed text that is safe to send
/// to a client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is longer than the configured maximum; nothing else was looked at.
    #[error("the token is {size} bytes, more than the {max} allowed")]
    TooLarge {
        /// The token's length.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// Not three base64url parts, a part that is not valid base64url, or a header or payload
    /// that is not a JSON object (or has a duplicated member).
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    /// The header's `alg` is not RS256 or ES256: `none`, any HS*, or anything else.
    #[error("the token algorithm {0:?} is not accepted")]
    UnsupportedAlgorithm(String),
    /// The header carries a member the verifier refuses to trust (`jwk`, `jku`, `x5u`, `x5c`)
    /// or a `crit` extension it does not implement.
    #[error("the token header member {0:?} is not accepted")]
    ForbiddenHeader(&'static str),
    /// The header has no `kid`.
    #[error("the token header has no kid")]
    MissingKid,
    /// The `iss` claim is not one of the configured issuers.
    #[error("the token issuer {0:?} is not trusted")]
    WrongIssuer(String),
    /// No key of the issuer has the token's `kid` (after the refetch the rate limit allows).
    #[error("the issuer has no key with kid {0:?}")]
    UnknownKid(String),
    /// The key named by `kid` is for another algorithm than the header's `alg`.
    #[error("the token algorithm {found} does not match its key's {expected}")]
    AlgorithmMismatch {
        /// The key's algorithm.
        expected: crate::Algorithm,
        /// The header's `alg`.
        found: crate::Algorithm,
    },
    /// The signature does not verify with the issuer's key.
    #[error("the token signature is invalid")]
    InvalidSignature,
    /// `exp` (plus leeway) is past.
    #[error("the token expired at {exp} (now {now})")]
    Expired {
        /// `exp`.
        exp: u64,
        /// The verifier's time.
        now: u64,
    },
    /// `nbf` is later than now plus leeway.
    #[error("the token is not valid before {nbf} (now {now})")]
    NotYetValid {
        /// `nbf`.
        nbf: u64,
        /// The verifier's time.
        now: u64,
    },
    /// `iat` is later than now plus leeway.
    #[error("the token was issued in the future at {iat} (now {now})")]
    IssuedInFuture {
        /// `iat`.
        iat: u64,
        /// The verifier's time.
        now: u64,
    },
    /// A claim the checks need is absent.
    #[error("the token has no {0} claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or an impossible value.
    #[error("the token's {0} claim is invalid")]
    InvalidClaim(&'static str),
    /// `token_use` is not the expected one.
    #[error("the token is for {found:?} use, expected {expected:?}")]
    WrongTokenUse {
        /// The configured token use.
        expected: TokenUse,
        /// The token's `token_use`.
        found: String,
    },
    /// The ID token's `aud` is none of the configured client ids.
    #[error("the token audience {0:?} is not an accepted client")]
    WrongAudience(String),
    /// The access token's `client_id` is none of the configured client ids.
    #[error("the token client_id {0:?} is not an accepted client")]
    WrongClientId(String),
    /// A required scope is missing from `scope`.
    #[error("the token lacks the scope {0:?}")]
    MissingScope(String),
    /// The user is in none of the required groups (`cognito:groups`).
    #[error("the token's user is in none of the groups {0:?}")]
    MissingGroup(Vec<String>),
    /// The revocation hook says the token is revoked.
    #[error("the token has been revoked")]
    Revoked,
    /// The revocation hook failed; the token could not be checked.
    #[error("the revocation check failed: {0}")]
    RevocationCheckFailed(String),
    /// The issuer's keys could not be fetched and none are cached.
    #[error("the keys of {issuer} are unavailable: {reason}")]
    KeysUnavailable {
        /// The issuer.
        issuer: String,
        /// Why the last fetch failed.
        reason: FetchError,
    },
}

/// Why an issuer's keys could not be fetched: the `reason` of
/// [`VerifyError::KeysUnavailable`].
///
/// URLs that come from the network (a discovered `jwks_uri`, a redirect's `Location`) are
/// truncated, like the token-supplied strings of [`VerifyError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No fetch has been attempted yet.
    #[error("not fetched yet")]
    NotFetched,
    /// The fetch could not run: no tokio runtime, or its task ended without an outcome.
    #[error("the fetch did not finish: {0}")]
    Unfinished(&'static str),
    /// The request failed: connection refused, timeout, TLS, a broken body.
    #[error("GET {url}: {reason}")]
    Request {
        /// The URL requested.
        url: String,
        /// The HTTP client's error.
        reason: String,
    },
    /// The answer was a redirect (any 3xx status). Discovery documents and keys are read only
    /// from the URL configured or discovered, never from wherever a redirect points, so the
    /// redirect's target is not requested.
    #[error("GET {url}: answered with a redirect{}, which is not followed", location_suffix(.location))]
    Redirected {
        /// The URL requested.
        url: String,
        /// Where the redirect pointed, when it said.
        location: Option<String>,
    },
    /// The answer had a status other than 2xx (or 3xx, which is [`FetchError::Redirected`]).
    #[error("GET {url}: HTTP {status}")]
    Status {
        /// The URL requested.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The body was longer than `max_jwks_size`.
    #[error("GET {url}: body larger than {max} bytes")]
    TooLarge {
        /// The URL requested.
        url: String,
        /// The configured maximum.
        max: usize,
    },
    /// The discovery document is not JSON with string `issuer` and `jwks_uri` members, or
    /// its `jwks_uri` is not a URL.
    #[error("{url}: not a discovery document: {reason}")]
    InvalidDiscovery {
        /// The discovery URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The discovery document's `issuer` is not the configured issuer.
    #[error("{url}: names issuer {found:?}, expected {expected:?}")]
    DiscoveryIssuerMismatch {
        /// The discovery URL.
        url: String,
        /// The `issuer` the document names.
        found: String,
        /// The configured issuer.
        expected: String,
    },
    /// The discovery document's `jwks_uri` is not https. A plain-http `jwks_uri` is accepted
    /// only when the issuer itself is an http URL on a loopback host (127.0.0.0/8, `::1`,
    /// `localhost`), and then only on the issuer's own origin.
    #[error("{url}: jwks_uri {jwks_uri:?} refused: keys are fetched over https only (plain http only from the own origin of an http issuer on a loopback host)")]
    InsecureJwksUri {
        /// The discovery URL.
        url: String,
        /// The `jwks_uri` the document names.
        jwks_uri: String,
    },
    /// The JWKS document could not be read.
    #[error("{url}: {reason}")]
    InvalidJwks {
        /// The JWKS URL.
        url: String,
        /// What is wrong with the document.
        reason: String,
    },
}

fn location_suffix(location: &Option<String>) -> String {
    match location {
        Some(location) => format!(" to {location:?}"),
        None => String::new(),
    }
}

/// How a [`VerifyError`] should be answered over HTTP (RFC 6750).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
    InvalidToken,
    /// 403 with `WWW-Authenticate: Bearer error="insufficient_scope"`.
    InsufficientScope,
    /// 503: the verifier could not decide (keys unreachable, revocation check failed).
    Unavailable,
}

impl VerifyError {
    /// The HTTP answer this failure calls for.
    pub fn class(&self) -> ErrorClass {
        match self {
            VerifyError::MissingScope(_) | VerifyError::MissingGroup(_) => {
                ErrorClass::InsufficientScope
            }
            VerifyError::KeysUnavailable { .. } | VerifyError::RevocationCheckFailed(_) => {
                ErrorClass::Unavailable
            }
            _ => ErrorClass::InvalidToken,
        }
    }

    /// A fixed description, safe to send to a client (no token content, no internal
    /// detail, only characters RFC 6750 allows in `error_description`).
    pub fn description(&self) -> &'static str {
        match self {
            VerifyError::TooLarge { .. } => "The token is too large",
            VerifyError::Malformed(_) => "The token is malformed",
            VerifyError::UnsupportedAlgorithm(_) => "The token algorithm is not accepted",
            VerifyError::ForbiddenHeader(_) => "The token header is not accepted",
            VerifyError::MissingKid => "The token has no key id",
            VerifyError::WrongIssuer(_) => "The token issuer is not trusted",
            VerifyError::UnknownKid(_) => "The token key id is unknown",
            VerifyError::AlgorithmMismatch { .. } => "The token algorithm does not match its key",
            VerifyError::InvalidSignature => "The token signature is invalid",
            VerifyError::Expired { .. } => "The token has expired",
            VerifyError::NotYetValid { .. } => "The token is not valid yet",
            VerifyError::IssuedInFuture { .. } => "The token was issued in the future",
            VerifyError::MissingClaim(_) => "The token lacks a required claim",
            VerifyError::InvalidClaim(_) => "The token has an invalid claim",
            VerifyError::WrongTokenUse { .. } => "The token is not of the accepted type",
            VerifyError::WrongAudience(_) => "The token audience is not accepted",
            VerifyError::WrongClientId(_) => "The token client is not accepted",
            VerifyError::MissingScope(_) => "The token lacks a required scope",
            VerifyError::MissingGroup(_) => "The user is not in a required group",
            VerifyError::Revoked => "The token has been revoked",
            VerifyError::RevocationCheckFailed(_) | VerifyError::KeysUnavailable { .. } => {
                "The token cannot be verified now"
            }
        }
    }
}

/// Bounds a token-supplied string before it goes into an error (and from there into logs).
pub(crate) fn clip(text: &str) -> String {
    const MAX: usize = 128;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Why a [`crate::Verifier`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No issuer was configured.
    #[error("no issuer configured")]
    NoIssuer,
    /// Neither client ids nor `any_client()` were configured.
    #[error("no client ids configured: name the accepted app clients, or call any_client()")]
    NoClientPolicy,
    /// The same issuer was configured twice.
    #[error("issuer {0} configured twice")]
    DuplicateIssuer(String),
    /// An issuer or JWKS URL is not an http(s) URL.
    #[error("{0:?} is not an http or https URL")]
    InvalidUrl(String),
    /// A preloaded JWKS document could not be read.
    #[error("the preloaded JWKS of {issuer} is invalid: {reason}")]
    InvalidJwks {
        /// The issuer.
        issuer: String,
        /// What is wrong with the document.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("building the HTTP client: {0}")]
    HttpClient(String),
}
