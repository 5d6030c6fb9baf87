//! A user pool's identity providers (issue 15), their details sealed, and the IdP identifiers
//! that route a sign-in to one of them, unique across the pool.

use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::Row;
use tessera_core::IdentityProvider;

use crate::store::{from_millis, map_conflict, millis};
use crate::{Store, StoreError};

const COLUMNS: &str = "pool_id, name, provider_type, sealed_details, attribute_mapping, acr_mapping, created_at, last_modified_at, version";

fn document(text: &str) -> Result<Map<String, Value>, StoreError> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(StoreError::Corrupt("identity provider document".into())),
    }
}

impl Store {
    fn provider_from_row(&self, row: &AnyRow) -> Result<IdentityProvider, StoreError> {
        let pool_id: String = row.try_get("pool_id")?;
        let name: String = row.try_get("name")?;
        let sealed: Vec<u8> = row.try_get("sealed_details")?;
        let details =
            document(&self.open_text(&IdentityProvider::seal_context(&pool_id, &name), &sealed)?)?;
        let acr: Option<String> = row.try_get("acr_mapping")?;
        Ok(IdentityProvider {
            provider_type: row.try_get("provider_type")?,
            details,
            attribute_mapping: document(&row.try_get::<String, _>("attribute_mapping")?)?,
            idp_identifiers: Vec::new(),
            acr_mapping: acr.as_deref().map(document).transpose()?,
            created_at: from_millis(row.try_get("created_at")?),
            last_modified_at: from_millis(row.try_get("last_modified_at")?),
            version: row.try_get("version")?,
            pool_id,
            name,
        })
    }

    async fn with_identifiers(
        &self,
        mut provider: IdentityProvider,
    ) -> Result<IdentityProvider, StoreError> {
        provider.idp_identifiers = sqlx::query(
            "SELECT identifier FROM identity_provider_identifiers WHERE pool_id = $1 AND name = $2 ORDER BY position, identifier",
        )
        .bind(&provider.pool_id)
        .bind(&provider.name)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| row.try_get("identifier"))
        .collect::<Result<_, _>>()?;
        Ok(provider)
    }

    /// Stores a new identity provider with its identifiers, in one transaction.
    /// [`StoreError::Conflict`] when the name or one of the identifiers is taken in the pool.
    pub async fn insert_identity_provider(
        &self,
        provider: &IdentityProvider,
    ) -> Result<(), StoreError> {
        let sealed = self.seal(
            &IdentityProvider::seal_context(&provider.pool_id, &provider.name),
            Value::Object(provider.details.clone())
                .to_string()
                .as_bytes(),
        )?;
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(&format!(
            "INSERT INTO identity_providers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&provider.pool_id)
        .bind(&provider.name)
        .bind(&provider.provider_type)
        .bind(sealed)
        .bind(Value::Object(provider.attribute_mapping.clone()).to_string())
        .bind(
            provider
                .acr_mapping
                .as_ref()
                .map(|m| Value::Object(m.clone()).to_string()),
        )
        .bind(millis(provider.created_at))
        .bind(millis(provider.last_modified_at))
        .bind(provider.version)
        .execute(&mut *tx)
        .await;
        map_conflict(inserted)?;
        insert_identifiers(&mut tx, provider).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The identity provider of a pool with this name.
    pub async fn identity_provider(
        &self,
        pool_id: &str,
        name: &str,
    ) -> Result<Option<IdentityProvider>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM identity_providers WHERE pool_id = $1 AND name = $2"
        ))
        .bind(pool_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some(
                self.with_identifiers(self.provider_from_row(&row)?).await?,
            )),
            None => Ok(None),
        }
    }

    /// The identity provider an IdP identifier routes to.
    pub async fn identity_provider_by_identifier(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> Result<Option<IdentityProvider>, StoreError> {
        let row = sqlx::query(
            "SELECT name FROM identity_provider_identifiers WHERE pool_id = $1 AND identifier = $2",
        )
        .bind(pool_id)
        .bind(identifier)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => {
                self.identity_provider(pool_id, &row.try_get::<String, _>("name")?)
                    .await
            }
            None => Ok(None),
        }
    }

    /// Up to `limit` identity providers of a pool with names after `after`, in name order.
    pub async fn identity_providers(
        &self,
        pool_id: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<IdentityProvider>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM identity_providers WHERE pool_id = $1 AND name > $2 ORDER BY name LIMIT $3"
        ))
        .bind(pool_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut providers = Vec::with_capacity(rows.len());
        for row in rows {
            providers.push(self.with_identifiers(self.provider_from_row(&row)?).await?);
        }
        Ok(providers)
    }

    /// Replaces a provider's type, details, mappings and identifiers if it is still at
    /// `provider.version` (the version the caller read), bumping the version, in one
    /// transaction. False when it changed or went meanwhile; [`StoreError::Conflict`] when
    /// another provider holds one of the identifiers.
    pub async fn update_identity_provider(
        &self,
        provider: &IdentityProvider,
    ) -> Result<bool, StoreError> {
        let sealed = self.seal(
            &IdentityProvider::seal_context(&provider.pool_id, &provider.name),
            Value::Object(provider.details.clone())
                .to_string()
                .as_bytes(),
        )?;
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE identity_providers SET provider_type = $1, sealed_details = $2, attribute_mapping = $3, acr_mapping = $4, last_modified_at = $5, version = version + 1 WHERE pool_id = $6 AND name = $7 AND version = $8",
        )
        .bind(&provider.provider_type)
        .bind(sealed)
        .bind(Value::Object(provider.attribute_mapping.clone()).to_string())
        .bind(
            provider
                .acr_mapping
                .as_ref()
                .map(|m| Value::Object(m.clone()).to_string()),
        )
        .bind(millis(provider.last_modified_at))
        .bind(&provider.pool_id)
        .bind(&provider.name)
        .bind(provider.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM identity_provider_identifiers WHERE pool_id = $1 AND name = $2")
            .bind(&provider.pool_id)
            .bind(&provider.name)
            .execute(&mut *tx)
            .await?;
        insert_identifiers(&mut tx, provider).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes an identity provider with its identifiers. False when it did not exist.
    pub async fn delete_identity_provider(
        &self,
        pool_id: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let deleted =
            sqlx::query("DELETE FROM identity_providers WHERE pool_id = $1 AND name = $2")
                .bind(pool_id)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        sqlx::query("DELETE FROM identity_provider_identifiers WHERE pool_id = $1 AND name = $2")
            .bind(pool_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(deleted == 1)
    }
}

async fn insert_identifiers(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    provider: &IdentityProvider,
) -> Result<(), StoreError> {
    for (position, identifier) in provider.idp_identifiers.iter().enumerate() {
        let inserted = sqlx::query(
            "INSERT INTO identity_provider_identifiers (pool_id, identifier, name, position) VALUES ($1, $2, $3, $4)",
        )
        .bind(&provider.pool_id)
        .bind(identifier)
        .bind(&provider.name)
        .bind(position as i64)
        .execute(&mut **tx)
        .await;
        map_conflict(inserted)?;
    }
    Ok(())
}
