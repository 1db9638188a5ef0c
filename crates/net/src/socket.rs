//! socket2 builders for the two kinds of sockets a bind uses.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;

use nix::sys::socket::{setsockopt, sockopt};
use socket2::{Domain, Protocol, Socket, Type};

use crate::iface::Interface;

/// The options of a bind's main socket, in the order they are applied.
pub(crate) struct MainOptions<'a> {
    pub addr: SocketAddr,
    pub local: bool,
    pub multicast_ttl: u32,
    pub interface: Option<&'a Interface>,
}

/// Attaches the failed step's name to an io error.
pub(crate) type Step<T> = Result<T, (&'static str, io::Error)>;

fn step<T>(what: &'static str, r: io::Result<T>) -> Step<T> {
    r.map_err(|e| (what, e))
}

fn pktinfo(sock: &Socket, v6: bool) -> io::Result<()> {
    // On an AF_INET6 socket Linux passes SOL_IP options to the IPv4 code, so a dual-stack socket
    // also reports IPv4 destinations.
    setsockopt(&sock.as_fd(), sockopt::Ipv4PacketInfo, &true)
        .or_else(|e| if v6 { Ok(()) } else { Err(e) })?;
    if v6 {
        setsockopt(&sock.as_fd(), sockopt::Ipv6RecvPacketInfo, &true)?;
    }
    Ok(())
}

fn new_udp(addr: &SocketAddr) -> io::Result<Socket> {
    Socket::new(Domain::for_address(*addr), Type::DGRAM, Some(Protocol::UDP))
}

/// Send buffer asked for on the main socket: output of 1,000 universes leaves in one burst per
/// frame, 4 MiB queues it without `EAGAIN`. The kernel caps the request at `net.core.wmem_max`
/// without failing; [`buffer_sizes`] reads back what was granted.
pub(crate) const SEND_BUFFER: usize = 4 << 20;

/// Best effort: a refusal leaves the default, which works, only with less headroom for bursts.
fn grow_send_buffer(sock: &Socket) {
    let _ = sock.set_send_buffer_size(SEND_BUFFER);
}

/// The receive and send buffer sizes the kernel granted, as it reports them (Linux doubles the
/// requested value to cover its bookkeeping, so 4 MiB asked reads back as 8 MiB).
pub(crate) fn buffer_sizes(sock: &socket2::SockRef<'_>) -> (usize, usize) {
    (
        sock.recv_buffer_size().unwrap_or(0),
        sock.send_buffer_size().unwrap_or(0),
    )
}

/// The socket output goes through and unicast/broadcast arrives on (the sACN backend README). It joins nothing and
/// has `IP_MULTICAST_ALL` off, so it never sees multicast: that is what makes `unicast` instances strict.
pub(crate) fn open_main(o: &MainOptions<'_>) -> Result<Socket, (&'static str, io::Error, bool)> {
    let setup = |r: Step<()>| r.map_err(|(w, e)| (w, e, false));
    let sock = new_udp(&o.addr).map_err(|e| ("create the socket", e, false))?;
    let v6 = o.addr.is_ipv6();
    setup(step("set SO_REUSEADDR", sock.set_reuse_address(true)))?;
    setup(step("set SO_BROADCAST", sock.set_broadcast(true)))?;
    setup(step("set O_NONBLOCK", sock.set_nonblocking(true)))?;
    grow_send_buffer(&sock);
    setup(step("enable packet info", pktinfo(&sock, v6)))?;
    if v6 {
        setup(step("clear IPV6_V6ONLY", sock.set_only_v6(false)))?;
        setup(step(
            "clear IPV6_MULTICAST_ALL",
            sock.set_multicast_all_v6(false),
        ))?;
        setup(step(
            "set IPV6_MULTICAST_LOOP",
            sock.set_multicast_loop_v6(o.local),
        ))?;
        setup(step(
            "set IPV6_MULTICAST_HOPS",
            sock.set_multicast_hops_v6(o.multicast_ttl),
        ))?;
        // Dual-stack sends to IPv4 groups use the IPv4 settings; best effort, as for pktinfo.
        let _ = sock.set_multicast_all_v4(false);
        let _ = sock.set_multicast_loop_v4(o.local);
        let _ = sock.set_multicast_ttl_v4(o.multicast_ttl);
        if let Some(i) = o.interface {
            setup(step(
                "set IPV6_MULTICAST_IF",
                sock.set_multicast_if_v6(i.index),
            ))?;
        }
    } else {
        setup(step(
            "clear IP_MULTICAST_ALL",
            sock.set_multicast_all_v4(false),
        ))?;
        setup(step(
            "set IP_MULTICAST_LOOP",
            sock.set_multicast_loop_v4(o.local),
        ))?;
        setup(step(
            "set IP_MULTICAST_TTL",
            sock.set_multicast_ttl_v4(o.multicast_ttl),
        ))?;
        if let Some(Interface {
            addr: IpAddr::V4(a),
            ..
        }) = o.interface
        {
            setup(step("set IP_MULTICAST_IF", sock.set_multicast_if_v4(a)))?;
        }
    }
    tune_receive(&sock);
    sock.bind(&o.addr.into()).map_err(|e| ("bind", e, true))?;
    Ok(sock)
}

/// A receive-only socket on the wildcard address and the bind's port: Linux delivers multicast only to
/// sockets bound to the wildcard or to the group itself. `IP_MULTICAST_ALL` off restricts it to the
/// groups joined on it, on the interface they were joined on.
pub(crate) fn open_receiver(v6: bool, port: u16) -> io::Result<Socket> {
    let addr: SocketAddr = if v6 {
        (Ipv6Addr::UNSPECIFIED, port).into()
    } else {
        (Ipv4Addr::UNSPECIFIED, port).into()
    };
    let sock = new_udp(&addr)?;
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    pktinfo(&sock, v6)?;
    if v6 {
        // IPv4 traffic stays with the main socket.
        sock.set_only_v6(true)?;
        sock.set_multicast_all_v6(false)?;
    } else {
        sock.set_multicast_all_v4(false)?;
    }
    tune_receive(&sock);
    sock.bind(&addr.into())?;
    Ok(sock)
}

/// Receive buffer asked for on every socket, and the most [`crate::rcvbuf`] grows it back to.
///
/// Why: the kernel default (`net.core.rmem_default`, 208 KiB) holds about 90 sACN datagrams on
/// `lo` (each costs about 2.3 KB of buffer accounting), so one burst of 1,000 universes sent in
/// the same millisecond overflowed it and the kernel dropped about two thirds of it. 4 MiB holds
/// such a burst with room to spare, and rides out a stall of the process of a few frames. The
/// kernel caps the request at `net.core.rmem_max` without failing.
pub const RECV_BUFFER: usize = 4 << 20;

/// Best effort, for receiving sockets: a large receive buffer, `SO_RXQ_OVFL` so drops by a full
/// buffer are counted ([`crate::RecvMeta::kernel_drops`]) instead of silent, and `SO_TIMESTAMPNS`
/// so a reader can tell how long its input waited ([`crate::RecvMeta::received`]).
fn tune_receive(sock: &Socket) {
    if let Err(e) = sock.set_recv_buffer_size(RECV_BUFFER) {
        tracing::debug!("cannot enlarge the receive buffer: {e}");
    }
    if let Err(e) = nix::sys::socket::setsockopt(sock, nix::sys::socket::sockopt::RxqOvfl, &1) {
        tracing::debug!("cannot enable SO_RXQ_OVFL: {e}");
    }
    let timestamps = nix::sys::socket::sockopt::ReceiveTimestampns;
    if let Err(e) = nix::sys::socket::setsockopt(sock, timestamps, &true) {
        tracing::debug!("cannot enable SO_TIMESTAMPNS: {e}");
    }
}

/// Hands a configured socket to mio.
pub(crate) fn into_mio(sock: Socket) -> mio::net::UdpSocket {
    mio::net::UdpSocket::from_std(sock.into())
}
