//! Verifies AWS Signature Version 4 (`AWS4-HMAC-SHA256`) on incoming requests, so that tessera can authenticate IAM-signed calls from AWS SDKs and the AWS CLI exactly as the real service would.
//!
//! The crate is deliberately free of IO and of clocks: the caller looks up the secret access key for
//! [`Authorization::access_key_id`] and passes the current time in, which keeps every decision here
//! reproducible in tests.
//!
//! A typical caller does three things:
//!
//! 1. [`parse_authorization`] on the request headers; `Ok(None)` means the request is unsigned, which
//!    is legitimate for Cognito's public operations (sign-up, `InitiateAuth`, ...).
//! 2. Checks that [`Authorization::service`] and [`Authorization::region`] name this service and
//!    region, and looks up the secret for [`Authorization::access_key_id`]. This crate cannot do
//!    either, because it knows neither the deployment nor the key store.
//! 3. [`verify`] with the raw request parts, the secret and the current time.
//!
//! Presigned URLs (credentials in the query string) are not supported, because the Cognito JSON
//! protocol never uses them.
//!
//! S3 signs two things differently from every other service: its canonical URI is the path
//! encoded once, not twice, and its payload hash may be the literal `UNSIGNED-PAYLOAD`.
//! [`verify_with`] and [`authorization_header_with`] take [`Options`] naming the [`Dialect`];
//! [`verify`] and [`authorization_header`] are the standard dialect.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::{digest, hmac};
use http::HeaderMap;
use subtle::ConstantTimeEq;

#[cfg(test)]
mod tests;

/// The only signing algorithm this crate understands, as it appears in the `Authorization` header
/// and on the first line of the string to sign.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The last element of every SigV4 credential scope.
const TERMINATOR: &str = "aws4_request";

/// The message AWS returns with `InvalidSignatureException` when the signature is wrong. It is
/// exported so that callers producing other error shapes can still use AWS's exact wording.
pub const SIGNATURE_MISMATCH_MESSAGE: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";

/// AWS accepts a request timestamp up to 15 minutes away from its own clock in either direction.
const MAX_CLOCK_SKEW_SECS: i64 = 15 * 60;

/// Real Authorization headers are a few hundred bytes; anything far longer is refused before it
/// is split up, so that a hostile header cannot make the parser allocate much.
const MAX_AUTHORIZATION_LEN: usize = 16 * 1024;

/// SDKs sign a handful of headers; the cap bounds the work done per request while leaving ample
/// room for unusual clients.
const MAX_SIGNED_HEADERS: usize = 128;

/// The header that carries the request timestamp in SigV4.
const X_AMZ_DATE: &str = "x-amz-date";

/// The header that S3-style clients use to state the payload hash they signed.
const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

/// The `x-amz-content-sha256` values with which an S3 client signs its headers but not its body:
/// `UNSIGNED-PAYLOAD`, and the form SDKs use over TLS for an `aws-chunked` body whose checksum
/// follows in a trailer (botocore since 1.36). The signature then covers the headers only, which
/// is what S3 itself accepts; checking the body against its checksum is the service's business.
const UNSIGNED_PAYLOADS: [&str; 2] = ["UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"];

/// Which service's rules the canonical request follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Dialect {
    /// Every service but S3: the path is encoded again, and the payload hash is always the
    /// SHA-256 of the body.
    #[default]
    Standard,
    /// S3: the path is encoded once (percent-decoded, then encoded in SigV4's one canonical
    /// form, so that a client that escaped more or fewer characters still matches), and
    /// `x-amz-content-sha256` may declare the payload unsigned (`UNSIGNED-PAYLOAD` or
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`). A hex hash in that header must equal the body's,
    /// else [`SigV4Error::ContentSha256Mismatch`]; any other value is
    /// [`SigV4Error::UnsupportedContentSha256`]. Without the header the body is hashed, as in
    /// the standard dialect: S3 itself requires the header, but its absence loses nothing,
    /// since the body is then signed. Signed streaming uploads
    /// (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) are not supported: verifying them means checking a
    /// signature per chunk, which needs the body as a stream.
    S3,
}

/// How [`verify_with`] and [`authorization_header_with`] build the canonical request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// The service's rules.
    pub dialect: Dialect,
    /// The SHA-256 of the body, for a caller that has the hash rather than the body (a service
    /// that forwards a request's description to a checker); [`Request::body`] is then not read.
    pub body_sha256: Option<[u8; 32]>,
}

impl Options {
    /// The options of `dialect`, hashing the body itself.
    pub fn new(dialect: Dialect) -> Options {
        Options {
            dialect,
            body_sha256: None,
        }
    }

    /// The same options, taking the body's SHA-256 as given instead of hashing the body.
    #[must_use]
    pub fn with_body_sha256(mut self, body_sha256: [u8; 32]) -> Options {
        self.body_sha256 = Some(body_sha256);
        self
    }
}

/// The parsed `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key ID from the credential scope; the caller looks the secret up by it.
    pub access_key_id: String,
    /// The credential scope date, `yyyymmdd`.
    pub date: String,
    /// The region the client signed for, for example `us-east-1`.
    pub region: String,
    /// The service the client signed for, for example `cognito-idp`.
    pub service: String,
    /// The lower-cased names of the signed headers, in the order the client listed them.
    pub signed_headers: Vec<String>,
    /// The hex signature exactly as the client sent it.
    pub signature: String,
}

/// The parts of an incoming request that take part in the signature.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The HTTP method, for example `POST`.
    pub method: &'a str,
    /// The path exactly as received on the wire, still percent-encoded.
    pub path: &'a str,
    /// The query string exactly as received, without the leading `?`; empty when there is none.
    pub query: &'a str,
    /// All request headers. Under HTTP/2 the caller must insert `host` from the `:authority`
    /// pseudo-header, because clients sign it under that name and `http::HeaderMap` does not carry
    /// pseudo-headers.
    pub headers: &'a HeaderMap,
    /// The complete request body.
    pub body: &'a [u8],
}

/// Why a request's signature was not accepted. The `Display` text of each variant is the message
/// AWS returns for the same condition, so callers can put it straight into the error response.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SigV4Error {
    /// The Authorization header is malformed, or the request lacks the date header or one of the
    /// headers it claims to have signed. AWS reports this as `IncompleteSignatureException`.
    #[error("{0}")]
    Incomplete(String),
    /// The recomputed signature differs from the one sent. AWS reports this as
    /// `InvalidSignatureException`.
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    Mismatch,
    /// The request timestamp is more than 15 minutes away from the server's clock. AWS reports
    /// this as `InvalidSignatureException` with a message naming both times.
    #[error("{0}")]
    Expired(String),
    /// Under [`Dialect::S3`] only: `x-amz-content-sha256` is a SHA-256 other than the body's.
    /// S3 reports this as `XAmzContentSHA256Mismatch` (400). [`Dialect::Standard`] reports the
    /// same condition as [`SigV4Error::Mismatch`], as it always has.
    #[error("The provided 'x-amz-content-sha256' header does not match what was computed.")]
    ContentSha256Mismatch,
    /// Under [`Dialect::S3`] only: `x-amz-content-sha256` is neither a SHA-256 nor a value this
    /// crate accepts. S3 reports this as `InvalidArgument` (400); the message is ours, because
    /// S3's lists the signed streaming forms, which are not supported here.
    #[error("x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a valid sha256 value.")]
    UnsupportedContentSha256,
}

impl SigV4Error {
    /// The AWS error type (the `__type` of a JSON error response) for this error.
    pub fn aws_error_type(&self) -> &'static str {
        match self {
            SigV4Error::Incomplete(_) => "IncompleteSignatureException",
            SigV4Error::Mismatch | SigV4Error::Expired(_) => "InvalidSignatureException",
            SigV4Error::ContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            SigV4Error::UnsupportedContentSha256 => "InvalidArgument",
        }
    }
}

fn incomplete(message: impl Into<String>) -> SigV4Error {
    SigV4Error::Incomplete(message.into())
}

/// The most characters of a request's value a message quotes: the rule of
/// `tessera_core::excerpt` (this crate depends on no other tessera crate). Without it a
/// value of the 16 KiB an Authorization header may have would come back whole in the message,
/// and from there in the `x-amzn-ErrorMessage` header, larger than some HTTP clients accept.
const EXCERPT_CHARS: usize = 128;

/// `value` as a message quotes it: whole up to [`EXCERPT_CHARS`] characters, otherwise its
/// first `EXCERPT_CHARS` characters followed by `...`.
fn excerpt(value: &str) -> std::borrow::Cow<'_, str> {
    match value.char_indices().nth(EXCERPT_CHARS) {
        None => value.into(),
        Some((cut, _)) => format!("{}...", &value[..cut]).into(),
    }
}

/// Parses the `Authorization: AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex`
/// header.
///
/// Returns `Ok(None)` when the request has no Authorization header at all, so that the caller can
/// decide whether the operation may be called anonymously. The components may come in any order
/// and may be separated by `,` with or without spaces, as AWS itself accepts.
pub fn parse_authorization(headers: &HeaderMap) -> Result<Option<Authorization>, SigV4Error> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    // Two Authorization headers would make it ambiguous which one was meant, so neither is used.
    if values.next().is_some() {
        return Err(incomplete(
            "The request contains more than one Authorization header.",
        ));
    }
    if value.len() > MAX_AUTHORIZATION_LEN {
        return Err(incomplete("The Authorization header is too long."));
    }
    let value = value.to_str().map_err(|_| {
        incomplete("The Authorization header contains characters that are not visible ASCII.")
    })?;

    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
    if algorithm != ALGORITHM {
        return Err(incomplete(format!(
            "Authorization header requires the '{ALGORITHM}' algorithm."
        )));
    }

    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for component in rest.split(',') {
        let component = component.trim_matches(|c| c == ' ' || c == '\t');
        if component.is_empty() {
            continue;
        }
        let Some((key, val)) = component.split_once('=') else {
            return Err(incomplete(
                "Authorization header components must have the form 'Key=Value'.",
            ));
        };
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            // An unknown component means the header was built for some other scheme; guessing
            // what it meant would only hide a client bug.
            _ => {
                return Err(incomplete(
                    "Authorization header contains an unexpected component.",
                ))
            }
        };
        if slot.replace(val).is_some() {
            return Err(incomplete(format!(
                "Authorization header contains '{key}' more than once."
            )));
        }
    }

    // AWS lists every missing component in one message; doing the same helps whoever debugs a
    // hand-written client.
    let mut missing = Vec::new();
    for (name, present) in [
        ("Credential", credential.is_some()),
        ("Signature", signature.is_some()),
        ("SignedHeaders", signed_headers.is_some()),
    ] {
        if !present {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    let (Some(credential), Some(signed_headers), Some(signature)) =
        (credential, signed_headers, signature)
    else {
        return Err(incomplete(missing.join(" ")));
    };

    let mut scope = credential.split('/');
    let (Some(access_key_id), Some(date), Some(region), Some(service), Some(terminator), None) = (
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
        scope.next(),
    ) else {
        return Err(malformed_credential());
    };
    if terminator != TERMINATOR {
        return Err(incomplete(format!(
            "Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{}'.",
            excerpt(terminator)
        )));
    }
    let authorization = Authorization {
        access_key_id: access_key_id.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers: signed_headers
            .split(';')
            .map(str::to_ascii_lowercase)
            .collect(),
        signature: signature.to_owned(),
    };
    validate(&authorization)?;
    Ok(Some(authorization))
}

fn malformed_credential() -> SigV4Error {
    incomplete("Authorization header has a malformed 'Credential' parameter: expected '<access key id>/<yyyymmdd>/<region>/<service>/aws4_request'.")
}

/// Checks the invariants that [`parse_authorization`] establishes. [`verify`] repeats the check
/// because `Authorization` has public fields and may have been built by hand.
fn validate(auth: &Authorization) -> Result<(), SigV4Error> {
    let part_ok = |part: &str| !part.is_empty() && !part.contains('/');
    if !part_ok(&auth.access_key_id) || !part_ok(&auth.region) || !part_ok(&auth.service) {
        return Err(malformed_credential());
    }
    if auth.date.len() != 8 || !auth.date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed_credential());
    }
    if auth.signature.is_empty() {
        return Err(incomplete(
            "Authorization header requires 'Signature' parameter.",
        ));
    }
    if auth.signed_headers.len() > MAX_SIGNED_HEADERS {
        return Err(incomplete(
            "Authorization header lists too many signed headers.",
        ));
    }
    for (i, name) in auth.signed_headers.iter().enumerate() {
        // Names must be usable as lower-case header names, because that is how they appear in the
        // canonical request; anything else cannot have been signed by a conforming client.
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || name.bytes().any(|b| b.is_ascii_uppercase())
        {
            return Err(incomplete(
                "Authorization header has a malformed 'SignedHeaders' parameter.",
            ));
        }
        // A repeated name would repeat its values in the canonical request; no client does that,
        // and refusing it keeps the canonical request no larger than the headers themselves.
        if auth.signed_headers[..i].contains(name) {
            return Err(incomplete(
                "Authorization header lists a signed header more than once.",
            ));
        }
    }
    // Signing the host binds the signature to this endpoint, which is why AWS insists on it.
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    Ok(())
}

/// Recomputes the signature with `secret_access_key` and compares it in constant time.
///
/// `now` is a parameter rather than read here so that the check is deterministic; the request's
/// `X-Amz-Date` header (or, failing that, its `Date` header) must be within 15 minutes of it.
///
/// The checks run in this order, which decides the error when several apply:
/// 1. the Authorization fields, the date header and every signed header must be present and well
///    formed, else [`SigV4Error::Incomplete`];
/// 2. the credential scope date must equal the date of the request timestamp, else
///    [`SigV4Error::Mismatch`] (AWS reports this as an invalid signature too; since the scope date
///    feeds the signing key, such a signature could never match anyway);
/// 3. the timestamp must be within 15 minutes of `now`, else [`SigV4Error::Expired`];
/// 4. an `x-amz-content-sha256` header, if present, must equal the SHA-256 of the body, else
///    [`SigV4Error::Mismatch`]; this refuses `UNSIGNED-PAYLOAD`, because for the JSON services
///    emulated here the body is what must be authenticated;
/// 5. the signature must match, else [`SigV4Error::Mismatch`].
pub fn verify(
    request: &Request<'_>,
    auth: &Authorization,
    secret_access_key: &str,
    now: SystemTime,
) -> Result<(), SigV4Error> {
    verify_with(request, auth, secret_access_key, now, &Options::default())
}

/// [`verify`] under `options`: the same checks in the same order, with the canonical URI and the
/// payload hash of `options.dialect` (see [`Dialect::S3`]) and, when `options.body_sha256` is
/// given, that hash in place of the body's.
pub fn verify_with(
    request: &Request<'_>,
    auth: &Authorization,
    secret_access_key: &str,
    now: SystemTime,
    options: &Options,
) -> Result<(), SigV4Error> {
    validate(auth)?;
    let timestamp = request_timestamp(request.headers)?;
    let mut canonical = canonical_request_in(options.dialect, request, &auth.signed_headers)?;

    if timestamp.as_bytes().get(..8) != Some(auth.date.as_bytes()) {
        return Err(SigV4Error::Mismatch);
    }
    check_clock_skew(&timestamp, now)?;

    let payload_hash = payload_hash_with(request, options)?;
    canonical.extend_from_slice(payload_hash.as_bytes());

    // The signature is decoded instead of compared as text so that upper-case hex is accepted and
    // the comparison runs over fixed-size bytes.
    let mut provided = [0u8; 32];
    if hex::decode_to_slice(&auth.signature, &mut provided).is_err() {
        return Err(SigV4Error::Mismatch);
    }
    let expected = compute_signature(
        secret_access_key,
        &auth.date,
        &auth.region,
        &auth.service,
        &string_to_sign(&timestamp.basic, auth, &canonical),
    );
    if bool::from(expected.as_slice().ct_eq(&provided)) {
        Ok(())
    } else {
        Err(SigV4Error::Mismatch)
    }
}

/// Computes the `Authorization` header value a client would send for `request`, signed at the
/// time in its `X-Amz-Date` (or `Date`) header. It exists so that tessera's own tests and tools
/// can produce signed requests without an AWS SDK; `signed_headers` must include `host`.
pub fn authorization_header(
    request: &Request<'_>,
    access_key_id: &str,
    secret_access_key: &str,
    region: &str,
    service: &str,
    signed_headers: &[&str],
) -> Result<String, SigV4Error> {
    authorization_header_with(
        request,
        access_key_id,
        secret_access_key,
        region,
        service,
        signed_headers,
        &Options::default(),
    )
}

/// [`authorization_header`] under `options`, for requests to S3-style services: with
/// [`Dialect::S3`] the path is encoded once, and an `x-amz-content-sha256` header of
/// `UNSIGNED-PAYLOAD` leaves the body unsigned.
pub fn authorization_header_with(
    request: &Request<'_>,
    access_key_id: &str,
    secret_access_key: &str,
    region: &str,
    service: &str,
    signed_headers: &[&str],
    options: &Options,
) -> Result<String, SigV4Error> {
    let timestamp = request_timestamp(request.headers)?;
    let mut names: Vec<String> = signed_headers
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    names.sort();
    let mut auth = Authorization {
        access_key_id: access_key_id.to_owned(),
        date: timestamp.basic.get(..8).unwrap_or_default().to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers: names,
        signature: "-".to_owned(),
    };
    validate(&auth)?;
    let mut canonical = canonical_request_in(options.dialect, request, &auth.signed_headers)?;
    canonical.extend_from_slice(payload_hash_with(request, options)?.as_bytes());
    let signature = compute_signature(
        secret_access_key,
        &auth.date,
        &auth.region,
        &auth.service,
        &string_to_sign(&timestamp.basic, &auth, &canonical),
    );
    auth.signature = hex::encode(signature);
    Ok(format!(
        "{ALGORITHM} Credential={}/{}/{}/{}/{TERMINATOR}, SignedHeaders={}, Signature={}",
        auth.access_key_id,
        auth.date,
        auth.region,
        auth.service,
        auth.signed_headers.join(";"),
        auth.signature
    ))
}

/// Builds every line of the canonical request except the final payload hash, which is appended by
/// the caller once the body has been checked. It works on bytes because header values may legally
/// contain non-UTF-8 octets, and clients sign those bytes as they are.
fn canonical_request_in(
    dialect: Dialect,
    request: &Request<'_>,
    signed_headers: &[String],
) -> Result<Vec<u8>, SigV4Error> {
    let mut out = Vec::with_capacity(
        request.method.len() + 3 * (request.path.len() + request.query.len()) + 256,
    );
    out.extend_from_slice(request.method.as_bytes());
    out.push(b'\n');
    match dialect {
        Dialect::Standard => canonical_uri(request.path, &mut out),
        Dialect::S3 => canonical_uri_s3(request.path, &mut out),
    }
    out.push(b'\n');
    canonical_query(request.query, &mut out);
    out.push(b'\n');
    for name in signed_headers {
        let mut values = request.headers.get_all(name.as_str()).iter().peekable();
        if values.peek().is_none() {
            return Err(incomplete(format!(
                "The request does not contain the signed header '{}'.",
                excerpt(name)
            )));
        }
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        // Repeated headers are joined with a bare comma, in the order received, as clients do.
        for (i, value) in values.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            trim_all(value.as_bytes(), &mut out);
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    for (i, name) in signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b'\n');
    Ok(out)
}

/// The standard dialect's canonical request, under the name the tests have always used.
#[cfg(test)]
fn canonical_request(
    request: &Request<'_>,
    signed_headers: &[String],
) -> Result<Vec<u8>, SigV4Error> {
    canonical_request_in(Dialect::Standard, request, signed_headers)
}

/// The standard dialect's payload hash, under the name the tests have always used.
#[cfg(test)]
fn payload_hash(request: &Request<'_>) -> Result<std::borrow::Cow<'static, str>, SigV4Error> {
    payload_hash_with(request, &Options::default())
}

/// Encodes the raw path once more, segment by segment, because that is what SDKs do for every
/// service but S3: they sign the already-encoded path with its `%` signs encoded again. Nothing is
/// normalized, since any normalization the client did is already reflected in the path it sent.
fn canonical_uri(path: &str, out: &mut Vec<u8>) {
    if path.is_empty() {
        out.push(b'/');
        return;
    }
    for &b in path.as_bytes() {
        if b == b'/' {
            out.push(b);
        } else {
            uri_encode_byte(b, out);
        }
    }
}

/// S3's canonical URI: the path encoded once. The path as sent is decoded and encoded again in
/// the one canonical form (every byte but the unreserved ones and `/`), which is the path as
/// sent for every SDK, since they encode it that way, and still matches a client that left a
/// reserved character unescaped on the wire. Nothing is normalized, as for other services.
fn canonical_uri_s3(path: &str, out: &mut Vec<u8>) {
    if path.is_empty() {
        out.push(b'/');
        return;
    }
    let mut decoded = Vec::with_capacity(path.len());
    percent_decode(path.as_bytes(), &mut decoded);
    for b in decoded {
        if b == b'/' {
            out.push(b);
        } else {
            uri_encode_byte(b, out);
        }
    }
}

/// Decodes each name and value of the raw query and encodes it again in the one canonical form,
/// so that a client that escaped more or fewer characters than strictly needed still matches.
/// Pairs are sorted by encoded name, then encoded value. A `+` is taken literally, as AWS does,
/// rather than as a form-encoded space.
fn canonical_query(query: &str, out: &mut Vec<u8>) {
    if query.is_empty() {
        return;
    }
    // All encoded names and values live in one buffer, indexed by ranges, so that the memory used
    // is a small multiple of the query length however many parameters it holds.
    let mut buffer = Vec::with_capacity(query.len() * 3);
    let mut pairs = Vec::new();
    let mut decoded = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let mut encode = |raw: &str| {
            decoded.clear();
            percent_decode(raw.as_bytes(), &mut decoded);
            let start = buffer.len();
            for &b in &decoded {
                uri_encode_byte(b, &mut buffer);
            }
            start..buffer.len()
        };
        let name = encode(name);
        let value = encode(value);
        pairs.push((name, value));
    }
    pairs.sort_by(|(an, av), (bn, bv)| {
        buffer[an.clone()]
            .cmp(&buffer[bn.clone()])
            .then_with(|| buffer[av.clone()].cmp(&buffer[bv.clone()]))
    });
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(&buffer[name]);
        out.push(b'=');
        out.extend_from_slice(&buffer[value]);
    }
}

/// RFC 3986 unreserved characters, the only ones SigV4 leaves unencoded.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn uri_encode_byte(b: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    if is_unreserved(b) {
        out.push(b);
    } else {
        out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0x0f)]]);
    }
}

/// Decodes `%XY` escapes. A `%` not followed by two hex digits is kept as a literal character,
/// because refusing it would turn a harmless oddity into an authentication failure.
fn percent_decode(raw: &[u8], out: &mut Vec<u8>) {
    fn hex_value(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            if let (Some(hi), Some(lo)) = (
                raw.get(i + 1).copied().and_then(hex_value),
                raw.get(i + 2).copied().and_then(hex_value),
            ) {
                out.push((hi << 4) | lo);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
}

/// The SigV4 "Trimall": drops leading and trailing whitespace and collapses each run of inner
/// whitespace into one space. Tabs count as whitespace because SDKs collapse them too.
fn trim_all(value: &[u8], out: &mut Vec<u8>) {
    let mut pending_space = false;
    let mut wrote_any = false;
    for &b in value {
        if b == b' ' || b == b'\t' {
            pending_space = wrote_any;
        } else {
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(b);
            wrote_any = true;
        }
    }
}

/// The payload hash that ends the canonical request: the hex SHA-256 of the body, or the
/// client's `x-amz-content-sha256` value when it states that same hash (possibly in upper case,
/// which clients then sign as written), or, under [`Dialect::S3`], one of the values that
/// declare the payload unsigned.
fn payload_hash_with(
    request: &Request<'_>,
    options: &Options,
) -> Result<std::borrow::Cow<'static, str>, SigV4Error> {
    let stated = request.headers.get(X_AMZ_CONTENT_SHA256);
    if options.dialect == Dialect::S3 {
        if let Some(unsigned) = stated.and_then(|value| {
            UNSIGNED_PAYLOADS
                .iter()
                .find(|unsigned| value.as_bytes() == unsigned.as_bytes())
        }) {
            return Ok((*unsigned).into());
        }
    }
    let computed = match options.body_sha256 {
        Some(hash) => hex::encode(hash),
        None => hex::encode(digest::digest(&digest::SHA256, request.body)),
    };
    match stated {
        None => Ok(computed.into()),
        Some(stated) if stated.as_bytes().eq_ignore_ascii_case(computed.as_bytes()) => {
            // The comparison above guarantees the value is ASCII hex.
            Ok(String::from_utf8_lossy(stated.as_bytes())
                .into_owned()
                .into())
        }
        Some(stated) => Err(match options.dialect {
            Dialect::Standard => SigV4Error::Mismatch,
            Dialect::S3
                if stated.len() == 64 && stated.as_bytes().iter().all(u8::is_ascii_hexdigit) =>
            {
                SigV4Error::ContentSha256Mismatch
            }
            Dialect::S3 => SigV4Error::UnsupportedContentSha256,
        }),
    }
}

fn string_to_sign(timestamp: &str, auth: &Authorization, canonical_request: &[u8]) -> String {
    let hash = hex::encode(digest::digest(&digest::SHA256, canonical_request));
    format!(
        "{ALGORITHM}\n{timestamp}\n{}/{}/{}/{TERMINATOR}\n{hash}",
        auth.date, auth.region, auth.service
    )
}

/// Derives the signing key through the SigV4 HMAC chain and signs `string_to_sign` with it.
fn compute_signature(
    secret_access_key: &str,
    date: &str,
    region: &str,
    service: &str,
    string_to_sign: &str,
) -> [u8; 32] {
    fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
    let mut seed = Vec::with_capacity(4 + secret_access_key.len());
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret_access_key.as_bytes());
    let k_date = hmac_sha256(&seed, date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, TERMINATOR.as_bytes());
    hmac_sha256(&k_signing, string_to_sign.as_bytes())
}

/// A request timestamp in SigV4's basic ISO 8601 form together with its Unix time.
struct Timestamp {
    basic: String,
    unix: i64,
}

impl Timestamp {
    fn as_bytes(&self) -> &[u8] {
        self.basic.as_bytes()
    }
}

/// Reads the request time from `X-Amz-Date`, or from `Date` when the former is absent, as AWS
/// does. `Date` is accepted in the basic ISO 8601 form and in the RFC 7231 form that botocore
/// sends (`Sun, 30 Aug 2015 12:36:00 GMT`, or `-0000` in place of `GMT`).
fn request_timestamp(headers: &HeaderMap) -> Result<Timestamp, SigV4Error> {
    let (value, allow_http_date) = match headers.get(X_AMZ_DATE) {
        Some(value) => (value, false),
        None => match headers.get(http::header::DATE) {
            Some(value) => (value, true),
            None => {
                return Err(incomplete(
                    "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
                ))
            }
        },
    };
    let raw = value.as_bytes();
    let parsed =
        parse_basic(raw).or_else(|| allow_http_date.then(|| parse_http_date(raw)).flatten());
    let Some(civil) = parsed else {
        // Only a bounded, printable prefix is echoed back, as the value is attacker-controlled.
        let shown: String = String::from_utf8_lossy(raw)
            .chars()
            .take(64)
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        return Err(incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{shown}'. See http://en.wikipedia.org/wiki/ISO_8601"
        )));
    };
    Ok(Timestamp {
        basic: format_basic(&civil),
        unix: civil.to_unix(),
    })
}

/// Enforces AWS's 15-minute window, with AWS's messages. The request time is compared at whole
/// seconds, which is the precision it is sent with.
fn check_clock_skew(timestamp: &Timestamp, now: SystemTime) -> Result<(), SigV4Error> {
    let now = unix_seconds(now);
    let earliest = now.saturating_sub(MAX_CLOCK_SKEW_SECS);
    let latest = now.saturating_add(MAX_CLOCK_SKEW_SECS);
    if timestamp.unix < earliest {
        return Err(SigV4Error::Expired(format!(
            "Signature expired: {} is now earlier than {} ({} - 15 min.)",
            timestamp.basic,
            format_basic(&Civil::from_unix(earliest)),
            format_basic(&Civil::from_unix(now)),
        )));
    }
    if timestamp.unix > latest {
        return Err(SigV4Error::Expired(format!(
            "Signature not yet current: {} is still later than {} ({} + 15 min.)",
            timestamp.basic,
            format_basic(&Civil::from_unix(latest)),
            format_basic(&Civil::from_unix(now)),
        )));
    }
    Ok(())
}

/// Whole seconds since the Unix epoch, rounded down, saturating at the ends of `i64`.
fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            let round_down = i64::from(before.subsec_nanos() > 0);
            0i64.saturating_sub(secs).saturating_sub(round_down)
        }
    }
}

/// A UTC calendar date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Civil {
    fn new(year: i64, month: u32, day: u32, hour: u32, minute: u32, second: u32) -> Option<Civil> {
        let valid = (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second < 60;
        valid.then_some(Civil {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    fn to_unix(self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour * 3600 + self.minute * 60 + self.second)
    }

    fn from_unix(unix: i64) -> Civil {
        let days = unix.div_euclid(86_400);
        // rem_euclid keeps the remainder in 0..86400, so the narrowing below cannot fail.
        let secs = u32::try_from(unix.rem_euclid(86_400)).unwrap_or(0);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
        }
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month = i64::from(month);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`] (Howard Hinnant's `civil_from_days`). It is only ever fed
/// `i64` seconds divided by 86 400, a range in which none of the arithmetic can overflow.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both values are small by construction (1..=31 and 1..=12).
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

fn digits(raw: &[u8]) -> Option<u32> {
    if raw.is_empty() || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(raw.iter().fold(0, |acc, &b| acc * 10 + u32::from(b - b'0')))
}

/// Parses `yyyymmddThhmmssZ`, SigV4's timestamp format, strictly.
fn parse_basic(raw: &[u8]) -> Option<Civil> {
    if raw.len() != 16 || raw[8] != b'T' || raw[15] != b'Z' {
        return None;
    }
    Civil::new(
        i64::from(digits(&raw[0..4])?),
        digits(&raw[4..6])?,
        digits(&raw[6..8])?,
        digits(&raw[9..11])?,
        digits(&raw[11..13])?,
        digits(&raw[13..15])?,
    )
}

/// Parses the RFC 7231 IMF-fixdate form `Sun, 06 Nov 1994 08:49:37 GMT`, also accepting the
/// numeric zones `-0000` and `+0000` that Python's `formatdate` writes. The weekday is not checked
/// against the date because it carries no information the date lacks.
fn parse_http_date(raw: &[u8]) -> Option<Civil> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let (fixed, zone) = raw.split_at_checked(25)?;
    if !matches!(zone, b" GMT" | b" -0000" | b" +0000") {
        return None;
    }
    if !fixed[..3].iter().all(u8::is_ascii_alphabetic)
        || &fixed[3..5] != b", "
        || fixed[7] != b' '
        || fixed[11] != b' '
        || fixed[16] != b' '
        || fixed[19] != b':'
        || fixed[22] != b':'
    {
        return None;
    }
    let month = MONTHS.iter().position(|m| m[..] == fixed[8..11])?;
    Civil::new(
        i64::from(digits(&fixed[12..16])?),
        u32::try_from(month).ok()? + 1,
        digits(&fixed[5..7])?,
        digits(&fixed[17..19])?,
        digits(&fixed[20..22])?,
        digits(&fixed[23..25])?,
    )
}

fn format_basic(civil: &Civil) -> String {
    let mut out = String::with_capacity(16);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        civil.year, civil.month, civil.day, civil.hour, civil.minute, civil.second
    );
    out
}
