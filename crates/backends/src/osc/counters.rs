//! What an `osc` instance counts (names listed in README.md; stable).

use std::borrow::Cow;

use patchbay_core::{InstanceId, Stat};
use patchbay_osc::framing::FrameError;
use patchbay_osc::wire::DropReason;

/// Totals of one instance since start.
#[derive(Debug, Default, Clone)]
pub struct InstanceCounters {
    /// Datagrams (or stream frames) received.
    pub datagrams_in: u64,
    /// Messages received (bundle contents included, malformed ones not).
    pub messages_in: u64,
    /// Bundles received (nested ones included).
    pub bundles_in: u64,
    /// Events reported to the core.
    pub events_in: u64,
    /// Messages whose address names no configured path.
    pub unmatched: u64,
    /// Messages whose address is outside the instance `root`.
    pub outside_root: u64,
    /// Messages whose argument count differs from their path's preconfiguration (ignored, as
    /// in MIDIMonster).
    pub wrong_arguments: u64,
    /// Messages of bundles with a future time tag, held until it.
    pub scheduled: u64,
    /// Messages of bundles with a future time tag dropped because too many were held.
    pub schedule_full: u64,
    /// Datagrams or elements dropped, by [`DropReason`].
    pub malformed: [u64; DropReason::COUNT],
    /// Address patterns that were malformed.
    pub bad_pattern: u64,
    /// Stream framing errors, by [`FrameError`].
    pub framing: [u64; FrameError::COUNT],
    /// Datagrams cut because they were longer than the receive buffer.
    pub truncated: u64,
    /// Messages sent (in bundles or alone).
    pub messages_out: u64,
    /// Datagrams (or stream frames) sent.
    pub datagrams_out: u64,
    /// Bundles sent.
    pub bundles_out: u64,
    /// Keep-alive messages sent.
    pub keepalives_out: u64,
    /// Changes that could not be sent because no destination is known yet (`learn`).
    pub no_destination: u64,
    /// Sends the kernel refused.
    pub send_errors: u64,
    /// Sends that found the send buffer full (sent again when it has room).
    pub send_would_block: u64,
    /// Receive errors.
    pub recv_errors: u64,
    /// TCP connections made or accepted.
    pub connections: u64,
}

impl InstanceCounters {
    /// Every malformed input, all reasons.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.iter().sum::<u64>() + self.bad_pattern + self.framing.iter().sum::<u64>()
    }

    /// Named totals of instance `id`.
    pub fn stats(&self, id: InstanceId, out: &mut Vec<Stat>) {
        let fixed: [(&'static str, u64); 20] = [
            ("datagrams_in", self.datagrams_in),
            ("messages_in", self.messages_in),
            ("bundles_in", self.bundles_in),
            ("events_in", self.events_in),
            ("unmatched", self.unmatched),
            ("outside_root", self.outside_root),
            ("wrong_arguments", self.wrong_arguments),
            ("scheduled", self.scheduled),
            ("schedule_full", self.schedule_full),
            ("malformed", self.malformed_total()),
            ("truncated", self.truncated),
            ("messages_out", self.messages_out),
            ("datagrams_out", self.datagrams_out),
            ("bundles_out", self.bundles_out),
            ("keepalives_out", self.keepalives_out),
            ("no_destination", self.no_destination),
            ("send_errors", self.send_errors),
            ("send_would_block", self.send_would_block),
            ("recv_errors", self.recv_errors),
            ("connections", self.connections),
        ];
        for (name, value) in fixed {
            out.push(Stat::instance(id, name, value));
        }
        for r in DropReason::ALL {
            let n = self.malformed[r.index()];
            if n > 0 {
                out.push(Stat::instance(
                    id,
                    Cow::Owned(format!("malformed.{}", r.as_str())),
                    n,
                ));
            }
        }
        if self.bad_pattern > 0 {
            out.push(Stat::instance(
                id,
                "malformed.bad_pattern",
                self.bad_pattern,
            ));
        }
        for r in FrameError::ALL {
            let n = self.framing[r.index()];
            if n > 0 {
                out.push(Stat::instance(
                    id,
                    Cow::Owned(format!("malformed.{}", r.as_str())),
                    n,
                ));
            }
        }
    }
}
