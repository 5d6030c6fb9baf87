//! Password hashes brought from other systems (issue 16): bcrypt, scrypt (plain and
//! Firebase's variant), PBKDF2 (as Django and Keycloak store it, and in PHC form) and argon2
//! of any variant. tessera never writes them: an imported user's first sign-in with a password
//! checks the old hash, then the password is hashed again with argon2id and gets its SRP
//! verifier (see `tessera_idp`'s sign-in), so each of these is read at most once per user.
//!
//! Every hash is kept in the user's `password_hash` as one string, in the form [`ImportedHash`]
//! parses:
//!
//! | scheme | stored form |
//! |---|---|
//! | bcrypt | `$2a$`, `$2b$`, `$2x$` or `$2y$` modular crypt, as bcrypt libraries write it |
//! | argon2 | PHC `$argon2id$…`, `$argon2i$…`, `$argon2d$…` |
//! | scrypt | PHC `$scrypt$ln=14,r=8,p=1$<salt>$<hash>` |
//! | Firebase scrypt | `$firebase-scrypt$ln=<mem_cost>,r=<rounds>,s=<salt separator>,k=<signer key>$<salt>$<hash>` |
//! | PBKDF2 | PHC `$pbkdf2-sha256$i=<iterations>$<salt>$<hash>` (also `-sha1`, `-sha512`) |
//! | Django | `pbkdf2_sha256$<iterations>$<salt>$<hash>` (also `pbkdf2_sha1`), as Django stores it |
//!
//! Binary fields are Base64 (standard alphabet, padding optional, `.` read as `+` as passlib
//! writes it); Django's salt is text and is used as its UTF-8 bytes, as Django does.
//!
//! A stored hash is trusted data, but a corrupted or tampered row must not make one sign-in
//! run for minutes or allocate gigabytes: each scheme's cost is bounded, and a hash beyond
//! the bound never verifies.

use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey, AES_256};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::pbkdf2;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use std::num::NonZeroU32;

/// The highest bcrypt cost verified: 2^16 rounds take seconds already.
const MAX_BCRYPT_COST: u32 = 16;
/// The most memory an scrypt hash may ask for (128 · r · 2^ln bytes).
const MAX_SCRYPT_MEMORY: u64 = 256 * 1024 * 1024;
/// The most scrypt lanes verified.
const MAX_SCRYPT_PARALLELISM: u32 = 16;
/// The most PBKDF2 iterations verified (Django 6 uses 1,200,000 for SHA-256).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// The most argon2 memory (KiB), passes and lanes verified.
const MAX_ARGON2_MEMORY_KIB: u32 = 256 * 1024;
const MAX_ARGON2_ITERATIONS: u32 = 16;
const MAX_ARGON2_PARALLELISM: u32 = 16;

/// Base64 with the standard alphabet, padded or not.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The digest of a PBKDF2 hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pbkdf2Digest {
    Sha1,
    Sha256,
    Sha512,
}

impl Pbkdf2Digest {
    fn algorithm(self) -> pbkdf2::Algorithm {
        match self {
            Self::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
            Self::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Self::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }

    fn phc_name(self) -> &'static str {
        match self {
            Self::Sha1 => "pbkdf2-sha1",
            Self::Sha256 => "pbkdf2-sha256",
            Self::Sha512 => "pbkdf2-sha512",
        }
    }

    /// The digest Keycloak's `algorithm` names (`pbkdf2` is its original SHA-1 provider).
    pub fn of_keycloak(name: &str) -> Option<Self> {
        match name {
            "pbkdf2" => Some(Self::Sha1),
            "pbkdf2-sha256" => Some(Self::Sha256),
            "pbkdf2-sha512" => Some(Self::Sha512),
            _ => None,
        }
    }
}

/// A password hash of another system, as stored.
#[derive(Clone, PartialEq, Eq)]
pub enum ImportedHash {
    /// A bcrypt modular-crypt string, kept as written.
    Bcrypt(String),
    /// An argon2 PHC string of any variant, kept as written.
    Argon2(String),
    /// Standard scrypt (RFC 7914), its output compared whole.
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    /// Firebase Authentication's scrypt: the first 32 bytes of
    /// scrypt(password, salt ‖ separator, N = 2^mem_cost, r = rounds, p = 1, 64 bytes) are an
    /// AES-256-CTR key (zero IV) that encrypts the project's signer key; the ciphertext is
    /// the hash.
    FirebaseScrypt {
        mem_cost: u8,
        rounds: u32,
        salt_separator: Vec<u8>,
        signer_key: Vec<u8>,
        salt: Vec<u8>,
        hash: Vec<u8>,
    },
    /// PBKDF2-HMAC, its output as long as the stored hash. `django` keeps Django's own form
    /// (text salt) when it is written back.
    Pbkdf2 {
        digest: Pbkdf2Digest,
        iterations: u32,
        salt: Vec<u8>,
        hash: Vec<u8>,
        django: bool,
    },
}

impl std::fmt::Debug for ImportedHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is as good as the password to an offline guesser: only the scheme shows.
        f.write_str(match self {
            Self::Bcrypt(_) => "ImportedHash::Bcrypt",
            Self::Argon2(_) => "ImportedHash::Argon2",
            Self::Scrypt { .. } => "ImportedHash::Scrypt",
            Self::FirebaseScrypt { .. } => "ImportedHash::FirebaseScrypt",
            Self::Pbkdf2 { .. } => "ImportedHash::Pbkdf2",
        })
    }
}

/// Why a hash could not be read, for the import's report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnreadableHash(pub &'static str);

fn decode(field: &str, what: &'static str) -> Result<Vec<u8>, UnreadableHash> {
    let field = field.replace('.', "+");
    let bytes = BASE64
        .decode(field.as_bytes())
        .map_err(|_| UnreadableHash(what))?;
    if bytes.is_empty() {
        return Err(UnreadableHash(what));
    }
    Ok(bytes)
}

/// The `name=value` parameters of a PHC string's parameter field.
fn params(field: &str) -> impl Iterator<Item = (&str, &str)> {
    field.split(',').filter_map(|pair| pair.split_once('='))
}

fn number<T: std::str::FromStr>(
    value: Option<&str>,
    what: &'static str,
) -> Result<T, UnreadableHash> {
    value
        .and_then(|value| value.parse().ok())
        .ok_or(UnreadableHash(what))
}

impl ImportedHash {
    /// Reads a stored hash (the forms in the module's table), its cost within the bounds.
    pub fn parse(stored: &str) -> Result<Self, UnreadableHash> {
        if let Some(rest) = stored.strip_prefix("pbkdf2_") {
            return Self::parse_django(rest);
        }
        let fields: Vec<&str> = stored.split('$').collect();
        let scheme = fields.get(1).copied().unwrap_or("");
        match scheme {
            "2a" | "2b" | "2x" | "2y" => {
                let cost: u32 = number(fields.get(2).copied(), "bcrypt cost")?;
                if !(4..=MAX_BCRYPT_COST).contains(&cost)
                    || fields.len() != 4
                    || fields[3].len() != 53
                {
                    return Err(UnreadableHash("bcrypt hash"));
                }
                Ok(Self::Bcrypt(stored.to_owned()))
            }
            "argon2id" | "argon2i" | "argon2d" => {
                let hash =
                    argon2::PasswordHash::new(stored).map_err(|_| UnreadableHash("argon2 hash"))?;
                let params = argon2::Params::try_from(&hash)
                    .map_err(|_| UnreadableHash("argon2 parameters"))?;
                if params.m_cost() > MAX_ARGON2_MEMORY_KIB
                    || params.t_cost() > MAX_ARGON2_ITERATIONS
                    || params.p_cost() > MAX_ARGON2_PARALLELISM
                    || hash.salt.is_none()
                    || hash.hash.is_none()
                {
                    return Err(UnreadableHash("argon2 hash"));
                }
                Ok(Self::Argon2(stored.to_owned()))
            }
            "scrypt" if fields.len() == 5 => {
                let (mut log_n, mut r, mut p) = (None, None, None);
                for (name, value) in params(fields[2]) {
                    match name {
                        "ln" => log_n = Some(value),
                        "r" => r = Some(value),
                        "p" => p = Some(value),
                        _ => return Err(UnreadableHash("scrypt parameters")),
                    }
                }
                let (log_n, r, p) = (
                    number(log_n, "scrypt ln")?,
                    number(r, "scrypt r")?,
                    number(p, "scrypt p")?,
                );
                scrypt_bounds(log_n, r, p)?;
                Ok(Self::Scrypt {
                    log_n,
                    r,
                    p,
                    salt: decode(fields[3], "scrypt salt")?,
                    hash: decode(fields[4], "scrypt hash")?,
                })
            }
            "firebase-scrypt" if fields.len() == 5 => {
                let (mut log_n, mut r, mut separator, mut key) = (None, None, None, None);
                for (name, value) in params(fields[2]) {
                    match name {
                        "ln" => log_n = Some(value),
                        "r" => r = Some(value),
                        "s" => separator = Some(value),
                        "k" => key = Some(value),
                        _ => return Err(UnreadableHash("Firebase scrypt parameters")),
                    }
                }
                let (mem_cost, rounds) = (
                    number(log_n, "Firebase mem_cost")?,
                    number(r, "Firebase rounds")?,
                );
                scrypt_bounds(mem_cost, rounds, 1)?;
                Ok(Self::FirebaseScrypt {
                    mem_cost,
                    rounds,
                    // Firebase's separator is one byte (`Bw==`), but any length is read.
                    salt_separator: match separator {
                        Some("") | None => Vec::new(),
                        Some(value) => decode(value, "Firebase salt separator")?,
                    },
                    signer_key: decode(key.unwrap_or(""), "Firebase signer key")?,
                    salt: decode(fields[3], "Firebase salt")?,
                    hash: decode(fields[4], "Firebase hash")?,
                })
            }
            "pbkdf2-sha1" | "pbkdf2-sha256" | "pbkdf2-sha512" if fields.len() == 5 => {
                let digest = match scheme {
                    "pbkdf2-sha1" => Pbkdf2Digest::Sha1,
                    "pbkdf2-sha256" => Pbkdf2Digest::Sha256,
                    _ => Pbkdf2Digest::Sha512,
                };
                let mut iterations = None;
                for (name, value) in params(fields[2]) {
                    match name {
                        "i" => iterations = Some(value),
                        // passlib writes `l` (the output length) in some forms; the stored
                        // hash's own length says the same.
                        "l" => {}
                        _ => return Err(UnreadableHash("PBKDF2 parameters")),
                    }
                }
                let iterations = number(iterations, "PBKDF2 iterations")?;
                pbkdf2_bounds(iterations)?;
                Ok(Self::Pbkdf2 {
                    digest,
                    iterations,
                    salt: decode(fields[3], "PBKDF2 salt")?,
                    hash: decode(fields[4], "PBKDF2 hash")?,
                    django: false,
                })
            }
            _ => Err(UnreadableHash("unknown hash scheme")),
        }
    }

    /// Django's `pbkdf2_sha256$<iterations>$<salt>$<hash>` after its `pbkdf2_`.
    fn parse_django(rest: &str) -> Result<Self, UnreadableHash> {
        let fields: Vec<&str> = rest.split('$').collect();
        let [digest, iterations, salt, hash] = fields[..] else {
            return Err(UnreadableHash("Django hash"));
        };
        let digest = match digest {
            "sha1" => Pbkdf2Digest::Sha1,
            "sha256" => Pbkdf2Digest::Sha256,
            _ => return Err(UnreadableHash("Django hash algorithm")),
        };
        let iterations = number(Some(iterations), "Django iterations")?;
        pbkdf2_bounds(iterations)?;
        if salt.is_empty() {
            return Err(UnreadableHash("Django salt"));
        }
        Ok(Self::Pbkdf2 {
            digest,
            iterations,
            salt: salt.as_bytes().to_vec(),
            hash: decode(hash, "Django hash")?,
            django: true,
        })
    }

    /// The stored form (the module's table), which [`ImportedHash::parse`] reads back.
    pub fn to_stored(&self) -> String {
        match self {
            Self::Bcrypt(stored) | Self::Argon2(stored) => stored.clone(),
            Self::Scrypt {
                log_n,
                r,
                p,
                salt,
                hash,
            } => format!(
                "$scrypt$ln={log_n},r={r},p={p}${}${}",
                BASE64.encode(salt),
                BASE64.encode(hash)
            ),
            Self::FirebaseScrypt {
                mem_cost,
                rounds,
                salt_separator,
                signer_key,
                salt,
                hash,
            } => format!(
                "$firebase-scrypt$ln={mem_cost},r={rounds},s={},k={}${}${}",
                BASE64.encode(salt_separator),
                BASE64.encode(signer_key),
                BASE64.encode(salt),
                BASE64.encode(hash)
            ),
            Self::Pbkdf2 {
                digest,
                iterations,
                salt,
                hash,
                django: true,
            } => format!(
                "pbkdf2_{}${iterations}${}${}",
                if *digest == Pbkdf2Digest::Sha1 {
                    "sha1"
                } else {
                    "sha256"
                },
                String::from_utf8_lossy(salt),
                base64::engine::general_purpose::STANDARD.encode(hash)
            ),
            Self::Pbkdf2 {
                digest,
                iterations,
                salt,
                hash,
                django: false,
            } => format!(
                "${}$i={iterations}${}${}",
                digest.phc_name(),
                BASE64.encode(salt),
                BASE64.encode(hash)
            ),
        }
    }

    /// True when `password` produces this hash; the outputs are compared in constant time.
    pub fn verify(&self, password: &str) -> bool {
        match self {
            Self::Bcrypt(stored) => bcrypt::verify(password, stored).unwrap_or(false),
            Self::Argon2(stored) => {
                use argon2::PasswordVerifier as _;
                let Ok(hash) = argon2::PasswordHash::new(stored) else {
                    return false;
                };
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &hash)
                    .is_ok()
            }
            Self::Scrypt {
                log_n,
                r,
                p,
                salt,
                hash,
            } => {
                let Ok(params) = scrypt::Params::new(*log_n, *r, *p) else {
                    return false;
                };
                let mut output = vec![0u8; hash.len()];
                scrypt::scrypt(password.as_bytes(), salt, &params, &mut output).is_ok()
                    && verify_slices_are_equal(&output, hash).is_ok()
            }
            Self::FirebaseScrypt {
                mem_cost,
                rounds,
                salt_separator,
                signer_key,
                salt,
                hash,
            } => firebase_hash(
                password,
                *mem_cost,
                *rounds,
                salt_separator,
                signer_key,
                salt,
            )
            .is_some_and(|output| verify_slices_are_equal(&output, hash).is_ok()),
            Self::Pbkdf2 {
                digest,
                iterations,
                salt,
                hash,
                ..
            } => NonZeroU32::new(*iterations).is_some_and(|iterations| {
                pbkdf2::verify(
                    digest.algorithm(),
                    iterations,
                    salt,
                    password.as_bytes(),
                    hash,
                )
                .is_ok()
            }),
        }
    }
}

fn scrypt_bounds(log_n: u8, r: u32, p: u32) -> Result<(), UnreadableHash> {
    let memory = 128u64
        .saturating_mul(u64::from(r))
        .saturating_mul(1u64.checked_shl(u32::from(log_n)).unwrap_or(u64::MAX));
    if log_n == 0
        || log_n >= 32
        || r == 0
        || p == 0
        || p > MAX_SCRYPT_PARALLELISM
        || memory > MAX_SCRYPT_MEMORY
    {
        return Err(UnreadableHash("scrypt cost out of bounds"));
    }
    Ok(())
}

fn pbkdf2_bounds(iterations: u32) -> Result<(), UnreadableHash> {
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        return Err(UnreadableHash("PBKDF2 iterations out of bounds"));
    }
    Ok(())
}

/// Firebase's hash of `password` (see [`ImportedHash::FirebaseScrypt`]).
pub fn firebase_hash(
    password: &str,
    mem_cost: u8,
    rounds: u32,
    salt_separator: &[u8],
    signer_key: &[u8],
    salt: &[u8],
) -> Option<Vec<u8>> {
    let params = scrypt::Params::new(mem_cost, rounds, 1).ok()?;
    let mut derived = [0u8; 64];
    let salted = [salt, salt_separator].concat();
    scrypt::scrypt(password.as_bytes(), &salted, &params, &mut derived).ok()?;
    let key = UnboundCipherKey::new(&AES_256, &derived[..32]).ok()?;
    let key = EncryptingKey::ctr(key).ok()?;
    let mut output = signer_key.to_vec();
    key.less_safe_encrypt(&mut output, EncryptionContext::Iv128([0u8; 16].into()))
        .ok()?;
    Some(output)
}
