//! Email over SMTP with `lettre`: STARTTLS (`smtp://...?tls=required`) or implicit TLS
//! (`smtps://`) through rustls, credentials from the URL, a multipart message with a text and
//! an HTML part. Credentials over an unencrypted connection are accepted only to a loopback
//! host (a local relay or a test server); anywhere else they would cross the network in clear.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::NotifyError;
use crate::config::EmailConfig;

/// How long one SMTP conversation may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The SMTP server codes are sent through, and the sender.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// Checks the settings once, at start.
    pub fn new(config: &EmailConfig) -> Result<Self, NotifyError> {
        let bad = |reason: String| NotifyError::EmailSettings(reason);
        let url = url::Url::parse(&config.smtp_url)
            .map_err(|e| bad(format!("smtp_url is not a URL: {e}")))?;
        let encrypted = url.scheme() == "smtps"
            || url
                .query_pairs()
                .any(|(k, v)| k == "tls" && (v == "required" || v == "opportunistic"));
        // `smtp:` is not a special scheme to the url crate, so an IP host arrives as text.
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(name)) => {
                name == "localhost"
                    || name
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            None => false,
        };
        if !url.username().is_empty() && !encrypted && !loopback {
            return Err(bad(
                "credentials without TLS are accepted only to a loopback host: use smtps:// or ?tls=required"
                    .into(),
            ));
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.smtp_url)
            .map_err(|e| bad(format!("smtp_url: {e}")))?
            .timeout(Some(TIMEOUT))
            .build();
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|e| bad(format!("from {:?}: {e}", config.from)))?;
        Ok(Self { transport, from })
    }

    /// Sends one message with a text and an HTML part.
    pub async fn send(
        &self,
        to: &str,
        subject: &str,
        text: String,
        html: String,
    ) -> Result<(), NotifyError> {
        let to = to
            .parse::<Mailbox>()
            .map_err(|e| NotifyError::Email(format!("the address: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| NotifyError::Email(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map_err(|e| NotifyError::Email(e.to_string()))?;
        Ok(())
    }
}
