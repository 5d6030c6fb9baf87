//! Where the verifier reads the time: token expiry checks and the JWKS cache's intervals.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A source of the current time. The verifier never reads the system clock directly, so a
/// test can pin or move time with [`ManualClock`] (or any closure returning a `SystemTime`).
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The system clock (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

impl<F> Clock for F
where
    F: Fn() -> SystemTime + Send + Sync + 'static,
{
    fn now(&self) -> SystemTime {
        self()
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<Mutex<SystemTime>>,
}

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: SystemTime) -> Self {
        ManualClock {
            now: Arc::new(Mutex::new(now)),
        }
    }

    /// A clock standing at `secs` seconds after the Unix epoch.
    pub fn at_unix(secs: u64) -> Self {
        Self::new(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// Sets the time.
    pub fn set(&self, now: SystemTime) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }

    /// Moves the time forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Whole seconds since the Unix epoch (0 before it).
pub(crate) fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Whether at least `interval` has passed from `since` to `now`. A clock that went backwards
/// counts as elapsed, so a stepped clock cannot freeze the cache.
pub(crate) fn elapsed(since: SystemTime, now: SystemTime, interval: Duration) -> bool {
    match now.duration_since(since) {
        Ok(gap) => gap >= interval,
        Err(_) => true,
    }
}
