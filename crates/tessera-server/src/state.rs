//! The state every handler shares.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use tessera_core::{Clock, PasswordHasher, Random};
use tessera_delivery::Deliver;
use tessera_store::Store;

/// The system clock; the one place the server reads the time of day.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Deployment settings the handlers need.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The AWS region tessera presents itself as (`us-east-1` by default).
    pub region: String,
    /// The account id used in ARNs.
    pub account_id: String,
    /// The public base URL, without a trailing slash; issuers are `<public_url>/<pool id>`.
    pub public_url: String,
    /// The parent domain of prefix domains: a pool's prefix domain `p` is served on host
    /// `p.<hosted_domain_suffix>` (`auth.localhost` by default).
    pub hosted_domain_suffix: String,
}

/// Shared, cheaply clonable handler state.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Store,
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) random: Arc<dyn Random>,
    /// Access-key secrets already opened, by key id. Keys are never changed once created,
    /// so entries never go stale.
    pub(crate) access_keys: Arc<RwLock<HashMap<String, String>>>,
    /// Sends codes and invitations (SMTP, SMS webhook, or the development outbox).
    pub(crate) delivery: Arc<dyn Deliver>,
    /// The development outbox file, readable by administrators over HTTP.
    pub(crate) outbox_path: Option<std::path::PathBuf>,
    /// argon2id with the configured cost.
    pub(crate) hasher: PasswordHasher,
    /// Keys the decoy SRP challenges for unknown users (a per-process secret).
    pub(crate) decoy_key: Arc<[u8; 32]>,
    /// Permits for password hashing, one per core: argon2id takes 19 MiB and tens of
    /// milliseconds per hash, so running more at once only adds memory, not throughput.
    pub(crate) hashing: Arc<tokio::sync::Semaphore>,
    /// Verified access tokens by SHA-256, with their claims and expiry.
    pub(crate) verified: Arc<std::sync::Mutex<crate::access_token::VerifiedCache>>,
    /// The hosted pages' CSRF key, derived from the master key once (every node derives the
    /// same one).
    pub(crate) csrf_key: Arc<aws_lc_rs::hmac::Key>,
    /// Pools' signing keys, opened once.
    pub(crate) keys: Arc<RwLock<HashMap<String, Arc<crate::pool_keys::PoolKeys>>>>,
}

impl AppState {
    /// State over `store`, with time and randomness supplied by the caller.
    pub fn new(
        store: Store,
        config: ServerConfig,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        delivery: Arc<dyn Deliver>,
    ) -> Self {
        let csrf_key = Arc::new(aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            &store.derived_key("hosted-pages-csrf"),
        ));
        Self {
            csrf_key,
            store,
            config: Arc::new(config),
            clock,
            random: random.clone(),
            access_keys: Arc::default(),
            delivery,
            outbox_path: None,
            hasher: PasswordHasher::owasp(),
            keys: Arc::default(),
            verified: Arc::default(),
            hashing: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            )),
            decoy_key: Arc::new({
                let mut key = [0u8; 32];
                random.fill(&mut key);
                key
            }),
        }
    }

    /// Makes the development outbox readable at `GET /admin/outbox`.
    pub fn with_outbox(mut self, path: std::path::PathBuf) -> Self {
        self.outbox_path = Some(path);
        self
    }

    /// Uses another argon2id cost.
    pub fn with_password_hasher(mut self, hasher: PasswordHasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// Runs password-hashing work off the async workers, at most one job per core.
    pub(crate) async fn hash_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, crate::ApiError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|e| crate::ApiError::internal(&e))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| crate::ApiError::internal(&e))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The issuer of a pool's tokens.
    pub fn issuer(&self, pool_id: &str) -> String {
        format!("{}/{}", self.config.public_url, pool_id)
    }
}
