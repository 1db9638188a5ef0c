//! Counters of the Art-Net backend, reported through `Backend::stats` (`--json`, the stats
//! log): per instance, and per bind (scope `bind N`), where malformed packets are counted by
//! reason since their universe cannot be trusted.

use patchbay_artnet::receiver::{Counters, Discard};
use patchbay_artnet::{DropReason, Quirk};
use patchbay_core::{InstanceId, Stat};

/// Per-instance totals since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceCounters {
    /// ArtDmx of this instance's Port-Address taken in (applied or held for ArtSync).
    pub frames_in: u64,
    /// ArtDmx sent for this instance (changes and keep-alives).
    pub frames_out: u64,
    /// Events reported to the core.
    pub events_in: u64,
    /// Sources that appeared on the universe.
    pub sources_added: u64,
    /// Sources not heard for the merge timeout (10 s).
    pub sources_lost: u64,
    /// A third source refused (Art-Net merges two).
    pub sources_refused: u64,
    /// Output packets the kernel refused (other than a full buffer).
    pub send_errors: u64,
    /// Values delivered to this instance but dropped because it has no destination.
    pub output_dropped: u64,
}

impl InstanceCounters {
    /// Named totals; `sources` is the number of sources merged now.
    pub fn stats(&self, id: InstanceId, sources: usize, out: &mut Vec<Stat>) {
        for (name, value) in [
            ("frames_in", self.frames_in),
            ("frames_out", self.frames_out),
            ("events_in", self.events_in),
            ("sources", sources as u64),
            ("sources_added", self.sources_added),
            ("sources_lost", self.sources_lost),
            ("sources_refused", self.sources_refused),
            ("send_errors", self.send_errors),
            ("output_dropped", self.output_dropped),
        ] {
            out.push(Stat::instance(id, name, value));
        }
    }
}

/// Per-bind totals since start (what the receiver counts is read from it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BindCounters {
    /// Datagrams read.
    pub datagrams: u64,
    /// Datagrams longer than the receive buffer (dropped).
    pub oversize: u64,
    /// Datagrams from an IPv6 source (Art-Net identifies sources by IPv4 address; dropped).
    pub not_ipv4: u64,
    /// ArtPollReplies sent (one per port).
    pub poll_replies_sent: u64,
    /// ArtPolls sent (`announce=`).
    pub polls_sent: u64,
    /// ArtSyncs sent.
    pub syncs_sent: u64,
    /// Packets sent (each destination counts).
    pub packets_out: u64,
    /// Sends refused by the kernel.
    pub send_errors: u64,
    /// Sends deferred because the send buffer was full.
    pub send_would_block: u64,
    /// Turns ended early at an ArtDmx that would have merged into an unreported change of its
    /// universe (it is taken in next turn, so every frame is forwarded).
    pub turns_split: u64,
}

impl BindCounters {
    /// Every dropped datagram: ours, and the receiver's malformed and discarded ones.
    pub fn dropped_total(&self, rx: &Counters) -> u64 {
        self.oversize + self.not_ipv4 + rx.malformed_total() + rx.discarded.iter().sum::<u64>()
    }

    /// Named totals of bind `index`, with the receiver's `rx` and the socket's kernel drops.
    pub fn stats(
        &self,
        index: usize,
        rx: &Counters,
        kernel_drops: u64,
        rcvbuf_shrinks: u64,
        out: &mut Vec<Stat>,
    ) {
        let scope = format!("bind {index}");
        let mut push = |name: std::borrow::Cow<'static, str>, value: u64| {
            out.push(Stat::backend(scope.clone(), name, value))
        };
        for (name, value) in [
            ("datagrams", self.datagrams),
            ("dmx", rx.dmx),
            ("sync", rx.sync),
            ("poll", rx.poll),
            ("poll_reply", rx.poll_reply),
            ("malformed", rx.malformed_total()),
            ("dropped", self.dropped_total(rx)),
            ("oversize", self.oversize),
            ("not_ipv4", self.not_ipv4),
            ("poll_replies_sent", self.poll_replies_sent),
            ("polls_sent", self.polls_sent),
            ("syncs_sent", self.syncs_sent),
            ("packets_out", self.packets_out),
            ("send_errors", self.send_errors),
            ("send_would_block", self.send_would_block),
            ("turns_split", self.turns_split),
            ("ignored", rx.ignored.iter().sum()),
        ] {
            push(name.into(), value);
        }
        for r in DropReason::ALL {
            push(format!("malformed.{}", r.as_str()).into(), rx.malformed(r));
        }
        for d in Discard::ALL {
            push(format!("discarded.{}", d.as_str()).into(), rx.discarded(d));
        }
        for q in Quirk::ALL {
            push(format!("quirk.{}", q.as_str()).into(), rx.quirk(q));
        }
        push("kernel_drops".into(), kernel_drops);
        push("rcvbuf_shrinks".into(), rcvbuf_shrinks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_stats_name_every_reason() {
        let mut rx = Counters::default();
        rx.malformed[DropReason::BadId.index()] = 3;
        rx.discarded[Discard::UnknownUniverse.index()] = 2;
        let c = BindCounters {
            oversize: 1,
            ..BindCounters::default()
        };
        let mut out = Vec::new();
        c.stats(2, &rx, 7, 0, &mut out);
        let get = |n: &str| out.iter().find(|s| s.name == n).map(|s| s.value);
        assert_eq!(get("malformed.bad_id"), Some(3));
        assert_eq!(get("malformed"), Some(3));
        assert_eq!(get("discarded.unknown_universe"), Some(2));
        assert_eq!(get("dropped"), Some(6));
        assert_eq!(get("kernel_drops"), Some(7));
        assert_eq!(get("quirk.odd_length"), Some(0));
        assert!(
            out.iter()
                .all(|s| s.scope == patchbay_core::StatScope::Backend("bind 2".into()))
        );
    }
}
