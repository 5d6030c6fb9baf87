//! Request-rate limits (issue 16): Cognito's quota categories per user pool, and limits per
//! source address and per user on the sign-in and code paths, counted in windows of one
//! second that every node shares through the store (see `tessera_core::rate_limit`).
//! GetProvisionedLimit and UpdateProvisionedLimit read and change a category's rate.
//!
//! Off unless configured (`[rate_limits] enabled = true`): Cognito's rates are quotas for a
//! whole account, and a development server or a test suite would trip them at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tessera_core::rate_limit::{
    granted, guards_credentials, identity_operation_rate, lease_size, Category, CATEGORIES,
    DOMAIN_RATE, DOMAIN_SOURCE_RATE,
};

use crate::input::Input;
use crate::{Error, Service};

/// What is limited, and how much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Whether any limit applies.
    pub enabled: bool,
    /// Requests per second from one source address on the sign-in and code paths (0: none).
    pub per_address: u32,
    /// Requests per second for one user (by pool and name as given) on the same paths
    /// (0: none). Cognito's per-user quota is 10.
    pub per_user: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            per_address: 20,
            per_user: 10,
        }
    }
}

/// What a request to a pool's OAuth endpoints, hosted pages or federation endpoints counts
/// against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointQuota {
    /// The category whose rate applies.
    pub category: Category,
    /// Counted in an allocation of its own at the category's rate rather than in the
    /// category's: Cognito gives authorization-code redemption at the token endpoint "an
    /// additional quota allocation at the same rate as" UserAuthentication.
    pub own_allocation: bool,
    /// On the sign-in and code paths: also limited per source address and per named user.
    pub guards_credentials: bool,
}

impl EndpointQuota {
    /// A request counted in `category` only.
    pub fn of(category: Category) -> Self {
        Self {
            category,
            own_allocation: false,
            guards_credentials: false,
        }
    }

    /// A request of the sign-in and code paths, counted in `category`.
    pub fn credentials(category: Category) -> Self {
        Self {
            guards_credentials: true,
            ..Self::of(category)
        }
    }
}

/// A node's share of one window of one scope.
#[derive(Debug, Clone, Copy)]
struct Lease {
    window: i64,
    /// Requests this node may still admit in the window without asking the store.
    left: u32,
    /// The window is used up on every node: refuse without asking.
    full: bool,
}

/// How long a provisioned rate read from the store is trusted.
const PROVISIONED_TTL: Duration = Duration::from_secs(1);

/// Past this many scopes, leases of past windows are dropped.
const LEASE_PRUNE: usize = 10_000;

/// The limiter one service shares.
#[derive(Debug, Default)]
pub struct RateLimits {
    pub config: RateLimitConfig,
    leases: Mutex<HashMap<String, Lease>>,
    provisioned: Mutex<HashMap<(String, Category), (u32, Instant)>>,
}

impl RateLimits {
    pub fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }
}

/// A request refused by a limit: counted for `/metrics`, answered as Cognito does.
fn refused() -> Error {
    metrics::counter!("tessera_rate_limited_total").increment(1);
    rate_exceeded()
}

/// Whether counting admitted a request (`false`: a limit refused it), or the failure that
/// stopped the count.
fn within(counted: Result<(), Error>) -> Result<bool, Error> {
    match counted {
        Ok(()) => Ok(true),
        Err(e) if e.kind == "TooManyRequestsException" => Ok(false),
        Err(e) => Err(e),
    }
}

/// Cognito's answer to a request over a limit (HTTP 400, as every Cognito error).
pub fn rate_exceeded() -> Error {
    Error::new("TooManyRequestsException", "Rate exceeded")
}

impl Service {
    /// Counts an API request against every limit it falls under, before it runs; refuses it
    /// with `TooManyRequestsException` when one is used up. `source` is the client's address.
    pub async fn admit(
        &self,
        operation: &str,
        input: &Input,
        source: Option<IpAddr>,
    ) -> Result<(), Error> {
        let limits = &self.rate_limits;
        if !limits.config.enabled {
            return Ok(());
        }
        let category = Category::of_operation(operation, input.str("ChallengeName"));
        let pool = match category {
            Some(category) if category.per_pool() => self.pool_of(input).await?,
            _ => None,
        };
        if let Some(category) = category {
            let region = self.region_of(input, pool.as_deref());
            let rate = self.category_rate(&region, category).await?;
            let scope = match &pool {
                Some(pool) => format!("c/{pool}/{}", category.name()),
                None => format!("c/{region}/{}", category.name()),
            };
            self.take(&scope, rate).await?;
        }
        if guards_credentials(operation) {
            if let (Some(address), rate @ 1..) = (source, limits.config.per_address) {
                self.take(&format!("a/{address}"), rate).await?;
            }
            // Every credential operation falls in a category of its pool, so `pool` is known.
            if let (Some(name), rate @ 1.., Some(pool)) =
                (named_user(input), limits.config.per_user, &pool)
            {
                self.take(&format!("u/{pool}/{}", name.to_lowercase()), rate)
                    .await?;
            }
        }
        Ok(())
    }

    /// Counts a request to one of a pool's OAuth endpoints, hosted pages or federation
    /// endpoints against its quota, and on the sign-in and code paths against the limits per
    /// source address and per named `user`; `false` when one is used up.
    pub async fn admit_endpoint(
        &self,
        pool_id: &str,
        quota: EndpointQuota,
        source: Option<IpAddr>,
        user: Option<&str>,
    ) -> Result<bool, Error> {
        if !self.rate_limits.config.enabled {
            return Ok(true);
        }
        let region = tessera_core::region_of_pool_id(pool_id)
            .unwrap_or(&self.config.region)
            .to_owned();
        let category = quota.category;
        let rate = self.category_rate(&region, category).await?;
        let admitted = async {
            let scope = if quota.own_allocation {
                format!("c/{pool_id}/{}/own", category.name())
            } else {
                format!("c/{pool_id}/{}", category.name())
            };
            self.take(&scope, rate).await?;
            if quota.guards_credentials {
                if let (Some(address), rate @ 1..) = (source, self.rate_limits.config.per_address) {
                    self.take(&format!("a/{address}"), rate).await?;
                }
                if let (Some(name), rate @ 1..) = (
                    user.filter(|name| !name.is_empty()),
                    self.rate_limits.config.per_user,
                ) {
                    self.take(&format!("u/{pool_id}/{}", name.to_lowercase()), rate)
                        .await?;
                }
            }
            Ok::<(), Error>(())
        };
        within(admitted.await)
    }

    /// Counts a request to one of a pool's OAuth endpoints, hosted pages or federation
    /// endpoints against Cognito's bulk limits on a user pool domain: so many a second in all
    /// and from one source address; `false` when one is used up.
    pub async fn admit_domain(&self, pool_id: &str, source: Option<IpAddr>) -> Result<bool, Error> {
        if !self.rate_limits.config.enabled {
            return Ok(true);
        }
        let admitted = async {
            self.take(&format!("d/{pool_id}"), DOMAIN_RATE).await?;
            if let Some(address) = source {
                self.take(&format!("d/{pool_id}/a/{address}"), DOMAIN_SOURCE_RATE)
                    .await?;
            }
            Ok::<(), Error>(())
        };
        within(admitted.await)
    }

    /// Counts a Cognito Identity request against its operation's quota in the request's
    /// region (identity pools have a quota per operation, not categories); refuses it with
    /// `TooManyRequestsException` when it is used up.
    pub async fn admit_identity(&self, operation: &str, input: &Input) -> Result<(), Error> {
        if !self.rate_limits.config.enabled {
            return Ok(());
        }
        let Some(rate) = identity_operation_rate(operation) else {
            return Ok(());
        };
        // Only what exists is counted: a made-up id would otherwise open windows of its own
        // (a write each) in a region of its choosing, and the operation refuses it anyway.
        let known = match (input.str("IdentityPoolId"), input.str("IdentityId")) {
            (Some(pool), _) => self.store.identity_pool(pool).await?.is_some(),
            (None, Some(identity)) => self.store.identity(identity).await?.is_some(),
            (None, None) => true,
        };
        if !known {
            return Ok(());
        }
        // Unsigned requests (GetId, GetCredentialsForIdentity) carry their region in the
        // identity pool's or the identity's id, `<region>:<uuid>`.
        let region = input
            .region()
            .or_else(|| {
                ["IdentityPoolId", "IdentityId"]
                    .into_iter()
                    .find_map(|member| input.str(member)?.split_once(':').map(|(r, _)| r))
            })
            .unwrap_or(&self.config.region)
            .to_owned();
        self.take(&format!("i/{region}/{operation}"), rate).await
    }

    /// Takes one request from the current window of `scope`.
    async fn take(&self, scope: &str, rate: u32) -> Result<(), Error> {
        let window = self
            .clock
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        {
            let mut leases = self
                .rate_limits
                .leases
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if let Some(lease) = leases.get_mut(scope).filter(|l| l.window == window) {
                if lease.left > 0 {
                    lease.left -= 1;
                    return Ok(());
                }
                if lease.full {
                    return Err(refused());
                }
            }
        }
        let asked = lease_size(rate);
        let used = self.store.lease_rate(scope, window, asked).await?;
        let got = granted(used, asked, rate);
        let mut leases = self
            .rate_limits
            .leases
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if leases.len() >= LEASE_PRUNE {
            leases.retain(|_, lease| lease.window >= window);
        }
        let fresh = Lease {
            window,
            left: 0,
            full: false,
        };
        let lease = leases.entry(scope.to_owned()).or_insert(fresh);
        if lease.window != window {
            *lease = fresh;
        }
        // This request takes one of what the lease got; the rest is kept for the next ones.
        lease.left += got.saturating_sub(1);
        lease.full = used >= u64::from(rate);
        if got == 0 {
            return Err(refused());
        }
        Ok(())
    }

    /// The rate a category has in a region: what UpdateProvisionedLimit set, else Cognito's
    /// default.
    async fn category_rate(&self, region: &str, category: Category) -> Result<u32, Error> {
        let key = (region.to_owned(), category);
        if let Some((rate, read)) = self
            .rate_limits
            .provisioned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            if read.elapsed() < PROVISIONED_TTL {
                return Ok(*rate);
            }
        }
        let rate = self
            .store
            .provisioned_rate(region, category.name())
            .await?
            .unwrap_or_else(|| category.default_rate());
        self.rate_limits
            .provisioned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (rate, Instant::now()));
        Ok(rate)
    }

    /// The pool a request concerns: its UserPoolId, its client's pool, or the pool that
    /// issued its access token (read without checking the signature: it only picks the
    /// bucket, and the operation checks the token). `None` when it names none.
    async fn pool_of(&self, input: &Input) -> Result<Option<String>, Error> {
        if let Some(pool) = input.str("UserPoolId") {
            return Ok(Some(pool.to_owned()));
        }
        if let Some(client_id) = input.str("ClientId") {
            return Ok(self
                .store
                .app_client(client_id)
                .await?
                .map(|client| client.user_pool_id));
        }
        Ok(input.str("AccessToken").and_then(|token| {
            let issuer = tessera_core::unverified_issuer(token)?;
            crate::sign_in::access_token::pool_of_issuer(self, &issuer).map(str::to_owned)
        }))
    }

    fn region_of(&self, input: &Input, pool: Option<&str>) -> String {
        input
            .region()
            .or_else(|| pool.and_then(tessera_core::region_of_pool_id))
            .unwrap_or(&self.config.region)
            .to_owned()
    }
}

/// The user a credential request names, as given.
fn named_user(input: &Input) -> Option<&str> {
    input
        .str("Username")
        .or_else(|| {
            input
                .get("AuthParameters")
                .and_then(|p| p.get("USERNAME"))
                .and_then(Value::as_str)
        })
        .or_else(|| {
            input
                .get("ChallengeResponses")
                .and_then(|p| p.get("USERNAME"))
                .and_then(Value::as_str)
        })
}

/// The category a `LimitDefinition` names, or Cognito's refusal.
fn limit_category(input: &Input) -> Result<Category, Error> {
    let definition = input
        .get("LimitDefinition")
        .ok_or_else(|| Error::invalid_parameter("LimitDefinition is required."))?;
    // LimitClass is an enum of one value in the model, which has already checked it.
    let name = definition
        .get("Attributes")
        .and_then(|a| a.get("Category"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::invalid_parameter("LimitDefinition.Attributes must name a Category.")
        })?;
    Category::parse(name).ok_or_else(|| {
        Error::invalid_parameter(format!(
            "{} is not a quota category. Valid categories: {}.",
            tessera_core::excerpt(name),
            CATEGORIES.map(Category::name).join(", ")
        ))
    })
}

fn limit_document(category: Category, rate: u32) -> Value {
    json!({
        "Limit": {
            "LimitDefinition": {
                "LimitClass": "API_CATEGORY",
                "Attributes": {"Category": category.name()},
            },
            "ProvisionedLimitValue": rate,
            "FreeLimitValue": category.default_rate(),
        }
    })
}

/// The highest rate UpdateProvisionedLimit accepts: a hundred times the default, standing in
/// for the account maximum Service Quotas would set.
fn max_rate(category: Category) -> u32 {
    category.default_rate().saturating_mul(100)
}

/// GetProvisionedLimit: the category's rate in the request's region.
pub async fn get_provisioned_limit(service: &Service, input: Input) -> Result<Value, Error> {
    let category = limit_category(&input)?;
    let region = service.region_of(&input, None);
    let rate = service
        .store
        .provisioned_rate(&region, category.name())
        .await?
        .unwrap_or_else(|| category.default_rate());
    Ok(limit_document(category, rate))
}

/// UpdateProvisionedLimit: sets an adjustable category's rate, between its default and the
/// maximum, for every pool of the region; it applies at once on every node (within the second
/// a node trusts the rate it read).
pub async fn update_provisioned_limit(service: &Service, input: Input) -> Result<Value, Error> {
    let category = limit_category(&input)?;
    let requested = input
        .i64("RequestedLimitValue")
        .ok_or_else(|| Error::invalid_parameter("RequestedLimitValue is required."))?;
    if !category.adjustable() {
        return Err(Error::invalid_parameter(format!(
            "The {} quota is not adjustable.",
            category.name()
        )));
    }
    let default = i64::from(category.default_rate());
    if requested < default {
        return Err(Error::invalid_parameter(format!(
            "RequestedLimitValue must be at least the default limit of {default} for {}.",
            category.name()
        )));
    }
    let max = max_rate(category);
    let rate = u32::try_from(requested)
        .ok()
        .filter(|rate| *rate <= max)
        .ok_or_else(|| {
            Error::new(
                "ServiceQuotaExceededException",
                format!(
                    "The requested limit exceeds the maximum of {max} for {}.",
                    category.name()
                ),
            )
        })?;
    let region = service.region_of(&input, None);
    service
        .store
        .set_provisioned_rate(&region, category.name(), rate)
        .await?;
    service
        .rate_limits
        .provisioned
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&(region, category));
    Ok(limit_document(category, rate))
}
