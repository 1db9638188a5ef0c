//! UDP sockets for patchbay's sACN backend: bind options, multicast membership sharding, interface
//! choice, receive with destination info, and the private-netns test guard.
//!
//! This is the only crate that sets socket options. It needs no `unsafe`: socket2 sets the options,
//! nix wraps `recvmsg`, `getifaddrs` and `if_nametoindex`.
//!
//! # Shape
//!
//! One `bind = HOST [PORT] [local]` line becomes one [`Endpoint`] ([`BindSpec`] → [`Endpoint::open`]):
//!
//! - a **main socket** bound exactly to HOST:PORT (the sACN backend README): `SO_REUSEADDR`, `SO_BROADCAST`,
//!   non-blocking, `IPV6_V6ONLY` off, multicast loopback only with `local`, multicast TTL/hops
//!   [`DEFAULT_MULTICAST_TTL`], the multicast egress interface set explicitly, `IP_MULTICAST_ALL` off
//!   and no joins. All output leaves through it ([`Endpoint::send_to`]), so the source address is the
//!   bound one; unicast and broadcast input arrive on it.
//! - a [`MembershipPool`] of **receive sockets** bound to the wildcard address and the same port, each
//!   with `IP_MULTICAST_ALL` off, holding the multicast joins, all on the bind's [`Interface`] (ip_mreqn by
//!   index / IPv6 ifindex, never `INADDR_ANY`). A specific HOST's interface is the one holding the
//!   address; a wildcard's is where the routing table sends `239.255.0.1` / `ff18::8300:1`
//!   ([`iface::default_multicast_interface`]), shown by `Display` as
//!   `sacn0 (index 3, 198.18.0.1, default route for 239.255.0.1)`.
//!
//! Every socket is a non-blocking `mio::net::UdpSocket`: register `Endpoint::socket_mut(SocketId)` for
//! each of [`Endpoint::socket_ids`], and again when [`Joined::new_socket`] is set. Read with
//! [`Endpoint::recv`] until `Ok(None)`; it fills the caller's buffer and returns a [`RecvMeta`]
//! (length, source, destination, arrival ifindex, [`DestKind`]) without allocating. A unicast datagram
//! that [`Endpoint::accepts`] refuses belongs to the bind [`unicast_owner`] names.
//! [`Endpoint::recv_batch`] reads up to N datagrams per `recvmmsg` into a caller-owned [`RecvBatch`].
//! Every read also tells the endpoint how long its datagrams waited in the kernel and whether the
//! kernel dropped any; from that it sizes each socket's receive buffer ([`rcvbuf`]: 4 MiB for
//! bursts, smaller while a queue stands so what is read stays fresh).
//! [`Endpoint::send_to`] reports a full send buffer as [`SendError::WouldBlock`] (keep the packet,
//! retry when writable); [`Endpoint::send_batch`] sends a caller-owned [`SendBatch`] per `sendmmsg`.
//!
//! ```no_run
//! use patchbay_net::{BindSpec, Endpoint, SocketId, unicast_owner};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut poll = mio::Poll::new()?;
//! let mut ep = Endpoint::open(BindSpec::new("0.0.0.0:5568".parse()?, false))?;
//! tracing::info!("sacn bind 0: {ep}"); // "0.0.0.0:5568 via eth1 (index 3, 10.0.0.5, default route for 239.255.0.1)"
//! let main = ep.socket_mut(SocketId::Main).ok_or("no socket")?;
//! poll.registry().register(main, mio::Token(0), mio::Interest::READABLE)?;
//! let joined = ep.join("239.255.0.1".parse()?)?; // universe 1
//! if joined.new_socket {
//!     let s = ep.socket_mut(SocketId::Receiver(joined.socket)).ok_or("no socket")?;
//!     poll.registry().register(s, mio::Token(1 + joined.socket), mio::Interest::READABLE)?;
//! }
//! // On a readable event for token t (0 = Main, 1 + n = Receiver(n)), read until Ok(None):
//! let mut buf = [0u8; 1500];
//! while let Some(meta) = ep.recv(SocketId::Receiver(0), &mut buf)? {
//!     if !ep.accepts(&meta) {
//!         // unicast for another bind on this port: unicast_owner(&all_endpoints, port, dst)
//!         continue;
//!     }
//!     let _packet = &buf[..meta.len]; // parse; meta.dst tells which group it was sent to
//! }
//! # Ok(()) }
//! ```
//!
//! # Linux multicast facts relied on (verified by the tests in `tests/`, kernel 6.18)
//!
//! 1. A socket bound to a unicast address receives no multicast, even for a group it joined itself;
//!    only sockets bound to the wildcard (or the group) do. Hence the wildcard receive sockets
//!    (`socket_bound_to_unicast_address_gets_no_multicast`).
//! 2. With the default `IP_MULTICAST_ALL = 1` a wildcard socket receives every group any socket on the
//!    host joined, on any interface, without joining anything. With it off, a socket receives a group
//!    only if it joined that group itself *on the interface the datagram arrived on*
//!    (`specific_bind_receives_only_its_own_interface`, `unicast_only_bind_sees_no_foreign_multicast`).
//!    Only AF_INET sockets start with it on: an AF_INET6 dual-stack socket starts with the IPv4 flag
//!    clear (`dual_stack_main_socket_sees_no_foreign_ipv4_multicast`).
//!    This makes `unicast` instances strict and keeps a bind to one interface's traffic, and since each
//!    group is joined on exactly one receive socket of a bind, each multicast datagram is read once.
//! 3. `net.ipv4.igmp_max_memberships` (per network namespace, default 20) caps IPv4 joins per socket;
//!    join 21 fails with `ENOBUFS`. IPv6 has no count: each join is charged to the socket's option
//!    memory, and with `net.core.optmem_max = 131072` the 2,341st join fails with `ENOMEM`
//!    (`net.ipv6.mld_max_msf` limits source filters, not groups). The pool shards on both
//!    (`thousand_groups_each_received_exactly_once`, `tests/limits.rs`).
//! 4. `lo` loops multicast itself: traffic sent out of `lo` is received locally whatever
//!    `IP_MULTICAST_LOOP` says. On a real interface the flag (`local`) decides, and a looped-back
//!    datagram is reported as arriving on the egress interface (`local_flag_controls_loopback_*`).
//!    IPv6 multicast out of `lo` fails with `ENETUNREACH` even with `IPV6_MULTICAST_IF` = lo (Linux
//!    adds no `ff00::/8` route for loopback devices), so the IPv6 tests use the veth pair.
//! 5. Unicast to a port that several `SO_REUSEADDR` sockets share goes to exactly one socket: one bound
//!    to the destination address if any, else the most recently bound wildcard socket. That is often
//!    a receive socket (possibly of another bind, or stealing from another program on the host, as any
//!    later wildcard socket on 5568 would). So receive sockets return unicast instead of dropping it.
//! 6. A broadcast is delivered to every matching socket, so receive sockets drop their copies and the
//!    main socket processes it (`broadcast_is_processed_once_per_bind`).
//! 7. `IP_PKTINFO`: `ipi_addr` is the header destination; `ipi_spec_dst` equals it only for plain local
//!    delivery (for broadcast it is the answering interface address). That tells unicast from
//!    broadcast without a table of netmasks. An IPv4 datagram on a dual-stack IPv6 socket carries both
//!    an `IPV6_PKTINFO` (mapped address) and an `IP_PKTINFO` when both are enabled.
//! 8. Connecting a UDP socket to a group sends nothing and reveals the source address the route uses,
//!    which names the default multicast interface.
//! 9. After `unshare --net`, `/sys/class/net` still lists the host's interfaces (sysfs shows the
//!    namespace of its mounter); `/proc/thread-self/net/dev` shows the caller's. The guard reads that.
//!
//! # Tests and the network rule
//!
//! The socket tests must never run in the host's namespace (its `eth0` leads to a watched network).
//! `scripts/test` runs them inside a private namespace with the veth pair
//! (`scripts/netns-run --veth cargo test -p patchbay-net`); some need `sacn0`/`sacn1`. Run
//! anywhere else, every one fails at once with [`netns::REFUSAL`]. Every test in the workspace that
//! opens a socket calls [`netns::require_private_netns`] first.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod batch;
pub mod endpoint;
pub mod error;
pub mod iface;
pub mod netns;
pub mod pool;
pub mod rcvbuf;
pub mod recv;
pub mod send_batch;
mod socket;
pub mod sysctl;

pub use batch::RecvBatch;
pub use endpoint::{BindSpec, DEFAULT_MULTICAST_TTL, Endpoint, SACN_PORT, SocketId, unicast_owner};
pub use error::{JoinError, OpenError, RecvError, SendError};
pub use iface::{Chosen, IfaceError, Interface, LinkState, link_state};
pub use pool::{Joined, MembershipPool};
pub use recv::{DestKind, RecvMeta};
pub use send_batch::SendBatch;
pub use socket::RECV_BUFFER;
