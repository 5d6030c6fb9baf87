//! User import jobs (issue 16), as Cognito runs them: CreateUserImportJob hands out a
//! pre-signed URL (served by tessera, valid 15 minutes) for an HTTP PUT of the CSV,
//! StartUserImportJob imports its rows in the background through
//! [`super::import::import_user`], StopUserImportJob stops it, Describe/ListUserImportJobs
//! follow it and GetCSVHeader gives the columns.
//!
//! Imported users are RESET_REQUIRED, as in Cognito, unless the job names a
//! `PasswordHashingAlgorithm` and the row a hash: tessera reads it from the column
//! `cognito:password_hash` (Cognito's own column name was not found; this one is tessera's),
//! and the user is CONFIRMED and signs in with the old password.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use tessera_core::{AttributeSchema, ImportedHash, PasswordHasher, UserStatus};
use tessera_store::ImportJob;

use super::import::{import_user, Imported, ImportedUser};
use super::Directory;
use crate::input::{epoch_seconds, Input};
use crate::sign_in::tokens::{opaque, sha256_hex};
use crate::{Error, Service};

/// How long the pre-signed URL takes an upload (Cognito's 15 minutes).
const UPLOAD_VALIDITY: Duration = Duration::from_secs(15 * 60);

/// How many rows are imported between two writes of the job's counts (and checks of a stop).
const PROGRESS_EVERY: usize = 25;

/// The column of a row's password hash, for jobs with `PasswordHashingAlgorithm`.
pub const PASSWORD_HASH_COLUMN: &str = "cognito:password_hash";

/// The standard attributes of GetCSVHeader, in the order Cognito's documented answer has them.
const STANDARD_COLUMNS: [&str; 19] = [
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "address",
    "updated_at",
];

/// The path of a job's upload URL, after the server's public URL.
pub fn upload_path(job_id: &str) -> String {
    format!("/user-import-uploads/{job_id}")
}

fn job_type(job: &ImportJob, url: Option<&str>) -> Value {
    let mut value = json!({
        "JobName": job.job_name,
        "JobId": job.job_id,
        "UserPoolId": job.pool_id,
        "CreationDate": epoch_seconds(job.created_at),
        "Status": job.status,
        "CloudWatchLogsRoleArn": job.role_arn,
        "ImportedUsers": job.imported,
        "SkippedUsers": job.skipped,
        "FailedUsers": job.failed,
    });
    let object = value.as_object_mut().expect("a JSON object");
    if let Some(url) = url {
        object.insert("PreSignedUrl".into(), url.into());
    }
    if let Some(at) = job.started_at {
        object.insert("StartDate".into(), epoch_seconds(at));
    }
    if let Some(at) = job.completed_at {
        object.insert("CompletionDate".into(), epoch_seconds(at));
    }
    if let Some(message) = &job.completion_message {
        object.insert("CompletionMessage".into(), message.clone().into());
    }
    if let Some(algorithm) = &job.hashing_algorithm {
        object.insert("PasswordHashingAlgorithm".into(), algorithm.clone().into());
    }
    value
}

fn job_not_found() -> Error {
    // Cognito's wording for an unknown job was not found; this one is tessera's.
    Error::not_found("The specified import job was not found.")
}

async fn load_job(state: &Service, pool_id: &str, job_id: &str) -> Result<ImportJob, Error> {
    state
        .store
        .import_job(pool_id, job_id)
        .await?
        .ok_or_else(job_not_found)
}

/// CreateUserImportJob.
pub async fn create(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let now = state.clock.now();
    let mut id = [0u8; 9];
    state.random.fill(&mut id);
    let job_id = format!(
        "import-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(id)
            .replace('_', "0")
    );
    let token = opaque(state, 32);
    let job = ImportJob {
        pool_id: directory.pool.id.clone(),
        job_id: job_id.clone(),
        job_name: input.required_str("JobName")?.to_owned(),
        role_arn: input.required_str("CloudWatchLogsRoleArn")?.to_owned(),
        hashing_algorithm: input.str("PasswordHashingAlgorithm").map(String::from),
        status: "Created".into(),
        created_at: now,
        started_at: None,
        completed_at: None,
        completion_message: None,
        imported: 0,
        skipped: 0,
        failed: 0,
        upload_expires_at: now + UPLOAD_VALIDITY,
    };
    state
        .store
        .insert_import_job(&job, &sha256_hex(&token))
        .await?;
    let url = format!(
        "{}{}?token={token}",
        state.config.public_url,
        upload_path(&job_id)
    );
    Ok(json!({ "UserImportJob": job_type(&job, Some(&url)) }))
}

/// DescribeUserImportJob.
pub async fn describe(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let job = load_job(state, &directory.pool.id, input.required_str("JobId")?).await?;
    Ok(json!({ "UserImportJob": job_type(&job, None) }))
}

/// ListUserImportJobs: newest first; the token is the count of jobs already listed.
pub async fn list(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let limit = u32::try_from(input.i64("MaxResults").unwrap_or(60).clamp(1, 60)).unwrap_or(60);
    let skip = match input.str("PaginationToken") {
        Some(token) => token
            .parse::<u32>()
            .map_err(|_| Error::invalid_parameter("Invalid pagination token."))?,
        None => 0,
    };
    let mut jobs = state
        .store
        .import_jobs(&directory.pool.id, skip, limit + 1)
        .await?;
    let more = jobs.len() > limit as usize;
    jobs.truncate(limit as usize);
    let mut answer = json!({
        "UserImportJobs": jobs.iter().map(|job| job_type(job, None)).collect::<Vec<_>>(),
    });
    if more {
        answer["PaginationToken"] = (skip + limit).to_string().into();
    }
    Ok(answer)
}

/// GetCSVHeader: the standard attributes, `cognito:mfa_enabled` and `cognito:username`, then
/// the pool's custom attributes (their place in Cognito's header was not found).
pub async fn csv_header(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    Ok(json!({
        "UserPoolId": directory.pool.id,
        "CSVHeader": header(&directory),
    }))
}

fn header(directory: &Directory) -> Vec<String> {
    let schema = AttributeSchema::from_pool_settings(&directory.pool.settings);
    let mut columns: Vec<String> = STANDARD_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    columns.push("cognito:mfa_enabled".into());
    columns.push("cognito:username".into());
    for attribute in schema.attributes() {
        if attribute.name.starts_with("custom:") || attribute.name.starts_with("dev:") {
            columns.push(attribute.name.clone());
        }
    }
    columns
}

fn precondition(message: &str) -> Error {
    Error::new("PreconditionNotMetException", message)
}

/// StartUserImportJob: a `Created` job whose CSV was uploaded goes `Pending` and runs.
pub async fn start(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let mut job = load_job(state, &directory.pool.id, input.required_str("JobId")?).await?;
    // These refusals are worded by tessera; Cognito's texts were not found.
    if job.status != "Created" {
        return Err(precondition(&format!(
            "The import job is {} and cannot be started.",
            job.status
        )));
    }
    if directory.auto_verified.is_empty() {
        return Err(precondition(
            "The user pool has no auto-verified attributes: imported users could not reset their passwords.",
        ));
    }
    if state
        .store
        .import_csv(&directory.pool.id, &job.job_id)
        .await?
        .is_none()
    {
        return Err(precondition(
            "No CSV file has been uploaded to the job's pre-signed URL.",
        ));
    }
    job.status = "Pending".into();
    job.started_at = Some(state.clock.now());
    if !state.store.update_import_job(&job, &["Created"]).await? {
        return Err(precondition("The import job has already been started."));
    }
    let (service, pool_id, job_id) = (state.clone(), directory.pool.id.clone(), job.job_id.clone());
    tokio::spawn(async move {
        if let Err(error) = run(&service, &pool_id, &job_id).await {
            tracing::error!(%error, job_id, "user import job failed");
            if let Ok(Some(mut job)) = service.store.import_job(&pool_id, &job_id).await {
                job.status = "Failed".into();
                job.completed_at = Some(service.clock.now());
                job.completion_message = Some("The import job failed on an internal error.".into());
                let _ = service
                    .store
                    .update_import_job(&job, &["Pending", "InProgress"])
                    .await;
            }
        }
    });
    Ok(json!({ "UserImportJob": job_type(&job, None) }))
}

/// StopUserImportJob: a `Pending` or `InProgress` job stops; what it imported stays.
pub async fn stop(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let job_id = input.required_str("JobId")?;
    // The runner writes counts meanwhile: the stop is retried on a fresh read until it lands
    // or the job is no longer running.
    for _ in 0..8 {
        let mut job = load_job(state, &directory.pool.id, job_id).await?;
        if job.status != "Pending" && job.status != "InProgress" {
            return Err(precondition(&format!(
                "The import job is {} and cannot be stopped.",
                job.status
            )));
        }
        let from = job.status.clone();
        job.status = "Stopped".into();
        job.completed_at = Some(state.clock.now());
        // Cognito's documented message.
        job.completion_message = Some("The Import Job was stopped by the developer.".into());
        if state
            .store
            .update_import_job(&job, &[from.as_str()])
            .await?
        {
            return Ok(json!({ "UserImportJob": job_type(&job, None) }));
        }
    }
    Err(Error::internal(&format_args!(
        "import job {job_id} kept changing"
    )))
}

/// Imports the job's rows; ends `Succeeded`, or leaves the job as a stop left it.
async fn run(state: &Service, pool_id: &str, job_id: &str) -> Result<(), Error> {
    let mut job = load_job(state, pool_id, job_id).await?;
    let csv = state
        .store
        .import_csv(pool_id, job_id)
        .await?
        .unwrap_or_default();
    job.status = "InProgress".into();
    if !state.store.update_import_job(&job, &["Pending"]).await? {
        return Ok(());
    }
    let directory = Directory::load(state, pool_id).await?;
    let finish = |mut job: ImportJob, status: &str, message: &str| {
        job.status = status.into();
        job.completed_at = Some(state.clock.now());
        job.completion_message = Some(message.into());
        job
    };
    let Ok(text) = String::from_utf8(csv) else {
        let job = finish(job, "Failed", "The CSV file is not UTF-8 text.");
        state.store.update_import_job(&job, &["InProgress"]).await?;
        return Ok(());
    };
    let mut lines = text.lines().enumerate();
    let columns: Vec<String> = match lines.next() {
        Some((_, header)) => split_row(header.trim_start_matches('\u{feff}')),
        None => Vec::new(),
    };
    if !columns.iter().any(|c| c == "cognito:username") {
        let job = finish(
            job,
            "Failed",
            "The CSV header has no cognito:username column.",
        );
        state.store.update_import_job(&job, &["InProgress"]).await?;
        return Ok(());
    }
    let mut since_progress = 0;
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let number = index + 1;
        let outcome = match row_user(&directory, &job, &columns, line) {
            Ok(record) => import_user(state, &directory, record).await?,
            Err(reason) => Imported::Failed(reason),
        };
        match &outcome {
            Imported::Created => {
                job.imported += 1;
                tracing::info!(
                    job_id,
                    "[SUCCEEDED] Line Number {number} - The import succeeded."
                );
            }
            Imported::Skipped(reason) => {
                job.skipped += 1;
                tracing::info!(job_id, "[SKIPPED] Line Number {number} - {reason}");
            }
            Imported::Failed(reason) => {
                job.failed += 1;
                tracing::info!(job_id, "[FAILED] Line Number {number} - {reason}");
            }
        }
        since_progress += 1;
        if since_progress >= PROGRESS_EVERY {
            since_progress = 0;
            if !state.store.update_import_job(&job, &["InProgress"]).await? {
                // Stopped meanwhile.
                return Ok(());
            }
        }
    }
    // Cognito's message for a finished job was not found; this one is tessera's.
    let job = finish(job, "Succeeded", "Import Job Completed Successfully.");
    state.store.update_import_job(&job, &["InProgress"]).await?;
    Ok(())
}

/// A row's values: comma-separated, a comma inside a value escaped with a backslash, each
/// value trimmed (Cognito's CSV rules).
fn split_row(line: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut current = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                current.push(',');
                chars.next();
            }
            ',' => values.push(std::mem::take(&mut current).trim().to_owned()),
            _ => current.push(c),
        }
    }
    values.push(current.trim().to_owned());
    values
}

/// The user a row describes, or why the row fails (Cognito's log wording where known).
fn row_user(
    directory: &Directory,
    job: &ImportJob,
    columns: &[String],
    line: &str,
) -> Result<ImportedUser, String> {
    let values = split_row(line);
    if values.len() != columns.len() {
        return Err(format!(
            "The row has {} values where the header has {} columns.",
            values.len(),
            columns.len()
        ));
    }
    let mut record = ImportedUser {
        enabled: true,
        ..ImportedUser::default()
    };
    let mut verified_any = false;
    for (column, value) in columns.iter().zip(values) {
        if value.is_empty() {
            continue;
        }
        match column.as_str() {
            "cognito:username" => record.username = value,
            "cognito:mfa_enabled" => {
                if tessera_core::boolean_value(&value).is_none() {
                    return Err("cognito:mfa_enabled must be true or false.".into());
                }
            }
            PASSWORD_HASH_COLUMN => {
                let Some(algorithm) = &job.hashing_algorithm else {
                    return Err(format!(
                        "The job has no PasswordHashingAlgorithm for its {PASSWORD_HASH_COLUMN} column."
                    ));
                };
                if !hash_matches(algorithm, &value) {
                    return Err(format!("The password hash is not a {algorithm} hash."));
                }
                record.password_hash = Some(value);
            }
            name => {
                if (name == "email_verified" || name == "phone_number_verified")
                    && directory
                        .auto_verified
                        .iter()
                        .any(|a| format!("{a}_verified") == name)
                    && tessera_core::boolean_value(&value) == Some(true)
                {
                    verified_any = true;
                }
                // Booleans are written TRUE/FALSE in Cognito's samples; stored as Cognito
                // stores them.
                let value = match tessera_core::boolean_value(&value) {
                    Some(flag) if name.ends_with("_verified") => flag.to_string(),
                    _ => value,
                };
                record.attributes.push((name.to_owned(), value));
            }
        }
    }
    if !verified_any {
        return Err("The User Record does not set any of the auto verified attributes to true. (Example: email_verified to true).".into());
    }
    record.status = Some(if record.password_hash.is_some() {
        UserStatus::Confirmed
    } else {
        UserStatus::ResetRequired
    });
    Ok(record)
}

/// Whether a hash is of the job's `PasswordHashingAlgorithm`.
fn hash_matches(algorithm: &str, hash: &str) -> bool {
    if PasswordHasher::is_own(hash) {
        return algorithm == "ARGON2ID" && PasswordHasher::is_readable(hash);
    }
    matches!(
        (algorithm, ImportedHash::parse(hash)),
        ("BCRYPT", Ok(ImportedHash::Bcrypt(_)))
            | (
                "SCRYPT",
                Ok(ImportedHash::Scrypt { .. } | ImportedHash::FirebaseScrypt { .. })
            )
            | (
                "PBKDF2_SHA256",
                Ok(ImportedHash::Pbkdf2 {
                    digest: tessera_core::Pbkdf2Digest::Sha256,
                    ..
                })
            )
    )
}

#[cfg(test)]
mod tests {
    use super::split_row;

    #[test]
    fn rows_split_on_unescaped_commas_and_trim() {
        assert_eq!(split_row(r" a , b\, c ,,d"), vec!["a", "b, c", "", "d"]);
        assert_eq!(split_row(""), vec![""]);
    }
}
