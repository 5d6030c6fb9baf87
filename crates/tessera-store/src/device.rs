//! Tracked devices (issue 13): issued at sign-in, confirmed with a sealed SRP verifier,
//! remembered or not, listed and forgotten.

use std::time::SystemTime;

use sqlx::any::AnyRow;
use sqlx::Row;
use tessera_core::Device;

use crate::store::{from_millis, millis};
use crate::user::{srp_from_plaintext, srp_plaintext};
use crate::{Store, StoreError};

const DEVICE_COLUMNS: &str = "pool_id, device_key, username_key, group_key, sealed_verifier, name, remembered, created_at, last_modified_at, last_authenticated_at";

fn device_from_row(store: &Store, row: &AnyRow) -> Result<Device, StoreError> {
    let pool_id: String = row.try_get("pool_id")?;
    let device_key: String = row.try_get("device_key")?;
    let username_key: String = row.try_get("username_key")?;
    let verifier = match row.try_get::<Option<Vec<u8>>, _>("sealed_verifier")? {
        Some(sealed) => Some(srp_from_plaintext(&store.open(
            &Device::seal_context(&pool_id, &username_key, &device_key),
            &sealed,
        )?)?),
        None => None,
    };
    Ok(Device {
        group_key: row.try_get("group_key")?,
        verifier,
        name: row.try_get("name")?,
        remembered: row.try_get::<i64, _>("remembered")? != 0,
        created_at: from_millis(row.try_get("created_at")?),
        last_modified_at: from_millis(row.try_get("last_modified_at")?),
        last_authenticated_at: from_millis(row.try_get("last_authenticated_at")?),
        pool_id,
        device_key,
        username_key,
    })
}

impl Store {
    /// Records a device issued at sign-in (not yet confirmed).
    pub async fn insert_device(&self, device: &Device) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(&format!(
            "INSERT INTO devices ({DEVICE_COLUMNS}) VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9)"
        ))
        .bind(&device.pool_id)
        .bind(&device.device_key)
        .bind(&device.username_key)
        .bind(&device.group_key)
        .bind(device.name.clone())
        .bind(i64::from(device.remembered))
        .bind(millis(device.created_at))
        .bind(millis(device.last_modified_at))
        .bind(millis(device.last_authenticated_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A device of a user.
    pub async fn device(
        &self,
        pool_id: &str,
        username_key: &str,
        device_key: &str,
    ) -> Result<Option<Device>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE pool_id = $1 AND device_key = $2 AND username_key = $3"
        ))
        .bind(pool_id)
        .bind(device_key)
        .bind(username_key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| device_from_row(self, &row)).transpose()
    }

    /// Up to `limit` devices of a user with keys after `after`, in key order; only the
    /// confirmed ones when `confirmed_only` (the ones ListDevices shows).
    pub async fn devices(
        &self,
        pool_id: &str,
        username_key: &str,
        after: &str,
        limit: i64,
        confirmed_only: bool,
    ) -> Result<Vec<Device>, StoreError> {
        let confirmed = if confirmed_only {
            " AND sealed_verifier IS NOT NULL"
        } else {
            ""
        };
        let rows = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE pool_id = $1 AND username_key = $2 AND device_key > $3{confirmed} ORDER BY device_key LIMIT $4"
        ))
        .bind(pool_id)
        .bind(username_key)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| device_from_row(self, row)).collect()
    }

    /// ConfirmDevice: stores the verifier, name and remembered status of an issued device that
    /// has no verifier yet, in one conditional statement. False when the device is not the
    /// user's, or was confirmed before.
    pub async fn confirm_device(&self, device: &Device) -> Result<bool, StoreError> {
        let Some(verifier) = &device.verifier else {
            return Ok(false);
        };
        let sealed = self.seal(
            &Device::seal_context(&device.pool_id, &device.username_key, &device.device_key),
            &srp_plaintext(verifier),
        )?;
        let _guard = self.write_guard().await;
        let updated = sqlx::query(
            "UPDATE devices SET sealed_verifier = $1, name = $2, remembered = $3, last_modified_at = $4 WHERE pool_id = $5 AND device_key = $6 AND username_key = $7 AND sealed_verifier IS NULL",
        )
        .bind(sealed)
        .bind(device.name.clone())
        .bind(i64::from(device.remembered))
        .bind(millis(device.last_modified_at))
        .bind(&device.pool_id)
        .bind(&device.device_key)
        .bind(&device.username_key)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// UpdateDeviceStatus. False when the device is not the user's.
    pub async fn set_device_remembered(
        &self,
        pool_id: &str,
        username_key: &str,
        device_key: &str,
        remembered: bool,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let updated = sqlx::query(
            "UPDATE devices SET remembered = $1, last_modified_at = $2 WHERE pool_id = $3 AND device_key = $4 AND username_key = $5",
        )
        .bind(i64::from(remembered))
        .bind(millis(now))
        .bind(pool_id)
        .bind(device_key)
        .bind(username_key)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Notes a sign-in that proved the device.
    pub async fn device_authenticated(
        &self,
        pool_id: &str,
        username_key: &str,
        device_key: &str,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(
            "UPDATE devices SET last_authenticated_at = $1 WHERE pool_id = $2 AND device_key = $3 AND username_key = $4",
        )
        .bind(millis(now))
        .bind(pool_id)
        .bind(device_key)
        .bind(username_key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// ForgetDevice: the device goes, and with it every refresh token issued to it, in one
    /// transaction. False when the device is not the user's.
    pub async fn delete_device(
        &self,
        pool_id: &str,
        username_key: &str,
        device_key: &str,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query(
            "DELETE FROM devices WHERE pool_id = $1 AND device_key = $2 AND username_key = $3",
        )
        .bind(pool_id)
        .bind(device_key)
        .bind(username_key)
        .execute(&mut *tx)
        .await?;
        // The refresh tokens go; the access tokens already issued live out their hour, as
        // Cognito's do ("all future calls to revalidate that device's refresh tokens will
        // fail"), since clients call ForgetDevice with the device's own access token and go
        // on using it.
        sqlx::query(
            "DELETE FROM refresh_tokens WHERE pool_id = $1 AND username_key = $2 AND device_key = $3",
        )
        .bind(pool_id)
        .bind(username_key)
        .bind(device_key)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(deleted.rows_affected() == 1)
    }
}
