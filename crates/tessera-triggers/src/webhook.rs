//! The webhook target: the event POSTed to a URL and signed as the Standard Webhooks
//! specification says, so that receivers verify it with the `standardwebhooks` packages.

use std::time::{Duration, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::{Client, Url};
use tessera_core::{Clock, Random};

use crate::router::{read_answer, service_error, transport, Answer};
use crate::{ConfigError, InvokeError};

const SECRET_PREFIX: &str = "whsec_";

/// A signing secret: the key bytes of a `whsec_<base64>` secret.
#[derive(Clone)]
pub struct WebhookSecret(hmac::Key);

impl WebhookSecret {
    /// Reads a `whsec_` secret. The specification asks for 24 to 64 bytes of key; tessera
    /// refuses fewer than 24, since a short key is a weak one.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or_else(|| {
            ConfigError("a webhook secret starts with whsec_ (Standard Webhooks)".into())
        })?;
        let key = STANDARD
            .decode(encoded)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded))
            .map_err(|_| ConfigError("a webhook secret is whsec_ and base64".into()))?;
        if !(24..=64).contains(&key.len()) {
            return Err(ConfigError(format!(
                "a webhook secret holds 24 to 64 bytes of key; this one holds {}",
                key.len()
            )));
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, &key)))
    }
}

/// The `webhook-signature` value for a message: `v1,<base64 HMAC-SHA256 of
/// "{id}.{timestamp}.{body}">` for each secret, separated by spaces.
pub fn sign(secrets: &[WebhookSecret], id: &str, timestamp: u64, body: &[u8]) -> String {
    let mut content = Vec::with_capacity(id.len() + body.len() + 24);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.to_string().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    secrets
        .iter()
        .map(|secret| format!("v1,{}", STANDARD.encode(hmac::sign(&secret.0, &content))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One webhook.
pub(crate) struct Webhook {
    client: Client,
    url: Url,
    secrets: Vec<WebhookSecret>,
}

impl Webhook {
    pub(crate) fn new(client: Client, url: &str, secrets: &[String]) -> Result<Self, ConfigError> {
        // The URL is never quoted in an error: it may carry a token.
        let url: Url = url
            .parse()
            .map_err(|_| ConfigError("a webhook is not a URL".into()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError("a webhook must be an http or https URL".into()));
        }
        if secrets.is_empty() {
            return Err(ConfigError(
                "a webhook needs at least one secret to sign its calls".into(),
            ));
        }
        let secrets = secrets
            .iter()
            .map(|secret| WebhookSecret::parse(secret))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            client,
            url,
            secrets,
        })
    }

    /// Where calls go, for the log: scheme, host and port, never the path or query, which
    /// may carry a token.
    pub(crate) fn describe(&self) -> String {
        format!(
            "webhook {}://{}{}",
            self.url.scheme(),
            self.url.host_str().unwrap_or_default(),
            self.url.port().map(|p| format!(":{p}")).unwrap_or_default()
        )
    }

    pub(crate) async fn call(
        &self,
        body: Vec<u8>,
        timeout: Duration,
        clock: &dyn Clock,
        random: &dyn Random,
    ) -> Result<serde_json::Value, InvokeError> {
        let mut id = [0u8; 16];
        random.fill(&mut id);
        let id = format!("msg_{}", hex::encode(id));
        let timestamp = clock
            .now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let signature = sign(&self.secrets, &id, timestamp, &body);
        let mut signature = HeaderValue::from_str(&signature)
            .map_err(|_| service_error("unencodable signature"))?;
        signature.set_sensitive(true);
        let response = self
            .client
            .post(self.url.clone())
            .timeout(timeout)
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let answer = read_answer(response).await?;
        if status.is_success() {
            return answer.into_event();
        }
        // A receiver fails the trigger the way a Lambda function does: with its
        // `errorMessage`. Any other refusal is the receiver's own trouble.
        match answer {
            Answer::Json(value) => match value.get("errorMessage").and_then(|m| m.as_str()) {
                Some(message) => Err(InvokeError::Function(message.to_owned())),
                None => Err(service_error(format!(
                    "the webhook answered HTTP {} without an errorMessage",
                    status.as_u16()
                ))),
            },
            Answer::Other => Err(service_error(format!(
                "the webhook answered HTTP {}",
                status.as_u16()
            ))),
        }
    }
}

/// The audit stream (issue 16): users' authentication events POSTed to a webhook and signed
/// as the triggers' webhooks are (Standard Webhooks), so one receiver verifies both.
pub struct AuditWebhook {
    webhook: Webhook,
    clock: std::sync::Arc<dyn Clock>,
    random: std::sync::Arc<dyn Random>,
}

impl AuditWebhook {
    /// A stream to `url`, signed with `secrets` (`whsec_…`).
    pub fn new(
        url: &str,
        secrets: &[String],
        clock: std::sync::Arc<dyn Clock>,
        random: std::sync::Arc<dyn Random>,
    ) -> Result<Self, ConfigError> {
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| ConfigError("cannot build the HTTP client".into()))?;
        Ok(Self {
            webhook: Webhook::new(client, url, secrets)?,
            clock,
            random,
        })
    }
}

#[async_trait::async_trait]
impl tessera_core::trigger::AuditSink for AuditWebhook {
    async fn send(&self, event: &serde_json::Value) {
        let body = event.to_string().into_bytes();
        let outcome = self
            .webhook
            .call(
                body,
                Duration::from_secs(5),
                self.clock.as_ref(),
                self.random.as_ref(),
            )
            .await;
        // The event holds no secret, but the log line names only where it went.
        match outcome {
            Ok(_) => {
                tracing::debug!(target: "tessera::audit", to = %self.webhook.describe(), "audit event delivered")
            }
            Err(error) => {
                tracing::warn!(target: "tessera::audit", to = %self.webhook.describe(), %error, "audit event not delivered")
            }
        }
    }
}
