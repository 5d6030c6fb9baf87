//! Delivery configuration, as the `[delivery.smtp]` and `[delivery.sms_webhook]` tables of the
//! config file describe it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// Where messages go. A channel left `None` falls back to the outbox.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// E-mail over SMTP, when configured.
    pub smtp: Option<SmtpConfig>,
    /// SMS through an HTTP webhook, when configured.
    pub sms_webhook: Option<SmsWebhookConfig>,
    /// The development outbox, normally `<data-dir>/outbox.jsonl`.
    pub outbox_path: PathBuf,
}

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    /// Plain text, for a relay on the same host or a test server. Credentials would travel in the
    /// clear, so only use it on loopback or a trusted network.
    None,
    /// Plain connection upgraded with `STARTTLS`, which must succeed (usually port 587).
    #[default]
    Starttls,
    /// TLS from the first byte, "implicit TLS" or SMTPS (usually port 465).
    Tls,
}

/// The `[delivery.smtp]` table.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The SMTP server's host name; with TLS it is also the name its certificate must carry.
    pub host: String,
    /// The SMTP server's port.
    pub port: u16,
    /// `none`, `starttls` (the default) or `tls`.
    #[serde(default)]
    pub security: SmtpSecurity,
    /// The user to authenticate as; no authentication when absent.
    pub username: Option<String>,
    /// The password for `username`.
    pub password: Option<String>,
    /// The sender, `Name <address>` or a bare address.
    pub from: String,
    /// How long one connection or command may take; 10 seconds when absent.
    pub timeout_seconds: Option<u64>,
}

/// The password is left out because `Debug` output ends up in logs.
impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .field("timeout_seconds", &self.timeout_seconds)
            .finish()
    }
}

/// The `[delivery.sms_webhook]` table.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsWebhookConfig {
    /// The `http` or `https` URL that receives a JSON POST per text message.
    pub url: String,
    /// Extra request headers, typically `Authorization`.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// How long one request may take; 10 seconds when absent.
    pub timeout_seconds: Option<u64>,
}

/// The URL and the header values are left out because they often carry an API token, and
/// `Debug` output ends up in logs.
impl fmt::Debug for SmsWebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsWebhookConfig")
            .field("url", &"<redacted>")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("timeout_seconds", &self.timeout_seconds)
            .finish()
    }
}

/// The timeout used when a table does not give one.
pub(crate) const DEFAULT_TIMEOUT_SECONDS: u64 = 10;

/// Turns an optional `timeout_seconds` into a duration, refusing zero because a zero timeout
/// would make every delivery fail in a way that looks like a network problem.
pub(crate) fn timeout(
    table: &str,
    seconds: Option<u64>,
) -> Result<std::time::Duration, crate::DeliveryError> {
    match seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS) {
        0 => Err(crate::DeliveryError::InvalidConfig(format!(
            "{table}.timeout_seconds must be at least 1"
        ))),
        seconds => Ok(std::time::Duration::from_secs(seconds)),
    }
}
