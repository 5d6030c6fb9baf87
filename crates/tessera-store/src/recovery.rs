//! Point-in-time recovery (issue 16): a pool's user data put back as it was at an instant,
//! from the journal migration 0020's triggers keep (`<table>_history`, see its header), and
//! the record of each recovery.
//!
//! The state of a row at T is its first journal entry after T when there is one (the row as
//! it was before that change, or "absent"), and the row as it is now otherwise. So a restore
//! replaces, for every key changed after T, the current row by that first entry, in one
//! transaction; the replacement journals itself like any write, so a later recovery can go
//! back over it.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use sqlx::Row;

use crate::store::{from_millis, millis};
use crate::{Store, StoreError};

/// One journaled table: the columns that name a row, and every column, in the table's order.
pub(crate) struct Journaled {
    pub(crate) table: &'static str,
    pub(crate) keys: &'static [&'static str],
    pub(crate) columns: &'static [&'static str],
}

/// The tables of a pool's user data, as migration 0020 journals them. A test checks these
/// column lists against the tables, and their history tables against them.
pub(crate) const JOURNALED: &[Journaled] = &[
    Journaled {
        table: "users",
        keys: &["pool_id", "username_key"],
        columns: &[
            "pool_id",
            "username_key",
            "username",
            "sub",
            "status",
            "enabled",
            "attributes",
            "password_hash",
            "password_set_at",
            "created_at",
            "last_modified_at",
            "sealed_srp",
            "version",
            "mfa",
            "sealed_totp",
            "totp_last_step",
        ],
    },
    Journaled {
        table: "user_aliases",
        keys: &["pool_id", "kind", "value_key"],
        columns: &["pool_id", "kind", "value_key", "username_key"],
    },
    Journaled {
        table: "user_index",
        keys: &["pool_id", "attribute", "value", "username_key"],
        columns: &["pool_id", "attribute", "value", "username_key"],
    },
    Journaled {
        table: "user_groups",
        keys: &["pool_id", "name"],
        columns: &[
            "pool_id",
            "name",
            "description",
            "precedence",
            "role_arn",
            "created_at",
            "last_modified_at",
        ],
    },
    Journaled {
        table: "group_members",
        keys: &["pool_id", "group_name", "username_key"],
        columns: &["pool_id", "group_name", "username_key"],
    },
    Journaled {
        table: "webauthn_credentials",
        keys: &["pool_id", "credential_id"],
        columns: &[
            "pool_id",
            "credential_id",
            "username_key",
            "credential",
            "name",
            "relying_party_id",
            "attachment",
            "transports",
            "created_at",
        ],
    },
];

/// The journal's columns after a table's own, in order (the restore names the table's columns
/// only; the schema test checks the rest).
#[cfg(test)]
pub(crate) const JOURNAL_COLUMNS: [&str; 3] = ["journal_at", "absent", "journal_seq"];

/// The journaled tables, for the schema test.
pub fn journaled_tables() -> Vec<(&'static str, Vec<&'static str>)> {
    JOURNALED
        .iter()
        .map(|j| (j.table, j.columns.to_vec()))
        .collect()
}

/// One recovery of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    pub pool_id: String,
    pub restore_id: String,
    /// Cognito's `RestoreStatus`.
    pub status: String,
    /// The recovery point.
    pub restore_at: SystemTime,
    /// When it was asked for.
    pub triggered_at: SystemTime,
    pub completed_at: Option<SystemTime>,
    /// `RestorePreview`, as its JSON list.
    pub preview: String,
}

/// What a restore would do to one kind of entity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PreviewCount {
    /// Entities that existed at the recovery point and do not now.
    pub create: i64,
    /// Entities that exist at both times and changed since.
    pub update: i64,
    /// Entities that exist now and did not then.
    pub delete: i64,
}

/// `RestorePreview`'s entities, in Cognito's order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Preview {
    pub users: PreviewCount,
    pub groups: PreviewCount,
    pub user_mfas: PreviewCount,
    pub passkeys: PreviewCount,
}

/// What StartPointInTimeRecovery's restore did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreOutcome {
    /// The pool's user data is as at the recovery point.
    Restored,
    /// The recovery is not in PREVIEW_GENERATED: nothing changed.
    NotInPreview,
    /// A user import job of the pool is pending or running: nothing changed.
    ImportRunning,
}

/// Why a recovery could not be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveryRefusal {
    /// Another recovery of the pool is active.
    Active,
    /// A user import job of the pool is pending or running.
    ImportRunning,
}

const COLUMNS: &str =
    "pool_id, restore_id, status, restore_at, triggered_at, completed_at, preview";

/// The statuses of an active recovery (migration 0020's unique index holds one per pool).
const ACTIVE: &str = "('PREVIEW_GENERATING', 'PREVIEW_GENERATED', 'RESTORING')";

fn recovery_from_row(row: &sqlx::any::AnyRow) -> Result<Recovery, StoreError> {
    Ok(Recovery {
        pool_id: row.try_get("pool_id")?,
        restore_id: row.try_get("restore_id")?,
        status: row.try_get("status")?,
        restore_at: from_millis(row.try_get("restore_at")?),
        triggered_at: from_millis(row.try_get("triggered_at")?),
        completed_at: row
            .try_get::<Option<i64>, _>("completed_at")?
            .map(from_millis),
        preview: row.try_get("preview")?,
    })
}

/// The first journal entry after the recovery point of every key of `j` changed since, with
/// whether that key has a row now: `absent` (1: no row at the recovery point) and `present`.
fn first_changes_sql(j: &Journaled, extra: &str) -> String {
    let same_key = |a: &str, b: &str| {
        j.keys
            .iter()
            .map(|k| format!("{a}.{k} = {b}.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    format!(
        "SELECT {keys}, h.absent AS absent, \
         CAST(CASE WHEN EXISTS (SELECT 1 FROM {t} c WHERE {cur}) THEN 1 ELSE 0 END AS BIGINT) AS present{extra} \
         FROM {t}_history h WHERE h.pool_id = $1 AND h.journal_at > $2 AND h.journal_seq = \
         (SELECT MIN(f.journal_seq) FROM {t}_history f WHERE {first} AND f.journal_at > $2)",
        keys = j
            .keys
            .iter()
            .map(|k| format!("h.{k}"))
            .collect::<Vec<_>>()
            .join(", "),
        t = j.table,
        cur = same_key("c", "h"),
        first = same_key("f", "h"),
    )
}

fn journaled(table: &str) -> &'static Journaled {
    JOURNALED
        .iter()
        .find(|j| j.table == table)
        .unwrap_or(&JOURNALED[0])
}

impl Store {
    /// When the journal began (migration 0020): no recovery point can be earlier.
    pub async fn recovery_journal_start(&self) -> Result<SystemTime, StoreError> {
        let started: i64 = sqlx::query("SELECT started_at FROM recovery_journal")
            .fetch_one(&self.pool)
            .await?
            .try_get("started_at")?;
        Ok(from_millis(started))
    }

    /// What restoring the pool's user data to `at` would do, counted from the journal.
    pub async fn recovery_preview(
        &self,
        pool_id: &str,
        at: SystemTime,
    ) -> Result<Preview, StoreError> {
        let at = millis(at);
        let mut preview = Preview::default();
        // Users, with whether their MFA settings (preferences or TOTP secret) differ.
        let users = journaled("users");
        let rows = sqlx::query(&first_changes_sql(
            users,
            ", CAST(CASE WHEN h.mfa IS NOT NULL OR h.sealed_totp IS NOT NULL THEN 1 ELSE 0 END AS BIGINT) AS mfa_then, \
             CAST(CASE WHEN EXISTS (SELECT 1 FROM users c WHERE c.pool_id = h.pool_id AND c.username_key = h.username_key \
             AND (c.mfa IS NOT NULL OR c.sealed_totp IS NOT NULL)) THEN 1 ELSE 0 END AS BIGINT) AS mfa_now, \
             CAST(CASE WHEN EXISTS (SELECT 1 FROM users c WHERE c.pool_id = h.pool_id AND c.username_key = h.username_key \
             AND (c.mfa IS DISTINCT FROM h.mfa OR c.sealed_totp IS DISTINCT FROM h.sealed_totp)) THEN 1 ELSE 0 END AS BIGINT) AS mfa_changed",
        ))
        .bind(pool_id)
        .bind(at)
        .fetch_all(&self.pool)
        .await?;
        let mut changed_users = HashSet::new();
        for row in &rows {
            let key: String = row.try_get("username_key")?;
            let then = row.try_get::<i64, _>("absent")? == 0;
            let now = row.try_get::<i64, _>("present")? == 1;
            count(&mut preview.users, then, now);
            let mfa_then = then && row.try_get::<i64, _>("mfa_then")? == 1;
            let mfa_now = now && row.try_get::<i64, _>("mfa_now")? == 1;
            match (mfa_then, mfa_now) {
                (true, false) => preview.user_mfas.create += 1,
                (false, true) => preview.user_mfas.delete += 1,
                (true, true) if row.try_get::<i64, _>("mfa_changed")? == 1 => {
                    preview.user_mfas.update += 1;
                }
                _ => {}
            }
            changed_users.insert(key);
        }
        // A user whose memberships alone changed is a changed user (it exists at both times:
        // its row did not change).
        let members = sqlx::query(
            "SELECT DISTINCT h.username_key AS username_key FROM group_members_history h \
             WHERE h.pool_id = $1 AND h.journal_at > $2 \
             AND EXISTS (SELECT 1 FROM users c WHERE c.pool_id = h.pool_id AND c.username_key = h.username_key)",
        )
        .bind(pool_id)
        .bind(at)
        .fetch_all(&self.pool)
        .await?;
        for row in &members {
            let key: String = row.try_get("username_key")?;
            if changed_users.insert(key) {
                preview.users.update += 1;
            }
        }
        for (table, counts) in [
            ("user_groups", &mut preview.groups),
            ("webauthn_credentials", &mut preview.passkeys),
        ] {
            let rows = sqlx::query(&first_changes_sql(journaled(table), ""))
                .bind(pool_id)
                .bind(at)
                .fetch_all(&self.pool)
                .await?;
            for row in &rows {
                count(
                    counts,
                    row.try_get::<i64, _>("absent")? == 0,
                    row.try_get::<i64, _>("present")? == 1,
                );
            }
        }
        Ok(preview)
    }

    /// Records a new recovery, unless another of the pool is active or one of its user import
    /// jobs is pending or running. A preview left longer than `expire_before` expires first.
    pub async fn insert_recovery(
        &self,
        recovery: &Recovery,
        expire_before: SystemTime,
    ) -> Result<Result<(), RecoveryRefusal>, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        expire_previews(&mut tx, &recovery.pool_id, expire_before).await?;
        if import_running(&mut tx, &recovery.pool_id).await? {
            return Ok(Err(RecoveryRefusal::ImportRunning));
        }
        let inserted = sqlx::query(&format!(
            "INSERT INTO point_in_time_recoveries ({COLUMNS}) SELECT $1, $2, $3, $4, $5, $6, $7 \
             WHERE NOT EXISTS (SELECT 1 FROM point_in_time_recoveries WHERE pool_id = $1 AND status IN {ACTIVE})"
        ))
        .bind(&recovery.pool_id)
        .bind(&recovery.restore_id)
        .bind(&recovery.status)
        .bind(millis(recovery.restore_at))
        .bind(millis(recovery.triggered_at))
        .bind(recovery.completed_at.map(millis))
        .bind(&recovery.preview)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(done) if done.rows_affected() == 1 => {}
            Ok(_) => return Ok(Err(RecoveryRefusal::Active)),
            // Two nodes inserting at once: the unique index of active recoveries refuses one.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Ok(Err(RecoveryRefusal::Active));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// One recovery of a pool, its status as of `expire_before` (a preview left since then
    /// has expired).
    pub async fn recovery(
        &self,
        pool_id: &str,
        restore_id: &str,
        expire_before: SystemTime,
    ) -> Result<Option<Recovery>, StoreError> {
        self.expire_recovery_previews(pool_id, expire_before)
            .await?;
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM point_in_time_recoveries WHERE pool_id = $1 AND restore_id = $2"
        ))
        .bind(pool_id)
        .bind(restore_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(recovery_from_row).transpose()
    }

    /// Up to `limit` recoveries of a pool, newest first, starting after the one named by
    /// `after` (its triggered time in milliseconds and its id, the order of the listing).
    pub async fn list_recoveries(
        &self,
        pool_id: &str,
        after: Option<(i64, &str)>,
        limit: u32,
        expire_before: SystemTime,
    ) -> Result<Vec<Recovery>, StoreError> {
        self.expire_recovery_previews(pool_id, expire_before)
            .await?;
        let (at, id) = after.unwrap_or((i64::MAX, ""));
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM point_in_time_recoveries WHERE pool_id = $1 \
             AND (triggered_at < $2 OR (triggered_at = $2 AND restore_id < $3)) \
             ORDER BY triggered_at DESC, restore_id DESC LIMIT $4"
        ))
        .bind(pool_id)
        .bind(at)
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recovery_from_row).collect()
    }

    /// How many recoveries of a pool were asked for since `since`, and how many completed
    /// since: Cognito's daily limits count them.
    pub async fn recoveries_since(
        &self,
        pool_id: &str,
        since: SystemTime,
    ) -> Result<(i64, i64), StoreError> {
        // A restore counts from when it completed, a preview from when it was asked for.
        let row = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN triggered_at > $2 THEN 1 ELSE 0 END), 0) AS asked, \
             COALESCE(SUM(CASE WHEN status = 'RESTORE_COMPLETED' AND completed_at > $2 THEN 1 ELSE 0 END), 0) AS completed \
             FROM point_in_time_recoveries WHERE pool_id = $1 AND (triggered_at > $2 OR completed_at > $2)",
        )
        .bind(pool_id)
        .bind(millis(since))
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("asked")?, row.try_get("completed")?))
    }

    /// Cancels a recovery still in preview; false when it is in another status.
    pub async fn cancel_recovery(
        &self,
        pool_id: &str,
        restore_id: &str,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let done = sqlx::query(
            "UPDATE point_in_time_recoveries SET status = 'PREVIEW_CANCELLED' \
             WHERE pool_id = $1 AND restore_id = $2 AND status IN ('PREVIEW_GENERATING', 'PREVIEW_GENERATED')",
        )
        .bind(pool_id)
        .bind(restore_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts the pool's user data back as it was at the recovery point of a recovery in
    /// PREVIEW_GENERATED, and marks it RESTORE_COMPLETED at `now`, in one transaction; nothing
    /// changes when the recovery is in another status or an import job of the pool runs. Users
    /// who set a password after the recovery point keep it, as in Cognito.
    pub async fn restore_recovery(
        &self,
        pool_id: &str,
        restore_id: &str,
        now: SystemTime,
    ) -> Result<RestoreOutcome, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        // On PostgreSQL, other nodes write while the restore runs, and each statement of a
        // READ COMMITTED transaction sees what committed before it: a user written between
        // two statements would come out half restored. Writers of the user data wait for the
        // restore instead (readers do not); on SQLite the write guard already orders them.
        if self.backend() == crate::Backend::Postgres {
            let mut tables: Vec<&str> = JOURNALED.iter().map(|j| j.table).collect();
            tables.extend(crate::user::USER_ROWS);
            tables.sort_unstable();
            tables.dedup();
            sqlx::query(&format!(
                "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE",
                tables.join(", ")
            ))
            .execute(&mut *tx)
            .await?;
        }
        // The claim is the transaction's first statement on SQLite: a transaction that reads
        // first and then writes can be refused ("database is locked") when another connection
        // wrote in between, while one that writes first waits for its turn.
        let claimed = sqlx::query(
            "UPDATE point_in_time_recoveries SET status = 'RESTORE_COMPLETED', completed_at = $3 \
             WHERE pool_id = $1 AND restore_id = $2 AND status = 'PREVIEW_GENERATED'",
        )
        .bind(pool_id)
        .bind(restore_id)
        .bind(millis(now))
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() != 1 {
            return Ok(RestoreOutcome::NotInPreview);
        }
        // Refused here, the claim is rolled back with the transaction.
        if import_running(&mut tx, pool_id).await? {
            return Ok(RestoreOutcome::ImportRunning);
        }
        let at: i64 = sqlx::query(
            "SELECT restore_at FROM point_in_time_recoveries WHERE pool_id = $1 AND restore_id = $2",
        )
        .bind(pool_id)
        .bind(restore_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("restore_at")?;
        // Who each name changed since the recovery point belongs to now (its `sub`).
        let subs_before = changed_user_subs(&mut tx, pool_id, at).await?;
        // The passwords set since the recovery point, which the restore keeps for the same
        // user (the same `sub`: a name deleted and taken by someone else since is not).
        let passwords = sqlx::query(
            "SELECT username_key, sub, password_hash, password_set_at, sealed_srp FROM users \
             WHERE pool_id = $1 AND password_set_at > $2",
        )
        .bind(pool_id)
        .bind(at)
        .fetch_all(&mut *tx)
        .await?;
        let mut kept = HashMap::new();
        for row in &passwords {
            kept.insert(
                row.try_get::<String, _>("username_key")?,
                (
                    row.try_get::<String, _>("sub")?,
                    row.try_get::<Option<String>, _>("password_hash")?,
                    row.try_get::<Option<i64>, _>("password_set_at")?,
                    row.try_get::<Option<Vec<u8>>, _>("sealed_srp")?,
                ),
            );
        }
        for j in JOURNALED {
            let keys = j.keys.join(", ");
            let columns = j.columns.join(", ");
            let same_key = j
                .keys
                .iter()
                .map(|k| format!("f.{k} = h.{k}"))
                .collect::<Vec<_>>()
                .join(" AND ");
            // Every key changed since the recovery point loses its current row...
            sqlx::query(&format!(
                "DELETE FROM {t} WHERE pool_id = $1 AND ({keys}) IN \
                 (SELECT {keys} FROM {t}_history WHERE pool_id = $1 AND journal_at > $2)",
                t = j.table
            ))
            .bind(pool_id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
            // ...and gets the row its first change after the point replaced, if it had one.
            // (The deletions above journal entries of their own, later than that first one.)
            sqlx::query(&format!(
                "INSERT INTO {t} ({columns}) SELECT {columns} FROM {t}_history h \
                 WHERE h.pool_id = $1 AND h.journal_at > $2 AND h.absent = 0 AND h.journal_seq = \
                 (SELECT MIN(f.journal_seq) FROM {t}_history f WHERE {same_key} AND f.journal_at > $2)",
                t = j.table
            ))
            .bind(pool_id)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        // A restored user's version must be one no reader holds (every version it had is in
        // the journal), and its last TOTP step the latest it reached, so that no code used
        // since can be used again.
        sqlx::query(
            "UPDATE users SET \
             version = (SELECT COALESCE(MAX(h.version), 0) + 1 FROM users_history h WHERE h.pool_id = users.pool_id AND h.username_key = users.username_key), \
             totp_last_step = (SELECT MAX(h.totp_last_step) FROM users_history h WHERE h.pool_id = users.pool_id AND h.username_key = users.username_key) \
             WHERE pool_id = $1 AND username_key IN (SELECT username_key FROM users_history WHERE pool_id = $1 AND journal_at > $2)",
        )
        .bind(pool_id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        for (key, (sub, hash, set_at, srp)) in kept {
            sqlx::query(
                "UPDATE users SET password_hash = $1, password_set_at = $2, sealed_srp = $3 \
                 WHERE pool_id = $4 AND username_key = $5 AND sub = $6",
            )
            .bind(hash)
            .bind(set_at)
            .bind(srp)
            .bind(pool_id)
            .bind(key)
            .bind(sub)
            .execute(&mut *tx)
            .await?;
        }
        // A name whose user the restore removed, or gave back to the user who had it at the
        // recovery point, keeps nothing of the user it named until now: sessions, refresh
        // tokens, devices, codes, links and events go, as with a deleted user. (The journaled
        // rows, memberships and passkeys among them, are already as at the point.)
        let subs_after = changed_user_subs(&mut tx, pool_id, at).await?;
        let unjournaled: Vec<&str> = crate::user::USER_ROWS
            .into_iter()
            .filter(|table| JOURNALED.iter().all(|j| j.table != *table))
            .collect();
        for (key, sub) in &subs_before {
            if subs_after.get(key) == Some(sub) {
                continue;
            }
            crate::user::delete_user_rows(&mut tx, &unjournaled, pool_id, key).await?;
        }
        // DescribeUserPool's count, from the users restored.
        sqlx::query("DELETE FROM user_counts WHERE pool_id = $1")
            .bind(pool_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO user_counts (pool_id, shard, users) SELECT $1, 0, COUNT(*) FROM users WHERE pool_id = $1",
        )
        .bind(pool_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if let Some(cache) = &self.cache {
            cache.forget_pool(pool_id);
        }
        Ok(RestoreOutcome::Restored)
    }

    /// Marks the pool's previews left since before `expire_before` PREVIEW_EXPIRED.
    async fn expire_recovery_previews(
        &self,
        pool_id: &str,
        expire_before: SystemTime,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        expire_previews(&mut tx, pool_id, expire_before).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes journal entries older than `before`: no recovery point can be earlier.
    pub async fn sweep_recovery_journal(&self, before: SystemTime) -> Result<u64, StoreError> {
        let _guard = self.write_guard().await;
        let mut swept = 0;
        for j in JOURNALED {
            swept += sqlx::query(&format!(
                "DELETE FROM {}_history WHERE journal_at < $1",
                j.table
            ))
            .bind(millis(before))
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(swept)
    }
}

/// Whether a user import job of the pool is pending or running (no recovery then).
async fn import_running(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    pool_id: &str,
) -> Result<bool, StoreError> {
    let running: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM user_import_jobs WHERE pool_id = $1 AND status IN ('Pending', 'InProgress', 'Stopping')",
    )
    .bind(pool_id)
    .fetch_one(&mut **tx)
    .await?
    .try_get("n")?;
    Ok(running > 0)
}

/// The `sub` of every user of the pool whose row changed since `at`, by name.
async fn changed_user_subs(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    pool_id: &str,
    at: i64,
) -> Result<HashMap<String, String>, StoreError> {
    let rows = sqlx::query(
        "SELECT username_key, sub FROM users WHERE pool_id = $1 AND username_key IN \
         (SELECT username_key FROM users_history WHERE pool_id = $1 AND journal_at > $2)",
    )
    .bind(pool_id)
    .bind(at)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("username_key")?, row.try_get("sub")?)))
        .collect()
}

fn count(counts: &mut PreviewCount, then: bool, now: bool) {
    match (then, now) {
        (true, false) => counts.create += 1,
        (false, true) => counts.delete += 1,
        (true, true) => counts.update += 1,
        (false, false) => {}
    }
}

async fn expire_previews(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    pool_id: &str,
    expire_before: SystemTime,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE point_in_time_recoveries SET status = 'PREVIEW_EXPIRED' \
         WHERE pool_id = $1 AND status IN ('PREVIEW_GENERATING', 'PREVIEW_GENERATED') AND triggered_at < $2",
    )
    .bind(pool_id)
    .bind(millis(expire_before))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
