//! The identity service's state: the user-pool service it checks logins with (and whose
//! store, clock, randomness and settings it shares), the lowered `[identity]` configuration,
//! the identity issuer's keys and the keys credentials are sealed with.

use std::sync::{Arc, RwLock};

use tessera_credentials::{SessionKey, Verifier};

use crate::config::Settings;
use crate::issuer::IssuerKeys;
use crate::upstream::{NoUpstream, Upstream};

/// The Cognito Identity service. Cheap to clone: everything is shared.
#[derive(Clone)]
pub struct IdentityService {
    /// The user-pool service: logins from tessera's own pools are checked with its keys and
    /// store, and its clock, randomness and deployment settings are this service's too.
    pub idp: tessera_idp::Service,
    pub settings: Arc<Settings>,
    /// The identity issuer's keys, opened once.
    pub(crate) issuer_keys: Arc<RwLock<Option<Arc<IssuerKeys>>>>,
    /// Seals session tokens; the first seals, every one opens (the others are earlier keys).
    pub session_keys: Arc<Vec<SessionKey>>,
    /// Checks requests signed with those credentials (GetCallerIdentity, the check
    /// endpoint), built once over the same keys.
    pub verifier: Arc<Verifier>,
    /// An external STS and OpenID issuers' keys.
    pub upstream: Arc<dyn Upstream>,
}

/// The purpose the session-token key is derived from the master key under. A service that
/// checks credentials gets the same key from `tessera credentials session-key`.
pub const SESSION_KEY_PURPOSE: &str = "sts-session-token";

impl IdentityService {
    /// The service over the user-pool service `idp`; the session key is derived from the
    /// store's master key, so every node seals and opens the same tokens.
    pub fn new(idp: tessera_idp::Service, settings: Settings) -> Self {
        let key = SessionKey::from_bytes(idp.store.derived_key(SESSION_KEY_PURPOSE));
        Self {
            idp,
            settings: Arc::new(settings),
            issuer_keys: Arc::default(),
            verifier: Arc::new(Verifier::new(vec![key.clone()])),
            session_keys: Arc::new(vec![key]),
            upstream: Arc::new(NoUpstream),
        }
    }

    /// Reaches external STS endpoints and OpenID issuers through `upstream`.
    #[must_use]
    pub fn with_upstream(mut self, upstream: Arc<dyn Upstream>) -> Self {
        self.upstream = upstream;
        self
    }

    /// The store.
    pub fn store(&self) -> &tessera_store::Store {
        &self.idp.store
    }

    /// Now, from the service's clock.
    pub fn now(&self) -> std::time::SystemTime {
        self.idp.clock.now()
    }

    /// Now in whole seconds since the epoch.
    pub fn now_seconds(&self) -> u64 {
        self.now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// The account id in ARNs.
    pub fn account_id(&self) -> &str {
        &self.idp.config.account_id
    }

    /// The identity issuer: `<public url>/identity`.
    pub fn issuer(&self) -> String {
        format!("{}/identity", self.idp.config.public_url)
    }

    /// A fresh `<region>:<uuid>` id.
    pub fn new_id(&self, region: &str) -> String {
        format!("{region}:{}", self.idp.random_uuid())
    }
}
