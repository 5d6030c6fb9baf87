//! Splitting and decoding a compact JWS, before any key is looked up.

use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::error::{clip, VerifyError};
use crate::jwk::Algorithm;

/// Room for the largest signature accepted, an RSA-8192 one (1024 bytes; base64's length
/// estimate asks for a little more).
const MAX_SIGNATURE: usize = 1032;

/// A token whose structure and header passed the checks; the signature is not verified yet.
pub(crate) struct Decoded<'t> {
    /// `base64url(header) "." base64url(payload)`, the bytes the signature covers.
    pub(crate) signing_input: &'t [u8],
    signature: [u8; MAX_SIGNATURE],
    signature_len: usize,
    pub(crate) alg: Algorithm,
    pub(crate) kid: String,
    /// The decoded payload (UTF-8, not parsed yet).
    pub(crate) payload: String,
}

impl Decoded<'_> {
    pub(crate) fn signature(&self) -> &[u8] {
        &self.signature[..self.signature_len]
    }
}

/// The header members this crate reads. Serde refuses a duplicated member, so a header
/// cannot say two things to two parsers.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(borrow)]
    kid: Option<Cow<'a, str>>,
    jwk: Option<IgnoredAny>,
    jku: Option<IgnoredAny>,
    x5u: Option<IgnoredAny>,
    x5c: Option<IgnoredAny>,
    crit: Option<IgnoredAny>,
}

pub(crate) fn decode(token: &str, max_size: usize) -> Result<Decoded<'_>, VerifyError> {
    if token.len() > max_size {
        return Err(VerifyError::TooLarge {
            size: token.len(),
            max: max_size,
        });
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed(
            "a JWS has three dot-separated parts",
        ));
    };

    // Headers are small: decode on the stack unless this one is not.
    let mut stack = [0u8; 512];
    let heap;
    let header_bytes: &[u8] = match URL_SAFE_NO_PAD.decode_slice(header_b64, &mut stack) {
        Ok(len) => &stack[..len],
        Err(base64::DecodeSliceError::OutputSliceTooSmall) => {
            heap = URL_SAFE_NO_PAD
                .decode(header_b64)
                .map_err(|_| VerifyError::Malformed("the header is not base64url"))?;
            &heap
        }
        Err(_) => return Err(VerifyError::Malformed("the header is not base64url")),
    };
    let header: Header<'_> = serde_json::from_slice(header_bytes)
        .map_err(|_| VerifyError::Malformed("the header is not a JWS header object"))?;
    let alg = Algorithm::from_jose(&header.alg)
        .ok_or_else(|| VerifyError::UnsupportedAlgorithm(clip(&header.alg)))?;
    // RFC 8725 3.10 / RFC 7515 4.1: keys come from the configured issuer only, never from
    // the token; unknown critical extensions must be refused.
    for (present, name) in [
        (header.jwk.is_some(), "jwk"),
        (header.jku.is_some(), "jku"),
        (header.x5u.is_some(), "x5u"),
        (header.x5c.is_some(), "x5c"),
        (header.crit.is_some(), "crit"),
    ] {
        if present {
            return Err(VerifyError::ForbiddenHeader(name));
        }
    }
    let kid = match header.kid {
        Some(kid) if !kid.is_empty() => kid.into_owned(),
        _ => return Err(VerifyError::MissingKid),
    };

    // Checked after the header, so that an `alg: none` token (empty signature) is refused
    // as what it is.
    if payload_b64.is_empty() || signature_b64.is_empty() {
        return Err(VerifyError::Malformed("a part of the token is empty"));
    }
    let payload = URL_SAFE_NO_PAD
        .decode(payload_b64)
        .map_err(|_| VerifyError::Malformed("the payload is not base64url"))?;
    let payload = String::from_utf8(payload)
        .map_err(|_| VerifyError::Malformed("the payload is not UTF-8"))?;
    let mut signature = [0u8; MAX_SIGNATURE];
    let signature_len = URL_SAFE_NO_PAD
        .decode_slice(signature_b64, &mut signature)
        .map_err(|e| match e {
            base64::DecodeSliceError::OutputSliceTooSmall => {
                VerifyError::Malformed("the signature is too long")
            }
            _ => VerifyError::Malformed("the signature is not base64url"),
        })?;

    let signing_input = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
    Ok(Decoded {
        signing_input,
        signature,
        signature_len,
        alg,
        kid,
        payload,
    })
}
