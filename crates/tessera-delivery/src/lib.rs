//! Delivers the messages Cognito sends (sign-up confirmation codes, invitations with temporary
//! passwords, password-reset codes, attribute verification codes): e-mail over SMTP, SMS through
//! an HTTP webhook, and, for whatever has no real channel configured, a development outbox that
//! developers and tests can read.
//!
//! The server renders a message with [`render`], hands it to the [`Deliver`] that [`deliverer`]
//! built from the configuration, and reports the destination to the client with
//! [`mask_destination`], as Cognito's `CodeDeliveryDetails` does.
//!
//! A message body holds a code or a temporary password, so it is a secret: nothing in this crate
//! logs it, puts it in an error, or shows it in `Debug`.

mod config;
mod outbox;
mod router;
mod sms_webhook;
mod smtp;

#[cfg(test)]
mod tests;

pub use config::{DeliveryConfig, SmsWebhookConfig, SmtpConfig, SmtpSecurity};
pub use outbox::Outbox;
pub use router::{deliverer, Router};
// The message types and the courier trait belong to the domain (the service hands messages
// to whatever courier the binary plugs in); this crate provides the couriers.
pub use tessera_core::message::{
    mask_destination, render, Channel, Deliver, DeliveryError, Message,
};
