//! POSTs to endpoints registered for a client (back-channel logout, CIBA ping and push): one
//! HTTP client with a timeout that follows no redirects, and one reading of what an attempt
//! came to, so that every queue retries and gives up alike.

use std::time::Duration;

/// How long one POST may take before it counts as a timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The HTTP client for such POSTs: the message goes to the registered URI or nowhere.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// What one POST came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    /// A 2xx answer.
    Delivered,
    /// A server error, a timeout or a failed connection: worth another attempt.
    Retry(String),
    /// A 4xx, a redirect, or a URI this client cannot send to: another attempt would not help.
    Refused(String),
}

/// Reads the result of a POST.
pub fn outcome(result: reqwest::Result<reqwest::Response>) -> Posted {
    match result {
        Ok(r) if r.status().is_success() => Posted::Delivered,
        Ok(r) if r.status().is_server_error() => Posted::Retry(format!("HTTP {}", r.status())),
        Ok(r) => Posted::Refused(format!("HTTP {}", r.status())),
        Err(e) if e.is_timeout() => Posted::Retry("timeout".to_owned()),
        // A URI this HTTP client cannot send to (such as https without TLS support built in):
        // retrying would not change that.
        Err(e) if e.is_builder() => Posted::Refused("the URI cannot be used".to_owned()),
        Err(_) => Posted::Retry("connection failed".to_owned()),
    }
}
