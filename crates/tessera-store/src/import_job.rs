//! User import jobs (issue 16): CreateUserImportJob's record, the CSV uploaded to its
//! pre-signed URL (sealed), and the job's progress. Every change of status names the statuses
//! it may come from, so a StopUserImportJob and the job's own end cannot undo each other.

use std::time::SystemTime;

use sqlx::Row;

use crate::store::{from_millis, millis};
use crate::{Store, StoreError};

/// One user import job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJob {
    pub pool_id: String,
    pub job_id: String,
    pub job_name: String,
    pub role_arn: String,
    /// `PasswordHashingAlgorithm`, when the CSV carries password hashes.
    pub hashing_algorithm: Option<String>,
    /// Cognito's `Status`: `Created`, `Pending`, `InProgress`, `Stopping`, `Stopped`,
    /// `Succeeded`, `Failed` or `Expired`.
    pub status: String,
    pub created_at: SystemTime,
    pub started_at: Option<SystemTime>,
    pub completed_at: Option<SystemTime>,
    pub completion_message: Option<String>,
    pub imported: i64,
    pub skipped: i64,
    pub failed: i64,
    /// Until when the pre-signed URL takes an upload.
    pub upload_expires_at: SystemTime,
}

const COLUMNS: &str = "pool_id, job_id, job_name, role_arn, hashing_algorithm, status, created_at, started_at, completed_at, completion_message, imported, skipped, failed, upload_expires_at";

fn job_from_row(row: &sqlx::any::AnyRow) -> Result<ImportJob, StoreError> {
    let optional_time = |name: &str| -> Result<Option<SystemTime>, StoreError> {
        Ok(row.try_get::<Option<i64>, _>(name)?.map(from_millis))
    };
    Ok(ImportJob {
        pool_id: row.try_get("pool_id")?,
        job_id: row.try_get("job_id")?,
        job_name: row.try_get("job_name")?,
        role_arn: row.try_get("role_arn")?,
        hashing_algorithm: row.try_get("hashing_algorithm")?,
        status: row.try_get("status")?,
        created_at: from_millis(row.try_get("created_at")?),
        started_at: optional_time("started_at")?,
        completed_at: optional_time("completed_at")?,
        completion_message: row.try_get("completion_message")?,
        imported: row.try_get("imported")?,
        skipped: row.try_get("skipped")?,
        failed: row.try_get("failed")?,
        upload_expires_at: from_millis(row.try_get("upload_expires_at")?),
    })
}

pub(crate) fn csv_context(job_id: &str) -> String {
    format!("user-import-csv:{job_id}")
}

impl Store {
    /// Records a new job; `upload_token` is the SHA-256 (hex) of its pre-signed URL's token.
    pub async fn insert_import_job(
        &self,
        job: &ImportJob,
        upload_token: &str,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(&format!(
            "INSERT INTO user_import_jobs ({COLUMNS}, upload_token) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(&job.pool_id)
        .bind(&job.job_id)
        .bind(&job.job_name)
        .bind(&job.role_arn)
        .bind(job.hashing_algorithm.clone())
        .bind(&job.status)
        .bind(millis(job.created_at))
        .bind(job.started_at.map(millis))
        .bind(job.completed_at.map(millis))
        .bind(job.completion_message.clone())
        .bind(job.imported)
        .bind(job.skipped)
        .bind(job.failed)
        .bind(millis(job.upload_expires_at))
        .bind(upload_token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A job of a pool.
    pub async fn import_job(
        &self,
        pool_id: &str,
        job_id: &str,
    ) -> Result<Option<ImportJob>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM user_import_jobs WHERE pool_id = $1 AND job_id = $2"
        ))
        .bind(pool_id)
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(job_from_row)
        .transpose()
    }

    /// Up to `limit` jobs of a pool, newest first, after the `skip` newest.
    pub async fn import_jobs(
        &self,
        pool_id: &str,
        skip: u32,
        limit: u32,
    ) -> Result<Vec<ImportJob>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM user_import_jobs WHERE pool_id = $1 ORDER BY created_at DESC, job_id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(pool_id)
        .bind(i64::from(limit))
        .bind(i64::from(skip))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(job_from_row).collect()
    }

    /// Keeps the CSV uploaded to a job's pre-signed URL (sealed), replacing an earlier upload.
    /// False unless `upload_token` (SHA-256 hex) is the job's, the job is still `Created` and
    /// the URL has not expired at `now`.
    pub async fn put_import_csv(
        &self,
        job_id: &str,
        upload_token: &str,
        csv: &[u8],
        now: SystemTime,
    ) -> Result<bool, StoreError> {
        let sealed = self.seal(&csv_context(job_id), csv)?;
        let _guard = self.write_guard().await;
        let result = sqlx::query(
            "UPDATE user_import_jobs SET sealed_csv = $1 WHERE job_id = $2 AND upload_token = $3 AND status = 'Created' AND upload_expires_at > $4",
        )
        .bind(sealed)
        .bind(job_id)
        .bind(upload_token)
        .bind(millis(now))
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The CSV uploaded for a job, opened; `None` before an upload.
    pub async fn import_csv(
        &self,
        pool_id: &str,
        job_id: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query(
            "SELECT sealed_csv FROM user_import_jobs WHERE pool_id = $1 AND job_id = $2",
        )
        .bind(pool_id)
        .bind(job_id)
        .fetch_optional(&self.pool)
        .await?;
        match row.and_then(|row| {
            row.try_get::<Option<Vec<u8>>, _>("sealed_csv")
                .ok()
                .flatten()
        }) {
            Some(sealed) => Ok(Some(self.open(&csv_context(job_id), &sealed)?)),
            None => Ok(None),
        }
    }

    /// Writes a job's status, dates, message and counts, provided its stored status is one
    /// of `from`; a finished job's CSV is dropped. False when the status was another (the
    /// change lost a race, e.g. with StopUserImportJob) or the job is gone.
    pub async fn update_import_job(
        &self,
        job: &ImportJob,
        from: &[&str],
    ) -> Result<bool, StoreError> {
        let finished = matches!(
            job.status.as_str(),
            "Stopped" | "Succeeded" | "Failed" | "Expired"
        );
        let placeholders: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 10)).collect();
        let sql = format!(
            "UPDATE user_import_jobs SET status = $1, started_at = $2, completed_at = $3, completion_message = $4, imported = $5, skipped = $6, failed = $7{} WHERE pool_id = $8 AND job_id = $9 AND status IN ({})",
            if finished { ", sealed_csv = NULL" } else { "" },
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql)
            .bind(&job.status)
            .bind(job.started_at.map(millis))
            .bind(job.completed_at.map(millis))
            .bind(job.completion_message.clone())
            .bind(job.imported)
            .bind(job.skipped)
            .bind(job.failed)
            .bind(&job.pool_id)
            .bind(&job.job_id);
        for status in from {
            query = query.bind(*status);
        }
        let _guard = self.write_guard().await;
        Ok(query.execute(&self.pool).await?.rows_affected() == 1)
    }
}
