//! Which addresses an outbound request may reach: public unicast only, except loopback when
//! the issuer itself is served on loopback (a development setup, where the client's JWKS is
//! served from the same machine).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// What kind of destination an IP address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Public,
    Loopback,
    /// RFC 1918 and IPv6 unique local addresses (fc00::/7, and the old site-local fec0::/10).
    Private,
    LinkLocal,
    Unspecified,
    Multicast,
    Broadcast,
    /// RFC 6598 shared address space 100.64.0.0/10 (carrier-grade NAT).
    SharedCgnat,
    /// 0.0.0.0/8 ("this network") and 240.0.0.0/4 (reserved).
    Reserved,
}

/// Classifies an address; IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and
/// NAT64 (64:ff9b::/96) IPv6 forms are classified as the IPv4 address they carry.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() {
        AddressClass::Unspecified
    } else if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_private() {
        AddressClass::Private
    } else if ip.is_link_local() {
        AddressClass::LinkLocal
    } else if ip.is_broadcast() {
        AddressClass::Broadcast
    } else if ip.is_multicast() {
        AddressClass::Multicast
    } else if a == 100 && (b & 0xc0) == 64 {
        AddressClass::SharedCgnat
    } else if a == 0 || a >= 240 {
        AddressClass::Reserved
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    let segments = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., a, b, c, d] = ip.octets();
        return classify_v4(Ipv4Addr::new(a, b, c, d));
    }
    if ip.is_unspecified() {
        return AddressClass::Unspecified;
    }
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    // IPv4-compatible ::a.b.c.d (deprecated, RFC 4291 §2.5.5.1).
    if segments[..6] == [0; 6] {
        let [.., a, b, c, d] = ip.octets();
        return classify_v4(Ipv4Addr::new(a, b, c, d));
    }
    match segments[0] {
        s if s & 0xff00 == 0xff00 => AddressClass::Multicast,
        s if s & 0xfe00 == 0xfc00 => AddressClass::Private,
        s if s & 0xffc0 == 0xfec0 => AddressClass::Private,
        s if s & 0xffc0 == 0xfe80 => AddressClass::LinkLocal,
        _ => AddressClass::Public,
    }
}

/// Where outbound requests may go, decided by the server's own issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Loopback destinations, when the issuer itself is on loopback.
    pub allow_loopback: bool,
    /// `http://` URLs, when the issuer itself is loopback `http://`.
    pub allow_http: bool,
}

impl Policy {
    /// The policy for a server with this issuer.
    pub fn for_issuer(issuer: &str) -> Self {
        let parsed = Url::parse(issuer).ok();
        let loopback = parsed.as_ref().is_some_and(|u| match u.host() {
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        });
        let http = parsed.as_ref().is_some_and(|u| u.scheme() == "http");
        Self {
            allow_loopback: loopback,
            allow_http: loopback && http,
        }
    }

    /// Whether a request may go to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        match classify(ip) {
            AddressClass::Public => true,
            AddressClass::Loopback => self.allow_loopback,
            _ => false,
        }
    }

    /// Whether a URL's scheme is allowed: `https`, or `http` for a loopback http issuer.
    pub fn allows_scheme(&self, scheme: &str) -> bool {
        scheme == "https" || (scheme == "http" && self.allow_http)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn every_special_range_is_classified() {
        use AddressClass::*;
        for (ip, want) in [
            ("8.8.8.8", Public),
            ("93.184.216.34", Public),
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("172.32.0.1", Public),
            ("192.168.0.10", Private),
            ("169.254.169.254", LinkLocal),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Reserved),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("255.255.255.255", Broadcast),
            ("240.0.0.1", Reserved),
            ("100.64.0.1", SharedCgnat),
            ("100.127.255.255", SharedCgnat),
            ("100.128.0.1", Public),
            ("100.63.255.255", Public),
            ("::1", Loopback),
            ("::", Unspecified),
            ("fc00::1", Private),
            ("fd12:3456::1", Private),
            ("fec0::1", Private),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("ff02::1", Multicast),
            ("2001:4860:4860::8888", Public),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:10.0.0.1", Private),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:100.64.0.1", SharedCgnat),
            ("::ffff:8.8.8.8", Public),
            ("::127.0.0.1", Loopback),
            ("64:ff9b::a00:1", Private),
            ("64:ff9b::808:808", Public),
        ] {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn the_issuer_decides_loopback_and_http() {
        let public = Policy::for_issuer("https://id.example.test");
        assert!(!public.allows("127.0.0.1".parse().unwrap()));
        assert!(!public.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!public.allows("10.0.0.1".parse().unwrap()));
        assert!(public.allows("8.8.8.8".parse().unwrap()));
        assert!(public.allows_scheme("https"));
        assert!(!public.allows_scheme("http"));
        let dev = Policy::for_issuer("http://127.0.0.1:8080");
        assert!(dev.allows("127.0.0.1".parse().unwrap()));
        assert!(!dev.allows("192.168.1.1".parse().unwrap()));
        assert!(dev.allows_scheme("http"));
        assert!(!dev.allows_scheme("file"));
        let local_tls = Policy::for_issuer("https://localhost:8443");
        assert!(local_tls.allows("::1".parse().unwrap()));
        assert!(!local_tls.allows_scheme("http"));
    }
}
