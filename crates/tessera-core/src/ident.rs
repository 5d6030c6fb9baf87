//! Identifiers in the formats Cognito uses, so that clients which check them (for example
//! amazon-cognito-identity-js on pool ids) accept tessera's.

use crate::Random;

const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const RADIX32: &[u8] = b"0123456789abcdefghijklmnopqrstuv";

/// A user pool id: `<region>_<9 alphanumerics>`, e.g. `us-east-1_sWRV0kAgS`.
pub fn user_pool_id(region: &str, random: &dyn Random) -> String {
    let mut bytes = [0u8; 9];
    random.fill(&mut bytes);
    let suffix: String = bytes
        .iter()
        // 256 is not a multiple of 62, so a plain modulo is slightly biased; a pool id is an
        // identifier, not a secret, which makes that bias harmless.
        .map(|b| ALPHANUMERIC[usize::from(*b) % ALPHANUMERIC.len()] as char)
        .collect();
    format!("{region}_{suffix}")
}

/// An app client id: a random 128-bit number printed in radix 32, as Cognito's are.
pub fn app_client_id(random: &dyn Random) -> String {
    let mut bytes = [0u8; 16];
    random.fill(&mut bytes);
    radix32(&bytes)
}

/// An app client secret: 256 random bits printed in radix 32 (about 52 characters).
pub fn app_client_secret(random: &dyn Random) -> String {
    let mut bytes = [0u8; 32];
    random.fill(&mut bytes);
    radix32(&bytes)
}

/// Prints a big-endian unsigned number in radix 32 with digits `0-9a-v`, without leading zeros.
pub fn radix32(bytes: &[u8]) -> String {
    // Five bits per digit, taken from the least significant end.
    let total_bits = bytes.len() * 8;
    let digits = total_bits.div_ceil(5);
    let mut out = Vec::with_capacity(digits);
    for digit in 0..digits {
        let mut value = 0usize;
        for bit in 0..5 {
            let position = digit * 5 + bit;
            if position >= total_bits {
                break;
            }
            let byte = bytes[bytes.len() - 1 - position / 8];
            if (byte >> (position % 8)) & 1 == 1 {
                value |= 1 << bit;
            }
        }
        out.push(RADIX32[value]);
    }
    while out.len() > 1 && out.last() == Some(&b'0') {
        out.pop();
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}
