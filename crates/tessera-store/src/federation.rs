//! Federation state (issue 15): a pool's SAML signing key, the sign-ins sent to an upstream
//! provider and not yet back, and the SAML assertions already accepted.

use std::time::SystemTime;

use sqlx::Row;

use crate::store::{from_millis, map_conflict, millis};
use crate::{Store, StoreError};

/// A pool's SAML signing key and its self-signed certificate.
#[derive(Clone)]
pub struct SamlSigningKey {
    pub pool_id: String,
    /// PKCS#8 DER of the RSA private key.
    pub private_key: Vec<u8>,
    /// The X.509 certificate, DER.
    pub certificate: Vec<u8>,
    pub created_at: SystemTime,
}

impl std::fmt::Debug for SamlSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SamlSigningKey")
            .field("pool_id", &self.pool_id)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A sign-in sent to an upstream provider, found again by the hash of the state it carried.
#[derive(Clone)]
pub struct FederationRequest {
    /// SHA-256 (hex) of the state or RelayState sent upstream.
    pub state_hash: String,
    pub pool_id: String,
    pub provider_name: String,
    /// What the callback needs (the app's request, nonce, PKCE verifier, browser binding,
    /// AuthnRequest id), as the caller's JSON document; sealed at rest.
    pub request: serde_json::Value,
    pub created_at: SystemTime,
    pub expires_at: SystemTime,
}

impl std::fmt::Debug for FederationRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederationRequest")
            .field("pool_id", &self.pool_id)
            .field("provider_name", &self.provider_name)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

pub(crate) fn signing_key_context(pool_id: &str) -> String {
    format!("saml-signing-key:{pool_id}")
}

pub(crate) fn request_context(state_hash: &str) -> String {
    format!("federation-request:{state_hash}")
}

impl Store {
    /// The pool's SAML signing key, if one was made.
    pub async fn saml_signing_key(
        &self,
        pool_id: &str,
    ) -> Result<Option<SamlSigningKey>, StoreError> {
        let row = sqlx::query(
            "SELECT sealed_private_key, certificate, created_at FROM saml_signing_keys WHERE pool_id = $1",
        )
        .bind(pool_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let sealed: Vec<u8> = row.try_get("sealed_private_key")?;
        Ok(Some(SamlSigningKey {
            pool_id: pool_id.to_owned(),
            private_key: self.open(&signing_key_context(pool_id), &sealed)?,
            certificate: row.try_get("certificate")?,
            created_at: from_millis(row.try_get("created_at")?),
        }))
    }

    /// Stores a pool's first SAML signing key and returns the pool's key: `key`, or the one
    /// another request stored first (two first uses at once keep one key).
    pub async fn insert_saml_signing_key(
        &self,
        key: &SamlSigningKey,
    ) -> Result<SamlSigningKey, StoreError> {
        let sealed = self.seal(&signing_key_context(&key.pool_id), &key.private_key)?;
        let inserted = {
            let _guard = self.write_guard().await;
            sqlx::query(
                "INSERT INTO saml_signing_keys (pool_id, sealed_private_key, certificate, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(&key.pool_id)
            .bind(sealed)
            .bind(&key.certificate)
            .bind(millis(key.created_at))
            .execute(&self.pool)
            .await
        };
        match map_conflict(inserted) {
            Ok(_) => Ok(key.clone()),
            Err(StoreError::Conflict) => self
                .saml_signing_key(&key.pool_id)
                .await?
                .ok_or_else(|| StoreError::Corrupt("SAML signing key vanished".into())),
            Err(other) => Err(other),
        }
    }

    /// Remembers a sign-in sent upstream.
    pub async fn insert_federation_request(
        &self,
        request: &FederationRequest,
    ) -> Result<(), StoreError> {
        let sealed = self.seal(
            &request_context(&request.state_hash),
            request.request.to_string().as_bytes(),
        )?;
        let _guard = self.write_guard().await;
        let inserted = sqlx::query(
            "INSERT INTO federation_requests (state_hash, pool_id, provider_name, sealed_request, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&request.state_hash)
        .bind(&request.pool_id)
        .bind(&request.provider_name)
        .bind(sealed)
        .bind(millis(request.created_at))
        .bind(millis(request.expires_at))
        .execute(&self.pool)
        .await;
        map_conflict(inserted)?;
        Ok(())
    }

    /// Consumes the sign-in sent upstream with this state hash, if it is still waiting at
    /// `now`: the conditional update is what makes a state usable once, even when the same
    /// callback arrives twice at once.
    pub async fn take_federation_request(
        &self,
        state_hash: &str,
        now: SystemTime,
    ) -> Result<Option<FederationRequest>, StoreError> {
        let consumed = {
            let _guard = self.write_guard().await;
            sqlx::query(
                "UPDATE federation_requests SET consumed_at = $1 WHERE state_hash = $2 AND consumed_at IS NULL AND expires_at > $1",
            )
            .bind(millis(now))
            .bind(state_hash)
            .execute(&self.pool)
            .await?
            .rows_affected()
        };
        if consumed != 1 {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT pool_id, provider_name, sealed_request, created_at, expires_at FROM federation_requests WHERE state_hash = $1",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let sealed: Vec<u8> = row.try_get("sealed_request")?;
        let text = self.open_text(&request_context(state_hash), &sealed)?;
        Ok(Some(FederationRequest {
            state_hash: state_hash.to_owned(),
            pool_id: row.try_get("pool_id")?,
            provider_name: row.try_get("provider_name")?,
            request: serde_json::from_str(&text)
                .map_err(|_| StoreError::Corrupt("federation request".into()))?,
            created_at: from_millis(row.try_get("created_at")?),
            expires_at: from_millis(row.try_get("expires_at")?),
        }))
    }

    /// Records a SAML assertion as accepted until `expires_at`. False when it already was:
    /// the insert is the check, so two posts of one assertion at once cannot both pass.
    pub async fn record_saml_assertion(
        &self,
        pool_id: &str,
        assertion_id: &str,
        expires_at: SystemTime,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let inserted = sqlx::query(
            "INSERT INTO saml_assertions (pool_id, assertion_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(pool_id)
        .bind(assertion_id)
        .bind(millis(expires_at))
        .execute(&self.pool)
        .await;
        match map_conflict(inserted) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(other) => Err(other),
        }
    }
}

/// An upstream identity linked to a user of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedLink {
    pub pool_id: String,
    pub provider_name: String,
    /// `Cognito_Subject`, or the name of a mapped attribute.
    pub attribute_name: String,
    pub attribute_value: String,
    pub username_key: String,
    pub created_at: SystemTime,
}

fn link_from_row(row: &sqlx::any::AnyRow) -> Result<FederatedLink, StoreError> {
    Ok(FederatedLink {
        pool_id: row.try_get("pool_id")?,
        provider_name: row.try_get("provider_name")?,
        attribute_name: row.try_get("attribute_name")?,
        attribute_value: row.try_get("attribute_value")?,
        username_key: row.try_get("username_key")?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

const LINK_COLUMNS: &str =
    "pool_id, provider_name, attribute_name, attribute_value, username_key, created_at";

impl Store {
    /// Links an upstream identity to a user, if the user has fewer than `limit` links: the
    /// count and the insert are one transaction, so two links at once cannot both pass the
    /// limit. False when the user is at the limit; [`StoreError::Conflict`] when the
    /// identity is already linked.
    pub async fn insert_federated_link(
        &self,
        link: &FederatedLink,
        limit: i64,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        if self.backend() == crate::Backend::Postgres {
            // Serialises links to one user across nodes (SQLite's writer lock does it there).
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(format!("{}:{}", link.pool_id, link.username_key))
                .execute(&mut *tx)
                .await?;
        }
        let count: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM federated_links WHERE pool_id = $1 AND username_key = $2",
        )
        .bind(&link.pool_id)
        .bind(&link.username_key)
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
        if count >= limit {
            tx.rollback().await?;
            return Ok(false);
        }
        let inserted = sqlx::query(&format!(
            "INSERT INTO federated_links ({LINK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&link.pool_id)
        .bind(&link.provider_name)
        .bind(&link.attribute_name)
        .bind(&link.attribute_value)
        .bind(&link.username_key)
        .bind(millis(link.created_at))
        .execute(&mut *tx)
        .await;
        // A refused insert ends its transaction here rather than when the connection is next
        // used: on SQLite the open transaction would hold the write lock meanwhile, and the
        // next write would wait on it (a flaky failure of the conformance suite).
        if let Err(refused) = map_conflict(inserted) {
            tx.rollback().await?;
            return Err(refused);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The link of an upstream identity, if any.
    pub async fn federated_link(
        &self,
        pool_id: &str,
        provider_name: &str,
        attribute_name: &str,
        attribute_value: &str,
    ) -> Result<Option<FederatedLink>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM federated_links WHERE pool_id = $1 AND provider_name = $2 AND attribute_name = $3 AND attribute_value = $4"
        ))
        .bind(pool_id)
        .bind(provider_name)
        .bind(attribute_name)
        .bind(attribute_value)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(link_from_row).transpose()
    }

    /// The attribute names a provider's identities are linked by in the pool.
    pub async fn federated_link_attributes(
        &self,
        pool_id: &str,
        provider_name: &str,
    ) -> Result<Vec<String>, StoreError> {
        sqlx::query(
            "SELECT DISTINCT attribute_name FROM federated_links WHERE pool_id = $1 AND provider_name = $2 ORDER BY attribute_name",
        )
        .bind(pool_id)
        .bind(provider_name)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| Ok(row.try_get("attribute_name")?))
        .collect()
    }

    /// The identities linked to a user.
    pub async fn federated_links_of_user(
        &self,
        pool_id: &str,
        username_key: &str,
    ) -> Result<Vec<FederatedLink>, StoreError> {
        sqlx::query(&format!(
            "SELECT {LINK_COLUMNS} FROM federated_links WHERE pool_id = $1 AND username_key = $2 ORDER BY created_at, provider_name"
        ))
        .bind(pool_id)
        .bind(username_key)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(link_from_row)
        .collect()
    }

    /// Removes the link of an upstream identity; the link removed, if there was one.
    pub async fn delete_federated_link(
        &self,
        pool_id: &str,
        provider_name: &str,
        attribute_name: &str,
        attribute_value: &str,
    ) -> Result<Option<FederatedLink>, StoreError> {
        let Some(link) = self
            .federated_link(pool_id, provider_name, attribute_name, attribute_value)
            .await?
        else {
            return Ok(None);
        };
        let _guard = self.write_guard().await;
        let deleted = sqlx::query(
            "DELETE FROM federated_links WHERE pool_id = $1 AND provider_name = $2 AND attribute_name = $3 AND attribute_value = $4",
        )
        .bind(pool_id)
        .bind(provider_name)
        .bind(attribute_name)
        .bind(attribute_value)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok((deleted == 1).then_some(link))
    }
}

/// A user's last sign-in through a SAML provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlSession {
    pub pool_id: String,
    pub username_key: String,
    pub provider_name: String,
    pub name_id: String,
    pub session_index: Option<String>,
    pub created_at: SystemTime,
}

impl Store {
    /// Records a sign-in through a SAML provider, replacing the user's previous one there.
    pub async fn put_saml_session(&self, session: &SamlSession) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "DELETE FROM saml_sessions WHERE pool_id = $1 AND username_key = $2 AND provider_name = $3",
        )
        .bind(&session.pool_id)
        .bind(&session.username_key)
        .bind(&session.provider_name)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO saml_sessions (pool_id, username_key, provider_name, name_id, session_index, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&session.pool_id)
        .bind(&session.username_key)
        .bind(&session.provider_name)
        .bind(&session.name_id)
        .bind(&session.session_index)
        .bind(millis(session.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The user's SAML sign-ins, newest first.
    pub async fn saml_sessions(
        &self,
        pool_id: &str,
        username_key: &str,
    ) -> Result<Vec<SamlSession>, StoreError> {
        sqlx::query(
            "SELECT provider_name, name_id, session_index, created_at FROM saml_sessions WHERE pool_id = $1 AND username_key = $2 ORDER BY created_at DESC",
        )
        .bind(pool_id)
        .bind(username_key)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(SamlSession {
                pool_id: pool_id.to_owned(),
                username_key: username_key.to_owned(),
                provider_name: row.try_get("provider_name")?,
                name_id: row.try_get("name_id")?,
                session_index: row.try_get("session_index")?,
                created_at: from_millis(row.try_get("created_at")?),
            })
        })
        .collect()
    }

    /// Forgets a user's SAML sign-in at a provider (after single logout).
    pub async fn delete_saml_session(
        &self,
        pool_id: &str,
        username_key: &str,
        provider_name: &str,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(
            "DELETE FROM saml_sessions WHERE pool_id = $1 AND username_key = $2 AND provider_name = $3",
        )
        .bind(pool_id)
        .bind(username_key)
        .bind(provider_name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
