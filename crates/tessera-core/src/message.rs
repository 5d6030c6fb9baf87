//! Messages Cognito sends (codes, invitations) and the courier that carries them.
//!
//! The service renders a message with [`render`], hands it to a [`Deliver`] (the binary plugs
//! in SMTP, an SMS webhook or the development outbox from `tessera-delivery`), and reports the
//! destination to the client with [`mask_destination`], as Cognito's `CodeDeliveryDetails`
//! does. A message body holds a code or a temporary password, so it is a secret: nothing here
//! logs it, puts it in an error, or shows it in `Debug`.

mod destination;
mod error;
mod template;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use destination::mask_destination;
pub use error::DeliveryError;
pub use template::render;

/// How a message reaches its recipient; Cognito's `DeliveryMediumType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Channel {
    /// An e-mail to the user's `email` attribute.
    Email,
    /// A text message to the user's `phone_number` attribute.
    Sms,
}

impl Channel {
    /// The name Cognito uses on the wire: `EMAIL` or `SMS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "EMAIL",
            Channel::Sms => "SMS",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message to one recipient, already rendered from the pool's template.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// The user pool the recipient belongs to.
    pub pool_id: String,
    /// The recipient's username in that pool.
    pub username: String,
    /// E-mail or SMS.
    pub channel: Channel,
    /// An e-mail address, or a phone number in E.164 form (`+` and digits).
    pub destination: String,
    /// The e-mail subject; ignored for SMS.
    pub subject: Option<String>,
    /// The rendered text. E-mail bodies may contain HTML, as Cognito templates allow.
    pub body: String,
    /// Why the message is sent: `SignUp`, `ResendCode`, `ForgotPassword`, `AdminCreateUser`,
    /// `VerifyUserAttribute`, `UpdateUserAttribute`, ...
    pub purpose: String,
}

/// The body is left out because it holds a code or a temporary password, and `Debug` output
/// ends up in logs.
impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("pool_id", &self.pool_id)
            .field("username", &self.username)
            .field("channel", &self.channel)
            .field("destination", &self.destination)
            .field("subject", &self.subject)
            .field("body", &"<redacted>")
            .field("purpose", &self.purpose)
            .finish()
    }
}

/// Something that can get a message to its recipient.
#[async_trait::async_trait]
pub trait Deliver: Send + Sync {
    /// Delivers the message, or says why it could not be delivered. `Ok` means the message was
    /// handed over (to the SMTP server, the webhook or the outbox file), not that it was read.
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError>;
}
