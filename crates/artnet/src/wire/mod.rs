//! Art-Net 4 wire format: zero-copy validated views ([`Packet::parse`]) and allocation-free
//! builders ([`write_dmx`], [`write_sync`], [`write_poll`], [`write_poll_reply`]).
//!
//! Layout follows smoltcp's `wire` modules and the sACN crate: every offset lives in a private
//! `field` module, views can only be obtained from [`Packet::parse`], which checks the rules
//! first, so accessors never fail.
//!
//! # Strictness and tolerance
//!
//! Rejected ([`DropReason`], counted): a missing or wrong `"Art-Net\0"` ID, a packet shorter
//! than its fixed header, ProtVer below 14 (the specification's good-packet test is
//! `ProtVer >= 14`, so a later version is accepted), an ArtDmx net above 127 (bit 15 of a
//! Port-Address is reserved), an ArtDmx Length of 0 or above 512, and an ArtDmx whose Length
//! promises more slots than the datagram carries (OLA would use what is there; a Length that
//! lies about the data is a corrupt header here).
//!
//! Accepted and reported as a [`Quirk`] (counted):
//! * odd ArtDmx Length: Art-Net 4 asks for an even 2..=512, some senders send exactly the
//!   slots they have; every slot carried is used (MIDIMonster and OLA do the same);
//! * bytes after an ArtDmx's data: ignored;
//! * ArtPoll of 12..=21 bytes: Art-Net 3 and earlier end after DiagPriority (OLA sends 14
//!   bytes) or even after ProtVer; missing fields read as 0;
//! * ArtPollReply of 207..=238 bytes: the specification asks consumers to accept 207 bytes
//!   (earlier revisions end after the MAC address); missing fields read as 0.
//!
//! Bytes after the end of an ArtPoll, ArtPollReply or ArtSync are ignored silently: later
//! revisions of the specification grow these packets. OpCodes other than the four interpreted
//! here parse as [`Packet::Other`], to be counted by [`OpClass`] and ignored.
//!
//! # What patchbay sends
//!
//! ArtDmx with sequence numbers 1..=255 ([`SequenceCounter`]) and an even Length (an odd slot
//! count is padded with one slot of 0). MIDIMonster always sends all 512 slots; patchbay's
//! backend is to do the same, so a node that blanks the slots beyond Length sees the same
//! universe from either. [`write_dmx`] also builds shorter packets. ArtPoll is the 22-byte Art-Net 4
//! form; ArtPollReply the 239-byte form with `BindIndex` (see [`reply_groups`]).

mod build;
mod error;
mod field;
mod opcode;
mod packet;

pub use build::{
    BuildError, DmxHeader, NodeReport, Poll, PollReply, Port, SequenceCounter, reply_count,
    reply_groups, status, write_dmx, write_poll, write_poll_reply, write_sync,
};
pub use error::{DropReason, Quirk, Quirks};
pub use opcode::{OpClass, OpCode};
pub use packet::{
    DmxPacket, OtherPacket, Packet, PollPacket, PollReplyPacket, ReplyPort, SyncPacket, fuzz_parse,
    poll_flags,
};

/// UDP port of all Art-Net traffic (0x1936).
pub const PORT: u16 = 6454;
/// Protocol version patchbay sends; received packets must carry this or a later one.
pub const PROTOCOL_VERSION: u16 = 14;
/// Slots per universe.
pub use patchbay_dmx::MAX_SLOTS;
/// Length of an ArtDmx packet's header (before the slots).
pub const DMX_HEADER_LEN: usize = field::DMX_DATA;
/// Length of an ArtDmx packet with all 512 slots, the longest packet patchbay builds.
pub const MAX_DMX_PACKET_LEN: usize = field::DMX_DATA + MAX_SLOTS;
/// Length of an ArtSync packet.
pub const SYNC_PACKET_LEN: usize = field::SYNC_END;
/// Length of an Art-Net 4 ArtPoll packet.
pub const POLL_PACKET_LEN: usize = field::POLL_END;
/// Length of an Art-Net 4 ArtPollReply packet.
pub const POLL_REPLY_PACKET_LEN: usize = field::REPLY_END;
/// Shortest ArtPollReply accepted (earlier protocol revisions).
pub const MIN_POLL_REPLY_PACKET_LEN: usize = field::REPLY_MIN_END;

/// Length of an ArtDmx packet whose Length field is `length`.
#[inline]
pub const fn dmx_packet_len(length: usize) -> usize {
    field::DMX_DATA + length
}

use patchbay_dmx::bytes::{be16, le16, put_be16 as put16, put_le16 as put16_le};

#[cfg(test)]
mod tests;
