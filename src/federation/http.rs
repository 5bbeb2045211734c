//! The HTTP client for requests to upstream identity providers (discovery, JWKS, token,
//! userinfo): https only, except plain http to a loopback IP literal for development; no
//! redirects followed; a time limit per request and a size limit per response.
//!
//! This is the federation's own narrow guard until the server-wide guard for outbound
//! fetches replaces it; it checks the URL's scheme and host as written and does not resolve
//! names, so it does not yet refuse an https name that resolves to a private address.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

/// The most an upstream's answer may hold (discovery documents and key sets are small).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// How long one request to an upstream may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why an outbound request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("{0}: outbound requests go to https, or http on 127.0.0.1 or [::1]")]
    Refused(String),
    #[error("the response is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("request failed: {0}")]
    Failed(#[from] reqwest::Error),
    #[error("request failed: {0}")]
    Http(#[from] openidconnect::http::Error),
}

/// The client every request to an upstream goes through.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
}

impl Outbound {
    /// A client that follows no redirects and gives up after [`TIMEOUT`].
    pub fn new() -> Result<Self, OutboundError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .build()?;
        Ok(Self { client })
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, OutboundError> {
        let uri = request.uri().to_string();
        check_url(&uri)?;
        let (parts, body) = request.into_parts();
        let mut response = self
            .client
            .request(parts.method, &uri)
            .headers(parts.headers)
            .body(body)
            .send()
            .await?;
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(OutboundError::TooLarge);
        }
        let mut builder = openidconnect::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            builder = builder.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(OutboundError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(builder.body(body)?)
    }
}

/// Refuses a URL that is not https or plain http to a loopback IP literal.
pub fn check_url(uri: &str) -> Result<(), OutboundError> {
    let parsed = url::Url::parse(uri).map_err(|_| OutboundError::Refused(uri.to_owned()))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "[::1]"));
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(OutboundError::Refused(uri.to_owned())),
    }
}

impl<'c> AsyncHttpClient<'c> for Outbound {
    type Error = OutboundError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, OutboundError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_url("https://idp.example/x").is_ok());
        assert!(check_url("http://127.0.0.1:9000/x").is_ok());
        assert!(check_url("http://[::1]:9000/x").is_ok());
        for bad in [
            "http://idp.example/x",
            "http://10.0.0.1/x",
            "http://localhost/x",
            "ftp://idp.example/x",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }
}
