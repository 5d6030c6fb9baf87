//! Users' authentication events (issue 16), for AdminListUserAuthEvents.

use std::time::SystemTime;

use sqlx::Row;

use crate::store::{from_millis, millis};
use crate::{Store, StoreError};

/// One authentication event of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEvent {
    pub pool_id: String,
    pub username_key: String,
    pub event_id: String,
    /// `SignIn`, `SignUp`, `ForgotPassword`, `PasswordChange`, `ResendCode`.
    pub event_type: String,
    pub created_at: SystemTime,
    /// `Pass`, `Fail` or `InProgress`.
    pub response: String,
    /// The challenges answered, as Cognito's `ChallengeResponses` JSON array.
    pub challenges: String,
    /// `Valid` or `Invalid`, with who said so and when.
    pub feedback: Option<(String, String, SystemTime)>,
}

const COLUMNS: &str = "pool_id, username_key, event_id, event_type, created_at, response, challenges, feedback_value, feedback_provider, feedback_at";

fn event_from_row(row: &sqlx::any::AnyRow) -> Result<AuthEvent, StoreError> {
    let value: Option<String> = row.try_get("feedback_value")?;
    let provider: Option<String> = row.try_get("feedback_provider")?;
    let at: Option<i64> = row.try_get("feedback_at")?;
    Ok(AuthEvent {
        pool_id: row.try_get("pool_id")?,
        username_key: row.try_get("username_key")?,
        event_id: row.try_get("event_id")?,
        event_type: row.try_get("event_type")?,
        created_at: from_millis(row.try_get("created_at")?),
        response: row.try_get("response")?,
        challenges: row.try_get("challenges")?,
        feedback: match (value, provider, at) {
            (Some(value), Some(provider), Some(at)) => Some((value, provider, from_millis(at))),
            _ => None,
        },
    })
}

impl Store {
    /// Records an event.
    pub async fn insert_auth_event(&self, event: &AuthEvent) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(&format!(
            "INSERT INTO auth_events ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, NULL)"
        ))
        .bind(&event.pool_id)
        .bind(&event.username_key)
        .bind(&event.event_id)
        .bind(&event.event_type)
        .bind(millis(event.created_at))
        .bind(&event.response)
        .bind(&event.challenges)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A user's events, newest first, up to `limit`, after the cursor `(created_at ms,
    /// event id)` of the last one of the previous page.
    pub async fn auth_events(
        &self,
        pool_id: &str,
        username_key: &str,
        after: Option<(i64, &str)>,
        limit: u32,
    ) -> Result<Vec<AuthEvent>, StoreError> {
        let (at, id) = after.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM auth_events WHERE pool_id = $1 AND username_key = $2 AND (created_at < $3 OR (created_at = $3 AND event_id < $4) OR $5 = 1) ORDER BY created_at DESC, event_id DESC LIMIT $6"
        ))
        .bind(pool_id)
        .bind(username_key)
        .bind(at)
        .bind(id)
        .bind(i64::from(after.is_none()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Records feedback on an event; false when the user has no such event.
    pub async fn set_auth_event_feedback(
        &self,
        pool_id: &str,
        username_key: &str,
        event_id: &str,
        (value, provider, at): (&str, &str, SystemTime),
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let updated = sqlx::query(
            "UPDATE auth_events SET feedback_value = $1, feedback_provider = $2, feedback_at = $3 WHERE pool_id = $4 AND username_key = $5 AND event_id = $6",
        )
        .bind(value)
        .bind(provider)
        .bind(millis(at))
        .bind(pool_id)
        .bind(username_key)
        .bind(event_id)
        .execute(&self.pool)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Deletes events older than `before` (the retention period).
    pub async fn sweep_auth_events(&self, before: SystemTime) -> Result<u64, StoreError> {
        let _guard = self.write_guard().await;
        Ok(sqlx::query("DELETE FROM auth_events WHERE created_at < $1")
            .bind(millis(before))
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
