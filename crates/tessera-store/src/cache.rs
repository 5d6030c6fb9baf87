//! The read cache: users, pools, app clients, group memberships, resource servers and live
//! sign-in sessions kept in memory.
//!
//! The token-authorised operations (GetUser above all) and the refresh flow read a pool, a
//! client, a user, the user's groups and a revocation flag for every request; from memory
//! that costs microseconds instead of several queries. The owner of the store turns it on:
//!
//! - [`crate::Store::with_read_cache`], for a store that is its database's only writer:
//!   `tessera serve` on SQLite, whose file it locks against a second server. Each committed
//!   write invalidates what it changed.
//! - [`crate::Store::with_shared_read_cache`], on PostgreSQL, where several nodes write one
//!   database: triggers announce every committed write on a channel each node listens to
//!   (`invalidation.rs`), and a node serves from memory only while it can show that it has
//!   heard every write committed more than [`STALENESS_BOUND`] ago. Otherwise (the
//!   notification connection dropped, or the database is slow to deliver) the cache is
//!   emptied and every read goes to the database until it can again.
//!
//! A generation counter keeps a reader that fetched a row before a write from caching that
//! old row after it: a value is only cached if no invalidation happened since the reader
//! started its query.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tessera_core::{AppClient, Group, User, UserPool};

/// How old a write may be and still not be reflected in a shared cache: a node whose last
/// confirmed heartbeat was sent longer ago than this stops serving from memory.
pub const STALENESS_BOUND: Duration = Duration::from_millis(500);

/// The generation a reader saw before its query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp(u64);

/// One kind of cached row. A full table is emptied rather than tracked by age, because a
/// refill costs one query per entry.
#[derive(Debug)]
pub(crate) struct Table<K, V> {
    entries: Mutex<HashMap<K, V>>,
    limit: usize,
    /// Lookups answered from memory, and not (for `/metrics`).
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<K: Hash + Eq, V: Clone> Table<K, V> {
    fn new(limit: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            limit,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
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
        let found = self.lock().get(key).cloned();
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
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

    fn clear(&self) {
        self.lock().clear();
    }
}

#[derive(Debug)]
pub(crate) struct ReadCache {
    generation: AtomicU64,
    /// Moves on when any pool's signing keys change (see `Store::keys_generation`).
    keys: AtomicU64,
    /// False while a shared cache cannot vouch for what it holds (see the module comment):
    /// nothing is read from it, and nothing read meanwhile is put in it.
    serving: AtomicBool,
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
            keys: AtomicU64::new(0),
            serving: AtomicBool::new(true),
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
    /// A cache for a store that shares its database: it serves nothing until its follower
    /// has heard its first heartbeat.
    pub(crate) fn shared() -> Self {
        let cache = Self::default();
        cache.serving.store(false, Ordering::Release);
        cache
    }

    /// Whether reads may be answered from memory.
    pub(crate) fn serving(&self) -> bool {
        self.serving.load(Ordering::Acquire)
    }

    /// Stops serving and forgets everything: writes may have been missed.
    pub(crate) fn suspend(&self) {
        self.serving.store(false, Ordering::Release);
        self.flush();
    }

    /// Serves again; what is cached from now on was read after every write it missed.
    pub(crate) fn resume(&self) {
        self.flush();
        self.serving.store(true, Ordering::Release);
    }

    /// Some pool's signing keys changed.
    pub(crate) fn forget_keys(&self) {
        self.keys.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn keys_generation(&self) -> u64 {
        self.keys.load(Ordering::Acquire)
    }

    /// Lookups answered from memory and not, over every table, since start.
    pub(crate) fn stats(&self) -> crate::ReadCacheStats {
        let tables = [
            self.users.counts(),
            self.pools.counts(),
            self.clients.counts(),
            self.groups.counts(),
            self.live_origins.counts(),
            self.resource_servers.counts(),
        ];
        crate::ReadCacheStats {
            hits: tables.iter().map(|t| t.0).sum(),
            misses: tables.iter().map(|t| t.1).sum(),
        }
    }

    /// Forgets everything.
    pub(crate) fn flush(&self) {
        self.invalidate();
        self.forget_keys();
        self.users.clear();
        self.pools.clear();
        self.clients.clear();
        self.groups.clear();
        self.live_origins.clear();
        self.resource_servers.clear();
    }

    /// Applies another node's write, as announced by the database (the payload format is
    /// described in migration 0015). Anything unexpected empties the cache: a newer node
    /// may announce a kind this one does not know.
    pub(crate) fn apply(&self, payload: &str) {
        let mut fields = payload.splitn(3, '\t');
        match (fields.next(), fields.next(), fields.next()) {
            (Some("u"), Some(pool), Some(key)) => self.forget_user(pool, key),
            (Some("U"), Some(pool), None) => {
                self.invalidate();
                self.users.retain(|(pool_id, _), _| pool_id != pool);
                self.groups.retain(|(pool_id, _), _| pool_id != pool);
            }
            (Some("g"), Some(pool), Some(key)) => self
                .invalidate()
                .groups
                .remove(&(pool.to_owned(), key.to_owned())),
            (Some("G"), Some(pool), None) => self
                .invalidate()
                .groups
                .retain(|(pool_id, _), _| pool_id != pool),
            (Some("p"), Some(pool), None) => self.invalidate().pools.remove(pool),
            (Some("P"), Some(pool), None) => self.forget_pool(pool),
            (Some("c"), Some(client), None) => self.invalidate().clients.remove(client),
            (Some("r"), Some(pool), Some(identifier)) => self
                .invalidate()
                .resource_servers
                .remove(&(pool.to_owned(), identifier.to_owned())),
            (Some("o"), Some(origin), None) => self.invalidate().live_origins.remove(origin),
            (Some("k"), Some(_pool), None) => self.forget_keys(),
            _ => self.flush(),
        }
    }

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
