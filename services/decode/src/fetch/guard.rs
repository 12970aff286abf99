//! The private-address guard: which IPs a download may connect to.
//!
//! Checked where it cannot be bypassed: IP-literal hosts before each request
//! (every redirect hop included), and every DNS answer inside the client's
//! resolver ([`GuardedResolver`]), so a public name that resolves to a private
//! address is refused before a connection is made.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Which addresses are allowed.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Allow every address, public or not (development only).
    pub allow_private: bool,
    /// Non-public networks allowed anyway (tests: `127.0.0.1/32`).
    pub allow_nets: Vec<IpNet>,
}

impl Guard {
    /// Whether a download may connect to `ip`: a public address, any
    /// address when private ones are allowed, or one in an allowed network.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip) || self.allow_nets.iter().any(|net| net.contains(&ip))
    }
}

/// A resolver's refusal; found again in reqwest's error chain.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves only to non-public addresses ({addr})")]
pub struct Forbidden {
    /// The name that was resolved.
    pub host: String,
    /// The first address it resolved to (all were refused).
    pub addr: IpAddr,
}

/// True for addresses on the public internet. Everything a video host
/// should never be is false: loopback, private, shared (CGNAT), link-local,
/// unique-local, unspecified, multicast, broadcast, documentation,
/// benchmarking and reserved ranges, and IPv6 forms embedding such an IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network", unspecified
        || a == 10                             // private
        || a == 127                            // loopback
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 169 && b == 254)              // link-local (cloud metadata)
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // documentation
        || (a == 192 && b == 168)              // private
        || (a == 198 && (b == 18 || b == 19))  // benchmarking
        || (a == 198 && b == 51 && c == 100)   // documentation
        || (a == 203 && b == 0 && c == 113)    // documentation
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
    match s {
        [0, 0, 0, 0, 0, 0, _, _] => false, // ::, ::1, IPv4-compatible
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => is_public_v4(embedded(hi, lo)), // NAT64
        [0x2002, hi, lo, ..] => is_public_v4(embedded(hi, lo)), // 6to4
        [0x2001, 0, ..] => false,          // Teredo
        [0x2001, 0xdb8, ..] => false,      // documentation
        [0x100, 0, 0, 0, ..] => false,     // discard
        [first, ..] => {
            (first & 0xfe00) != 0xfc00       // unique-local fc00::/7
                && (first & 0xffc0) != 0xfe80 // link-local fe80::/10
                && (first & 0xffc0) != 0xfec0 // site-local fec0::/10
                && (first & 0xff00) != 0xff00 // multicast
        }
    }
}

/// A DNS resolver that drops answers the guard refuses, and fails when none
/// is left.
pub struct GuardedResolver {
    /// The addresses answers may have.
    pub guard: Arc<Guard>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| guard.allows(a.ip()))
                .collect();
            match (allowed.is_empty(), all.first()) {
                (true, Some(refused)) => Err(Box::new(Forbidden {
                    host,
                    addr: refused.ip(),
                }) as _),
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn refuses_non_public_addresses() {
        for s in [
            "127.0.0.1",
            "127.255.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "fec0::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2002:c0a8:101::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
            "::127.0.0.1",
        ] {
            assert!(!is_public(ip(s)), "{s} must be refused");
        }
    }

    #[test]
    fn allows_public_addresses() {
        for s in [
            "8.8.8.8",
            "142.250.74.110",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "2a00:1450::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(ip(s)), "{s} must be allowed");
        }
    }

    #[test]
    fn allow_list_and_switch() {
        let guard = Guard {
            allow_private: false,
            allow_nets: vec!["127.0.0.1/32".parse().unwrap()],
        };
        assert!(guard.allows(ip("127.0.0.1")));
        assert!(!guard.allows(ip("127.0.0.2")));
        assert!(!guard.allows(ip("::1")));
        let open = Guard {
            allow_private: true,
            allow_nets: vec![],
        };
        assert!(open.allows(ip("10.0.0.1")));
    }
}
