//! Users, their aliases and one-time codes.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use sqlx::Row;
use tessera_core::totp::TotpSecret;
use tessera_core::{
    CodePurpose, MfaPreferences, OneTimeCode, SrpVerifier, User, UserMfa, UserStatus,
};

use crate::store::{from_millis, map_conflict, millis};
use crate::{Store, StoreError};

/// One write to a user, applied in a single transaction: the user row, optionally its whole
/// alias set, a code to store, and codes to consume.
#[derive(Debug)]
pub struct UserChange<'a> {
    /// The user as it must be stored.
    pub user: &'a User,
    /// Its lookup key (see `tessera_core::username_key`).
    pub key: &'a str,
    /// When given, the user's aliases become exactly these `(kind, value key)` pairs.
    pub aliases: Option<&'a [(String, String)]>,
    /// A code to store (replacing one of the same purpose).
    pub put_code: Option<&'a OneTimeCode>,
    /// Codes to delete.
    pub consume_codes: &'a [CodePurpose],
}

/// The tables that hold a user's rows besides `users`, by pool and username key: what goes
/// with a deleted user (and, in a point-in-time restore, with a user whose name now belongs to
/// someone else).
pub(crate) const USER_ROWS: [&str; 14] = [
    "user_aliases",
    "user_codes",
    "code_attempts",
    "group_members",
    "refresh_tokens",
    "sign_in_failures",
    "user_index",
    "authorization_codes",
    "login_sessions",
    "devices",
    "webauthn_credentials",
    "federated_links",
    "saml_sessions",
    "auth_events",
];

/// Deletes a user's rows from `tables` (of [`USER_ROWS`]).
pub(crate) async fn delete_user_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    tables: &[&str],
    pool_id: &str,
    key: &str,
) -> Result<(), StoreError> {
    for table in tables {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE pool_id = $1 AND username_key = $2"
        ))
        .bind(pool_id)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

const USER_COLUMNS: &str = "pool_id, username_key, username, sub, status, enabled, attributes, password_hash, password_set_at, created_at, last_modified_at, sealed_srp, version, mfa, sealed_totp";

/// The sealed form of an SRP verifier: the salt length (one byte), the salt, the verifier.
pub(crate) fn srp_plaintext(verifier: &SrpVerifier) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + verifier.salt.len() + verifier.verifier.len());
    bytes.push(u8::try_from(verifier.salt.len()).unwrap_or(u8::MAX));
    bytes.extend_from_slice(&verifier.salt[..verifier.salt.len().min(255)]);
    bytes.extend_from_slice(&verifier.verifier);
    bytes
}

pub(crate) fn srp_from_plaintext(bytes: &[u8]) -> Result<SrpVerifier, StoreError> {
    let (&salt_len, rest) = bytes
        .split_first()
        .ok_or_else(|| StoreError::Corrupt("empty SRP record".into()))?;
    if rest.len() < usize::from(salt_len) {
        return Err(StoreError::Corrupt("short SRP record".into()));
    }
    let (salt, verifier) = rest.split_at(usize::from(salt_len));
    Ok(SrpVerifier {
        salt: salt.to_vec(),
        verifier: verifier.to_vec(),
    })
}

pub(crate) fn srp_context(pool_id: &str, key: &str) -> String {
    format!("srp:{pool_id}:{key}")
}

fn user_from_row(store: &Store, row: &AnyRow) -> Result<User, StoreError> {
    let attributes: String = row.try_get("attributes")?;
    let attributes: BTreeMap<String, String> =
        serde_json::from_str(&attributes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let status: String = row.try_get("status")?;
    Ok(User {
        pool_id: row.try_get("pool_id")?,
        username: row.try_get("username")?,
        sub: row.try_get("sub")?,
        status: UserStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("user status {status}")))?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        attributes,
        password_hash: row.try_get("password_hash")?,
        password_set_at: row
            .try_get::<Option<i64>, _>("password_set_at")?
            .map(from_millis),
        created_at: from_millis(row.try_get("created_at")?),
        last_modified_at: from_millis(row.try_get("last_modified_at")?),
        srp_verifier: match row.try_get::<Option<Vec<u8>>, _>("sealed_srp")? {
            Some(sealed) => {
                let pool_id: String = row.try_get("pool_id")?;
                let key: String = row.try_get("username_key")?;
                Some(srp_from_plaintext(
                    &store.open(&srp_context(&pool_id, &key), &sealed)?,
                )?)
            }
            None => None,
        },
        mfa: mfa_from_row(store, row)?,
        version: u64::try_from(row.try_get::<i64, _>("version")?)
            .map_err(|_| StoreError::Corrupt("negative user version".into()))?,
    })
}

fn mfa_json(user: &User) -> Option<String> {
    (user.mfa.preferences != MfaPreferences::default())
        .then(|| serde_json::to_string(&user.mfa.preferences).unwrap_or_else(|_| "{}".into()))
}

fn mfa_from_row(store: &Store, row: &AnyRow) -> Result<UserMfa, StoreError> {
    let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt(e.to_string());
    let preferences = match row.try_get::<Option<String>, _>("mfa")? {
        Some(text) => serde_json::from_str(&text).map_err(|e| corrupt(&e))?,
        None => MfaPreferences::default(),
    };
    let mut mfa = UserMfa {
        preferences,
        ..UserMfa::default()
    };
    if let Some(sealed) = row.try_get::<Option<Vec<u8>>, _>("sealed_totp")? {
        let pool_id: String = row.try_get("pool_id")?;
        let key: String = row.try_get("username_key")?;
        let plaintext = store.open(&UserMfa::seal_context(&pool_id, &key), &sealed)?;
        // The plaintext is `{"verified": base32 | null, "pending": base32 | null}`.
        let record: serde_json::Value =
            serde_json::from_slice(&plaintext).map_err(|e| corrupt(&e))?;
        let secret = |member: &str| -> Result<Option<TotpSecret>, StoreError> {
            record
                .get(member)
                .and_then(serde_json::Value::as_str)
                .map(|text| TotpSecret::from_base32(text).map_err(|e| corrupt(&e)))
                .transpose()
        };
        mfa.totp = secret("verified")?;
        mfa.totp_pending = secret("pending")?;
    }
    Ok(mfa)
}

fn version_of(user: &User) -> Result<i64, StoreError> {
    i64::try_from(user.version).map_err(|_| StoreError::Corrupt("user version out of range".into()))
}

fn attributes_json(user: &User) -> String {
    serde_json::to_string(&user.attributes).unwrap_or_else(|_| "{}".into())
}

impl Store {
    /// Creates a user (with its aliases and code). `Conflict` when the username or `sub` is
    /// taken, `AliasTaken` when an alias is.
    pub async fn insert_user(&self, change: UserChange<'_>) -> Result<(), StoreError> {
        self.insert_users(std::slice::from_ref(&change)).await
    }

    /// Creates many users in one transaction (imports, benchmark seeding); all or none.
    pub async fn insert_users(&self, changes: &[UserChange<'_>]) -> Result<(), StoreError> {
        self.insert_users_in_groups(changes, &[]).await
    }

    /// Creates a user and makes it a member of `groups`, in one transaction (an imported
    /// user and its memberships); `NoGroup` names a group that does not exist.
    pub async fn insert_user_in_groups(
        &self,
        change: UserChange<'_>,
        groups: &[String],
    ) -> Result<(), StoreError> {
        self.insert_users_in_groups(std::slice::from_ref(&change), groups)
            .await?;
        self.forget_groups_of_user(&change.user.pool_id, change.key);
        Ok(())
    }

    /// [`Store::insert_users`], the users also joining `groups` (a one-user import).
    async fn insert_users_in_groups(
        &self,
        changes: &[UserChange<'_>],
        groups: &[String],
    ) -> Result<(), StoreError> {
        let mut sealed = Vec::with_capacity(changes.len());
        for change in changes {
            sealed.push((
                change
                    .put_code
                    .map(|code| self.seal_code(&change.user.pool_id, change.key, code))
                    .transpose()?,
                self.seal_srp(change.user, change.key)?,
                self.seal_totp(change.user, change.key)?,
            ));
        }
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        for (change, (sealed_code, sealed_srp, sealed_totp)) in changes.iter().zip(sealed) {
            let user = change.user;
            let inserted = sqlx::query(&format!(
                "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            ))
            .bind(&user.pool_id)
            .bind(change.key)
            .bind(&user.username)
            .bind(&user.sub)
            .bind(user.status.as_str())
            .bind(i64::from(user.enabled))
            .bind(attributes_json(user))
            .bind(user.password_hash.clone())
            .bind(user.password_set_at.map(millis))
            .bind(millis(user.created_at))
            .bind(millis(user.last_modified_at))
            .bind(sealed_srp)
            .bind(version_of(user)?)
            .bind(mfa_json(user))
            .bind(sealed_totp)
            .execute(&mut *tx)
            .await;
            map_conflict(inserted)?;
            apply_extras(&mut tx, change, sealed_code).await?;
            for group in groups {
                let exists =
                    sqlx::query("SELECT 1 FROM user_groups WHERE pool_id = $1 AND name = $2")
                        .bind(&user.pool_id)
                        .bind(group)
                        .fetch_optional(&mut *tx)
                        .await?;
                if exists.is_none() {
                    return Err(StoreError::NoGroup(group.clone()));
                }
                sqlx::query(
                    "INSERT INTO group_members (pool_id, group_name, username_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                )
                .bind(&user.pool_id)
                .bind(group)
                .bind(change.key)
                .execute(&mut *tx)
                .await?;
            }
        }
        // Last in the transaction, so that the count's rows stay locked only for the commit.
        let mut counted: BTreeMap<(&str, i64), i64> = BTreeMap::new();
        for change in changes {
            *counted
                .entry((change.user.pool_id.as_str(), count_shard(change.key)))
                .or_default() += 1;
        }
        for ((pool_id, shard), added) in counted {
            add_to_user_count(&mut tx, pool_id, shard, added).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces a user row (and what the change adds), provided it is still at the version
    /// `change.user` was read at; the stored version then moves on by one. `Stale` when
    /// another write landed since that read (nothing is written: read the user again and
    /// redo the change), false when the user does not exist.
    pub async fn save_user(&self, change: UserChange<'_>) -> Result<bool, StoreError> {
        let user = change.user;
        let sealed = change
            .put_code
            .map(|code| self.seal_code(&user.pool_id, change.key, code))
            .transpose()?;
        let sealed_srp = self.seal_srp(user, change.key)?;
        let sealed_totp = self.seal_totp(user, change.key)?;
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        // The version condition makes the check and the write one statement: on PostgreSQL
        // a concurrent UPDATE of the row waits for this one and then finds the version gone.
        let updated = sqlx::query(
            "UPDATE users SET username = $1, status = $2, enabled = $3, attributes = $4, password_hash = $5, password_set_at = $6, last_modified_at = $7, sealed_srp = $8, mfa = $9, sealed_totp = $10, version = version + 1 WHERE pool_id = $11 AND username_key = $12 AND version = $13",
        )
        .bind(&user.username)
        .bind(user.status.as_str())
        .bind(i64::from(user.enabled))
        .bind(attributes_json(user))
        .bind(user.password_hash.clone())
        .bind(user.password_set_at.map(millis))
        .bind(millis(user.last_modified_at))
        .bind(sealed_srp)
        .bind(mfa_json(user))
        .bind(sealed_totp)
        .bind(&user.pool_id)
        .bind(change.key)
        .bind(version_of(user)?)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            let exists =
                sqlx::query("SELECT 1 AS one FROM users WHERE pool_id = $1 AND username_key = $2")
                    .bind(&user.pool_id)
                    .bind(change.key)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
            drop(tx);
            if !exists {
                return Ok(false);
            }
            // A cached copy older than the stored row would send the caller's re-read back to
            // the same stale version; the cache is invalidated after every write, so this
            // only guards against a write it was not told about.
            if let Some(cache) = &self.cache {
                cache.forget_user(&user.pool_id, change.key);
            }
            return Err(StoreError::Stale);
        }
        apply_extras(&mut tx, &change, sealed).await?;
        tx.commit().await?;
        if let Some(cache) = &self.cache {
            cache.forget_user(&user.pool_id, change.key);
        }
        Ok(true)
    }

    /// The software-token secrets, verified and pending, sealed together; `None` when the
    /// user has neither.
    fn seal_totp(&self, user: &User, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mfa = &user.mfa;
        if mfa.totp.is_none() && mfa.totp_pending.is_none() {
            return Ok(None);
        }
        let plaintext = serde_json::json!({
            "verified": mfa.totp.as_ref().map(TotpSecret::to_base32),
            "pending": mfa.totp_pending.as_ref().map(TotpSecret::to_base32),
        })
        .to_string()
        .into_bytes();
        self.seal(&UserMfa::seal_context(&user.pool_id, key), &plaintext)
            .map(Some)
    }

    fn seal_srp(&self, user: &User, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        user.srp_verifier
            .as_ref()
            .map(|verifier| self.seal(&srp_context(&user.pool_id, key), &srp_plaintext(verifier)))
            .transpose()
    }

    /// The user with this lookup key.
    pub async fn user(&self, pool_id: &str, key: &str) -> Result<Option<User>, StoreError> {
        self.user_from(pool_id, key, self.serving_cache()).await
    }

    /// The user as the database holds it now, for decisions a copy up to
    /// [`crate::STALENESS_BOUND`] old must not make (checking a password at sign-in). From
    /// the cache only when this store is its database's only writer, whose cache is never
    /// behind.
    pub async fn user_current(&self, pool_id: &str, key: &str) -> Result<Option<User>, StoreError> {
        let cache = self.serving_cache().filter(|_| !self.shares_database());
        self.user_from(pool_id, key, cache).await
    }

    async fn user_from(
        &self,
        pool_id: &str,
        key: &str,
        cache: Option<&crate::cache::ReadCache>,
    ) -> Result<Option<User>, StoreError> {
        let stamp = match cache {
            Some(cache) => match cache.users.get(&(pool_id.to_owned(), key.to_owned())) {
                Some(user) => return Ok(Some(user)),
                None => Some(cache.stamp()),
            },
            None => None,
        };
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE pool_id = $1 AND username_key = $2"
        ))
        .bind(pool_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        let user = row
            .as_ref()
            .map(|row| user_from_row(self, row))
            .transpose()?;
        if let (Some(cache), Some(stamp), Some(user)) = (&self.cache, stamp, &user) {
            cache.put(
                &cache.users,
                stamp,
                (pool_id.to_owned(), key.to_owned()),
                user.clone(),
            );
        }
        Ok(user)
    }

    /// The user an alias of this kind and value key belongs to, with its lookup key.
    pub async fn user_by_alias(
        &self,
        pool_id: &str,
        kind: &str,
        value_key: &str,
    ) -> Result<Option<(String, User)>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT u.{} FROM user_aliases a JOIN users u ON u.pool_id = a.pool_id AND u.username_key = a.username_key WHERE a.pool_id = $1 AND a.kind = $2 AND a.value_key = $3",
            USER_COLUMNS.replace(", ", ", u.")
        ))
        .bind(pool_id)
        .bind(kind)
        .bind(value_key)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(|row| {
                Ok((
                    row.try_get::<String, _>("username_key")?,
                    user_from_row(self, row)?,
                ))
            })
            .transpose()
    }

    /// Claims software-token step `step` for a user: true when no code of this step or a
    /// later one was accepted before, false otherwise (or when the user is gone). One
    /// conditional statement decides and records, so two nodes given the same code accept it
    /// once; the step lives outside the versioned row, so no user write can set it back.
    pub async fn claim_totp_step(
        &self,
        pool_id: &str,
        key: &str,
        step: u64,
    ) -> Result<bool, StoreError> {
        let step =
            i64::try_from(step).map_err(|_| StoreError::Corrupt("step out of range".into()))?;
        let _guard = self.write_guard().await;
        let updated = sqlx::query(
            "UPDATE users SET totp_last_step = $1 WHERE pool_id = $2 AND username_key = $3 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(pool_id)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// The last software-token step accepted for a user, if any.
    pub async fn totp_last_step(
        &self,
        pool_id: &str,
        key: &str,
    ) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query(
            "SELECT totp_last_step FROM users WHERE pool_id = $1 AND username_key = $2",
        )
        .bind(pool_id)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(row) => row
                .try_get::<Option<i64>, _>("totp_last_step")?
                .and_then(|step| u64::try_from(step).ok()),
            None => None,
        })
    }

    /// Deletes a user with its aliases, codes and group memberships.
    pub async fn delete_user(&self, pool_id: &str, key: &str) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        delete_user_rows(&mut tx, &USER_ROWS, pool_id, key).await?;
        let result = sqlx::query("DELETE FROM users WHERE pool_id = $1 AND username_key = $2")
            .bind(pool_id)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        if result.rows_affected() == 1 {
            add_to_user_count(&mut tx, pool_id, count_shard(key), -1).await?;
        }
        tx.commit().await?;
        if let Some(cache) = &self.cache {
            cache.forget_user(pool_id, key);
        }
        Ok(result.rows_affected() == 1)
    }

    /// Up to `limit` users with lookup keys after `after`, in key order, with their keys.
    pub async fn list_users(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, User)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE pool_id = $1 AND username_key > $2 ORDER BY username_key LIMIT $3"
        ))
        .bind(pool_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get::<String, _>("username_key")?,
                    user_from_row(self, row)?,
                ))
            })
            .collect()
    }

    /// Up to `limit` users whose indexed `attribute` equals `value` (or starts with it, when
    /// `prefix`), ordered by (value, key), after the `(value, key)` position `after`.
    pub async fn list_users_filtered(
        &self,
        pool_id: &str,
        attribute: &str,
        value: &str,
        prefix: bool,
        after: Option<(&str, &str)>,
        limit: u32,
    ) -> Result<Vec<(String, String, User)>, StoreError> {
        let columns = USER_COLUMNS.replace(", ", ", u.");
        // The page starts after the later of two (value, key) positions: the first the
        // filter admits, (value, ""), since no lookup key is empty, and the token's. As one
        // row-value comparison it is where both SQLite and PostgreSQL seek to in the index, so
        // every page costs the same at any depth. (A lower bound on the value beside
        // `value > after OR (value = after AND key > after key)` made SQLite seek from the
        // token's value alone, "" on a first page, scanning every smaller value of the
        // attribute, and made PostgreSQL filter every row before a deep page's.) Strings
        // compare byte-wise here as in the index (BINARY in SQLite, COLLATE "C" in
        // PostgreSQL).
        let start = match after {
            Some(after) if after > (value, "") => after,
            _ => (value, ""),
        };
        // A prefix admits [prefix, its successor); a prefix with no successor (empty, or only
        // U+10FFFF) admits every value from it on. (`prefix + U+10FFFF` is no such bound: it
        // leaves out the values that continue with U+10FFFF, itself among them.)
        let (bound, upper) = if !prefix {
            ("AND i.value <= $5", Some(value.to_owned()))
        } else if let Some(next) = prefix_successor(value) {
            ("AND i.value < $5", Some(next))
        } else {
            ("", None)
        };
        let limit_parameter = if upper.is_some() { "$6" } else { "$5" };
        let sql = format!(
            "SELECT i.value AS index_value, u.{columns} FROM user_index i JOIN users u ON u.pool_id = i.pool_id AND u.username_key = i.username_key \
             WHERE i.pool_id = $1 AND i.attribute = $2 AND (i.value, i.username_key) > ($3, $4) {bound} \
             ORDER BY i.value, i.username_key LIMIT {limit_parameter}"
        );
        let mut query = sqlx::query(&sql)
            .bind(pool_id)
            .bind(attribute)
            .bind(start.0)
            .bind(start.1);
        if let Some(upper) = upper {
            query = query.bind(upper);
        }
        let rows = query.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get::<String, _>("username_key")?,
                    row.try_get::<String, _>("index_value")?,
                    user_from_row(self, row)?,
                ))
            })
            .collect()
    }

    /// How many users a pool has.
    pub async fn count_users(&self, pool_id: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE pool_id = $1")
            .bind(pool_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// How many users a pool has, as counted by every insert and delete of a user (see
    /// migration `0008_user_counts`): one small read, unlike [`Store::count_users`], which
    /// counts the rows.
    pub async fn user_count(&self, pool_id: &str) -> Result<i64, StoreError> {
        // SUM over BIGINT is NUMERIC on PostgreSQL; the cast keeps it an integer on both.
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(users), 0) AS BIGINT) AS n FROM user_counts WHERE pool_id = $1",
        )
        .bind(pool_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// The `(kind, value key)` aliases of a user.
    pub async fn aliases(
        &self,
        pool_id: &str,
        key: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, value_key FROM user_aliases WHERE pool_id = $1 AND username_key = $2 ORDER BY kind",
        )
        .bind(pool_id)
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("kind")?, row.try_get("value_key")?)))
            .collect()
    }
}

/// The row of a pool's user count that a user's insert and delete move (see migration
/// `0008_user_counts`): one of 16, from an FNV-1a hash of the lookup key, so that concurrent
/// sign-ups of different users mostly lock different rows. Any spread would do; only the
/// sum of a pool's rows is read.
fn count_shard(key: &str) -> i64 {
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    i64::try_from(hash % 16).unwrap_or(0)
}

async fn add_to_user_count(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    pool_id: &str,
    shard: i64,
    added: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO user_counts (pool_id, shard, users) VALUES ($1, $2, $3) \
         ON CONFLICT (pool_id, shard) DO UPDATE SET users = user_counts.users + excluded.users",
    )
    .bind(pool_id)
    .bind(shard)
    .bind(added)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn apply_extras(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    change: &UserChange<'_>,
    sealed_code: Option<Vec<u8>>,
) -> Result<(), StoreError> {
    let pool_id = &change.user.pool_id;
    // The search index follows every write of the user row.
    sqlx::query("DELETE FROM user_index WHERE pool_id = $1 AND username_key = $2")
        .bind(pool_id)
        .bind(change.key)
        .execute(&mut **tx)
        .await?;
    for (attribute, value) in tessera_core::indexed_values(change.user, change.key) {
        sqlx::query("INSERT INTO user_index (pool_id, attribute, value, username_key) VALUES ($1, $2, $3, $4)")
            .bind(pool_id)
            .bind(attribute)
            .bind(value)
            .bind(change.key)
            .execute(&mut **tx)
            .await?;
    }
    if let Some(aliases) = change.aliases {
        sqlx::query("DELETE FROM user_aliases WHERE pool_id = $1 AND username_key = $2")
            .bind(pool_id)
            .bind(change.key)
            .execute(&mut **tx)
            .await?;
        for (kind, value_key) in aliases {
            let inserted = sqlx::query(
                "INSERT INTO user_aliases (pool_id, kind, value_key, username_key) VALUES ($1, $2, $3, $4)",
            )
            .bind(pool_id)
            .bind(kind)
            .bind(value_key)
            .bind(change.key)
            .execute(&mut **tx)
            .await;
            match inserted {
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    return Err(StoreError::AliasTaken(kind.clone()))
                }
                other => {
                    other?;
                }
            }
        }
    }
    crate::code::consume_codes(tx, pool_id, change.key, change.consume_codes).await?;
    if let (Some(code), Some(sealed)) = (change.put_code, sealed_code) {
        crate::code::write_code(&mut **tx, pool_id, change.key, code, sealed).await?;
    }
    Ok(())
}

/// The least string greater than every string that starts with `prefix` (strings compare
/// byte-wise in UTF-8, which is code point order): the prefix with its last character
/// replaced by the next one, after dropping trailing U+10FFFF, which has none. `None` when
/// nothing is left, since every string then starts with the prefix or sorts before it.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // The surrogates are not characters: U+E000 follows U+D7FF.
        let next = if last == '\u{D7FF}' {
            Some('\u{E000}')
        } else {
            char::from_u32(u32::from(last) + 1)
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod prefix_tests {
    use super::prefix_successor;

    #[test]
    fn successors_bound_every_extension() {
        assert_eq!(prefix_successor(""), None);
        assert_eq!(prefix_successor("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{10FFFF}\u{10FFFF}"), None);
        assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
    }
}
