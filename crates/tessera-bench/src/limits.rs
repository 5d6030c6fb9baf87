//! The machine's own limits, measured with the crypto tessera itself uses: RSA-2048 RS256
//! signatures (`SigningKey::sign_rs256`, two per token-issuing request) and argon2id at the
//! default cost (`PasswordHasher::owasp().hash`, one per password check or password set).

use std::time::{Duration, Instant, SystemTime};

use tessera_core::{KeyUse, PasswordHasher, SigningKey, SystemRandom};

use crate::server::{cpu_ticks, machine_busy_ticks};
use crate::util::{Context, Result};

/// A rate measured on one thread and on one thread per core.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub single: f64,
    pub all: f64,
    pub threads: usize,
    /// Cores' worth of CPU used by other work during the all-core run.
    pub other_cpu: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub rsa_sign: Rate,
    pub argon2id: Rate,
}

/// Roughly the size of what tessera signs: a JWT header and an access-token payload.
const SIGNED_MESSAGE_LEN: usize = 900;

pub fn measure(threads: usize, seconds: Duration, ticks_per_second: f64) -> Result<Limits> {
    let key = SigningKey::generate(KeyUse::Access, SystemTime::now())
        .context("generating an RSA-2048 key")?;
    let message = vec![b'e'; SIGNED_MESSAGE_LEN];
    let sign = || key.sign_rs256(&message).is_ok();
    eprintln!("measuring RSA-2048 RS256 signatures ...");
    let rsa_sign = rate(threads, seconds, ticks_per_second, &sign)?;

    let hasher = PasswordHasher::owasp();
    let hash = || hasher.hash("Bench-Passw0rd!", &SystemRandom).is_ok();
    eprintln!("measuring argon2id (m=19456 KiB, t=2, p=1) hashes ...");
    // argon2id takes tens of milliseconds per hash, so it gets a longer window for the same
    // precision.
    let argon2id = rate(threads, seconds + seconds / 2, ticks_per_second, &hash)?;
    Ok(Limits { rsa_sign, argon2id })
}

/// argon2id hashes per second at the default cost on one thread, measured for `seconds`: a
/// quick figure for sizing a run (the TOTP scenario's users), not a report's.
pub fn argon2id_one_thread(seconds: Duration) -> Result<f64> {
    let hasher = PasswordHasher::owasp();
    run(1, seconds, &|| {
        hasher.hash("Bench-Passw0rd!", &SystemRandom).is_ok()
    })
}

/// RS256 signatures per second on one thread, measured for `seconds`: a quick figure for
/// sizing a run (the EMAIL_OTP scenario's users), not a report's.
pub fn rsa_sign_one_thread(seconds: Duration) -> Result<f64> {
    let key = SigningKey::generate(KeyUse::Access, SystemTime::now())
        .context("generating an RSA-2048 key")?;
    let message = vec![b'e'; SIGNED_MESSAGE_LEN];
    run(1, seconds, &|| key.sign_rs256(&message).is_ok())
}

fn rate(
    threads: usize,
    seconds: Duration,
    ticks_per_second: f64,
    work: &(dyn Fn() -> bool + Sync),
) -> Result<Rate> {
    let single = run(1, seconds, work)?;
    let machine_before = machine_busy_ticks();
    let own_before = cpu_ticks(None);
    let started = Instant::now();
    let all = run(threads, seconds, work)?;
    let elapsed = started.elapsed().as_secs_f64().max(1e-9);
    let other_cpu = (|| {
        let busy = machine_busy_ticks()?.saturating_sub(machine_before?);
        let own = cpu_ticks(None)?.saturating_sub(own_before?);
        Some(busy.saturating_sub(own) as f64 / ticks_per_second / elapsed)
    })();
    Ok(Rate {
        single,
        all,
        threads,
        other_cpu,
    })
}

/// Runs `work` in a loop on `threads` threads for `seconds`, and returns the operations per
/// second of all threads together.
fn run(threads: usize, seconds: Duration, work: &(dyn Fn() -> bool + Sync)) -> Result<f64> {
    let results: Vec<(u64, Duration, bool)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(move || {
                    let start = Instant::now();
                    let mut count = 0u64;
                    let mut ok = true;
                    while start.elapsed() < seconds {
                        ok &= work();
                        count += 1;
                    }
                    (count, start.elapsed(), ok)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap_or((0, Duration::ZERO, false)))
            .collect()
    });
    if results.iter().any(|(_, _, ok)| !ok) {
        return Err("a crypto operation failed while measuring the machine".into());
    }
    let count: u64 = results.iter().map(|(count, _, _)| count).sum();
    let elapsed = results
        .iter()
        .map(|(_, elapsed, _)| *elapsed)
        .max()
        .unwrap_or(Duration::ZERO);
    Ok(count as f64 / elapsed.as_secs_f64().max(1e-9))
}
