//! Passkeys (issue 13): a user's WebAuthn credentials, registered, listed, used and deleted.

use std::time::SystemTime;

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::store::{from_millis, map_conflict, millis};
use crate::{Store, StoreError};

/// A registered WebAuthn credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyRecord {
    pub pool_id: String,
    pub username_key: String,
    /// The credential id, base64url without padding.
    pub credential_id: String,
    /// The credential as webauthn-rs keeps it (JSON).
    pub credential: String,
    /// `FriendlyCredentialName`.
    pub name: String,
    pub relying_party_id: String,
    /// `platform` or `cross-platform`, when the browser said.
    pub attachment: Option<String>,
    /// `AuthenticatorTransports`.
    pub transports: Vec<String>,
    pub created_at: SystemTime,
}

const COLUMNS: &str = "pool_id, credential_id, username_key, credential, name, relying_party_id, attachment, transports, created_at";

fn from_row(row: &AnyRow) -> Result<PasskeyRecord, StoreError> {
    let transports: String = row.try_get("transports")?;
    Ok(PasskeyRecord {
        pool_id: row.try_get("pool_id")?,
        credential_id: row.try_get("credential_id")?,
        username_key: row.try_get("username_key")?,
        credential: row.try_get("credential")?,
        name: row.try_get("name")?,
        relying_party_id: row.try_get("relying_party_id")?,
        attachment: row.try_get("attachment")?,
        transports: serde_json::from_str(&transports)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

impl Store {
    /// Registers a credential; `Conflict` when its id is registered in the pool already.
    pub async fn insert_passkey(&self, record: &PasskeyRecord) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        let inserted = sqlx::query(&format!(
            "INSERT INTO webauthn_credentials ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&record.pool_id)
        .bind(&record.credential_id)
        .bind(&record.username_key)
        .bind(&record.credential)
        .bind(&record.name)
        .bind(&record.relying_party_id)
        .bind(record.attachment.clone())
        .bind(serde_json::to_string(&record.transports).unwrap_or_else(|_| "[]".into()))
        .bind(millis(record.created_at))
        .execute(&self.pool)
        .await;
        map_conflict(inserted)?;
        Ok(())
    }

    /// A user's credentials, oldest first.
    pub async fn passkeys(
        &self,
        pool_id: &str,
        username_key: &str,
    ) -> Result<Vec<PasskeyRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM webauthn_credentials WHERE pool_id = $1 AND username_key = $2 ORDER BY created_at, credential_id"
        ))
        .bind(pool_id)
        .bind(username_key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Replaces a credential's document after a sign-in moved its counter, provided it is
    /// still the document the sign-in checked against (a concurrent sign-in with a clone of
    /// the authenticator then finds it changed).
    pub async fn update_passkey(
        &self,
        pool_id: &str,
        credential_id: &str,
        checked: &str,
        credential: &str,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let updated = sqlx::query(
            "UPDATE webauthn_credentials SET credential = $1 WHERE pool_id = $2 AND credential_id = $3 AND credential = $4",
        )
        .bind(credential)
        .bind(pool_id)
        .bind(credential_id)
        .bind(checked)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// DeleteWebAuthnCredential. False when the user has no such credential.
    pub async fn delete_passkey(
        &self,
        pool_id: &str,
        username_key: &str,
        credential_id: &str,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let deleted = sqlx::query(
            "DELETE FROM webauthn_credentials WHERE pool_id = $1 AND username_key = $2 AND credential_id = $3",
        )
        .bind(pool_id)
        .bind(username_key)
        .bind(credential_id)
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected() == 1)
    }
}
