//! Each pool's signing keys, opened once and kept in memory: signing and verifying tokens
//! must not unseal a private key (or touch the database) per request; and their rotation.
//!
//! A rotation (issue 16) adds a new key of each use. The newest key of a use signs; the older
//! ones stay in the JWKS and keep verifying until every token they signed has expired (no
//! token lives longer than a day), after which the sweeper deletes them. Every node reads a
//! pool's keys again when the store says keys changed (on PostgreSQL, a trigger announces it).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tessera_core::{KeyUse, SigningKey};

use crate::{Error, Service};

/// The keys of one pool.
pub struct PoolKeys {
    /// Every key, oldest first; all of them verify.
    pub all: Vec<SigningKey>,
    /// The JWKS document, serialised once.
    pub jwks: String,
    /// The store's keys generation when these were read.
    generation: u64,
}

/// How long a replaced key stays: the longest an ID or access token lives (a day), and five
/// minutes for clocks that disagree.
pub const REPLACED_KEY_KEPT: Duration = Duration::from_secs(24 * 3600 + 300);

impl PoolKeys {
    /// The newest key for a use: the one that signs.
    pub fn signer(&self, key_use: KeyUse) -> Result<&SigningKey, Error> {
        self.all
            .iter()
            .rev()
            .find(|k| k.key_use == key_use)
            .ok_or_else(|| Error::internal(&"pool has no signing key"))
    }

    /// Every key of a use.
    pub fn verifiers(&self, key_use: KeyUse) -> Vec<&SigningKey> {
        self.all.iter().filter(|k| k.key_use == key_use).collect()
    }
}

/// The keys of a pool, from the cache or the store.
pub async fn pool_keys(state: &Service, pool_id: &str) -> Result<Arc<PoolKeys>, Error> {
    let generation = state.store.keys_generation();
    if let Some(keys) = state
        .keys
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(pool_id)
        .filter(|keys| keys.generation == generation)
    {
        return Ok(keys.clone());
    }
    let all = state.store.signing_keys(pool_id).await?;
    let jwks =
        serde_json::json!({ "keys": all.iter().map(SigningKey::public_jwk).collect::<Vec<_>>() })
            .to_string();
    let keys = Arc::new(PoolKeys {
        all,
        jwks,
        generation,
    });
    // A pool without keys does not exist (yet); it is not remembered.
    if !keys.all.is_empty() {
        state
            .keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pool_id.to_owned(), keys.clone());
    }
    Ok(keys)
}

/// Forgets a pool's keys (the pool was deleted).
pub fn forget(state: &Service, pool_id: &str) {
    state
        .keys
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .remove(pool_id);
}

/// Rotates a pool's keys: a new ID-token key and a new access-token key, which sign every
/// token from now on (on every node); the old ones keep verifying. Answers the new keys.
pub async fn rotate(state: &Service, pool_id: &str) -> Result<Vec<SigningKey>, Error> {
    let current = pool_keys(state, pool_id).await?;
    if current.all.is_empty() {
        return Err(Error::pool_not_found(pool_id));
    }
    let keys = successors(&current.all, state.clock.now())?;
    if !state.store.add_signing_keys(pool_id, &keys).await? {
        return Err(Error::pool_not_found(pool_id));
    }
    forget(state, pool_id);
    tracing::info!(
        pool_id,
        kids = ?keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        "rotated the pool's signing keys"
    );
    Ok(keys)
}

/// The keys that replace `current`: one per use, created at `now` or, if a key there is as
/// new, just after it, since the newest key by creation time is the one that signs.
pub fn successors(current: &[SigningKey], now: SystemTime) -> Result<Vec<SigningKey>, Error> {
    let newest = current
        .iter()
        .map(|key| key.created_at)
        .max()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let at = now.max(newest + Duration::from_millis(1));
    Ok(vec![
        SigningKey::generate(KeyUse::Id, at)?,
        SigningKey::generate(KeyUse::Access, at)?,
    ])
}
