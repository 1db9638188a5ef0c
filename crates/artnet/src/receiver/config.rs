//! Receiver settings; the defaults are Art-Net 4's constants.

use std::net::SocketAddrV4;
use std::time::Duration;

pub use patchbay_dmx::MergeMode;

/// Art-Net 4 merge timeout: a source not heard for this long leaves the merge (OLA uses the
/// same 10 s, "as per the spec").
pub const SOURCE_TIMEOUT: Duration = Duration::from_secs(10);
/// Art-Net 4: a node returns to non-synchronous output when no ArtSync arrived for 4 s.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(4);
/// Art-Net 4 merges at most two sources per Port-Address; a third is ignored.
pub const MAX_SOURCES: usize = 2;
/// A packet whose sequence number is 1..=19 behind its source's last one is late and dropped;
/// further behind is taken as a sender restart (Art-Net 4 defines no window; this is E1.31's).
pub const SEQUENCE_WINDOW: u8 = 20;

/// Settings shared by every universe of a [`Receiver`](super::Receiver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// How two sources combine (HTP by default, as Art-Net 4 nodes do unless told otherwise).
    pub merge: MergeMode,
    /// A source unheard this long is dropped from its universe.
    pub source_timeout: Duration,
    /// A controller whose ArtSync stopped this long no longer holds ArtDmx back.
    pub sync_timeout: Duration,
    /// Controllers (IP addresses) in synchronous mode tracked at once; more are dropped and
    /// counted.
    pub max_sync_controllers: usize,
    /// Datagrams from these addresses are our own output looped back: dropped and counted.
    /// (Sources are told apart by IP address alone, as Art-Net 4 says, so another program on
    /// patchbay's own host still counts as a source; only exact address and port match here.)
    pub own_addresses: Vec<SocketAddrV4>,
    /// Events kept until polled; beyond this the oldest are dropped and counted.
    pub event_capacity: usize,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            merge: MergeMode::Htp,
            source_timeout: SOURCE_TIMEOUT,
            sync_timeout: SYNC_TIMEOUT,
            max_sync_controllers: 8,
            own_addresses: Vec::new(),
            event_capacity: 256,
        }
    }
}
