//! E-mail over SMTP with `lettre`.
//!
//! One transport is built at start-up and kept, so that its connection pool reuses connections
//! across messages instead of paying a TCP (and TLS) handshake for every code.
//!
//! Cognito templates may contain HTML, and Cognito sends such a template as an HTML mail. Rather
//! than carry a content type through every caller, a body is sent as `text/html` when it contains
//! something that looks like a tag (a `<` followed by a letter, `/` or `!`, with a `>` after it),
//! and as `text/plain` otherwise. A plain-text code message never has that shape, and an HTML
//! template always does. No multipart alternative is built: Cognito does not send one either.

use std::sync::Arc;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MessageBuilder};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tessera_core::Clock;

use crate::config::{timeout, SmtpConfig, SmtpSecurity};
use crate::{DeliveryError, Message};

/// Sends e-mail through one SMTP server.
pub(crate) struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    clock: Arc<dyn Clock>,
}

impl SmtpMailer {
    /// Builds the pooled transport. The pool runs a clean-up task, so this must be called from
    /// within a Tokio runtime; outside one it is a configuration error rather than a panic.
    pub(crate) fn new(config: &SmtpConfig, clock: Arc<dyn Clock>) -> Result<Self, DeliveryError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(DeliveryError::InvalidConfig(
                "the SMTP transport must be built inside a Tokio runtime".to_owned(),
            ));
        }
        if config.host.trim().is_empty() {
            return Err(DeliveryError::InvalidConfig(
                "smtp.host must not be empty".to_owned(),
            ));
        }
        let from: Mailbox = config.from.parse().map_err(|error| {
            DeliveryError::InvalidConfig(format!(
                "smtp.from {:?} is not an e-mail address: {error}",
                config.from
            ))
        })?;
        let tls_failed = |error: lettre::transport::smtp::Error| {
            DeliveryError::InvalidConfig(format!("smtp TLS setup failed: {error}"))
        };
        let mut builder = match config.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
            }
            SmtpSecurity::Starttls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                    .map_err(tls_failed)?
            }
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host).map_err(tls_failed)?
            }
        };
        builder = builder
            .port(config.port)
            .timeout(Some(timeout("smtp", config.timeout_seconds)?));
        match (&config.username, &config.password) {
            (Some(username), password) => {
                builder = builder.credentials(Credentials::new(
                    username.clone(),
                    password.clone().unwrap_or_default(),
                ));
            }
            (None, Some(_)) => {
                return Err(DeliveryError::InvalidConfig(
                    "smtp.password is set without smtp.username".to_owned(),
                ));
            }
            (None, None) => {}
        }
        Ok(Self {
            transport: builder.build(),
            from,
            clock,
        })
    }

    pub(crate) async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let to: Address = message.destination.trim().parse().map_err(|error| {
            DeliveryError::InvalidAddress(format!("not an e-mail address: {error}"))
        })?;
        let mut builder = MessageBuilder::new()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .date(self.clock.now())
            .message_id(None);
        if let Some(subject) = &message.subject {
            // A line break in the subject would end the header early and let the rest of the
            // template write headers of its own.
            builder = builder.subject(subject.replace(['\r', '\n'], " "));
        }
        let content_type = if looks_like_html(&message.body) {
            ContentType::TEXT_HTML
        } else {
            ContentType::TEXT_PLAIN
        };
        let email = builder
            .header(content_type)
            .body(message.body.clone())
            .map_err(|error| DeliveryError::InvalidAddress(error.to_string()))?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|error| DeliveryError::Smtp(error.to_string()))
    }
}

/// Whether a body contains a tag-like `<x ... >`; see the module documentation.
pub(crate) fn looks_like_html(body: &str) -> bool {
    let Some(last_close) = body.rfind('>') else {
        return false;
    };
    let bytes = body.as_bytes();
    bytes
        .iter()
        .enumerate()
        .take(last_close)
        .any(|(at, &byte)| {
            byte == b'<'
                && bytes
                    .get(at + 1)
                    .is_some_and(|next| next.is_ascii_alphabetic() || matches!(next, b'/' | b'!'))
        })
}
