//! The read cache: users, pools, app clients, group memberships and live sign-in sessions
//! kept in memory, for a store that is the only writer of its database.
//!
//! The token-authorised operations (GetUser above all) and the refresh flow read a pool, a
//! client, a user, the user's groups and a revocation flag for every request; from memory
//! that costs microseconds instead of several queries. The cache is only correct when every
//! write goes through this process, so it is off unless the owner of the store turns it on
//! ([`crate::Store::with_read_cache`]): `tessera serve` does so for SQLite, whose file it
//! locks against a second server. On PostgreSQL, where several nodes write one database,
//! every read goes to the database.
//!
//! Invalidation follows each committed write, and a generation counter keeps a reader that
//! fetched a row before a write from caching that old row after it: a value is only cached
//! if no invalidation happened since the reader started its query.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tessera_core::{AppClient, Group, User, UserPool};

/// The generation a reader saw before its query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp(u64);

/// One kind of cached row. A full table is emptied rather than tracked by age, because a
/// refill costs one query per entry.
#[derive(Debug)]
pub(crate) struct Table<K, V> {
    entries: Mutex<HashMap<K, V>>,
    limit: usize,
}

impl<K: Hash + Eq, V: Clone> Table<K, V> {
    fn new(limit: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            limit,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, V>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().get(key).cloned()
    }

    pub(crate) fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().remove(key);
    }

    pub(crate) fn retain(&self, keep: impl FnMut(&K, &mut V) -> bool) {
        self.lock().retain(keep);
    }
}

#[derive(Debug)]
pub(crate) struct ReadCache {
    generation: AtomicU64,
    /// Users by (pool id, lookup key).
    pub(crate) users: Table<(String, String), User>,
    pub(crate) pools: Table<String, Arc<UserPool>>,
    pub(crate) clients: Table<String, AppClient>,
    /// A user's groups, by (pool id, lookup key).
    pub(crate) groups: Table<(String, String), Vec<Group>>,
    /// Sign-in sessions (`origin_jti`) that were not revoked when last read. Revoked ones
    /// are not kept: they are rare, and a revocation empties this table.
    pub(crate) live_origins: Table<String, ()>,
    /// Resource servers by (pool id, identifier), absent ones included (`None`), since the
    /// token endpoint checks every granted custom scope against them on every request.
    pub(crate) resource_servers: Table<(String, String), Option<crate::ResourceServer>>,
}

impl Default for ReadCache {
    fn default() -> Self {
        Self {
            generation: AtomicU64::new(0),
            users: Table::new(20_000),
            pools: Table::new(1_000),
            clients: Table::new(10_000),
            groups: Table::new(20_000),
            live_origins: Table::new(100_000),
            resource_servers: Table::new(10_000),
        }
    }
}

impl ReadCache {
    /// Taken before a query whose result may be cached.
    pub(crate) fn stamp(&self) -> Stamp {
        Stamp(self.generation.load(Ordering::Acquire))
    }

    /// Caches a value read under `stamp`, unless something was invalidated since.
    pub(crate) fn put<K: Hash + Eq, V: Clone>(
        &self,
        table: &Table<K, V>,
        stamp: Stamp,
        key: K,
        value: V,
    ) {
        let mut entries = table.lock();
        // Checked under the table's lock, which an invalidation takes after its bump: either
        // the bump is seen here, or the invalidation runs after this insert and removes it.
        if self.generation.load(Ordering::Acquire) != stamp.0 {
            return;
        }
        if entries.len() >= table.limit {
            entries.clear();
        }
        entries.insert(key, value);
    }

    /// Marks a committed write: readers that started before it cache nothing.
    pub(crate) fn invalidate(&self) -> &Self {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self
    }

    /// A user changed or went: its row and its groups.
    pub(crate) fn forget_user(&self, pool_id: &str, key: &str) {
        self.invalidate();
        let key = (pool_id.to_owned(), key.to_owned());
        self.users.lock().remove(&key);
        self.groups.lock().remove(&key);
    }

    /// A deleted pool takes its users, clients, groups and sessions with it.
    pub(crate) fn forget_pool(&self, id: &str) {
        self.invalidate();
        self.pools.lock().remove(id);
        self.users.retain(|(pool_id, _), _| pool_id != id);
        self.groups.retain(|(pool_id, _), _| pool_id != id);
        self.clients.retain(|_, client| client.user_pool_id != id);
        self.resource_servers
            .retain(|(pool_id, _), _| pool_id != id);
        self.live_origins.lock().clear();
    }
}
