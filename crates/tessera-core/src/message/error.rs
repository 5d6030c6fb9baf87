//! What a courier reports when a message could not be handed over.

use std::path::PathBuf;

/// Everything that can go wrong while delivering a message.
///
/// No variant ever carries the message body, because the body holds a code or a temporary
/// password and errors end up in logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The delivery configuration cannot work (a bad `from` address, URL, header or timeout, or
    /// no async runtime to run the SMTP connection pool on).
    #[error("invalid delivery configuration: {0}")]
    InvalidConfig(String),
    /// The message's destination is not a usable e-mail address or phone number.
    #[error("invalid destination: {0}")]
    InvalidAddress(String),
    /// The SMTP server could not be reached or refused the message.
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    /// The SMS webhook could not be reached, timed out or answered with a non-2xx status.
    #[error("SMS webhook delivery failed: {0}")]
    Webhook(String),
    /// The development outbox could not be written or read.
    #[error("outbox {}: {source}", path.display())]
    Outbox {
        /// The outbox file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
}
