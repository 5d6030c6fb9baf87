//! Issuing credentials and opening their session token.
//!
//! The token is `tsc1.` followed by the unpadded base64url of a 12-byte nonce and the
//! AES-256-GCM sealing of the session's JSON under the session key, with a fixed associated
//! data naming the format. Everything a service needs is inside, so no service asks tessera
//! about a token, and any node of tessera can issue one that every service opens.

use std::collections::BTreeMap;
use std::fmt;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::digest;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::{Error, Policy};

/// What every token starts with. The version lets a later format live beside this one while
/// old tokens expire; a token of an unknown version is simply invalid.
const TOKEN_PREFIX: &str = "tsc1.";

/// Bound to every sealing, so that nothing else sealed under the same key (were the key ever
/// reused) opens as a session, and the format version is authenticated as well as the content.
const ASSOCIATED_DATA: &[u8] = b"tessera-credentials session v1";

/// The AES-GCM tag length.
const TAG_LEN: usize = 16;

/// Real tokens are a few kilobytes; anything far longer is refused before it is decoded, so a
/// hostile header cannot make a service allocate much.
const MAX_TOKEN_LEN: usize = 64 * 1024;

/// AWS's temporary access key ids start with `ASIA`.
const ACCESS_KEY_PREFIX: &str = "ASIA";

/// The random bytes behind the 16 base32 characters after `ASIA`.
const ACCESS_KEY_ENTROPY: usize = 10;
/// The random bytes behind a 40-character base64 secret, the length of AWS's.
const SECRET_ENTROPY: usize = 30;

/// The RFC 4648 base32 alphabet, which AWS's key ids are written in.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// The key session tokens are sealed with: 32 bytes, which tessera derives from its master key
/// and hands to every service that checks credentials (`tessera credentials session-key`).
#[derive(Clone)]
pub struct SessionKey {
    bytes: [u8; 32],
}

impl SessionKey {
    /// The key of these 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> SessionKey {
        SessionKey { bytes }
    }

    /// The key from its standard base64 form (as [`SessionKey::to_base64`] writes it;
    /// surrounding whitespace, such as the newline a file ends with, is ignored).
    pub fn from_base64(text: &str) -> Result<SessionKey, Error> {
        let decoded = STANDARD
            .decode(text.trim())
            .map_err(|_| Error::InvalidSessionKey)?;
        let bytes =
            <[u8; 32]>::try_from(decoded.as_slice()).map_err(|_| Error::InvalidSessionKey)?;
        Ok(SessionKey { bytes })
    }

    /// The key in standard base64, 44 characters.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.bytes)
    }

    fn aead(&self) -> LessSafeKey {
        // Only a key of the wrong length is refused, and this one is 32 bytes by its type.
        LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.bytes).expect("32 bytes is an AES-256 key"),
        )
    }
}

/// The key is a secret: it never appears in logs.
impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// The random bytes new credentials are made of, which the caller draws: 10 for the access key
/// id, 30 for the secret and 12 for the token's nonce, in that order.
#[derive(Clone)]
pub struct Entropy {
    bytes: [u8; Entropy::LEN],
}

impl Entropy {
    /// How many random bytes one set of credentials takes.
    pub const LEN: usize = ACCESS_KEY_ENTROPY + SECRET_ENTROPY + NONCE_LEN;

    /// The entropy of these bytes, which must come from a cryptographic random source: the
    /// secret is made of them, and a nonce repeated under one key would break AES-GCM.
    pub fn from_bytes(bytes: [u8; Entropy::LEN]) -> Entropy {
        Entropy { bytes }
    }

    fn access_key(&self) -> &[u8] {
        &self.bytes[..ACCESS_KEY_ENTROPY]
    }

    fn secret(&self) -> &[u8] {
        &self.bytes[ACCESS_KEY_ENTROPY..ACCESS_KEY_ENTROPY + SECRET_ENTROPY]
    }

    fn nonce(&self) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&self.bytes[ACCESS_KEY_ENTROPY + SECRET_ENTROPY..]);
        nonce
    }
}

/// The bytes become a secret: they never appear in logs.
impl fmt::Debug for Entropy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Entropy(<redacted>)")
    }
}

/// What tessera states about the credentials it issues: everything in a [`Session`] but the
/// access key id and the secret, which [`issue`] makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// The Cognito identity, `<region>:<uuid>`.
    pub identity_id: String,
    /// The identity pool, `<region>:<uuid>`.
    pub identity_pool_id: String,
    /// The role the credentials act as.
    pub role_arn: String,
    /// The role session name (Cognito's is `CognitoIdentityCredentials`).
    pub role_session_name: String,
    /// The 12-digit account the role belongs to.
    pub account: String,
    /// When the credentials were issued, in seconds since the Unix epoch.
    pub issued_at: u64,
    /// When they stop working, in seconds since the Unix epoch.
    pub expires_at: u64,
    /// How the identity authenticated: Cognito's `amr` (`authenticated` or `unauthenticated`,
    /// then the login providers).
    pub amr: Vec<String>,
    /// The principal tags, `aws:PrincipalTag/<key>` in policies.
    pub principal_tags: BTreeMap<String, String>,
    /// The role's policy documents, so that any service evaluates them without asking tessera.
    pub policies: Vec<Policy>,
    /// Who issued the credentials, for the services' logs; tessera writes `tessera`.
    pub source: String,
}

/// Everything a session token states: who the credentials belong to, what they may do and
/// until when, and the secret that signs with them. Unknown fields are ignored when a token
/// is opened, so that a newer tessera may add some while older services still open its tokens.
/// It has no `PartialEq`, which would compare the secret in variable time.
#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    /// `ASIA` and 16 base32 characters.
    pub access_key_id: String,
    /// 40 base64 characters.
    pub secret_access_key: String,
    /// See [`SessionClaims::identity_id`].
    pub identity_id: String,
    /// See [`SessionClaims::identity_pool_id`].
    pub identity_pool_id: String,
    /// See [`SessionClaims::role_arn`].
    pub role_arn: String,
    /// See [`SessionClaims::role_session_name`].
    pub role_session_name: String,
    /// See [`SessionClaims::account`].
    pub account: String,
    /// See [`SessionClaims::issued_at`].
    pub issued_at: u64,
    /// See [`SessionClaims::expires_at`].
    pub expires_at: u64,
    /// See [`SessionClaims::amr`].
    pub amr: Vec<String>,
    /// See [`SessionClaims::principal_tags`].
    pub principal_tags: BTreeMap<String, String>,
    /// See [`SessionClaims::policies`].
    pub policies: Vec<Policy>,
    /// See [`SessionClaims::source`].
    pub source: String,
}

impl Session {
    /// The role's unique id in AWS's form (`AROA` and 17 characters), for `aws:userid`, which
    /// AWS writes `<role id>:<role session name>` for a web identity. tessera keeps no role
    /// ids, so this one is derived from the role ARN: stable, and the same on every node.
    pub fn role_id(&self) -> String {
        role_id(&self.role_arn)
    }

    /// `aws:userid`: `<role id>:<role session name>`.
    pub fn user_id(&self) -> String {
        format!("{}:{}", self.role_id(), self.role_session_name)
    }
}

/// The secret never appears in logs.
impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("identity_id", &self.identity_id)
            .field("identity_pool_id", &self.identity_pool_id)
            .field("role_arn", &self.role_arn)
            .field("role_session_name", &self.role_session_name)
            .field("account", &self.account)
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("amr", &self.amr)
            .field("principal_tags", &self.principal_tags)
            .field("policies", &self.policies.len())
            .field("source", &self.source)
            .finish()
    }
}

/// The unique id of the role `role_arn` in AWS's form (`AROA` and 17 characters). tessera
/// keeps no role ids, so it is derived from the ARN: stable, and the same on every node.
pub fn role_id(role_arn: &str) -> String {
    let hash = digest::digest(
        &digest::SHA256,
        format!("tessera role id\0{role_arn}").as_bytes(),
    );
    let mut id = String::from("AROA");
    id.extend(base32(&hash.as_ref()[..15]).chars().take(17));
    id
}

/// What GetCredentialsForIdentity returns: the three strings an SDK signs with and the time
/// they stop working. It has no `PartialEq`, which would compare the secret in variable time.
#[derive(Clone)]
pub struct Credentials {
    /// `ASIA` and 16 base32 characters, 20 in all, like AWS's temporary key ids.
    pub access_key_id: String,
    /// 40 base64 characters, like AWS's secrets.
    pub secret_access_key: String,
    /// The sealed session, sent by clients as `x-amz-security-token`.
    pub session_token: String,
    /// When the credentials stop working, in seconds since the Unix epoch.
    pub expiration: u64,
}

/// The secret and the token (which would let anyone holding it sign as the identity, with the
/// secret) never appear in logs.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// Issues credentials for `claims`: an access key id and a secret made of `entropy`, and the
/// session sealed under `key` as the token.
pub fn issue(key: &SessionKey, claims: SessionClaims, entropy: &Entropy) -> Credentials {
    let access_key_id = format!("{ACCESS_KEY_PREFIX}{}", base32(entropy.access_key()));
    let secret_access_key = STANDARD.encode(entropy.secret());
    let expiration = claims.expires_at;
    let session = Session {
        access_key_id: access_key_id.clone(),
        secret_access_key: secret_access_key.clone(),
        identity_id: claims.identity_id,
        identity_pool_id: claims.identity_pool_id,
        role_arn: claims.role_arn,
        role_session_name: claims.role_session_name,
        account: claims.account,
        issued_at: claims.issued_at,
        expires_at: claims.expires_at,
        amr: claims.amr,
        principal_tags: claims.principal_tags,
        policies: claims.policies,
        source: claims.source,
    };
    // A struct of strings, numbers, string-keyed maps and JSON values always serializes.
    let mut sealed = serde_json::to_vec(&session).expect("a session serializes to JSON");
    let nonce = entropy.nonce();
    key.aead()
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(ASSOCIATED_DATA),
            &mut sealed,
        )
        .expect("AES-GCM seals any text shorter than 64 GiB");
    let mut token_bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
    token_bytes.extend_from_slice(&nonce);
    token_bytes.extend_from_slice(&sealed);
    let mut session_token = String::from(TOKEN_PREFIX);
    URL_SAFE_NO_PAD.encode_string(&token_bytes, &mut session_token);
    Credentials {
        access_key_id,
        secret_access_key,
        session_token,
        expiration,
    }
}

/// Opens a session token with the first of `keys` that opens it: list the current key first,
/// then the previous ones, so that tokens issued before a rotation keep working until they
/// expire. Expiry is not checked here, since it needs the time; [`crate::Verifier::check`]
/// checks it.
pub fn open(keys: &[SessionKey], token: &str) -> Result<Session, Error> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Error::InvalidToken);
    }
    let encoded = token
        .strip_prefix(TOKEN_PREFIX)
        .ok_or(Error::InvalidToken)?;
    // The base64 engine refuses non-zero trailing bits, so that no two spellings of a token
    // decode to the same bytes: every character of a token matters.
    let sealed = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| Error::InvalidToken)?;
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(Error::InvalidToken);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let mut buffer = Vec::with_capacity(ciphertext.len());
    for key in keys {
        // A failed opening leaves the buffer in an unspecified state, so each key gets a copy.
        buffer.clear();
        buffer.extend_from_slice(ciphertext);
        let Ok(nonce) = Nonce::try_assume_unique_for_key(nonce) else {
            return Err(Error::InvalidToken);
        };
        if let Ok(plaintext) =
            key.aead()
                .open_in_place(nonce, Aad::from(ASSOCIATED_DATA), &mut buffer)
        {
            // Only tessera can have sealed this, so a session that does not parse was written
            // by a format this version does not understand.
            return serde_json::from_slice(plaintext).map_err(|_| Error::InvalidToken);
        }
    }
    Err(Error::InvalidToken)
}

/// RFC 4648 base32 without padding.
fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}
