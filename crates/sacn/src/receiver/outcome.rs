//! What the receiver tells its caller: per-datagram outcomes, drop reasons, counters, events.

use std::collections::VecDeque;

use crate::cid::Cid;
use crate::wire::{DropReason, Irregularities, Irregularity};

use super::name::SourceName;

patchbay_dmx::counted_enum! {
    /// Why a well-formed packet was not used (malformed ones carry a [`DropReason`]).
    pub enum Discard {
        /// Sequence number inside the (−20, 0] window of the last accepted one (E1.31 6.7.2).
        OutOfSequence => "out_of_sequence", "out of sequence";
        /// Preview_Data set and previews are not accepted.
        Preview => "preview", "preview data";
        /// Our own CID (looped-back output).
        OwnCid => "own_cid", "own CID";
        /// CID differs from the universe's `from` filter.
        FilteredCid => "filtered_cid", "CID not accepted by the `from` filter";
        /// The per-universe source table (or the sync/discovery table) is full.
        TooManySources => "too_many_sources", "source limit reached";
        /// Data for a universe this receiver does not listen to.
        UnknownUniverse => "unknown_universe", "universe not listened to";
        /// Start code other than 0x00 (levels) and 0xDD (per-address priority).
        UnsupportedStartCode => "unsupported_start_code", "unsupported start code";
        /// Stream_Terminated packet from a source not (or no longer) tracked: the repeats of a
        /// termination, which must not revive the source.
        Terminated => "terminated", "termination from an untracked source";
        /// Discovery list longer than the per-source bound.
        DiscoveryOverflow => "discovery_overflow", "discovery universe list too long";
    }
}

impl std::error::Error for Discard {}

/// Why [`Receiver::handle_datagram`](super::Receiver::handle_datagram) did not use a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DropCause {
    /// Not a valid E1.31 packet.
    #[error("malformed: {0}")]
    Malformed(DropReason),
    /// Valid, but not used.
    #[error("{0}")]
    Discarded(Discard),
}

/// A dropped datagram, with what is known about it for `detect = verbose` logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{cause}")]
pub struct Dropped {
    /// Why.
    pub cause: DropCause,
    /// Universe of a data packet (sync address of a sync packet), if it parsed.
    pub universe: Option<u16>,
    /// Sender, if the packet parsed.
    pub cid: Option<Cid>,
}

impl Dropped {
    pub(crate) fn malformed(r: DropReason) -> Dropped {
        Dropped {
            cause: DropCause::Malformed(r),
            universe: None,
            cid: None,
        }
    }

    pub(crate) fn discarded(d: Discard, universe: Option<u16>, cid: Cid) -> Dropped {
        Dropped {
            cause: DropCause::Discarded(d),
            universe,
            cid: Some(cid),
        }
    }

    /// The discard reason, if the packet was well-formed.
    pub fn discard(&self) -> Option<Discard> {
        match self.cause {
            DropCause::Discarded(d) => Some(d),
            DropCause::Malformed(_) => None,
        }
    }
}

/// What an accepted datagram did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Levels or per-address priorities taken in. `changed`: the merged output of the universe
    /// changed (read it with [`Receiver::poll_changed`](super::Receiver::poll_changed)).
    Data {
        /// Universe.
        universe: u16,
        /// Merged output changed.
        changed: bool,
    },
    /// Levels held until a sync packet for their sync address arrives.
    Held {
        /// Universe.
        universe: u16,
    },
    /// A sync packet; `changed_universes` universes changed output when their held data applied.
    Sync {
        /// Sync universe.
        address: u16,
        /// Universes whose merged output changed.
        changed_universes: usize,
    },
    /// A universe discovery page; `complete`: it completed the source's list.
    Discovery {
        /// Sender.
        cid: Cid,
        /// The page completed a (possibly multi-page) list.
        complete: bool,
    },
}

/// Something a caller may want to log or show; polled with
/// [`Receiver::poll_event`](super::Receiver::poll_event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A new source is sending on a universe.
    SourceAdded {
        /// Universe.
        universe: u16,
        /// Source.
        cid: Cid,
        /// Its name.
        name: SourceName,
        /// Packet priority of its first packet.
        priority: u8,
    },
    /// Nothing heard for the loss timeout (E1.31 network data loss).
    SourceLost {
        /// Universe.
        universe: u16,
        /// Source.
        cid: Cid,
    },
    /// The source sent Stream_Terminated.
    SourceTerminated {
        /// Universe.
        universe: u16,
        /// Source.
        cid: Cid,
    },
    /// 0xDD packets stopped while levels continue: the source falls back to packet priority.
    PerAddressPriorityLost {
        /// Universe.
        universe: u16,
        /// Source.
        cid: Cid,
    },
    /// A source on a universe started naming a synchronization universe: the caller should
    /// listen to that universe's multicast group, or the sync packets never arrive.
    SyncAddressSeen {
        /// Universe of the data.
        universe: u16,
        /// Source.
        cid: Cid,
        /// The sync universe it names.
        sync_address: u16,
    },
    /// A new source was refused because the universe's source table is full (reported once
    /// until a source leaves).
    SourceLimitExceeded {
        /// Universe.
        universe: u16,
    },
    /// The sampling period of a universe ended; merged output is now live.
    SamplingEnded {
        /// Universe.
        universe: u16,
    },
    /// A discovery source's universe list is new or changed.
    DiscoveryUpdated {
        /// Source.
        cid: Cid,
    },
    /// A discovery source was not heard for the discovery expiry time.
    DiscoveryExpired {
        /// Source.
        cid: Cid,
    },
}

/// Bounded event queue: a flood cannot grow memory; overflow drops the oldest event.
#[derive(Debug, Clone)]
pub struct EventQueue {
    queue: VecDeque<Event>,
    capacity: usize,
    dropped: u64,
}

impl EventQueue {
    /// Allocates room for `capacity` events up front (at least 1).
    pub fn new(capacity: usize) -> EventQueue {
        let capacity = capacity.max(1);
        EventQueue {
            queue: VecDeque::with_capacity(capacity),
            capacity,
            dropped: 0,
        }
    }

    /// Queues `e`, dropping the oldest event if full.
    pub fn push(&mut self, e: Event) {
        if self.queue.len() >= self.capacity {
            self.queue.pop_front();
            self.dropped += 1;
        }
        self.queue.push_back(e);
    }

    /// Oldest queued event.
    pub fn pop(&mut self) -> Option<Event> {
        self.queue.pop_front()
    }

    /// Number of queued events.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether no event is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Events lost to overflow so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// Running totals, indexed by [`Discard::index`] and [`DropReason::index`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Malformed datagrams per wire rule.
    pub malformed: [u64; DropReason::COUNT],
    /// Data packets accepted despite a deviation from E1.31, per [`Irregularity::index`]
    /// (a packet with two deviations counts under both; used or not afterwards).
    pub irregular: [u64; Irregularity::COUNT],
    /// Well-formed packets not used, per reason.
    pub discarded: [u64; Discard::COUNT],
    /// Data packets used (levels or priorities, applied or held).
    pub data: u64,
    /// Sync packets used.
    pub sync: u64,
    /// Discovery pages used.
    pub discovery: u64,
}

impl Counters {
    /// Count of one discard reason.
    pub fn discarded(&self, d: Discard) -> u64 {
        self.discarded[d.index()]
    }

    /// Total malformed datagrams.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.iter().sum()
    }

    /// Count of one irregularity.
    pub fn irregular(&self, i: Irregularity) -> u64 {
        self.irregular[i.index()]
    }

    #[inline]
    pub(crate) fn count_irregular(&mut self, set: Irregularities) {
        if set.is_empty() {
            return;
        }
        for i in set.iter() {
            self.irregular[i.index()] += 1;
        }
    }

    pub(crate) fn count_drop(&mut self, d: &Dropped) {
        match d.cause {
            DropCause::Malformed(r) => {
                if let Some(c) = self.malformed.get_mut(r.index()) {
                    *c += 1;
                }
            }
            DropCause::Discarded(x) => self.discarded[x.index()] += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discard_indices_are_dense_and_named() {
        patchbay_dmx::check_names::<Discard>();
        assert_eq!(Discard::OutOfSequence.as_str(), "out_of_sequence");
    }

    #[test]
    fn event_queue_is_bounded() {
        let mut q = EventQueue::new(2);
        for u in 1..=5 {
            q.push(Event::SamplingEnded { universe: u });
        }
        assert_eq!(q.len(), 2);
        assert_eq!(q.dropped(), 3);
        assert_eq!(q.pop(), Some(Event::SamplingEnded { universe: 4 }));
        assert_eq!(q.pop(), Some(Event::SamplingEnded { universe: 5 }));
        assert_eq!(q.pop(), None);
    }
}
