//! Software-token MFA codes (issue 13): time-based one-time passwords as Cognito's
//! AssociateSoftwareToken / VerifySoftwareToken and the SOFTWARE_TOKEN_MFA challenge use them
//! (RFC 6238: HMAC-SHA1, six digits, 30-second steps), computed by `totp-rs`. What is ours is
//! the policy around the code: which steps are accepted, and that a code is used once (the
//! caller keeps the last step used and passes it back, so a code seen on the wire cannot be
//! replayed inside its window).

use std::time::{SystemTime, UNIX_EPOCH};

use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Steps accepted on either side of the current one, for clocks that drift and codes typed
/// at the end of their step.
pub const SKEW_STEPS: u64 = 1;

/// Why a secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TotpError {
    #[error("not a base32 secret")]
    Encoding,
    #[error("a secret is at least 16 bytes")]
    TooShort,
}

/// A user's software-token secret. Its `Debug` output never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// The number of random bytes in a new secret: 32, which is 52 base32 characters.
    pub const LEN: usize = 32;

    /// A new random secret.
    pub fn generate(random: &dyn crate::Random) -> Self {
        let mut bytes = vec![0u8; Self::LEN];
        random.fill(&mut bytes);
        Self(bytes)
    }

    /// The secret as authenticator apps take it: RFC 4648 base32 without padding.
    pub fn to_base32(&self) -> String {
        Secret::from(self.0.as_slice())
            .to_base32()
            .trim_end_matches('=')
            .to_owned()
    }

    /// Reads a base32 secret (any case, spaces and padding ignored).
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        let cleaned: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let bytes = Secret::try_from_base32(cleaned)
            .map_err(|_| TotpError::Encoding)?
            .as_bytes()
            .to_vec();
        if bytes.len() < 16 {
            return Err(TotpError::TooShort);
        }
        Ok(Self(bytes))
    }

    /// The raw key, for sealing at rest.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// A secret from its raw key (as unsealed from storage).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, TotpError> {
        if bytes.len() < 16 {
            return Err(TotpError::TooShort);
        }
        Ok(Self(bytes))
    }

    fn totp(&self) -> Totp {
        // The crate checks each step itself only against one time; the steps and the replay
        // rule are ours (`check`), so it is built without skew. The secret's length is
        // checked where a secret is made.
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS as u8)
            .with_skew(0)
            .with_step_duration(STEP_SECONDS)
            .with_secret(self.0.as_slice())
            .build_noncompliant()
    }

    /// The code of `step` (seconds since the epoch divided by [`STEP_SECONDS`]).
    pub fn code_at_step(&self, step: u64) -> String {
        self.totp().generate(step * STEP_SECONDS).to_string()
    }

    /// Checks `code` at `now`. Returns the step it belongs to when it is right for a step
    /// within [`SKEW_STEPS`] of now and later than `last_used` (the step of the last code
    /// accepted for this secret), so that no code is accepted twice. Every candidate is
    /// compared, in constant time, whatever matches.
    pub fn check(&self, code: &str, now: SystemTime, last_used: Option<u64>) -> Option<u64> {
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = step_of(now);
        let totp = self.totp();
        let mut matched = None;
        for step in current.saturating_sub(SKEW_STEPS)..=current + SKEW_STEPS {
            let expected = totp.generate(step * STEP_SECONDS).to_string();
            let equal: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
            if equal && last_used.is_none_or(|last| step > last) && matched.is_none() {
                matched = Some(step);
            }
        }
        matched
    }

    /// The `otpauth://` URI an authenticator app reads from a QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        let escape = |text: &str| {
            text.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        };
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            escape(issuer),
            escape(account),
            self.to_base32(),
            escape(issuer)
        )
    }
}

/// The step `now` falls in.
pub fn step_of(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / STEP_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// RFC 6238 appendix B's SHA-1 key, "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap()
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn codes_follow_rfc_6238_sha1_vectors() {
        // The RFC gives eight digits; six are their last six.
        for (seconds, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(
                rfc_secret().code_at_step(seconds / STEP_SECONDS),
                eight[2..],
                "at {seconds}"
            );
        }
    }

    #[test]
    fn a_code_is_accepted_once_within_one_step_of_now() {
        let secret = rfc_secret();
        let now = at(1_234_567_890);
        let step = step_of(now);
        let code = secret.code_at_step(step);
        assert_eq!(secret.check(&code, now, None), Some(step));
        // Replayed: refused, in its own step and the next.
        assert_eq!(secret.check(&code, now, Some(step)), None);
        assert_eq!(
            secret.check(&code, at(1_234_567_890 + 30), Some(step)),
            None
        );
        // The previous and next steps' codes are accepted; two steps away is not.
        assert_eq!(
            secret.check(&secret.code_at_step(step - 1), now, None),
            Some(step - 1)
        );
        assert_eq!(
            secret.check(&secret.code_at_step(step + 1), now, None),
            Some(step + 1)
        );
        assert_eq!(
            secret.check(&secret.code_at_step(step - 2), now, None),
            None
        );
        // A later code after an earlier one is fine; not the other way round.
        assert_eq!(
            secret.check(&secret.code_at_step(step + 1), now, Some(step)),
            Some(step + 1)
        );
        assert_eq!(
            secret.check(&secret.code_at_step(step - 1), now, Some(step)),
            None
        );
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert_eq!(secret.check(bad, now, None), None, "{bad:?}");
        }
    }

    #[test]
    fn secrets_are_base32_without_padding_and_never_printed() {
        let random = crate::SeededRandom::new(3);
        let secret = TotpSecret::generate(&random);
        let text = secret.to_base32();
        assert_eq!(text.len(), 52);
        assert!(text
            .chars()
            .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)));
        assert_eq!(TotpSecret::from_base32(&text).unwrap(), secret);
        assert_eq!(
            TotpSecret::from_base32(&text.to_lowercase()).unwrap(),
            secret
        );
        assert_eq!(
            TotpSecret::from_base32("not base32!"),
            Err(TotpError::Encoding)
        );
        assert_eq!(
            TotpSecret::from_base32("GEZDGNBV"),
            Err(TotpError::TooShort)
        );
        assert_eq!(format!("{secret:?}"), "TotpSecret(<redacted>)");
        let uri = secret.otpauth_uri("My Pool", "ann@example.com");
        assert!(uri.starts_with("otpauth://totp/My%20Pool:ann%40example.com?secret="));
        assert!(uri.ends_with("&issuer=My%20Pool&algorithm=SHA1&digits=6&period=30"));
    }
}
