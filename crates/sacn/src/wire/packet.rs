//! Validated, zero-copy views of received datagrams.

use std::borrow::Cow;

use patchbay_dmx::bytes::text;

use super::field::{self, Field};
use super::{
    DATA_UNIVERSES, MAX_DATA_PACKET_LEN, MAX_DISCOVERY_PACKET_LEN, MAX_PRIORITY, MAX_SLOTS,
    MIN_DATA_PACKET_LEN, MIN_DISCOVERY_PACKET_LEN, SYNC_PACKET_LEN, UNIVERSES_PER_PAGE,
};
use super::{DropReason, Irregularities, Irregularity, Options, be16, be32};
use crate::Cid;

/// One E1.31 datagram that passed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    /// Root vector 4: levels or another start code for one universe.
    Data(DataPacket<'a>),
    /// Root vector 8, framing vector 1: apply held data of a sync universe.
    Sync(SyncPacket<'a>),
    /// Root vector 8, framing vector 2: one page of a source's universe list.
    Discovery(DiscoveryPacket<'a>),
}

/// Checks flags nibble and PDU length of one layer against the datagram size.
#[inline]
fn check_pdu(
    b: &[u8],
    f: Field,
    flags_err: DropReason,
    len_err: DropReason,
) -> Result<(), DropReason> {
    let v = be16(b, f.clone());
    if v >> 12 != 0x7 {
        return Err(flags_err);
    }
    if usize::from(v & 0x0fff) != b.len() - f.start {
        return Err(len_err);
    }
    Ok(())
}

impl<'a> Packet<'a> {
    /// Validates a whole datagram; the only way to obtain packet views.
    ///
    /// Checks run outermost layer first, so the reason names the first rule broken.
    pub fn parse(b: &'a [u8]) -> Result<Packet<'a>, DropReason> {
        if b.len() < field::ROOT_END {
            return Err(DropReason::TruncatedRoot);
        }
        if b.len() > MAX_DISCOVERY_PACKET_LEN {
            return Err(DropReason::Oversize);
        }
        if be16(b, field::PREAMBLE) != field::PREAMBLE_SIZE {
            return Err(DropReason::BadPreamble);
        }
        if be16(b, field::POSTAMBLE) != field::POSTAMBLE_SIZE {
            return Err(DropReason::BadPostamble);
        }
        if b[field::ACN_ID] != field::ACN_PACKET_IDENTIFIER {
            return Err(DropReason::BadAcnIdentifier);
        }
        match check_pdu(
            b,
            field::ROOT_FLAGS_LEN,
            DropReason::BadRootFlags,
            DropReason::BadRootLength,
        ) {
            Ok(()) => {}
            Err(DropReason::BadRootLength) => {
                return DataPacket::padded(b)
                    .map(Packet::Data)
                    .ok_or(DropReason::BadRootLength);
            }
            Err(e) => return Err(e),
        }
        match be32(b, field::ROOT_VECTOR) {
            field::VECTOR_ROOT_E131_DATA => DataPacket::validate(b).map(Packet::Data),
            field::VECTOR_ROOT_E131_EXTENDED => {
                if b.len() < field::FRAMING_VECTOR_END {
                    return Err(DropReason::TruncatedFraming);
                }
                match be32(b, field::FRAMING_VECTOR) {
                    field::VECTOR_E131_EXTENDED_SYNCHRONIZATION => {
                        SyncPacket::validate(b).map(Packet::Sync)
                    }
                    field::VECTOR_E131_EXTENDED_DISCOVERY => {
                        DiscoveryPacket::validate(b).map(Packet::Discovery)
                    }
                    _ => Err(DropReason::UnknownFramingVector),
                }
            }
            _ => Err(DropReason::UnknownRootVector),
        }
    }

    /// CID of the sending source (present in every kind).
    #[inline]
    pub fn cid(&self) -> Cid {
        cid_of(self.as_bytes())
    }

    /// The whole datagram.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Packet::Data(p) => p.as_bytes(),
            Packet::Sync(p) => p.as_bytes(),
            Packet::Discovery(p) => p.as_bytes(),
        }
    }
}

#[inline]
fn cid_of(b: &[u8]) -> Cid {
    let mut c = [0u8; 16];
    c.copy_from_slice(&b[field::CID]);
    Cid(c)
}

/// DMP length MIDIMonster puts in its 638-byte data packets before June 2024 (see
/// [`Irregularity::MidimonsterDmpLength`]); the right value is 523.
const MIDIMONSTER_DMP_LENGTH: u16 = 0x0205;

/// A validated data packet (root vector 4).
///
/// Holds only the datagram (padding included): the packet ends where its root length says,
/// and what it deviates in is read from its fields when asked, which keeps the view two words
/// (a larger view measurably slows every parse).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DataPacket<'a> {
    bytes: &'a [u8],
}

impl<'a> DataPacket<'a> {
    /// A data packet followed by padding: the root length ends before the datagram, and the
    /// packet it describes is valid on its own (every inner length and the property count
    /// agree with it). Anything else whose root length disagrees with the datagram stays
    /// [`DropReason::BadRootLength`].
    #[cold]
    #[inline(never)]
    fn padded(b: &'a [u8]) -> Option<Self> {
        let end =
            usize::from(be16(b, field::ROOT_FLAGS_LEN) & 0x0fff) + field::ROOT_FLAGS_LEN.start;
        if end >= b.len() || be32(b, field::ROOT_VECTOR) != field::VECTOR_ROOT_E131_DATA {
            return None;
        }
        Self::validate(&b[..end]).ok()?;
        Some(DataPacket { bytes: b })
    }

    /// Checks `b` as a whole data packet; the tolerated deviations pass (see
    /// [`irregularities`](Self::irregularities)).
    fn validate(b: &'a [u8]) -> Result<Self, DropReason> {
        if b.len() < field::DMP_FLAGS_LEN.start {
            return Err(DropReason::TruncatedFraming);
        }
        if b.len() < MIN_DATA_PACKET_LEN {
            return Err(DropReason::TruncatedDmp);
        }
        if b.len() > MAX_DATA_PACKET_LEN {
            return Err(DropReason::Oversize);
        }
        check_pdu(
            b,
            field::FRAMING_FLAGS_LEN,
            DropReason::BadFramingFlags,
            DropReason::BadFramingLength,
        )?;
        if be32(b, field::FRAMING_VECTOR) != field::VECTOR_E131_DATA_PACKET {
            return Err(DropReason::UnknownFramingVector);
        }
        // Priority above 200 and sync address above 63999 are tolerated (read as 200 and 0).
        if !DATA_UNIVERSES.contains(&be16(b, field::UNIVERSE)) {
            return Err(DropReason::UniverseOutOfRange);
        }
        match check_pdu(
            b,
            field::DMP_FLAGS_LEN,
            DropReason::BadDmpFlags,
            DropReason::BadDmpLength,
        ) {
            Ok(()) => {}
            Err(DropReason::BadDmpLength)
                if b.len() == MAX_DATA_PACKET_LEN
                    && be16(b, field::DMP_FLAGS_LEN) & 0x0fff == MIDIMONSTER_DMP_LENGTH => {}
            Err(e) => return Err(e),
        }
        if b[field::DMP_VECTOR] != field::VECTOR_DMP_SET_PROPERTY {
            return Err(DropReason::BadDmpVector);
        }
        if b[field::ADDRESS_TYPE] != field::DMP_ADDRESS_TYPE {
            return Err(DropReason::BadAddressType);
        }
        if be16(b, field::FIRST_ADDRESS) != 0 {
            return Err(DropReason::BadFirstAddress);
        }
        if be16(b, field::ADDRESS_INCREMENT) != 1 {
            return Err(DropReason::BadAddressIncrement);
        }
        let count = usize::from(be16(b, field::PROPERTY_COUNT));
        if !(1..=MAX_SLOTS + 1).contains(&count) {
            return Err(DropReason::PropertyCountOutOfRange);
        }
        if count != b.len() - field::START_CODE {
            return Err(DropReason::PropertyCountMismatch);
        }
        Ok(DataPacket { bytes: b })
    }

    /// Where the packet ends: its root length (checked against the datagram by
    /// [`Packet::parse`]); before the datagram's end only if padding follows.
    #[inline]
    fn end(&self) -> usize {
        let root = usize::from(be16(self.bytes, field::ROOT_FLAGS_LEN) & 0x0fff);
        (root + field::ROOT_FLAGS_LEN.start).min(self.bytes.len())
    }

    /// What in this packet deviates from E1.31 but was accepted (empty for a packet that
    /// follows it to the letter); the accessors already read the deviating fields as the
    /// [`Irregularity`] docs say.
    #[inline]
    pub fn irregularities(&self) -> Irregularities {
        let b = self.bytes;
        let end = self.end();
        let mut set = Irregularities::NONE;
        if b[field::PRIORITY] > MAX_PRIORITY {
            set.insert(Irregularity::PriorityAbove200);
        }
        if be16(b, field::SYNC_ADDRESS) > *DATA_UNIVERSES.end() {
            set.insert(Irregularity::SyncAddressOutOfRange);
        }
        if end < b.len() {
            set.insert(Irregularity::Padded);
        }
        // Validation let a wrong DMP length through only as MIDIMonster's.
        if usize::from(be16(b, field::DMP_FLAGS_LEN) & 0x0fff) != end - field::DMP_FLAGS_LEN.start {
            set.insert(Irregularity::MidimonsterDmpLength);
        }
        set
    }

    /// CID of the sending source.
    #[inline]
    pub fn cid(&self) -> Cid {
        cid_of(self.bytes)
    }

    /// Raw source name bytes up to the first NUL.
    #[inline]
    pub fn source_name_bytes(&self) -> &'a [u8] {
        text(self.bytes, field::SOURCE_NAME)
    }

    /// Source name; invalid UTF-8 is replaced rather than rejected, because the name is only
    /// informative and a bad name must not cost a universe its data.
    #[inline]
    pub fn source_name(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.source_name_bytes())
    }

    /// Priority 0..=200 (a source that sends more gets 200:
    /// [`Irregularity::PriorityAbove200`]).
    #[inline]
    pub fn priority(&self) -> u8 {
        self.bytes[field::PRIORITY].min(MAX_PRIORITY)
    }

    /// Synchronization universe 1..=63999, 0 = not synchronized (also for an address above
    /// 63999: [`Irregularity::SyncAddressOutOfRange`]).
    #[inline]
    pub fn sync_address(&self) -> u16 {
        let a = be16(self.bytes, field::SYNC_ADDRESS);
        if a > *DATA_UNIVERSES.end() { 0 } else { a }
    }

    /// Sequence number.
    #[inline]
    pub fn sequence(&self) -> u8 {
        self.bytes[field::SEQUENCE]
    }

    /// Options with reserved bits removed.
    #[inline]
    pub fn options(&self) -> Options {
        Options::from_bits(self.bytes[field::OPTIONS])
    }

    /// The raw options byte including reserved bits (for diagnostics only).
    #[inline]
    pub fn options_raw(&self) -> u8 {
        self.bytes[field::OPTIONS]
    }

    /// Universe 1..=63999.
    #[inline]
    pub fn universe(&self) -> u16 {
        be16(self.bytes, field::UNIVERSE)
    }

    /// Start code (0x00 levels, 0xDD per-address priority, ...).
    #[inline]
    pub fn start_code(&self) -> u8 {
        self.bytes[field::START_CODE]
    }

    /// Slot values after the start code, 0..=512 of them; slot 1 first.
    #[inline]
    pub fn slots(&self) -> &'a [u8] {
        let bytes: &'a [u8] = self.bytes;
        bytes.get(field::SLOTS..self.end()).unwrap_or_default()
    }

    /// The whole packet (without padding after it, if the datagram had any).
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        let bytes: &'a [u8] = self.bytes;
        &bytes[..self.end()]
    }
}

impl core::fmt::Debug for DataPacket<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DataPacket")
            .field("cid", &self.cid())
            .field("source_name", &self.source_name())
            .field("universe", &self.universe())
            .field("priority", &self.priority())
            .field("sync_address", &self.sync_address())
            .field("sequence", &self.sequence())
            .field("options", &self.options())
            .field("start_code", &self.start_code())
            .field("slot_count", &self.slots().len())
            .field("irregularities", &self.irregularities())
            .finish()
    }
}

/// A validated synchronization packet (root vector 8, framing vector 1).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SyncPacket<'a> {
    bytes: &'a [u8],
}

impl<'a> SyncPacket<'a> {
    fn validate(b: &'a [u8]) -> Result<Self, DropReason> {
        if b.len() < SYNC_PACKET_LEN {
            return Err(DropReason::TruncatedFraming);
        }
        if b.len() > SYNC_PACKET_LEN {
            return Err(DropReason::Oversize);
        }
        check_pdu(
            b,
            field::FRAMING_FLAGS_LEN,
            DropReason::BadFramingFlags,
            DropReason::BadFramingLength,
        )?;
        // E1.31 6.3.3.1: a sync packet for address 0 is meaningless ("not synchronized"),
        // and addresses above 63999 are not universes.
        if !DATA_UNIVERSES.contains(&be16(b, field::SYNC_SYNC_ADDRESS)) {
            return Err(DropReason::BadSyncAddress);
        }
        Ok(SyncPacket { bytes: b })
    }

    /// CID of the sending source.
    #[inline]
    pub fn cid(&self) -> Cid {
        cid_of(self.bytes)
    }

    /// Sequence number of this source's sync stream for [`sync_address`](Self::sync_address).
    #[inline]
    pub fn sequence(&self) -> u8 {
        self.bytes[field::SYNC_SEQUENCE]
    }

    /// The sync universe 1..=63999.
    #[inline]
    pub fn sync_address(&self) -> u16 {
        be16(self.bytes, field::SYNC_SYNC_ADDRESS)
    }

    /// Reserved field (sent as 0, ignored).
    #[inline]
    pub fn reserved(&self) -> u16 {
        be16(self.bytes, field::SYNC_RESERVED)
    }

    /// The whole datagram.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl core::fmt::Debug for SyncPacket<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SyncPacket")
            .field("cid", &self.cid())
            .field("sequence", &self.sequence())
            .field("sync_address", &self.sync_address())
            .finish()
    }
}

/// A validated universe discovery packet (root vector 8, framing vector 2).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DiscoveryPacket<'a> {
    bytes: &'a [u8],
}

impl<'a> DiscoveryPacket<'a> {
    fn validate(b: &'a [u8]) -> Result<Self, DropReason> {
        if b.len() < field::LIST_FLAGS_LEN.start {
            return Err(DropReason::TruncatedFraming);
        }
        if b.len() < MIN_DISCOVERY_PACKET_LEN {
            return Err(DropReason::TruncatedUniverseList);
        }
        check_pdu(
            b,
            field::FRAMING_FLAGS_LEN,
            DropReason::BadFramingFlags,
            DropReason::BadFramingLength,
        )?;
        check_pdu(
            b,
            field::LIST_FLAGS_LEN,
            DropReason::BadDiscoveryFlags,
            DropReason::BadDiscoveryLength,
        )?;
        if be32(b, field::LIST_VECTOR) != field::VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST {
            return Err(DropReason::BadDiscoveryVector);
        }
        if b[field::PAGE] > b[field::LAST_PAGE] {
            return Err(DropReason::DiscoveryPageAfterLast);
        }
        let list = &b[field::LIST..];
        if !list.len().is_multiple_of(2) || list.len() / 2 > UNIVERSES_PER_PAGE {
            return Err(DropReason::BadDiscoveryListLength);
        }
        // Non-decreasing rather than strictly ascending: a receiver loses nothing by a
        // duplicate entry (our own pages are checked strictly by tests/peers/e131_check.py).
        let mut prev = 0u16;
        for c in list.chunks_exact(2) {
            let u = u16::from_be_bytes([c[0], c[1]]);
            if u < prev {
                return Err(DropReason::DiscoveryListNotAscending);
            }
            prev = u;
        }
        Ok(DiscoveryPacket { bytes: b })
    }

    /// CID of the sending source.
    #[inline]
    pub fn cid(&self) -> Cid {
        cid_of(self.bytes)
    }

    /// Raw source name bytes up to the first NUL.
    #[inline]
    pub fn source_name_bytes(&self) -> &'a [u8] {
        text(self.bytes, field::DISCOVERY_SOURCE_NAME)
    }

    /// Source name, invalid UTF-8 replaced.
    #[inline]
    pub fn source_name(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.source_name_bytes())
    }

    /// This page's number, 0-based.
    #[inline]
    pub fn page(&self) -> u8 {
        self.bytes[field::PAGE]
    }

    /// Number of the source's final page.
    #[inline]
    pub fn last_page(&self) -> u8 {
        self.bytes[field::LAST_PAGE]
    }

    /// Number of universes on this page (0..=512).
    #[inline]
    pub fn universe_count(&self) -> usize {
        (self.bytes.len() - field::LIST) / 2
    }

    /// The universes listed on this page, ascending.
    #[inline]
    pub fn universes(&self) -> impl Iterator<Item = u16> + 'a {
        let bytes: &'a [u8] = self.bytes;
        bytes[field::LIST..]
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
    }

    /// The whole datagram.
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl core::fmt::Debug for DiscoveryPacket<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DiscoveryPacket")
            .field("cid", &self.cid())
            .field("source_name", &self.source_name())
            .field("page", &self.page())
            .field("last_page", &self.last_page())
            .field("universe_count", &self.universe_count())
            .finish()
    }
}

/// Parses `bytes` and reads every accessor of the result; the body of the fuzz target.
///
/// Returns nothing on purpose: its job is to prove that no input makes parsing or any
/// accessor panic.
pub fn fuzz_parse(bytes: &[u8]) {
    let Ok(p) = Packet::parse(bytes) else {
        return;
    };
    let _ = p.cid();
    match p {
        Packet::Data(d) => {
            let _ = (
                d.source_name(),
                d.priority(),
                d.sync_address(),
                d.sequence(),
            );
            let _ = (
                d.options().bits(),
                d.universe(),
                d.start_code(),
                d.slots().len(),
            );
            assert!(d.slots().len() <= MAX_SLOTS);
            assert!(DATA_UNIVERSES.contains(&d.universe()));
            assert!(d.priority() <= MAX_PRIORITY);
            assert!(d.sync_address() <= *DATA_UNIVERSES.end());
            assert!(d.as_bytes().len() <= bytes.len());
            let _ = d.irregularities().iter().count();
        }
        Packet::Sync(s) => {
            let _ = (s.sequence(), s.sync_address(), s.reserved());
        }
        Packet::Discovery(d) => {
            let _ = (d.source_name(), d.page(), d.last_page());
            assert_eq!(d.universes().count(), d.universe_count());
        }
    }
}
