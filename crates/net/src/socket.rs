//! socket2 builders for the two kinds of sockets a bind uses: the main socket and one receive
//! socket per multicast group.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;

use nix::sys::socket::{setsockopt, sockopt};
use socket2::{Domain, Protocol, Socket, Type};

use crate::iface::Interface;

/// The options of a bind's main socket, in the order they are applied.
pub(crate) struct MainOptions<'a> {
    pub addr: SocketAddr,
    pub local: bool,
    pub multicast_ttl: u32,
    /// IPv6 bind: IPv4 too (`IPV6_V6ONLY` off, IPv4 multicast options set).
    pub dual_stack: bool,
    /// Multicast egress of the bind's family, when known.
    pub interface: Option<&'a Interface>,
    /// Multicast egress for IPv4 groups of a dual-stack bind, when known.
    pub interface_v4: Option<&'a Interface>,
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
        setup(step("set IPV6_V6ONLY", sock.set_only_v6(!o.dual_stack)))?;
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
        if let Some(i) = o.interface {
            setup(step(
                "set IPV6_MULTICAST_IF",
                sock.set_multicast_if_v6(i.index),
            ))?;
        }
    }
    // On an AF_INET6 socket Linux passes SOL_IP options to the IPv4 code, so a dual-stack
    // socket takes the IPv4 settings for its IPv4 traffic like an AF_INET socket.
    if !v6 || o.dual_stack {
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
        let egress = if v6 { o.interface_v4 } else { o.interface };
        if let Some(a) = egress.and_then(|i| match i.addr {
            IpAddr::V4(a) => Some(a),
            IpAddr::V6(_) => None,
        }) {
            setup(step("set IP_MULTICAST_IF", sock.set_multicast_if_v4(&a)))?;
        }
    }
    tune_receive(&sock, RECV_BUFFER);
    sock.bind(&o.addr.into()).map_err(|e| ("bind", e, true))?;
    Ok(sock)
}

/// A receive-only socket bound to `group` itself and the bind's port. Linux delivers a group's
/// datagrams to sockets bound to the wildcard or to that group, and only a socket bound to the
/// wildcard would collide with another program's socket on the port (see the Linux facts in the
/// crate docs). `IP_MULTICAST_ALL` off restricts it to the group joined on it, on the interface
/// it was joined on. Never receives unicast or broadcast.
pub(crate) fn open_group(group: IpAddr, port: u16) -> io::Result<Socket> {
    let addr = SocketAddr::new(group, port);
    let v6 = group.is_ipv6();
    let sock = new_udp(&addr)?;
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    pktinfo(&sock, v6)?;
    if v6 {
        sock.set_only_v6(true)?;
        sock.set_multicast_all_v6(false)?;
    } else {
        sock.set_multicast_all_v4(false)?;
    }
    tune_receive(&sock, GROUP_RECV_BUFFER);
    sock.bind(&addr.into())?;
    Ok(sock)
}

/// A receive-only socket for the broadcasts of one interface: bound to `addr` (the subnet's
/// directed broadcast address, or 255.255.255.255) and the bind's port, and to the interface
/// (`SO_BINDTODEVICE`, allowed unprivileged since Linux 5.7), so broadcasts arriving elsewhere
/// are not delivered to it. Linux delivers broadcast only to sockets bound to the wildcard or
/// the broadcast address, so this is how a bind to one address hears broadcasts without holding
/// the wildcard.
pub(crate) fn open_broadcast(addr: SocketAddr, device: &str) -> io::Result<Socket> {
    let sock = new_udp(&addr)?;
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    pktinfo(&sock, false)?;
    sock.bind_device(Some(device.as_bytes()))?;
    tune_receive(&sock, GROUP_RECV_BUFFER);
    sock.bind(&addr.into())?;
    Ok(sock)
}

/// Receive buffer asked for on a main socket, and the most [`crate::rcvbuf`] grows it back to.
///
/// Why: the kernel default (`net.core.rmem_default`, 208 KiB) holds about 90 sACN datagrams on
/// `lo` (each costs about 2.3 KB of buffer accounting), so one burst of 1,000 universes sent in
/// the same millisecond overflowed it and the kernel dropped about two thirds of it. 4 MiB holds
/// such a burst with room to spare, and rides out a stall of the process of a few frames. The
/// kernel caps the request at `net.core.rmem_max` without failing.
pub const RECV_BUFFER: usize = 4 << 20;

/// Receive buffer asked for on a group's socket. Each holds one group, i.e. one sACN universe:
/// about 450 of its datagrams on `lo`, 10 s of a 44 Hz source or 0.2 s at 2,000 frames/s, far
/// beyond any burst of one universe, and enough for [`crate::rcvbuf`] to size (it is above
/// [`crate::rcvbuf::FLOOR`]). Smaller than [`RECV_BUFFER`] because a bind may have a thousand of
/// them and a stalled reader lets every one fill.
pub const GROUP_RECV_BUFFER: usize = 1 << 20;

/// Best effort, for receiving sockets: a large receive buffer, `SO_RXQ_OVFL` so drops by a full
/// buffer are counted ([`crate::RecvMeta::kernel_drops`]) instead of silent, and `SO_TIMESTAMPNS`
/// so a reader can tell how long its input waited ([`crate::RecvMeta::received`]).
fn tune_receive(sock: &Socket, size: usize) {
    if let Err(e) = sock.set_recv_buffer_size(size) {
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
