//! What the receiver tells its caller: per-datagram outcomes, drop reasons, counters, events.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::PortAddress;
use crate::wire::{DropReason, OpClass, PollPacket, PollReplyPacket, Quirk, Quirks};
use patchbay_dmx::counted_enum;

counted_enum! {
    /// Why a well-formed packet was not used (malformed ones carry a [`DropReason`]).
    pub enum Discard {
        /// ArtDmx for a Port-Address this receiver does not listen to.
        UnknownUniverse => "unknown_universe", "Port-Address not listened to";
        /// Sequence number 1..=19 behind the source's last one (a late packet).
        OutOfSequence => "out_of_sequence", "out of sequence";
        /// A third source on a universe that already merges two (Art-Net 4 merges two).
        TooManySources => "too_many_sources", "third source on a merging universe";
        /// ArtSync from a new controller while the sync table is full.
        TooManySyncControllers => "too_many_sync_controllers", "sync controller table full";
        /// Our own output, looped back.
        OwnPacket => "own_packet", "own packet";
    }
}

impl std::error::Error for Discard {}

/// Why [`Receiver::handle_datagram`](super::Receiver::handle_datagram) did not use a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DropCause {
    /// Not a valid Art-Net packet.
    #[error("malformed: {0}")]
    Malformed(DropReason),
    /// Valid, but not used.
    #[error("{0}")]
    Discarded(Discard),
}

/// A dropped datagram, with what is known about it for `detect = verbose` logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{cause} from {from}")]
pub struct Dropped {
    /// Why.
    pub cause: DropCause,
    /// Port-Address of an ArtDmx, if it parsed.
    pub address: Option<PortAddress>,
    /// Sender.
    pub from: SocketAddrV4,
}

impl Dropped {
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
pub enum Handled<'a> {
    /// ArtDmx taken in; `changed`: the universe's merged output changed (read it with
    /// [`Receiver::poll_changed`](super::Receiver::poll_changed)).
    Dmx {
        /// Port-Address.
        address: PortAddress,
        /// Merged output changed.
        changed: bool,
    },
    /// ArtDmx held until its controller's next ArtSync.
    Held {
        /// Port-Address.
        address: PortAddress,
    },
    /// ArtSync; `changed_universes` universes changed when their held data was output.
    Sync {
        /// The controller.
        controller: Ipv4Addr,
        /// Universes whose merged output changed.
        changed_universes: usize,
    },
    /// ArtPoll: the caller answers with ArtPollReply (see [`PollPacket::wants`]).
    Poll(PollPacket<'a>),
    /// ArtPollReply from another node (for node lists).
    PollReply(PollReplyPacket<'a>),
    /// Recognised as Art-Net and ignored (counted per class).
    Ignored(OpClass),
}

/// Something a caller may want to log or show; polled with
/// [`Receiver::poll_event`](super::Receiver::poll_event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A new source sends on a universe (the second one starts a merge).
    SourceAdded {
        /// Port-Address.
        address: PortAddress,
        /// The source.
        ip: Ipv4Addr,
        /// Sources on the universe now (1 or 2).
        sources: usize,
    },
    /// A source was not heard for the source timeout.
    SourceLost {
        /// Port-Address.
        address: PortAddress,
        /// The source.
        ip: Ipv4Addr,
    },
    /// A third source was refused (reported once until a source leaves).
    SourceRefused {
        /// Port-Address.
        address: PortAddress,
        /// The refused source.
        ip: Ipv4Addr,
    },
    /// ArtSync arrived from a controller not in synchronous mode: its ArtDmx is now held
    /// until its next ArtSync.
    SyncStarted {
        /// The controller.
        controller: Ipv4Addr,
    },
    /// No ArtSync from the controller for the sync timeout: its ArtDmx applies on arrival
    /// again (and data it held was output).
    SyncLost {
        /// The controller.
        controller: Ipv4Addr,
    },
}

/// Running totals, indexed by [`DropReason::index`], [`Discard::index`], [`Quirk::index`] and
/// [`OpClass::index`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Malformed datagrams per wire rule.
    pub malformed: [u64; DropReason::COUNT],
    /// Well-formed packets not used, per reason.
    pub discarded: [u64; Discard::COUNT],
    /// Accepted datagrams that deviated from Art-Net 4, per deviation.
    pub quirks: [u64; Quirk::COUNT],
    /// Packets of OpCodes not interpreted, per class.
    pub ignored: [u64; OpClass::COUNT],
    /// ArtDmx used (applied or held).
    pub dmx: u64,
    /// ArtSync used.
    pub sync: u64,
    /// ArtPoll received.
    pub poll: u64,
    /// ArtPollReply received.
    pub poll_reply: u64,
}

impl Counters {
    /// Count of one discard reason.
    pub fn discarded(&self, d: Discard) -> u64 {
        self.discarded[d.index()]
    }

    /// Count of one wire rule.
    pub fn malformed(&self, r: DropReason) -> u64 {
        self.malformed[r.index()]
    }

    /// Count of one tolerated deviation.
    pub fn quirk(&self, q: Quirk) -> u64 {
        self.quirks[q.index()]
    }

    /// Count of one ignored OpCode class.
    pub fn ignored(&self, c: OpClass) -> u64 {
        self.ignored[c.index()]
    }

    /// Total malformed datagrams.
    pub fn malformed_total(&self) -> u64 {
        self.malformed.iter().sum()
    }

    pub(crate) fn count_drop(&mut self, d: &Dropped) {
        match d.cause {
            DropCause::Malformed(r) => self.malformed[r.index()] += 1,
            DropCause::Discarded(x) => self.discarded[x.index()] += 1,
        }
    }

    pub(crate) fn count_quirks(&mut self, q: Quirks) {
        for x in q.iter() {
            self.quirks[x.index()] += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discard_names() {
        patchbay_dmx::check_names::<Discard>();
        assert_eq!(Discard::TooManySources.as_str(), "too_many_sources");
    }
}
