//! Packet builders writing into caller-owned buffers, so a sender needs no allocation per packet.
//!
//! Every PDU length is computed from the bytes actually written (MIDIMonster's hand-written
//! constants were wrong for years, a defect of other implementations).

use patchbay_dmx::bytes::{ensure_len, put_text};

use super::field::{self, Field};
use super::{
    DATA_UNIVERSES, MAX_PRIORITY, MAX_SLOTS, Options, UNIVERSES_PER_PAGE, data_packet_len,
    discovery_packet_len, put16, put32,
};
use crate::Cid;

/// Why a packet could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The output buffer cannot hold the packet.
    #[error("buffer of {available} bytes too small for a {needed}-byte packet")]
    BufferTooSmall {
        /// Bytes the packet needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// More than 512 slots.
    #[error("{0} slots given, at most 512 fit a universe")]
    TooManySlots(usize),
    /// Universe outside 1..=63999.
    #[error("universe {0} outside 1..63999")]
    UniverseOutOfRange(u16),
    /// Priority above 200.
    #[error("priority {0} above 200")]
    PriorityOutOfRange(u8),
    /// Sync address above 63999 (data) or outside 1..=63999 (sync packet).
    #[error("synchronization address {0} out of range")]
    BadSyncAddress(u16),
    /// More than 512 universes on one discovery page.
    #[error("{0} universes given, at most 512 fit one discovery page")]
    TooManyUniverses(usize),
    /// Page number above the last page number.
    #[error("discovery page {page} after last page {last_page}")]
    PageAfterLast {
        /// The page number given.
        page: u8,
        /// The last page number given.
        last_page: u8,
    },
    /// Discovery universe list not in ascending order.
    #[error("discovery universe list not in ascending order")]
    UniversesNotAscending,
}

/// Framing-layer fields of a data packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataHeader<'n> {
    /// Source CID.
    pub cid: Cid,
    /// Source name; cut to at most 63 bytes at a character boundary.
    pub source_name: &'n str,
    /// Priority 0..=200.
    pub priority: u8,
    /// Sync universe, 0 = not synchronized.
    pub sync_address: u16,
    /// Sequence number.
    pub sequence: u8,
    /// Options (reserved bits are always sent as 0).
    pub options: Options,
    /// Universe 1..=63999.
    pub universe: u16,
    /// Start code.
    pub start_code: u8,
}

#[inline]
fn check_len(buf: &[u8], needed: usize) -> Result<(), BuildError> {
    ensure_len(buf, needed).map_err(|available| BuildError::BufferTooSmall { needed, available })
}

#[inline]
fn put_flags_len(b: &mut [u8], f: Field, total: usize) {
    // All E1.31 PDUs are < 4096 bytes, so the 12-bit length never overflows (total ≤ 1144).
    let len = (total - f.start) as u16 & 0x0fff;
    put16(b, f, field::FLAGS | len);
}

#[inline]
fn put_root(b: &mut [u8], total: usize, vector: u32, cid: Cid) {
    put16(b, field::PREAMBLE, field::PREAMBLE_SIZE);
    put16(b, field::POSTAMBLE, field::POSTAMBLE_SIZE);
    b[field::ACN_ID].copy_from_slice(&field::ACN_PACKET_IDENTIFIER);
    put_flags_len(b, field::ROOT_FLAGS_LEN, total);
    put32(b, field::ROOT_VECTOR, vector);
    b[field::CID].copy_from_slice(&cid.0);
}

/// Writes a data packet and returns its length (126 + `slots.len()`).
pub fn write_data(buf: &mut [u8], h: &DataHeader<'_>, slots: &[u8]) -> Result<usize, BuildError> {
    if slots.len() > MAX_SLOTS {
        return Err(BuildError::TooManySlots(slots.len()));
    }
    if !DATA_UNIVERSES.contains(&h.universe) {
        return Err(BuildError::UniverseOutOfRange(h.universe));
    }
    if h.priority > MAX_PRIORITY {
        return Err(BuildError::PriorityOutOfRange(h.priority));
    }
    if h.sync_address > *DATA_UNIVERSES.end() {
        return Err(BuildError::BadSyncAddress(h.sync_address));
    }
    let total = data_packet_len(slots.len());
    check_len(buf, total)?;
    let b = &mut buf[..total];
    put_root(b, total, field::VECTOR_ROOT_E131_DATA, h.cid);
    put_flags_len(b, field::FRAMING_FLAGS_LEN, total);
    put32(b, field::FRAMING_VECTOR, field::VECTOR_E131_DATA_PACKET);
    put_text(b, field::SOURCE_NAME, h.source_name, 63);
    b[field::PRIORITY] = h.priority;
    put16(b, field::SYNC_ADDRESS, h.sync_address);
    b[field::SEQUENCE] = h.sequence;
    b[field::OPTIONS] = h.options.bits();
    put16(b, field::UNIVERSE, h.universe);
    put_flags_len(b, field::DMP_FLAGS_LEN, total);
    b[field::DMP_VECTOR] = field::VECTOR_DMP_SET_PROPERTY;
    b[field::ADDRESS_TYPE] = field::DMP_ADDRESS_TYPE;
    put16(b, field::FIRST_ADDRESS, 0);
    put16(b, field::ADDRESS_INCREMENT, 1);
    // slots.len() ≤ 512 was checked above, so the count fits.
    put16(b, field::PROPERTY_COUNT, (slots.len() + 1) as u16);
    b[field::START_CODE] = h.start_code;
    b[field::SLOTS..].copy_from_slice(slots);
    Ok(total)
}

/// Writes a synchronization packet (always 49 bytes) and returns its length.
pub fn write_sync(
    buf: &mut [u8],
    cid: Cid,
    sequence: u8,
    sync_address: u16,
) -> Result<usize, BuildError> {
    if !DATA_UNIVERSES.contains(&sync_address) {
        return Err(BuildError::BadSyncAddress(sync_address));
    }
    let total = field::SYNC_END;
    check_len(buf, total)?;
    let b = &mut buf[..total];
    put_root(b, total, field::VECTOR_ROOT_E131_EXTENDED, cid);
    put_flags_len(b, field::FRAMING_FLAGS_LEN, total);
    put32(
        b,
        field::FRAMING_VECTOR,
        field::VECTOR_E131_EXTENDED_SYNCHRONIZATION,
    );
    b[field::SYNC_SEQUENCE] = sequence;
    put16(b, field::SYNC_SYNC_ADDRESS, sync_address);
    put16(b, field::SYNC_RESERVED, 0);
    Ok(total)
}

/// Writes one universe discovery page and returns its length (120 + 2 × universes).
pub fn write_discovery(
    buf: &mut [u8],
    cid: Cid,
    source_name: &str,
    page: u8,
    last_page: u8,
    universes: &[u16],
) -> Result<usize, BuildError> {
    if universes.len() > UNIVERSES_PER_PAGE {
        return Err(BuildError::TooManyUniverses(universes.len()));
    }
    if page > last_page {
        return Err(BuildError::PageAfterLast { page, last_page });
    }
    if universes.windows(2).any(|w| w[0] > w[1]) {
        return Err(BuildError::UniversesNotAscending);
    }
    let total = discovery_packet_len(universes.len());
    check_len(buf, total)?;
    let b = &mut buf[..total];
    put_root(b, total, field::VECTOR_ROOT_E131_EXTENDED, cid);
    put_flags_len(b, field::FRAMING_FLAGS_LEN, total);
    put32(
        b,
        field::FRAMING_VECTOR,
        field::VECTOR_E131_EXTENDED_DISCOVERY,
    );
    put_text(b, field::DISCOVERY_SOURCE_NAME, source_name, 63);
    b[field::DISCOVERY_RESERVED].fill(0);
    put_flags_len(b, field::LIST_FLAGS_LEN, total);
    put32(
        b,
        field::LIST_VECTOR,
        field::VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST,
    );
    b[field::PAGE] = page;
    b[field::LAST_PAGE] = last_page;
    for (dst, u) in b[field::LIST..].chunks_exact_mut(2).zip(universes) {
        dst.copy_from_slice(&u.to_be_bytes());
    }
    Ok(total)
}
