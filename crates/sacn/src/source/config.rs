//! Timing and per-universe settings of a [`Source`](super::Source).

use std::time::Duration;

use patchbay_dmx::{Limit, PacerConfig};

use crate::wire::{DEFAULT_PRIORITY, MAX_SLOTS};

/// Timing of a source. The defaults follow E1.31 and the sACN backend README.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceConfig {
    /// The rate limit outside realtime mode: no two packets of a universe's stream closer than
    /// this (when the caller polls on time), so no 1 s window holds more than 1 s / `min_gap`
    /// of them; also the spacing of the repeats after a change. Default 1/44 s (rounded up to
    /// 22.727273 ms), the 44 packets/s of DMX512 that E1.31 6.6.1 ties sources to.
    pub min_gap: Duration,
    /// How late a frame of an input at the limit rate may come before the first repeat after
    /// the previous change takes its slot: the first repeat waits `min_gap +
    /// jitter_tolerance`, so a frame delayed by jitter is not held back by a whole gap behind a
    /// repeat. Capped at `min_gap / 2`. Default `DEFAULT_MIN_GAP / 2`.
    pub jitter_tolerance: Duration,
    /// How late the caller may poll a deferred packet without the schedule moving by as much
    /// (see [`patchbay_dmx::Limit::Strict`]): the packet keeps its slot, so a timer that fires a
    /// little late does not defer every later frame of a 44 fps input. A packet polled `w`
    /// late may be followed by the next one `min_gap − w` later. Default 1 ms.
    pub late_allowance: Duration,
    /// When every change of a universe has waited at least this long for its slot for a whole
    /// second (the schedule stands behind the input's phase, e.g. after a stalled frame or at
    /// the end of an overload, rather than following its jitter), the next change of a steady
    /// 44 fps input is held until `min_gap` after it was made; if the input's next frame comes
    /// meanwhile it replaces it and goes out at once, back on the input's phase. So at most one
    /// frame per second is given up; `None`: never (a lag then lasts as long as the input keeps
    /// the limit rate). See [`patchbay_dmx::Limit::Strict`]. Default 2 ms.
    pub catch_up: Option<Duration>,
    /// Largest gap between two packets of an unchanged universe (E1.31 6.6.2: 800–1000 ms).
    /// Default 1 s.
    pub keepalive: Duration,
    /// How much earlier than `keepalive` a keep-alive is scheduled, so that a caller that polls
    /// a little late still stays within `keepalive`. Default 100 ms (keep-alives every 900 ms).
    pub keepalive_margin: Duration,
    /// Packets of unchanged data sent after the last change, one per `min_gap`. Default 3.
    pub repeats: u8,
    /// Period of the realtime rate cap: in realtime mode a universe sends at most one packet
    /// per `realtime_min_gap` in the long run (a guard against feedback loops, not a DMX
    /// limit). Default 250 µs (4,000 packets/s).
    pub realtime_min_gap: Duration,
    /// How far ahead of its realtime slot a change may go out: a sender that catches up after a
    /// stall delivers a few frames back to back, and each goes out as it is processed instead of
    /// being deferred (up to `1 + realtime_tolerance / realtime_min_gap` packets in a row).
    /// Default 1 ms.
    pub realtime_tolerance: Duration,
    /// Period of universe discovery packets (E131_UNIVERSE_DISCOVERY_INTERVAL). Default 10 s.
    pub discovery_interval: Duration,
    /// Stream_Terminated packets sent per universe when it stops. Default 3.
    pub terminations: u8,
}

impl SourceConfig {
    /// 1/44 s rounded up to whole nanoseconds.
    pub const DEFAULT_MIN_GAP: Duration = Duration::from_nanos(1_000_000_000_u64.div_ceil(44));

    /// The tolerance actually applied (`jitter_tolerance`, at most half of `min_gap`).
    #[inline]
    pub(crate) fn tolerance(&self) -> Duration {
        self.jitter_tolerance.min(self.min_gap / 2)
    }

    /// Gap after which an unchanged universe is sent again. Never zero, so a degenerate
    /// configuration cannot make `poll_transmit` emit keep-alives forever at one instant.
    #[inline]
    pub(crate) fn keepalive_target(&self) -> Duration {
        self.keepalive
            .saturating_sub(self.keepalive_margin)
            .max(self.min_gap)
            .max(Duration::from_millis(1))
    }
}

impl SourceConfig {
    /// Timing of a rate-limited stream.
    pub(crate) fn limited_pacing(&self) -> PacerConfig {
        PacerConfig {
            limit: Limit::Strict {
                min_gap: self.min_gap,
                late_allowance: self.late_allowance,
                catch_up: self.catch_up,
            },
            repeats: self.repeats,
            repeat_gap: self.min_gap,
            repeat_delay: self.tolerance(),
            keep_alive: self.keepalive_target(),
        }
    }

    /// Timing of a realtime stream: a burst limit of `realtime_min_gap` slots, repeats and
    /// keep-alives as rate-limited streams have them but with no delay before the first repeat.
    pub(crate) fn realtime_pacing(&self) -> PacerConfig {
        PacerConfig {
            limit: Limit::Burst {
                min_gap: self.realtime_min_gap,
                burst: self.realtime_tolerance,
            },
            repeats: self.repeats,
            repeat_gap: self.min_gap,
            repeat_delay: Duration::ZERO,
            keep_alive: self.keepalive_target(),
        }
    }
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            min_gap: Self::DEFAULT_MIN_GAP,
            jitter_tolerance: Self::DEFAULT_MIN_GAP / 2,
            late_allowance: Duration::from_millis(1),
            catch_up: Some(Duration::from_millis(2)),
            keepalive: Duration::from_secs(1),
            keepalive_margin: Duration::from_millis(100),
            repeats: 3,
            realtime_min_gap: Duration::from_micros(250),
            realtime_tolerance: Duration::from_millis(1),
            discovery_interval: Duration::from_secs(10),
            terminations: 3,
        }
    }
}

/// Settings of one transmitted universe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniverseConfig {
    /// Packet priority 0..=200.
    pub priority: u8,
    /// Sync universe, 0 = unsynchronized. When set, every flush of data packets of this
    /// universe is followed by one sync packet for it.
    pub sync_address: u16,
    /// Mark all data as Preview_Data.
    pub preview: bool,
    /// Set Force_Synchronization on synchronized data.
    pub force_synchronization: bool,
    /// Send each change at the next poll, limited only by `realtime_min_gap` (with
    /// `realtime_tolerance`), not by `min_gap`.
    pub realtime: bool,
    /// Per-address priorities (ETC's 0xDD start code). When set, the universe also sends a
    /// 0xDD stream with its own repeat/keep-alive timing.
    pub per_address_priority: Option<[u8; MAX_SLOTS]>,
}

impl Default for UniverseConfig {
    fn default() -> Self {
        UniverseConfig {
            priority: DEFAULT_PRIORITY,
            sync_address: 0,
            preview: false,
            force_synchronization: false,
            realtime: false,
            per_address_priority: None,
        }
    }
}
