//! The server side of Cognito's SRP-6a variant: `USER_SRP_AUTH` → `PASSWORD_VERIFIER`, and
//! the device variant (`DEVICE_SRP_AUTH` → `DEVICE_PASSWORD_VERIFIER`), which differs only in
//! the names fed into the hashes.
//!
//! Cognito's SRP is SRP-6a over the RFC 3526 3072-bit group with SHA-256, but every byte
//! layout is its own: big integers are hashed in their minimal two's-complement form (what
//! Java's `BigInteger.toByteArray()` gives), not padded to the length of `N`; `x` hashes the
//! pool name and the internal username; the session key is a 16-byte HKDF output; and the
//! client proves itself with an HMAC over the pool name, the username, the server's secret
//! block and a timestamp. Each of these choices is pinned by the vectors in `srp/tests.rs`,
//! which real clients (pycognito, amazon-cognito-identity-js, Amplify) reproduce bit for bit.
//!
//! The module keeps no state. Step 1 ([`srp_challenge`]) returns an [`SrpChallenge`] that the
//! caller seals into the `SECRET_BLOCK` (or otherwise keeps until step 2) and hands back to
//! [`verify_password_claim`]. Whether the secret block was issued by this server, is fresh and
//! unused, and whether the `TIMESTAMP` is close to the server clock are the caller's checks:
//! this module never sees the clock.
//!
//! The modular arithmetic is constant-time (crypto-bigint's Montgomery exponentiation), so the
//! time taken does not depend on the secret exponent `b` or on the password-derived `x`.

use std::fmt;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::{digest, hmac};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Choice, CtAssign, Odd, U3072};
use subtle::ConstantTimeEq;

use crate::Random;

/// The RFC 3526 3072-bit MODP prime `N`, as section 5.1 of the wire facts gives it.
const MODULUS_HEX: &str = concat!(
    "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74",
    "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437",
    "4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed",
    "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf05",
    "98da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb",
    "9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3b",
    "e39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf695581718",
    "3995497cea956ae515d2261898fa051015728e5a8aaac42dad33170d04507a33",
    "a85521abdf1cba64ecfb850458dbef0a8aea71575d060c7db3970f85a6e1e4c7",
    "abf5ae8cdb0933d71e8c94e04a25619dcee3d2261ad2ee6bf12ffa06d98a0864",
    "d87602733ec86a64521f2b18177b200cbbe117577a615d6c770988c0bad946e2",
    "08e24fa074e5ab3143db5bfce0fd108e4b82d120a93ad2caffffffffffffffff",
);

/// `N` as a fixed-size odd integer. The conversion runs at compile time, so a typo in the hex
/// (wrong length, a non-hex digit, an even number) fails the build instead of a request.
const MODULUS: Odd<U3072> = Odd::<U3072>::from_be_hex(MODULUS_HEX);

/// The width of `N` in bits and bytes; every group element is computed at this precision.
const GROUP_BITS: u32 = 3072;
const GROUP_BYTES: usize = 384;

/// The generator `g`.
const GENERATOR: u8 = 2;

/// The length of a fresh salt: 16 random bytes, like Cognito's.
const SALT_LEN: usize = 16;

/// The length of the server's secret exponent `b`. The wire facts ask for at least 256 bits;
/// more would only slow every sign-in down without adding security beyond SHA-256's.
const SECRET_EXPONENT_LEN: usize = 32;

/// The width of SHA-256 outputs (`x` and `u`) in bits, which bounds their use as exponents.
const DIGEST_BITS: u32 = 256;

/// How often [`srp_challenge`] redraws `b` before giving up. A good generator needs more than
/// one draw with probability around 2^-256; the bound only stops a broken generator (one that
/// returns zeros, say) from looping forever.
const MAX_DRAWS: usize = 16;

/// The HKDF info string with the single expand block's counter byte appended.
const DERIVED_KEY_INFO: &[u8] = b"Caldera Derived Key\x01";

/// The length of the derived session key `K`.
const DERIVED_KEY_LEN: usize = 16;

/// Base64 that accepts the padding or its absence, for values that clients produce
/// (ConfirmDevice's verifier and salt) where strictness would only reject honest clients.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// What can go wrong in SRP, apart from a wrong password (which is `Ok(false)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrpError {
    /// `SRP_A` is zero modulo `N` (0 or `N` itself) or not reduced below `N`. A client that
    /// sends such a value is attacking the protocol: `A = 0` would make the session key
    /// predictable. The edge treats it like a wrong proof.
    #[error("SRP_A is not a valid public value")]
    InvalidA,
    /// A stored or client-supplied verifier is zero or not below `N`.
    #[error("password verifier is out of range")]
    InvalidVerifier,
    /// The challenge handed back to step 2 has an empty, zero or oversized `b` or `B`, so it
    /// cannot have come from [`srp_challenge`].
    #[error("SRP challenge record is malformed")]
    InvalidChallenge,
    /// `TIMESTAMP` is not of the form `EEE MMM d HH:mm:ss z yyyy`. The edge answers
    /// `InvalidParameterException` "TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in
    /// english.".
    #[error("timestamp is not of the form EEE MMM d HH:mm:ss z yyyy")]
    Timestamp,
    /// The named parameter is not valid hex or base64.
    #[error("{0} is not correctly encoded")]
    Encoding(&'static str),
    /// The random source kept producing unusable secret exponents.
    #[error("random source produced no usable SRP secret")]
    Entropy,
}

/// What the server stores when a password is set: the salt and the verifier `v = g^x mod N`,
/// both as minimal big-endian unsigned bytes (no leading zero bytes, no sign byte).
///
/// Readers accept leading zero bytes, so values stored in another big-endian form still work.
/// `Debug` shows neither field: the verifier allows an offline dictionary attack on the
/// password, so it must not end up in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct SrpVerifier {
    /// The salt, sent to clients as `SALT` via [`to_hex`].
    pub salt: Vec<u8>,
    /// The verifier `v`.
    pub verifier: Vec<u8>,
}

impl fmt::Debug for SrpVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrpVerifier").finish_non_exhaustive()
    }
}

impl SrpVerifier {
    /// Computes a fresh salt and the verifier for a user:
    /// `x = H(enc(salt) | H(poolName | userIdForSrp | ":" | password))`, `v = g^x mod N`.
    ///
    /// `pool_name` is the part of the pool id after the first `_` (see [`srp_pool_name`]) and
    /// `user_id_for_srp` the internal username that later goes out as `USER_ID_FOR_SRP`.
    pub fn new(
        pool_name: &str,
        user_id_for_srp: &str,
        password: &str,
        random: &dyn Random,
    ) -> Self {
        let mut salt = [0u8; SALT_LEN];
        random.fill(&mut salt);
        Self::with_salt(pool_name, user_id_for_srp, password, &salt)
    }

    /// The verifier for a known salt: what [`SrpVerifier::new`] computes after drawing it.
    pub fn with_salt(pool_name: &str, user_id_for_srp: &str, password: &str, salt: &[u8]) -> Self {
        let x = private_key(pool_name, user_id_for_srp, password, salt);
        let verifier = generator_power(&x);
        Self {
            salt: minimal(salt).to_vec(),
            verifier: to_bytes(&verifier.retrieve()),
        }
    }

    /// Whether `password` is the one this verifier was computed from, for
    /// `USER_PASSWORD_AUTH` and `ADMIN_USER_PASSWORD_AUTH`, which send the password itself.
    /// The comparison is constant-time.
    pub fn matches_password(&self, pool_name: &str, user_id_for_srp: &str, password: &str) -> bool {
        let candidate = Self::with_salt(pool_name, user_id_for_srp, password, &self.salt);
        bool::from(candidate.verifier.as_slice().ct_eq(minimal(&self.verifier)))
    }

    /// Reads a device's `DeviceSecretVerifierConfig` from ConfirmDevice: `PasswordVerifier` and
    /// `Salt` are standard base64 of big-endian bytes, computed by the client as for a user but
    /// with `DeviceGroupKey` for the pool name, `DeviceKey` for the username and the client's
    /// random device password.
    pub fn from_device_config(
        password_verifier_b64: &str,
        salt_b64: &str,
    ) -> Result<Self, SrpError> {
        let verifier = LENIENT_BASE64
            .decode(password_verifier_b64)
            .map_err(|_| SrpError::Encoding("PasswordVerifier"))?;
        let salt = LENIENT_BASE64
            .decode(salt_b64)
            .map_err(|_| SrpError::Encoding("Salt"))?;
        let verifier = minimal(&verifier).to_vec();
        // A zero verifier would make the device's session key computable by anyone, so the
        // value is checked here rather than trusted because an authenticated client sent it.
        if verifier.is_empty() || !below_modulus(&verifier) {
            return Err(SrpError::InvalidVerifier);
        }
        Ok(Self {
            salt: minimal(&salt).to_vec(),
            verifier,
        })
    }
}

/// The server's half of one SRP exchange, created by [`srp_challenge`] and consumed by
/// [`verify_password_claim`]. `A` and `B` are minimal big-endian unsigned bytes; `b` keeps
/// the length it was drawn with (32 bytes, leading zeros included), because that length sets
/// how many exponent bits step 2 scans and so must not depend on the value.
///
/// The caller keeps it between the two requests, typically sealed inside the `SECRET_BLOCK`;
/// `b` is secret and must never reach the client. `Debug` leaves `b` out.
#[derive(Clone, PartialEq, Eq)]
pub struct SrpChallenge {
    /// The client's public value `A`, from `SRP_A`.
    pub big_a: Vec<u8>,
    /// The server's secret exponent `b`, big-endian.
    pub b: Vec<u8>,
    /// The server's public value `B = (k·v + g^b) mod N`, sent as `SRP_B` via [`to_hex`].
    pub big_b: Vec<u8>,
}

impl fmt::Debug for SrpChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrpChallenge")
            .field("big_a", &to_hex(&self.big_a))
            .field("big_b", &to_hex(&self.big_b))
            .finish_non_exhaustive()
    }
}

/// What the client sends in `RespondToAuthChallenge` for `PASSWORD_VERIFIER` (and
/// `DEVICE_PASSWORD_VERIFIER`), exactly as received.
#[derive(Debug, Clone, Copy)]
pub struct PasswordClaim<'a> {
    /// `PASSWORD_CLAIM_SECRET_BLOCK`: the base64 secret block the client echoes back.
    pub secret_block_b64: &'a str,
    /// `TIMESTAMP`, e.g. `Tue Sep 24 05:43:18 UTC 2019`.
    pub timestamp: &'a str,
    /// `PASSWORD_CLAIM_SIGNATURE`: base64 of the client's HMAC.
    pub signature_b64: &'a str,
}

/// The part of a user pool id that Cognito hashes as the pool name: everything after the first
/// `_` (`AbCdEf123` for `us-east-1_AbCdEf123`). Hashing the whole id breaks every client.
pub fn srp_pool_name(user_pool_id: &str) -> &str {
    user_pool_id
        .split_once('_')
        .map_or(user_pool_id, |(_, name)| name)
}

/// Server step 1 (InitiateAuth `USER_SRP_AUTH`, or `DEVICE_SRP_AUTH`): checks `SRP_A`, draws
/// the secret exponent `b` and computes `B = (k·v + g^b) mod N`.
///
/// `SRP_A` is read as unsigned hex in either case, leading zeros allowed; it must lie strictly
/// between 0 and `N`, since honest clients always send `g^a mod N`. A `b` that would make `B`
/// or the scrambler `u` zero is redrawn, because clients abort on a zero `B` and the proof
/// degenerates with a zero `u`.
pub fn srp_challenge(
    verifier: &SrpVerifier,
    big_a_hex: &str,
    random: &dyn Random,
) -> Result<SrpChallenge, SrpError> {
    let big_a = parse_public_hex(big_a_hex)?;
    for _ in 0..MAX_DRAWS {
        let mut b = [0u8; SECRET_EXPONENT_LEN];
        random.fill(&mut b);
        if minimal(&b).is_empty() {
            continue;
        }
        let challenge = challenge_with_secret(verifier, &big_a, &b)?;
        if !minimal(&challenge.big_b).is_empty() && !scrambler(&big_a, &challenge.big_b).is_empty()
        {
            return Ok(challenge);
        }
    }
    Err(SrpError::Entropy)
}

/// The challenge for a given `A` and `b`, with no check on `B`: the deterministic core of
/// [`srp_challenge`], separate so that tests can replay recorded transcripts.
fn challenge_with_secret(
    verifier: &SrpVerifier,
    big_a: &[u8],
    b: &[u8],
) -> Result<SrpChallenge, SrpError> {
    let group = &*GROUP;
    let v = group_element(&verifier.verifier).ok_or(SrpError::InvalidVerifier)?;
    let (b_value, b_bits) = secret_exponent(b).ok_or(SrpError::InvalidChallenge)?;
    let k_v = group.k.mul(&v);
    let g_b = group.g.pow_bounded_exp(&b_value, b_bits);
    let big_b = k_v.add(&g_b).retrieve();
    Ok(SrpChallenge {
        big_a: minimal(big_a).to_vec(),
        b: b.to_vec(),
        big_b: to_bytes(&big_b),
    })
}

/// Server step 2 (RespondToAuthChallenge `PASSWORD_VERIFIER`): recomputes the session key and
/// the expected `PASSWORD_CLAIM_SIGNATURE` and compares it, in constant time, with the claim.
///
/// For users, `pool_name` is the pool id after the first `_` and `user_id_for_srp` the
/// internal username sent as `USER_ID_FOR_SRP`. For devices (`DEVICE_PASSWORD_VERIFIER`) pass
/// the `DeviceGroupKey` and the `DeviceKey` instead, with the device's verifier.
///
/// The signature is `Base64(HMAC-SHA256(K, poolName | userIdForSrp | secretBlock | TIMESTAMP))`
/// with the secret block as raw bytes (base64-decoded), and
/// `K = HKDF-SHA256(salt = enc(u), ikm = enc(S), info = "Caldera Derived Key")[..16]`,
/// `S = (A·v^u)^b mod N`, `u = H(enc(A) | enc(B))`.
///
/// Returns `Ok(false)` for a wrong password, a signature that is not valid base64, and a
/// timestamp that parses but is not written canonically (zero-padded day, wrong weekday,
/// `GMT` for `UTC`): real Cognito signs its own rendering of the parsed time, so such a claim
/// fails as a wrong password there too. Errors are for malformed input: an unparseable
/// timestamp, a secret block that is not base64, or out-of-range values.
///
/// The caller still has to check that the secret block is one it issued, unexpired and unused,
/// and that the [`parse_timestamp`] instant is close to its clock; this function sees neither
/// the clock nor the record of used blocks.
pub fn verify_password_claim(
    pool_name: &str,
    user_id_for_srp: &str,
    verifier: &SrpVerifier,
    challenge: &SrpChallenge,
    claim: &PasswordClaim<'_>,
) -> Result<bool, SrpError> {
    let time = parse_timestamp(claim.timestamp)?;
    let secret_block = STANDARD
        .decode(claim.secret_block_b64)
        .map_err(|_| SrpError::Encoding("PASSWORD_CLAIM_SECRET_BLOCK"))?;
    let Some(key) = session_key(verifier, challenge)? else {
        return Ok(false);
    };
    if format_timestamp(time) != claim.timestamp {
        return Ok(false);
    }
    let expected = hmac_sha256(
        &key,
        &[
            pool_name.as_bytes(),
            user_id_for_srp.as_bytes(),
            &secret_block,
            claim.timestamp.as_bytes(),
        ],
    );
    let Ok(claimed) = STANDARD.decode(claim.signature_b64) else {
        return Ok(false);
    };
    Ok(bool::from(expected.as_slice().ct_eq(claimed.as_slice())))
}

/// The 16-byte session key `K` of a challenge, or `None` when the scrambler `u` is zero (which
/// [`srp_challenge`] never lets happen, so only a tampered record gets here).
fn session_key(
    verifier: &SrpVerifier,
    challenge: &SrpChallenge,
) -> Result<Option<Vec<u8>>, SrpError> {
    Ok(premaster_secret(verifier, challenge)?.map(|premaster| premaster.key()))
}

/// The two values the session key is derived from, as minimal bytes.
struct Premaster {
    /// The scrambler `u = H(enc(A) | enc(B))`, never zero.
    u: Vec<u8>,
    /// The premaster secret `S`.
    secret: Vec<u8>,
}

impl Premaster {
    fn key(&self) -> Vec<u8> {
        derive_key(&self.u, &self.secret)
    }
}

/// The scrambler `u` and the premaster secret `S = (A·v^u)^b mod N`, or `None` when `u` is
/// zero.
fn premaster_secret(
    verifier: &SrpVerifier,
    challenge: &SrpChallenge,
) -> Result<Option<Premaster>, SrpError> {
    let a = group_element(&challenge.big_a).ok_or(SrpError::InvalidA)?;
    let v = group_element(&verifier.verifier).ok_or(SrpError::InvalidVerifier)?;
    let (b, b_bits) = secret_exponent(&challenge.b).ok_or(SrpError::InvalidChallenge)?;
    if group_element(&challenge.big_b).is_none() {
        return Err(SrpError::InvalidChallenge);
    }
    let u = scrambler(&challenge.big_a, &challenge.big_b);
    if u.is_empty() {
        return Ok(None);
    }
    let v_u = v.pow_bounded_exp(&exponent(&u), DIGEST_BITS);
    let secret = a.mul(&v_u).pow_bounded_exp(&b, b_bits).retrieve();
    Ok(Some(Premaster {
        u,
        secret: to_bytes(&secret),
    }))
}

/// `K`: HKDF-SHA256 with `enc(u)` as the salt and `enc(S)` as the input key material, one
/// expand block, truncated to 16 bytes. Both values are minimal bytes here.
fn derive_key(u: &[u8], premaster: &[u8]) -> Vec<u8> {
    let prk = hmac_sha256(&enc(u), &[&enc(premaster)]);
    let mut key = hmac_sha256(&prk, &[DERIVED_KEY_INFO]);
    key.truncate(DERIVED_KEY_LEN);
    key
}

/// The scrambler `u = H(enc(A) | enc(B))` as minimal bytes; empty when it is zero.
fn scrambler(big_a: &[u8], big_b: &[u8]) -> Vec<u8> {
    minimal(&sha256(&[&enc(big_a), &enc(big_b)])).to_vec()
}

/// The password-derived private key `x = H(enc(salt) | H(poolName | I | ":" | password))`.
fn private_key(pool_name: &str, user_id_for_srp: &str, password: &str, salt: &[u8]) -> Vec<u8> {
    let inner = sha256(&[
        pool_name.as_bytes(),
        user_id_for_srp.as_bytes(),
        b":",
        password.as_bytes(),
    ]);
    sha256(&[&enc(salt), &inner])
}

/// The big-integer wire form of `SALT`, `SRP_B` (and `SRP_A`): lower-case hex without leading
/// zeros and without a sign byte, as Java's `BigInteger.toString(16)` writes it; zero is `0`.
/// Clients re-derive the hashed bytes from this text, so any other form (leading zeros
/// included) makes them disagree with the server.
pub fn to_hex(bytes: &[u8]) -> String {
    let text = hex::encode(minimal(bytes));
    match text.strip_prefix('0') {
        Some(rest) => rest.to_owned(),
        None if text.is_empty() => "0".to_owned(),
        None => text,
    }
}

/// Reads `SRP_A`: unsigned hex in either case, leading zeros allowed, which must denote a value
/// strictly between 0 and `N`. Returns its minimal bytes.
fn parse_public_hex(text: &str) -> Result<Vec<u8>, SrpError> {
    if text.is_empty() || !text.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(SrpError::Encoding("SRP_A"));
    }
    let digits = text.trim_start_matches('0');
    // Anything longer than N cannot be below N, and refusing it here keeps a huge input from
    // being decoded at all.
    if digits.is_empty() || digits.len() > 2 * GROUP_BYTES {
        return Err(SrpError::InvalidA);
    }
    let decoded = if digits.len() % 2 == 1 {
        hex::decode(format!("0{digits}"))
    } else {
        hex::decode(digits)
    };
    let bytes = decoded.map_err(|_| SrpError::Encoding("SRP_A"))?;
    if !below_modulus(&bytes) {
        return Err(SrpError::InvalidA);
    }
    Ok(bytes)
}

/// Parses a `TIMESTAMP` of the form `EEE MMM d HH:mm:ss z yyyy` (English abbreviations, e.g.
/// `Tue Sep 24 05:43:18 UTC 2019`) into the instant it names.
///
/// Like Java's `SimpleDateFormat`, which Cognito uses, the parser is tolerant: names in any
/// case, a day, hour, minute or second of one or two digits, a weekday that does not match the
/// date (it is ignored), and `GMT` for `UTC`. Whether the text is also canonical is a separate
/// question that [`verify_password_claim`] answers by comparing with [`format_timestamp`].
/// Anything else, including dates that do not exist (`Feb 30`), is [`SrpError::Timestamp`].
pub fn parse_timestamp(text: &str) -> Result<SystemTime, SrpError> {
    let mut fields = text.split(' ');
    let (Some(weekday), Some(month), Some(day), Some(clock), Some(zone), Some(year), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(SrpError::Timestamp);
    };
    if !WEEKDAYS
        .iter()
        .any(|name| name.eq_ignore_ascii_case(weekday))
    {
        return Err(SrpError::Timestamp);
    }
    let month = MONTHS
        .iter()
        .zip(1i64..)
        .find_map(|(name, number)| name.eq_ignore_ascii_case(month).then_some(number))
        .ok_or(SrpError::Timestamp)?;
    if !(zone.eq_ignore_ascii_case("UTC") || zone.eq_ignore_ascii_case("GMT")) {
        return Err(SrpError::Timestamp);
    }
    let mut clock = clock.split(':');
    let (Some(hour), Some(minute), Some(second), None) =
        (clock.next(), clock.next(), clock.next(), clock.next())
    else {
        return Err(SrpError::Timestamp);
    };
    let day = number(day, 1..=2, 1..=31)?;
    let hour = number(hour, 1..=2, 0..=23)?;
    let minute = number(minute, 1..=2, 0..=59)?;
    let second = number(second, 1..=2, 0..=59)?;
    let year = number(year, 4..=4, 0..=9999)?;
    if day > days_in_month(year, month) {
        return Err(SrpError::Timestamp);
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second;
    let instant = match u64::try_from(seconds) {
        Ok(after) => UNIX_EPOCH.checked_add(Duration::from_secs(after)),
        Err(_) => UNIX_EPOCH.checked_sub(Duration::from_secs(seconds.unsigned_abs())),
    };
    instant.ok_or(SrpError::Timestamp)
}

/// The canonical `TIMESTAMP` rendering of an instant, in UTC: `Tue Jan 2 03:04:05 UTC 2024`
/// (day without a leading zero, hours, minutes and seconds with two digits, four-digit year).
/// Fractions of a second are dropped. This is what clients send and what Cognito signs.
pub fn format_timestamp(time: SystemTime) -> String {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        // Before the epoch: round towards the past so that the seconds field stays whole.
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            if before.subsec_nanos() > 0 {
                whole.saturating_neg().saturating_sub(1)
            } else {
                whole.saturating_neg()
            }
        }
    };
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = crate::clock::civil_from_days(days);
    // 1970-01-01 was a Thursday, index 4 when Sunday is 0.
    let weekday = usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0);
    let month_name = usize::try_from(month - 1)
        .ok()
        .and_then(|index| MONTHS.get(index))
        .copied()
        .unwrap_or_default();
    format!(
        "{} {} {} {:02}:{:02}:{:02} UTC {:04}",
        WEEKDAYS.get(weekday).copied().unwrap_or_default(),
        month_name,
        day,
        of_day / 3_600,
        of_day % 3_600 / 60,
        of_day % 60,
        year,
    )
}

/// A decimal field of `digits` ASCII digits whose value lies in `range`.
fn number(
    text: &str,
    digits: std::ops::RangeInclusive<usize>,
    range: std::ops::RangeInclusive<i64>,
) -> Result<i64, SrpError> {
    if !digits.contains(&text.len()) || !text.bytes().all(|c| c.is_ascii_digit()) {
        return Err(SrpError::Timestamp);
    }
    text.parse::<i64>()
        .ok()
        .filter(|value| range.contains(value))
        .ok_or(SrpError::Timestamp)
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The group's constants in Montgomery form, computed once.
struct Group {
    params: BoxedMontyParams,
    g: BoxedMontyForm,
    k: BoxedMontyForm,
    modulus: Box<[u8]>,
}

static GROUP: LazyLock<Group> = LazyLock::new(|| {
    let modulus = BoxedUint::from(MODULUS);
    let modulus_bytes = modulus.to_be_bytes();
    let params = BoxedMontyParams::new_vartime(Odd::<BoxedUint>::from(MODULUS));
    let element = |bytes: &[u8]| {
        BoxedMontyForm::new(
            BoxedUint::from_be_slice_truncated(bytes, GROUP_BITS),
            &params,
        )
    };
    // k = H(enc(N) | enc(g)): 0x00, the 384 bytes of N, 0x02. RFC 5054 pads g to the length
    // of N instead, which gives a different k that no Cognito client accepts.
    let k = sha256(&[&enc(&modulus_bytes), &enc(&[GENERATOR])]);
    Group {
        g: element(&[GENERATOR]),
        k: element(&k),
        params,
        modulus: modulus_bytes,
    }
});

/// Whether big-endian `bytes` denote a value below `N`. Equal-length big-endian byte strings
/// compare like the numbers they denote.
fn below_modulus(bytes: &[u8]) -> bool {
    let value = minimal(bytes);
    let modulus = minimal(&GROUP.modulus);
    value.len() < modulus.len() || (value.len() == modulus.len() && value < modulus)
}

/// A value below `N` in Montgomery form; `None` when it is zero or not below `N`.
fn group_element(bytes: &[u8]) -> Option<BoxedMontyForm> {
    let value = minimal(bytes);
    if value.is_empty() || !below_modulus(value) {
        return None;
    }
    let integer = BoxedUint::from_be_slice(value, GROUP_BITS).ok()?;
    Some(BoxedMontyForm::new(integer, &GROUP.params))
}

/// A public exponent of at most 256 bits (`x` or `u`), at the precision the exponentiation
/// scans.
/// Bits per window of [`generator_power`]'s table.
const WINDOW_BITS: usize = 4;
/// Windows in a [`DIGEST_BITS`]-bit exponent.
const WINDOWS: usize = DIGEST_BITS as usize / WINDOW_BITS;
/// Digits a window can hold.
const DIGITS: usize = 1 << WINDOW_BITS;

/// `g^(d·16^j)` for every window `j` and digit `d` of a 256-bit exponent. Every password set
/// computes the verifier `g^x`; since `g` never changes, the powers of the windows can be
/// computed once, and `g^x` becomes 64 table lookups and multiplications instead of a
/// square-and-multiply over all 256 bits: about a quarter of the work, which matters because
/// SignUp does it beside argon2id on every request. 1,024 group elements, built on first use.
static GENERATOR_TABLE: LazyLock<Vec<Vec<BoxedMontyForm>>> = LazyLock::new(|| {
    let group = &*GROUP;
    let one = BoxedMontyForm::one(&group.params);
    let mut table = Vec::with_capacity(WINDOWS);
    // g^(16^j), the base of window j.
    let mut base = group.g.clone();
    for _ in 0..WINDOWS {
        let mut row = Vec::with_capacity(DIGITS);
        row.push(one.clone());
        for digit in 1..DIGITS {
            let next = row[digit - 1].mul(&base);
            row.push(next);
        }
        for _ in 0..WINDOW_BITS {
            base = base.square();
        }
        table.push(row);
    }
    table
});

/// `g^x mod N` for a 32-byte big-endian `x` (a SHA-256 digest), in constant time: every
/// window reads all sixteen entries of its row, keeping the one its digit names with a
/// constant-time assignment, and multiplies once, whatever the digit.
fn generator_power(x: &[u8]) -> BoxedMontyForm {
    let table = &*GENERATOR_TABLE;
    let mut power = BoxedMontyForm::one(&GROUP.params);
    let mut pick = power.clone();
    for (window, row) in table.iter().enumerate() {
        // Windows count from the least significant end; the index is public.
        let byte = x
            .len()
            .checked_sub(1 + window / 2)
            .and_then(|i| x.get(i))
            .copied()
            .unwrap_or(0);
        let digit = if window % 2 == 0 {
            byte & 0x0f
        } else {
            byte >> 4
        };
        for (candidate, entry) in row.iter().enumerate() {
            let candidate = u8::try_from(candidate).unwrap_or(u8::MAX);
            pick.ct_assign(entry, Choice::from_u8_eq(digit, candidate));
        }
        power = power.mul(&pick);
    }
    power
}

fn exponent(bytes: &[u8]) -> BoxedUint {
    BoxedUint::from_be_slice_truncated(bytes, DIGEST_BITS)
}

/// The secret exponent `b` and the number of bits the exponentiation scans. The count follows
/// the length of the stored bytes, not of the value, so that leading zero bits in `b` do not
/// show in the timing.
fn secret_exponent(bytes: &[u8]) -> Option<(BoxedUint, u32)> {
    if minimal(bytes).is_empty() || bytes.len() > GROUP_BYTES {
        return None;
    }
    let bits = u32::try_from(bytes.len()).ok()?.checked_mul(8)?;
    let value = BoxedUint::from_be_slice(bytes, GROUP_BITS).ok()?;
    Some((value, bits))
}

/// An integer as minimal big-endian bytes (empty for zero).
fn to_bytes(value: &BoxedUint) -> Vec<u8> {
    minimal(&value.to_be_bytes()).to_vec()
}

/// `bytes` without leading zero bytes.
fn minimal(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&byte| byte != 0)
        .unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// `enc(n)`: the minimal big-endian two's-complement bytes of a non-negative integer, as
/// Java's `BigInteger.toByteArray()` writes them: no leading zeros, one 0x00 in front when the
/// top bit is set, and a single 0x00 for zero. Cognito hashes every big integer this way.
fn enc(bytes: &[u8]) -> Vec<u8> {
    let value = minimal(bytes);
    let mut out = Vec::with_capacity(value.len() + 1);
    if value.first().is_none_or(|&first| first >= 0x80) {
        out.push(0);
    }
    out.extend_from_slice(value);
    out
}

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut context = digest::Context::new(&digest::SHA256);
    for part in parts {
        context.update(part);
    }
    context.finish().as_ref().to_vec()
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut context = hmac::Context::with_key(&key);
    for part in parts {
        context.update(part);
    }
    context.sign().as_ref().to_vec()
}

#[cfg(test)]
mod tests;
