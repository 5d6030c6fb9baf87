//! What a verifier trusts and checks: issuers, token use, clients, scopes, groups, leeway.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::{FetchContext, IssuerCache};
use crate::clock::{Clock, SystemClock};
use crate::error::ConfigError;
use crate::revocation::RevocationCheck;
use crate::verifier::{Inner, Verifier};

/// Which tokens are accepted, by their `token_use` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenUse {
    /// ID tokens (`token_use` = `id`); the client id is checked against `aud`.
    Id,
    /// Access tokens (`token_use` = `access`); the client id is checked against `client_id`.
    /// The default: an API should be called with access tokens.
    Access,
    /// Either of the two.
    Either,
    /// No `token_use` check, for OpenID Connect issuers other than Cognito and tessera,
    /// which do not set the claim. The client id is then checked against `client_id` when
    /// the token has one, otherwise against `aud`.
    Unchecked,
}

/// One trusted issuer: the exact `iss` value and where its keys are published.
#[derive(Debug, Clone)]
pub struct Issuer {
    pub(crate) issuer: String,
    pub(crate) jwks: JwksLocation,
    pub(crate) preloaded: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JwksLocation {
    /// A known jwks_uri.
    Uri(String),
    /// `jwks_uri` from `<issuer>/.well-known/openid-configuration`.
    Discover,
}

impl Issuer {
    /// An issuer whose keys are at `jwks_uri`.
    pub fn new(issuer: impl Into<String>, jwks_uri: impl Into<String>) -> Self {
        Issuer {
            issuer: issuer.into(),
            jwks: JwksLocation::Uri(jwks_uri.into()),
            preloaded: None,
        }
    }

    /// An issuer whose `jwks_uri` is read from `<issuer>/.well-known/openid-configuration`
    /// (whose `issuer` member must equal `issuer`).
    pub fn discover(issuer: impl Into<String>) -> Self {
        Issuer {
            issuer: issuer.into(),
            jwks: JwksLocation::Discover,
            preloaded: None,
        }
    }

    /// An Amazon Cognito user pool: issuer
    /// `https://cognito-idp.{region}.amazonaws.com/{pool_id}`, keys at
    /// `{issuer}/.well-known/jwks.json`.
    pub fn cognito(region: &str, pool_id: &str) -> Self {
        let issuer = format!("https://cognito-idp.{region}.amazonaws.com/{pool_id}");
        let jwks = format!("{issuer}/.well-known/jwks.json");
        Issuer::new(issuer, jwks)
    }

    /// A tessera user pool: issuer `{base_url}/{pool_id}` (`base_url` is tessera's
    /// `--public-url`, a trailing `/` is ignored), keys at `{issuer}/.well-known/jwks.json`.
    pub fn tessera(base_url: &str, pool_id: &str) -> Self {
        let issuer = format!("{}/{pool_id}", base_url.trim_end_matches('/'));
        let jwks = format!("{issuer}/.well-known/jwks.json");
        Issuer::new(issuer, jwks)
    }

    /// Fetches the keys from `jwks_uri` instead (for example a Cognito-form issuer whose
    /// keys are served by tessera or by a test server).
    pub fn with_jwks_uri(mut self, jwks_uri: impl Into<String>) -> Self {
        self.jwks = JwksLocation::Uri(jwks_uri.into());
        self
    }

    /// Starts with these keys (a JWKS document) in the cache, so no fetch is needed until a
    /// token names another kid or the refresh interval passes.
    pub fn with_jwks(mut self, jwks_json: impl Into<String>) -> Self {
        self.preloaded = Some(jwks_json.into());
        self
    }

    /// The `iss` value tokens must carry.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The JWKS location, unless it is discovered.
    pub fn jwks_uri(&self) -> Option<&str> {
        match &self.jwks {
            JwksLocation::Uri(uri) => Some(uri),
            JwksLocation::Discover => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum ClientPolicy {
    Any,
    Only(Vec<String>),
}

impl ClientPolicy {
    pub(crate) fn accepts(&self, client: &str) -> bool {
        match self {
            ClientPolicy::Any => true,
            ClientPolicy::Only(ids) => ids.iter().any(|id| id == client),
        }
    }
}

/// Scope and group requirements, checked after the token itself is valid.
#[derive(Debug, Clone, Default)]
pub(crate) struct Requirements {
    /// Every one of these must be in `scope`.
    pub(crate) scopes: Vec<String>,
    /// The user must be in at least one of these (`cognito:groups`), when not empty.
    pub(crate) any_group: Vec<String>,
}

/// Builds a [`Verifier`]. Start from [`Verifier::builder`].
pub struct VerifierBuilder {
    issuers: Vec<Issuer>,
    token_use: TokenUse,
    clients: Option<ClientPolicy>,
    requirements: Requirements,
    leeway: Duration,
    clock: Arc<dyn Clock>,
    revocation: Option<Arc<dyn RevocationCheck>>,
    max_token_size: usize,
    refresh_interval: Duration,
    min_fetch_interval: Duration,
    fetch_timeout: Duration,
    max_jwks_size: usize,
    http: Option<reqwest::Client>,
}

impl Default for VerifierBuilder {
    fn default() -> Self {
        VerifierBuilder {
            issuers: Vec::new(),
            token_use: TokenUse::Access,
            clients: None,
            requirements: Requirements::default(),
            leeway: Duration::from_secs(60),
            clock: Arc::new(SystemClock),
            revocation: None,
            max_token_size: 16 * 1024,
            refresh_interval: Duration::from_secs(300),
            min_fetch_interval: Duration::from_secs(10),
            fetch_timeout: Duration::from_secs(5),
            max_jwks_size: 256 * 1024,
            http: None,
        }
    }
}

impl VerifierBuilder {
    /// Trusts an issuer. Call once per issuer; a token's `iss` picks which one verifies it.
    pub fn issuer(mut self, issuer: Issuer) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Which `token_use` is accepted (default [`TokenUse::Access`]).
    pub fn token_use(mut self, token_use: TokenUse) -> Self {
        self.token_use = token_use;
        self
    }

    /// Accepts tokens of this app client (may be called several times).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        match &mut self.clients {
            Some(ClientPolicy::Only(ids)) => ids.push(client_id.into()),
            _ => self.clients = Some(ClientPolicy::Only(vec![client_id.into()])),
        }
        self
    }

    /// Accepts tokens of any of these app clients.
    pub fn client_ids<I, T>(mut self, client_ids: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        for id in client_ids {
            self = self.client_id(id);
        }
        self
    }

    /// Accepts tokens of every client of the trusted issuers (no `aud`/`client_id` check).
    /// One of `client_id`, `client_ids` or this must be called: skipping the check is a
    /// decision, not a default.
    pub fn any_client(mut self) -> Self {
        self.clients = Some(ClientPolicy::Any);
        self
    }

    /// Requires this scope in the `scope` claim (every required scope must be present; ID
    /// tokens carry no scope, so they fail this check).
    pub fn require_scope(mut self, scope: impl Into<String>) -> Self {
        self.requirements.scopes.push(scope.into());
        self
    }

    /// Requires the user to be in at least one of these groups (`cognito:groups`).
    pub fn require_any_group<I, T>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.requirements
            .any_group
            .extend(groups.into_iter().map(Into::into));
        self
    }

    /// Tolerance for `exp`, `nbf` and `iat` against the local clock (default 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The time source (default the system clock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Asks `check` about every otherwise valid token (for example against a deny list of
    /// `jti` or `origin_jti` values).
    pub fn revocation(mut self, check: impl RevocationCheck) -> Self {
        self.revocation = Some(Arc::new(check));
        self
    }

    /// Longest token accepted, in bytes (default 16 KiB); longer ones are refused unread.
    pub fn max_token_size(mut self, bytes: usize) -> Self {
        self.max_token_size = bytes;
        self
    }

    /// Age after which an issuer's keys are refetched in the background while the cached
    /// ones keep serving (default 5 minutes).
    pub fn jwks_refresh_interval(mut self, interval: Duration) -> Self {
        self.refresh_interval = interval;
        self
    }

    /// Least time between two fetches caused by unknown kids, and between retries after a
    /// failed fetch (default 10 s). A flood of tokens with random kids causes at most one
    /// fetch per interval per issuer.
    pub fn jwks_min_fetch_interval(mut self, interval: Duration) -> Self {
        self.min_fetch_interval = interval;
        self
    }

    /// Timeout of one discovery or JWKS request, body included (default 5 s).
    pub fn jwks_fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Largest JWKS or discovery document read (default 256 KiB).
    pub fn max_jwks_size(mut self, bytes: usize) -> Self {
        self.max_jwks_size = bytes;
        self
    }

    /// The HTTP client used for discovery and JWKS fetches (default: a new reqwest client
    /// with rustls that follows no redirects). The fetch timeout applies per request either
    /// way. Build this client with `redirect(reqwest::redirect::Policy::none())`: a redirect
    /// is refused ([`crate::FetchError::Redirected`]) and keys are never taken from where it
    /// points, but a client that follows redirects itself has already sent the request there
    /// by the time the verifier sees the answer.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Builds the verifier. No network access happens here; keys are fetched on first use
    /// or by [`Verifier::refresh_keys`].
    pub fn build(self) -> Result<Verifier, ConfigError> {
        if self.issuers.is_empty() {
            return Err(ConfigError::NoIssuer);
        }
        let clients = self.clients.ok_or(ConfigError::NoClientPolicy)?;
        let http = match self.http {
            Some(client) => client,
            None => reqwest::Client::builder()
                .timeout(self.fetch_timeout)
                // Keys come from the configured or discovered URL and nowhere else.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| ConfigError::HttpClient(e.to_string()))?,
        };
        let now = self.clock.now();
        let mut caches = Vec::with_capacity(self.issuers.len());
        for issuer in self.issuers {
            if caches
                .iter()
                .any(|c: &Arc<IssuerCache>| c.issuer == issuer.issuer)
            {
                return Err(ConfigError::DuplicateIssuer(issuer.issuer));
            }
            check_url(&issuer.issuer)?;
            if let JwksLocation::Uri(uri) = &issuer.jwks {
                check_url(uri)?;
            }
            let cache = IssuerCache::new(issuer.issuer.clone(), issuer.jwks.clone());
            if let Some(json) = &issuer.preloaded {
                cache
                    .preload(json.as_bytes(), now)
                    .map_err(|reason| ConfigError::InvalidJwks {
                        issuer: issuer.issuer.clone(),
                        reason,
                    })?;
            }
            caches.push(Arc::new(cache));
        }
        let ctx = Arc::new(FetchContext {
            http,
            clock: self.clock,
            refresh_interval: self.refresh_interval,
            min_fetch_interval: self.min_fetch_interval,
            timeout: self.fetch_timeout,
            max_jwks_size: self.max_jwks_size,
        });
        Ok(Verifier::from_inner(Inner {
            issuers: caches,
            ctx,
            token_use: self.token_use,
            clients,
            requirements: self.requirements,
            leeway_secs: self.leeway.as_secs(),
            revocation: self.revocation,
            max_token_size: self.max_token_size,
        }))
    }
}

fn check_url(url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        _ => Err(ConfigError::InvalidUrl(url.to_owned())),
    }
}
