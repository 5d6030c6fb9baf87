//! The service's state: the store, the deployment's settings, time, randomness, the courier
//! for messages and the caches every operation shares.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tessera_core::message::Deliver;
use tessera_core::{Clock, PasswordHasher, Random};
use tessera_store::Store;

/// The regions a server answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Regions {
    /// Any region name: an app (or a test suite) that uses several regions points at one
    /// server.
    Any,
    /// Only these.
    Only(Vec<String>),
}

impl Regions {
    /// Whether a request signed for `region` is answered.
    pub fn serves(&self, region: &str) -> bool {
        match self {
            Regions::Any => tessera_core::is_region_name(region),
            Regions::Only(regions) => regions.iter().any(|r| r == region),
        }
    }
}

/// Deployment settings the operations need.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The region of what has no request region to go by (`us-east-1` by default): the
    /// startup hint and pools created without a signed request.
    pub region: String,
    /// The regions answered; a pool belongs to the region of the request that created it.
    pub regions: Regions,
    /// The account id used in ARNs.
    pub account_id: String,
    /// The public base URL, without a trailing slash; issuers are `<public_url>/<pool id>`.
    pub public_url: String,
    /// The parent domain of prefix domains: a pool's prefix domain `p` is served on host
    /// `p.<hosted_domain_suffix>` (`auth.localhost` by default).
    pub hosted_domain_suffix: String,
}

/// The Cognito user-pool service. Cheap to clone: everything is shared.
#[derive(Clone)]
pub struct Service {
    pub store: Store,
    pub config: Arc<ServiceConfig>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    /// Sends codes and invitations (SMTP, SMS webhook, or the development outbox).
    pub delivery: Arc<dyn Deliver>,
    /// argon2id with the configured cost.
    pub hasher: PasswordHasher,
    /// Keys what unknown users are shown and counted as (see `sign_in::machine::decoy`),
    /// derived from the master key so that every node and every restart agree.
    pub decoy_key: Arc<[u8; 32]>,
    /// Permits for password hashing, one per core: argon2id takes 19 MiB and tens of
    /// milliseconds per hash, so running more at once only adds memory, not throughput.
    pub hashing: Arc<tokio::sync::Semaphore>,
    /// Verified access tokens by SHA-256, with their claims and expiry.
    pub verified: Arc<std::sync::Mutex<crate::sign_in::access_token::VerifiedCache>>,
    /// Pools' signing keys, opened once.
    pub keys: Arc<RwLock<HashMap<String, Arc<crate::pool::keys::PoolKeys>>>>,
    /// Runs the functions pools name in their `LambdaConfig` (see [`crate::trigger`]).
    pub triggers: Arc<dyn tessera_core::trigger::Invoke>,
    /// The keys codes are sealed with for custom sender functions, by `KMSKeyID`.
    pub sender_keys: Arc<Vec<tessera_core::trigger::SenderKey>>,
    /// Permits for custom sender calls in flight: they run after the operation answers, so
    /// without a bound a flood of sign-ups would pile up tasks and connections.
    pub senders: Arc<tokio::sync::Semaphore>,
    /// Reads upstream providers' discovery documents and metadata (issue 15).
    pub upstream: Arc<dyn crate::federation::Upstream>,
    /// Where the social presets' upstreams are, and whether loopback HTTP is allowed.
    pub federation: Arc<crate::federation::details::UpstreamOverrides>,
    /// Request-rate limits (issue 16; off unless configured).
    pub rate_limits: Arc<crate::rate_limit::RateLimits>,
    /// How long users' authentication events are kept (issue 16).
    pub audit_retention: std::time::Duration,
    /// Where authentication events are streamed, if anywhere, and the permits for
    /// deliveries in flight (an unreachable receiver must not pile up tasks).
    pub audit_sink: Option<(
        Arc<dyn tessera_core::trigger::AuditSink>,
        Arc<tokio::sync::Semaphore>,
    )>,
}

impl Service {
    /// A random (version 4) UUID from the service's randomness: a user's `sub`, a sign-in
    /// session's `origin_jti`.
    pub fn random_uuid(&self) -> String {
        let mut bytes = [0u8; 16];
        self.random.fill(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// The service over `store`, with time and randomness supplied by the caller.
    pub fn new(
        store: Store,
        config: ServiceConfig,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        delivery: Arc<dyn Deliver>,
    ) -> Self {
        Self {
            decoy_key: Arc::new(store.derived_key("sign-in-decoys")),
            store,
            config: Arc::new(config),
            clock,
            random,
            delivery,
            hasher: PasswordHasher::owasp(),
            keys: Arc::default(),
            verified: Arc::default(),
            triggers: Arc::new(tessera_core::trigger::NoTargets),
            sender_keys: Arc::default(),
            senders: Arc::new(tokio::sync::Semaphore::new(64)),
            upstream: Arc::new(crate::federation::NoUpstream),
            federation: Arc::default(),
            rate_limits: Arc::default(),
            audit_retention: crate::directory::auth_event::RETENTION,
            audit_sink: None,
            hashing: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            )),
        }
    }

    /// Keeps users' authentication events for `retention` (by default
    /// [`crate::directory::auth_event::RETENTION`]).
    #[must_use]
    pub fn with_audit_retention(mut self, retention: std::time::Duration) -> Self {
        self.audit_retention = retention;
        self
    }

    /// Streams authentication events to `sink` as they are recorded.
    #[must_use]
    pub fn with_audit_sink(mut self, sink: Arc<dyn tessera_core::trigger::AuditSink>) -> Self {
        self.audit_sink = Some((sink, Arc::new(tokio::sync::Semaphore::new(64))));
        self
    }

    /// Limits request rates as `config` says (by default, nothing is limited).
    #[must_use]
    pub fn with_rate_limits(mut self, config: crate::rate_limit::RateLimitConfig) -> Self {
        self.rate_limits = Arc::new(crate::rate_limit::RateLimits::new(config));
        self
    }

    /// Uses another argon2id cost.
    #[must_use]
    pub fn with_password_hasher(mut self, hasher: PasswordHasher) -> Self {
        self.hasher = hasher;
        self
    }

    /// Runs triggers with `triggers` (by default, none has a target).
    #[must_use]
    pub fn with_triggers(mut self, triggers: Arc<dyn tessera_core::trigger::Invoke>) -> Self {
        self.triggers = triggers;
        self
    }

    /// Reaches upstream identity providers through `upstream`, with `overrides`.
    #[must_use]
    pub fn with_federation(
        mut self,
        upstream: Arc<dyn crate::federation::Upstream>,
        overrides: crate::federation::details::UpstreamOverrides,
    ) -> Self {
        self.upstream = upstream;
        self.federation = Arc::new(overrides);
        self
    }

    /// Seals the codes of custom sender functions with these keys.
    #[must_use]
    pub fn with_sender_keys(mut self, keys: Vec<tessera_core::trigger::SenderKey>) -> Self {
        self.sender_keys = Arc::new(keys);
        self
    }

    /// Runs password-hashing work off the async workers, at most one job per core.
    pub async fn hash_work<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, crate::Error> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|e| crate::Error::internal(&e))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| crate::Error::internal(&e))
    }

    /// Deletes expired sign-in state (see `Store::sweep_expired`) and returns how many rows
    /// went.
    pub async fn sweep(&self) -> Result<u64, crate::Error> {
        let now = self.clock.now();
        let expired = self
            .store
            .sweep_expired(now, tessera_core::lockout::LOCKOUT_MAX)
            .await?;
        // Keys replaced longer ago than any token lives verify nothing any more.
        let replaced = self
            .store
            .sweep_replaced_signing_keys(
                now.checked_sub(crate::pool::keys::REPLACED_KEY_KEPT)
                    .unwrap_or(std::time::UNIX_EPOCH),
            )
            .await?;
        let events = self
            .store
            .sweep_auth_events(
                now.checked_sub(self.audit_retention)
                    .unwrap_or(std::time::UNIX_EPOCH),
            )
            .await?;
        // No recovery restores to a point older than the journal keeps.
        let journal = self
            .store
            .sweep_recovery_journal(
                now.checked_sub(crate::pool::recovery::JOURNAL_KEPT)
                    .unwrap_or(std::time::UNIX_EPOCH),
            )
            .await?;
        Ok(expired + replaced + events + journal)
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
