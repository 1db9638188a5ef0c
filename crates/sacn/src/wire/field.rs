//! Byte offsets of every E1.31 field (E1.31-2018 sections 4 to 6), in one place so parser and builder agree.

pub(crate) use patchbay_dmx::bytes::Field;

// Root layer, common to all packet kinds.
pub(crate) const PREAMBLE: Field = 0..2;
pub(crate) const POSTAMBLE: Field = 2..4;
pub(crate) const ACN_ID: Field = 4..16;
pub(crate) const ROOT_FLAGS_LEN: Field = 16..18;
pub(crate) const ROOT_VECTOR: Field = 18..22;
pub(crate) const CID: Field = 22..38;
pub(crate) const ROOT_END: usize = 38;

// Framing layer header, common to all packet kinds.
pub(crate) const FRAMING_FLAGS_LEN: Field = 38..40;
pub(crate) const FRAMING_VECTOR: Field = 40..44;
pub(crate) const FRAMING_VECTOR_END: usize = 44;

// Data packet framing layer.
pub(crate) const SOURCE_NAME: Field = 44..108;
pub(crate) const PRIORITY: usize = 108;
pub(crate) const SYNC_ADDRESS: Field = 109..111;
pub(crate) const SEQUENCE: usize = 111;
pub(crate) const OPTIONS: usize = 112;
pub(crate) const UNIVERSE: Field = 113..115;

// Data packet DMP layer.
pub(crate) const DMP_FLAGS_LEN: Field = 115..117;
pub(crate) const DMP_VECTOR: usize = 117;
pub(crate) const ADDRESS_TYPE: usize = 118;
pub(crate) const FIRST_ADDRESS: Field = 119..121;
pub(crate) const ADDRESS_INCREMENT: Field = 121..123;
pub(crate) const PROPERTY_COUNT: Field = 123..125;
pub(crate) const START_CODE: usize = 125;
pub(crate) const SLOTS: usize = 126;

// Synchronization packet framing layer.
pub(crate) const SYNC_SEQUENCE: usize = 44;
pub(crate) const SYNC_SYNC_ADDRESS: Field = 45..47;
pub(crate) const SYNC_RESERVED: Field = 47..49;
pub(crate) const SYNC_END: usize = 49;

// Discovery packet framing and universe-discovery layers.
pub(crate) const DISCOVERY_SOURCE_NAME: Field = 44..108;
pub(crate) const DISCOVERY_RESERVED: Field = 108..112;
pub(crate) const LIST_FLAGS_LEN: Field = 112..114;
pub(crate) const LIST_VECTOR: Field = 114..118;
pub(crate) const PAGE: usize = 118;
pub(crate) const LAST_PAGE: usize = 119;
pub(crate) const LIST: usize = 120;

// Wire constants.
pub(crate) const PREAMBLE_SIZE: u16 = 0x0010;
pub(crate) const POSTAMBLE_SIZE: u16 = 0x0000;
pub(crate) const ACN_PACKET_IDENTIFIER: [u8; 12] = *b"ASC-E1.17\0\0\0";
pub(crate) const FLAGS: u16 = 0x7000;
pub(crate) const VECTOR_ROOT_E131_DATA: u32 = 0x0000_0004;
pub(crate) const VECTOR_ROOT_E131_EXTENDED: u32 = 0x0000_0008;
pub(crate) const VECTOR_E131_DATA_PACKET: u32 = 0x0000_0002;
pub(crate) const VECTOR_E131_EXTENDED_SYNCHRONIZATION: u32 = 0x0000_0001;
pub(crate) const VECTOR_E131_EXTENDED_DISCOVERY: u32 = 0x0000_0002;
pub(crate) const VECTOR_DMP_SET_PROPERTY: u8 = 0x02;
pub(crate) const DMP_ADDRESS_TYPE: u8 = 0xA1;
pub(crate) const VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST: u32 = 0x0000_0001;
