//! The store: connection, migrations and one method per durable operation.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use tessera_core::{AccessKey, AppClient, KeyUse, MasterKey, Random, SigningKey, UserPool};

use crate::StoreError;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file in WAL mode.
    Sqlite,
    /// A PostgreSQL server, possibly shared by several tessera nodes.
    Postgres,
}

impl Backend {
    /// The backend a database URL selects.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }
}

/// The durable state of a tessera deployment.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    /// Connections for the state that lives only across one sign-in: challenge sessions and
    /// the counters of attempts (sign-in failures, code guesses and sends). Their commits do
    /// not wait for the disk: `synchronous=NORMAL` on SQLite, `synchronous_commit = off` on
    /// PostgreSQL (see [`Store::connect`]). An in-memory SQLite database has only `pool`.
    pub(crate) transient: AnyPool,
    backend: Backend,
    pub(crate) master_key: Arc<MasterKey>,
    random: Arc<dyn Random>,
    /// SQLite allows one writer at a time and answers SQLITE_BUSY to a transaction that
    /// tries to upgrade from reading to writing while another writes; serialising write
    /// transactions inside the process avoids that failure entirely.
    write_lock: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Users, pools and live sessions in memory, when this store is its database's only
    /// writer or follows the other writers' notifications (see `cache.rs`).
    pub(crate) cache: Option<Arc<crate::cache::ReadCache>>,
    /// The tasks that keep a shared cache in step with the other nodes.
    follower: Option<Arc<crate::invalidation::Follower>>,
    /// Where the database is, for the follower's connections of its own.
    url: Arc<str>,
    /// Where request-rate windows are counted instead of the database, when configured
    /// (`[rate_limits] redis_url`, see `rate.rs`).
    pub(crate) rate_redis: Option<(redis::aio::ConnectionManager, Arc<str>)>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

pub(crate) fn millis(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

pub(crate) fn from_millis(ms: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn to_document(settings: &Map<String, Value>) -> String {
    Value::Object(settings.clone()).to_string()
}

fn from_document(text: &str) -> Result<Map<String, Value>, StoreError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(StoreError::Corrupt("settings is not an object".into())),
        Err(e) => Err(StoreError::Corrupt(e.to_string())),
    }
}

impl Store {
    /// Connects to `url` (`sqlite:…` or `postgres://…`) and applies the embedded migrations.
    pub async fn connect(
        url: &str,
        master_key: Arc<MasterKey>,
        random: Arc<dyn Random>,
    ) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10));
        let pool = options.connect(url).await?;
        match backend {
            Backend::Sqlite => {
                // WAL lets readers run beside the writer; the setting is stored in the file.
                //
                // Durability rests on this and on `synchronous`, which tessera leaves at
                // SQLite's compiled default: sqlx 0.8 sets no `synchronous` pragma unless
                // asked, and its bundled SQLite (libsqlite3-sys) is built without
                // SQLITE_DEFAULT_SYNCHRONOUS or SQLITE_DEFAULT_WAL_SYNCHRONOUS, so every
                // connection runs FULL (2; the test `sqlite_connections_sync_every_commit`
                // keeps it so). In WAL mode FULL means each commit appends its pages to the
                // WAL with write(2) and fsyncs the WAL before COMMIT returns, which is before
                // tessera answers. Hence a killed process (kill -9, the OOM killer, an abort)
                // loses no acknowledged write: what was written is in the OS page cache, and
                // the next open replays the WAL (tests/e2e/test_crash_recovery.py). A power
                // loss or OS crash also keeps every acknowledged write, provided the disk
                // honours fsync; the only writes lost are those not yet answered. NORMAL
                // would keep the database consistent through a power loss too, but could lose
                // the last commits acknowledged before it.
                sqlx::query("PRAGMA journal_mode=WAL")
                    .execute(&pool)
                    .await?;
                SQLITE_MIGRATIONS.run(&pool).await?;
            }
            // The PostgreSQL migrator takes an advisory lock, so several nodes starting at
            // once apply each migration exactly once.
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        let transient = match backend {
            // Challenge sessions and attempt counters are written four or five times per
            // sign-in, and SQLite's writes are serialised: on the shared connections, with
            // an fsync each, they held SRP sign-ins to 141/s on the benchmark machine, and
            // on connections of their own without one, 195/s (issue 11's closing note).
            // They are written on connections with `synchronous=NORMAL`: in WAL mode a
            // commit there is appended to the WAL without an fsync, and becomes durable
            // with the next commit of `pool`, which fsyncs the whole WAL. A killed process
            // still loses none of them (the OS holds the pages); a power loss may lose
            // those of the last moments, which costs a user a sign-in started then and an
            // attacker nothing they could cause. The database's consistency is never at
            // stake (SQLite: NORMAL is safe from corruption in WAL mode). An in-memory
            // database has one set of connections only.
            //
            // On PostgreSQL the same rows are written on connections with
            // `synchronous_commit = off`: a commit there returns once its WAL record is
            // written, and the WAL writer flushes it within a fraction of a second (at most
            // three `wal_writer_delay`s). On the benchmark machine the four such commits of
            // an SRP sign-in, each with its own flush, were a third of the database's work
            // for it and kept SRP sign-ins 15% below the code before issue 11 (BENCHMARKS.md).
            // A crash of the database server may lose the commits of its last moments, with
            // the same cost as above; it never reorders or half-applies them, and a row is
            // visible to every other connection as soon as its commit returns, so counting
            // attempts stays atomic.
            Backend::Sqlite if !url.contains(":memory:") && !url.contains("mode=memory") => {
                pool_with(url, 2, "PRAGMA synchronous=NORMAL").await?
            }
            Backend::Postgres => pool_with(url, 8, "SET synchronous_commit = off").await?,
            _ => pool.clone(),
        };
        Ok(Self {
            pool,
            transient,
            backend,
            master_key,
            random,
            write_lock: (backend == Backend::Sqlite).then(|| Arc::new(tokio::sync::Mutex::new(()))),
            cache: None,
            follower: None,
            url: url.into(),
            rate_redis: None,
        })
    }

    /// The same database under another master key (a rotation's key ring, see `reseal.rs`).
    /// Clones share the read cache: it holds opened values, which a rotation leaves unchanged.
    #[must_use]
    pub fn with_master_key(mut self, master_key: Arc<MasterKey>) -> Self {
        self.master_key = master_key;
        self
    }

    /// Keeps users, pools and live sign-in sessions in memory between reads. Only for a
    /// store that is the only writer of its database (one process, and nothing else
    /// changing the rows behind it): writes made elsewhere would not be seen.
    #[must_use]
    pub fn with_read_cache(mut self) -> Self {
        self.cache = Some(Arc::default());
        self
    }

    /// Keeps the same rows in memory on a database several nodes write (PostgreSQL): every
    /// write is announced by the database (migration 0015) and applied here, and the cache
    /// serves only while it is provably in step, within [`crate::STALENESS_BOUND`] (see
    /// `invalidation.rs`). Must be called inside a Tokio runtime; on SQLite it is
    /// [`Store::with_read_cache`].
    #[must_use]
    pub fn with_shared_read_cache(mut self) -> Self {
        if self.backend == Backend::Sqlite {
            return self.with_read_cache();
        }
        let cache = Arc::new(crate::cache::ReadCache::shared());
        let mut entropy = [0u8; 8];
        self.random.fill(&mut entropy);
        self.follower = Some(Arc::new(crate::invalidation::follow(
            &self.url,
            &cache,
            u64::from_le_bytes(entropy),
        )));
        self.cache = Some(cache);
        self
    }

    /// The cache, when reads may be answered from it now.
    pub(crate) fn serving_cache(&self) -> Option<&crate::cache::ReadCache> {
        self.cache.as_deref().filter(|cache| cache.serving())
    }

    /// Whether other processes write this store's database while it caches (a shared cache).
    pub(crate) fn shares_database(&self) -> bool {
        self.follower.is_some()
    }

    /// The read cache's hits and misses since start (zero without a cache).
    pub fn read_cache_stats(&self) -> crate::ReadCacheStats {
        self.cache
            .as_ref()
            .map(|cache| cache.stats())
            .unwrap_or_default()
    }

    /// The connections of the store's two pools (`durable`, and `transient` for sign-in
    /// state), open and idle.
    pub fn connection_stats(&self) -> Vec<(&'static str, crate::ConnectionStats)> {
        let stats = |pool: &AnyPool| crate::ConnectionStats {
            open: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        };
        vec![
            ("durable", stats(&self.pool)),
            ("transient", stats(&self.transient)),
        ]
    }

    /// Whether reads are being answered from memory at the moment (for tests and metrics).
    pub fn read_cache_serving(&self) -> bool {
        self.serving_cache().is_some()
    }

    /// Writes a consistent copy of the whole SQLite database to `path` while it is in use
    /// (issue 16's backups): `VACUUM INTO` reads in one transaction, so the copy holds every
    /// commit made before it started and none made after, and the server keeps writing
    /// meanwhile. `path` must not exist. PostgreSQL is backed up with its own tools.
    pub async fn snapshot_into(&self, path: &std::path::Path) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Unsupported(
                "tessera backup copies SQLite databases; back up PostgreSQL with pg_dump or its point-in-time recovery",
            ));
        }
        let target = path
            .to_str()
            .ok_or(StoreError::Unsupported("the backup path must be UTF-8"))?;
        sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// SQLite's `PRAGMA integrity_check`: true when the database file is sound (always true
    /// on PostgreSQL, which checks itself).
    pub async fn integrity_ok(&self) -> Result<bool, StoreError> {
        if self.backend != Backend::Sqlite {
            return Ok(true);
        }
        let row = sqlx::query("PRAGMA integrity_check")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<String, _>(0)? == "ok")
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.transient.close().await;
        self.pool.close().await;
    }

    pub(crate) async fn write_guard(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.write_lock {
            Some(lock) => Some(lock.lock().await),
            None => None,
        }
    }

    /// A key derived from the master key for one purpose (see [`MasterKey::derive`]).
    pub fn derived_key(&self, purpose: &str) -> [u8; 32] {
        self.master_key.derive(purpose)
    }

    pub(crate) fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        Ok(self
            .master_key
            .seal(context, plaintext, self.random.as_ref())?)
    }

    pub(crate) fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        Ok(self.master_key.open(context, sealed)?)
    }

    pub(crate) fn open_text(&self, context: &str, sealed: &[u8]) -> Result<String, StoreError> {
        String::from_utf8(self.open(context, sealed)?)
            .map_err(|_| StoreError::Corrupt("sealed text is not UTF-8".into()))
    }

    // ---- access keys ----

    /// Stores a new access key, its secret sealed.
    pub async fn insert_access_key(&self, key: &AccessKey) -> Result<(), StoreError> {
        let sealed = self.seal(&AccessKey::seal_context(&key.id), key.secret.as_bytes())?;
        let _guard = self.write_guard().await;
        let result = sqlx::query(
            "INSERT INTO access_keys (id, sealed_secret, created_at) VALUES ($1, $2, $3)",
        )
        .bind(&key.id)
        .bind(sealed)
        .bind(millis(key.created_at))
        .execute(&self.pool)
        .await;
        map_conflict(result).map(|_| ())
    }

    /// Deletes an access key; false when there was none. Nodes that cached its secret stop
    /// accepting it when their cache entry expires (seconds; see tessera-server's signature
    /// check).
    pub async fn delete_access_key(&self, id: &str) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let result = sqlx::query("DELETE FROM access_keys WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The ids of every access key, oldest first, with their creation times.
    pub async fn access_key_ids(&self) -> Result<Vec<(String, SystemTime)>, StoreError> {
        let rows = sqlx::query("SELECT id, created_at FROM access_keys ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("id")?, from_millis(row.try_get("created_at")?))))
            .collect()
    }

    /// The access key with this id, secret opened.
    pub async fn access_key(&self, id: &str) -> Result<Option<AccessKey>, StoreError> {
        let row =
            sqlx::query("SELECT id, sealed_secret, created_at FROM access_keys WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            let id: String = row.try_get("id")?;
            let sealed: Vec<u8> = row.try_get("sealed_secret")?;
            let secret = self.open_text(&AccessKey::seal_context(&id), &sealed)?;
            Ok(AccessKey {
                id,
                secret,
                created_at: from_millis(row.try_get("created_at")?),
            })
        })
        .transpose()
    }

    // ---- user pools ----

    /// Stores a new pool together with its signing keys, in one transaction.
    pub async fn insert_user_pool(
        &self,
        pool: &UserPool,
        keys: &[SigningKey],
    ) -> Result<(), StoreError> {
        let sealed_keys = self.seal_signing_keys(&pool.id, keys)?;
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        insert_pool_row(&mut tx, pool).await?;
        insert_signing_keys(&mut tx, &pool.id, keys, sealed_keys).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The pool with this id, shared: the token-authorised operations read it for every
    /// request, and a pool's settings are a large document to copy.
    pub async fn user_pool(&self, id: &str) -> Result<Option<Arc<UserPool>>, StoreError> {
        let stamp = match self.serving_cache() {
            Some(cache) => match cache.pools.get(id) {
                Some(pool) => return Ok(Some(pool)),
                None => Some(cache.stamp()),
            },
            None => None,
        };
        let row = sqlx::query(
            "SELECT id, name, created_at, last_modified_at, settings FROM user_pools WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let pool = row.as_ref().map(pool_from_row).transpose()?.map(Arc::new);
        if let (Some(cache), Some(stamp), Some(pool)) = (&self.cache, stamp, &pool) {
            cache.put(&cache.pools, stamp, pool.id.clone(), pool.clone());
        }
        Ok(pool)
    }

    /// Replaces a pool's name and settings. False when the pool does not exist.
    pub async fn update_user_pool(&self, pool: &UserPool) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let result = sqlx::query(
            "UPDATE user_pools SET name = $1, last_modified_at = $2, settings = $3 WHERE id = $4",
        )
        .bind(&pool.name)
        .bind(millis(pool.last_modified_at))
        .bind(to_document(&pool.settings))
        .bind(&pool.id)
        .execute(&self.pool)
        .await?;
        if let Some(cache) = &self.cache {
            cache.invalidate().pools.retain(|id, _| *id != pool.id);
        }
        Ok(result.rows_affected() == 1)
    }

    /// Deletes a pool with everything in it: keys, clients, users, codes, groups, domains,
    /// resource servers and UI customizations. False when it did not exist.
    pub async fn delete_user_pool(&self, id: &str) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        // Children are deleted explicitly rather than trusting ON DELETE CASCADE, whose
        // enforcement in SQLite depends on a per-connection pragma.
        for table in [
            "app_clients",
            "signing_keys",
            "users",
            "user_aliases",
            "user_codes",
            "code_attempts",
            "user_groups",
            "group_members",
            "refresh_tokens",
            "auth_sessions",
            "sign_in_failures",
            "user_index",
            "user_pool_domains",
            "resource_servers",
            "ui_customizations",
            "authorization_codes",
            "login_sessions",
            "devices",
            "webauthn_credentials",
            "user_counts",
            "identity_providers",
            "identity_provider_identifiers",
            "saml_signing_keys",
            "federation_requests",
            "saml_assertions",
            "federated_links",
            "saml_sessions",
            "auth_events",
            "user_import_jobs",
            "point_in_time_recoveries",
            // The journal last: the deletions above write their own entries to it.
            "users_history",
            "user_aliases_history",
            "user_index_history",
            "user_groups_history",
            "group_members_history",
            "webauthn_credentials_history",
        ] {
            sqlx::query(&format!("DELETE FROM {table} WHERE pool_id = $1"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let result = sqlx::query("DELETE FROM user_pools WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if let Some(cache) = &self.cache {
            cache.forget_pool(id);
        }
        Ok(result.rows_affected() == 1)
    }

    /// Up to `limit` pools of `region` with ids greater than `after`, in id order.
    pub async fn list_user_pools(
        &self,
        region: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserPool>, StoreError> {
        // A region's pool ids are the keys from `<region>_` up to `<region>` followed by the
        // character after `_`, so a region's listing is a range of the primary key.
        let first = format!("{region}_");
        let start = match after {
            Some(after) if after > first.as_str() => after.to_owned(),
            _ => first,
        };
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_modified_at, settings FROM user_pools WHERE id > $1 AND id < $2 ORDER BY id LIMIT $3",
        )
        .bind(start)
        .bind(format!("{region}`"))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pool_from_row).collect()
    }

    // ---- signing keys ----

    /// The public JWKs of a pool's keys, oldest first; `None` when the pool does not exist.
    pub async fn public_jwks(&self, pool_id: &str) -> Result<Option<Vec<Value>>, StoreError> {
        let rows = sqlx::query(
            "SELECT k.public_jwk FROM user_pools p LEFT JOIN signing_keys k ON k.pool_id = p.id WHERE p.id = $1 ORDER BY k.created_at, k.kid",
        )
        .bind(pool_id)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let jwk: Option<String> = row.try_get("public_jwk")?;
            if let Some(jwk) = jwk {
                keys.push(
                    serde_json::from_str(&jwk).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                );
            }
        }
        Ok(Some(keys))
    }

    /// Each key's private half, sealed and bound to its pool and kid.
    fn seal_signing_keys(
        &self,
        pool_id: &str,
        keys: &[SigningKey],
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        keys.iter()
            .map(|key| self.seal(&SigningKey::seal_context(pool_id, &key.kid), key.pkcs8()))
            .collect()
    }

    /// Adds keys to a pool (a rotation: the newest key of each use signs from now on); false
    /// when the pool does not exist.
    pub async fn add_signing_keys(
        &self,
        pool_id: &str,
        keys: &[SigningKey],
    ) -> Result<bool, StoreError> {
        let sealed_keys = self.seal_signing_keys(pool_id, keys)?;
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let exists = sqlx::query("SELECT 1 AS one FROM user_pools WHERE id = $1")
            .bind(pool_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !exists {
            tx.rollback().await?;
            return Ok(false);
        }
        insert_signing_keys(&mut tx, pool_id, keys, sealed_keys).await?;
        tx.commit().await?;
        if let Some(cache) = &self.cache {
            cache.forget_keys();
        }
        Ok(true)
    }

    /// Deletes the keys that were replaced (a newer key of the same use exists) before
    /// `replaced_before`: every token they signed has expired by then.
    pub async fn sweep_replaced_signing_keys(
        &self,
        replaced_before: SystemTime,
    ) -> Result<u64, StoreError> {
        let _guard = self.write_guard().await;
        let removed = sqlx::query(
            "DELETE FROM signing_keys WHERE EXISTS (SELECT 1 FROM signing_keys newer WHERE newer.pool_id = signing_keys.pool_id AND newer.key_use = signing_keys.key_use AND newer.created_at > signing_keys.created_at AND newer.created_at < $1)",
        )
        .bind(millis(replaced_before))
        .execute(&self.pool)
        .await?
        .rows_affected();
        if removed > 0 {
            if let Some(cache) = &self.cache {
                cache.forget_keys();
            }
        }
        Ok(removed)
    }

    /// Moves on whenever a pool's keys may have changed (here or, on PostgreSQL, on another
    /// node): whoever keeps opened keys reads them again when it differs from what they saw.
    pub fn keys_generation(&self) -> u64 {
        self.cache
            .as_ref()
            .map_or(0, |cache| cache.keys_generation())
    }

    /// A pool's signing keys with their private halves opened, oldest first.
    pub async fn signing_keys(&self, pool_id: &str) -> Result<Vec<SigningKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, key_use, sealed_private_key, created_at FROM signing_keys WHERE pool_id = $1 ORDER BY created_at, kid",
        )
        .bind(pool_id)
        .fetch_all(&self.pool)
        .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let kid: String = row.try_get("kid")?;
            let key_use: String = row.try_get("key_use")?;
            let key_use = KeyUse::parse(&key_use)
                .ok_or_else(|| StoreError::Corrupt(format!("key use {key_use}")))?;
            let sealed: Vec<u8> = row.try_get("sealed_private_key")?;
            let pkcs8 = self.open(&SigningKey::seal_context(pool_id, &kid), &sealed)?;
            keys.push(SigningKey::from_pkcs8(
                key_use,
                from_millis(row.try_get("created_at")?),
                &pkcs8,
            )?);
        }
        Ok(keys)
    }

    // ---- app clients ----

    /// Stores a new app client, its secret sealed. Conflict when the id is taken.
    pub async fn insert_app_client(&self, client: &AppClient) -> Result<(), StoreError> {
        let sealed = self.seal_client_secret(client)?;
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        insert_app_client_in(&mut tx, client, sealed).await?;
        tx.commit().await?;
        Ok(())
    }

    fn seal_client_secret(&self, client: &AppClient) -> Result<Option<Vec<u8>>, StoreError> {
        client
            .secret
            .as_ref()
            .map(|secret| {
                self.seal(
                    &AppClient::seal_context(&client.client_id),
                    secret.as_bytes(),
                )
            })
            .transpose()
    }

    /// Creates a pool with its signing keys, app clients and groups in one transaction (a
    /// pool imported from another tessera, issue 16): all or nothing, `Conflict` when the pool
    /// or a client id exists.
    pub async fn insert_pool_configuration(
        &self,
        pool: &UserPool,
        keys: &[SigningKey],
        clients: &[AppClient],
        groups: &[tessera_core::Group],
    ) -> Result<(), StoreError> {
        let sealed_keys = self.seal_signing_keys(&pool.id, keys)?;
        let sealed_secrets = clients
            .iter()
            .map(|client| self.seal_client_secret(client))
            .collect::<Result<Vec<_>, _>>()?;
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        insert_pool_row(&mut tx, pool).await?;
        insert_signing_keys(&mut tx, &pool.id, keys, sealed_keys).await?;
        for (client, sealed) in clients.iter().zip(sealed_secrets) {
            insert_app_client_in(&mut tx, client, sealed).await?;
        }
        for group in groups {
            crate::group::insert_group_in(&mut tx, group).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The app client with this id, whatever its pool.
    pub async fn app_client(&self, client_id: &str) -> Result<Option<AppClient>, StoreError> {
        let stamp = match self.serving_cache() {
            Some(cache) => match cache.clients.get(client_id) {
                Some(client) => return Ok(Some(client)),
                None => Some(cache.stamp()),
            },
            None => None,
        };
        let row = sqlx::query(
            "SELECT client_id, pool_id, client_name, sealed_secret, created_at, last_modified_at, settings FROM app_clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        let client = row
            .as_ref()
            .map(|row| self.client_from_row(row))
            .transpose()?;
        if let (Some(cache), Some(stamp), Some(client)) = (&self.cache, stamp, &client) {
            cache.put(
                &cache.clients,
                stamp,
                client.client_id.clone(),
                client.clone(),
            );
        }
        Ok(client)
    }

    /// Replaces a client's name and settings. False when it does not exist in that pool.
    pub async fn update_app_client(&self, client: &AppClient) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let result = sqlx::query(
            "UPDATE app_clients SET client_name = $1, last_modified_at = $2, settings = $3 WHERE client_id = $4 AND pool_id = $5",
        )
        .bind(&client.client_name)
        .bind(millis(client.last_modified_at))
        .bind(to_document(&client.settings))
        .bind(&client.client_id)
        .bind(&client.user_pool_id)
        .execute(&self.pool)
        .await?;
        if let Some(cache) = &self.cache {
            cache
                .invalidate()
                .clients
                .retain(|id, _| *id != client.client_id);
        }
        Ok(result.rows_affected() == 1)
    }

    /// Deletes a client of a pool with its UI customization. False when it did not exist there.
    pub async fn delete_app_client(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let result = sqlx::query("DELETE FROM app_clients WHERE client_id = $1 AND pool_id = $2")
            .bind(client_id)
            .bind(pool_id)
            .execute(&mut *tx)
            .await?;
        // The client's own customization of the hosted pages and its pending authorization
        // codes go with it.
        for table in ["ui_customizations", "authorization_codes"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE pool_id = $1 AND client_id = $2"
            ))
            .bind(pool_id)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if let Some(cache) = &self.cache {
            cache.invalidate().clients.retain(|id, _| id != client_id);
        }
        Ok(result.rows_affected() == 1)
    }

    /// Up to `limit` clients of a pool with ids greater than `after`, in id order.
    pub async fn list_app_clients(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AppClient>, StoreError> {
        let rows = sqlx::query(
            "SELECT client_id, pool_id, client_name, sealed_secret, created_at, last_modified_at, settings FROM app_clients WHERE pool_id = $1 AND client_id > $2 ORDER BY client_id LIMIT $3",
        )
        .bind(pool_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| self.client_from_row(row)).collect()
    }

    fn client_from_row(&self, row: &AnyRow) -> Result<AppClient, StoreError> {
        let client_id: String = row.try_get("client_id")?;
        let sealed: Option<Vec<u8>> = row.try_get("sealed_secret")?;
        let secret = sealed
            .map(|sealed| self.open_text(&AppClient::seal_context(&client_id), &sealed))
            .transpose()?;
        let settings: String = row.try_get("settings")?;
        Ok(AppClient {
            user_pool_id: row.try_get("pool_id")?,
            client_name: row.try_get("client_name")?,
            client_id,
            secret,
            created_at: from_millis(row.try_get("created_at")?),
            last_modified_at: from_millis(row.try_get("last_modified_at")?),
            settings: from_document(&settings)?,
        })
    }
}

fn pool_from_row(row: &AnyRow) -> Result<UserPool, StoreError> {
    let settings: String = row.try_get("settings")?;
    Ok(UserPool {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: from_millis(row.try_get("created_at")?),
        last_modified_at: from_millis(row.try_get("last_modified_at")?),
        settings: from_document(&settings)?,
    })
}

pub(crate) fn map_conflict<T>(result: Result<T, sqlx::Error>) -> Result<T, StoreError> {
    match result {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict),
        other => Ok(other?),
    }
}

/// A pool of at most `max` connections to `url`, each of which first runs `setting`.
async fn pool_with(url: &str, max: u32, setting: &'static str) -> Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                sqlx::query(setting).execute(&mut *conn).await?;
                Ok(())
            })
        })
        .connect(url)
        .await
}

/// Writes a pool's signing keys, their private halves already sealed, in `tx`.
async fn insert_signing_keys(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    pool_id: &str,
    keys: &[SigningKey],
    sealed: Vec<Vec<u8>>,
) -> Result<(), StoreError> {
    for (key, sealed) in keys.iter().zip(sealed) {
        sqlx::query(
            "INSERT INTO signing_keys (pool_id, kid, key_use, public_jwk, sealed_private_key, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(pool_id)
        .bind(&key.kid)
        .bind(key.key_use.as_str())
        .bind(key.public_jwk().to_string())
        .bind(sealed)
        .bind(millis(key.created_at))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn insert_app_client_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    client: &AppClient,
    sealed: Option<Vec<u8>>,
) -> Result<(), StoreError> {
    let result = sqlx::query(
        "INSERT INTO app_clients (client_id, pool_id, client_name, sealed_secret, created_at, last_modified_at, settings) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&client.client_id)
    .bind(&client.user_pool_id)
    .bind(&client.client_name)
    .bind(sealed)
    .bind(millis(client.created_at))
    .bind(millis(client.last_modified_at))
    .bind(to_document(&client.settings))
    .execute(&mut **tx)
    .await;
    map_conflict(result).map(|_| ())
}

async fn insert_pool_row(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    pool: &UserPool,
) -> Result<(), StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO user_pools (id, name, created_at, last_modified_at, settings) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&pool.id)
    .bind(&pool.name)
    .bind(millis(pool.created_at))
    .bind(millis(pool.last_modified_at))
    .bind(to_document(&pool.settings))
    .execute(&mut **tx)
    .await;
    map_conflict(inserted).map(|_| ())
}
