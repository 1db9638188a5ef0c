//! UDP sockets for patchbay's sACN backend: bind options, multicast membership sharding, interface
//! choice, receive with destination info, and the private-netns test guard.
//!
//! PLACEHOLDER-DOC

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod endpoint;
pub mod error;
pub mod iface;
pub mod netns;
pub mod pool;
pub mod recv;
mod socket;
pub mod sysctl;

pub use endpoint::{BindSpec, DEFAULT_MULTICAST_TTL, Endpoint, SACN_PORT, SocketId, unicast_owner};
pub use error::{JoinError, OpenError, RecvError, SendError};
pub use iface::{Chosen, IfaceError, Interface};
pub use pool::{Joined, MembershipPool};
pub use recv::{DestKind, RecvMeta};
