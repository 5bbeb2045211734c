//! Sending one-time codes to people: by email over SMTP ([`email`]), by SMS through an HTTP
//! gateway ([`sms`]), or, for a channel without settings, into the server log, which is for
//! development only (README says how to configure both).

pub mod email;
pub mod sms;

use crate::config::Config;
use crate::pages::Pages;

/// Why a code could not be sent; the text is for the log.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("the [email] settings: {0}")]
    EmailSettings(String),
    #[error("the email could not be sent: {0}")]
    Email(String),
    #[error("the [sms] settings: {0}")]
    SmsSettings(String),
    #[error("the SMS gateway refused the message: {0}")]
    SmsRefused(String),
    #[error("the SMS gateway could not be reached: {0}")]
    SmsFailed(String),
}

/// What a code message says besides the code.
pub struct CodeMessage<'a> {
    pub code: &'a str,
    /// The application the user is signing in to.
    pub client_name: &'a str,
    /// How long the code is valid.
    pub minutes: u64,
}

/// What a CIBA approval message says.
pub struct ApprovalMessage<'a> {
    /// The application asking for the approval.
    pub client_name: &'a str,
    /// The text both devices show, if the client sent one.
    pub binding_message: Option<&'a str>,
    /// The approval page of the request.
    pub link: &'a str,
    /// How long the request lives.
    pub minutes: u64,
}

/// The configured channels.
pub struct Notifier {
    email: Option<email::Mailer>,
    sms: Option<sms::SmsGateway>,
}

impl Notifier {
    /// The channels the settings configure; a setting that cannot work is refused at start.
    pub fn new(config: &Config) -> Result<Self, NotifyError> {
        Ok(Self {
            email: config.email.as_ref().map(email::Mailer::new).transpose()?,
            sms: config.sms.as_ref().map(sms::SmsGateway::new).transpose()?,
        })
    }

    /// Emails `message` to `address` (text and HTML parts from the `email_code.txt` and
    /// `email_code.html` templates), or logs it without `[email]`.
    pub async fn email_code(
        &self,
        pages: &Pages,
        address: &str,
        message: &CodeMessage<'_>,
    ) -> Result<(), NotifyError> {
        if self.email.is_none() {
            tracing::warn!(
                to = %address,
                code = %message.code,
                "no [email] settings: the one-time code is written here instead (development only)"
            );
            return Ok(());
        }
        let context = minijinja::context! {
            code => message.code,
            client_name => message.client_name,
            minutes => message.minutes,
        };
        let subject = format!("Your sign-in code for {}", message.client_name);
        self.mail(pages, address, &subject, "email_code", context)
            .await
    }

    /// Emails a CIBA approval link to `address` (the `ciba_approval.txt` and
    /// `ciba_approval.html` templates), or logs it without `[email]`.
    pub async fn email_approval(
        &self,
        pages: &Pages,
        address: &str,
        message: &ApprovalMessage<'_>,
    ) -> Result<(), NotifyError> {
        if self.email.is_none() {
            tracing::warn!(
                to = %address,
                link = %message.link,
                "no [email] settings: the approval link is written here instead (development only)"
            );
            return Ok(());
        }
        let context = minijinja::context! {
            client_name => message.client_name,
            binding_message => message.binding_message,
            link => message.link,
            minutes => message.minutes,
        };
        let subject = format!("Approve a sign-in to {}?", message.client_name);
        self.mail(pages, address, &subject, "ciba_approval", context)
            .await
    }

    /// Mails the text and HTML parts of `template` (`TEMPLATE.txt`, `TEMPLATE.html`, which a
    /// company may override like the pages) rendered with `context`.
    async fn mail(
        &self,
        pages: &Pages,
        address: &str,
        subject: &str,
        template: &str,
        context: minijinja::Value,
    ) -> Result<(), NotifyError> {
        let Some(mailer) = &self.email else {
            return Ok(());
        };
        let render = |part: &str| {
            let name = format!("{template}.{part}");
            pages
                .render_text(&name, &context)
                .map_err(|e| NotifyError::Email(format!("template {name}: {e}")))
        };
        mailer
            .send(address, subject, render("txt")?, render("html")?)
            .await
    }

    /// Texts a CIBA approval link to `phone` (E.164), with the binding message, or logs it
    /// without `[sms]`.
    pub async fn sms_approval(
        &self,
        phone: &str,
        message: &ApprovalMessage<'_>,
    ) -> Result<(), NotifyError> {
        let binding = message
            .binding_message
            .map(|m| format!(" Check the other device shows: {m}."))
            .unwrap_or_default();
        let text = format!(
            "{} asks you to approve a sign-in.{binding} Approve or deny: {}",
            message.client_name, message.link
        );
        match &self.sms {
            Some(gateway) => gateway.send(phone, &text).await,
            None => {
                tracing::warn!(
                    to = %phone,
                    link = %message.link,
                    "no [sms] settings: the approval link is written here instead (development only)"
                );
                Ok(())
            }
        }
    }

    /// Texts `message` to `phone` (E.164), or logs it without `[sms]`.
    pub async fn sms_code(
        &self,
        phone: &str,
        message: &CodeMessage<'_>,
    ) -> Result<(), NotifyError> {
        let text = format!(
            "{} is your sign-in code for {}. It is valid for {} minutes.",
            message.code, message.client_name, message.minutes
        );
        match &self.sms {
            Some(gateway) => gateway.send(phone, &text).await,
            None => {
                tracing::warn!(
                    to = %phone,
                    code = %message.code,
                    "no [sms] settings: the one-time code is written here instead (development only)"
                );
                Ok(())
            }
        }
    }
}
