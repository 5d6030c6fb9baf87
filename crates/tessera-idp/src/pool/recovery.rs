//! Point-in-time recovery (issue 16): InitiatePointInTimeRecovery, StartPointInTimeRecovery,
//! CancelPointInTimeRecovery, DescribePointInTimeRecovery and ListPointInTimeRecoveries, on
//! top of the journal the store keeps of every write to a pool's user data.
//!
//! Initiate records a recovery with a preview of what a restore to the recovery point would
//! create, update and delete (users, groups, users' MFA settings, passkeys); Start restores
//! the pool's user data to that point in one transaction, keeping the passwords users set
//! since (as Cognito does); Cancel drops a preview. The limits are Cognito's
//! (docs/design/operations-facts.md §4): a point at least 15 minutes old, no older than the
//! pool, the journal, or the plan's window (one day for Essentials, 14 for Plus, none for
//! Lite); one active recovery per pool; three previews and one completed restore per pool a
//! day. Cognito's message texts for these refusals were not found; tessera's say what failed.
//!
//! Unlike Cognito, the preview is ready when Initiate answers (PREVIEW_GENERATED) and the
//! restore is done when Start answers (RESTORE_COMPLETED), and writes to the pool are not
//! paused in between: a restore replaces whatever was written after the recovery point,
//! including what was written after the preview.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tessera_store::{Preview, PreviewCount, Recovery, RecoveryRefusal, RestoreOutcome};

use crate::directory::Directory;
use crate::input::{decode_time_cursor, encode_time_cursor, epoch_seconds, Input};
use crate::{Error, Service};

/// How recent a recovery point may be.
const NEWEST_POINT: Duration = Duration::from_secs(15 * 60);

/// How long a preview waits for Start before it expires.
const PREVIEW_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// The daily limits: previews and completed restores per pool.
const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const PREVIEWS_PER_DAY: i64 = 3;
const RESTORES_PER_DAY: i64 = 1;

/// The Plus plan's window, the longest.
const LONGEST_WINDOW: Duration = Duration::from_secs(14 * 24 * 60 * 60);

/// How long the journal is kept: the longest window, plus the day a preview taken at its edge
/// may wait for Start, plus a day for the difference between the service's clock and the
/// database's (which stamps the journal).
pub const JOURNAL_KEPT: Duration = Duration::from_secs((14 + 1 + 1) * 24 * 60 * 60);

/// How far back a pool's plan lets it recover; `None` when the plan has no recovery.
fn window(tier: &str) -> Option<Duration> {
    match tier {
        "LITE" => None,
        "PLUS" => Some(LONGEST_WINDOW),
        _ => Some(Duration::from_secs(24 * 60 * 60)),
    }
}

fn preview_document(preview: &Preview) -> Value {
    let entry = |entity: &str, count: &PreviewCount| {
        json!({
            "Entity": entity,
            "CreateCount": count.create,
            "UpdateCount": count.update,
            "DeleteCount": count.delete,
        })
    };
    json!([
        entry("Users", &preview.users),
        entry("Groups", &preview.groups),
        entry("User MFAs", &preview.user_mfas),
        entry("Passkeys", &preview.passkeys),
    ])
}

/// `RestorationType`.
fn restoration(recovery: &Recovery) -> Value {
    let preview: Value = serde_json::from_str(&recovery.preview).unwrap_or_else(|_| json!([]));
    json!({
        "RestoreId": recovery.restore_id,
        "RestoreStatus": recovery.status,
        "RestoreTimestamp": epoch_seconds(recovery.restore_at),
        "TriggerTimestamp": epoch_seconds(recovery.triggered_at),
        "RestorePreview": preview,
    })
}

/// The moment a recovery's preview must have been made after to still be live.
fn preview_cutoff(now: SystemTime) -> SystemTime {
    now.checked_sub(PREVIEW_LIFETIME)
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn import_running() -> Error {
    Error::new(
        "ConcurrentModificationException",
        "You can't recover a user pool while a user import job is in progress.",
    )
}

fn restore_id(input: &Input) -> Result<&str, Error> {
    input.required_str("RestoreId")
}

async fn load(state: &Service, pool_id: &str, restore_id: &str) -> Result<Recovery, Error> {
    state
        .store
        .recovery(pool_id, restore_id, preview_cutoff(state.clock.now()))
        .await?
        .ok_or_else(|| {
            Error::new(
                "ResourceNotFoundException",
                format!(
                    "Recovery {} does not exist in user pool {pool_id}.",
                    tessera_core::excerpt(restore_id)
                ),
            )
        })
}

/// InitiatePointInTimeRecovery: checks the recovery point, records the recovery with its
/// preview.
pub async fn initiate(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let pool = &directory.pool;
    let seconds = input
        .get("RestoreTimestamp")
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .ok_or_else(|| Error::invalid_parameter("RestoreTimestamp is required."))?;
    // Milliseconds, the journal's resolution.
    let point = SystemTime::UNIX_EPOCH + Duration::from_millis((seconds * 1000.0).round() as u64);
    let tier = pool
        .settings
        .get("UserPoolTier")
        .and_then(Value::as_str)
        .unwrap_or("ESSENTIALS");
    let Some(window) = window(tier) else {
        return Err(Error::new(
            "FeatureUnavailableInTierException",
            "Point-in-time recovery is not available in the Lite feature plan.",
        ));
    };
    let now = state.clock.now();
    if point
        > now
            .checked_sub(NEWEST_POINT)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    {
        return Err(Error::invalid_parameter(
            "RestoreTimestamp must be at least 15 minutes in the past.",
        ));
    }
    if point < pool.created_at {
        return Err(Error::invalid_parameter(
            "RestoreTimestamp must not be earlier than the user pool's creation.",
        ));
    }
    if point < now.checked_sub(window).unwrap_or(SystemTime::UNIX_EPOCH) {
        return Err(Error::invalid_parameter(format!(
            "RestoreTimestamp must be within the last {} day(s) for the {tier} feature plan.",
            window.as_secs() / 86_400
        )));
    }
    if point < state.store.recovery_journal_start().await? {
        return Err(Error::invalid_parameter(
            "RestoreTimestamp must not be earlier than when this tessera began keeping the recovery journal.",
        ));
    }
    let (asked, completed) = state
        .store
        .recoveries_since(
            &pool.id,
            now.checked_sub(DAY).unwrap_or(SystemTime::UNIX_EPOCH),
        )
        .await?;
    if completed >= RESTORES_PER_DAY {
        return Err(Error::new(
            "LimitExceededException",
            "A user pool can be restored once in 24 hours.",
        ));
    }
    if asked >= PREVIEWS_PER_DAY {
        return Err(Error::new(
            "LimitExceededException",
            "A user pool can have 3 recovery previews in 24 hours.",
        ));
    }
    let preview = state.store.recovery_preview(&pool.id, point).await?;
    let recovery = Recovery {
        pool_id: pool.id.clone(),
        restore_id: state.random_uuid(),
        status: "PREVIEW_GENERATED".into(),
        restore_at: point,
        triggered_at: now,
        completed_at: None,
        preview: preview_document(&preview).to_string(),
    };
    match state
        .store
        .insert_recovery(&recovery, preview_cutoff(now))
        .await?
    {
        Ok(()) => Ok(json!({ "Restoration": restoration(&recovery) })),
        Err(RecoveryRefusal::Active) => Err(Error::new(
            "ConcurrentModificationException",
            "Another point-in-time recovery of this user pool is in progress.",
        )),
        Err(RecoveryRefusal::ImportRunning) => Err(import_running()),
    }
}

/// StartPointInTimeRecovery: restores the pool's user data to the recovery point of a
/// generated preview.
pub async fn start(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let pool_id = &directory.pool.id;
    let id = restore_id(&input)?;
    let recovery = load(state, pool_id, id).await?;
    let not_in_preview = || {
        Error::invalid_parameter(format!(
            "Only a recovery in PREVIEW_GENERATED can be started; this one is {}.",
            recovery.status
        ))
    };
    if recovery.status != "PREVIEW_GENERATED" {
        return Err(not_in_preview());
    }
    match state
        .store
        .restore_recovery(pool_id, id, state.clock.now())
        .await?
    {
        RestoreOutcome::Restored => {}
        RestoreOutcome::NotInPreview => return Err(not_in_preview()),
        RestoreOutcome::ImportRunning => return Err(import_running()),
    }
    let recovery = load(state, pool_id, id).await?;
    Ok(json!({ "Restoration": restoration(&recovery) }))
}

/// CancelPointInTimeRecovery: drops a preview.
pub async fn cancel(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let pool_id = &directory.pool.id;
    let id = restore_id(&input)?;
    let recovery = load(state, pool_id, id).await?;
    if !state.store.cancel_recovery(pool_id, id).await? {
        return Err(Error::invalid_parameter(format!(
            "Only a recovery in preview can be cancelled; this one is {}.",
            recovery.status
        )));
    }
    let recovery = load(state, pool_id, id).await?;
    Ok(json!({ "Restoration": restoration(&recovery) }))
}

/// DescribePointInTimeRecovery.
pub async fn describe(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let recovery = load(state, &directory.pool.id, restore_id(&input)?).await?;
    Ok(json!({ "Restoration": restoration(&recovery) }))
}

/// ListPointInTimeRecoveries: newest first, without previews.
pub async fn list(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let limit = u32::try_from(input.i64("MaxResults").unwrap_or(60).clamp(1, 60)).unwrap_or(60);
    let after = input.str("NextToken").map(decode_time_cursor).transpose()?;
    let mut recoveries = state
        .store
        .list_recoveries(
            &directory.pool.id,
            after.as_ref().map(|(at, id)| (*at, id.as_str())),
            limit + 1,
            preview_cutoff(state.clock.now()),
        )
        .await?;
    let more = recoveries.len() > limit as usize;
    recoveries.truncate(limit as usize);
    let mut answer = json!({
        "Restorations": recoveries
            .iter()
            .map(|r| json!({
                "RestoreId": r.restore_id,
                "RestoreStatus": r.status,
                "RestoreTimestamp": epoch_seconds(r.restore_at),
            }))
            .collect::<Vec<_>>(),
    });
    if let (true, Some(last)) = (more, recoveries.last()) {
        answer["NextToken"] = encode_time_cursor(last.triggered_at, &last.restore_id).into();
    }
    Ok(answer)
}
