//! Address blocks (`10.0.0.0/8`, `2001:db8::/32`) for the `ip_in` and `ip_not_in`
//! conditions of a policy rule, parsed with `std::net` alone.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An IPv4 or IPv6 block: an address whose bits after `prefix` are zero.
///
/// Written and read as text: `ADDR/PREFIX`, or a bare address for a block of one
/// (`/32` or `/128`). Deserialising refuses a bad block with the offending text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The first address of the block.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The number of leading bits every address of the block shares.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// True when `ip` lies in the block. An IPv4 address written as IPv6 (`::ffff:10.0.0.1`,
    /// as a dual-stack listener reports it) is compared as the IPv4 address it is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask_u32(self.prefix);
                u32::from(ip) & mask == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask_u128(self.prefix);
                u128::from(ip) & mask == u128::from(net)
            }
            _ => false,
        }
    }
}

/// The IPv4 netmask with `prefix` leading ones (`prefix` at most 32).
fn mask_u32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// The IPv6 netmask with `prefix` leading ones (`prefix` at most 128).
fn mask_u128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// True when `ip` has no bit set after its first `prefix` bits.
fn is_network(ip: IpAddr, prefix: u8) -> bool {
    match ip {
        IpAddr::V4(v4) => u32::from(v4) & !mask_u32(prefix) == 0,
        IpAddr::V6(v6) => u128::from(v6) & !mask_u128(prefix) == 0,
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// Reads `ADDR/PREFIX` or a bare `ADDR`. A block whose address has bits set after the
    /// prefix (`10.1.2.3/8`) is refused rather than silently widened: it is usually a typo
    /// for a single address or for another block.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| format!("{s:?} is not an IP address or CIDR block: {why}");
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad("bad address"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().map_err(|_| bad("bad prefix length"))?
            }
            Some(_) => return Err(bad("bad prefix length")),
        };
        if prefix > max {
            return Err(bad(&format!("the prefix length is at most {max}")));
        }
        if !is_network(network, prefix) {
            return Err(bad("the address has bits set after the prefix"));
        }
        Ok(Cidr { network, prefix })
    }
}

impl TryFrom<String> for Cidr {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Cidr> for String {
    fn from(cidr: Cidr) -> String {
        cidr.to_string()
    }
}

impl fmt::Display for Cidr {
    /// Always with the prefix length, so a bare address prints as `ADDR/32` or `ADDR/128`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_blocks() {
        let block = cidr("10.0.0.0/8");
        assert!(block.contains(ip("10.0.0.0")));
        assert!(block.contains(ip("10.255.255.255")));
        assert!(!block.contains(ip("11.0.0.0")));
        assert!(!block.contains(ip("9.255.255.255")));
        assert!(cidr("192.168.1.0/24").contains(ip("192.168.1.77")));
        assert!(!cidr("192.168.1.0/24").contains(ip("192.168.2.1")));
    }

    #[test]
    fn ipv6_blocks() {
        let block = cidr("2001:db8::/32");
        assert!(block.contains(ip("2001:db8::1")));
        assert!(block.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(!block.contains(ip("2001:db9::")));
        assert!(!block.contains(ip("10.0.0.1")));
        assert!(!cidr("10.0.0.0/8").contains(ip("2001:db8::1")));
    }

    #[test]
    fn bare_addresses_and_the_extreme_prefixes() {
        assert_eq!(cidr("203.0.113.7").prefix(), 32);
        assert_eq!(cidr("203.0.113.7").to_string(), "203.0.113.7/32");
        assert!(cidr("203.0.113.7").contains(ip("203.0.113.7")));
        assert!(!cidr("203.0.113.7").contains(ip("203.0.113.8")));
        assert_eq!(cidr("::1").to_string(), "::1/128");
        assert!(cidr("::1").contains(ip("::1")));
        assert!(cidr("0.0.0.0/0").contains(ip("255.255.255.255")));
        assert!(cidr("::/0").contains(ip("2001:db8::1")));
        assert!(!cidr("::/0").contains(ip("127.0.0.1")));
    }

    #[test]
    fn ipv4_mapped_client_addresses_match_ipv4_blocks() {
        assert!(cidr("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
        assert!(!cidr("10.0.0.0/8").contains(ip("::ffff:11.1.2.3")));
    }

    #[test]
    fn bad_blocks_are_refused_with_their_text() {
        for bad in [
            "10.0.0.0/33",
            "2001:db8::/129",
            "10.1.2.3/8",
            "2001:db8::1/32",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/08x",
            "10.0.0.0/0008",
            "10.0.0/8",
            "corp.example/8",
            " 10.0.0.0/8",
            "",
        ] {
            let err = bad.parse::<Cidr>().unwrap_err();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }

    #[test]
    fn serde_uses_the_text_form() {
        let blocks: Vec<Cidr> = serde_json::from_str(r#"["10.0.0.0/8", "::1"]"#).unwrap();
        assert_eq!(blocks, [cidr("10.0.0.0/8"), cidr("::1/128")]);
        assert_eq!(
            serde_json::to_string(&blocks).unwrap(),
            r#"["10.0.0.0/8","::1/128"]"#
        );
        let err = serde_json::from_str::<Cidr>(r#""10.0.0.0/40""#).unwrap_err();
        assert!(err.to_string().contains("10.0.0.0/40"), "{err}");
    }
}
