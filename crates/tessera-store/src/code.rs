//! One-time codes and the attempts counted against them.
//!
//! A code row holds the sealed code of one user and purpose; issuing another replaces it.
//! The attempts live apart, in `code_attempts`, so that replacing a code does not reset
//! them: a guess takes a slot before its comparison, and an issue takes one before its
//! message is sent, each with one conditional statement that either takes the slot or finds
//! the cap spent. Concurrent callers therefore never get more slots than the cap, on any
//! node: PostgreSQL locks the row for the upsert, and SQLite's writes are serialised.

use std::time::{Duration, SystemTime};

use sqlx::Row;
use tessera_core::{CodePurpose, OneTimeCode};

use crate::store::{from_millis, millis};
use crate::{Store, StoreError};

/// What an attempt at a code does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeAction {
    /// A guessed code is compared with the stored one.
    Guess,
    /// A code is issued and sent.
    Issue,
}

impl CodeAction {
    fn as_str(self) -> &'static str {
        match self {
            CodeAction::Guess => "guess",
            CodeAction::Issue => "issue",
        }
    }
}

/// At most `cap` attempts in a window of `window` that opens with the first of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptLimit {
    /// Attempts allowed in one window.
    pub cap: u32,
    /// How long a window lasts.
    pub window: Duration,
}

impl Store {
    /// A user's pending code of a purpose, opened.
    pub async fn code(
        &self,
        pool_id: &str,
        key: &str,
        purpose: CodePurpose,
    ) -> Result<Option<OneTimeCode>, StoreError> {
        let row = sqlx::query(
            "SELECT sealed_code, expires_at, pending_value FROM user_codes WHERE pool_id = $1 AND username_key = $2 AND purpose = $3",
        )
        .bind(pool_id)
        .bind(key)
        .bind(purpose.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let sealed: Vec<u8> = row.try_get("sealed_code")?;
            Ok(OneTimeCode {
                purpose,
                code: self.open_text(&OneTimeCode::seal_context(pool_id, key, purpose), &sealed)?,
                expires_at: from_millis(row.try_get("expires_at")?),
                pending_value: row.try_get("pending_value")?,
            })
        })
        .transpose()
    }

    /// Stores a code for a user, replacing the one of the same purpose, without touching the
    /// user row (issuing a code changes nothing a concurrent user write could undo). False
    /// when the user does not exist.
    pub async fn put_code(
        &self,
        pool_id: &str,
        key: &str,
        code: &OneTimeCode,
    ) -> Result<bool, StoreError> {
        let sealed = self.seal_code(pool_id, key, code)?;
        let _guard = self.write_guard().await;
        let written = write_code(&self.pool, pool_id, key, code, sealed).await?;
        Ok(written == 1)
    }

    /// Takes one attempt slot of a user's code purpose: true when taken, false when the cap
    /// of the current window is spent. A window that has passed starts again with this
    /// attempt.
    pub async fn take_code_attempt(
        &self,
        pool_id: &str,
        key: &str,
        purpose: CodePurpose,
        action: CodeAction,
        limit: AttemptLimit,
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        if limit.cap == 0 {
            return Ok(false);
        }
        let now_ms = millis(now);
        let window_ms = i64::try_from(limit.window.as_millis()).unwrap_or(i64::MAX);
        let expired_before = now_ms.saturating_sub(window_ms);
        let _guard = self.write_guard().await;
        // One statement decides and counts: the upsert locks the row (PostgreSQL) or runs
        // under the process's write lock (SQLite), so no two callers see the same count.
        let row = sqlx::query(
            "INSERT INTO code_attempts (pool_id, username_key, purpose, action, used, window_started_at) VALUES ($1, $2, $3, $4, 1, $5) \
             ON CONFLICT (pool_id, username_key, purpose, action) DO UPDATE SET \
             used = CASE WHEN code_attempts.window_started_at <= $6 THEN 1 ELSE code_attempts.used + 1 END, \
             window_started_at = CASE WHEN code_attempts.window_started_at <= $6 THEN $5 ELSE code_attempts.window_started_at END \
             WHERE code_attempts.window_started_at <= $6 OR code_attempts.used < $7 \
             RETURNING used",
        )
        .bind(pool_id)
        .bind(key)
        .bind(purpose.as_str())
        .bind(action.as_str())
        .bind(now_ms)
        .bind(expired_before)
        .bind(i64::from(limit.cap))
        .fetch_optional(&self.transient)
        .await?;
        Ok(row.is_some())
    }

    /// Clears the attempts counted for a user's code purpose and action (the wrong guesses,
    /// once a guess was right).
    pub async fn clear_code_attempts(
        &self,
        pool_id: &str,
        key: &str,
        purpose: CodePurpose,
        action: CodeAction,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(
            "DELETE FROM code_attempts WHERE pool_id = $1 AND username_key = $2 AND purpose = $3 AND action = $4",
        )
        .bind(pool_id)
        .bind(key)
        .bind(purpose.as_str())
        .bind(action.as_str())
        .execute(&self.transient)
        .await?;
        Ok(())
    }

    pub(crate) fn seal_code(
        &self,
        pool_id: &str,
        key: &str,
        code: &OneTimeCode,
    ) -> Result<Vec<u8>, StoreError> {
        self.seal(
            &OneTimeCode::seal_context(pool_id, key, code.purpose),
            code.code.as_bytes(),
        )
    }
}

/// Writes a code row for an existing user (the user row may be part of the same
/// transaction), replacing the one of the same purpose; returns the rows written.
pub(crate) async fn write_code<'e, E>(
    executor: E,
    pool_id: &str,
    key: &str,
    code: &OneTimeCode,
    sealed: Vec<u8>,
) -> Result<u64, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    // INSERT … SELECT writes nothing for a user that is gone; the WHERE clause also keeps
    // SQLite from reading ON CONFLICT as a join constraint.
    let written = sqlx::query(
        "INSERT INTO user_codes (pool_id, username_key, purpose, sealed_code, expires_at, pending_value) \
         SELECT pool_id, username_key, $3, $4, $5, $6 FROM users WHERE pool_id = $1 AND username_key = $2 \
         ON CONFLICT (pool_id, username_key, purpose) DO UPDATE SET \
         sealed_code = excluded.sealed_code, expires_at = excluded.expires_at, pending_value = excluded.pending_value",
    )
    .bind(pool_id)
    .bind(key)
    .bind(code.purpose.as_str())
    .bind(sealed)
    .bind(millis(code.expires_at))
    .bind(code.pending_value.clone())
    .execute(executor)
    .await?;
    Ok(written.rows_affected())
}

/// Deletes codes of a user that were used or voided. The attempts counted against them
/// stay: a code voided by a change of address must not become a way to reset the count.
pub(crate) async fn consume_codes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    pool_id: &str,
    key: &str,
    purposes: &[CodePurpose],
) -> Result<(), StoreError> {
    for purpose in purposes {
        sqlx::query(
            "DELETE FROM user_codes WHERE pool_id = $1 AND username_key = $2 AND purpose = $3",
        )
        .bind(pool_id)
        .bind(key)
        .bind(purpose.as_str())
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
