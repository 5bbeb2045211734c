//! The address of the client a request came from, for code deep inside a handler (client
//! authentication's throttling, the sign-in limits, the policy's IP conditions, audit rows)
//! without threading it through every signature. A middleware sets it for the duration of
//! each request, in a task-local.
//!
//! It is the TCP peer (axum's `ConnectInfo`), unless that peer is one of the configured
//! `trusted_proxies` (SECURITY.md R35): then it is the right-most `X-Forwarded-For` entry that
//! is not itself a trusted proxy, since every proxy appends the address it saw and only the
//! entries our own proxies wrote can be believed. A header from any other peer is ignored, so a
//! client cannot choose its address; a malformed header, or one made only of trusted hops,
//! leaves the peer.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ferriam_protocol::mfa::cidr::Cidr;

tokio::task_local! {
    static PEER: SocketAddr;
}

/// The proxies whose `X-Forwarded-For` is believed: the middleware's state.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[Cidr]>);

impl TrustedProxies {
    pub fn new(blocks: &[Cidr]) -> Self {
        Self(blocks.into())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(ip))
    }

    /// The client address of a request from `peer` with `headers`. A forwarded address has
    /// port 0: the proxy's header carries no port worth believing.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if !self.trusts(peer.ip()) {
            return peer;
        }
        match forwarded_client(headers, |ip| self.trusts(ip)) {
            Some(ip) => SocketAddr::new(ip, 0),
            None => peer,
        }
    }
}

/// The right-most `X-Forwarded-For` entry (over all header lines, in order) that `trusted`
/// refuses; `None` when the header is absent, when an entry read before it is not an address,
/// or when every entry is trusted.
fn forwarded_client(headers: &HeaderMap, trusted: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
    let mut entries = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let text = value.to_str().ok()?;
        entries.extend(text.split(',').map(str::trim));
    }
    for entry in entries.iter().rev() {
        let ip = parse_entry(entry)?;
        if !trusted(ip) {
            return Some(ip.to_canonical());
        }
    }
    None
}

/// An address as proxies write it: bare (`192.0.2.1`, `2001:db8::1`) or with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// Middleware: runs the rest of the request with its client address known to [`current`].
pub async fn remember(
    State(proxies): State<TrustedProxies>,
    request: Request,
    next: Next,
) -> Response {
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => {
            let client = proxies.client(*peer, request.headers());
            PEER.scope(client, next.run(request)).await
        }
        None => next.run(request).await,
    }
}

/// The client address of the request being handled, when the server was started with it.
pub fn current() -> Option<SocketAddr> {
    PEER.try_with(|p| *p).ok()
}

/// The host an address stands for in per-address counters: IPv6 by its /64, which one host
/// usually holds entirely; IPv4-mapped addresses as IPv4.
pub fn host_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => format!("ip:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(blocks: &[&str]) -> TrustedProxies {
        let blocks: Vec<Cidr> = blocks.iter().map(|b| b.parse().unwrap()).collect();
        TrustedProxies::new(&blocks)
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", v.parse().unwrap());
        }
        headers
    }

    fn client(p: &TrustedProxies, peer: &str, values: &[&str]) -> String {
        p.client(peer.parse().unwrap(), &headers(values))
            .ip()
            .to_string()
    }

    #[test]
    fn the_header_is_believed_from_trusted_proxies_only() {
        let p = proxies(&["10.0.0.0/8", "2001:db8:ffff::/48"]);
        let peer = "10.0.0.5:40000";
        assert_eq!(client(&p, peer, &["203.0.113.9"]), "203.0.113.9");
        assert_eq!(
            client(&p, "192.0.2.7:1", &["203.0.113.9"]),
            "192.0.2.7",
            "an untrusted peer's header is ignored"
        );
        // The right-most untrusted entry: what the client wrote to the left is not believed.
        assert_eq!(
            client(&p, peer, &["1.1.1.1, 203.0.113.9, 10.1.1.1"]),
            "203.0.113.9"
        );
        assert_eq!(
            client(&p, peer, &["1.1.1.1", "203.0.113.9", "10.1.1.1"]),
            "203.0.113.9",
            "header lines are one list"
        );
        assert_eq!(
            client(&p, peer, &["garbage, 203.0.113.9:4711"]),
            "203.0.113.9",
            "with a port; junk left of the client is never read"
        );
        assert_eq!(client(&p, peer, &["[2001:db8:1::1]:443"]), "2001:db8:1::1");
        assert_eq!(client(&p, peer, &["::ffff:203.0.113.9"]), "203.0.113.9");
        // Malformed, all trusted, or absent: the peer.
        assert_eq!(client(&p, peer, &["203.0.113.9, unknown"]), "10.0.0.5");
        assert_eq!(client(&p, peer, &["203.0.113.9,"]), "10.0.0.5");
        assert_eq!(
            client(&p, peer, &["10.9.9.9, 2001:db8:ffff::1"]),
            "10.0.0.5"
        );
        assert_eq!(client(&p, peer, &[]), "10.0.0.5");
        assert_eq!(
            client(&proxies(&[]), peer, &["203.0.113.9"]),
            "10.0.0.5",
            "no trusted proxies: the header is ignored"
        );
    }

    #[test]
    fn hosts_are_keyed_by_address_or_slash_64() {
        let key = |s: &str| host_key(s.parse().unwrap());
        assert_eq!(key("192.0.2.1"), "ip:192.0.2.1");
        assert_eq!(key("::ffff:192.0.2.1"), "ip:192.0.2.1");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }
}
