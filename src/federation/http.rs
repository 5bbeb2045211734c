//! The HTTP client for requests to upstream identity providers (discovery, JWKS, token,
//! userinfo), behind the server's SSRF guard (`crate::outbound`): the scheme and every address
//! the host resolves to are checked against the [`Policy`] (https, and no loopback or private
//! address unless Ferriam's own issuer is on loopback), the connection goes to the checked
//! address, no redirect is followed, and each request has a time limit and each answer a size
//! limit. Unlike `outbound::fetch_json` it sends any method and body (the token endpoint is a
//! POST) and hands the answer, whatever its status, to the `openidconnect` crate.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};

use crate::outbound::fetch::checked_address;
use crate::outbound::Policy;

/// The most an upstream's answer may hold (discovery documents and key sets are small).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// How long one request to an upstream may take, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why an outbound request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("{0}: refused by the outbound policy")]
    Refused(String),
    #[error("refused: {0}")]
    Guard(#[from] crate::outbound::FetchError),
    #[error("the response is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("request failed: {0}")]
    Failed(#[from] reqwest::Error),
    #[error("request failed: {0}")]
    Http(#[from] openidconnect::http::Error),
}

/// The client every request to an upstream goes through.
#[derive(Clone, Copy)]
pub struct Outbound {
    policy: Policy,
}

impl Outbound {
    /// A client under `policy` (`Policy::for_issuer` of Ferriam's own issuer).
    pub fn new(policy: Policy) -> Self {
        Self { policy }
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, OutboundError> {
        let uri = request.uri().to_string();
        let url = url::Url::parse(&uri).map_err(|_| OutboundError::Refused(uri.clone()))?;
        if !self.policy.allows_scheme(url.scheme())
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(OutboundError::Refused(uri));
        }
        let address = tokio::time::timeout(TIMEOUT, checked_address(&url, &self.policy))
            .await
            .map_err(|_| OutboundError::Refused(uri.clone()))??;
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT);
        if let Some(url::Host::Domain(domain)) = url.host() {
            builder = builder.resolve(domain, address);
        }
        let client = builder.build()?;
        let (parts, body) = request.into_parts();
        let mut response = client
            .request(parts.method, url)
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

impl<'c> AsyncHttpClient<'c> for Outbound {
    type Error = OutboundError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, OutboundError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
