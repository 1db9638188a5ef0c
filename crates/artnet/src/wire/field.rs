//! Byte offsets of every Art-Net field this crate reads or writes, in one place so parser and
//! builders agree. OpCodes and a few ports are little-endian on the wire, everything else
//! big-endian; the accessors say which.

pub(crate) use patchbay_dmx::bytes::Field;

// Common header.
pub(crate) const ID: Field = 0..8;
pub(crate) const OPCODE: Field = 8..10; // little-endian
pub(crate) const HEADER_END: usize = 10;
pub(crate) const PROT_VER: Field = 10..12; // big-endian; absent in ArtPollReply
pub(crate) const PROT_VER_END: usize = 12;

// ArtDmx.
pub(crate) const DMX_SEQUENCE: usize = 12;
pub(crate) const DMX_PHYSICAL: usize = 13;
pub(crate) const DMX_SUB_UNI: usize = 14;
pub(crate) const DMX_NET: usize = 15;
pub(crate) const DMX_LENGTH: Field = 16..18; // big-endian
pub(crate) const DMX_DATA: usize = 18;

// ArtPoll (Art-Net 4 length 22; earlier revisions end after DIAG_PRIORITY).
pub(crate) const POLL_FLAGS: usize = 12;
pub(crate) const POLL_DIAG_PRIORITY: usize = 13;
pub(crate) const POLL_TARGET_TOP: Field = 14..16; // big-endian
pub(crate) const POLL_TARGET_BOTTOM: Field = 16..18; // big-endian
pub(crate) const POLL_ESTA_MANUFACTURER: Field = 18..20; // big-endian (Hi first in ArtPoll)
pub(crate) const POLL_OEM: Field = 20..22; // big-endian
pub(crate) const POLL_END: usize = 22;

// ArtSync.
pub(crate) const SYNC_AUX1: usize = 12;
pub(crate) const SYNC_AUX2: usize = 13;
pub(crate) const SYNC_END: usize = 14;

// ArtPollReply (no ProtVer; Art-Net 4 length 239, at least 207 from older revisions).
pub(crate) const REPLY_IP: Field = 10..14;
pub(crate) const REPLY_PORT: Field = 14..16; // little-endian
pub(crate) const REPLY_VERS_INFO: Field = 16..18; // big-endian
pub(crate) const REPLY_NET_SWITCH: usize = 18;
pub(crate) const REPLY_SUB_SWITCH: usize = 19;
pub(crate) const REPLY_OEM: Field = 20..22; // big-endian
pub(crate) const REPLY_UBEA_VERSION: usize = 22;
pub(crate) const REPLY_STATUS1: usize = 23;
pub(crate) const REPLY_ESTA_MANUFACTURER: Field = 24..26; // little-endian (Lo first)
pub(crate) const REPLY_SHORT_NAME: Field = 26..44;
pub(crate) const REPLY_LONG_NAME: Field = 44..108;
pub(crate) const REPLY_NODE_REPORT: Field = 108..172;
pub(crate) const REPLY_NUM_PORTS: Field = 172..174; // big-endian
pub(crate) const REPLY_PORT_TYPES: usize = 174; // [4]
pub(crate) const REPLY_GOOD_INPUT: usize = 178; // [4]
pub(crate) const REPLY_GOOD_OUTPUT_A: usize = 182; // [4]
pub(crate) const REPLY_SW_IN: usize = 186; // [4]
pub(crate) const REPLY_SW_OUT: usize = 190; // [4]
pub(crate) const REPLY_ACN_PRIORITY: usize = 194;
pub(crate) const REPLY_SW_MACRO: usize = 195;
pub(crate) const REPLY_SW_REMOTE: usize = 196;
pub(crate) const REPLY_STYLE: usize = 200;
pub(crate) const REPLY_MAC: Field = 201..207;
pub(crate) const REPLY_MIN_END: usize = 207;
pub(crate) const REPLY_BIND_IP: Field = 207..211;
pub(crate) const REPLY_BIND_INDEX: usize = 211;
pub(crate) const REPLY_STATUS2: usize = 212;
pub(crate) const REPLY_GOOD_OUTPUT_B: usize = 213; // [4]
pub(crate) const REPLY_STATUS3: usize = 217;
pub(crate) const REPLY_END: usize = 239;

// Wire constants.
pub(crate) const ART_NET_ID: [u8; 8] = *b"Art-Net\0";
