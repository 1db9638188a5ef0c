//! Which network interface a bind address stands for, and which one is the default for multicast.
//!
//! Joins and multicast sends are pinned to one interface per `bind` (the sACN backend README and E1.31-2018 9.3). For a specific
//! address that is the interface holding it; for a wildcard it is the interface the routing table picks
//! for the sACN group range, found by routing a probe address (see [`default_multicast_interface`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use nix::sys::socket::SockaddrLike;

/// Probe destination used to ask the kernel for the IPv4 multicast default: universe 1's group.
pub const PROBE_V4: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(239, 255, 0, 1)), 5568);
/// IPv6 probe: universe 1's group in the ETC layout (`ff18::8300:1`, E1.31-2018 9.3).
pub const PROBE_V6: SocketAddr = SocketAddr::new(
    IpAddr::V6(Ipv6Addr::new(0xff18, 0, 0, 0, 0, 0, 0x8300, 1)),
    5568,
);

/// One interface, identified by name and index, with the address that selected it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Kernel name, for example `sacn0`.
    pub name: String,
    /// Kernel interface index (`ip_mreqn.imr_ifindex`, `ipv6_mreq.ipv6mr_interface`).
    pub index: u32,
    /// The interface address used for `IP_MULTICAST_IF` and as the log's identification.
    pub addr: IpAddr,
    /// Why this interface was chosen.
    pub chosen: Chosen,
}

/// How an [`Interface`] was chosen; shown in logs so operators can tell a pinned bind from a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// The bind address is assigned to this interface.
    BoundAddress,
    /// Wildcard bind: the routing table sends this probe group out of this interface.
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
    /// The routing table has no route to the probe group, so there is no default multicast interface.
    #[error("no route to {probe}, so there is no default multicast interface: {source}")]
    NoRoute {
        /// The probe group.
        probe: SocketAddr,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// `getifaddrs` or `if_nametoindex` failed.
    #[error("cannot list interfaces: {0}")]
    Os(#[from] nix::Error),
}

/// The interface holding `addr`.
///
/// # Errors
/// [`IfaceError::NotLocal`] if no interface has it, [`IfaceError::Os`] if listing fails.
pub fn interface_of(addr: IpAddr) -> Result<Interface, IfaceError> {
    for ifa in nix::ifaddrs::getifaddrs()? {
        let Some(sa) = ifa.address else { continue };
        let found = match sa.family() {
            Some(nix::sys::socket::AddressFamily::Inet) => sa
                .as_sockaddr_in()
                .map(|s| IpAddr::V4(s.ip()))
                .filter(|a| *a == addr),
            Some(nix::sys::socket::AddressFamily::Inet6) => sa
                .as_sockaddr_in6()
                .map(|s| IpAddr::V6(s.ip()))
                .filter(|a| *a == addr),
            _ => None,
        };
        if found.is_some() {
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

/// The interface the kernel would send `probe` out of (connecting a UDP socket sends nothing).
///
/// # Errors
/// [`IfaceError::NoRoute`] without a route; others as [`interface_of`].
pub fn default_multicast_interface(probe: SocketAddr) -> Result<Interface, IfaceError> {
    let any: SocketAddr = match probe {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let no_route = |source| IfaceError::NoRoute { probe, source };
    let sock = UdpSocket::bind(any).map_err(no_route)?;
    sock.connect(probe).map_err(no_route)?;
    let local = sock.local_addr().map_err(no_route)?;
    let mut iface = interface_of(local.ip())?;
    iface.chosen = Chosen::DefaultRoute { probe: probe.ip() };
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
        let a = ifa.address.and_then(|sa| {
            sa.as_sockaddr_in()
                .map(|s| IpAddr::V4(s.ip()))
                .or_else(|| sa.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())))
        });
        state.has_addr |= a == Some(addr);
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
            probe: PROBE_V4.ip(),
        };
        assert_eq!(
            i.to_string(),
            "sacn0 (index 3, 198.18.0.1, default route for 239.255.0.1)"
        );
    }

    #[test]
    fn probe_v6_is_etc_layout_of_universe_1() {
        assert_eq!(PROBE_V6.ip().to_string(), "ff18::8300:1");
    }
}
