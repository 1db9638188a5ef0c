//! Counters exposed for operability (status output, tests) and the rate-limited drop log.

use std::time::{Duration, Instant};

use patchbay_sacn::DropReason;
use patchbay_sacn::receiver::Discard;

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
    /// Sends deferred because the socket buffer was full (retried next turn).
    pub send_would_block: u64,
}

impl BindCounters {
    /// Every drop: empty, malformed and discarded datagrams.
    pub fn dropped_total(&self) -> u64 {
        self.empty + self.malformed.iter().sum::<u64>() + self.discarded.iter().sum::<u64>()
    }
}

/// How often one kind of debug line may be logged.
pub const LOG_PERIOD: Duration = Duration::from_secs(10);

/// At most one log line per period; counts what happened in between.
#[derive(Clone, Copy, Debug, Default)]
pub struct Throttle {
    last: Option<Instant>,
    pending: u64,
}

impl Throttle {
    /// Records one occurrence; returns how many occurred since the last line when a line may be
    /// written now.
    #[inline]
    pub fn hit(&mut self, now: Instant, period: Duration) -> Option<u64> {
        self.pending += 1;
        let due = self
            .last
            .is_none_or(|t| now.saturating_duration_since(t) >= period);
        if due {
            self.last = Some(now);
            let n = self.pending;
            self.pending = 0;
            Some(n)
        } else {
            None
        }
    }
}

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
    fn throttle_allows_one_line_per_period_with_the_count() {
        let t0 = Instant::now();
        let mut t = Throttle::default();
        assert_eq!(t.hit(t0, LOG_PERIOD), Some(1));
        assert_eq!(t.hit(t0 + Duration::from_secs(1), LOG_PERIOD), None);
        assert_eq!(t.hit(t0 + Duration::from_secs(9), LOG_PERIOD), None);
        assert_eq!(t.hit(t0 + Duration::from_secs(10), LOG_PERIOD), Some(3));
        assert_eq!(t.hit(t0 + Duration::from_secs(11), LOG_PERIOD), None);
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
