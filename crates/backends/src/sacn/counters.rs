//! Counters exposed for operability (status output, tests) and the rate-limited drop log.

use std::borrow::Cow;

use patchbay_core::{InstanceId, Stat};

use patchbay_sacn::receiver::Discard;
use patchbay_sacn::{DropReason, Irregularity};

/// Per-instance totals since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceCounters {
    /// Data packets of this instance's universe taken in (levels or 0xDD, applied or held).
    pub frames_in: u64,
    /// Data packets sent for this instance (changes, repeats, keep-alives, terminations).
    pub frames_out: u64,
    /// Events reported to the core.
    pub events_in: u64,
    /// Well-formed packets for this universe that were not used, by [`Discard::index`].
    pub discarded: [u64; Discard::COUNT],
    /// Sources that appeared on the universe.
    pub sources_added: u64,
    /// Sources lost to the 2.5 s network data loss timeout.
    pub sources_lost: u64,
    /// Sources that sent Stream_Terminated.
    pub sources_terminated: u64,
    /// Output packets the kernel refused (other than a full buffer).
    pub send_errors: u64,
    /// Values delivered to this instance but dropped because it has no `priority`.
    pub output_dropped: u64,
    /// Output changes superseded by a newer change before any packet carried them (load shed by
    /// coalescing: the rate limit sends the latest values, never older ones after newer).
    pub coalesced: u64,
}

/// Per-bind totals since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindCounters {
    /// Datagrams read from the bind's sockets (including ones handed over from another bind).
    pub datagrams: u64,
    /// Zero-length datagrams (dropped; MIDIMonster shut down on them, D8).
    pub empty: u64,
    /// Datagrams that are not valid E1.31, by [`DropReason::index`].
    pub malformed: [u64; DropReason::COUNT],
    /// Data packets accepted despite a deviation real sources send (MIDIMonster's DMP length,
    /// padding, priority above 200, sync address above 63999), by [`Irregularity::index`].
    /// Not drops: the packets are used as the parser reads them.
    pub irregular: [u64; Irregularity::COUNT],
    /// Valid packets not used, by [`Discard::index`] (includes unknown universes, own CID).
    pub discarded: [u64; Discard::COUNT],
    /// Sync packets taken in.
    pub sync: u64,
    /// Discovery pages taken in.
    pub discovery: u64,
    /// Packets sent (data, sync, discovery; each destination counts).
    pub packets_out: u64,
    /// Sends refused by the kernel.
    pub send_errors: u64,
    /// Sends deferred because the socket buffer was full (sent once the socket is writable).
    pub send_would_block: u64,
    /// Times the bind's interface became unusable (down, no carrier, address removed, gone).
    pub link_down: u64,
    /// Times the bind's groups were re-joined after the interface came back.
    pub rejoins: u64,
    /// Turns ended early at one of this bind's data packets, because it would have merged into
    /// an unreported change of its universe (the packet is taken in next turn).
    pub turns_split: u64,
    /// Data packets that merged into an unreported change of their universe (the earlier frame
    /// is not forwarded on its own): overload (coalesce mode) or a change left by a timer.
    pub coalesced_in: u64,
    /// Datagrams read while the input was in coalesce mode (from a datagram that waited longer
    /// than `COALESCE_AFTER` in the kernel until one waited less than `SPLIT_BELOW`).
    pub coalesce_mode_datagrams: u64,
    /// Data packets of known sources whose levels were skipped because they were stale
    /// (`RecvMeta::stale`: overload, newer input queued behind); their sources stay alive.
    pub stale_skipped: u64,
}

impl BindCounters {
    /// Every drop: empty, malformed and discarded datagrams.
    pub fn dropped_total(&self) -> u64 {
        self.empty + self.malformed.iter().sum::<u64>() + self.discarded.iter().sum::<u64>()
    }
}

impl InstanceCounters {
    /// Named totals for the core's stats reports (names are stable: tests and scripts read
    /// them). `sources` is the number of sources merged right now.
    pub fn stats(&self, id: InstanceId, sources: usize, out: &mut Vec<Stat>) {
        let fixed: [(&'static str, u64); 10] = [
            ("frames_in", self.frames_in),
            ("frames_out", self.frames_out),
            ("events_in", self.events_in),
            ("sources", sources as u64),
            ("sources_added", self.sources_added),
            ("sources_lost", self.sources_lost),
            ("sources_terminated", self.sources_terminated),
            ("send_errors", self.send_errors),
            ("output_dropped", self.output_dropped),
            ("coalesced", self.coalesced),
        ];
        for (name, value) in fixed {
            out.push(Stat::instance(id, name, value));
        }
        for d in Discard::ALL {
            out.push(Stat::instance(
                id,
                discarded_name(d),
                self.discarded[d.index()],
            ));
        }
    }
}

impl BindCounters {
    /// Named totals of bind `index`, scope `bind N` (malformed packets are only known per bind,
    /// since their universe cannot be trusted), followed by what its sockets count: datagrams
    /// the kernel dropped and receive-buffer shrinks (`patchbay_net::UdpEndpoint`).
    pub fn stats(&self, index: usize, kernel_drops: u64, rcvbuf_shrinks: u64, out: &mut Vec<Stat>) {
        let scope = || Cow::Owned(format!("bind {index}"));
        let fixed: [(&'static str, u64); 15] = [
            ("datagrams", self.datagrams),
            ("empty", self.empty),
            ("malformed", self.malformed.iter().sum()),
            ("sync", self.sync),
            ("discovery", self.discovery),
            ("packets_out", self.packets_out),
            ("send_errors", self.send_errors),
            ("send_would_block", self.send_would_block),
            ("dropped", self.dropped_total()),
            ("link_down", self.link_down),
            ("rejoins", self.rejoins),
            ("turns_split", self.turns_split),
            ("coalesced_in", self.coalesced_in),
            ("coalesce_mode_datagrams", self.coalesce_mode_datagrams),
            ("stale_skipped", self.stale_skipped),
        ];
        for (name, value) in fixed {
            out.push(Stat::backend(scope(), name, value));
        }
        for r in DropReason::ALL {
            out.push(Stat::backend(
                scope(),
                malformed_name(r),
                self.malformed[r.index()],
            ));
        }
        for d in Discard::ALL {
            out.push(Stat::backend(
                scope(),
                discarded_name(d),
                self.discarded[d.index()],
            ));
        }
        for i in Irregularity::ALL {
            out.push(Stat::backend(
                scope(),
                irregular_name(i),
                self.irregular[i.index()],
            ));
        }
        out.push(Stat::backend(scope(), "kernel_drops", kernel_drops));
        out.push(Stat::backend(scope(), "rcvbuf_shrinks", rcvbuf_shrinks));
    }
}

/// `malformed.<reason>`; built once per reason (the names are `&'static`).
fn malformed_name(r: DropReason) -> &'static str {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        DropReason::ALL
            .iter()
            .map(|r| &*Box::leak(format!("malformed.{}", r.as_str()).into_boxed_str()))
            .collect()
    })[r.index()]
}

/// `irregular.<kind>`.
fn irregular_name(i: Irregularity) -> &'static str {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        Irregularity::ALL
            .iter()
            .map(|i| &*Box::leak(format!("irregular.{}", i.as_str()).into_boxed_str()))
            .collect()
    })[i.index()]
}

/// `discarded.<reason>`.
fn discarded_name(d: Discard) -> &'static str {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(|| {
        Discard::ALL
            .iter()
            .map(|d| &*Box::leak(format!("discarded.{}", d.as_str()).into_boxed_str()))
            .collect()
    })[d.index()]
}

/// How often one kind of debug line may be logged, and the throttle that enforces it.
pub use patchbay_kit::throttle::{LOG_PERIOD, Throttle};

/// "reason=count, ..." for the non-zero entries; empty if none.
pub fn summarize(
    malformed: &[u64; DropReason::COUNT],
    discarded: &[u64; Discard::COUNT],
) -> String {
    let mut parts = Vec::new();
    for r in DropReason::ALL {
        let n = malformed[r.index()];
        if n > 0 {
            parts.push(format!("{}={n}", r.as_str()));
        }
    }
    for d in Discard::ALL {
        let n = discarded[d.index()];
        if n > 0 {
            parts.push(format!("{}={n}", d.as_str()));
        }
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_use_stable_names_and_carry_the_values() {
        let mut c = BindCounters::default();
        c.malformed[DropReason::BadPreamble.index()] = 2;
        c.irregular[Irregularity::MidimonsterDmpLength.index()] = 7;
        c.empty = 1;
        let mut out = Vec::new();
        c.stats(3, 5, 1, &mut out);
        let get = |n: &str| out.iter().find(|s| s.name == n).map(|s| s.value);
        assert_eq!(get("malformed.bad_preamble"), Some(2));
        assert_eq!(
            (get("kernel_drops"), get("rcvbuf_shrinks")),
            (Some(5), Some(1))
        );
        assert_eq!(get("malformed"), Some(2));
        assert_eq!(get("dropped"), Some(3));
        assert_eq!(get("discarded.out_of_sequence"), Some(0));
        // Accepted packets are not drops.
        assert_eq!(get("irregular.dmp_length_midimonster"), Some(7));
        for (name, i) in [
            ("irregular.padded", Irregularity::Padded),
            (
                "irregular.priority_above_200",
                Irregularity::PriorityAbove200,
            ),
            (
                "irregular.sync_address_out_of_range",
                Irregularity::SyncAddressOutOfRange,
            ),
        ] {
            assert_eq!(get(name), Some(0), "{i:?}");
        }
        assert!(
            out.iter()
                .all(|s| s.scope == patchbay_core::StatScope::Backend("bind 3".into()))
        );
        let i = InstanceCounters {
            sources_lost: 4,
            ..InstanceCounters::default()
        };
        out.clear();
        i.stats(InstanceId(9), 2, &mut out);
        let get = |n: &str| out.iter().find(|s| s.name == n).map(|s| s.value);
        assert_eq!((get("sources_lost"), get("sources")), (Some(4), Some(2)));
        assert_eq!(out.len(), 10 + Discard::COUNT);
    }

    #[test]
    fn summary_lists_non_zero_reasons() {
        let mut m = [0; DropReason::COUNT];
        let mut d = [0; Discard::COUNT];
        assert_eq!(summarize(&m, &d), "");
        m[DropReason::BadPreamble.index()] = 2;
        d[Discard::OwnCid.index()] = 5;
        assert_eq!(summarize(&m, &d), "bad_preamble=2, own_cid=5");
    }
}
