//! The client half of Cognito's SRP-6a (USER_SRP_AUTH → PASSWORD_VERIFIER), as pycognito and
//! amazon-cognito-identity-js compute it (wire facts, section 5). tessera-core only carries the
//! server half, so the bench brings its own; the unit tests pin it to the shared vectors.
//!
//! The arithmetic is crypto-bigint's, the crate tessera-core already builds. Unlike a real
//! client, the bench keeps one ephemeral `a` for a whole run and caches `k·g^x` per user, so
//! that a sign-in costs the load generator one exponentiation instead of three: the server's
//! work does not depend on either choice.

use std::sync::LazyLock;

use aws_lc_rs::{digest, hmac};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, ConcatenatingMul, Odd, Resize, U3072};

use crate::util::{Context, Result};

/// The RFC 3526 3072-bit MODP prime.
const MODULUS: Odd<U3072> = Odd::<U3072>::from_be_hex(concat!(
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
));
const GROUP_BITS: u32 = 3072;
const DIGEST_BITS: u32 = 256;
const DERIVED_KEY_INFO: &[u8] = b"Caldera Derived Key\x01";

struct Group {
    params: BoxedMontyParams,
    g: BoxedMontyForm,
    k: BoxedMontyForm,
}

static GROUP: LazyLock<Group> = LazyLock::new(|| {
    let modulus = BoxedUint::from(MODULUS);
    let params = BoxedMontyParams::new_vartime(Odd::<BoxedUint>::from(MODULUS));
    let element = |bytes: &[u8]| {
        BoxedMontyForm::new(
            BoxedUint::from_be_slice_truncated(bytes, GROUP_BITS),
            &params,
        )
    };
    let k = sha256(&[&enc(&modulus.to_be_bytes()), &enc(&[2])]);
    Group {
        g: element(&[2]),
        k: element(&k),
        params,
    }
});

/// A client's ephemeral key pair: the secret `a` and `A = g^a mod N`.
pub struct Ephemeral {
    a: BoxedUint,
    big_a: Vec<u8>,
}

/// What a user's password contributes: `x` and `k·g^x`, fixed for a given salt.
pub struct UserKey {
    x: BoxedUint,
    k_v: BoxedMontyForm,
}

impl Ephemeral {
    /// A fresh ephemeral from 32 random bytes.
    pub fn random() -> Result<Self> {
        loop {
            let mut a = [0u8; 32];
            aws_lc_rs::rand::fill(&mut a).context("drawing SRP a")?;
            let ephemeral = Self::from_secret(&a);
            if !minimal(&ephemeral.big_a).is_empty() {
                return Ok(ephemeral);
            }
        }
    }

    /// The ephemeral for a given secret `a` (big-endian).
    pub fn from_secret(a: &[u8]) -> Self {
        let a = BoxedUint::from_be_slice_truncated(a, bits_for(a.len()));
        let big_a = GROUP.g.pow(&a).retrieve();
        Self {
            a,
            big_a: minimal(&big_a.to_be_bytes()).to_vec(),
        }
    }

    /// `SRP_A` as clients send it: lower-case hex without leading zeros.
    pub fn public_hex(&self) -> String {
        wire_hex(&self.big_a)
    }

    /// The session key `K` for the server's `SRP_B`.
    pub fn session_key(&self, user: &UserKey, srp_b_hex: &str) -> Result<Vec<u8>> {
        let big_b = parse_hex(srp_b_hex).context("SRP_B is not hex")?;
        let b_value = BoxedUint::from_be_slice(&big_b, GROUP_BITS)
            .ok()
            .context("SRP_B is longer than N")?;
        let b_form = BoxedMontyForm::new(b_value, &GROUP.params);
        if minimal(&b_form.retrieve().to_be_bytes()).is_empty() {
            return Err("SRP_B is zero modulo N".into());
        }
        let u = sha256(&[&enc(&self.big_a), &enc(&big_b)]);
        if minimal(&u).is_empty() {
            return Err("the scrambler u is zero".into());
        }
        // S = (B - k·g^x)^(a + u·x) mod N; the exponent is an integer, not reduced.
        let exponent_bits = self.a.bits_precision().max(2 * DIGEST_BITS) + 1;
        let width = exponent_bits.div_ceil(64) * 64;
        let u_value = BoxedUint::from_be_slice_truncated(&u, DIGEST_BITS);
        let exponent = (&self.a)
            .resize_unchecked(width)
            .wrapping_add(u_value.concatenating_mul(&user.x).resize_unchecked(width));
        let secret = b_form
            .sub(&user.k_v)
            .pow_bounded_exp(&exponent, exponent_bits)
            .retrieve();
        let prk = hmac_sha256(&enc(&u), &[&enc(&secret.to_be_bytes())]);
        let mut key = hmac_sha256(&prk, &[DERIVED_KEY_INFO]);
        key.truncate(16);
        Ok(key)
    }
}

impl UserKey {
    /// `x = H(enc(salt) | H(poolName | userIdForSrp | ":" | password))` and `k·g^x`.
    pub fn new(
        pool_name: &str,
        user_id_for_srp: &str,
        password: &str,
        salt_hex: &str,
    ) -> Result<Self> {
        let salt = parse_hex(salt_hex).context("SALT is not hex")?;
        let inner = sha256(&[
            pool_name.as_bytes(),
            user_id_for_srp.as_bytes(),
            b":",
            password.as_bytes(),
        ]);
        let x = BoxedUint::from_be_slice_truncated(&sha256(&[&enc(&salt), &inner]), DIGEST_BITS);
        let k_v = GROUP.k.mul(&GROUP.g.pow(&x));
        Ok(Self { x, k_v })
    }
}

/// `PASSWORD_CLAIM_SIGNATURE`: Base64 of `HMAC-SHA256(K, poolName | userIdForSrp |
/// base64decode(SECRET_BLOCK) | TIMESTAMP)`.
pub fn claim_signature(
    key: &[u8],
    pool_name: &str,
    user_id_for_srp: &str,
    secret_block_b64: &str,
    timestamp: &str,
) -> Result<String> {
    let block = STANDARD
        .decode(secret_block_b64)
        .context("SECRET_BLOCK is not base64")?;
    Ok(STANDARD.encode(hmac_sha256(
        key,
        &[
            pool_name.as_bytes(),
            user_id_for_srp.as_bytes(),
            &block,
            timestamp.as_bytes(),
        ],
    )))
}

/// A precision that holds `bytes` bytes, in whole 64-bit limbs.
fn bits_for(bytes: usize) -> u32 {
    let bits = u32::try_from(bytes.max(1)).unwrap_or(u32::MAX / 16) * 8;
    bits.div_ceil(64) * 64
}

fn parse_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 == 1 {
        hex::decode(format!("0{text}")).ok()
    } else {
        hex::decode(text).ok()
    }
}

fn wire_hex(bytes: &[u8]) -> String {
    let text = hex::encode(minimal(bytes));
    match text.strip_prefix('0') {
        Some(rest) => rest.to_owned(),
        None if text.is_empty() => "0".to_owned(),
        None => text,
    }
}

fn minimal(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Java's `BigInteger.toByteArray()` of a non-negative integer.
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
