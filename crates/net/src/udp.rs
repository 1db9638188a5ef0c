//! A UDP bind: one main socket bound exactly as configured, plus one receive socket per joined
//! multicast group, bound to that group.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::batch::RecvBatch;
use crate::error::{JoinError, OpenError, RecvError, SendError};
use crate::holder::{PortUse, Proto};
use crate::iface::{self, IfaceError, Interface, LinkState};
use crate::memberships::{Joined, Memberships};
use crate::rcvbuf::{RcvBuf, Resize};
use crate::recv::{CmsgBuf, RecvMeta, recv_meta, unmap};
use crate::send_batch::SendBatch;
use crate::socket::{MainOptions, RECV_BUFFER, SEND_BUFFER, buffer_sizes, into_mio, open_main};

/// What [`UdpEndpoint::interface`] lends when the bind's family has no interface slot.
static NOT_CHOSEN: IfaceError = IfaceError::NotChosenYet;

/// Least time between two info logs about a shrunk receive buffer (the rest go to debug).
const SHRINK_LOG_PERIOD: Duration = Duration::from_secs(10);

/// Multicast TTL / hop limit unless configured: 1 keeps multicast on the local link, as Linux's
/// default does (and MIDIMonster, which never sets it); routed networks raise it explicitly.
pub const DEFAULT_MULTICAST_TTL: u32 = 1;

/// What to open: one bind line of a backend's configuration, after name resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindSpec {
    /// Address and port to bind; port 0 picks a free one (tests).
    pub addr: SocketAddr,
    /// Multicast loopback on, so programs on this host see the output (sACN's `local`).
    pub local: bool,
    /// Multicast TTL / hop limit of what this bind sends.
    pub multicast_ttl: u32,
    /// The interface multicast is joined on and sent out of, by name, instead of the one
    /// holding the bind address (or, for a wildcard bind, the route's).
    pub interface: Option<String>,
    /// For a wildcard bind without an interface name: groups typical of the traffic (the first
    /// of each address family counts), whose route names the multicast interface when the bind
    /// opens. Without one, the route of the first group joined decides.
    pub route_probes: Vec<IpAddr>,
    /// An IPv6 wildcard bind (`::`) carries IPv4 too: IPv4 unicast and broadcast arrive, IPv4
    /// groups are joined and sent to. Off: `IPV6_V6ONLY`, IPv6 alone. Meaningless for other
    /// addresses.
    pub dual_stack: bool,
    /// A bind to one IPv4 address also hears the broadcasts that arrive on its interface
    /// (to the subnet's broadcast address and to 255.255.255.255), on sockets of their own
    /// ([`SocketId::Broadcast`]). Linux gives broadcasts only to sockets bound to the wildcard or
    /// the broadcast address, so without this a specific bind hears none (MIDIMonster's Art-Net
    /// documents that limit). A wildcard bind hears them on its main socket anyway.
    pub broadcast_in: bool,
}

impl BindSpec {
    /// A spec with the defaults: TTL [`DEFAULT_MULTICAST_TTL`], interface by address or route,
    /// dual-stack.
    pub fn new(addr: SocketAddr, local: bool) -> Self {
        Self {
            addr,
            local,
            multicast_ttl: DEFAULT_MULTICAST_TTL,
            interface: None,
            route_probes: Vec::new(),
            dual_stack: true,
            broadcast_in: false,
        }
    }

    /// The same spec with route probes ([`BindSpec::route_probes`]).
    #[must_use]
    pub fn with_route_probes(mut self, probes: impl IntoIterator<Item = IpAddr>) -> Self {
        self.route_probes = probes.into_iter().collect();
        self
    }

    /// Which address families' multicast this bind carries: `[IPv4, IPv6]`.
    pub fn families(&self) -> [bool; 2] {
        match self.addr {
            SocketAddr::V4(_) => [true, false],
            SocketAddr::V6(a) if a.ip().is_unspecified() => [self.dual_stack, true],
            SocketAddr::V6(a) if a.ip().to_ipv4_mapped().is_some() => [true, false],
            SocketAddr::V6(_) => [false, true],
        }
    }
}

/// Which of an endpoint's sockets: map mio tokens to these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SocketId {
    /// The bound socket: output, unicast and broadcast input.
    Main,
    /// The receive socket of one multicast group ([`Joined::socket`]).
    Receiver(usize),
    /// Broadcast receive socket `n` of a specific bind ([`BindSpec::broadcast_in`]): 0 for the
    /// subnet's broadcast address (when it has one), then 255.255.255.255.
    Broadcast(usize),
}

/// An opened bind.
///
/// Output and unicast/broadcast input use the main socket, bound exactly as configured.
/// Multicast arrives on one socket per group, bound to the group's address ([`Memberships`]):
/// Linux delivers no multicast to a socket bound to a unicast address, and binding the wildcard
/// would collide with other programs on the port. Every socket is non-blocking and ready for mio
/// registration.
pub struct UdpEndpoint {
    spec: BindSpec,
    local_addr: SocketAddr,
    main: mio::net::UdpSocket,
    /// Multicast interface per family, `[IPv4, IPv6]`; `None` where the bind carries no such
    /// traffic.
    ifaces: [Option<Result<Interface, IfaceError>>; 2],
    groups: Memberships,
    /// Broadcast receive sockets ([`BindSpec::broadcast_in`]).
    broadcast: Vec<mio::net::UdpSocket>,
    cmsg: CmsgBuf,
    /// Per socket read so far ([`slot_of`]); `None` until its first read.
    intake: Vec<Option<Intake>>,
    /// Kernel drops counted on group sockets closed since.
    closed_drops: u64,
    /// Wall-clock time of the last log about a shrunk receive buffer.
    shrink_logged: Option<Duration>,
}

/// Broadcast sockets a bind can have: the subnet's and the limited broadcast address.
const BROADCAST_SOCKETS: usize = 2;

/// Index of socket `id` in the per-socket list `UdpEndpoint::intake`: 0 = main, then the
/// broadcast sockets, then the receivers.
fn slot_of(id: SocketId) -> usize {
    match id {
        SocketId::Main => 0,
        SocketId::Broadcast(k) => 1 + k.min(BROADCAST_SOCKETS - 1),
        SocketId::Receiver(i) => 1 + BROADCAST_SOCKETS + i,
    }
}

/// What an endpoint follows of one socket it reads.
#[derive(Debug)]
struct Intake {
    /// Latest `SO_RXQ_OVFL` count.
    kernel_drops: u32,
    /// `None` when the socket's granted buffer could not be read.
    rcvbuf: Option<RcvBuf>,
}

/// The multicast interface of family `v6` that `spec` asks for: by name, by the bound address,
/// or by the route of a probe group; [`IfaceError::NotChosenYet`] for a wildcard bind without
/// either.
fn choose(spec: &BindSpec, v6: bool) -> Result<Interface, IfaceError> {
    if let Some(name) = &spec.interface {
        return iface::interface_named(name, v6);
    }
    let ip = unmap(spec.addr.ip());
    if !ip.is_unspecified() {
        return iface::interface_of(ip);
    }
    match spec.route_probes.iter().find(|p| p.is_ipv6() == v6) {
        Some(&probe) => iface::route_interface(probe),
        None => Err(IfaceError::NotChosenYet),
    }
}

fn fam(v6: bool) -> usize {
    usize::from(v6)
}

/// Points the main socket's multicast output of family `v6` at `i`.
fn set_egress(main: &mio::net::UdpSocket, v6: bool, i: &Interface) -> io::Result<()> {
    let s = socket2::SockRef::from(main);
    match (v6, i.addr) {
        (true, _) => s.set_multicast_if_v6(i.index),
        (false, IpAddr::V4(a)) => s.set_multicast_if_v4(&a),
        (false, IpAddr::V6(_)) => Ok(()),
    }
}

/// The broadcast receive sockets of a bind to `bound` on `iface` ([`BindSpec::broadcast_in`]):
/// none for a wildcard or IPv6 bind.
fn open_broadcasts(
    bound: SocketAddr,
    iface: Option<&Interface>,
) -> Result<Vec<mio::net::UdpSocket>, OpenError> {
    let IpAddr::V4(ip) = unmap(bound.ip()) else {
        return Ok(Vec::new());
    };
    if ip.is_unspecified() {
        return Ok(Vec::new());
    }
    let Some(iface) = iface else {
        return Ok(Vec::new());
    };
    let directed = iface::broadcast_of(ip).map_err(|source| OpenError::Interface {
        addr: bound,
        source,
    })?;
    let mut out = Vec::with_capacity(BROADCAST_SOCKETS);
    for b in directed.into_iter().chain([std::net::Ipv4Addr::BROADCAST]) {
        let addr = SocketAddr::new(IpAddr::V4(b), bound.port());
        let sock = crate::socket::open_broadcast(addr, &iface.name).map_err(|source| {
            let held = if source.raw_os_error() == Some(libc::EADDRINUSE) {
                PortUse::lookup(Proto::Udp, addr)
            } else {
                PortUse::none()
            };
            OpenError::Bind { addr, source, held }
        })?;
        out.push(into_mio(sock));
    }
    Ok(out)
}

impl UdpEndpoint {
    /// Opens the main socket (`SO_REUSEADDR`, `SO_BROADCAST`, non-blocking, packet info,
    /// `IP_MULTICAST_ALL` off, loopback and TTL as the spec says, the multicast egress pinned to
    /// the interface) and finds the multicast interface of each family the bind carries. A
    /// wildcard bind without a multicast route still opens (unicast works); joins then fail with
    /// [`JoinError::NoInterface`].
    ///
    /// # Errors
    /// Socket setup or `bind` failures (`EADDRINUSE` names the process in the way), a specific
    /// address that belongs to no interface, or an interface name that does not fit.
    pub fn open(spec: BindSpec) -> Result<Self, OpenError> {
        let addr = spec.addr;
        let families = spec.families();
        let primary = fam(addr.is_ipv6() && families[1]);
        let mut ifaces: [Option<Result<Interface, IfaceError>>; 2] = [None, None];
        for (k, carries) in families.into_iter().enumerate() {
            if carries {
                ifaces[k] = Some(choose(&spec, k == 1));
            }
        }
        // What the configuration pinned must exist; a route may come later.
        let pinned = spec.interface.is_some() || !unmap(addr.ip()).is_unspecified();
        if pinned
            && matches!(ifaces[primary], Some(Err(_)))
            && let Some(Err(source)) = ifaces[primary].take()
        {
            return Err(OpenError::Interface { addr, source });
        }
        let ok = |k: usize| ifaces[k].as_ref().and_then(|r| r.as_ref().ok());
        let opts = MainOptions {
            addr,
            local: spec.local,
            multicast_ttl: spec.multicast_ttl,
            dual_stack: spec.dual_stack,
            interface: ok(primary),
            interface_v4: ok(0),
        };
        let sock = open_main(&opts).map_err(|(what, source, is_bind)| {
            if is_bind {
                let held = if source.raw_os_error() == Some(libc::EADDRINUSE) {
                    PortUse::lookup(Proto::Udp, addr)
                } else {
                    PortUse::none()
                };
                OpenError::Bind { addr, source, held }
            } else {
                OpenError::Setup { addr, what, source }
            }
        })?;
        let local_addr = sock
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .ok_or_else(|| OpenError::Setup {
                addr,
                what: "read the bound address",
                source: io::Error::other("not an inet address"),
            })?;
        let broadcast = if spec.broadcast_in {
            open_broadcasts(local_addr, ok(primary))?
        } else {
            Vec::new()
        };
        let (rcvbuf, sndbuf) = buffer_sizes(&socket2::SockRef::from(&sock));
        // Linux reports twice what it granted; less than the request means the sysctl capped it.
        if rcvbuf / 2 < RECV_BUFFER || sndbuf / 2 < SEND_BUFFER {
            tracing::info!(bind = %local_addr,
                "socket buffers: asked for {} KiB receive / {} KiB send, the kernel granted {} / {} KiB \
                 (raise net.core.rmem_max and wmem_max to absorb bursts of many universes)",
                RECV_BUFFER >> 10, SEND_BUFFER >> 10, rcvbuf >> 11, sndbuf >> 11);
        } else {
            tracing::debug!(bind = %local_addr,
                "socket buffers: {} KiB receive / {} KiB send granted", rcvbuf >> 11, sndbuf >> 11);
        }
        for side in ifaces.iter().flatten() {
            match side {
                Ok(i) => tracing::debug!(bind = %local_addr, interface = %i, "udp socket open"),
                Err(IfaceError::NotChosenYet) => {}
                Err(e) => tracing::warn!(bind = %local_addr, "no multicast interface: {e}"),
            }
        }
        Ok(Self {
            groups: Memberships::new(local_addr.port()),
            spec,
            local_addr,
            main: into_mio(sock),
            ifaces,
            broadcast,
            cmsg: CmsgBuf::new(),
            intake: Vec::new(),
            closed_drops: 0,
            shrink_logged: None,
        })
    }

    /// The spec this endpoint was opened with.
    pub fn spec(&self) -> &BindSpec {
        &self.spec
    }

    /// The bound address (with the real port when the spec said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The multicast interface of the bind's own address family, or why there is none.
    pub fn interface(&self) -> Result<&Interface, &IfaceError> {
        let primary = fam(self.local_addr.is_ipv6() && self.carries(true));
        match &self.ifaces[primary] {
            Some(r) => r.as_ref(),
            None => Err(&NOT_CHOSEN),
        }
    }

    /// The multicast interface for groups of family `v6`; `None` when the bind carries no such
    /// traffic (an IPv4 bind and IPv6, an IPv6-only or specific IPv6 bind and IPv4).
    pub fn interface_for(&self, v6: bool) -> Option<Result<&Interface, &IfaceError>> {
        self.ifaces[fam(v6)].as_ref().map(Result::as_ref)
    }

    /// Whether groups of family `v6` can be joined and sent to through this bind.
    pub fn carries(&self, v6: bool) -> bool {
        self.ifaces[fam(v6)].is_some()
    }

    /// The group receive sockets.
    pub fn memberships(&self) -> &Memberships {
        &self.groups
    }

    /// Receive and send buffer bytes of the main socket as the kernel reports them (twice what it
    /// granted, see `socket(7)`). Group sockets ask for [`crate::GROUP_RECV_BUFFER`].
    pub fn buffer_sizes(&self) -> (usize, usize) {
        buffer_sizes(&socket2::SockRef::from(&self.main))
    }

    /// Datagrams the kernel dropped on this bind's sockets because a receive buffer was full,
    /// as far as the datagrams read since tell (`SO_RXQ_OVFL`: the count travels with the next
    /// datagram queued after the drops). Not silent: the backend reports it.
    pub fn kernel_drops(&self) -> u64 {
        self.closed_drops
            + self
                .intake
                .iter()
                .flatten()
                .map(|x| u64::from(x.kernel_drops))
                .sum::<u64>()
    }

    /// Times a receive buffer of this bind was made smaller because its queue stood longer than
    /// [`crate::rcvbuf::TARGET`] ([`crate::rcvbuf`]).
    pub fn rcvbuf_shrinks(&self) -> u64 {
        self.intake
            .iter()
            .flatten()
            .filter_map(|x| x.rcvbuf.as_ref())
            .map(RcvBuf::shrinks)
            .sum()
    }

    /// Receive buffer bytes of socket `id` as the kernel reports them (twice what it granted).
    pub fn recv_buffer_size(&self, id: SocketId) -> Option<usize> {
        self.socket(id)
            .and_then(|s| socket2::SockRef::from(s).recv_buffer_size().ok())
    }

    fn socket(&self, id: SocketId) -> Option<&mio::net::UdpSocket> {
        match id {
            SocketId::Main => Some(&self.main),
            SocketId::Broadcast(k) => self.broadcast.get(k),
            SocketId::Receiver(i) => self.groups.socket(i),
        }
    }

    /// Whether socket `id` is an IPv6 socket (readers keep one [`RecvBatch`] per family).
    pub fn is_ipv6(&self, id: SocketId) -> bool {
        match id {
            SocketId::Main => self.local_addr.is_ipv6(),
            SocketId::Broadcast(_) => false,
            SocketId::Receiver(i) => self.groups.group_of(i).is_some_and(|g| g.is_ipv6()),
        }
    }

    /// Notes that a read of socket `id` found its queue empty ([`RcvBuf::ran_dry`]).
    fn note_dry(&mut self, id: SocketId) {
        if let Some(b) = self
            .intake
            .get_mut(slot_of(id))
            .and_then(Option::as_mut)
            .and_then(|x| x.rcvbuf.as_mut())
        {
            b.ran_dry();
        }
    }

    /// Follows datagrams just read from socket `id`: notes their kernel drop counts, sets how
    /// long each waited in the kernel ([`RecvMeta::waited`]), sizes the socket's receive buffer
    /// from that ([`crate::rcvbuf`]) and marks the stale ones ([`RecvMeta::stale`]).
    fn note_read(&mut self, id: SocketId, metas: &mut [RecvMeta]) {
        let slot = slot_of(id);
        if self.intake.len() <= slot {
            self.intake.resize_with(slot + 1, || None);
        }
        if self.intake[slot].is_none() {
            // Once per socket, not per datagram.
            let rcvbuf = self
                .recv_buffer_size(id)
                .map(|reported| RcvBuf::new((reported / 2).min(RECV_BUFFER)));
            self.intake[slot] = Some(Intake {
                kernel_drops: 0,
                rcvbuf,
            });
        }
        let Some(intake) = self.intake.get_mut(slot).and_then(Option::as_mut) else {
            return;
        };
        // The kernel stamps datagrams with the realtime clock; one reading per batch.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let mut resize = None;
        for m in metas.iter_mut() {
            if let Some(n) = m.kernel_drops {
                intake.kernel_drops = intake.kernel_drops.max(n);
            }
            m.waited = m.received.map(|queued| now.saturating_sub(queued));
            if let (Some(waited), Some(rcvbuf)) = (m.waited, intake.rcvbuf.as_mut())
                && let Some(r) = rcvbuf.observe(now, waited, intake.kernel_drops)
            {
                resize = Some((r, rcvbuf.max()));
            }
        }
        if let Some(cutoff) = intake.rcvbuf.as_ref().and_then(|b| b.stale_before(now)) {
            for m in metas.iter_mut() {
                m.stale = m.received.is_some_and(|t| t < cutoff);
            }
        }
        if let Some((r, max)) = resize {
            self.resize_rcvbuf(id, r, now, max);
        }
    }

    fn resize_rcvbuf(&mut self, id: SocketId, r: Resize, now: Duration, max: usize) {
        let Some(sock) = self.socket(id) else {
            return;
        };
        if let Err(e) = socket2::SockRef::from(sock).set_recv_buffer_size(r.size) {
            tracing::debug!(bind = %self.local_addr, "cannot resize the receive buffer: {e}");
            return;
        }
        let (kib, waited, bind) = (r.size >> 10, r.waited, self.local_addr);
        if r.size > r.from {
            if r.size >= max {
                tracing::debug!(%bind, socket = ?id,
                    "receive buffer back at {kib} KiB: input is read within {waited:?} again");
            } else {
                tracing::debug!(%bind, socket = ?id, "receive buffer grown to {kib} KiB");
            }
        } else if self
            .shrink_logged
            .is_none_or(|t| now.saturating_sub(t) >= SHRINK_LOG_PERIOD)
        {
            self.shrink_logged = Some(now);
            tracing::info!(%bind, socket = ?id,
                "input waited at least {waited:?} in the kernel for {:?}: receive buffer cut to \
                 {kib} KiB so the newest input is read sooner (the kernel drops more while this lasts)",
                crate::rcvbuf::INTERVAL);
        } else {
            tracing::debug!(%bind, socket = ?id,
                "receive buffer cut to {kib} KiB (waits of at least {waited:?})");
        }
    }

    /// All socket ids: `Main`, the `Broadcast` sockets, then the open `Receiver`s in order.
    pub fn socket_ids(&self) -> impl Iterator<Item = SocketId> + use<> {
        let open: Vec<usize> = self.groups.open_sockets().collect();
        std::iter::once(SocketId::Main)
            .chain((0..self.broadcast.len()).map(SocketId::Broadcast))
            .chain(open.into_iter().map(SocketId::Receiver))
    }

    /// A socket for mio registration.
    pub fn socket_mut(&mut self, id: SocketId) -> Option<&mut mio::net::UdpSocket> {
        match id {
            SocketId::Main => Some(&mut self.main),
            SocketId::Broadcast(k) => self.broadcast.get_mut(k),
            SocketId::Receiver(i) => self.groups.socket_mut(i),
        }
    }

    /// Joins `group` on this bind's interface of the group's family, with a socket of its own.
    /// When [`Joined::new_socket`] is set, register `SocketId::Receiver(joined.socket)` with mio.
    /// A wildcard bind whose interface is not chosen yet takes the route of this group.
    ///
    /// # Errors
    /// See [`JoinError`].
    pub fn join(&mut self, group: IpAddr) -> Result<Joined, JoinError> {
        let v6 = group.is_ipv6();
        let side = match &mut self.ifaces[fam(v6)] {
            None if group.is_multicast() => {
                return Err(JoinError::FamilyMismatch {
                    group,
                    bind: self.local_addr,
                });
            }
            None => return Err(JoinError::NotMulticast { group }),
            Some(side) => side,
        };
        if matches!(side, Err(IfaceError::NotChosenYet)) && group.is_multicast() {
            *side = iface::route_interface(group);
            if let Ok(i) = side {
                tracing::debug!(bind = %self.local_addr, interface = %i, "multicast interface chosen");
                if let Err(e) = set_egress(&self.main, v6, i) {
                    tracing::warn!(bind = %self.local_addr, "cannot set the multicast interface: {e}");
                }
            }
        }
        match side {
            Ok(i) => {
                let joined = self.groups.join(group, i)?;
                if joined.new_socket
                    && let Some(x) = self
                        .intake
                        .get_mut(slot_of(SocketId::Receiver(joined.socket)))
                {
                    *x = None;
                }
                Ok(joined)
            }
            Err(e) => Err(JoinError::NoInterface {
                group,
                reason: e.to_string(),
            }),
        }
    }

    /// The state of this bind's multicast interface of its own family now (`None` without
    /// one). A dual-stack bind's IPv4 side is re-joined with it ([`UdpEndpoint::rejoin`]).
    ///
    /// # Errors
    /// Listing interfaces failed.
    pub fn link_state(&self) -> Option<Result<LinkState, IfaceError>> {
        let i = self.interface().ok()?;
        Some(iface::link_state(&i.name, i.addr))
    }

    /// After an interface came back: looks up each multicast interface's index again (it
    /// changes when the interface was re-created), points multicast output at it and re-joins
    /// every group. Returns the groups joined and the failures.
    pub fn rejoin(&mut self) -> (usize, Vec<JoinError>) {
        for (k, side) in self.ifaces.iter_mut().enumerate() {
            let Some(Ok(i)) = side else {
                continue;
            };
            if let Ok(index) = nix::net::if_::if_nametoindex(i.name.as_str()) {
                i.index = index;
            }
            if let Err(e) = set_egress(&self.main, k == 1, i) {
                tracing::warn!(bind = %self.local_addr, "cannot set the multicast interface again: {e}");
            }
        }
        let ifaces = &self.ifaces;
        self.groups
            .rejoin(|v6| ifaces[fam(v6)].as_ref().and_then(|r| r.as_ref().ok()))
    }

    /// Leaves `group` and closes its socket; `Ok(false)` if it was not joined. Deregister the
    /// socket (`SocketId::Receiver(memberships().socket_of(group))`) from the poll first: a
    /// registry that keeps tokens, such as the core's `Io`, does not notice the close. A later
    /// join may reuse the index ([`Joined::new_socket`]: register again under the same token).
    ///
    /// # Errors
    /// [`JoinError::Os`] if the kernel refuses to drop the membership; the socket is closed
    /// anyway, which drops it.
    pub fn leave(&mut self, group: IpAddr) -> Result<bool, JoinError> {
        if let Some(i) = self.groups.socket_of(group)
            && let Some(x) = self
                .intake
                .get_mut(slot_of(SocketId::Receiver(i)))
                .and_then(Option::take)
        {
            self.closed_drops += u64::from(x.kernel_drops);
        }
        self.groups.leave(group)
    }

    /// Sends one datagram from the bound address. IPv4 destinations on an IPv6 (dual-stack) bind are
    /// sent as IPv4-mapped addresses.
    ///
    /// # Errors
    /// [`SendError::WouldBlock`] when the send buffer is full (retry on writable), else the OS error.
    pub fn send_to(&self, buf: &[u8], dst: SocketAddr) -> Result<usize, SendError> {
        let to = match (self.local_addr, dst) {
            (SocketAddr::V6(_), SocketAddr::V4(d)) => {
                SocketAddr::V6(SocketAddrV6::new(d.ip().to_ipv6_mapped(), d.port(), 0, 0))
            }
            _ => dst,
        };
        loop {
            return match self.main.send_to(buf, to) {
                Ok(n) => Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(SendError::WouldBlock),
                Err(source) => Err(SendError::Io { dst, source }),
            };
        }
    }

    /// Sends datagrams `from..` of `batch` from the bound address with one `sendmmsg` (IPv4
    /// destinations on an IPv6 bind as IPv4-mapped addresses, as [`UdpEndpoint::send_to`]). Returns
    /// how many left, at least one unless none wait; the batch is left as it is (drop what was
    /// sent with [`SendBatch::consume`]).
    ///
    /// # Errors
    /// Concern datagram `from` alone: [`SendError::WouldBlock`] when the send buffer is full
    /// (keep it and the rest, retry later), else the OS error (skip it, send the rest).
    pub fn send_batch<const N: usize, const SIZE: usize>(
        &self,
        batch: &mut SendBatch<N, SIZE>,
        from: usize,
    ) -> Result<usize, SendError> {
        let fd = self.main.as_raw_fd();
        let v6 = self.local_addr.is_ipv6();
        loop {
            return match batch.send(fd, from, v6) {
                Ok(n) => Ok(n),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(nix::errno::Errno::EAGAIN) => Err(SendError::WouldBlock),
                Err(e) => Err(SendError::Io {
                    dst: batch.get(from).map_or(self.local_addr, |(_, d, _)| d),
                    source: e.into(),
                }),
            };
        }
    }

    /// Reads the next datagram from socket `id`; `Ok(None)` once the socket's queue is empty (mio is
    /// edge-triggered: call until then). The main socket gets unicast and broadcast, a group's
    /// socket that group's datagrams.
    ///
    /// # Errors
    /// Kernel errors other than `EAGAIN`.
    pub fn recv(&mut self, id: SocketId, buf: &mut [u8]) -> Result<Option<RecvMeta>, RecvError> {
        let fd = match id {
            SocketId::Main => self.main.as_raw_fd(),
            SocketId::Broadcast(k) => match self.broadcast.get(k) {
                Some(s) => s.as_raw_fd(),
                None => return Ok(None),
            },
            SocketId::Receiver(i) => match self.groups.raw_fd(i) {
                Some((fd, _)) => fd,
                None => return Ok(None),
            },
        };
        let Some(mut meta) = recv_meta(fd, buf, &mut self.cmsg)? else {
            self.note_dry(id);
            return Ok(None);
        };
        self.note_read(id, std::slice::from_mut(&mut meta));
        Ok(Some(meta))
    }

    /// Like [`UdpEndpoint::recv`], many datagrams at once: fills `batch` and returns how many it
    /// holds. Fewer than the batch holds means the socket's queue ran dry (0: it is empty). One
    /// `recvmmsg` per call, except on the main socket of an IPv6 (dual-stack) bind: it may mix
    /// IPv4 and IPv6 peers, whose packet info differs in size, and `recvmmsg` keeps each slot's
    /// control length from the previous call, so that socket is read datagram by datagram into
    /// the same storage.
    ///
    /// # Errors
    /// Kernel errors other than `EAGAIN`; datagrams already read in this call are then discarded.
    pub fn recv_batch<const N: usize, const SIZE: usize>(
        &mut self,
        id: SocketId,
        batch: &mut RecvBatch<N, SIZE>,
    ) -> Result<usize, RecvError> {
        self.recv_batch_max(id, batch, N)
    }

    /// [`UdpEndpoint::recv_batch`] reading at most `max` datagrams, so a caller can keep an exact
    /// per-socket budget. Stale datagrams are marked ([`RecvMeta::stale`]), not dropped.
    ///
    /// # Errors
    /// As [`UdpEndpoint::recv_batch`].
    pub fn recv_batch_max<const N: usize, const SIZE: usize>(
        &mut self,
        id: SocketId,
        batch: &mut RecvBatch<N, SIZE>,
        max: usize,
    ) -> Result<usize, RecvError> {
        batch.clear();
        let max = max.min(N);
        if max == 0 {
            return Ok(0);
        }
        let got = match id {
            SocketId::Main if self.local_addr.is_ipv4() => {
                batch.fill(self.main.as_raw_fd(), false, max)?
            }
            SocketId::Main => {
                let fd = self.main.as_raw_fd();
                while batch.len() < max
                    && let Some(buf) = batch.next_slot()
                {
                    match recv_meta(fd, buf, &mut self.cmsg)? {
                        Some(meta) => batch.push(meta),
                        None => break,
                    }
                }
                batch.len()
            }
            SocketId::Broadcast(k) => match self.broadcast.get(k) {
                Some(s) => batch.fill(s.as_raw_fd(), false, max)?,
                None => return Ok(0),
            },
            SocketId::Receiver(i) => match self.groups.raw_fd(i) {
                Some((fd, v6)) => batch.fill(fd, v6, max)?,
                None => return Ok(0),
            },
        };
        self.note_read(id, batch.metas_mut());
        if got < max {
            self.note_dry(id);
        }
        Ok(batch.len())
    }
}

impl fmt::Display for UdpEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.local_addr)?;
        let primary = fam(self.local_addr.is_ipv6() && self.carries(true));
        for k in [primary, 1 - primary] {
            let Some(side) = &self.ifaces[k] else {
                continue;
            };
            let label = if k == primary { "" } else { "IPv4 " };
            match side {
                Ok(i) => write!(f, ", {label}multicast via {i}")?,
                // Nothing to say before a group is joined (a protocol without multicast never
                // joins one).
                Err(IfaceError::NotChosenYet) => {}
                Err(e) => write!(f, " (no {label}multicast: {e})")?,
            }
        }
        if self.local_addr.is_ipv6()
            && self.local_addr.ip().is_unspecified()
            && !self.spec.dual_stack
        {
            f.write_str(", IPv6 only")?;
        }
        if !self.broadcast.is_empty() {
            f.write_str(", broadcast in")?;
        }
        if self.spec.local {
            f.write_str(", local")?;
        }
        if self.spec.multicast_ttl != DEFAULT_MULTICAST_TTL {
            write!(f, ", ttl {}", self.spec.multicast_ttl)?;
        }
        Ok(())
    }
}
