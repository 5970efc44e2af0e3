//! The text form of multiaddrs, as far as connection security needs it: walking the
//! components, the PeerId of the last `/p2p/` (or legacy `/ipfs/`) component, and the
//! TCP socket address to dial.
//!
//! Not a full multiaddr library: the binary form is not implemented, and only the
//! protocols listed in [`PROTOCOLS`] are known (an unknown name is an error rather than a
//! guess, because whether a component takes a value decides how the rest is read).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::{fmt, str::FromStr};

use crate::identity::{Error, PeerId};

/// Known protocol names and whether each takes a value (multicodec table names).
pub const PROTOCOLS: &[(&str, bool)] = &[
    ("ip4", true),
    ("ip6", true),
    ("ip6zone", true),
    ("dns", true),
    ("dns4", true),
    ("dns6", true),
    ("dnsaddr", true),
    ("tcp", true),
    ("udp", true),
    ("p2p", true),
    ("ipfs", true),
    ("certhash", true),
    ("sni", true),
    ("p2p-circuit", false),
    ("quic", false),
    ("quic-v1", false),
    ("webtransport", false),
    ("webrtc", false),
    ("webrtc-direct", false),
    ("ws", false),
    ("wss", false),
    ("tls", false),
    ("noise", false),
    ("http", false),
    ("https", false),
];

/// Longest multiaddr text accepted: a bound on work, far above real addresses.
const MAX_TEXT_LEN: usize = 1024;

/// One component: a protocol name and its value, if the protocol takes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// The protocol name (`ip4`, `tcp`, `p2p`, …).
    pub protocol: &'static str,
    /// The value, already validated for the protocols whose value has a syntax.
    pub value: Option<String>,
}

/// A parsed multiaddr (text form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multiaddr {
    components: Vec<Component>,
}

impl Multiaddr {
    /// The components in order.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// The PeerId of the peer this address reaches: the last `/p2p/` (or `/ipfs/`)
    /// component, unless a `/p2p-circuit` follows it (then the target is not named).
    pub fn peer_id(&self) -> Result<Option<PeerId>, Error> {
        for c in self.components.iter().rev() {
            match (c.protocol, &c.value) {
                ("p2p-circuit", _) => return Ok(None),
                ("p2p" | "ipfs", Some(v)) => return v.parse().map(Some),
                _ => {}
            }
        }
        Ok(None)
    }

    /// The socket address of an `/ip4/…/tcp/…` or `/ip6/…/tcp/…` prefix, if the address
    /// starts with one.
    pub fn tcp_socket_addr(&self) -> Option<SocketAddr> {
        let [ip, tcp, ..] = self.components.as_slice() else {
            return None;
        };
        if tcp.protocol != "tcp" {
            return None;
        }
        let port: u16 = tcp.value.as_deref()?.parse().ok()?;
        let ip: IpAddr = match ip.protocol {
            "ip4" => IpAddr::V4(ip.value.as_deref()?.parse().ok()?),
            "ip6" => IpAddr::V6(ip.value.as_deref()?.parse().ok()?),
            _ => return None,
        };
        Some(SocketAddr::new(ip, port))
    }

    /// `/ip4/…/tcp/…` (or ip6) for a socket address.
    pub fn from_tcp_socket_addr(addr: SocketAddr) -> Self {
        let ip = match addr.ip() {
            IpAddr::V4(ip) => Component {
                protocol: "ip4",
                value: Some(ip.to_string()),
            },
            IpAddr::V6(ip) => Component {
                protocol: "ip6",
                value: Some(ip.to_string()),
            },
        };
        let tcp = Component {
            protocol: "tcp",
            value: Some(addr.port().to_string()),
        };
        Self {
            components: alloc::vec![ip, tcp],
        }
    }

    /// This address with `/p2p/<peer_id>` appended.
    pub fn with_peer_id(mut self, peer_id: &PeerId) -> Self {
        self.components.push(Component {
            protocol: "p2p",
            value: Some(peer_id.to_base58()),
        });
        self
    }
}

impl FromStr for Multiaddr {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let err = |reason: String| Error::InvalidMultiaddr { reason };
        if s.len() > MAX_TEXT_LEN {
            return Err(err("longer than 1024 bytes".into()));
        }
        let rest = s
            .strip_prefix('/')
            .ok_or_else(|| err("must start with '/'".into()))?;
        let mut parts = rest.split('/');
        let mut components = Vec::new();
        while let Some(name) = parts.next() {
            if name.is_empty() && components.is_empty() && rest.is_empty() {
                return Err(err("empty".into()));
            }
            let &(protocol, takes_value) = PROTOCOLS
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| err(alloc::format!("unknown protocol {name:?}")))?;
            let value = if takes_value {
                let v = parts
                    .next()
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| err(alloc::format!("/{protocol} needs a value")))?;
                validate(protocol, v)
                    .map_err(|why| err(alloc::format!("/{protocol}/{v}: {why}")))?;
                Some(v.to_string())
            } else {
                None
            };
            components.push(Component { protocol, value });
        }
        Ok(Self { components })
    }
}

fn validate(protocol: &str, v: &str) -> Result<(), &'static str> {
    match protocol {
        "ip4" => v
            .parse::<Ipv4Addr>()
            .map(drop)
            .map_err(|_| "not an IPv4 address"),
        "ip6" => v
            .parse::<Ipv6Addr>()
            .map(drop)
            .map_err(|_| "not an IPv6 address"),
        "tcp" | "udp" => v.parse::<u16>().map(drop).map_err(|_| "not a port"),
        "p2p" | "ipfs" => v.parse::<PeerId>().map(drop).map_err(|_| "not a PeerId"),
        _ => Ok(()),
    }
}

impl fmt::Display for Multiaddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.components {
            write!(f, "/{}", c.protocol)?;
            if let Some(v) = &c.value {
                write!(f, "/{v}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
    const RSA: &str = "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N";

    #[test]
    fn last_p2p_component_names_the_peer() {
        let a: Multiaddr = alloc::format!("/ip4/127.0.0.1/tcp/4001/p2p/{ED}")
            .parse()
            .unwrap();
        assert_eq!(a.peer_id().unwrap().unwrap().to_base58(), ED);
        assert_eq!(a.tcp_socket_addr(), Some("127.0.0.1:4001".parse().unwrap()));
        assert_eq!(
            a.to_string(),
            alloc::format!("/ip4/127.0.0.1/tcp/4001/p2p/{ED}")
        );

        let relayed: Multiaddr =
            alloc::format!("/dns4/relay/tcp/1/p2p/{RSA}/p2p-circuit/ipfs/{ED}")
                .parse()
                .unwrap();
        assert_eq!(relayed.peer_id().unwrap().unwrap().to_base58(), ED);

        let to_relay: Multiaddr = alloc::format!("/ip6/::1/tcp/1/p2p/{RSA}/p2p-circuit")
            .parse()
            .unwrap();
        assert_eq!(to_relay.peer_id().unwrap(), None);
        // a dns name that happens to read "p2p" is a value, not a component
        let dns: Multiaddr = "/dns4/p2p/tcp/1".parse().unwrap();
        assert_eq!(dns.peer_id().unwrap(), None);
    }

    #[test]
    fn malformed_addresses_are_named() {
        for bad in [
            "",
            "ip4/1.2.3.4",
            "/ip4/1.2.3",
            "/ip4/1.2.3.4/tcp",
            "/ip4/1.2.3.4/tcp/70000",
            "/ip4/1.2.3.4/tcp/1/p2p/notapeer",
            "/foo/bar",
            "/ip4/1.2.3.4//tcp/1",
        ] {
            assert!(
                matches!(
                    bad.parse::<Multiaddr>(),
                    Err(Error::InvalidMultiaddr { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
