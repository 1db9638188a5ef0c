//! Sockets and batched I/O (`sendmmsg`/`recvmmsg`): one system call per up to [`BATCH`]
//! datagrams, into storage allocated once, so neither the load tool nor the raw forwarder is the
//! bottleneck.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrIn, recvmmsg, sendmmsg, setsockopt, sockopt,
};
use socket2::{Domain, Protocol, Socket, Type};

/// Datagrams per system call.
pub const BATCH: usize = 64;
/// Receive buffer per datagram: a full E1.31 data packet is 638 bytes, discovery up to 1144.
pub const DGRAM: usize = 1200;
/// The load tool's socket buffers (forced past `rmem_max` when privileged, as in a test
/// namespace): the tool must never be where frames are dropped.
pub const TOOL_BUFFER: usize = 32 << 20;

/// The sACN multicast group of `universe`.
pub fn group(universe: u16) -> Ipv4Addr {
    patchbay_sacn::ipv4_multicast(universe)
}

/// A UDP socket bound to `bind`, with `buffer` bytes of send and receive buffer (0: kernel
/// default); `reuse` for sharing port 5568 with the translator under test. Multicast loop stays
/// on (the receiver is on the same host), and `IP_MULTICAST_ALL` is off so the socket only sees
/// groups it joined itself.
pub fn udp(bind: SocketAddrV4, reuse: bool, buffer: usize) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    if reuse {
        s.set_reuse_address(true)?;
    }
    s.set_multicast_all_v4(false)?;
    s.set_multicast_loop_v4(true)?;
    s.set_multicast_if_v4(&Ipv4Addr::LOCALHOST)?;
    if buffer > 0 {
        if setsockopt(&s.as_fd(), sockopt::RcvBufForce, &buffer).is_err() {
            s.set_recv_buffer_size(buffer)?;
        }
        if setsockopt(&s.as_fd(), sockopt::SndBufForce, &buffer).is_err() {
            s.set_send_buffer_size(buffer)?;
        }
    }
    s.bind(&bind.into())?;
    Ok(s.into())
}

/// Joins the groups of `universes` on loopback. Raises the namespace's membership limit first
/// when needed (default 20 per socket); callers have checked they run in a private namespace.
pub fn join_all(sock: &UdpSocket, universes: impl Iterator<Item = u16> + Clone) -> io::Result<()> {
    let n = universes.clone().count();
    raise_igmp_limit(n);
    for u in universes {
        sock.join_multicast_v4(&group(u), &Ipv4Addr::LOCALHOST)?;
    }
    Ok(())
}

const IGMP_LIMIT: &str = "/proc/sys/net/ipv4/igmp_max_memberships";

/// Raises `net.ipv4.igmp_max_memberships` (per network namespace) to at least `n`.
pub fn raise_igmp_limit(n: usize) {
    let current = std::fs::read_to_string(IGMP_LIMIT)
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if current < n {
        let _ = std::fs::write(IGMP_LIMIT, format!("{}", n.max(64)));
    }
}

/// Receive timeout so blocking receivers can notice a stop request.
pub fn set_read_timeout(sock: &UdpSocket, t: Duration) -> io::Result<()> {
    sock.set_read_timeout(Some(t))
}

/// Preallocated `sendmmsg` headers.
pub struct TxBatch {
    headers: MultiHeaders<SockaddrIn>,
}

impl Default for TxBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl TxBatch {
    /// Allocates headers for [`BATCH`] datagrams (once).
    pub fn new() -> Self {
        Self {
            headers: MultiHeaders::preallocate(BATCH, None),
        }
    }

    /// Sends datagram `k` (`datagram(k)`, k < n ≤ [`BATCH`]) to `addrs[k]`. Retries until all are
    /// sent; returns how many the kernel refused with a non-transient error (counted, not fatal:
    /// e.g. ECONNREFUSED from an earlier ICMP on a unicast target that is not up yet).
    pub fn send<'a>(
        &mut self,
        sock: &UdpSocket,
        n: usize,
        datagram: impl Fn(usize) -> &'a [u8],
        addrs: &[Option<SockaddrIn>],
    ) -> usize {
        let n = n.min(BATCH).min(addrs.len());
        let mut done = 0;
        let mut failed = 0;
        let none: [ControlMessage<'_>; 0] = [];
        while done < n {
            let iovs: [[IoSlice<'_>; 1]; BATCH] =
                std::array::from_fn(|k| [IoSlice::new(datagram((done + k).min(n - 1)))]);
            let left = n - done;
            let r = sendmmsg(
                sock.as_raw_fd(),
                &mut self.headers,
                iovs[..left].iter(),
                &addrs[done..n],
                none,
                MsgFlags::empty(),
            )
            .map(|r| r.count());
            match r {
                Ok(0) => {
                    failed += 1;
                    done += 1;
                }
                Ok(k) => done += k,
                Err(Errno::EINTR | Errno::EAGAIN | Errno::ENOBUFS) => std::thread::yield_now(),
                Err(_) => {
                    // The first datagram failed; skip it and go on with the rest.
                    failed += 1;
                    done += 1;
                }
            }
        }
        failed
    }
}

/// Storage for one `recvmmsg`: [`BATCH`] datagrams of up to [`DGRAM`] bytes.
pub struct RxBatch {
    bufs: Box<[[u8; DGRAM]; BATCH]>,
    lens: [usize; BATCH],
    len: usize,
    headers: MultiHeaders<SockaddrIn>,
}

impl Default for RxBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl RxBatch {
    /// Allocates the buffers (once).
    pub fn new() -> Self {
        let bufs: Box<[[u8; DGRAM]; BATCH]> =
            match vec![[0u8; DGRAM]; BATCH].into_boxed_slice().try_into() {
                Ok(b) => b,
                Err(_) => unreachable!("vec has BATCH elements"),
            };
        Self {
            bufs,
            lens: [0; BATCH],
            len: 0,
            headers: MultiHeaders::preallocate(BATCH, None),
        }
    }

    /// Blocks until at least one datagram arrives (or the socket's read timeout passes: `Ok(0)`),
    /// then takes whatever else is queued, up to [`BATCH`].
    pub fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        self.len = 0;
        let mut iovs = self
            .bufs
            .each_mut()
            .map(|b| [IoSliceMut::new(b.as_mut_slice())]);
        let r = recvmmsg(
            sock.as_raw_fd(),
            &mut self.headers,
            iovs.iter_mut(),
            MsgFlags::MSG_WAITFORONE,
            None,
        );
        match r {
            Ok(msgs) => {
                for (l, m) in self.lens.iter_mut().zip(msgs) {
                    *l = m.bytes.min(DGRAM);
                    self.len += 1;
                }
                Ok(self.len)
            }
            Err(Errno::EAGAIN | Errno::EINTR) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    /// Datagrams of the last receive.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Nothing held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Datagram `i` of the last receive.
    pub fn get(&self, i: usize) -> &[u8] {
        match (self.bufs.get(i), self.lens.get(i)) {
            (Some(b), Some(&l)) if i < self.len => &b[..l],
            _ => &[],
        }
    }

    /// Datagram `i`, writable (the forwarder rewrites the universe in place).
    pub fn get_mut(&mut self, i: usize) -> &mut [u8] {
        match (self.bufs.get_mut(i), self.lens.get(i)) {
            (Some(b), Some(&l)) if i < self.len => &mut b[..l],
            _ => &mut [],
        }
    }
}

/// `SocketAddrV4` as nix's address type.
pub fn sockaddr(a: SocketAddrV4) -> SockaddrIn {
    SockaddrIn::from(a)
}
