//! The per-issuer JWKS cache.
//!
//! Fetch policy:
//! - the first token of an issuer fetches its keys (concurrent first requests wait for the
//!   same fetch; after a failure, the next try waits `min_fetch_interval`);
//! - keys older than `refresh_interval` are refetched in the background while the cached
//!   ones keep answering;
//! - a kid that is not cached causes a refetch at most once per `min_fetch_interval`;
//!   requests that arrive during a fetch wait for it instead of starting another;
//! - a failed fetch keeps the cached keys (the issuer being down does not stop
//!   verification); a successful one replaces them, so a key the issuer withdrew stops
//!   verifying.
//!
//! Every fetch runs in its own task holding the fetch lock, so a request that is cancelled
//! while waiting does not cancel the fetch others wait for.
//!
//! Where keys come from: the configured `jwks_uri`, or the one the issuer's discovery
//! document names, which must be https (plain http only on the own origin of an http issuer
//! on a loopback host, see [`discovered_jwks_uri_allowed`]). No request follows a redirect:
//! a 3xx answer is a [`FetchError::Redirected`], so a discovery or key endpoint cannot send
//! the verifier to fetch from somewhere else.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use reqwest::Url;
use serde::Deserialize;

use crate::clock::{elapsed, Clock};
use crate::config::JwksLocation;
use crate::error::{clip, FetchError, VerifyError};
use crate::jwk::{parse_jwks, Key, KeySet};

/// What every fetch needs, shared by all issuers of a verifier.
pub(crate) struct FetchContext {
    pub(crate) http: reqwest::Client,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) refresh_interval: Duration,
    pub(crate) min_fetch_interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_jwks_size: usize,
}

#[derive(Default)]
struct Status {
    /// A key set has been loaded at least once.
    loaded: bool,
    /// A fetch holds the fetch lock.
    in_flight: bool,
    last_success: Option<SystemTime>,
    last_attempt: Option<SystemTime>,
    last_unknown_kid_fetch: Option<SystemTime>,
    last_error: Option<FetchError>,
}

/// State kept under the fetch lock.
#[derive(Default)]
struct FetchState {
    /// The jwks_uri read from the discovery document.
    discovered: Option<String>,
}

pub(crate) struct IssuerCache {
    pub(crate) issuer: String,
    location: JwksLocation,
    keys: RwLock<Arc<KeySet>>,
    /// Completed fetch attempts (successful or not).
    generation: AtomicU64,
    status: Mutex<Status>,
    fetch_lock: Arc<tokio::sync::Mutex<FetchState>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl IssuerCache {
    pub(crate) fn new(issuer: String, location: JwksLocation) -> Self {
        IssuerCache {
            issuer,
            location,
            keys: RwLock::new(Arc::new(KeySet::default())),
            generation: AtomicU64::new(0),
            status: Mutex::new(Status::default()),
            fetch_lock: Arc::new(tokio::sync::Mutex::new(FetchState::default())),
        }
    }

    /// Installs a JWKS document given in the configuration, as if fetched at `now`.
    pub(crate) fn preload(&self, body: &[u8], now: SystemTime) -> Result<(), String> {
        let set = parse_jwks(body)?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        let mut status = lock(&self.status);
        status.loaded = true;
        status.last_success = Some(now);
        status.last_attempt = Some(now);
        Ok(())
    }

    fn snapshot(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The key named `kid`, fetching the issuer's keys if the policy allows.
    pub(crate) async fn key(
        self: &Arc<Self>,
        kid: &str,
        ctx: &Arc<FetchContext>,
    ) -> Result<Arc<Key>, VerifyError> {
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(key) = self.snapshot().get(kid) {
            let key = key.clone();
            self.refresh_if_stale(ctx);
            return Ok(key);
        }
        let now = ctx.clock.now();
        {
            let status = lock(&self.status);
            if !status.in_flight && !self.may_fetch(&status, now, ctx) {
                drop(status);
                // A fetch may have installed the key since the first look.
                return self.lookup_after_fetch(kid);
            }
        }
        let guard = self.fetch_lock.clone().lock_owned().await;
        if self.generation.load(Ordering::Acquire) != generation {
            // A fetch finished while this request waited: use it rather than fetch again.
            return self.lookup_after_fetch(kid);
        }
        {
            let mut status = lock(&self.status);
            let now = ctx.clock.now();
            if !self.may_fetch(&status, now, ctx) {
                return Err(self.miss_locked(kid, &status));
            }
            if status.loaded {
                status.last_unknown_kid_fetch = Some(now);
                tracing::debug!(issuer = %self.issuer, kid = %clip(kid), "unknown kid; refetching the JWKS");
            }
            status.in_flight = true;
        }
        self.run_fetch(guard, ctx).await;
        self.lookup_after_fetch(kid)
    }

    /// Runs one fetch in its own task (so that the caller giving up does not cancel it) and
    /// waits for it. The caller holds the fetch lock and has set `in_flight`.
    async fn run_fetch(
        self: &Arc<Self>,
        guard: tokio::sync::OwnedMutexGuard<FetchState>,
        ctx: &Arc<FetchContext>,
    ) {
        let finished = match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let this = self.clone();
                let ctx = ctx.clone();
                runtime
                    .spawn(async move { this.fetch_locked(guard, &ctx).await })
                    .await
                    .is_ok()
            }
            Err(_) => {
                let mut status = lock(&self.status);
                status.last_error = Some(FetchError::Unfinished("no tokio runtime"));
                false
            }
        };
        if !finished {
            lock(&self.status).in_flight = false;
        }
    }

    /// Whether a fetch for a missing kid may start now: a cold cache retries after a failed
    /// attempt once `min_fetch_interval` has passed; a loaded one refetches for unknown kids
    /// at most once per `min_fetch_interval`.
    fn may_fetch(&self, status: &Status, now: SystemTime, ctx: &FetchContext) -> bool {
        let since = if status.loaded {
            status.last_unknown_kid_fetch
        } else {
            status.last_attempt
        };
        since.is_none_or(|t| elapsed(t, now, ctx.min_fetch_interval))
    }

    fn lookup_after_fetch(&self, kid: &str) -> Result<Arc<Key>, VerifyError> {
        match self.snapshot().get(kid) {
            Some(key) => Ok(key.clone()),
            None => Err(self.miss(kid)),
        }
    }

    fn miss(&self, kid: &str) -> VerifyError {
        let status = lock(&self.status);
        self.miss_locked(kid, &status)
    }

    fn miss_locked(&self, kid: &str, status: &Status) -> VerifyError {
        if status.loaded {
            VerifyError::UnknownKid(clip(kid))
        } else {
            VerifyError::KeysUnavailable {
                issuer: self.issuer.clone(),
                reason: status.last_error.clone().unwrap_or(FetchError::NotFetched),
            }
        }
    }

    /// Starts a background refetch when the keys are older than the refresh interval (and
    /// no fetch is running, and the last attempt is not too recent).
    fn refresh_if_stale(self: &Arc<Self>, ctx: &Arc<FetchContext>) {
        let now = ctx.clock.now();
        let due = |status: &Status| {
            !status.in_flight
                && status
                    .last_success
                    .is_none_or(|t| elapsed(t, now, ctx.refresh_interval))
                && status
                    .last_attempt
                    .is_none_or(|t| elapsed(t, now, ctx.min_fetch_interval))
        };
        if !due(&lock(&self.status)) {
            return;
        }
        let Ok(guard) = self.fetch_lock.clone().try_lock_owned() else {
            return;
        };
        {
            let mut status = lock(&self.status);
            if !due(&status) {
                return;
            }
            status.in_flight = true;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            lock(&self.status).in_flight = false;
            return;
        };
        tracing::debug!(issuer = %self.issuer, "refreshing the JWKS in the background");
        let this = self.clone();
        let ctx = ctx.clone();
        runtime.spawn(async move { this.fetch_locked(guard, &ctx).await });
    }

    /// Fetches now, whatever the policy says (used by `Verifier::refresh_keys`).
    pub(crate) async fn refresh_now(
        self: &Arc<Self>,
        ctx: &Arc<FetchContext>,
    ) -> Result<(), VerifyError> {
        let guard = self.fetch_lock.clone().lock_owned().await;
        let generation = self.generation.load(Ordering::Acquire);
        lock(&self.status).in_flight = true;
        self.run_fetch(guard, ctx).await;
        let status = lock(&self.status);
        match &status.last_error {
            None if self.generation.load(Ordering::Acquire) != generation => Ok(()),
            error => Err(VerifyError::KeysUnavailable {
                issuer: self.issuer.clone(),
                reason: error
                    .clone()
                    .unwrap_or(FetchError::Unfinished("the fetch task ended early")),
            }),
        }
    }

    /// One fetch, holding the fetch lock; records the outcome and bumps the generation.
    async fn fetch_locked(
        &self,
        mut guard: tokio::sync::OwnedMutexGuard<FetchState>,
        ctx: &FetchContext,
    ) {
        let started = ctx.clock.now();
        let result = self.fetch(&mut guard, ctx).await;
        {
            let mut status = lock(&self.status);
            status.in_flight = false;
            status.last_attempt = Some(started);
            match result {
                Ok(set) => {
                    tracing::debug!(
                        issuer = %self.issuer,
                        keys = set.len(),
                        kids = ?set.kids().map(clip).collect::<Vec<_>>(),
                        "fetched the JWKS"
                    );
                    *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
                    status.loaded = true;
                    status.last_success = Some(started);
                    status.last_error = None;
                }
                Err(error) => {
                    if status.loaded {
                        tracing::warn!(issuer = %self.issuer, %error, "JWKS fetch failed; keeping the cached keys");
                    } else {
                        tracing::warn!(issuer = %self.issuer, %error, "JWKS fetch failed");
                    }
                    // Rediscover next time, in case the jwks_uri moved.
                    guard.discovered = None;
                    status.last_error = Some(error);
                }
            }
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
        drop(guard);
    }

    async fn fetch(
        &self,
        state: &mut FetchState,
        ctx: &FetchContext,
    ) -> Result<KeySet, FetchError> {
        let uri = match &self.location {
            JwksLocation::Uri(uri) => uri.clone(),
            JwksLocation::Discover => match &state.discovered {
                Some(uri) => uri.clone(),
                None => {
                    let uri = self.discover(ctx).await?;
                    state.discovered = Some(uri.clone());
                    uri
                }
            },
        };
        let body = get(ctx, &uri).await?;
        parse_jwks(&body).map_err(|reason| FetchError::InvalidJwks {
            url: clip(&uri),
            reason,
        })
    }

    async fn discover(&self, ctx: &FetchContext) -> Result<String, FetchError> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let body = get(ctx, &url).await?;
        let invalid = |reason: String| FetchError::InvalidDiscovery {
            url: url.clone(),
            reason,
        };
        let document: Discovery =
            serde_json::from_slice(&body).map_err(|e| invalid(e.to_string()))?;
        if document.issuer != self.issuer {
            return Err(FetchError::DiscoveryIssuerMismatch {
                url,
                found: clip(&document.issuer),
                expected: self.issuer.clone(),
            });
        }
        let jwks_uri = Url::parse(&document.jwks_uri)
            .map_err(|e| invalid(format!("jwks_uri {:?}: {e}", clip(&document.jwks_uri))))?;
        // The issuer was checked to be an http(s) URL when the verifier was built.
        let issuer = Url::parse(&self.issuer).map_err(|e| invalid(e.to_string()))?;
        if !discovered_jwks_uri_allowed(&issuer, &jwks_uri) {
            return Err(FetchError::InsecureJwksUri {
                url,
                jwks_uri: clip(&document.jwks_uri),
            });
        }
        Ok(document.jwks_uri)
    }
}

/// Whether keys may be fetched from the `jwks_uri` a discovery document names.
///
/// An https `jwks_uri` is always accepted: the keys then arrive authenticated, whoever
/// serves them. Plain http is accepted only when the issuer itself is an http URL on a
/// loopback host (tessera on `http://127.0.0.1:9229` during development, the end-to-end
/// suites), where the traffic never leaves the machine; and then only on the issuer's own
/// origin (scheme, host and port), not on any loopback URL. Same origin is the narrowest
/// rule that keeps that setup working: the discovery document came over cleartext from the
/// issuer's server, which the verifier already trusts for discovery, and keys from that
/// same server add no new party. Any loopback URL would let whoever answered discovery point
/// the verifier at another local service (another port, a sidecar, an admin endpoint) and
/// make it fetch from there. A loopback issuer whose keys really live elsewhere is
/// configured explicitly (`Issuer::new`, `with_jwks_uri`), which is the operator's decision
/// rather than the document's.
fn discovered_jwks_uri_allowed(issuer: &Url, jwks_uri: &Url) -> bool {
    match jwks_uri.scheme() {
        "https" => true,
        "http" => {
            issuer.scheme() == "http" && is_loopback(issuer) && jwks_uri.origin() == issuer.origin()
        }
        _ => false,
    }
}

/// Whether a URL's host is a loopback address (127.0.0.0/8, `::1`) or `localhost`.
fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    // IPv6 hosts are written in brackets.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// GET with a timeout and a body size limit, following no redirect.
async fn get(ctx: &FetchContext, url: &str) -> Result<Vec<u8>, FetchError> {
    let request_error = |e: reqwest::Error| FetchError::Request {
        url: clip(url),
        reason: e.to_string(),
    };
    let target = Url::parse(url).map_err(|e| FetchError::Request {
        url: clip(url),
        reason: e.to_string(),
    })?;
    let mut response = ctx
        .http
        .get(target.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(ctx.timeout)
        .send()
        .await
        .map_err(request_error)?;
    let status = response.status();
    if status.is_redirection() {
        return Err(FetchError::Redirected {
            url: clip(url),
            location: response
                .headers()
                .get(reqwest::header::LOCATION)
                .map(|value| clip(&String::from_utf8_lossy(value.as_bytes()))),
        });
    }
    // A client given through `http_client` may follow redirects on its own; what it
    // fetched from elsewhere is not used.
    if response.url() != &target {
        return Err(FetchError::Redirected {
            url: clip(url),
            location: Some(clip(response.url().as_str())),
        });
    }
    if !status.is_success() {
        return Err(FetchError::Status {
            url: clip(url),
            status: status.as_u16(),
        });
    }
    let too_large = || FetchError::TooLarge {
        url: clip(url),
        max: ctx.max_jwks_size,
    };
    if response
        .content_length()
        .is_some_and(|len| len > ctx.max_jwks_size as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request_error)? {
        if body.len() + chunk.len() > ctx.max_jwks_size {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(issuer: &str, jwks_uri: &str) -> bool {
        discovered_jwks_uri_allowed(&Url::parse(issuer).unwrap(), &Url::parse(jwks_uri).unwrap())
    }

    #[test]
    fn https_jwks_uris_are_accepted_from_any_issuer() {
        assert!(allowed(
            "https://idp.example/pool",
            "https://keys.example/jwks.json"
        ));
        assert!(allowed(
            "http://127.0.0.1:9229/pool",
            "https://keys.example/jwks.json"
        ));
        assert!(allowed(
            "http://idp.internal/pool",
            "https://idp.internal/jwks.json"
        ));
    }

    #[test]
    fn http_jwks_uris_need_a_loopback_http_issuer_and_its_origin() {
        // An https issuer never hands out cleartext keys, not even on its own host.
        assert!(!allowed(
            "https://idp.example/pool",
            "http://idp.example/pool/jwks.json"
        ));
        assert!(!allowed(
            "https://127.0.0.1:9229/pool",
            "http://127.0.0.1:9229/jwks.json"
        ));
        // An http issuer off the loopback interface is refused cleartext keys too.
        assert!(!allowed(
            "http://idp.internal:9229/pool",
            "http://idp.internal:9229/jwks.json"
        ));
        assert!(!allowed(
            "http://10.0.0.5:9229/pool",
            "http://10.0.0.5:9229/jwks.json"
        ));
        // Loopback issuers: their own origin only.
        for issuer in [
            "http://127.0.0.1:9229/us-east-1_Example01",
            "http://127.8.9.10:9229/p",
            "http://localhost:9229/p",
            "http://LOCALHOST:9229/p",
            "http://[::1]:9229/p",
        ] {
            let origin = Url::parse(issuer).unwrap().origin().ascii_serialization();
            assert!(
                allowed(issuer, &format!("{origin}/p/.well-known/jwks.json")),
                "{issuer}"
            );
            assert!(
                allowed(issuer, &format!("{origin}/elsewhere.json")),
                "{issuer}"
            );
        }
        assert!(!allowed(
            "http://127.0.0.1:9229/p",
            "http://127.0.0.1:9230/jwks.json"
        ));
        assert!(!allowed(
            "http://127.0.0.1:9229/p",
            "http://localhost:9229/jwks.json"
        ));
        assert!(!allowed(
            "http://127.0.0.1:9229/p",
            "http://127.0.0.2:9229/jwks.json"
        ));
        assert!(!allowed(
            "http://127.0.0.1:9229/p",
            "http://idp.example:9229/jwks.json"
        ));
        assert!(!allowed(
            "http://localhost.example/p",
            "http://localhost.example/jwks.json"
        ));
        // Default ports are the same origin written two ways.
        assert!(allowed(
            "http://127.0.0.1/p",
            "http://127.0.0.1:80/jwks.json"
        ));
    }

    #[test]
    fn other_schemes_are_refused() {
        assert!(!allowed("http://127.0.0.1:9229/p", "file:///etc/jwks.json"));
        assert!(!allowed(
            "https://idp.example/p",
            "ftp://idp.example/jwks.json"
        ));
    }
}
