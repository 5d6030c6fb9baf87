//! The state every handler shares: the Cognito service, and what only the HTTP edge needs
//! (the SigV4 key cache, the hosted pages' CSRF key, the outbox it serves).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use tessera_core::message::Deliver;
use tessera_core::{Clock, PasswordHasher, Random};
use tessera_idp::{Service, ServiceConfig};
use tessera_store::Store;

/// The system clock; the one place the server reads the time of day.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Shared, cheaply clonable handler state: the service, plus the edge's own parts. It
/// dereferences to the [`Service`], so a handler passes `&state` wherever the service is
/// wanted.
#[derive(Clone)]
pub struct AppState {
    pub(crate) service: Service,
    /// The Cognito Identity service (identity pools, issue 14), over the same store.
    pub(crate) identity: tessera_identity::IdentityService,
    /// Access-key secrets already opened, by key id, with when they were read: a key is
    /// never changed but may be deleted, so an entry is trusted for a few seconds only
    /// (`signature::KEY_CACHE_TTL`).
    pub(crate) access_keys: Arc<RwLock<HashMap<String, (String, SystemTime)>>>,
    /// The development outbox file, readable by administrators over HTTP.
    pub(crate) outbox_path: Option<std::path::PathBuf>,
    /// The hosted pages' CSRF key, derived from the master key once (every node derives the
    /// same one).
    pub(crate) csrf_key: Arc<aws_lc_rs::hmac::Key>,
    /// The Prometheus recorder's handle, when the binary installed one (`GET /metrics`).
    pub(crate) metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Test mode's clock, when the server runs with `--test-mode` (see `test_mode`).
    pub(crate) test_mode: Option<Arc<crate::test_mode::TestClock>>,
}

impl std::ops::Deref for AppState {
    type Target = Service;

    fn deref(&self) -> &Service {
        &self.service
    }
}

impl AppState {
    /// State over `store`, with time and randomness supplied by the caller.
    pub fn new(
        store: Store,
        config: ServiceConfig,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        delivery: Arc<dyn Deliver>,
    ) -> Self {
        let csrf_key = Arc::new(aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            &store.derived_key("hosted-pages-csrf"),
        ));
        let service = Service::new(store, config, clock, random, delivery);
        Self {
            identity: tessera_identity::IdentityService::new(
                service.clone(),
                tessera_identity::config::Settings::default(),
            ),
            service,
            access_keys: Arc::default(),
            outbox_path: None,
            csrf_key,
            metrics: None,
            test_mode: None,
        }
    }

    /// Serves the installed recorder's metrics at `GET /metrics` (see `telemetry`).
    #[must_use]
    pub fn with_metrics(mut self, handle: metrics_exporter_prometheus::PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }

    /// Test mode (issue 16): admin calls signed with any credentials are accepted, codes are
    /// readable and the clock movable over HTTP, and every response says so. `clock` must be
    /// the clock the state was built with.
    #[must_use]
    pub fn with_test_mode(mut self, clock: Arc<crate::test_mode::TestClock>) -> Self {
        self.test_mode = Some(clock);
        self
    }

    /// Makes the development outbox readable at `GET /admin/outbox`.
    pub fn with_outbox(mut self, path: std::path::PathBuf) -> Self {
        self.outbox_path = Some(path);
        self
    }

    /// Uses another argon2id cost.
    pub fn with_password_hasher(mut self, hasher: PasswordHasher) -> Self {
        self.service = self.service.with_password_hasher(hasher);
        self.identity.idp = self.service.clone();
        self
    }

    /// Keeps users' authentication events for `retention` (issue 16).
    #[must_use]
    pub fn with_audit_retention(mut self, retention: std::time::Duration) -> Self {
        self.service = self.service.with_audit_retention(retention);
        self.identity.idp = self.service.clone();
        self
    }

    /// Streams authentication events to `sink` (issue 16).
    #[must_use]
    pub fn with_audit_sink(mut self, sink: Arc<dyn tessera_core::trigger::AuditSink>) -> Self {
        self.service = self.service.with_audit_sink(sink);
        self.identity.idp = self.service.clone();
        self
    }

    /// Limits request rates (issue 16).
    #[must_use]
    pub fn with_rate_limits(mut self, config: tessera_idp::rate_limit::RateLimitConfig) -> Self {
        self.service = self.service.with_rate_limits(config);
        self.identity.idp = self.service.clone();
        self
    }

    /// Runs the pools' Lambda triggers with `triggers`.
    pub fn with_triggers(mut self, triggers: Arc<dyn tessera_core::trigger::Invoke>) -> Self {
        self.service = self.service.with_triggers(triggers);
        self.identity.idp = self.service.clone();
        self
    }

    /// Seals the codes of custom sender functions with these keys.
    pub fn with_sender_keys(mut self, keys: Vec<tessera_core::trigger::SenderKey>) -> Self {
        self.service = self.service.with_sender_keys(keys);
        self.identity.idp = self.service.clone();
        self
    }

    /// Configures identity pools: roles, external STS endpoints and OpenID providers, and the
    /// client that reaches them.
    pub fn with_identity(
        mut self,
        settings: tessera_identity::config::Settings,
        upstream: Arc<dyn tessera_identity::upstream::Upstream>,
    ) -> Self {
        self.identity = tessera_identity::IdentityService::new(self.service.clone(), settings)
            .with_upstream(upstream);
        self
    }

    /// Reaches upstream services through `upstream`: identity pools' external STS endpoints
    /// and OpenID providers (with `identity`'s settings), and user pools' identity providers
    /// (with `federation`'s overrides).
    pub fn with_upstream<U>(
        mut self,
        identity: tessera_identity::config::Settings,
        upstream: Arc<U>,
        federation: tessera_idp::federation::details::UpstreamOverrides,
    ) -> Self
    where
        U: tessera_identity::upstream::Upstream + tessera_idp::federation::Upstream + 'static,
    {
        self.service = self.service.with_federation(upstream.clone(), federation);
        self.with_identity(identity, upstream)
    }

    /// The identity-pool service behind the edge.
    pub fn identity(&self) -> &tessera_identity::IdentityService {
        &self.identity
    }

    /// The Cognito service behind the edge.
    pub fn service(&self) -> &Service {
        &self.service
    }
}
