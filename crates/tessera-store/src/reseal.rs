//! Master-key rotation (issue 16): every sealed value sealed again under the current master
//! key, online.
//!
//! A rotation is a key ring. Each node first runs with the new key as its master key and the
//! old one among its previous keys (`MasterKey::with_previous`): it seals with the new key
//! and still opens what the old one sealed. Then [`Store::reseal`] seals every value the old
//! key sealed again under the new one, while the nodes serve. Once it reports nothing left,
//! the old key can be forgotten.
//!
//! Each value is replaced only if it is still the one read (compare-and-set on the sealed
//! bytes), so a write that landed in between (a new password, a new secret) is never undone;
//! that write sealed under the current key already.

use sqlx::Row;
use tessera_core::{
    AccessKey, AppClient, CodePurpose, Device, IdentityProvider, OneTimeCode, SigningKey, UserMfa,
};

use crate::{Store, StoreError};

/// One sealed column: its table, the columns that name a row, and the context the value is
/// bound to, built from those columns' values by the same function that seals it.
struct Sealed {
    table: &'static str,
    keys: &'static [&'static str],
    column: &'static str,
    context: fn(&[String]) -> String,
}

/// Every sealed column of the schema. A test keeps this list complete: it fails on a
/// `sealed_` column of any migration that is not here.
const SEALED: &[Sealed] = &[
    Sealed {
        table: "access_keys",
        keys: &["id"],
        column: "sealed_secret",
        context: |k| AccessKey::seal_context(&k[0]),
    },
    Sealed {
        table: "signing_keys",
        keys: &["pool_id", "kid"],
        column: "sealed_private_key",
        context: |k| SigningKey::seal_context(&k[0], &k[1]),
    },
    Sealed {
        table: "app_clients",
        keys: &["client_id"],
        column: "sealed_secret",
        context: |k| AppClient::seal_context(&k[0]),
    },
    Sealed {
        table: "user_codes",
        keys: &["pool_id", "username_key", "purpose"],
        column: "sealed_code",
        context: |k| {
            CodePurpose::parse(&k[2])
                .map(|purpose| OneTimeCode::seal_context(&k[0], &k[1], purpose))
                .unwrap_or_default()
        },
    },
    Sealed {
        table: "users",
        keys: &["pool_id", "username_key"],
        column: "sealed_srp",
        context: |k| crate::user::srp_context(&k[0], &k[1]),
    },
    Sealed {
        table: "users",
        keys: &["pool_id", "username_key"],
        column: "sealed_totp",
        context: |k| UserMfa::seal_context(&k[0], &k[1]),
    },
    // The point-in-time-recovery journal keeps users' rows as they were (migration 0020).
    Sealed {
        table: "users_history",
        keys: &["pool_id", "username_key"],
        column: "sealed_srp",
        context: |k| crate::user::srp_context(&k[0], &k[1]),
    },
    Sealed {
        table: "users_history",
        keys: &["pool_id", "username_key"],
        column: "sealed_totp",
        context: |k| UserMfa::seal_context(&k[0], &k[1]),
    },
    Sealed {
        table: "auth_sessions",
        keys: &["session_hash"],
        column: "sealed_state",
        context: |k| crate::token::auth_session_context(&k[0]),
    },
    Sealed {
        table: "devices",
        keys: &["pool_id", "username_key", "device_key"],
        column: "sealed_verifier",
        context: |k| Device::seal_context(&k[0], &k[1], &k[2]),
    },
    Sealed {
        table: "identity_signing_keys",
        keys: &["kid"],
        column: "sealed_private_key",
        context: |k| crate::identity::key_context(&k[0]),
    },
    Sealed {
        table: "identity_providers",
        keys: &["pool_id", "name"],
        column: "sealed_details",
        context: |k| IdentityProvider::seal_context(&k[0], &k[1]),
    },
    Sealed {
        table: "saml_signing_keys",
        keys: &["pool_id"],
        column: "sealed_private_key",
        context: |k| crate::federation::signing_key_context(&k[0]),
    },
    Sealed {
        table: "federation_requests",
        keys: &["state_hash"],
        column: "sealed_request",
        context: |k| crate::federation::request_context(&k[0]),
    },
    Sealed {
        table: "user_import_jobs",
        keys: &["pool_id", "job_id"],
        column: "sealed_csv",
        context: |k| crate::import_job::csv_context(&k[1]),
    },
];

/// What a re-seal did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Resealed {
    /// Values sealed again under the current key.
    pub resealed: u64,
    /// Values that opened with the current key already.
    pub current: u64,
    /// Values no key opens (corrupt, or sealed by a key not given): left as they are.
    pub unreadable: u64,
}

/// The sealed tables and columns [`Store::reseal`] covers, for the completeness test.
pub fn sealed_columns() -> Vec<(&'static str, &'static str)> {
    SEALED.iter().map(|s| (s.table, s.column)).collect()
}

impl Store {
    /// Seals every value a previous master key sealed again under the current one (see the
    /// module documentation). Safe to run while the server serves, and again: a second run
    /// finds nothing to do.
    pub async fn reseal(&self) -> Result<Resealed, StoreError> {
        let mut report = Resealed::default();
        for sealed in SEALED {
            let keys = sealed.keys.join(", ");
            let rows = sqlx::query(&format!(
                "SELECT {keys}, {column} FROM {table} WHERE {column} IS NOT NULL",
                column = sealed.column,
                table = sealed.table
            ))
            .fetch_all(&self.pool)
            .await?;
            for row in rows {
                let values = sealed
                    .keys
                    .iter()
                    .map(|key| row.try_get::<String, _>(*key))
                    .collect::<Result<Vec<_>, _>>()?;
                let old: Vec<u8> = row.try_get(sealed.column)?;
                let context = (sealed.context)(&values);
                if self.master_key.opens_without_previous(&context, &old) {
                    report.current += 1;
                    continue;
                }
                let Ok(plaintext) = self.open(&context, &old) else {
                    report.unreadable += 1;
                    continue;
                };
                let new = self.seal(&context, &plaintext)?;
                let matches: Vec<String> = sealed
                    .keys
                    .iter()
                    .enumerate()
                    .map(|(i, key)| format!("{key} = ${}", i + 3))
                    .collect();
                let sql = format!(
                    "UPDATE {table} SET {column} = $1 WHERE {column} = $2 AND {}",
                    matches.join(" AND "),
                    table = sealed.table,
                    column = sealed.column
                );
                let mut query = sqlx::query(&sql).bind(new).bind(old);
                for value in &values {
                    query = query.bind(value.clone());
                }
                let _guard = self.write_guard().await;
                // A journal holds the same sealed value in several entries of one user: one
                // statement seals them all, and the later rows read find nothing left.
                report.resealed += query.execute(&self.pool).await?.rows_affected();
            }
        }
        Ok(report)
    }
}
