//! Request-rate windows shared by every node, and the provisioned rates (issue 16).

use sqlx::Row;

use crate::{Store, StoreError};

/// How long a window's count is kept in Redis: its own second and a little more, for nodes
/// whose clocks are a moment behind.
const REDIS_WINDOW_TTL_SECONDS: i64 = 5;

impl Store {
    /// Counts request-rate windows in Redis rather than in the database (issue 16: a rate
    /// limiter shared through Redis when configured). The connection is made here, and
    /// re-made by the connection manager when it drops; while Redis cannot be reached the
    /// windows are counted in the database, which every node shares too.
    /// Keys start with `prefix` (`tessera` by default), so that installations sharing one
    /// Redis count apart.
    pub async fn with_redis_rate_windows(
        mut self,
        url: &str,
        prefix: &str,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::Redis(e.to_string()))?;
        let manager = client
            .get_connection_manager()
            .await
            .map_err(|e| StoreError::Redis(e.to_string()))?;
        self.rate_redis = Some((manager, prefix.into()));
        Ok(self)
    }

    /// Adds `asked` requests to the window `window_start` (a second) of `scope` and answers
    /// the window's count after the addition: one atomic step, so nodes leasing at once each
    /// see their own addition. In Redis when configured (INCRBY and EXPIRE in one MULTI),
    /// else in the database, where the counts are transient state (see `Store::connect`).
    pub async fn lease_rate(
        &self,
        scope: &str,
        window_start: i64,
        asked: u32,
    ) -> Result<u64, StoreError> {
        if let Some((redis, prefix)) = &self.rate_redis {
            let key = format!("{prefix}:rate:{window_start}:{scope}");
            let counted: Result<(i64,), redis::RedisError> = redis::pipe()
                .atomic()
                .incr(&key, i64::from(asked))
                .expire(&key, REDIS_WINDOW_TTL_SECONDS)
                .ignore()
                .query_async(&mut redis.clone())
                .await;
            match counted {
                Ok((used,)) => return Ok(u64::try_from(used).unwrap_or(0)),
                Err(error) => {
                    tracing::warn!(%error, "counting a rate window in Redis; counting it in the database");
                }
            }
        }
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
