//! One-time codes by SMS through an HTTP gateway (Twilio-style APIs included): the `[sms]`
//! table's `body` is a minijinja template into which `to` and `text` are put already escaped
//! for the content type (JSON string escapes, or percent-encoding for a form), so whatever the
//! text holds the body stays valid. The gateway is the operator's own choice, so any `https`
//! host is accepted; plain `http` only to a loopback IP literal, where the key in the headers
//! does not cross the network. No redirect is followed (the key would follow it), and a 5xx,
//! a timeout or a failed connection is retried with a growing pause; a 4xx never is.
//!
//! The body, the text and the header values hold the code and the gateway's key: they are
//! never logged, and no error built here repeats them (nor the URL, which may hold a key).

use std::ops::RangeInclusive;
use std::time::Duration;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::Method;
use url::{Host, Url};

use super::NotifyError;
use crate::config::SmsConfig;

/// The body template's name: without `.html`, minijinja does not HTML-escape it.
const TEMPLATE: &str = "sms_body";
/// The pause before the first retry; it doubles before each next one, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The `timeout_seconds` accepted: a sign-in waits for the gateway.
const TIMEOUTS: RangeInclusive<u64> = 1..=60;
/// The most `retries` accepted: with the timeout, they bound how long a sign-in can wait.
const MAX_RETRIES: u32 = 5;

/// How `to` and `text` are escaped into the body, from `content_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFormat {
    Json,
    Form,
}

impl BodyFormat {
    fn parse(content_type: &str) -> Option<Self> {
        if content_type.eq_ignore_ascii_case("application/json") {
            Some(Self::Json)
        } else if content_type.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            Some(Self::Form)
        } else {
            None
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Form => "application/x-www-form-urlencoded",
        }
    }

    /// `value` as it may stand inside the body: for JSON, the inside of a JSON string (the
    /// template supplies the quotes); for a form, percent-encoded (`+` becomes `%2B`).
    fn escape(self, value: &str) -> String {
        match self {
            Self::Json => {
                let quoted = serde_json::Value::from(value).to_string();
                quoted
                    .strip_prefix('"')
                    .and_then(|inner| inner.strip_suffix('"'))
                    .unwrap_or(&quoted)
                    .to_owned()
            }
            Self::Form => url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        }
    }
}

/// The HTTP gateway SMS messages go through.
pub struct SmsGateway {
    client: reqwest::Client,
    url: Url,
    method: Method,
    format: BodyFormat,
    /// The configured headers, marked sensitive so that no `Debug` prints them.
    headers: HeaderMap,
    /// Holds the one template, [`TEMPLATE`].
    templates: Environment<'static>,
    retries: u32,
}

impl SmsGateway {
    /// Checks the settings once, at start.
    pub fn new(config: &SmsConfig) -> Result<Self, NotifyError> {
        let bad = |reason: String| NotifyError::SmsSettings(reason);
        let url = check_url(&config.url).map_err(bad)?;
        let method = match config.method.to_ascii_uppercase().as_str() {
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            _ => return Err(bad(format!("method {:?}: use POST or PUT", config.method))),
        };
        let format = BodyFormat::parse(&config.content_type).ok_or_else(|| {
            bad(format!(
                "content_type {:?}: use application/json or application/x-www-form-urlencoded",
                config.content_type
            ))
        })?;
        let headers = check_headers(config).map_err(bad)?;
        if !TIMEOUTS.contains(&config.timeout_seconds) {
            return Err(bad(format!(
                "timeout_seconds {}: use {} to {}",
                config.timeout_seconds,
                TIMEOUTS.start(),
                TIMEOUTS.end()
            )));
        }
        if config.retries > MAX_RETRIES {
            return Err(bad(format!(
                "retries {}: use 0 to {MAX_RETRIES}",
                config.retries
            )));
        }
        let mut templates = Environment::new();
        templates.set_auto_escape_callback(|_| AutoEscape::None);
        // A misspelt variable fails the trial render below instead of sending an empty value.
        templates.set_undefined_behavior(UndefinedBehavior::Strict);
        templates
            .add_template_owned(TEMPLATE, config.body.clone())
            .map_err(|e| bad(format!("body is not a valid template: {e}")))?;
        let timeout = Duration::from_secs(config.timeout_seconds);
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| bad(format!("the HTTP client: {e}")))?;
        let gateway = Self {
            client,
            url,
            method,
            format,
            headers,
            templates,
            retries: config.retries,
        };
        // A body that cannot render (or, for JSON, does not render as JSON) would fail every
        // sign-in: find out now, with a made-up message.
        let sample = gateway
            .render("+15550000000", "123456 is your sign-in code")
            .map_err(|e| bad(format!("body cannot be rendered: {e}")))?;
        if format == BodyFormat::Json && serde_json::from_str::<serde_json::Value>(&sample).is_err()
        {
            return Err(bad(
                "body does not render as JSON (values go in quotes: \"text\": \"{{ text }}\")"
                    .into(),
            ));
        }
        Ok(gateway)
    }

    /// Sends `text` to `to` (E.164).
    pub async fn send(&self, to: &str, text: &str) -> Result<(), NotifyError> {
        let body = self
            .render(to, text)
            .map_err(|e| NotifyError::SmsFailed(format!("body cannot be rendered: {e}")))?;
        let attempts = self.retries.saturating_add(1);
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let outcome = self
                .client
                .request(self.method.clone(), self.url.clone())
                .headers(self.headers.clone())
                .header(CONTENT_TYPE, self.format.content_type())
                .body(body.clone())
                .send()
                .await;
            let failure = match outcome {
                Ok(response) if response.status().is_success() => {
                    let status = response.status().as_u16();
                    tracing::info!(status, attempt, "the SMS gateway accepted the message");
                    return Ok(());
                }
                Ok(response) if response.status().is_server_error() => {
                    response.status().to_string()
                }
                // A 4xx will not change on retry; nor will a redirect, which is not followed.
                Ok(response) => {
                    let status = response.status();
                    tracing::warn!(
                        status = status.as_u16(),
                        attempt,
                        "the SMS gateway refused the message"
                    );
                    let note = if status.is_redirection() {
                        " (redirects are not followed)"
                    } else {
                        ""
                    };
                    return Err(NotifyError::SmsRefused(format!("{status}{note}")));
                }
                Err(e) => describe(e),
            };
            if attempt >= attempts {
                tracing::warn!(attempt, failure, "the SMS gateway could not be reached");
                return Err(NotifyError::SmsFailed(format!(
                    "{failure} (after {attempt} attempts)"
                )));
            }
            tracing::warn!(
                attempt,
                failure,
                retry_in_ms = backoff.as_millis() as u64,
                "the SMS gateway failed; retrying"
            );
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
            attempt += 1;
        }
    }

    /// The body for one message.
    fn render(&self, to: &str, text: &str) -> Result<String, minijinja::Error> {
        self.templates
            .get_template(TEMPLATE)?
            .render(minijinja::context! {
                to => self.format.escape(to),
                text => self.format.escape(text),
            })
    }
}

/// An absolute `https` URL, or `http` to a loopback IP literal (development and tests). The
/// reasons do not repeat the URL: its query may hold the gateway's key.
fn check_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("url is not an absolute URL: {e}"))?;
    let loopback = match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err("url: http:// only to a loopback IP (127.0.0.1 or [::1]); use https".into()),
        scheme => Err(format!(
            "url: the scheme {scheme} is not allowed; use https"
        )),
    }
}

/// The configured headers as HTTP headers. A `Content-Type` is refused: `content_type` sets it,
/// and decides how the values are escaped. The reasons name a header, never its value.
fn check_headers(config: &SmsConfig) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in &config.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("headers: {name:?} is not a valid header name"))?;
        if name == CONTENT_TYPE {
            return Err("headers: set content_type instead of a Content-Type header".into());
        }
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| format!("headers: the value of {name} is not a valid header value"))?;
        value.set_sensitive(true);
        headers.append(name, value);
    }
    Ok(headers)
}

/// What went wrong with a request that got no answer, without its URL.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    if error.is_timeout() {
        "no answer within timeout_seconds".into()
    } else if error.is_connect() {
        "the connection failed".into()
    } else {
        let mut text = error.to_string();
        if let Some(source) = std::error::Error::source(&error) {
            text = format!("{text}: {source}");
        }
        text
    }
}
