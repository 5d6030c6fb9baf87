//! The authorization-code flow's state: single-use codes and the browser sign-in sessions
//! behind single sign-on. Only hashes of codes and session cookies are stored.

use std::time::{Duration, SystemTime};

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::store::{from_millis, millis};
use crate::{RefreshRecord, Store, StoreError};

/// How long a consumed or expired code is kept, so that a late replay is still recognised
/// as one (and revokes what the code issued) rather than taken for an unknown code.
const CODE_RETENTION: Duration = Duration::from_secs(3600);

/// An authorization code handed to a client's callback, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    /// SHA-256 of the code, hex.
    pub code_hash: String,
    /// The pool.
    pub pool_id: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI of the authorization request, exactly as sent.
    pub redirect_uri: String,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// The OIDC nonce of the request, echoed in the ID token.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge, when the request carried one.
    pub code_challenge: Option<String>,
    /// The user's lookup key.
    pub username_key: String,
    /// When the user authenticated.
    pub auth_time: SystemTime,
    /// When it was issued.
    pub created_at: SystemTime,
    /// When it stops working.
    pub expires_at: SystemTime,
    /// When it was redeemed or burned; `None` while it is usable.
    pub consumed_at: Option<SystemTime>,
    /// The sign-in session of the tokens it was redeemed for.
    pub origin_jti: Option<String>,
}

/// A browser's sign-in at the hosted pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSession {
    /// SHA-256 of the cookie value, hex.
    pub session_hash: String,
    /// The pool.
    pub pool_id: String,
    /// The user's lookup key.
    pub username_key: String,
    /// When the user authenticated.
    pub auth_time: SystemTime,
    /// When it ends.
    pub expires_at: SystemTime,
    /// Ended by sign-out.
    pub revoked: bool,
}

fn code_from_row(row: &AnyRow) -> Result<AuthorizationCode, StoreError> {
    Ok(AuthorizationCode {
        code_hash: row.try_get("code_hash")?,
        pool_id: row.try_get("pool_id")?,
        client_id: row.try_get("client_id")?,
        redirect_uri: row.try_get("redirect_uri")?,
        scope: row.try_get("scope")?,
        nonce: row.try_get("nonce")?,
        code_challenge: row.try_get("code_challenge")?,
        username_key: row.try_get("username_key")?,
        auth_time: from_millis(row.try_get("auth_time")?),
        created_at: from_millis(row.try_get("created_at")?),
        expires_at: from_millis(row.try_get("expires_at")?),
        consumed_at: row
            .try_get::<Option<i64>, _>("consumed_at")?
            .map(from_millis),
        origin_jti: row.try_get("origin_jti")?,
    })
}

impl Store {
    /// Stores a new code, and forgets codes long past their expiry.
    pub async fn insert_authorization_code(
        &self,
        code: &AuthorizationCode,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM authorization_codes WHERE expires_at < $1")
            .bind(millis(
                code.created_at
                    .checked_sub(CODE_RETENTION)
                    .unwrap_or(SystemTime::UNIX_EPOCH),
            ))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, pool_id, client_id, redirect_uri, scope, nonce, code_challenge, username_key, auth_time, origin_jti, created_at, expires_at, consumed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11, NULL)",
        )
        .bind(&code.code_hash)
        .bind(&code.pool_id)
        .bind(&code.client_id)
        .bind(&code.redirect_uri)
        .bind(&code.scope)
        .bind(code.nonce.clone())
        .bind(code.code_challenge.clone())
        .bind(&code.username_key)
        .bind(millis(code.auth_time))
        .bind(millis(code.created_at))
        .bind(millis(code.expires_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The code with this hash, consumed or not.
    pub async fn authorization_code(
        &self,
        code_hash: &str,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        let row = sqlx::query("SELECT * FROM authorization_codes WHERE code_hash = $1")
            .bind(code_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(code_from_row).transpose()
    }

    /// Makes a code unusable without issuing anything (a redemption that failed a check:
    /// RFC 6749 lets a code be tried once).
    pub async fn burn_authorization_code(
        &self,
        code_hash: &str,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(
            "UPDATE authorization_codes SET consumed_at = $1 WHERE code_hash = $2 AND consumed_at IS NULL",
        )
        .bind(millis(now))
        .bind(code_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Redeems a code: marks it consumed for the sign-in session of `refresh` and stores
    /// that refresh token, in one transaction. False (and nothing written) when the code was
    /// consumed meanwhile, by another request or another node.
    pub async fn redeem_authorization_code(
        &self,
        code_hash: &str,
        now: SystemTime,
        refresh: &RefreshRecord,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let consumed = sqlx::query(
            "UPDATE authorization_codes SET consumed_at = $1, origin_jti = $2 WHERE code_hash = $3 AND consumed_at IS NULL",
        )
        .bind(millis(now))
        .bind(&refresh.origin_jti)
        .bind(code_hash)
        .execute(&mut *tx)
        .await?;
        if consumed.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, pool_id, username_key, client_id, origin_jti, auth_time, expires_at, created_at, revoked, scope) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9)",
        )
        .bind(&refresh.token_hash)
        .bind(&refresh.pool_id)
        .bind(&refresh.username_key)
        .bind(&refresh.client_id)
        .bind(&refresh.origin_jti)
        .bind(millis(refresh.auth_time))
        .bind(millis(refresh.expires_at))
        .bind(millis(refresh.created_at))
        .bind(refresh.scope.clone())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Stores a new sign-in session, and forgets expired ones.
    pub async fn insert_login_session(&self, session: &LoginSession) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM login_sessions WHERE expires_at < $1")
            .bind(millis(session.auth_time))
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO login_sessions (session_hash, pool_id, username_key, auth_time, expires_at, revoked) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&session.session_hash)
        .bind(&session.pool_id)
        .bind(&session.username_key)
        .bind(millis(session.auth_time))
        .bind(millis(session.expires_at))
        .bind(i64::from(session.revoked))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The sign-in session with this hash.
    pub async fn login_session(
        &self,
        session_hash: &str,
    ) -> Result<Option<LoginSession>, StoreError> {
        let row = sqlx::query("SELECT * FROM login_sessions WHERE session_hash = $1")
            .bind(session_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(LoginSession {
                session_hash: row.try_get("session_hash")?,
                pool_id: row.try_get("pool_id")?,
                username_key: row.try_get("username_key")?,
                auth_time: from_millis(row.try_get("auth_time")?),
                expires_at: from_millis(row.try_get("expires_at")?),
                revoked: row.try_get::<i64, _>("revoked")? != 0,
            })
        })
        .transpose()
    }

    /// Ends a sign-in session (the browser signed out).
    pub async fn revoke_login_session(&self, session_hash: &str) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query("UPDATE login_sessions SET revoked = 1 WHERE session_hash = $1")
            .bind(session_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
