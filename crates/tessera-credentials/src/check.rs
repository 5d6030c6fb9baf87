//! The check a service runs on a request signed with tessera's credentials.
//!
//! The order of the checks decides which error a request with several faults gets, and is
//! chosen so that each answer tells the client the first thing it must fix: the header, then
//! the token, then whether the token goes with the key, then its expiry, then the signature.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use tessera_sigv4::{Dialect, Options, Request, SigV4Error};

use crate::policy::{evaluate_keys, map_values, Keys};
use crate::session::open;
use crate::{Decision, Error, Session, SessionKey};

/// The header that carries the session token.
const SECURITY_TOKEN: &str = "x-amz-security-token";

/// The keys policies may name whose values come from the session, and so cannot be supplied
/// (or overridden) by the service's request keys.
const SUB: &str = "cognito-identity.amazonaws.com:sub";
const AUD: &str = "cognito-identity.amazonaws.com:aud";
const AMR: &str = "cognito-identity.amazonaws.com:amr";
const USER_ID: &str = "aws:userid";
const PRINCIPAL_ARN: &str = "aws:PrincipalArn";
const PRINCIPAL_ACCOUNT: &str = "aws:PrincipalAccount";
const PRINCIPAL_TAG: &str = "aws:PrincipalTag/";

/// Checks requests signed with tessera's credentials. It holds the session keys: the current
/// one first, then any previous ones whose tokens may not have expired yet.
#[derive(Debug, Clone)]
pub struct Verifier {
    keys: Vec<SessionKey>,
}

impl Verifier {
    /// A verifier that opens tokens sealed under any of `keys`, tried in order.
    pub fn new(keys: Vec<SessionKey>) -> Verifier {
        Verifier { keys }
    }

    /// Checks that `request` is signed for `expected_service` with live credentials that
    /// tessera issued, and returns who signed it.
    ///
    /// The checks, in order: the `Authorization` header is SigV4 for `expected_service` (any
    /// region: the region is part of what is signed, and a service does not need to know its
    /// own); `x-amz-security-token` is present and opens under one of the keys; it was issued
    /// for the access key id that signed; it has not expired at `now`; the signature is the one
    /// the token's secret gives, and the request time is within 15 minutes of `now`. For
    /// `expected_service` `s3`, S3's signing rules apply ([`Dialect::S3`]): the path is encoded
    /// once, and the body may be left unsigned with `x-amz-content-sha256: UNSIGNED-PAYLOAD`.
    pub fn check(
        &self,
        request: &Request<'_>,
        expected_service: &str,
        now: SystemTime,
    ) -> Result<Caller, Error> {
        self.check_with(request, expected_service, now, None)
    }

    fn check_with(
        &self,
        request: &Request<'_>,
        expected_service: &str,
        now: SystemTime,
        body_sha256: Option<[u8; 32]>,
    ) -> Result<Caller, Error> {
        let authorization = tessera_sigv4::parse_authorization(request.headers)
            .map_err(from_sigv4)?
            .ok_or(Error::Anonymous)?;
        if authorization.service != expected_service {
            // S3's wording for a request signed for another service.
            return Err(Error::AuthorizationMalformed(format!(
                "The authorization header is malformed; incorrect service \"{}\". This endpoint belongs to \"{expected_service}\".",
                excerpt(&authorization.service)
            )));
        }
        let mut tokens = request.headers.get_all(SECURITY_TOKEN).iter();
        let token = tokens.next().ok_or(Error::MissingSecurityToken)?;
        // Two tokens would leave it ambiguous which one the client meant.
        if tokens.next().is_some() {
            return Err(Error::InvalidToken);
        }
        let token = token.to_str().map_err(|_| Error::InvalidToken)?;
        let session = open(&self.keys, token)?;
        if session.access_key_id != authorization.access_key_id {
            return Err(Error::AccessKeyMismatch);
        }
        let now_secs = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        if now_secs >= session.expires_at {
            return Err(Error::ExpiredToken);
        }
        let mut options = Options::new(if expected_service == "s3" {
            Dialect::S3
        } else {
            Dialect::Standard
        });
        if let Some(hash) = body_sha256 {
            options = options.with_body_sha256(hash);
        }
        tessera_sigv4::verify_with(
            request,
            &authorization,
            &session.secret_access_key,
            now,
            &options,
        )
        .map_err(from_sigv4)?;
        Ok(Caller::new(session))
    }

    /// Checks a request that a service describes rather than forwards, and evaluates the
    /// policies for the action and resource it names: what tessera's HTTP check endpoint does
    /// for services that do not link this crate. Authentication failures are errors; an
    /// authenticated request that the policies do not allow is an outcome with that decision.
    pub fn check_described(
        &self,
        described: &CheckRequest,
        now: SystemTime,
    ) -> Result<CheckOutcome, Error> {
        let mut headers = HeaderMap::with_capacity(described.headers.len());
        for (name, value) in &described.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::InvalidRequest(format!("\"{}\" is not a header name.", excerpt(name)))
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                Error::InvalidRequest(format!("The value of the header {name} is not valid."))
            })?;
            headers.append(name, value);
        }
        let body_sha256 = match &described.body_sha256 {
            None => None,
            Some(hex) => {
                let mut hash = [0u8; 32];
                decode_hex(hex, &mut hash).ok_or_else(|| {
                    Error::InvalidRequest("bodySha256 must be 64 hex digits.".into())
                })?;
                Some(hash)
            }
        };
        let request = Request {
            method: &described.method,
            path: &described.path,
            query: &described.query,
            headers: &headers,
            body: b"",
        };
        let caller = self.check_with(&request, &described.service, now, body_sha256)?;
        let decision = caller.authorize(&described.action, &described.resource, &described.keys);
        let session = caller.session;
        Ok(CheckOutcome {
            identity_id: session.identity_id,
            identity_pool_id: session.identity_pool_id,
            role_arn: session.role_arn,
            decision,
        })
    }
}

/// Whoever signed a request that passed [`Verifier::check`].
#[derive(Debug, Clone)]
pub struct Caller {
    /// The opened session token.
    pub session: Session,
    /// `aws:userid`, computed once because every authorization may need it.
    user_id: String,
}

impl Caller {
    pub(crate) fn new(session: Session) -> Caller {
        let user_id = session.user_id();
        Caller { session, user_id }
    }

    /// Evaluates the session's policies for `action` on `resource`. The condition keys and
    /// policy variables are the session's (`cognito-identity.amazonaws.com:sub`, `:aud` and
    /// `:amr`, `aws:userid`, `aws:PrincipalArn`, `aws:PrincipalAccount`,
    /// `aws:PrincipalTag/<key>`) and then `extra_keys`, which the service adds from the request
    /// (`s3:prefix`, ...); a session key cannot be overridden by an extra key of the same name.
    pub fn authorize(
        &self,
        action: &str,
        resource: &str,
        extra_keys: &BTreeMap<String, Vec<String>>,
    ) -> Decision {
        let keys = CallerKeys {
            caller: self,
            extra: extra_keys,
        };
        evaluate_keys(&self.session.policies, action, resource, &keys)
    }
}

/// The condition keys of one authorization: the session's, then the service's.
struct CallerKeys<'a> {
    caller: &'a Caller,
    extra: &'a BTreeMap<String, Vec<String>>,
}

impl Keys for CallerKeys<'_> {
    fn values(&self, name: &str) -> Option<&[String]> {
        let session = &self.caller.session;
        fn one(value: &String) -> Option<&[String]> {
            Some(std::slice::from_ref(value))
        }
        let session_value = if name.eq_ignore_ascii_case(SUB) {
            one(&session.identity_id)
        } else if name.eq_ignore_ascii_case(AUD) {
            one(&session.identity_pool_id)
        } else if name.eq_ignore_ascii_case(AMR) {
            // A session key is the session's alone, even when it is empty: a service's
            // request key of the same name must not stand in for it.
            return Some(session.amr.as_slice()).filter(|amr| !amr.is_empty());
        } else if name.eq_ignore_ascii_case(USER_ID) {
            one(&self.caller.user_id)
        } else if name.eq_ignore_ascii_case(PRINCIPAL_ARN) {
            one(&session.role_arn)
        } else if name.eq_ignore_ascii_case(PRINCIPAL_ACCOUNT) {
            one(&session.account)
        } else if let Some(tag) = strip_prefix_ignore_case(name, PRINCIPAL_TAG) {
            // Tag keys, like key names, compare without regard to case in IAM.
            return session
                .principal_tags
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(tag))
                .map(|(_, value)| std::slice::from_ref(value));
        } else {
            None
        };
        session_value.or_else(|| map_values(self.extra, name))
    }
}

fn strip_prefix_ignore_case<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &name[prefix.len()..])
}

/// A request described to [`Verifier::check_described`], as tessera's check endpoint receives
/// it in JSON: the parts that take part in the signature, the body's SHA-256 rather than the
/// body (absent: the body is empty), and what the request is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckRequest {
    /// The HTTP method, `PUT`.
    pub method: String,
    /// The path as received, still percent-encoded.
    pub path: String,
    /// The query as received, without `?`.
    #[serde(default)]
    pub query: String,
    /// Every header, as `[name, value]` pairs in the order received (the `host` header too).
    pub headers: Vec<(String, String)>,
    /// The hex SHA-256 of the body; absent for an empty body.
    #[serde(default)]
    pub body_sha256: Option<String>,
    /// The service the request was signed for, `s3`.
    pub service: String,
    /// The action, `s3:PutObject`.
    pub action: String,
    /// The resource's ARN.
    pub resource: String,
    /// Condition keys the service adds (`s3:prefix`, ...).
    #[serde(default)]
    pub keys: BTreeMap<String, Vec<String>>,
}

/// What [`Verifier::check_described`] found: who signed, and what the policies decide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckOutcome {
    /// The Cognito identity.
    pub identity_id: String,
    /// Its identity pool.
    pub identity_pool_id: String,
    /// The role the credentials act as.
    pub role_arn: String,
    /// The policies' decision.
    pub decision: Decision,
}

/// tessera-sigv4's errors under S3's codes.
fn from_sigv4(error: SigV4Error) -> Error {
    match error {
        SigV4Error::Incomplete(message) => Error::AuthorizationMalformed(message),
        SigV4Error::Expired(_) => Error::RequestTimeTooSkewed,
        SigV4Error::ContentSha256Mismatch => Error::ContentSha256Mismatch,
        SigV4Error::UnsupportedContentSha256 => Error::UnsupportedContentSha256,
        // A mismatch, and any failure a later tessera-sigv4 may add: refusing the signature is
        // the answer that is never too lenient.
        _ => Error::SignatureMismatch,
    }
}

fn decode_hex(hex: &str, out: &mut [u8; 32]) -> Option<()> {
    let digits = hex.as_bytes();
    // `from_str_radix` would also take a sign, which is not a hex digit.
    if digits.len() != 64 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(())
}

/// The most characters of a caller's value a message quotes (tessera's `excerpt` rule; this
/// crate depends on no tessera crate that has it).
fn excerpt(value: &str) -> String {
    const EXCERPT_CHARS: usize = 128;
    match value.char_indices().nth(EXCERPT_CHARS) {
        None => value.to_owned(),
        Some((cut, _)) => format!("{}...", &value[..cut]),
    }
}
