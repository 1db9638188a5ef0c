//! MQTT 3.1.1 and 5.0 wire format: stream framing ([`frame`]), validated zero-copy packet views
//! ([`Packet::parse`]) and builders that append to a caller-owned `Vec<u8>` ([`Packet::write`]).
//!
//! One [`Packet`] type serves both directions: the client parses what a broker sends and writes
//! what a client sends, and the tests' fake broker does the reverse with the same code, so every
//! packet type round-trips. Parsing is strict: everything the two specifications call a malformed
//! packet or a protocol error that can be seen in one packet is rejected with a [`ParseError`]
//! naming the rule (reserved flag bits, non-minimal or five-byte lengths, invalid UTF-8 or U+0000
//! in strings, wildcards in topic names, packet identifier 0, unknown, duplicated or misplaced v5
//! properties, reason codes a packet may not carry, trailing bytes). On a TCP stream a malformed
//! packet cannot be skipped safely, so the client closes the connection on any of them.

mod build;
mod error;
mod packet;
mod property;
mod reader;
mod reason;

pub use build::BuildError;
pub use error::ParseError;
pub use packet::{
    Ack, Auth, ConnAck, Connect, Disconnect, Packet, Publish, SubAck, Subscribe, SubscribeEntry,
    SubscriptionOptions, Unsubscribe, Will, fuzz_parse,
};
pub use property::{Properties, Property, PropertyIter};
pub use reason::{connack_v3_text, reason_text};

/// Highest value of a variable byte integer (four bytes), and so of a remaining length.
pub const MAX_VARINT: u32 = 268_435_455;
/// Longest UTF-8 string or binary field (two-byte length prefix).
pub const MAX_STRING_LEN: usize = u16::MAX as usize;

/// Protocol version of a connection (the CONNECT packet's protocol level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5.0 (protocol level 5).
    V5,
}

impl Protocol {
    /// The protocol level byte of CONNECT.
    pub const fn level(self) -> u8 {
        match self {
            Protocol::V311 => 4,
            Protocol::V5 => 5,
        }
    }

    /// `true` for MQTT 5 (properties and reason codes present).
    pub const fn is_v5(self) -> bool {
        matches!(self, Protocol::V5)
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::V311 => "3.1.1",
            Protocol::V5 => "5",
        })
    }
}

/// Quality of service of a PUBLISH or subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum QoS {
    /// At most once: no acknowledgement.
    #[default]
    AtMostOnce = 0,
    /// At least once: PUBACK.
    AtLeastOnce = 1,
    /// Exactly once: PUBREC, PUBREL, PUBCOMP.
    ExactlyOnce = 2,
}

impl QoS {
    /// The two-bit value; `None` for 3.
    pub const fn from_bits(bits: u8) -> Option<QoS> {
        match bits {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }

    /// 0, 1 or 2.
    pub const fn bits(self) -> u8 {
        self as u8
    }
}

/// Control packet type: the high nibble of the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// 1, client to server.
    Connect = 1,
    /// 2, server to client.
    ConnAck = 2,
    /// 3, both ways.
    Publish = 3,
    /// 4, both ways.
    PubAck = 4,
    /// 5, both ways.
    PubRec = 5,
    /// 6, both ways; fixed-header flags 0b0010.
    PubRel = 6,
    /// 7, both ways.
    PubComp = 7,
    /// 8, client to server; fixed-header flags 0b0010.
    Subscribe = 8,
    /// 9, server to client.
    SubAck = 9,
    /// 10, client to server; fixed-header flags 0b0010.
    Unsubscribe = 10,
    /// 11, server to client.
    UnsubAck = 11,
    /// 12, client to server.
    PingReq = 12,
    /// 13, server to client.
    PingResp = 13,
    /// 14, both ways.
    Disconnect = 14,
    /// 15, both ways, MQTT 5 only.
    Auth = 15,
}

impl PacketType {
    /// The type of a first byte; `None` for the reserved type 0.
    pub const fn from_first_byte(b: u8) -> Option<PacketType> {
        Some(match b >> 4 {
            1 => PacketType::Connect,
            2 => PacketType::ConnAck,
            3 => PacketType::Publish,
            4 => PacketType::PubAck,
            5 => PacketType::PubRec,
            6 => PacketType::PubRel,
            7 => PacketType::PubComp,
            8 => PacketType::Subscribe,
            9 => PacketType::SubAck,
            10 => PacketType::Unsubscribe,
            11 => PacketType::UnsubAck,
            12 => PacketType::PingReq,
            13 => PacketType::PingResp,
            14 => PacketType::Disconnect,
            15 => PacketType::Auth,
            _ => return None,
        })
    }

    /// The fixed-header flag nibble every packet but PUBLISH must carry.
    pub const fn required_flags(self) -> u8 {
        match self {
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => 0b0010,
            _ => 0,
        }
    }
}

/// Where one packet lies at the start of a byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    /// Bytes of the fixed header (type byte and remaining length): 2..=5.
    pub header_len: usize,
    /// Bytes after the fixed header.
    pub remaining_len: usize,
}

impl Frame {
    /// Length of the whole packet.
    pub const fn len(&self) -> usize {
        self.header_len + self.remaining_len
    }

    /// Never true: a fixed header has at least two bytes.
    pub const fn is_empty(&self) -> bool {
        false
    }
}

/// Finds the first packet of a byte stream: `Ok(None)` until its fixed header is complete.
///
/// The packet body may still be incomplete (compare [`Frame::len`] with the bytes buffered).
/// Rejects the reserved packet type 0, remaining lengths longer than four bytes and (as MQTT 5
/// section 1.5.5 requires) ones not encoded in the fewest bytes.
pub fn frame(stream: &[u8]) -> Result<Option<Frame>, ParseError> {
    let Some(&first) = stream.first() else {
        return Ok(None);
    };
    if PacketType::from_first_byte(first).is_none() {
        return Err(ParseError::ReservedPacketType);
    }
    match read_varint(&stream[1..]) {
        Ok((value, used)) => Ok(Some(Frame {
            header_len: 1 + used,
            remaining_len: value as usize,
        })),
        Err(VarintError::Incomplete) => Ok(None),
        Err(VarintError::Invalid(e)) => Err(e),
    }
}

/// Why a variable byte integer could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VarintError {
    /// More bytes are needed.
    Incomplete,
    /// Malformed.
    Invalid(ParseError),
}

/// Reads a variable byte integer: value and bytes used.
pub(crate) fn read_varint(b: &[u8]) -> Result<(u32, usize), VarintError> {
    let mut value = 0u32;
    for i in 0..4 {
        let Some(&byte) = b.get(i) else {
            return Err(VarintError::Incomplete);
        };
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // A last byte of 0 after continuation bytes adds nothing: a longer encoding than needed.
            if i > 0 && byte == 0 {
                return Err(VarintError::Invalid(ParseError::NonMinimalVarint));
            }
            return Ok((value, i + 1));
        }
    }
    Err(VarintError::Invalid(ParseError::VarintTooLong))
}

/// Bytes a variable byte integer of `value` takes (1..=4).
pub const fn varint_len(value: u32) -> usize {
    match value {
        0..=127 => 1,
        128..=16_383 => 2,
        16_384..=2_097_151 => 3,
        _ => 4,
    }
}

/// Appends `value` (at most [`MAX_VARINT`]) as a variable byte integer.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if value == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
