//! Identity pools, their identities and the logins linked to them, and the keys of tessera's
//! identity issuer (issue 14).
//!
//! Linking is decided above the store; what the store guarantees is that a (pool, provider,
//! subject) login belongs to one identity at most (the primary key of `identity_logins`), so
//! two GetId calls racing with the same new login cannot create two identities for it: the
//! second insert fails with [`StoreError::Conflict`] and its caller reads again.

use std::time::SystemTime;

use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::Row;
use tessera_core::{Identity, IdentityPool, KeyUse, Login, SigningKey};

use crate::store::{from_millis, map_conflict, millis};
use crate::{Store, StoreError};

const POOL_COLUMNS: &str =
    "id, name, settings, roles, principal_tags, created_at, last_modified_at, version";

fn document(text: &str) -> Result<Map<String, Value>, StoreError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(StoreError::Corrupt("identity pool document".into())),
    }
}

fn text(map: &Map<String, Value>) -> String {
    Value::Object(map.clone()).to_string()
}

fn pool_from_row(row: &AnyRow) -> Result<IdentityPool, StoreError> {
    Ok(IdentityPool {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        settings: document(&row.try_get::<String, _>("settings")?)?,
        roles: document(&row.try_get::<String, _>("roles")?)?,
        principal_tags: document(&row.try_get::<String, _>("principal_tags")?)?,
        created_at: from_millis(row.try_get("created_at")?),
        last_modified_at: from_millis(row.try_get("last_modified_at")?),
        version: row.try_get("version")?,
    })
}

/// The AEAD context of an identity-issuer key.
pub(crate) fn key_context(kid: &str) -> String {
    format!("identity-signing-key:{kid}")
}

impl Store {
    /// Stores a new identity pool.
    pub async fn insert_identity_pool(&self, pool: &IdentityPool) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        let inserted = sqlx::query(&format!(
            "INSERT INTO identity_pools ({POOL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&pool.id)
        .bind(&pool.name)
        .bind(text(&pool.settings))
        .bind(text(&pool.roles))
        .bind(text(&pool.principal_tags))
        .bind(millis(pool.created_at))
        .bind(millis(pool.last_modified_at))
        .bind(pool.version)
        .execute(&self.pool)
        .await;
        map_conflict(inserted)?;
        Ok(())
    }

    /// The identity pool with this id.
    pub async fn identity_pool(&self, id: &str) -> Result<Option<IdentityPool>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {POOL_COLUMNS} FROM identity_pools WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(pool_from_row).transpose()
    }

    /// Up to `limit` identity pools with ids after `after`, in id order.
    pub async fn identity_pools(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<IdentityPool>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {POOL_COLUMNS} FROM identity_pools WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pool_from_row).collect()
    }

    /// Replaces a pool's name and documents if it is still at `pool.version` (the version the
    /// caller read), and bumps the version. False when the pool changed or went meanwhile.
    pub async fn update_identity_pool(&self, pool: &IdentityPool) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let result = sqlx::query(
            "UPDATE identity_pools SET name = $1, settings = $2, roles = $3, principal_tags = $4, last_modified_at = $5, version = version + 1 WHERE id = $6 AND version = $7",
        )
        .bind(&pool.name)
        .bind(text(&pool.settings))
        .bind(text(&pool.roles))
        .bind(text(&pool.principal_tags))
        .bind(millis(pool.last_modified_at))
        .bind(&pool.id)
        .bind(pool.version)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Deletes an identity pool with its identities and their logins, in one transaction.
    /// False when it did not exist.
    pub async fn delete_identity_pool(&self, id: &str) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM identity_logins WHERE pool_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM identities WHERE pool_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM identity_pools WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(deleted == 1)
    }

    /// An identity with its logins.
    pub async fn identity(&self, id: &str) -> Result<Option<Identity>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, pool_id, authenticated, created_at, last_modified_at FROM identities WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let logins = sqlx::query(
            "SELECT provider, subject FROM identity_logins WHERE identity_id = $1 ORDER BY provider, subject",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(Login {
                provider: row.try_get("provider")?,
                subject: row.try_get("subject")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(Identity {
            id: row.try_get("id")?,
            pool_id: row.try_get("pool_id")?,
            logins,
            authenticated: row.try_get::<i64, _>("authenticated")? != 0,
            created_at: from_millis(row.try_get("created_at")?),
            last_modified_at: from_millis(row.try_get("last_modified_at")?),
        }))
    }

    /// The identity a login is linked to in a pool.
    pub async fn identity_of_login(
        &self,
        pool_id: &str,
        login: &Login,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT identity_id FROM identity_logins WHERE pool_id = $1 AND provider = $2 AND subject = $3",
        )
        .bind(pool_id)
        .bind(&login.provider)
        .bind(&login.subject)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| row.try_get("identity_id")).transpose()?)
    }

    /// Up to `limit` identities of a pool with ids after `after`, in id order, with their
    /// logins.
    pub async fn identities(
        &self,
        pool_id: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<Identity>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM identities WHERE pool_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(pool_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut identities = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.try_get("id")?;
            if let Some(identity) = self.identity(&id).await? {
                identities.push(identity);
            }
        }
        Ok(identities)
    }

    /// Links identities and logins in one transaction: creates `create` (with its logins) if
    /// given, moves every login of the identities in `merge` to `into` and deletes them, and
    /// links `add` to `into`. [`StoreError::Conflict`] when a login to add is linked already
    /// (another call got there first); nothing is written then.
    pub async fn link_identity(&self, change: &IdentityLink<'_>) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let now = millis(change.now);
        let authenticated = i64::from(!change.add.is_empty());
        if let Some(identity) = change.create {
            sqlx::query(
                "INSERT INTO identities (id, pool_id, authenticated, created_at, last_modified_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&identity.id)
            .bind(&identity.pool_id)
            .bind(authenticated)
            .bind(millis(identity.created_at))
            .bind(millis(identity.last_modified_at))
            .execute(&mut *tx)
            .await?;
        } else {
            // The surviving identity's row is written first: on PostgreSQL this locks it, so
            // a concurrent deletion either waits for this link (and then deletes the logins
            // too) or has already deleted the row (and this link finds nothing to link to).
            let touched = sqlx::query(
                "UPDATE identities SET last_modified_at = $1, authenticated = CASE WHEN $2 = 1 THEN 1 ELSE authenticated END WHERE id = $3 AND pool_id = $4",
            )
            .bind(now)
            .bind(authenticated)
            .bind(change.into)
            .bind(change.pool_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if touched == 0 {
                return Err(StoreError::Conflict);
            }
        }
        for source in change.merge {
            // The source's row goes first, for the same reason.
            let deleted = sqlx::query("DELETE FROM identities WHERE id = $1 AND pool_id = $2")
                .bind(source)
                .bind(change.pool_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 0 {
                return Err(StoreError::Conflict);
            }
            sqlx::query("UPDATE identity_logins SET identity_id = $1 WHERE identity_id = $2")
                .bind(change.into)
                .bind(source)
                .execute(&mut *tx)
                .await?;
        }
        for login in change.add {
            let inserted = sqlx::query(
                "INSERT INTO identity_logins (pool_id, provider, subject, identity_id, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(change.pool_id)
            .bind(&login.provider)
            .bind(&login.subject)
            .bind(change.into)
            .bind(now)
            .execute(&mut *tx)
            .await;
            map_conflict(inserted)?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Unlinks logins from an identity. Returns how many went.
    pub async fn unlink_logins(
        &self,
        identity_id: &str,
        logins: &[Login],
        now: SystemTime,
    ) -> Result<u64, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let mut removed = 0;
        for login in logins {
            removed += sqlx::query(
                "DELETE FROM identity_logins WHERE identity_id = $1 AND provider = $2 AND subject = $3",
            )
            .bind(identity_id)
            .bind(&login.provider)
            .bind(&login.subject)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        sqlx::query("UPDATE identities SET last_modified_at = $1 WHERE id = $2")
            .bind(millis(now))
            .bind(identity_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Deletes an identity with its logins. False when it did not exist.
    pub async fn delete_identity(&self, id: &str) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        // The row first (see `link_identity`): a link racing with the deletion either
        // finished before it, and its login goes below, or finds no identity.
        let deleted = sqlx::query("DELETE FROM identities WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM identity_logins WHERE identity_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted == 1)
    }

    /// The identity issuer's keys with their private halves opened, oldest first.
    pub async fn identity_signing_keys(&self) -> Result<Vec<SigningKey>, StoreError> {
        let rows = sqlx::query(
            "SELECT kid, sealed_private_key, created_at FROM identity_signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let kid: String = row.try_get("kid")?;
            let sealed: Vec<u8> = row.try_get("sealed_private_key")?;
            let pkcs8 = self.open(&key_context(&kid), &sealed)?;
            keys.push(SigningKey::from_pkcs8(
                KeyUse::Id,
                from_millis(row.try_get("created_at")?),
                &pkcs8,
            )?);
        }
        Ok(keys)
    }

    /// Stores a key of the identity issuer, its private half sealed.
    pub async fn insert_identity_signing_key(&self, key: &SigningKey) -> Result<(), StoreError> {
        let sealed = self.seal(&key_context(&key.kid), key.pkcs8())?;
        let _guard = self.write_guard().await;
        let inserted = sqlx::query(
            "INSERT INTO identity_signing_keys (kid, public_jwk, sealed_private_key, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&key.kid)
        .bind(key.public_jwk().to_string())
        .bind(sealed)
        .bind(millis(key.created_at))
        .execute(&self.pool)
        .await;
        map_conflict(inserted)?;
        Ok(())
    }
}

/// One linking write (see [`Store::link_identity`]).
pub struct IdentityLink<'a> {
    pub pool_id: &'a str,
    /// The identity that ends up with the logins.
    pub into: &'a str,
    /// A new identity to create first (its id is `into`).
    pub create: Option<&'a Identity>,
    /// Identities whose logins move to `into` and which are then deleted.
    pub merge: &'a [String],
    /// Logins to link to `into`.
    pub add: &'a [Login],
    pub now: SystemTime,
}
