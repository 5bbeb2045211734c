//! One guarded GET of a JSON document (node-oidc-provider's `fetch_request` checks the same
//! things): the scheme and every resolved address are checked against the [`Policy`], the
//! connection goes to the checked address (reqwest is told the address, so it does no second
//! DNS lookup that could answer differently), and the answer must be a 200 with a JSON
//! content type and a body under the limit, read in pieces so a large body is cut off early.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::Value;
use url::{Host, Url};

use super::address::{classify, AddressClass, Policy};

/// How long a fetch may take in all, connecting included.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest body read.
pub const MAX_BODY: usize = 256 * 1024;

/// Why a fetch was refused or failed. For the log: the caller answers with its own error.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("not a usable URL")]
    BadUrl,
    #[error("the scheme {0} is not allowed")]
    Scheme(String),
    #[error("the host resolves to a {1:?} address ({0}), which is not allowed")]
    Address(IpAddr, AddressClass),
    #[error("the host could not be resolved")]
    Resolve,
    #[error("no answer within the timeout")]
    TimedOut,
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("the answer was HTTP {0}")]
    Status(u16),
    #[error("the answer is not JSON")]
    ContentType,
    #[error("the answer is larger than {MAX_BODY} bytes")]
    TooLarge,
    #[error("the answer is not valid JSON")]
    Json,
}

/// The one address to connect to: every address the host has must be allowed (a host with one
/// public and one internal address is refused), and the first one is used.
pub(crate) async fn checked_address(url: &Url, policy: &Policy) -> Result<SocketAddr, FetchError> {
    let port = url.port_or_known_default().ok_or(FetchError::BadUrl)?;
    let addresses: Vec<SocketAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::new(ip.into(), port)],
        Some(Host::Domain(domain)) => tokio::net::lookup_host((domain, port))
            .await
            .map_err(|_| FetchError::Resolve)?
            .collect(),
        None => return Err(FetchError::BadUrl),
    };
    for address in &addresses {
        if !policy.allows(address.ip()) {
            return Err(FetchError::Address(address.ip(), classify(address.ip())));
        }
    }
    addresses.first().copied().ok_or(FetchError::Resolve)
}

/// GETs `url` as JSON under the SSRF guard, all of it (the DNS lookup too) within [`TIMEOUT`].
pub async fn fetch_json(url: &str, policy: &Policy) -> Result<Value, FetchError> {
    tokio::time::timeout(TIMEOUT, fetch(url, policy))
        .await
        .map_err(|_| FetchError::TimedOut)?
}

async fn fetch(url: &str, policy: &Policy) -> Result<Value, FetchError> {
    let url = Url::parse(url).map_err(|_| FetchError::BadUrl)?;
    if !policy.allows_scheme(url.scheme()) {
        return Err(FetchError::Scheme(url.scheme().to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FetchError::BadUrl);
    }
    let address = checked_address(&url, policy).await?;
    let mut builder = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .connect_timeout(TIMEOUT);
    if let Some(Host::Domain(domain)) = url.host() {
        builder = builder.resolve(domain, address);
    }
    let client = builder.build()?;
    let mut response = client
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(FetchError::Status(response.status().as_u16()));
    }
    let json_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || v == "application/jwk-set+json");
    if !json_type {
        return Err(FetchError::ContentType);
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|_| FetchError::Json)
}
