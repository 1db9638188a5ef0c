//! Which network interface a bind's multicast goes through, chosen by what the user configured.
//!
//! Joins and multicast sends are pinned to one interface per bind and address family. In order:
//! an interface named in the configuration ([`interface_named`]); the interface holding the bind
//! address ([`interface_of`]); for a wildcard bind, the interface the routing table picks for a
//! group ([`route_interface`]): one the caller names as typical of its traffic, or else the first
//! group joined. The protocol decides which group is typical (sACN: its universe 1 group); this
//! crate knows no protocol.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use nix::sys::socket::SockaddrLike;

/// One interface, identified by name and index, with the address that selected it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Kernel name, for example `sacn0`.
    pub name: String,
    /// Kernel interface index (`ip_mreqn.imr_ifindex`, `ipv6_mreq.ipv6mr_interface`).
    pub index: u32,
    /// The interface address used for `IP_MULTICAST_IF` and as the log's identification; its
    /// family is the family of the traffic this choice is for.
    pub addr: IpAddr,
    /// Why this interface was chosen.
    pub chosen: Chosen,
}

/// How an [`Interface`] was chosen; shown in logs so operators can tell a pinned bind from a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// The bind address is assigned to this interface.
    BoundAddress,
    /// The configuration names this interface.
    Named,
    /// Wildcard bind: the routing table sends this group out of this interface.
    DefaultRoute {
        /// The group whose route decided.
        probe: IpAddr,
    },
}

impl fmt::Display for Interface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (index {}, {}", self.name, self.index, self.addr)?;
        match self.chosen {
            Chosen::BoundAddress => f.write_str(")"),
            Chosen::Named => f.write_str(", configured)"),
            Chosen::DefaultRoute { probe } => write!(f, ", default route for {probe})"),
        }
    }
}

/// Errors finding an interface.
#[derive(Debug, thiserror::Error)]
pub enum IfaceError {
    /// No local interface carries the address.
    #[error("no local interface has the address {addr}")]
    NotLocal {
        /// The address looked for.
        addr: IpAddr,
    },
    /// No interface of that name exists.
    #[error("there is no interface named '{name}'")]
    NoSuchInterface {
        /// The name given.
        name: String,
    },
    /// The named interface has no address of the family needed.
    #[error("interface '{name}' has no {family} address")]
    NoAddress {
        /// The name given.
        name: String,
        /// `IPv4` or `IPv6`.
        family: &'static str,
    },
    /// The routing table has no route to the probe group, so there is no default multicast interface.
    #[error("no route to {probe}, so there is no default multicast interface: {source}")]
    NoRoute {
        /// The probe group.
        probe: IpAddr,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// A wildcard bind with neither an interface name nor a probe group: the route of the first
    /// group joined will decide.
    #[error("wildcard bind: the interface is the route of the first group joined")]
    NotChosenYet,
    /// `getifaddrs` or `if_nametoindex` failed.
    #[error("cannot list interfaces: {0}")]
    Os(#[from] nix::Error),
}

/// The address of an `ifaddrs` entry, if it is an IPv4 or IPv6 one.
fn ip_of(sa: &nix::sys::socket::SockaddrStorage) -> Option<IpAddr> {
    match sa.family() {
        Some(nix::sys::socket::AddressFamily::Inet) => {
            sa.as_sockaddr_in().map(|s| IpAddr::V4(s.ip()))
        }
        Some(nix::sys::socket::AddressFamily::Inet6) => {
            sa.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip()))
        }
        _ => None,
    }
}

/// The interface holding `addr`.
///
/// # Errors
/// [`IfaceError::NotLocal`] if no interface has it, [`IfaceError::Os`] if listing fails.
pub fn interface_of(addr: IpAddr) -> Result<Interface, IfaceError> {
    for ifa in nix::ifaddrs::getifaddrs()? {
        if ifa.address.as_ref().and_then(ip_of) == Some(addr) {
            let index = nix::net::if_::if_nametoindex(ifa.interface_name.as_str())?;
            return Ok(Interface {
                name: ifa.interface_name,
                index,
                addr,
                chosen: Chosen::BoundAddress,
            });
        }
    }
    Err(IfaceError::NotLocal { addr })
}

/// The directed broadcast address of the subnet of `addr`, an IPv4 address of this host: its
/// host bits all set, as the kernel's local routing table has it whether or not the address
/// was configured with `brd` (`None` for a /31 or /32, or an address not found).
///
/// # Errors
/// [`IfaceError::Os`] if listing fails.
pub fn broadcast_of(addr: std::net::Ipv4Addr) -> Result<Option<std::net::Ipv4Addr>, IfaceError> {
    for ifa in nix::ifaddrs::getifaddrs()? {
        if ifa.address.as_ref().and_then(ip_of) != Some(IpAddr::V4(addr)) {
            continue;
        }
        let Some(mask) = ifa
            .netmask
            .as_ref()
            .and_then(|m| m.as_sockaddr_in())
            .map(|m| u32::from(m.ip()))
        else {
            return Ok(None);
        };
        return Ok(
            (mask.leading_ones() < 31).then(|| std::net::Ipv4Addr::from(u32::from(addr) | !mask))
        );
    }
    Ok(None)
}

/// Interface `name` with one of its addresses of the family (`v6`): for IPv6 a global one
/// before a link-local one, which multicast sends need no scope for.
///
/// # Errors
/// [`IfaceError::NoSuchInterface`], [`IfaceError::NoAddress`], or [`IfaceError::Os`].
pub fn interface_named(name: &str, v6: bool) -> Result<Interface, IfaceError> {
    let mut seen = false;
    let mut best: Option<IpAddr> = None;
    for ifa in nix::ifaddrs::getifaddrs()? {
        if ifa.interface_name != name {
            continue;
        }
        seen = true;
        let Some(a) = ifa.address.as_ref().and_then(ip_of) else {
            continue;
        };
        let better = match (a, best) {
            (IpAddr::V4(_), None) => !v6,
            (IpAddr::V6(_), None) => v6,
            (IpAddr::V6(x), Some(IpAddr::V6(b))) => {
                b.is_unicast_link_local() && !x.is_unicast_link_local()
            }
            _ => false,
        };
        if better {
            best = Some(a);
        }
    }
    let Some(addr) = best else {
        return Err(if seen {
            IfaceError::NoAddress {
                name: name.to_string(),
                family: if v6 { "IPv6" } else { "IPv4" },
            }
        } else {
            IfaceError::NoSuchInterface {
                name: name.to_string(),
            }
        });
    };
    let index = nix::net::if_::if_nametoindex(name)?;
    Ok(Interface {
        name: name.to_string(),
        index,
        addr,
        chosen: Chosen::Named,
    })
}

/// The interface the kernel would send to `probe` out of (connecting a UDP socket sends nothing).
///
/// # Errors
/// [`IfaceError::NoRoute`] without a route; others as [`interface_of`].
pub fn route_interface(probe: IpAddr) -> Result<Interface, IfaceError> {
    let any: SocketAddr = match probe {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let no_route = |source| IfaceError::NoRoute { probe, source };
    let sock = UdpSocket::bind(any).map_err(no_route)?;
    // Any port: the route depends on the address.
    sock.connect((probe, 9)).map_err(no_route)?;
    let local = sock.local_addr().map_err(no_route)?;
    let mut iface = interface_of(local.ip())?;
    iface.chosen = Chosen::DefaultRoute { probe };
    Ok(iface)
}

/// What the link watch sees of one interface: whether joins and sends through it can work now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkState {
    /// Current index; `None` when no interface of that name exists (unplugged, deleted).
    pub index: Option<u32>,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Operationally up, i.e. carrier present (`IFF_RUNNING`).
    pub running: bool,
    /// The address the bind uses is still assigned to it.
    pub has_addr: bool,
}

impl LinkState {
    /// Everything needed for multicast in and out.
    pub fn usable(&self) -> bool {
        self.index.is_some() && self.up && self.running && self.has_addr
    }

    /// What is missing, for the log ("link down, address 198.18.0.1 removed").
    pub fn problems(&self, addr: IpAddr) -> String {
        if self.index.is_none() {
            return "interface gone".to_string();
        }
        let mut p = Vec::new();
        if !self.up {
            p.push("link down".to_string());
        } else if !self.running {
            p.push("no carrier".to_string());
        }
        if !self.has_addr {
            p.push(format!("address {addr} removed"));
        }
        p.join(", ")
    }
}

/// The state of interface `name` and whether it still holds `addr` (one `getifaddrs` call).
///
/// # Errors
/// [`IfaceError::Os`] if listing fails.
pub fn link_state(name: &str, addr: IpAddr) -> Result<LinkState, IfaceError> {
    use nix::net::if_::InterfaceFlags;
    let mut state = LinkState {
        index: None,
        up: false,
        running: false,
        has_addr: false,
    };
    let mut seen = false;
    for ifa in nix::ifaddrs::getifaddrs()? {
        if ifa.interface_name != name {
            continue;
        }
        seen = true;
        state.up |= ifa.flags.contains(InterfaceFlags::IFF_UP);
        state.running |= ifa.flags.contains(InterfaceFlags::IFF_RUNNING);
        state.has_addr |= ifa.address.as_ref().and_then(ip_of) == Some(addr);
    }
    if seen {
        state.index = nix::net::if_::if_nametoindex(name).ok();
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_says_why() {
        let mut i = Interface {
            name: "sacn0".into(),
            index: 3,
            addr: "198.18.0.1".parse().unwrap(),
            chosen: Chosen::BoundAddress,
        };
        assert_eq!(i.to_string(), "sacn0 (index 3, 198.18.0.1)");
        i.chosen = Chosen::DefaultRoute {
            probe: "239.255.0.1".parse().unwrap(),
        };
        assert_eq!(
            i.to_string(),
            "sacn0 (index 3, 198.18.0.1, default route for 239.255.0.1)"
        );
        i.chosen = Chosen::Named;
        assert_eq!(i.to_string(), "sacn0 (index 3, 198.18.0.1, configured)");
    }
}
