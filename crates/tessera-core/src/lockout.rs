//! Cognito's lockout after repeated failed sign-ins: the first four failures cost nothing,
//! the fifth locks sign-in for one second, and every further failure doubles the lock, up to
//! fifteen minutes; fifteen quiet minutes forget every failure.

use std::time::Duration;

/// Failures that cost nothing.
pub const FREE_FAILURES: u32 = 4;

/// The longest lock, and the quiet time after which failures are forgotten.
pub const LOCKOUT_MAX: Duration = Duration::from_secs(15 * 60);

/// How long sign-in stays locked after `failures` consecutive failures: nothing for the first
/// four, then 2^(n-5) seconds (1 s after the fifth), doubling up to fifteen minutes.
pub fn lockout(failures: u32) -> Duration {
    if failures <= FREE_FAILURES {
        return Duration::ZERO;
    }
    let exponent = (failures - FREE_FAILURES - 1).min(20);
    Duration::from_secs(1u64 << exponent).min(LOCKOUT_MAX)
}

/// What a sign-in attempt may do, decided from the failures before it (`failures`, the last
/// of them `quiet` ago). An attempt is counted as a failure before its password is checked,
/// so this decision is the only one that sees the count, and concurrent attempts see each
/// other's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Locked: the password is not even checked, and nothing is counted.
    Locked,
    /// The password may be checked; `prior` failures count towards the lock.
    Allowed { prior: u32 },
}

impl Attempt {
    /// Decides an attempt after `failures` failures, the last `quiet` ago.
    pub fn decide(failures: u32, quiet: Duration) -> Self {
        let prior = if quiet >= LOCKOUT_MAX { 0 } else { failures };
        if prior > 0 && quiet < lockout(prior) {
            Attempt::Locked
        } else {
            Attempt::Allowed { prior }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_cognito_schedule() {
        for failures in 0..5 {
            assert_eq!(lockout(failures), Duration::ZERO);
        }
        assert_eq!(lockout(5), Duration::from_secs(1));
        assert_eq!(lockout(6), Duration::from_secs(2));
        assert_eq!(lockout(10), Duration::from_secs(32));
        assert_eq!(lockout(15), LOCKOUT_MAX);
        assert_eq!(lockout(u32::MAX), LOCKOUT_MAX);
    }

    #[test]
    fn attempts_are_decided_from_the_failures_before_them() {
        assert_eq!(
            Attempt::decide(0, Duration::ZERO),
            Attempt::Allowed { prior: 0 }
        );
        assert_eq!(
            Attempt::decide(4, Duration::ZERO),
            Attempt::Allowed { prior: 4 }
        );
        assert_eq!(Attempt::decide(5, Duration::ZERO), Attempt::Locked);
        assert_eq!(
            Attempt::decide(5, Duration::from_secs(1)),
            Attempt::Allowed { prior: 5 }
        );
        assert_eq!(
            Attempt::decide(12, Duration::from_secs(60)),
            Attempt::Locked
        );
        // Fifteen quiet minutes forget everything.
        assert_eq!(
            Attempt::decide(30, LOCKOUT_MAX),
            Attempt::Allowed { prior: 0 }
        );
    }
}
