//! JSON Web Keys: parsing a JWKS document into ready-to-use public keys.
//!
//! Each key is parsed into an aws-lc-rs `ParsedPublicKey` once, when the document is loaded,
//! and fixes its algorithm: an RSA key verifies RS256 and nothing else, an EC P-256 key
//! ES256. Symmetric (`oct`) keys, encryption keys, RSA keys under 2048 bits and algorithms
//! this crate does not implement are skipped, never used.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{
    ParsedPublicKey, RsaPublicKeyComponents, ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256,
};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde::Deserialize;

/// The most keys taken from one JWKS document; the rest are ignored.
const MAX_KEYS: usize = 64;

/// A signature algorithm this crate verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (what Cognito and tessera sign with).
    RS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
}

impl Algorithm {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::ES256 => "ES256",
        }
    }

    pub(crate) fn from_jose(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Algorithm::RS256),
            "ES256" => Some(Algorithm::ES256),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One verification key: its algorithm and the parsed public key.
pub(crate) struct Key {
    pub(crate) alg: Algorithm,
    key: ParsedPublicKey,
}

impl Key {
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").field("alg", &self.alg).finish()
    }
}

/// The keys of one issuer, by `kid`.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: HashMap<String, Arc<Key>>,
}

impl KeySet {
    pub(crate) fn get(&self, kid: &str) -> Option<&Arc<Key>> {
        self.keys.get(kid)
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

/// base64url as JWKS documents use it: without padding, though some publishers pad.
const JWK_B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: Option<String>,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Parses a JWKS document. Unusable keys are skipped (and logged at debug); the document
/// itself must be a JSON object with a `keys` array.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<KeySet, String> {
    let document: Document = serde_json::from_slice(body)
        .map_err(|e| format!("not a JWKS document (a JSON object with a keys array): {e}"))?;
    let mut keys = HashMap::new();
    for value in document.keys.into_iter().take(MAX_KEYS) {
        let raw: RawJwk = match serde_json::from_value(value) {
            Ok(raw) => raw,
            Err(error) => {
                tracing::debug!(%error, "skipping a JWK that is not an object of strings");
                continue;
            }
        };
        let Some(kid) = raw.kid.clone() else {
            tracing::debug!("skipping a JWK without kid");
            continue;
        };
        match parse_key(&raw) {
            Ok(key) => match keys.entry(kid) {
                Entry::Occupied(entry) => {
                    tracing::warn!(kid = %crate::error::clip(entry.key()), "JWKS has two keys with the same kid; keeping the first");
                }
                Entry::Vacant(entry) => {
                    entry.insert(Arc::new(key));
                }
            },
            Err(reason) => {
                tracing::debug!(kid = %crate::error::clip(&kid), reason, "skipping a JWK");
            }
        }
    }
    Ok(KeySet { keys })
}

fn parse_key(raw: &RawJwk) -> Result<Key, &'static str> {
    if raw.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err("use is not sig");
    }
    if let Some(ops) = &raw.key_ops {
        if !ops.iter().any(|op| op == "verify") {
            return Err("key_ops does not include verify");
        }
    }
    match raw.kty.as_deref() {
        Some("RSA") => {
            if raw.alg.as_deref().is_some_and(|a| a != "RS256") {
                return Err("RSA key for an algorithm other than RS256");
            }
            let n = decode_uint(raw.n.as_deref().ok_or("RSA key without n")?)?;
            let e = decode_uint(raw.e.as_deref().ok_or("RSA key without e")?)?;
            let bits = bit_length(&n);
            if !(2048..=8192).contains(&bits) {
                return Err("RSA modulus is not 2048 to 8192 bits");
            }
            if e.len() > 4 {
                return Err("RSA exponent too large");
            }
            let key = RsaPublicKeyComponents { n: &n, e: &e }
                .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
                .map_err(|_| "RSA key rejected")?;
            Ok(Key {
                alg: Algorithm::RS256,
                key,
            })
        }
        Some("EC") => {
            if raw.crv.as_deref() != Some("P-256") {
                return Err("EC key not on P-256");
            }
            if raw.alg.as_deref().is_some_and(|a| a != "ES256") {
                return Err("P-256 key for an algorithm other than ES256");
            }
            let x = JWK_B64
                .decode(raw.x.as_deref().ok_or("EC key without x")?)
                .map_err(|_| "EC x is not base64url")?;
            let y = JWK_B64
                .decode(raw.y.as_deref().ok_or("EC key without y")?)
                .map_err(|_| "EC y is not base64url")?;
            if x.len() != 32 || y.len() != 32 {
                return Err("EC coordinates are not 32 bytes");
            }
            let mut point = Vec::with_capacity(65);
            point.push(0x04);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            let key = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
                .map_err(|_| "EC point rejected")?;
            Ok(Key {
                alg: Algorithm::ES256,
                key,
            })
        }
        Some(_) => Err("unsupported kty (symmetric and OKP keys are never used)"),
        None => Err("no kty"),
    }
}

/// A Base64urlUInt, with any leading zero bytes removed.
fn decode_uint(text: &str) -> Result<Vec<u8>, &'static str> {
    let bytes = JWK_B64
        .decode(text)
        .map_err(|_| "RSA component is not base64url")?;
    let start = bytes
        .iter()
        .position(|&b| b != 0)
        .ok_or("RSA component is zero")?;
    Ok(bytes[start..].to_vec())
}

fn bit_length(magnitude: &[u8]) -> usize {
    match magnitude.first() {
        Some(&top) => magnitude.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    }
}
