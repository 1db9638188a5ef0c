//! Receiver tuning knobs; the defaults are the E1.31-2018 constants and ETC practice.

use std::time::Duration;

use crate::cid::Cid;

/// E131_NETWORK_DATA_LOSS_TIMEOUT: a source unheard this long is gone.
pub const NETWORK_DATA_LOSS_TIMEOUT: Duration = Duration::from_millis(2500);
/// ETC practice: merged output is withheld this long after a universe starts listening.
pub const SAMPLING_PERIOD: Duration = Duration::from_millis(1500);
/// ETC per-address-priority rule 13: how long a new source's levels wait for its 0xDD packet.
pub const PER_ADDRESS_PRIORITY_WAIT: Duration = Duration::from_millis(1500);
/// ETC's default "expired wait": how long a timed-out source's levels may stay merged while
/// the other sources are checked (see the receiver's loss settling).
pub const LOSS_SETTLE: Duration = Duration::from_millis(1000);
/// Default bound on sources tracked per universe.
pub const DEFAULT_MAX_SOURCES_PER_UNIVERSE: usize = 64;
/// Hard upper bound on sources per universe (slot owners are stored in one byte).
pub const MAX_SOURCES_PER_UNIVERSE: usize = 254;

pub use patchbay_dmx::MergeMode;

/// What a slot shows once no source drives it any more (its source timed out, terminated, or
/// sent a shorter packet): `Hold` keeps the last merged value (MIDIMonster-compatible; no
/// events), `Zero` drops it to 0 (reported as a change).
pub type LossBehavior = patchbay_dmx::Undriven;

/// Settings shared by every universe of a [`Receiver`](super::Receiver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// Our own CID: packets carrying it are our looped-back output and are dropped.
    pub own_cid: Option<Cid>,
    /// Use Preview_Data packets as live data (off by default, per E1.31 6.2.6).
    pub accept_preview: bool,
    /// Merge between sources at the same top priority.
    pub merge: MergeMode,
    /// Slots without a driving source.
    pub loss: LossBehavior,
    /// Source loss timeout (levels packets).
    pub source_timeout: Duration,
    /// After a source times out, its levels stay merged until every other source has been heard
    /// again (or is lost too), at most this long; `ZERO` drops it at once. The loss itself
    /// (event, source table) always happens exactly at the timeout.
    pub loss_settle: Duration,
    /// Merged output is withheld this long after a universe is added.
    pub sampling_period: Duration,
    /// A source that appears after sampling waits this long for 0xDD before its levels merge.
    pub pap_wait: Duration,
    /// 0xDD packets unseen this long (while levels continue): fall back to packet priority.
    pub pap_timeout: Duration,
    /// Sync packets unseen this long: the sync stream counts as lost (Force_Synchronization applies).
    pub sync_timeout: Duration,
    /// Sources tracked per universe (clamped to 1..=254); more are dropped and counted.
    pub max_sources_per_universe: usize,
    /// (CID, sync universe) streams tracked; more are dropped and counted.
    pub max_sync_streams: usize,
    /// Events kept until polled; beyond this the oldest are dropped and counted.
    pub event_capacity: usize,
    /// Universe discovery tracking.
    pub discovery: crate::discovery::DiscoveryConfig,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            own_cid: None,
            accept_preview: false,
            merge: MergeMode::Htp,
            loss: LossBehavior::Hold,
            source_timeout: NETWORK_DATA_LOSS_TIMEOUT,
            loss_settle: LOSS_SETTLE,
            sampling_period: SAMPLING_PERIOD,
            pap_wait: PER_ADDRESS_PRIORITY_WAIT,
            pap_timeout: NETWORK_DATA_LOSS_TIMEOUT,
            sync_timeout: NETWORK_DATA_LOSS_TIMEOUT,
            max_sources_per_universe: DEFAULT_MAX_SOURCES_PER_UNIVERSE,
            max_sync_streams: 256,
            event_capacity: 1024,
            discovery: crate::discovery::DiscoveryConfig::default(),
        }
    }
}

/// Per-universe settings (one MIDIMonster instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UniverseConfig {
    /// `from` option: only this CID is accepted on the universe.
    pub from: Option<Cid>,
}
