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

/// The region a user pool id names: what precedes its `_` (`us-east-1` of
/// `us-east-1_AbCdEf123`).
pub fn region_of_pool_id(pool_id: &str) -> Option<&str> {
    pool_id.split_once('_').map(|(region, _)| region)
}

/// Whether `name` is shaped like an AWS region name: two letters, one or more words, a
/// number (`us-east-1`, `us-gov-west-1`, `ap-southeast-4`).
pub fn is_region_name(name: &str) -> bool {
    let words: Vec<&str> = name.split('-').collect();
    let lower = |w: &&str| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase());
    match words.as_slice() {
        [first, middle @ .., last] if !middle.is_empty() => {
            first.len() == 2
                && lower(first)
                && middle.iter().all(lower)
                && (1..=2).contains(&last.len())
                && last.chars().all(|c| c.is_ascii_digit())
        }
        _ => false,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for good in [
            "us-east-1",
            "eu-west-2",
            "us-gov-west-1",
            "ap-southeast-4",
            "il-central-1",
        ] {
            assert!(is_region_name(good), "{good}");
        }
        for bad in [
            "",
            "us-east",
            "useast-1",
            "US-EAST-1",
            "us--1",
            "us-east-123",
            "u-east-1",
            "x",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
        assert_eq!(region_of_pool_id("eu-west-1_AbCdEf123"), Some("eu-west-1"));
        assert_eq!(region_of_pool_id("nounderscore"), None);
    }
}
