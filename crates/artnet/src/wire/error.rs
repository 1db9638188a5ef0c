//! Why a datagram was rejected ([`DropReason`]) and which deviations were tolerated ([`Quirk`]),
//! each with a stable counter name.

use patchbay_dmx::counted_enum;

counted_enum! {
    /// Why [`Packet::parse`](super::Packet::parse) rejected a datagram: one variant per rule,
    /// checked in this order.
    pub enum DropReason {
        /// Shorter than the 10-byte header (ID and OpCode).
        TruncatedHeader => "truncated_header", "datagram shorter than the Art-Net header (10 bytes)";
        /// ID is not `"Art-Net\0"`.
        BadId => "bad_id", "ID is not \"Art-Net\\0\"";
        /// ArtDmx shorter than its 18-byte header.
        TruncatedDmx => "truncated_dmx", "ArtDmx shorter than its header (18 bytes)";
        /// ArtPoll shorter than 12 bytes (no ProtVer).
        TruncatedPoll => "truncated_poll", "ArtPoll shorter than 12 bytes";
        /// ArtPollReply shorter than the 207 bytes every revision has sent.
        TruncatedPollReply => "truncated_poll_reply", "ArtPollReply shorter than 207 bytes";
        /// ArtSync shorter than 14 bytes.
        TruncatedSync => "truncated_sync", "ArtSync shorter than 14 bytes";
        /// ProtVer below 14 (the specification's good-packet test is ProtVer >= 14).
        OldProtocolVersion => "old_protocol_version", "protocol version below 14";
        /// ArtDmx Net byte above 127: bit 15 of a Port-Address is always 0.
        NetOutOfRange => "net_out_of_range", "ArtDmx net above 127";
        /// ArtDmx Length 0 or above 512.
        DmxLengthOutOfRange => "dmx_length_out_of_range", "ArtDmx length outside 1..512";
        /// ArtDmx Length larger than the data the datagram carries.
        TruncatedDmxData => "truncated_dmx_data", "ArtDmx carries fewer slots than its length says";
    }
}

impl std::error::Error for DropReason {}

counted_enum! {
    /// A deviation from Art-Net 4 that [`Packet::parse`](super::Packet::parse) accepts because
    /// real senders produce it; a receiver counts it (see
    /// [`Packet::quirks`](super::Packet::quirks)).
    pub enum Quirk {
        /// ArtDmx with an odd Length (the specification asks for an even 2..512; some senders
        /// send exactly the slots they have). All slots are used.
        OddLength => "odd_length", "ArtDmx with an odd length";
        /// ArtDmx datagram longer than its header and Length: the extra bytes are ignored.
        TrailingBytes => "trailing_bytes", "ArtDmx with bytes after its data";
        /// ArtPoll shorter than Art-Net 4's 22 bytes (Art-Net 3 and earlier end after
        /// DiagPriority): the missing fields read as 0 (no targeted mode).
        LegacyPoll => "legacy_poll", "ArtPoll from an earlier protocol revision";
        /// ArtPollReply shorter than Art-Net 4's 239 bytes (at least 207, as the specification
        /// requires consumers to accept): the missing fields read as 0.
        LegacyPollReply => "legacy_poll_reply", "ArtPollReply from an earlier protocol revision";
    }
}

// Quirks are stored as bits of one byte.
/// A set of [`Quirk`]s found in one datagram.
pub type Quirks = patchbay_dmx::CountedSet<Quirk>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dense_and_unique() {
        patchbay_dmx::check_names::<DropReason>();
        patchbay_dmx::check_names::<Quirk>();
    }

    #[test]
    fn quirk_set() {
        let q = Quirks::NONE
            .with(Quirk::OddLength)
            .with(Quirk::TrailingBytes);
        assert!(q.contains(Quirk::OddLength) && !q.contains(Quirk::LegacyPoll));
        assert_eq!(
            q.iter().collect::<Vec<_>>(),
            [Quirk::OddLength, Quirk::TrailingBytes]
        );
        assert!(Quirks::NONE.is_empty());
        assert_eq!(DropReason::BadId.to_string(), "ID is not \"Art-Net\\0\"");
    }
}
