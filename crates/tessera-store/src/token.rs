//! Refresh tokens, challenge sessions and token revocation.

use std::time::SystemTime;

use sqlx::any::AnyRow;
use sqlx::Row;

use tessera_core::lockout::{lockout, Attempt, FREE_FAILURES, LOCKOUT_MAX};

use crate::store::{from_millis, millis};
use crate::{Store, StoreError};

/// The AEAD context of a challenge session's state: bound to its row.
pub(crate) fn auth_session_context(session_hash: &str) -> String {
    format!("auth-session:{session_hash}")
}

/// The `revoked` column: 0 active, 1 revoked (the session is over), 2 replaced by rotation.
const REVOKED: i64 = 1;
const ROTATED: i64 = 2;

/// A stored refresh token. The token itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// The pool.
    pub pool_id: String,
    /// The user's lookup key.
    pub username_key: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The sign-in session it belongs to.
    pub origin_jti: String,
    /// When the user authenticated.
    pub auth_time: SystemTime,
    /// When it stops working.
    pub expires_at: SystemTime,
    /// When it was issued.
    pub created_at: SystemTime,
    /// Revoked by RevokeToken or sign-out: its whole sign-in session is over.
    pub revoked: bool,
    /// Replaced by a newer refresh token of the same session (rotation); the session goes on.
    pub rotated: bool,
    /// The scopes granted at the OAuth endpoints (space-separated); `None` for the API
    /// sign-in flows, whose tokens carry `aws.cognito.signin.user.admin`.
    pub scope: Option<String>,
    /// The tracked device it was issued to (issue 13): forgetting the device ends it.
    pub device_key: Option<String>,
}

/// A pending challenge (NEW_PASSWORD_REQUIRED, PASSWORD_VERIFIER, …), single use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSession {
    /// SHA-256 of the opaque Session value, hex.
    pub session_hash: String,
    /// The pool.
    pub pool_id: String,
    /// The user's lookup key.
    pub username_key: String,
    /// The client that started the sign-in.
    pub client_id: String,
    /// The challenge name.
    pub challenge: String,
    /// Challenge state (JSON), e.g. the SRP server secret.
    pub state: String,
    /// When the session stops working.
    pub expires_at: SystemTime,
}

fn refresh_from_row(row: &AnyRow) -> Result<RefreshRecord, StoreError> {
    Ok(RefreshRecord {
        token_hash: row.try_get("token_hash")?,
        pool_id: row.try_get("pool_id")?,
        username_key: row.try_get("username_key")?,
        client_id: row.try_get("client_id")?,
        origin_jti: row.try_get("origin_jti")?,
        auth_time: from_millis(row.try_get("auth_time")?),
        expires_at: from_millis(row.try_get("expires_at")?),
        created_at: from_millis(row.try_get("created_at")?),
        revoked: row.try_get::<i64, _>("revoked")? == REVOKED,
        rotated: row.try_get::<i64, _>("revoked")? == ROTATED,
        scope: row.try_get("scope")?,
        device_key: row.try_get("device_key")?,
    })
}

impl Store {
    /// Stores a refresh token; when `replaces` names another one, that one is marked rotated
    /// in the same transaction. False (and nothing stored) when the one it replaces was no
    /// longer live: two refreshes with one token raced, or a revocation came first.
    pub async fn insert_refresh_token(
        &self,
        record: &RefreshRecord,
        replaces: Option<&str>,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        if let Some(old) = replaces {
            let rotated = sqlx::query(
                "UPDATE refresh_tokens SET revoked = $1 WHERE token_hash = $2 AND revoked = 0",
            )
            .bind(ROTATED)
            .bind(old)
            .execute(&mut *tx)
            .await?;
            if rotated.rows_affected() != 1 {
                return Ok(false);
            }
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, pool_id, username_key, client_id, origin_jti, auth_time, expires_at, created_at, revoked, scope, device_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&record.token_hash)
        .bind(&record.pool_id)
        .bind(&record.username_key)
        .bind(&record.client_id)
        .bind(&record.origin_jti)
        .bind(millis(record.auth_time))
        .bind(millis(record.expires_at))
        .bind(millis(record.created_at))
        .bind(if record.revoked { REVOKED } else if record.rotated { ROTATED } else { 0 })
        .bind(record.scope.clone())
        .bind(record.device_key.clone())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if record.revoked {
            if let Some(cache) = &self.cache {
                cache.invalidate().live_origins.retain(|_, ()| false);
            }
        }
        Ok(true)
    }

    /// The refresh token with this hash.
    pub async fn refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(refresh_from_row).transpose()
    }

    /// Revokes one refresh token (and so every token of its sign-in session).
    pub async fn revoke_refresh_token(&self, token_hash: &str) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        if let Some(cache) = &self.cache {
            cache.invalidate().live_origins.retain(|_, ()| false);
        }
        Ok(())
    }

    /// Ends the sign-in session `origin_jti`: every refresh token of it is revoked, and with
    /// them the access tokens issued in it. Used when a rotated refresh token or an
    /// authorization code is used twice (RFC 9700 §4.14.2, RFC 6749 §4.1.2).
    pub async fn revoke_origin(&self, origin_jti: &str) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query("UPDATE refresh_tokens SET revoked = 1 WHERE origin_jti = $1")
            .bind(origin_jti)
            .execute(&self.pool)
            .await?;
        if let Some(cache) = &self.cache {
            cache.invalidate().live_origins.retain(|_, ()| false);
        }
        Ok(())
    }

    /// True when the sign-in session `origin_jti` was revoked.
    pub async fn origin_revoked(&self, origin_jti: &str) -> Result<bool, StoreError> {
        let stamp = match self.serving_cache() {
            Some(cache) if cache.live_origins.get(origin_jti).is_some() => return Ok(false),
            Some(cache) => Some(cache.stamp()),
            None => None,
        };
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM refresh_tokens WHERE origin_jti = $1 AND revoked = 1",
        )
        .bind(origin_jti)
        .fetch_one(&self.pool)
        .await?;
        let revoked = row.try_get::<i64, _>("n")? > 0;
        if let (Some(cache), Some(stamp), false) = (&self.cache, stamp, revoked) {
            cache.put(&cache.live_origins, stamp, origin_jti.to_owned(), ());
        }
        Ok(revoked)
    }

    /// Signs a user out everywhere: every refresh token, and with it every sign-in session
    /// and the access tokens issued in it, is revoked, and so is every browser sign-in.
    pub async fn revoke_user_tokens(
        &self,
        pool_id: &str,
        username_key: &str,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        // The hosted pages' single sign-on ends too: a signed-out user signs in again.
        let mut tx = self.pool.begin().await?;
        for table in ["refresh_tokens", "login_sessions"] {
            sqlx::query(&format!(
                "UPDATE {table} SET revoked = 1 WHERE pool_id = $1 AND username_key = $2"
            ))
            .bind(pool_id)
            .bind(username_key)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if let Some(cache) = &self.cache {
            cache.invalidate().live_origins.retain(|_, ()| false);
        }
        Ok(())
    }

    /// Stores a challenge session, its state sealed and bound to the session hash.
    pub async fn insert_auth_session(&self, session: &AuthSession) -> Result<(), StoreError> {
        let sealed = self.seal(
            &auth_session_context(&session.session_hash),
            session.state.as_bytes(),
        )?;
        let _guard = self.write_guard().await;
        sqlx::query(
            "INSERT INTO auth_sessions (session_hash, pool_id, username_key, client_id, challenge, sealed_state, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&session.session_hash)
        .bind(&session.pool_id)
        .bind(&session.username_key)
        .bind(&session.client_id)
        .bind(&session.challenge)
        .bind(sealed)
        .bind(millis(session.expires_at))
        .execute(&self.transient)
        .await?;
        Ok(())
    }

    /// Removes and returns a challenge session: a session answers one challenge only.
    pub async fn take_auth_session(
        &self,
        session_hash: &str,
    ) -> Result<Option<AuthSession>, StoreError> {
        let _guard = self.write_guard().await;
        // One statement takes the row: of two nodes deleting it at once, only the one whose
        // delete removed it gets it back.
        let row = sqlx::query("DELETE FROM auth_sessions WHERE session_hash = $1 RETURNING *")
            .bind(session_hash)
            .fetch_optional(&self.transient)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let session_hash: String = row.try_get("session_hash")?;
        let sealed: Vec<u8> = row.try_get("sealed_state")?;
        Ok(Some(AuthSession {
            state: self.open_text(&auth_session_context(&session_hash), &sealed)?,
            session_hash,
            pool_id: row.try_get("pool_id")?,
            username_key: row.try_get("username_key")?,
            client_id: row.try_get("client_id")?,
            challenge: row.try_get("challenge")?,
            expires_at: from_millis(row.try_get("expires_at")?),
        }))
    }

    /// A user's consecutive failed sign-ins and the time of the last one.
    pub async fn sign_in_failures(
        &self,
        pool_id: &str,
        username_key: &str,
    ) -> Result<Option<(u32, SystemTime)>, StoreError> {
        let row = sqlx::query("SELECT failures, last_failure_at FROM sign_in_failures WHERE pool_id = $1 AND username_key = $2")
            .bind(pool_id)
            .bind(username_key)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok((
                u32::try_from(row.try_get::<i64, _>("failures")?).unwrap_or(u32::MAX),
                from_millis(row.try_get("last_failure_at")?),
            ))
        })
        .transpose()
    }

    /// Counts a sign-in attempt as a failure before its credential is checked, deciding
    /// from the failures before it whether it may be checked at all, as
    /// `tessera_core::lockout::Attempt::decide` does (the store test
    /// `claims_follow_the_lockout_schedule` holds the two together). The decision and the
    /// count are one statement, an upsert whose update only happens when the attempt is not
    /// locked: the row is held while it runs, so every concurrent attempt sees the others
    /// (N parallel wrong passwords count N), and a locked attempt writes nothing and returns
    /// no row. The caller clears the count with [`Store::clear_sign_in_failures`] when the
    /// credential proves right.
    pub async fn claim_sign_in_attempt(
        &self,
        pool_id: &str,
        username_key: &str,
        now: SystemTime,
    ) -> Result<Attempt, StoreError> {
        let forgotten = now
            .checked_sub(LOCKOUT_MAX)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let _guard = self.write_guard().await;
        let row = sqlx::query(claim_sql())
            .bind(pool_id)
            .bind(username_key)
            .bind(millis(now))
            .bind(millis(forgotten))
            .fetch_optional(&self.transient)
            .await?;
        let Some(row) = row else {
            return Ok(Attempt::Locked);
        };
        let failures = u32::try_from(row.try_get::<i64, _>("failures")?).unwrap_or(u32::MAX);
        Ok(Attempt::Allowed {
            prior: failures.saturating_sub(1),
        })
    }

    /// Forgets a user's failed sign-ins (the credential proved right).
    pub async fn clear_sign_in_failures(
        &self,
        pool_id: &str,
        username_key: &str,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query("DELETE FROM sign_in_failures WHERE pool_id = $1 AND username_key = $2")
            .bind(pool_id)
            .bind(username_key)
            .execute(&self.transient)
            .await?;
        Ok(())
    }

    /// Deletes what has outlived its use: expired challenge sessions, authorization codes
    /// and browser sign-in sessions, failure counts older than `forget_failures_after`
    /// (which no longer count), and devices issued at a sign-in more than a day ago that
    /// were never confirmed (clients confirm at once; every sign-in without a device in a
    /// pool that tracks devices is issued one). Nothing live is touched, so any node may sweep at any time.
    pub async fn sweep_expired(
        &self,
        now: SystemTime,
        forget_failures_after: std::time::Duration,
    ) -> Result<u64, StoreError> {
        let now_ms = millis(now);
        let forgotten = millis(
            now.checked_sub(forget_failures_after)
                .unwrap_or(SystemTime::UNIX_EPOCH),
        );
        let mut removed = 0;
        for (sql, bound) in [
            ("DELETE FROM auth_sessions WHERE expires_at < $1", now_ms),
            (
                "DELETE FROM authorization_codes WHERE expires_at < $1",
                now_ms,
            ),
            ("DELETE FROM login_sessions WHERE expires_at < $1", now_ms),
            (
                "DELETE FROM federation_requests WHERE expires_at < $1",
                now_ms,
            ),
            ("DELETE FROM saml_assertions WHERE expires_at < $1", now_ms),
            (
                "DELETE FROM sign_in_failures WHERE last_failure_at < $1",
                forgotten,
            ),
            (
                "DELETE FROM devices WHERE sealed_verifier IS NULL AND created_at < $1",
                now_ms.saturating_sub(UNCONFIRMED_DEVICE_MS),
            ),
            // Rate windows are seconds (in seconds, not milliseconds); a minute old is done.
            (
                "DELETE FROM rate_windows WHERE window_start < $1",
                now_ms / 1000 - 60,
            ),
        ] {
            // One statement per table and per guard, so a sweep never holds SQLite's writer
            // for long.
            let _guard = self.write_guard().await;
            removed += sqlx::query(sql)
                .bind(bound)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(removed)
    }
}

/// How long an issued device waits for ConfirmDevice before the sweep removes it.
const UNCONFIRMED_DEVICE_MS: i64 = 24 * 3600 * 1000;

/// The claim of [`Store::claim_sign_in_attempt`]: `$1` pool, `$2` username key, `$3` now and
/// `$4` the time before which failures are forgotten (both in milliseconds). A failure the
/// row holds counts while it is more recent than `$4`; the attempt is locked while the
/// failures counted are more than the free ones and the lock they set has not run out since
/// the last. The lock's length comes from `tessera_core::lockout::lockout`, written out as a
/// `CASE` over the counts below the longest lock, so the schedule has one definition.
fn claim_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let mut lock = String::from("CASE sign_in_failures.failures");
        let mut failures = FREE_FAILURES + 1;
        while lockout(failures) < LOCKOUT_MAX {
            lock.push_str(&format!(
                " WHEN {failures} THEN {}",
                lockout(failures).as_millis()
            ));
            failures += 1;
        }
        lock.push_str(&format!(" ELSE {} END", LOCKOUT_MAX.as_millis()));
        format!(
            "INSERT INTO sign_in_failures (pool_id, username_key, failures, last_failure_at) \
             VALUES ($1, $2, 1, $3) \
             ON CONFLICT (pool_id, username_key) DO UPDATE SET \
             failures = CASE WHEN sign_in_failures.last_failure_at > $4 \
             THEN sign_in_failures.failures ELSE 0 END + 1, \
             last_failure_at = $3 \
             WHERE NOT (sign_in_failures.failures > {FREE_FAILURES} \
             AND sign_in_failures.last_failure_at > $4 \
             AND $3 - sign_in_failures.last_failure_at < {lock}) \
             RETURNING failures"
        )
    })
}
