//! Randomness as a parameter: production uses the operating system's generator, tests a
//! seeded one so that identifiers and keys are reproducible.

use std::sync::Mutex;

use rand::{RngCore, SeedableRng};

/// A source of random bytes.
pub trait Random: Send + Sync {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's cryptographically secure generator (through aws-lc).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemRandom;

impl Random for SystemRandom {
    fn fill(&self, buf: &mut [u8]) {
        // aws-lc's generator only fails when the OS cannot supply entropy; there is no
        // safe way to continue issuing secrets then, so this is a genuine invariant.
        #[allow(clippy::expect_used)]
        aws_lc_rs::rand::fill(buf).expect("the operating system supplies entropy");
    }
}

/// A deterministic generator for tests. Never use it for real secrets.
#[derive(Debug)]
pub struct SeededRandom(Mutex<rand::rngs::StdRng>);

impl SeededRandom {
    /// A generator that always produces the same sequence for the same seed.
    pub fn new(seed: u64) -> Self {
        Self(Mutex::new(rand::rngs::StdRng::seed_from_u64(seed)))
    }
}

impl Random for SeededRandom {
    fn fill(&self, buf: &mut [u8]) {
        let mut rng = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        rng.fill_bytes(buf);
    }
}
