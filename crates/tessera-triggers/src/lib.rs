//! Runs Cognito's Lambda triggers outside Lambda. The config file maps each function ARN of a
//! pool's `LambdaConfig` (exactly, or by a pattern) to a target:
//!
//! - a **webhook**: tessera POSTs the event to a URL, signed as the Standard Webhooks
//!   specification says (`webhook-id`, `webhook-timestamp`, `webhook-signature`), so receivers
//!   verify it with the `standardwebhooks` packages; the receiver answers 2xx with the event
//!   (its `response` filled in), or fails the trigger with a non-2xx answer carrying
//!   `{"errorMessage": "..."}`, Lambda's own shape for a failed function;
//! - the **Lambda Invoke API** at a configured endpoint (LocalStack, `sam local start-lambda`,
//!   serverless-offline, or AWS itself), SigV4-signed.
//!
//! [`Triggers`] implements `tessera_core::trigger::Invoke`. The event holds codes and
//! passwords: nothing here logs it or puts it in an error; each call is logged as one line
//! (trigger source, function, target, latency, outcome).

mod config;
mod lambda;
mod router;
mod webhook;

#[cfg(test)]
mod tests;

pub use config::{TargetConfig, TriggersConfig};
pub use router::Triggers;
pub use tessera_core::trigger::{Invoke, InvokeError};
pub use webhook::{sign, AuditWebhook, WebhookSecret};

/// A configuration that cannot work, found when the server starts.
#[derive(Debug, thiserror::Error)]
#[error("triggers: {0}")]
pub struct ConfigError(pub String);

/// The largest answer read from a target. Lambda's own limit for a synchronous answer is
/// 6 MB; an event with its response is a few kilobytes.
pub(crate) const MAX_ANSWER_BYTES: usize = 1 << 20;
