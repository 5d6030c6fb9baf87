//! Users' authentication events (issue 16): recorded for pools with advanced security
//! (`UserPoolAddOns.AdvancedSecurityMode` AUDIT or ENFORCED), as Cognito records them only
//! there, and served by AdminListUserAuthEvents, AdminUpdateAuthEventFeedback and
//! UpdateAuthEventFeedback.
//!
//! UpdateAuthEventFeedback takes the event's `FeedbackToken`, which Cognito puts in the links
//! of its risk notification e-mails. tessera sends no risk notification (it scores no risk),
//! so it hands each event's token to the audit stream instead (`feedbackToken`): a receiver
//! that asks the user "was this you?" sends it back with the answer.
//!
//! tessera evaluates no risk: every event's `EventRisk` says `NoRisk` and no compromised
//! credentials, which is what a pool in AUDIT mode shows for ordinary traffic. Events are kept
//! for `Service::audit_retention` ([`RETENTION`] unless `[audit] retention_days` says
//! otherwise) and then swept.

use std::time::Duration;

use serde_json::{json, Value};
use tessera_core::UserPool;
use tessera_store::AuthEvent;

use crate::directory::Directory;
use crate::input::{decode_time_cursor, encode_time_cursor, epoch_seconds, Input};
use crate::{Error, Service};

/// How long events are kept by default: three months.
pub const RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

/// What happened.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    SignIn,
    SignUp,
    ForgotPassword,
    PasswordChange,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::SignIn => "SignIn",
            Kind::SignUp => "SignUp",
            Kind::ForgotPassword => "ForgotPassword",
            Kind::PasswordChange => "PasswordChange",
        }
    }
}

/// The key feedback tokens are made with, derived from the master key: every node makes and
/// checks the same tokens, and none outlives a master-key rotation.
fn feedback_key(service: &Service) -> aws_lc_rs::hmac::Key {
    aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA256,
        &service.store.derived_key("auth-event-feedback"),
    )
}

fn feedback_message(pool_id: &str, key: &str, event_id: &str) -> String {
    format!("{pool_id}\n{key}\n{event_id}")
}

/// An event's `FeedbackToken`: an HMAC of the pool, the user and the event, so it answers for
/// that one event of that one user and cannot be made without the master key.
pub fn feedback_token(service: &Service, pool_id: &str, key: &str, event_id: &str) -> String {
    use base64::Engine;
    let tag = aws_lc_rs::hmac::sign(
        &feedback_key(service),
        feedback_message(pool_id, key, event_id).as_bytes(),
    );
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
}

/// Whether `token` is the event's feedback token (compared in constant time).
fn feedback_token_matches(
    service: &Service,
    (pool_id, key, event_id): (&str, &str, &str),
    token: &str,
) -> bool {
    use base64::Engine;
    let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token) else {
        return false;
    };
    aws_lc_rs::hmac::verify(
        &feedback_key(service),
        feedback_message(pool_id, key, event_id).as_bytes(),
        &tag,
    )
    .is_ok()
}

/// Whether a pool records events.
pub fn recorded(pool: &UserPool) -> bool {
    matches!(
        pool.settings
            .get("UserPoolAddOns")
            .and_then(|a| a.get("AdvancedSecurityMode"))
            .and_then(Value::as_str),
        Some("AUDIT" | "ENFORCED")
    )
}

/// Records an event of a user, when the pool records events. `challenges` are Cognito's
/// `ChallengeResponses` (`Password`/`Mfa` with `Success`/`Failure`).
pub async fn record(
    service: &Service,
    pool: &UserPool,
    (key, username): (&str, &str),
    kind: Kind,
    passed: bool,
    challenges: &[(&str, bool)],
) -> Result<(), Error> {
    if !recorded(pool) {
        return Ok(());
    }
    let challenges: Vec<Value> = challenges
        .iter()
        .map(|(name, ok)| {
            json!({
                "ChallengeName": name,
                "ChallengeResponse": if *ok { "Success" } else { "Failure" },
            })
        })
        .collect();
    let event = AuthEvent {
        pool_id: pool.id.clone(),
        username_key: key.to_owned(),
        event_id: service.random_uuid(),
        event_type: kind.as_str().to_owned(),
        created_at: service.clock.now(),
        response: if passed { "Pass" } else { "Fail" }.to_owned(),
        challenges: Value::Array(challenges).to_string(),
        feedback: None,
    };
    service.store.insert_auth_event(&event).await?;
    // The stream hears of the event once it is stored, without holding up the request; past
    // 64 deliveries in flight an event is not streamed (it is still listed).
    if let Some((sink, permits)) = &service.audit_sink {
        match permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let sink = sink.clone();
                let message = json!({
                    "version": "1",
                    "userPoolId": pool.id,
                    "userName": username,
                    "authEvent": event_type(&event),
                    "feedbackToken": feedback_token(service, &pool.id, key, &event.event_id),
                });
                tokio::spawn(async move {
                    sink.send(&message).await;
                    drop(permit);
                });
            }
            Err(_) => tracing::warn!(
                target: "tessera::audit",
                pool_id = %pool.id,
                "too many audit deliveries in flight: an event was not streamed"
            ),
        }
    }
    Ok(())
}

/// Cognito's refusal on a pool without advanced security. Its exact wording was not found
/// (docs/design/operations-facts.md §2.3); this one is tessera's.
fn add_on_not_enabled() -> Error {
    Error::new(
        "UserPoolAddOnNotEnabledException",
        "The user pool does not have advanced security features enabled (UserPoolAddOns.AdvancedSecurityMode is OFF).",
    )
}

fn event_type(event: &AuthEvent) -> Value {
    let mut out = json!({
        "EventId": event.event_id,
        "EventType": event.event_type,
        "CreationDate": epoch_seconds(event.created_at),
        "EventResponse": event.response,
        "EventRisk": {"RiskDecision": "NoRisk", "CompromisedCredentialsDetected": false},
        "ChallengeResponses": serde_json::from_str::<Value>(&event.challenges).unwrap_or_else(|_| json!([])),
    });
    if let Some((value, provider, at)) = &event.feedback {
        out["EventFeedback"] = json!({
            "FeedbackValue": value,
            "Provider": provider,
            "FeedbackDate": epoch_seconds(*at),
        });
    }
    out
}

/// AdminListUserAuthEvents: the user's events, newest first.
pub async fn admin_list_user_auth_events(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    if !recorded(&directory.pool) {
        return Err(add_on_not_enabled());
    }
    let (key, _) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    // "Returns 60 events if you set MaxResults to 0, or if you don't include" it.
    let limit = match input.i64("MaxResults") {
        None | Some(0) => 60,
        Some(n) => u32::try_from(n.clamp(1, 60)).unwrap_or(60),
    };
    let after = input.str("NextToken").map(decode_time_cursor).transpose()?;
    let mut events = state
        .store
        .auth_events(
            &directory.pool.id,
            &key,
            after.as_ref().map(|(at, id)| (*at, id.as_str())),
            limit + 1,
        )
        .await?;
    let next = if events.len() > limit as usize {
        events.truncate(limit as usize);
        events
            .last()
            .map(|last| encode_time_cursor(last.created_at, &last.event_id))
    } else {
        None
    };
    let mut out = json!({ "AuthEvents": events.iter().map(event_type).collect::<Vec<_>>() });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

/// AdminUpdateAuthEventFeedback: an administrator marks an event valid or invalid.
pub async fn admin_update_auth_event_feedback(
    state: &Service,
    input: Input,
) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    if !recorded(&directory.pool) {
        return Err(add_on_not_enabled());
    }
    let (key, _) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    let event_id = input.required_str("EventId")?;
    let value = input.required_str("FeedbackValue")?;
    give_feedback(state, &directory.pool.id, &key, event_id, (value, "Admin")).await
}

/// UpdateAuthEventFeedback: a user marks their own event valid or invalid, with the event's
/// feedback token (no credentials: the token is the authority).
pub async fn update_auth_event_feedback(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    if !recorded(&directory.pool) {
        return Err(add_on_not_enabled());
    }
    // Cognito's wording for a wrong token was not found; this one is tessera's. An unknown
    // user gets the same answer: a caller without credentials learns nothing of who exists.
    let refused = || {
        Error::new(
            "NotAuthorizedException",
            "Invalid feedback token for this event.",
        )
    };
    let key = match directory.get(state, input.required_str("Username")?).await {
        Ok((key, _)) => key,
        Err(e) if e.kind == "UserNotFoundException" => return Err(refused()),
        Err(e) => return Err(e),
    };
    let event_id = input.required_str("EventId")?;
    let token = input.required_str("FeedbackToken")?;
    if !feedback_token_matches(state, (&directory.pool.id, &key, event_id), token) {
        return Err(refused());
    }
    let value = input.required_str("FeedbackValue")?;
    // The submitter Cognito names for a user's feedback was not found; "User" is tessera's.
    give_feedback(state, &directory.pool.id, &key, event_id, (value, "User")).await
}

async fn give_feedback(
    state: &Service,
    pool_id: &str,
    key: &str,
    event_id: &str,
    (value, provider): (&str, &str),
) -> Result<Value, Error> {
    let found = state
        .store
        .set_auth_event_feedback(pool_id, key, event_id, (value, provider, state.clock.now()))
        .await?;
    if !found {
        // Cognito's wording for an unknown event was not found; this one is tessera's.
        return Err(Error::not_found(format!(
            "Auth event {} not found.",
            tessera_core::excerpt(event_id)
        )));
    }
    Ok(json!({}))
}
