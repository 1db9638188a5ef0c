//! Sockets for patchbay's backends: UDP binds with multicast, interface choice, receive with
//! destination info and batch reads/sends; TCP listeners and connections; the facts of Linux
//! they rely on; who holds a port when a bind fails; and the private-netns test guard. Protocol-neutral: sACN, Art-Net and OSC use
//! the same [`UdpEndpoint`]; what is a protocol's (its port, its group layout, which group's route
//! names a wildcard bind's interface) is the backend's.
//!
//! This is the only crate that sets socket options. It needs no `unsafe`: socket2 sets the options,
//! nix wraps `recvmsg`, `getifaddrs`, `if_nametoindex` and `setrlimit`.
//!
//! # Shape
//!
//! One bind line becomes one [`UdpEndpoint`] ([`BindSpec`] → [`UdpEndpoint::open`]):
//!
//! - a **main socket** bound exactly to HOST:PORT: `SO_REUSEADDR`, `SO_BROADCAST`,
//!   non-blocking, packet info, multicast loopback only with [`BindSpec::local`], multicast
//!   TTL/hops [`BindSpec::multicast_ttl`] (default [`DEFAULT_MULTICAST_TTL`]), the multicast
//!   egress interface set explicitly, `IP_MULTICAST_ALL` off and no joins. All output leaves
//!   through it ([`UdpEndpoint::send_to`], [`UdpEndpoint::send_batch`]), so the source address is
//!   the bound one; unicast input arrives on it, and broadcast input when it is a wildcard
//!   (a bind to one IPv4 address hears its interface's broadcasts on two more sockets, bound
//!   to the subnet's and the limited broadcast address and to the interface, with
//!   [`BindSpec::broadcast_in`]: Art-Net's ArtPoll). An IPv6 wildcard (`::`) is
//!   dual-stack unless [`BindSpec::dual_stack`] is off: it then carries IPv4 unicast,
//!   broadcast and groups as well.
//! - **one receive socket per joined group**, bound to the group's address and the same port
//!   ([`Memberships`]; why in its docs), `IP_MULTICAST_ALL` off, joined on the bind's
//!   [`Interface`] for the group's family (ip_mreqn by index / IPv6 ifindex, never
//!   `INADDR_ANY`). The interface is the one the configuration names
//!   ([`BindSpec::interface`]), else the one holding the bind address, else for a wildcard the
//!   route of a probe group the backend gives ([`BindSpec::route_probes`]) or of the first
//!   group joined. `Display` says which once it is known: `0.0.0.0:5568, multicast via sacn0
//!   (index 3, 198.18.0.1, default route for 239.255.0.1)`.
//!
//! Every socket is a non-blocking `mio::net::UdpSocket`: register `UdpEndpoint::socket_mut(id)`
//! for each of [`UdpEndpoint::socket_ids`], and again when [`Joined::new_socket`] is set. Read
//! with [`UdpEndpoint::recv`] until `Ok(None)`; it fills the caller's buffer and returns a
//! [`RecvMeta`] (length, source, destination, arrival ifindex, [`DestKind`]) without allocating.
//! [`UdpEndpoint::recv_batch`] reads up to N datagrams per `recvmmsg` into a caller-owned
//! [`RecvBatch`]. Every read also tells the endpoint how long its datagrams waited in the kernel
//! and whether the kernel dropped any; from that it sizes each socket's receive buffer
//! ([`rcvbuf`]: large for bursts, smaller while a queue stands so what is read stays fresh).
//! [`UdpEndpoint::send_to`] reports a full send buffer as [`SendError::WouldBlock`] (keep the
//! packet, retry when writable); [`UdpEndpoint::send_batch`] sends a caller-owned [`SendBatch`]
//! per `sendmmsg`.
//!
//! When a bind fails because another program holds the port without sharing it, the error
//! ([`OpenError::Bind`], [`JoinError::Open`]) names that program and what to change
//! ([`holder`]). Each group costs a descriptor: a join that runs out raises the soft open-file
//! limit to the hard one ([`fdlimit`]) and says so when even that is short.
//!
//! TCP ([`tcp`]): a [`TcpListener`] and [`TcpConn`]s (accepted, or connecting out without
//! blocking) for a caller's mio poll. Register a connection for `READABLE | WRITABLE` once:
//! write readiness completes a connect and drains the bounded write buffer
//! ([`TcpConn::on_writable`]), read readiness brings bytes ([`TcpConn::read`]; framing is the
//! caller's), and hang-ups and errors come back as values ([`tcp::Read::Closed`],
//! [`TcpError`]).
//!
//! ```no_run
//! use patchbay_net::{BindSpec, SocketId, UdpEndpoint};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut poll = mio::Poll::new()?;
//! // sACN names universe 1's group as typical of its multicast; Art-Net would name none.
//! let spec = BindSpec::new("0.0.0.0:5568".parse()?, false)
//!     .with_route_probes(["239.255.0.1".parse()?]);
//! let mut ep = UdpEndpoint::open(spec)?;
//! tracing::info!("bind 0: {ep}"); // "0.0.0.0:5568, multicast via eth1 (index 3, 10.0.0.5, default route for 239.255.0.1)"
//! let main = ep.socket_mut(SocketId::Main).ok_or("no socket")?;
//! poll.registry().register(main, mio::Token(0), mio::Interest::READABLE)?;
//! let joined = ep.join("239.255.0.1".parse()?)?;
//! if joined.new_socket {
//!     let s = ep.socket_mut(SocketId::Receiver(joined.socket)).ok_or("no socket")?;
//!     poll.registry().register(s, mio::Token(1 + joined.socket), mio::Interest::READABLE)?;
//! }
//! // On a readable event for token t (0 = Main, 1 + n = Receiver(n)), read until Ok(None):
//! let mut buf = [0u8; 1500];
//! while let Some(meta) = ep.recv(SocketId::Receiver(0), &mut buf)? {
//!     let _packet = &buf[..meta.len]; // parse; meta.dst tells which group it was sent to
//! }
//! # Ok(()) }
//! ```
//!
//! # Linux facts relied on (verified by the tests in `tests/`, kernel 6.18)
//!
//! 1. A socket bound to a unicast address receives no multicast, even for a group it joined itself
//!    (`socket_bound_to_unicast_address_gets_no_multicast`). A socket bound to the group's
//!    address receives it, and no other group (`group_bound_socket_receives_only_its_group`).
//! 2. Binds collide when their addresses overlap (the same address, or a wildcard on either side)
//!    and either socket lacks `SO_REUSEADDR`. So a socket on `0.0.0.0:5568` cannot coexist with
//!    another program's `127.0.0.2:5568` that does not share it, in either order, while a socket
//!    on `239.255.0.1:5568` can (`tests/coexist.rs`). Hence group-bound receive sockets.
//! 3. With the default `IP_MULTICAST_ALL = 1` a socket receives every group any socket on the host
//!    joined, on any interface, without joining anything. With it off, a socket receives a group
//!    only if it joined that group itself *on the interface the datagram arrived on*
//!    (`specific_bind_receives_only_its_own_interface`, `unicast_only_bind_sees_no_foreign_multicast`).
//!    Only AF_INET sockets start with it on: an AF_INET6 dual-stack socket starts with the IPv4 flag
//!    clear (`dual_stack_main_socket_sees_no_foreign_ipv4_multicast`). This keeps a bind to one
//!    interface's traffic, makes `unicast` sACN instances strict, and reads each multicast
//!    datagram once per bind.
//! 4. `net.ipv4.igmp_max_memberships` (per network namespace, default 20) caps IPv4 joins per
//!    socket (join 21 fails with `ENOBUFS`), and IPv6 joins are charged to the socket's option
//!    memory (`net.core.optmem_max`). One group per socket never meets either
//!    (`tests/limits.rs`).
//! 5. Once a port has more than 10 sockets, Linux finds a multicast datagram's sockets by hashing
//!    address and port (`__udp4_lib_mcast_deliver`), so a group-bound socket is found directly,
//!    where wildcard sockets were each asked whether one of their memberships matched
//!    (`benches/groups.rs` measures both).
//! 6. `lo` loops multicast itself: traffic sent out of `lo` is received locally whatever
//!    `IP_MULTICAST_LOOP` says. On a real interface the flag (`local`) decides, and a looped-back
//!    datagram is reported as arriving on the egress interface (`local_flag_controls_loopback_*`).
//!    IPv6 multicast out of `lo` fails with `ENETUNREACH` even with `IPV6_MULTICAST_IF` = lo (Linux
//!    adds no `ff00::/8` route for loopback devices), so the IPv6 tests use the veth pair.
//! 7. Unicast to a port that several `SO_REUSEADDR` sockets share goes to exactly one socket: one
//!    bound to the destination address if any, else a wildcard one; never to a group-bound
//!    socket. Broadcast goes to every socket bound to the wildcard or the broadcast address
//!    (and to the arrival interface, if bound to one: `SO_BINDTODEVICE`); the subnet broadcast
//!    address (host bits all ones) counts even when the address was configured without `brd`
//!    (`tests/broadcast.rs`).
//! 8. `IP_PKTINFO`: `ipi_addr` is the header destination; `ipi_spec_dst` equals it only for plain local
//!    delivery (for broadcast it is the answering interface address). That tells unicast from
//!    broadcast without a table of netmasks. An IPv4 datagram on a dual-stack IPv6 socket carries both
//!    an `IPV6_PKTINFO` (mapped address) and an `IP_PKTINFO` when both are enabled. `SOL_IP`
//!    options set on an AF_INET6 socket apply to its IPv4 traffic, so a dual-stack main socket
//!    sends IPv4 multicast with its own TTL, loopback and egress (`dual_stack_*` in `tests/ipv6.rs`).
//! 9. Connecting a UDP socket to a group sends nothing and reveals the source address the route uses,
//!    which names the default multicast interface.
//! 10. After `unshare --net`, `/sys/class/net` still lists the host's interfaces (sysfs shows the
//!     namespace of its mounter); `/proc/thread-self/net/dev` shows the caller's. The guard reads that.
//!
//! # Tests and the network rule
//!
//! The socket tests must never run in the host's namespace (its `eth0` may lead to a watched
//! network). `scripts/test` runs them inside a private namespace with a veth pair `sacn0`/`sacn1`
//! (198.18.0.1/2, 2001:db8:5ac::1/2); some need it. Run anywhere else, every one fails at once
//! with [`netns::REFUSAL`]. Every test in the workspace that opens a socket calls
//! [`netns::require_private_netns`] first.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod batch;
pub mod error;
pub mod fdlimit;
pub mod holder;
pub mod iface;
pub mod memberships;
pub mod netns;
pub mod rcvbuf;
pub mod recv;
pub mod send_batch;
mod socket;
pub mod sysctl;
pub mod tcp;
pub mod udp;

pub use batch::RecvBatch;
pub use error::{JoinError, OpenError, RecvError, SendError};
pub use holder::PortUse;
pub use iface::{Chosen, IfaceError, Interface, LinkState, link_state};
pub use memberships::{Joined, Memberships};
pub use recv::{DestKind, RecvMeta};
pub use send_batch::SendBatch;
pub use socket::{GROUP_RECV_BUFFER, RECV_BUFFER};
pub use tcp::{TcpConn, TcpError, TcpListener};
pub use udp::{BindSpec, DEFAULT_MULTICAST_TTL, SocketId, UdpEndpoint};
