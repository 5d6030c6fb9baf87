//! The software-token codes of the `totp_mfa_sign_in` scenario, and which user answers with
//! which code.
//!
//! Codes are RFC 6238 TOTP (HMAC-SHA1, six digits, 30-second steps) over the base32 secret
//! AssociateSoftwareToken hands out, computed here by hand with aws-lc-rs's HMAC rather than
//! with tessera's own TOTP code, so that the bench checks tessera instead of agreeing with it
//! (RFC 6238's SHA-1 vectors are the unit test).
//!
//! tessera accepts the codes of the previous, current and next step, each at most once per
//! user, and only in increasing order of step (a code for a step at or before the last one
//! accepted is a replay). So a user signs in at most three times per 30 s, and the run needs
//! enough users: [`Slots`] leases each user to one connection at a time and picks the earliest
//! step tessera still takes from that user ([`next_step`]); [`users_needed`] sizes the
//! population so that it never runs out.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: u32 = 6;
/// The previous step's code is sent only while at least this much of the current step is
/// left, so that it is still inside tessera's window when the request arrives (the step after
/// it stays acceptable for more than 30 s either way).
pub const MARGIN_SECONDS: u64 = 5;
/// Codes every user is good for during a run: a user enrolled with the previous step's code
/// (see [`enrolment_wait`]) still has the current and the next step, and every step boundary
/// crossed later adds one.
pub const MIN_STEPS_PER_USER: u64 = 2;

/// Seconds since the epoch.
pub fn now_seconds(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// RFC 4648 base32 (upper or lower case; padding and spaces ignored).
pub fn decode_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u64 = 0;
    let mut bits = 0u32;
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let value = match c.to_ascii_uppercase() {
            letter @ 'A'..='Z' => u64::from(letter) - u64::from('A'),
            digit @ '2'..='7' => u64::from(digit) - u64::from('2') + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// The code of `step` (seconds since the epoch over [`STEP_SECONDS`]) with `digits` digits:
/// RFC 4226's dynamic truncation of HMAC-SHA1(secret, step as 8 bytes big-endian).
pub fn code(secret: &[u8], step: u64, digits: u32) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = hmac::sign(&key, &step.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    let word = mac
        .get(offset..offset + 4)
        .map_or(0, |b| u32::from_be_bytes([b[0] & 0x7f, b[1], b[2], b[3]]));
    let modulus = 10u32.pow(digits);
    format!("{:0width$}", word % modulus, width = digits as usize)
}

/// The step to answer with at `now` (seconds since the epoch) for a user whose last accepted
/// step is `last`: the earliest step tessera takes (the previous one, unless less than
/// [`MARGIN_SECONDS`] of the current step are left, then the current one) that is after
/// `last`; `None` when only steps beyond the next one are left, which tessera refuses.
pub fn next_step(last: Option<u64>, now: u64) -> Option<u64> {
    let current = now / STEP_SECONDS;
    let left = STEP_SECONDS - now % STEP_SECONDS;
    let earliest = if left >= MARGIN_SECONDS {
        current.saturating_sub(1)
    } else {
        current
    };
    let step = match last {
        Some(last) => earliest.max(last + 1),
        None => earliest,
    };
    (step <= current + 1).then_some(step)
}

/// How long to wait at `now` before enrolling a user, so that the enrolment takes the previous
/// step's code and leaves the user [`MIN_STEPS_PER_USER`] codes: nothing unless less than
/// [`MARGIN_SECONDS`] of the current step are left, then until the next step begins.
pub fn enrolment_wait(now: SystemTime) -> std::time::Duration {
    let since = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or(std::time::Duration::ZERO);
    let into_step = since.as_secs_f64() % STEP_SECONDS as f64;
    let left = STEP_SECONDS as f64 - into_step;
    if left >= MARGIN_SECONDS as f64 {
        std::time::Duration::ZERO
    } else {
        // A little past the boundary, so that the new step has surely begun.
        std::time::Duration::from_secs_f64(left + 0.05)
    }
}

/// Users a run needs so that it never runs out of codes: at most `rate` sign-ins per second
/// are started during `seconds`, each user is good for [`MIN_STEPS_PER_USER`] of them, and
/// each of the `concurrency` connections may hold one more user when the run ends.
pub fn users_needed(rate: f64, seconds: f64, concurrency: usize) -> usize {
    crate::util::population(rate, seconds, MIN_STEPS_PER_USER, concurrency)
}

/// A user enrolled with a software token.
#[derive(Debug, Clone)]
pub struct TotpUser {
    pub username: String,
    /// The raw secret (AssociateSoftwareToken's `SecretCode`, base32-decoded).
    pub secret: Vec<u8>,
}

struct State {
    /// Users not leased, the longest idle first.
    free: VecDeque<usize>,
    /// The last step each user answered with (accepted or not: a failed answer's step is
    /// never tried again, which at worst skips a code).
    last: Vec<Option<u64>>,
    /// The step each user's enrolment used.
    enrolled: Vec<u64>,
}

/// The users and which step each has used; a user is leased to one connection at a time, so
/// that its codes reach tessera in the order of their steps.
pub struct Slots {
    pub users: Vec<TotpUser>,
    state: Mutex<State>,
}

impl Slots {
    /// `users` with the step their enrolment used.
    pub fn new(users: Vec<(TotpUser, u64)>) -> Self {
        let enrolled: Vec<u64> = users.iter().map(|(_, step)| *step).collect();
        let users: Vec<TotpUser> = users.into_iter().map(|(user, _)| user).collect();
        Self {
            state: Mutex::new(State {
                free: (0..users.len()).collect(),
                last: enrolled.iter().copied().map(Some).collect(),
                enrolled,
            }),
            users,
        }
    }

    /// How many users have answered a challenge since their enrolment.
    pub fn used(&self) -> usize {
        self.state.lock().map_or(0, |state| {
            state
                .last
                .iter()
                .zip(&state.enrolled)
                .filter(|(last, enrolled)| **last != Some(**enrolled))
                .count()
        })
    }

    /// Leases the longest idle user that still has a code at `now`; `None` when no free user
    /// has one.
    pub fn take(&self, now: u64) -> Option<Lease<'_>> {
        let mut state = self.state.lock().ok()?;
        let State { free, last, .. } = &mut *state;
        let position = free
            .iter()
            .position(|&user| next_step(last.get(user).copied().flatten(), now).is_some())?;
        let index = free.remove(position)?;
        Some(Lease { slots: self, index })
    }

    /// Claims the step `user` answers with at `now` ([`next_step`]). A user taken at an
    /// earlier moment still has one: time only moves the window forward.
    fn claim(&self, user: usize, now: u64) -> Option<u64> {
        let mut state = self.state.lock().ok()?;
        let last = state.last.get_mut(user)?;
        let step = next_step(*last, now)?;
        *last = Some(step);
        Some(step)
    }

    fn give_back(&self, user: usize) {
        if let Ok(mut state) = self.state.lock() {
            state.free.push_back(user);
        }
    }
}

/// A user leased to one sign-in; given back when dropped.
pub struct Lease<'a> {
    slots: &'a Slots,
    /// The user's index in [`Slots::users`].
    pub index: usize,
}

impl Lease<'_> {
    pub fn user(&self) -> Option<&TotpUser> {
        self.slots.users.get(self.index)
    }

    /// The step to answer with now, and its code.
    pub fn code(&self, now: u64) -> Option<(u64, String)> {
        let step = self.slots.claim(self.index, now)?;
        let secret = &self.user()?.secret;
        Some((step, code(secret, step, DIGITS)))
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.slots.give_back(self.index);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn computes_rfc_6238_codes() {
        // RFC 6238 Appendix B, SHA-1: the secret is the ASCII "12345678901234567890".
        let secret = b"12345678901234567890";
        for (time, expected) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code(secret, time / STEP_SECONDS, 8), expected, "T = {time}");
        }
        // Six digits are the last six of the eight.
        assert_eq!(code(secret, 59 / STEP_SECONDS, DIGITS), "287082");
        // The same secret in base32, as AssociateSoftwareToken hands one out.
        assert_eq!(
            decode_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").as_deref(),
            Some(&secret[..])
        );
        assert_eq!(
            decode_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq====").as_deref(),
            Some(&secret[..])
        );
        assert_eq!(decode_base32("GEZ1"), None);
    }

    #[test]
    fn picks_the_earliest_step_tessera_still_takes() {
        let at = |step: u64, second: u64| step * STEP_SECONDS + second;
        // Early in step 100: the previous step first, then the current and the next.
        assert_eq!(next_step(None, at(100, 3)), Some(99));
        assert_eq!(next_step(Some(99), at(100, 3)), Some(100));
        assert_eq!(next_step(Some(100), at(100, 3)), Some(101));
        assert_eq!(next_step(Some(101), at(100, 29)), None);
        // Less than the margin left: not the previous step any more.
        assert_eq!(next_step(None, at(100, 30 - MARGIN_SECONDS)), Some(99));
        assert_eq!(next_step(None, at(100, 31 - MARGIN_SECONDS)), Some(100));
        // A user who used step 101 gets one more code in step 101 (step 102).
        assert_eq!(next_step(Some(101), at(101, 0)), Some(102));
        assert_eq!(next_step(Some(102), at(101, 0)), None);
        // A user idle for long starts again at the previous step.
        assert_eq!(next_step(Some(50), at(100, 0)), Some(99));
    }

    #[test]
    fn waits_out_the_end_of_a_step_before_enrolling() {
        let at = |seconds: f64| UNIX_EPOCH + std::time::Duration::from_secs_f64(seconds);
        assert_eq!(enrolment_wait(at(3000.0)), std::time::Duration::ZERO);
        assert_eq!(enrolment_wait(at(3024.5)), std::time::Duration::ZERO);
        let wait = enrolment_wait(at(3026.0)).as_secs_f64();
        assert!((4.0..4.2).contains(&wait), "{wait}");
        // After the wait, the previous step is available again.
        let after = now_seconds(at(3026.0 + wait));
        assert_eq!(next_step(None, after), Some(3030 / STEP_SECONDS - 1));
    }

    #[test]
    fn sizes_the_population_for_the_run() {
        // 150 sign-ins/s for 12 s: 1,800 codes, 2 per user, and one user per connection.
        assert_eq!(users_needed(150.0, 12.0, 64), 964);
        assert_eq!(users_needed(0.0, 12.0, 4), 4);
    }

    /// A run simulated on a clock in milliseconds: `connections` connections each sign in
    /// every `op_ms`, taking a user and answering `answer_ms` later. Returns, per user, the
    /// (time answered in ms, step) pairs, and how many sign-ins found no user.
    fn simulate(
        slots: &Slots,
        start_ms: u64,
        run_ms: u64,
        connections: u64,
        op_ms: u64,
        answer_ms: u64,
    ) -> (HashMap<usize, Vec<(u64, u64)>>, usize) {
        let mut used: HashMap<usize, Vec<(u64, u64)>> = HashMap::new();
        let mut starved = 0;
        let mut t = start_ms;
        while t < start_ms + run_ms {
            // The connections start together and finish together: all leases overlap.
            let leases: Vec<Lease<'_>> = (0..connections)
                .filter_map(|_| {
                    let lease = slots.take(t / 1000);
                    if lease.is_none() {
                        starved += 1;
                    }
                    lease
                })
                .collect();
            let mut seen = std::collections::HashSet::new();
            for lease in &leases {
                assert!(
                    seen.insert(lease.index),
                    "user {} leased twice",
                    lease.index
                );
                let answered = t + answer_ms;
                if let Some((step, _)) = lease.code(answered / 1000) {
                    used.entry(lease.index).or_default().push((answered, step));
                }
            }
            drop(leases);
            t += op_ms;
        }
        (used, starved)
    }

    #[test]
    fn plans_codes_tessera_accepts_and_never_runs_out() {
        // 100 sign-ins/s (64 connections every 640 ms) over 12 s that cross a step boundary,
        // answered 300 ms after the lease; users enrolled just before, with step now - 1.
        let (rate, seconds, connections) = (100.0, 12.0, 64);
        let start_ms = 3_020_000; // 20 s into step 100
        let enrolled = (start_ms / 1000) / STEP_SECONDS - 1;
        let count = users_needed(rate, seconds, connections);
        let users = (0..count)
            .map(|i| {
                (
                    TotpUser {
                        username: format!("u{i}"),
                        secret: vec![1; 20],
                    },
                    enrolled,
                )
            })
            .collect();
        let slots = Slots::new(users);
        let (used, starved) = simulate(&slots, start_ms, 12_000, connections as u64, 640, 300);
        assert_eq!(starved, 0);
        let total: usize = used.values().map(Vec::len).sum();
        assert_eq!(total, 64 * 19);
        assert_eq!(slots.used(), used.len());
        for (user, codes) in &used {
            let mut last = enrolled;
            for &(answered_ms, step) in codes {
                // Increasing steps, each one tessera accepts when it arrives.
                assert!(step > last, "user {user}: {codes:?}");
                last = step;
                let current = answered_ms / 1000 / STEP_SECONDS;
                assert!(
                    step + 1 >= current && step <= current + 1,
                    "user {user}: {codes:?}"
                );
            }
            // At most three codes per step of the clock.
            let mut per_window: HashMap<u64, usize> = HashMap::new();
            for &(answered_ms, _) in codes {
                *per_window
                    .entry(answered_ms / 1000 / STEP_SECONDS)
                    .or_default() += 1;
            }
            assert!(per_window.values().all(|&n| n <= 3), "{codes:?}");
        }
        // Too few users: the plan says so instead of reusing a code.
        let few = Slots::new(
            (0..10)
                .map(|i| {
                    (
                        TotpUser {
                            username: format!("u{i}"),
                            secret: vec![1; 20],
                        },
                        enrolled,
                    )
                })
                .collect(),
        );
        let (_, starved) = simulate(&few, start_ms, 3_000, 8, 500, 100);
        assert!(starved > 0);
    }
}
