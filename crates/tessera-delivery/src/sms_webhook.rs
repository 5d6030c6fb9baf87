//! Text messages through an HTTP webhook: tessera POSTs
//! `{"pool_id", "username", "phone_number", "message", "purpose"}` as JSON to a configured URL,
//! and whatever sits behind it (a gateway, a queue, a test) sends the SMS.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{redirect, Client, Url};
use serde_json::json;

use crate::config::{timeout, SmsWebhookConfig};
use crate::{DeliveryError, Message};

/// Posts text messages to one webhook.
pub(crate) struct SmsWebhook {
    client: Client,
    url: Url,
}

impl SmsWebhook {
    pub(crate) fn new(config: &SmsWebhookConfig) -> Result<Self, DeliveryError> {
        // The URL is never quoted in an error: it often carries an API token.
        let url: Url = config.url.parse().map_err(|error| {
            DeliveryError::InvalidConfig(format!("sms_webhook.url is not a URL: {error}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(DeliveryError::InvalidConfig(
                "sms_webhook.url must be an http or https URL".to_owned(),
            ));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                DeliveryError::InvalidConfig(format!(
                    "sms_webhook.headers: {name:?} is not a header name"
                ))
            })?;
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                DeliveryError::InvalidConfig(format!(
                    "sms_webhook.headers: the value of {name:?} is not a valid header value"
                ))
            })?;
            // Header values are usually credentials; this keeps them out of reqwest's `Debug`.
            value.set_sensitive(true);
            headers.insert(header, value);
        }
        let client = Client::builder()
            .timeout(timeout("sms_webhook", config.timeout_seconds)?)
            .default_headers(headers)
            // A redirect would turn the POST into a GET and lose the message; a webhook that
            // moved is a configuration problem to surface, not to follow.
            .redirect(redirect::Policy::none())
            .build()
            .map_err(|error| {
                DeliveryError::InvalidConfig(format!(
                    "sms_webhook client: {}",
                    describe(&error.without_url())
                ))
            })?;
        Ok(Self { client, url })
    }

    pub(crate) async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let payload = json!({
            "pool_id": message.pool_id,
            "username": message.username,
            "phone_number": message.destination,
            "message": message.body,
            "purpose": message.purpose,
        });
        let response = self
            .client
            .post(self.url.clone())
            .json(&payload)
            .send()
            .await
            .map_err(|error| DeliveryError::Webhook(describe(&error.without_url())))?;
        let status = response.status();
        // The response body is not quoted in the error: a webhook may echo the message back.
        if !status.is_success() {
            return Err(DeliveryError::Webhook(format!(
                "the webhook answered HTTP {}",
                status.as_u16()
            )));
        }
        // Reading the (normally empty) answer lets the connection go back to the pool.
        let _ = response.bytes().await;
        Ok(())
    }
}

/// An error and its causes on one line; reqwest's own `Display` stops at "error sending
/// request", which does not tell a refused connection from a timeout.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
