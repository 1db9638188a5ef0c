//! Protocol-neutral parts of patchbay's backends, written once so that each backend has only its
//! protocol to write: what `patchbay_core` leaves to backends but more than one needs.
//!
//! * [`dmx_channels`]: the channels of a DMX universe (`N`, `N+M`, slots 1..512), the
//!   per-instance slot table, lanes and frame routes, events from a received universe and
//!   values written into one (sACN, Art-Net).
//! * [`host`]: HOST and PORT words of `bind` and `destination` lines, looked up at start.
//! * [`instances`]: the core's instance ids to a backend's own instance indices.
//! * [`throttle`]: at most one log line per period for problems the network can cause at any
//!   rate.
//! * [`tag`]: `Io` tags naming one socket of one bind or connection.
//! * [`read_queue`]: a read budget per source per turn, and the sources to read again next turn.
//!
//! The sans-IO DMX pieces that need no core types (slot sets, the merge kernel) are in
//! `patchbay_dmx`; sockets are in `patchbay_net`. `doc/backends.md` in the repository is the
//! backend author's guide.
#![warn(missing_docs)]

pub mod dmx_channels;
pub mod host;
pub mod instances;
pub mod read_queue;
pub mod tag;
pub mod throttle;

pub use read_queue::{Drained, ReadQueue};
pub use tag::SocketTag;
pub use throttle::{LOG_PERIOD, Throttle};
