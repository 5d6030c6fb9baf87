//! Request-rate windows shared by every node, and the provisioned rates (issue 16).

use sqlx::Row;

use crate::{Store, StoreError};

impl Store {
    /// Adds `asked` requests to the window `window_start` (a second) of `scope` and answers
    /// the window's count after the addition: one statement, so nodes leasing at once each
    /// see their own addition. The counts are transient state (see `Store::connect`).
    pub async fn lease_rate(
        &self,
        scope: &str,
        window_start: i64,
        asked: u32,
    ) -> Result<u64, StoreError> {
        let _guard = self.write_guard().await;
        let row = sqlx::query(
            "INSERT INTO rate_windows (scope, window_start, used) VALUES ($1, $2, $3) \
             ON CONFLICT (scope, window_start) DO UPDATE SET used = rate_windows.used + $3 \
             RETURNING used",
        )
        .bind(scope)
        .bind(window_start)
        .bind(i64::from(asked))
        .fetch_one(&self.transient)
        .await?;
        Ok(u64::try_from(row.try_get::<i64, _>("used")?).unwrap_or(0))
    }

    /// The rate UpdateProvisionedLimit set for a category in a region, if any.
    pub async fn provisioned_rate(
        &self,
        region: &str,
        category: &str,
    ) -> Result<Option<u32>, StoreError> {
        let row =
            sqlx::query("SELECT rate FROM provisioned_limits WHERE region = $1 AND category = $2")
                .bind(region)
                .bind(category)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| {
            let rate: i64 = row.try_get("rate")?;
            Ok(u32::try_from(rate).unwrap_or(u32::MAX))
        })
        .transpose()
    }

    /// Sets the rate of a category in a region.
    pub async fn set_provisioned_rate(
        &self,
        region: &str,
        category: &str,
        rate: u32,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(
            "INSERT INTO provisioned_limits (region, category, rate) VALUES ($1, $2, $3) \
             ON CONFLICT (region, category) DO UPDATE SET rate = $3",
        )
        .bind(region)
        .bind(category)
        .bind(i64::from(rate))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
