//! Typed errors of this crate; each names the address, group or interface involved so the log line
//! stands on its own.

use std::io;
use std::net::{IpAddr, SocketAddr};

use crate::holder::PortUse;
use crate::iface::IfaceError;

/// Opening a bind socket failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A socket call other than `bind` failed.
    #[error("cannot {what} for {addr}: {source}")]
    Setup {
        /// The bind address.
        addr: SocketAddr,
        /// The step that failed, for example `set SO_REUSEADDR`.
        what: &'static str,
        /// What the kernel said.
        source: io::Error,
    },
    /// `bind` failed (address not local, port taken without SO_REUSEADDR on the other socket, ...).
    #[error("cannot bind {addr}: {source}{held}")]
    Bind {
        /// The bind address.
        addr: SocketAddr,
        /// What the kernel said.
        source: io::Error,
        /// For `EADDRINUSE`: who holds the port, and what to change.
        held: PortUse,
    },
    /// The bound address does not map to an interface.
    #[error("cannot find the interface of {addr}: {source}")]
    Interface {
        /// The bind address.
        addr: SocketAddr,
        /// Why.
        source: IfaceError,
    },
}

/// Joining or leaving a multicast group failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// Not a multicast address.
    #[error("{group} is not a multicast group")]
    NotMulticast {
        /// The address given.
        group: IpAddr,
    },
    /// IPv6 group on an IPv4 bind, or IPv4 group on an IPv6 bind that is not dual-stack.
    #[error(
        "{group} cannot be joined through the {bind} bind: address families differ (only a \
         dual-stack wildcard bind, ::, takes groups of both)"
    )]
    FamilyMismatch {
        /// The group.
        group: IpAddr,
        /// The bind address.
        bind: SocketAddr,
    },
    /// The bind has no multicast interface (wildcard bind without a multicast route).
    #[error("cannot join {group}: no multicast interface ({reason})")]
    NoInterface {
        /// The group.
        group: IpAddr,
        /// Why the interface could not be found.
        reason: String,
    },
    /// The kernel refused the membership for its per-socket limit (every group has a socket of
    /// its own, so the limit must be 0 or the option memory tiny).
    #[error(
        "cannot join {group} on {interface}: the kernel's per-socket membership limit refuses even \
         one (check sysctl {sysctl}): {source}"
    )]
    Limit {
        /// The group.
        group: IpAddr,
        /// The interface, as [`crate::Interface`] displays it.
        interface: String,
        /// The sysctl that bounds memberships per socket.
        sysctl: &'static str,
        /// What the kernel said (`ENOBUFS` for IPv4, `ENOMEM` for IPv6).
        source: io::Error,
    },
    /// The group's receive socket could not be opened.
    #[error("cannot open a receive socket on {group} port {port}: {source}{held}")]
    Open {
        /// The group that needed it.
        group: IpAddr,
        /// The port.
        port: u16,
        /// The setup error.
        source: io::Error,
        /// For `EADDRINUSE`: who holds the port, and what to change.
        held: PortUse,
    },
    /// The process is out of file descriptors: every group needs a socket.
    #[error(
        "cannot open a receive socket for {group}: {source} ({open} group socket(s) open; the \
         open-file limit is {soft}, raised to the hard limit {hard} already: raise the hard limit, \
         e.g. `ulimit -Hn` before starting or LimitNOFILE= in a systemd unit)"
    )]
    TooManyFiles {
        /// The group that needed a socket.
        group: IpAddr,
        /// Group sockets this bind has open.
        open: usize,
        /// Soft `RLIMIT_NOFILE` now.
        soft: u64,
        /// Hard `RLIMIT_NOFILE`.
        hard: u64,
        /// `EMFILE` or `ENFILE`.
        source: io::Error,
    },
    /// Any other kernel refusal.
    #[error("cannot {what} {group} on {interface}: {source}")]
    Os {
        /// `join` or `leave`.
        what: &'static str,
        /// The group.
        group: IpAddr,
        /// The interface, as [`crate::Interface`] displays it.
        interface: String,
        /// What the kernel said.
        source: io::Error,
    },
}

/// Sending a datagram failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The socket buffer is full: keep the packet and retry when the socket is writable.
    #[error("send buffer full")]
    WouldBlock,
    /// The kernel refused the datagram.
    #[error("cannot send to {dst}: {source}")]
    Io {
        /// The destination.
        dst: SocketAddr,
        /// What the kernel said.
        source: io::Error,
    },
}

/// Receiving failed for a reason other than an empty queue.
#[derive(Debug, thiserror::Error)]
#[error("receive failed: {0}")]
pub struct RecvError(#[from] pub io::Error);
