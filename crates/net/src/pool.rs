//! Spreads multicast memberships over as many receive sockets as the kernel's per-socket limit needs.
//!
//! Linux refuses the 21st IPv4 join on one socket with `ENOBUFS` (`net.ipv4.igmp_max_memberships`,
//! default 20), and IPv6 joins fail with `ENOMEM` once `net.core.optmem_max` is used up. A bind that
//! listens to 1,000 universes therefore needs 50 sockets. Each of them has `IP_MULTICAST_ALL` off and
//! joins its groups on the bind's interface, so every multicast datagram reaches exactly one of them.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::os::fd::AsRawFd;

use crate::error::{JoinError, RecvError};
use crate::iface::Interface;
use crate::recv::{CmsgBuf, RecvMeta, recv_meta};
use crate::socket::{into_mio, open_receiver};
use crate::sysctl;

/// Where a join landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Joined {
    /// Index of the receive socket holding the membership.
    pub socket: usize,
    /// The socket was opened by this join: register it with mio.
    pub new_socket: bool,
    /// The group was joined before; nothing changed.
    pub already: bool,
}

struct Receiver {
    sock: mio::net::UdpSocket,
    members: usize,
    /// The kernel refused a join below our count (the sysctl or optmem shrank); stop trying here.
    full: bool,
}

/// Multicast memberships of one bind on one interface, sharded over receive sockets.
pub struct MembershipPool {
    v6: bool,
    port: u16,
    iface: Interface,
    per_socket: usize,
    receivers: Vec<Receiver>,
    groups: HashMap<IpAddr, usize>,
    cmsg: CmsgBuf,
}

impl MembershipPool {
    /// An empty pool for `port` on `iface`; the address family is the interface address's. The IPv4
    /// per-socket limit is read from `/proc` now.
    pub fn new(port: u16, iface: Interface) -> Self {
        let per_socket = if iface.addr.is_ipv6() {
            usize::MAX
        } else {
            sysctl::igmp_max_memberships()
        };
        Self::with_limit(port, iface, per_socket)
    }

    /// As [`MembershipPool::new`] with an explicit memberships-per-socket limit (at least 1).
    pub fn with_limit(port: u16, iface: Interface, per_socket: usize) -> Self {
        Self {
            v6: iface.addr.is_ipv6(),
            port,
            iface,
            per_socket: per_socket.max(1),
            receivers: Vec::new(),
            groups: HashMap::new(),
            cmsg: CmsgBuf::new(),
        }
    }

    /// The interface all joins use.
    pub fn interface(&self) -> &Interface {
        &self.iface
    }

    /// Number of receive sockets.
    pub fn len(&self) -> usize {
        self.receivers.len()
    }

    /// No receive socket yet.
    pub fn is_empty(&self) -> bool {
        self.receivers.is_empty()
    }

    /// Number of groups joined.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Which receive socket holds `group`, if joined.
    pub fn socket_of(&self, group: IpAddr) -> Option<usize> {
        self.groups.get(&group).copied()
    }

    /// Receive socket `i`, for registering with mio.
    pub fn socket_mut(&mut self, i: usize) -> Option<&mut mio::net::UdpSocket> {
        self.receivers.get_mut(i).map(|r| &mut r.sock)
    }

    /// Receive socket `i`.
    pub fn socket(&self, i: usize) -> Option<&mio::net::UdpSocket> {
        self.receivers.get(i).map(|r| &r.sock)
    }

    /// Joins `group` on the pool's interface, opening a receive socket when all are full.
    ///
    /// # Errors
    /// See [`JoinError`]; the group is not joined then.
    pub fn join(&mut self, group: IpAddr) -> Result<Joined, JoinError> {
        if !group.is_multicast() {
            return Err(JoinError::NotMulticast { group });
        }
        if group.is_ipv6() != self.v6 {
            return Err(JoinError::FamilyMismatch {
                group,
                bind: (self.iface.addr, self.port).into(),
            });
        }
        if let Some(&socket) = self.groups.get(&group) {
            return Ok(Joined {
                socket,
                new_socket: false,
                already: true,
            });
        }
        for i in 0..self.receivers.len() {
            let r = &mut self.receivers[i];
            if r.full || r.members >= self.per_socket {
                continue;
            }
            match join_on(&r.sock, group, self.iface.index) {
                Ok(()) => return Ok(self.record(group, i, false)),
                Err(e) if is_limit(&e) => r.full = true,
                Err(e) => return Err(self.os_error("join", group, e)),
            }
        }
        let sock = open_receiver(self.v6, self.port).map_err(|source| JoinError::Open {
            group,
            port: self.port,
            source,
        })?;
        let sock = into_mio(sock);
        match join_on(&sock, group, self.iface.index) {
            Ok(()) => {
                self.receivers.push(Receiver {
                    sock,
                    members: 0,
                    full: false,
                });
                Ok(self.record(group, self.receivers.len() - 1, true))
            }
            Err(source) if is_limit(&source) => Err(JoinError::Limit {
                group,
                interface: self.iface.to_string(),
                sysctl: if self.v6 {
                    sysctl::IPV6_LIMIT_SYSCTL
                } else {
                    "net.ipv4.igmp_max_memberships"
                },
                source,
            }),
            Err(e) => Err(self.os_error("join", group, e)),
        }
    }

    /// Leaves `group`; `Ok(false)` if it was not joined. The socket stays open (its mio token stays
    /// valid) and takes the next join.
    ///
    /// # Errors
    /// [`JoinError::Os`] if the kernel refuses; the pool then still counts the membership.
    pub fn leave(&mut self, group: IpAddr) -> Result<bool, JoinError> {
        let Some(&i) = self.groups.get(&group) else {
            return Ok(false);
        };
        let Some(r) = self.receivers.get_mut(i) else {
            return Ok(false);
        };
        let res = match group {
            IpAddr::V4(g) => socket2::SockRef::from(&r.sock).leave_multicast_v4_n(
                &g,
                &socket2::InterfaceIndexOrAddress::Index(self.iface.index),
            ),
            IpAddr::V6(g) => {
                socket2::SockRef::from(&r.sock).leave_multicast_v6(&g, self.iface.index)
            }
        };
        match res {
            Ok(()) => {
                r.members = r.members.saturating_sub(1);
                r.full = false;
                self.groups.remove(&group);
                Ok(true)
            }
            Err(e) => Err(self.os_error("leave", group, e)),
        }
    }

    /// Joins every group again on `iface`: after the interface came back (memberships the kernel
    /// kept are confirmed, lost ones restored) or was re-created under a new index (memberships on
    /// the old index are dropped first). Sockets stay the same, so mio registrations stay valid.
    /// Returns how many groups are joined now and the failures.
    pub fn rejoin(&mut self, iface: Interface) -> (usize, Vec<JoinError>) {
        let old = self.iface.index;
        self.iface = iface;
        let mut groups: Vec<(IpAddr, usize)> = self.groups.iter().map(|(g, i)| (*g, *i)).collect();
        groups.sort_unstable();
        let (mut ok, mut errors) = (0, Vec::new());
        for (group, i) in groups {
            let Some(r) = self.receivers.get(i) else {
                continue;
            };
            if old != self.iface.index {
                let s = socket2::SockRef::from(&r.sock);
                let _ = match group {
                    IpAddr::V4(g) => {
                        s.leave_multicast_v4_n(&g, &socket2::InterfaceIndexOrAddress::Index(old))
                    }
                    IpAddr::V6(g) => s.leave_multicast_v6(&g, old),
                };
            }
            match join_on(&r.sock, group, self.iface.index) {
                Ok(()) => ok += 1,
                // The kernel kept the membership through the outage.
                Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => ok += 1,
                Err(e) => errors.push(self.os_error("rejoin", group, e)),
            }
        }
        (ok, errors)
    }

    /// One datagram from receive socket `i`. `Ok(None)`: its queue is empty (or `i` is out of range).
    ///
    /// # Errors
    /// Kernel errors other than `EAGAIN`.
    pub fn recv(&mut self, i: usize, buf: &mut [u8]) -> Result<Option<RecvMeta>, RecvError> {
        match self.receivers.get(i) {
            Some(r) => recv_meta(r.sock.as_raw_fd(), buf, &mut self.cmsg),
            None => Ok(None),
        }
    }

    /// The raw descriptor of receive socket `i` and whether the pool is IPv6.
    pub(crate) fn raw_fd(&self, i: usize) -> Option<(std::os::fd::RawFd, bool)> {
        self.receivers.get(i).map(|r| (r.sock.as_raw_fd(), self.v6))
    }

    fn record(&mut self, group: IpAddr, i: usize, new_socket: bool) -> Joined {
        if let Some(r) = self.receivers.get_mut(i) {
            r.members += 1;
        }
        self.groups.insert(group, i);
        Joined {
            socket: i,
            new_socket,
            already: false,
        }
    }

    fn os_error(&self, what: &'static str, group: IpAddr, source: io::Error) -> JoinError {
        JoinError::Os {
            what,
            group,
            interface: self.iface.to_string(),
            source,
        }
    }
}

fn join_on(sock: &mio::net::UdpSocket, group: IpAddr, ifindex: u32) -> io::Result<()> {
    let s = socket2::SockRef::from(sock);
    match group {
        // ip_mreqn by index: an interface address would be ambiguous when several interfaces share it,
        // and INADDR_ANY would let the kernel pick by route.
        IpAddr::V4(g) => {
            s.join_multicast_v4_n(&g, &socket2::InterfaceIndexOrAddress::Index(ifindex))
        }
        IpAddr::V6(g) => s.join_multicast_v6(&g, ifindex),
    }
}

/// ENOBUFS: IPv4 count limit. ENOMEM: IPv6 (and IPv4) option memory exhausted.
fn is_limit(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOBUFS | libc::ENOMEM))
}
