//! Typed errors of this crate; each names the address, group or interface involved so the log line
//! stands on its own.

use std::io;
use std::net::{IpAddr, SocketAddr};

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
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The bind address.
        addr: SocketAddr,
        /// What the kernel said.
        source: io::Error,
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
    /// IPv4 group on an IPv6 bind or the other way round.
    #[error("{group} cannot be joined through the {bind} bind: address families differ")]
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
    /// Even a fresh receive socket could not take the membership.
    #[error(
        "cannot join {group} on {interface}: per-socket membership limit reached even on a fresh socket \
         (check sysctl {sysctl}): {source}"
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
    /// A receive socket for more memberships could not be opened.
    #[error("cannot open a receive socket on port {port} for {group}: {source}")]
    Open {
        /// The group that needed it.
        group: IpAddr,
        /// The port.
        port: u16,
        /// The setup error.
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
