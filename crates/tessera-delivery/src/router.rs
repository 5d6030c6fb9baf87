//! Choosing the channel: e-mail to SMTP when configured, SMS to the webhook when configured, and
//! everything else to the development outbox.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use tessera_core::Clock;

use crate::sms_webhook::SmsWebhook;
use crate::smtp::SmtpMailer;
use crate::{Channel, Deliver, DeliveryConfig, DeliveryError, Message, Outbox};

/// Routes e-mail to SMTP when configured, SMS to the webhook when configured, and everything else
/// to the development outbox. Built once at start-up and shared.
pub struct Router {
    smtp: Option<SmtpMailer>,
    sms_webhook: Option<SmsWebhook>,
    outbox: Outbox,
}

impl Router {
    /// Builds the configured transports, with `clock` as the time of outbox lines and mail
    /// `Date` headers. With SMTP configured this must run inside a Tokio runtime, because the
    /// SMTP connection pool runs a task on it.
    pub fn new(config: DeliveryConfig, clock: Arc<dyn Clock>) -> Result<Self, DeliveryError> {
        let smtp = config
            .smtp
            .as_ref()
            .map(|smtp| SmtpMailer::new(smtp, Arc::clone(&clock)))
            .transpose()?;
        let sms_webhook = config
            .sms_webhook
            .as_ref()
            .map(SmsWebhook::new)
            .transpose()?;
        Ok(Self {
            smtp,
            sms_webhook,
            outbox: Outbox::new(config.outbox_path, clock),
        })
    }

    /// The development outbox file, for the endpoint that reads it with [`Outbox::read`].
    pub fn outbox_path(&self) -> &Path {
        self.outbox.path()
    }

    /// Whether messages on `channel` go to a real transport rather than to the outbox.
    pub fn is_configured(&self, channel: Channel) -> bool {
        match channel {
            Channel::Email => self.smtp.is_some(),
            Channel::Sms => self.sms_webhook.is_some(),
        }
    }
}

/// Routes e-mail to SMTP when configured, SMS to the webhook when configured, and everything else
/// to the development outbox. Uses the system clock; [`Router::new`] takes another.
pub fn deliverer(config: DeliveryConfig) -> Result<Arc<Router>, DeliveryError> {
    Router::new(config, Arc::new(SystemClock)).map(Arc::new)
}

#[async_trait::async_trait]
impl Deliver for Router {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        if message.destination.trim().is_empty() {
            return Err(DeliveryError::InvalidAddress(format!(
                "the {} destination is empty",
                message.channel
            )));
        }
        let (transport, sent) = match (message.channel, &self.smtp, &self.sms_webhook) {
            (Channel::Email, Some(smtp), _) => ("smtp", smtp.send(message).await),
            (Channel::Sms, _, Some(webhook)) => ("sms_webhook", webhook.send(message).await),
            _ => return self.outbox.deliver(message).await,
        };
        // The body is never logged: it holds the code or the temporary password.
        match &sent {
            Ok(()) => tracing::info!(
                pool_id = %message.pool_id,
                username = %message.username,
                channel = %message.channel,
                purpose = %message.purpose,
                transport,
                "message delivered"
            ),
            Err(error) => tracing::warn!(
                pool_id = %message.pool_id,
                username = %message.username,
                channel = %message.channel,
                purpose = %message.purpose,
                transport,
                %error,
                "message delivery failed"
            ),
        }
        sent
    }
}

/// The real time, for [`deliverer`]. The domain crate has only the trait, because reading the
/// clock is IO and the domain does none; this crate does IO anyway.
struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
