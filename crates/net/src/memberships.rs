//! Multicast memberships of one bind: one receive socket per group, bound to the group's address.
//!
//! Why one socket per group, bound to the group, and not a few sockets on the wildcard address
//! holding many memberships each:
//!
//! - **Sharing the port.** A socket on `0.0.0.0:PORT` collides with any other program's socket
//!   on the port that does not set `SO_REUSEADDR`, in both orders: patchbay could not start next
//!   to a visualiser on `127.0.0.2:5568`, and a visualiser started after patchbay could not bind.
//!   A socket bound to `239.255.0.1:5568` collides only with sockets on that group or the
//!   wildcard. So patchbay holds the wildcard only when its configuration says so.
//! - **No per-datagram scan.** Linux finds a multicast datagram's sockets by address and port
//!   (`__udp4_lib_mcast_deliver` hashes both once a port has more than 10 sockets), then asks
//!   each whether it joined the group (`ip_mc_sf_allow` walks its membership list). With 50
//!   wildcard sockets of 20 memberships each that was 1,000 comparisons per datagram at 1,000
//!   universes; a group-bound socket is found by the hash and has one membership.
//! - **No membership limit.** `net.ipv4.igmp_max_memberships` (20 per socket) and the IPv6
//!   option memory no longer shard anything.
//!
//! The price is a descriptor per group ([`crate::fdlimit`]) and a read per datagram where a
//! shared socket could batch several groups.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, RawFd};

use crate::error::JoinError;
use crate::fdlimit;
use crate::holder::{PortUse, Proto};
use crate::iface::Interface;
use crate::socket::{into_mio, open_group};
use crate::sysctl;

/// Where a join landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Joined {
    /// Index of the receive socket holding the membership ([`crate::SocketId::Receiver`]).
    pub socket: usize,
    /// The socket was opened by this join: register it with mio.
    pub new_socket: bool,
    /// The group was joined before; nothing changed.
    pub already: bool,
}

/// A group's receive socket.
struct GroupSocket {
    sock: mio::net::UdpSocket,
    group: IpAddr,
    /// Index of the interface the membership is on.
    ifindex: u32,
}

/// The groups one bind joined, each on its own socket bound to `GROUP:PORT`.
pub struct Memberships {
    port: u16,
    /// Socket `i`, or `None` after its group was left (the index is reused by the next join, so
    /// mio tokens stay small and dense).
    sockets: Vec<Option<GroupSocket>>,
    by_group: HashMap<IpAddr, usize>,
    free: Vec<usize>,
}

impl Memberships {
    /// No memberships yet, for groups on `port`.
    pub(crate) fn new(port: u16) -> Self {
        Self {
            port,
            sockets: Vec::new(),
            by_group: HashMap::new(),
            free: Vec::new(),
        }
    }

    /// Socket slots (open sockets and slots left free by [`crate::UdpEndpoint::leave`]).
    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    /// No socket yet.
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// Number of groups joined, i.e. of open sockets.
    pub fn group_count(&self) -> usize {
        self.by_group.len()
    }

    /// Which receive socket holds `group`, if joined.
    pub fn socket_of(&self, group: IpAddr) -> Option<usize> {
        self.by_group.get(&group).copied()
    }

    /// The group receive socket `i` is bound to.
    pub fn group_of(&self, i: usize) -> Option<IpAddr> {
        self.slot(i).map(|s| s.group)
    }

    /// Receive socket `i`, for registering with mio.
    pub(crate) fn socket_mut(&mut self, i: usize) -> Option<&mut mio::net::UdpSocket> {
        self.sockets
            .get_mut(i)
            .and_then(Option::as_mut)
            .map(|s| &mut s.sock)
    }

    /// Receive socket `i`.
    pub fn socket(&self, i: usize) -> Option<&mio::net::UdpSocket> {
        self.slot(i).map(|s| &s.sock)
    }

    fn slot(&self, i: usize) -> Option<&GroupSocket> {
        self.sockets.get(i).and_then(Option::as_ref)
    }

    /// Indices of the open receive sockets.
    pub fn open_sockets(&self) -> impl Iterator<Item = usize> + '_ {
        self.sockets
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|_| i))
    }

    /// Joins `group` on `iface` with a new socket bound to the group.
    ///
    /// # Errors
    /// See [`JoinError`]; nothing is kept open then.
    pub(crate) fn join(&mut self, group: IpAddr, iface: &Interface) -> Result<Joined, JoinError> {
        if !group.is_multicast() {
            return Err(JoinError::NotMulticast { group });
        }
        if let Some(&socket) = self.by_group.get(&group) {
            return Ok(Joined {
                socket,
                new_socket: false,
                already: true,
            });
        }
        let sock = self.open(group)?;
        match join_on(&sock, group, iface.index) {
            Ok(()) => {}
            Err(source) if is_limit(&source) => {
                return Err(JoinError::Limit {
                    group,
                    interface: iface.to_string(),
                    sysctl: if group.is_ipv6() {
                        sysctl::IPV6_LIMIT_SYSCTL
                    } else {
                        "net.ipv4.igmp_max_memberships"
                    },
                    source,
                });
            }
            Err(e) => return Err(os_error("join", group, iface, e)),
        }
        let entry = GroupSocket {
            sock,
            group,
            ifindex: iface.index,
        };
        let socket = match self.free.pop() {
            Some(i) => {
                self.sockets[i] = Some(entry);
                i
            }
            None => {
                self.sockets.push(Some(entry));
                self.sockets.len() - 1
            }
        };
        self.by_group.insert(group, socket);
        Ok(Joined {
            socket,
            new_socket: true,
            already: false,
        })
    }

    /// A socket bound to `group`; when the process is out of descriptors, raises the soft limit
    /// to the hard limit once and tries again.
    fn open(&self, group: IpAddr) -> Result<mio::net::UdpSocket, JoinError> {
        let mut raised = false;
        loop {
            match open_group(group, self.port) {
                Ok(s) => return Ok(into_mio(s)),
                Err(e) if is_out_of_files(&e) && !raised => {
                    raised = true;
                    match fdlimit::raise() {
                        Ok((before, after)) if after.soft > before.soft => {
                            tracing::info!(
                                "open-file limit raised from {} to {} (one socket per multicast group)",
                                before.soft,
                                after.soft
                            );
                        }
                        _ => return Err(self.out_of_files(group, e)),
                    }
                }
                Err(e) if is_out_of_files(&e) => return Err(self.out_of_files(group, e)),
                Err(source) => {
                    let held = if source.raw_os_error() == Some(libc::EADDRINUSE) {
                        PortUse::lookup(Proto::Udp, (group, self.port).into())
                    } else {
                        PortUse::none()
                    };
                    return Err(JoinError::Open {
                        group,
                        port: self.port,
                        source,
                        held,
                    });
                }
            }
        }
    }

    fn out_of_files(&self, group: IpAddr, source: io::Error) -> JoinError {
        let limit = fdlimit::current().ok();
        JoinError::TooManyFiles {
            group,
            open: self.by_group.len(),
            soft: limit.map_or(0, |l| l.soft),
            hard: limit.map_or(0, |l| l.hard),
            source,
        }
    }

    /// Leaves `group` and closes its socket; `Ok(false)` if it was not joined. Deregister the
    /// socket from the poll before (closing removes it from epoll, but a registry that keeps
    /// tokens, such as the core's `Io`, does not know). The socket's index is reused by a later
    /// join, which reports [`Joined::new_socket`] so the caller registers the new socket under
    /// the same token.
    ///
    /// # Errors
    /// [`JoinError::Os`] if the kernel refuses to drop the membership; the socket is closed
    /// anyway, which drops it.
    pub(crate) fn leave(&mut self, group: IpAddr) -> Result<bool, JoinError> {
        let Some(i) = self.by_group.remove(&group) else {
            return Ok(false);
        };
        let Some(entry) = self.sockets.get_mut(i).and_then(Option::take) else {
            return Ok(false);
        };
        self.free.push(i);
        let s = socket2::SockRef::from(&entry.sock);
        let res = match group {
            IpAddr::V4(g) => {
                s.leave_multicast_v4_n(&g, &socket2::InterfaceIndexOrAddress::Index(entry.ifindex))
            }
            IpAddr::V6(g) => s.leave_multicast_v6(&g, entry.ifindex),
        };
        res.map(|()| true).map_err(|source| JoinError::Os {
            what: "leave",
            group,
            interface: format!("index {}", entry.ifindex),
            source,
        })
    }

    /// Joins every group again on the interface of its family (`iface(v6)`): after the
    /// interface came back (memberships the kernel kept are confirmed, lost ones restored) or
    /// was re-created under a new index (memberships on the old index are dropped first).
    /// Sockets stay the same, so mio registrations stay valid. Returns how many groups are
    /// joined now and the failures.
    pub(crate) fn rejoin<'a>(
        &mut self,
        iface: impl Fn(bool) -> Option<&'a Interface>,
    ) -> (usize, Vec<JoinError>) {
        let (mut ok, mut errors) = (0, Vec::new());
        for entry in self.sockets.iter_mut().flatten() {
            let Some(i) = iface(entry.group.is_ipv6()) else {
                continue;
            };
            let s = socket2::SockRef::from(&entry.sock);
            if entry.ifindex != i.index {
                let old = entry.ifindex;
                let _ = match entry.group {
                    IpAddr::V4(g) => {
                        s.leave_multicast_v4_n(&g, &socket2::InterfaceIndexOrAddress::Index(old))
                    }
                    IpAddr::V6(g) => s.leave_multicast_v6(&g, old),
                };
                entry.ifindex = i.index;
            }
            match join_on(&entry.sock, entry.group, i.index) {
                Ok(()) => ok += 1,
                // The kernel kept the membership through the outage.
                Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => ok += 1,
                Err(e) => errors.push(os_error("rejoin", entry.group, i, e)),
            }
        }
        (ok, errors)
    }

    /// The raw descriptor of receive socket `i` and whether it is IPv6.
    pub(crate) fn raw_fd(&self, i: usize) -> Option<(RawFd, bool)> {
        self.slot(i)
            .map(|s| (s.sock.as_raw_fd(), s.group.is_ipv6()))
    }
}

fn os_error(what: &'static str, group: IpAddr, iface: &Interface, source: io::Error) -> JoinError {
    JoinError::Os {
        what,
        group,
        interface: iface.to_string(),
        source,
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

/// ENOBUFS: IPv4 count limit (`igmp_max_memberships`, 0 refuses every join). ENOMEM: option
/// memory exhausted.
fn is_limit(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOBUFS | libc::ENOMEM))
}

/// EMFILE: the process's open-file limit; ENFILE: the system's.
fn is_out_of_files(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}
