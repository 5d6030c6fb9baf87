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

fn signing_key_context(pool_id: &str) -> String {
    format!("saml-signing-key:{pool_id}")
}

fn request_context(state_hash: &str) -> String {
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
