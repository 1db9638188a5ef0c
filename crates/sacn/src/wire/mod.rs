//! E1.31 wire format: zero-copy validated views ([`Packet::parse`]) and allocation-free
//! builders ([`write_data`], [`write_sync`], [`write_discovery`]).
//!
//! Layout follows smoltcp's `wire` modules: all offsets live in a private `field` module and
//! every accessor reads big-endian integers straight out of the datagram. Views can only be
//! obtained from [`Packet::parse`], which checks every receiver validation rule of
//! E1.31-2018 (and the analogous rules for sync and discovery packets) first, so accessors
//! never fail. Four deviations that sources in the field send in data packets are accepted
//! instead and reported by [`DataPacket::irregularities`] ([`Irregularity`]).
//!
//! IPv6 multicast: E1.31 writes the group as `FF18::83:00:{hi}:{lo}`, which implementations
//! read two ways. [`ipv6_multicast`] follows ETC's reference library (bytes `83 00 hi lo` in
//! the last four bytes, `ff18::8300:HHLL`), which is what most consoles join;
//! [`ipv6_multicast_literal`] gives the literal reading (`ff18::83:0:hi:lo`) for peers that
//! use it.

mod addr;
mod build;
mod error;
mod field;
mod irregular;
mod options;
mod packet;

use core::ops::RangeInclusive;

pub use addr::{ipv4_multicast, ipv6_multicast, ipv6_multicast_literal};
pub use build::{BuildError, DataHeader, write_data, write_discovery, write_sync};
pub use error::DropReason;
pub use irregular::{Irregularities, Irregularity};
pub use options::Options;
pub use packet::{DataPacket, DiscoveryPacket, Packet, SyncPacket, fuzz_parse};

/// UDP port of all E1.31 traffic.
pub const PORT: u16 = 5568;
/// Universe whose group carries universe discovery packets.
pub const DISCOVERY_UNIVERSE: u16 = 64214;
/// Slots per universe (DMX512 addresses).
pub use patchbay_dmx::MAX_SLOTS;
/// Universe numbers valid for data (and as synchronization addresses).
pub const DATA_UNIVERSES: RangeInclusive<u16> = 1..=63999;
/// Highest priority a source may send.
pub const MAX_PRIORITY: u8 = 200;
/// Priority used when none is configured.
pub const DEFAULT_PRIORITY: u8 = 100;
/// Start code of level data.
pub const START_CODE_LEVELS: u8 = 0x00;
/// Start code of ETC's per-address priority packets; never level data.
pub const START_CODE_PER_ADDRESS_PRIORITY: u8 = 0xDD;
/// Universes per discovery page.
pub const UNIVERSES_PER_PAGE: usize = 512;

/// Length of a data packet with no slots (header and start code).
pub const MIN_DATA_PACKET_LEN: usize = field::SLOTS;
/// Length of a data packet with all 512 slots.
pub const MAX_DATA_PACKET_LEN: usize = field::SLOTS + MAX_SLOTS;
/// Length of every synchronization packet.
pub const SYNC_PACKET_LEN: usize = field::SYNC_END;
/// Length of a discovery packet with an empty universe list.
pub const MIN_DISCOVERY_PACKET_LEN: usize = field::LIST;
/// Length of a discovery packet with 512 universes.
pub const MAX_DISCOVERY_PACKET_LEN: usize = field::LIST + 2 * UNIVERSES_PER_PAGE;
/// A receive buffer of this size holds any valid E1.31 packet (anything longer is dropped).
pub const MAX_PACKET_LEN: usize = MAX_DISCOVERY_PACKET_LEN;

/// Length of a data packet carrying `slots` slots (plus the start code).
#[inline]
pub const fn data_packet_len(slots: usize) -> usize {
    field::SLOTS + slots
}

/// Length of a discovery packet listing `universes` universes.
#[inline]
pub const fn discovery_packet_len(universes: usize) -> usize {
    field::LIST + 2 * universes
}

use patchbay_dmx::bytes::{be16, be32, put_be16 as put16, put_be32 as put32};

#[cfg(test)]
mod tests;
