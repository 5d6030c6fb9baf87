//! Each pool's signing keys, opened once and kept in memory: signing and verifying tokens
//! must not unseal a private key (or touch the database) per request.

use std::sync::Arc;

use tessera_core::{KeyUse, SigningKey};

use crate::{Error, Service};

/// The keys of one pool.
pub struct PoolKeys {
    /// Every key, oldest first; all of them verify.
    pub all: Vec<SigningKey>,
    /// The JWKS document, serialised once.
    pub jwks: String,
}

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
    if let Some(keys) = state
        .keys
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(pool_id)
    {
        return Ok(keys.clone());
    }
    let all = state.store.signing_keys(pool_id).await?;
    let jwks =
        serde_json::json!({ "keys": all.iter().map(SigningKey::public_jwk).collect::<Vec<_>>() })
            .to_string();
    let keys = Arc::new(PoolKeys { all, jwks });
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
