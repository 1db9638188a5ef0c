//! One `bind` of the sACN backend: its main socket plus its pool of multicast receive sockets.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::batch::RecvBatch;
use crate::error::{JoinError, OpenError, RecvError, SendError};
use crate::iface::{self, IfaceError, Interface, LinkState};
use crate::pool::{Joined, MembershipPool};
use crate::rcvbuf::{RcvBuf, Resize};
use crate::recv::{CmsgBuf, DestKind, RecvMeta, recv_meta, unmap};
use crate::send_batch::SendBatch;
use crate::socket::{MainOptions, RECV_BUFFER, SEND_BUFFER, buffer_sizes, into_mio, open_main};

/// Least time between two info logs about a shrunk receive buffer (the rest go to debug).
const SHRINK_LOG_PERIOD: Duration = Duration::from_secs(10);

/// sACN's port (E1.31 `ACN_SDT_MULTICAST_PORT`), the default of `bind`.
pub const SACN_PORT: u16 = 5568;

/// Multicast TTL / hop limit. 1 keeps the traffic on the local link, as Linux's default does (and
/// MIDIMonster, which never sets it); routed lighting networks raise it explicitly.
pub const DEFAULT_MULTICAST_TTL: u32 = 1;

/// What a `bind = HOST [PORT] [local]` line asks for, after name resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindSpec {
    /// Address and port to bind; port 0 picks a free one (tests).
    pub addr: SocketAddr,
    /// `local`: multicast loopback on, so programs on this host see the output.
    pub local: bool,
    /// Multicast TTL / hop limit.
    pub multicast_ttl: u32,
}

impl BindSpec {
    /// A spec with the default TTL.
    pub fn new(addr: SocketAddr, local: bool) -> Self {
        Self {
            addr,
            local,
            multicast_ttl: DEFAULT_MULTICAST_TTL,
        }
    }
}

/// Which of an endpoint's sockets: map mio tokens to these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketId {
    /// The bound socket: output, unicast and broadcast input.
    Main,
    /// Multicast receive socket `n` of the membership pool.
    Receiver(usize),
}

/// An opened `bind`.
///
/// Output and unicast input use the main socket, bound exactly as configured. Multicast arrives on
/// the pool's wildcard receive sockets, because Linux does not deliver multicast to a socket bound to a
/// unicast address. Every socket is non-blocking and ready for mio registration.
pub struct Endpoint {
    spec: BindSpec,
    local_addr: SocketAddr,
    main: mio::net::UdpSocket,
    iface: Result<Interface, IfaceError>,
    pool: Option<MembershipPool>,
    cmsg: CmsgBuf,
    dropped: u64,
    /// Per socket read so far (0 = main, n + 1 = receiver n).
    intake: Vec<Intake>,
    /// Wall-clock time of the last log about a shrunk receive buffer.
    shrink_logged: Option<Duration>,
}

/// Index of socket `id` in the per-socket list `Endpoint::intake`: 0 = main, n + 1 = receiver n.
fn slot_of(id: SocketId) -> usize {
    match id {
        SocketId::Main => 0,
        SocketId::Receiver(i) => i + 1,
    }
}

/// The socket at index `slot` of a per-socket list ([`slot_of`] reversed).
fn id_of(slot: usize) -> SocketId {
    match slot.checked_sub(1) {
        None => SocketId::Main,
        Some(i) => SocketId::Receiver(i),
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

impl Endpoint {
    /// Opens the main socket with the options of the sACN backend README and finds the multicast interface: the
    /// bind address's interface, or for a wildcard the route of the sACN group range. A wildcard bind
    /// without a multicast route still opens (unicast works); joins then fail with
    /// [`JoinError::NoInterface`].
    ///
    /// # Errors
    /// Socket setup or `bind` failures, or a specific address that belongs to no interface.
    pub fn open(spec: BindSpec) -> Result<Self, OpenError> {
        let addr = spec.addr;
        let iface = if addr.ip().is_unspecified() {
            iface::default_multicast_interface(if addr.is_ipv6() {
                iface::PROBE_V6
            } else {
                iface::PROBE_V4
            })
        } else {
            match iface::interface_of(unmap(addr.ip())) {
                Ok(i) => Ok(i),
                Err(source) => return Err(OpenError::Interface { addr, source }),
            }
        };
        let opts = MainOptions {
            addr,
            local: spec.local,
            multicast_ttl: spec.multicast_ttl,
            interface: iface.as_ref().ok(),
        };
        let sock = open_main(&opts).map_err(|(what, source, is_bind)| {
            if is_bind {
                OpenError::Bind { addr, source }
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
        match &iface {
            Ok(i) => tracing::debug!(bind = %local_addr, interface = %i, "sacn socket open"),
            Err(e) => tracing::warn!(bind = %local_addr, "no multicast interface: {e}"),
        }
        let pool = iface
            .as_ref()
            .ok()
            .map(|i| MembershipPool::new(local_addr.port(), i.clone()));
        Ok(Self {
            spec,
            local_addr,
            main: into_mio(sock),
            iface,
            pool,
            cmsg: CmsgBuf::new(),
            dropped: 0,
            intake: Vec::new(),
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

    /// The multicast interface, or why there is none.
    pub fn interface(&self) -> Result<&Interface, &IfaceError> {
        self.iface.as_ref()
    }

    /// The membership pool (absent without a multicast interface).
    pub fn pool(&self) -> Option<&MembershipPool> {
        self.pool.as_ref()
    }

    /// Receive and send buffer bytes of the main socket as the kernel reports them (twice what it
    /// granted, see `socket(7)`). Receive sockets ask for the same.
    pub fn buffer_sizes(&self) -> (usize, usize) {
        buffer_sizes(&socket2::SockRef::from(&self.main))
    }

    /// Broadcast copies read and discarded on receive sockets (the main socket processes the broadcast).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Datagrams the kernel dropped on this bind's sockets because a receive buffer was full,
    /// as far as the datagrams read since tell (`SO_RXQ_OVFL`: the count travels with the next
    /// datagram queued after the drops). Not silent: the backend reports it.
    pub fn kernel_drops(&self) -> u64 {
        self.intake.iter().map(|x| u64::from(x.kernel_drops)).sum()
    }

    /// Times a receive buffer of this bind was made smaller because its queue stood longer than
    /// [`crate::rcvbuf::TARGET`] ([`crate::rcvbuf`]).
    pub fn rcvbuf_shrinks(&self) -> u64 {
        self.intake
            .iter()
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
            SocketId::Receiver(i) => self.pool.as_ref().and_then(|p| p.socket(i)),
        }
    }

    /// Notes that a read of socket `id` found its queue empty ([`RcvBuf::ran_dry`]).
    fn note_dry(&mut self, id: SocketId) {
        if let Some(b) = self
            .intake
            .get_mut(slot_of(id))
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
            // Once per socket, not per datagram.
            let new = (self.intake.len()..=slot)
                .map(|k| Intake {
                    kernel_drops: 0,
                    rcvbuf: self
                        .recv_buffer_size(id_of(k))
                        .map(|reported| RcvBuf::new((reported / 2).min(RECV_BUFFER))),
                })
                .collect::<Vec<_>>();
            self.intake.extend(new);
        }
        let Some(intake) = self.intake.get_mut(slot) else {
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

    /// All socket ids in order: `Main`, then `Receiver(0..)`.
    pub fn socket_ids(&self) -> impl Iterator<Item = SocketId> + use<> {
        let n = self.pool.as_ref().map_or(0, MembershipPool::len);
        std::iter::once(SocketId::Main).chain((0..n).map(SocketId::Receiver))
    }

    /// A socket for mio registration.
    pub fn socket_mut(&mut self, id: SocketId) -> Option<&mut mio::net::UdpSocket> {
        match id {
            SocketId::Main => Some(&mut self.main),
            SocketId::Receiver(i) => self.pool.as_mut().and_then(|p| p.socket_mut(i)),
        }
    }

    /// Joins `group` on this bind's interface. When [`Joined::new_socket`] is set, register
    /// `SocketId::Receiver(joined.socket)` with mio.
    ///
    /// # Errors
    /// See [`JoinError`].
    pub fn join(&mut self, group: IpAddr) -> Result<Joined, JoinError> {
        match (&mut self.pool, &self.iface) {
            (Some(p), _) => p.join(group),
            (None, Err(e)) => Err(JoinError::NoInterface {
                group,
                reason: e.to_string(),
            }),
            (None, Ok(_)) => Err(JoinError::NoInterface {
                group,
                reason: "no pool".into(),
            }),
        }
    }

    /// The state of this bind's multicast interface now (`None` without one).
    ///
    /// # Errors
    /// Listing interfaces failed.
    pub fn link_state(&self) -> Option<Result<LinkState, IfaceError>> {
        let i = self.iface.as_ref().ok()?;
        Some(iface::link_state(&i.name, i.addr))
    }

    /// After the interface came back (`index` is its index now): points multicast output at it
    /// again and re-joins every group ([`MembershipPool::rejoin`]). Returns the groups joined and
    /// the failures.
    pub fn rejoin(&mut self, index: u32) -> (usize, Vec<JoinError>) {
        let Ok(i) = self.iface.as_mut() else {
            return (0, Vec::new());
        };
        i.index = index;
        let s = socket2::SockRef::from(&self.main);
        let set = match i.addr {
            IpAddr::V4(a) => s.set_multicast_if_v4(&a),
            IpAddr::V6(_) => s.set_multicast_if_v6(index),
        };
        if let Err(e) = set {
            tracing::warn!(bind = %self.local_addr, "cannot set the multicast interface again: {e}");
        }
        let iface = i.clone();
        self.pool
            .as_mut()
            .map_or((0, Vec::new()), |p| p.rejoin(iface))
    }

    /// Leaves `group`; `Ok(false)` if it was not joined.
    ///
    /// # Errors
    /// See [`MembershipPool::leave`].
    pub fn leave(&mut self, group: IpAddr) -> Result<bool, JoinError> {
        self.pool.as_mut().map_or(Ok(false), |p| p.leave(group))
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
    /// destinations on an IPv6 bind as IPv4-mapped addresses, as [`Endpoint::send_to`]). Returns
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
    /// edge-triggered: call until then).
    ///
    /// Broadcasts reach every wildcard socket on the port, so receive sockets skip their copies (the
    /// main socket of a wildcard bind gets its own; counted in [`Endpoint::dropped`]). Unicast is
    /// returned wherever it lands: Linux hands a unicast datagram to exactly one socket, the most
    /// recently bound of the equally good wildcard sockets on the port, which is often a receive socket
    /// (possibly of another bind). Check [`Endpoint::accepts`] and pass a datagram it refuses to the bind
    /// [`unicast_owner`] names, so it is processed once and by the right bind.
    ///
    /// # Errors
    /// Kernel errors other than `EAGAIN`.
    pub fn recv(&mut self, id: SocketId, buf: &mut [u8]) -> Result<Option<RecvMeta>, RecvError> {
        loop {
            let meta = match id {
                SocketId::Main => recv_meta(self.main.as_raw_fd(), buf, &mut self.cmsg)?,
                SocketId::Receiver(i) => match self.pool.as_mut() {
                    Some(pool) => pool.recv(i, buf)?,
                    None => None,
                },
            };
            let Some(mut meta) = meta else {
                self.note_dry(id);
                return Ok(None);
            };
            self.note_read(id, std::slice::from_mut(&mut meta));
            if id == SocketId::Main || meta.kind != DestKind::Broadcast {
                return Ok(Some(meta));
            }
            self.dropped += 1;
        }
    }

    /// Like [`Endpoint::recv`], many datagrams at once: fills `batch` and returns how many it holds.
    /// Fewer than the batch holds means the socket's queue ran dry (0: it is empty), also when
    /// broadcast copies were dropped on the way. One `recvmmsg` per call (more when some were
    /// dropped), except on the main socket of an IPv6 (dual-stack) bind: it may mix IPv4 and IPv6
    /// peers, whose packet info differs in size, and `recvmmsg` keeps each slot's control length
    /// from the previous call, so that socket is read datagram by datagram into the same storage.
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

    /// [`Endpoint::recv_batch`] reading at most `max` datagrams, so a caller can keep an exact
    /// per-socket budget.
    ///
    /// # Errors
    /// As [`Endpoint::recv_batch`].
    pub fn recv_batch_max<const N: usize, const SIZE: usize>(
        &mut self,
        id: SocketId,
        batch: &mut RecvBatch<N, SIZE>,
        max: usize,
    ) -> Result<usize, RecvError> {
        batch.clear();
        let max = max.min(N);
        // Broadcast copies read on a receive socket are dropped here, so read on until `max`
        // are kept or the queue runs dry: a caller takes fewer than it asked for as "the queue
        // is empty" and waits for epoll, which a full queue that drops every arrival would
        // never wake. Stale datagrams are marked ([`RecvMeta::stale`]), not dropped.
        while batch.len() < max {
            let from = batch.len();
            let want = max - from;
            let got = match id {
                SocketId::Main if self.local_addr.is_ipv4() => {
                    batch.fill(self.main.as_raw_fd(), false, want)?
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
                    batch.len() - from
                }
                SocketId::Receiver(i) => {
                    let Some((fd, v6)) = self.pool.as_ref().and_then(|p| p.raw_fd(i)) else {
                        break;
                    };
                    batch.fill(fd, v6, want)?
                }
            };
            if let Some(new) = batch.metas_mut().get_mut(from..) {
                self.note_read(id, new);
            }
            if id != SocketId::Main {
                let copies = batch.retain_from(from, |m| m.kind != DestKind::Broadcast);
                self.dropped += copies as u64;
            }
            if got < want {
                self.note_dry(id);
                break;
            }
        }
        Ok(batch.len())
    }

    /// Whether this bind processes a datagram: multicast and broadcast always; unicast when the bind is
    /// a wildcard or the destination is the bound address (what a MIDIMonster socket bound the same way
    /// would have received).
    pub fn accepts(&self, meta: &RecvMeta) -> bool {
        match meta.kind {
            DestKind::Multicast | DestKind::Broadcast | DestKind::Unknown => true,
            DestKind::Unicast => self.accepts_unicast(meta.dst),
        }
    }

    fn accepts_unicast(&self, dst: Option<IpAddr>) -> bool {
        let bound = unmap(self.local_addr.ip());
        match dst {
            _ if bound.is_unspecified() => {
                dst.is_none_or(|d| d.is_ipv4() || self.local_addr.is_ipv6())
            }
            Some(d) => d == bound,
            None => false,
        }
    }
}

/// Which of `endpoints` should process a unicast datagram to `dst` that arrived on `port`: a bind to
/// exactly that address, else a wildcard bind of a fitting family on that port.
pub fn unicast_owner<'a>(
    endpoints: impl IntoIterator<Item = &'a Endpoint>,
    port: u16,
    dst: IpAddr,
) -> Option<usize> {
    let mut wildcard = None;
    for (i, ep) in endpoints.into_iter().enumerate() {
        if ep.local_addr.port() != port {
            continue;
        }
        let bound = unmap(ep.local_addr.ip());
        if bound == dst {
            return Some(i);
        }
        if wildcard.is_none() && ep.accepts_unicast(Some(dst)) {
            wildcard = Some(i);
        }
    }
    wildcard
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.local_addr)?;
        match &self.iface {
            Ok(i) => write!(f, " via {i}")?,
            Err(e) => write!(f, " (no multicast: {e})")?,
        }
        if self.spec.local {
            f.write_str(", local")?;
        }
        Ok(())
    }
}
