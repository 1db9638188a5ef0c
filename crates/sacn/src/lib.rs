//! ANSI E1.31-2018 (sACN): wire format, and a sans-IO source state machine.
//!
//! * [`wire`]: validated zero-copy parsing ([`Packet::parse`]) and allocation-free builders.
//! * [`cid`]: the source identifier.
//! * [`source`]: when to send which packet (rate limit, repeats, keep-alive, sync,
//!   discovery, termination), driven by caller-supplied instants.

pub mod cid;
pub mod discovery;
pub mod receiver;
pub mod source;
pub mod wire;

pub use cid::{Cid, CidParseError};
pub use wire::{
    BuildError, DATA_UNIVERSES, DEFAULT_PRIORITY, DISCOVERY_UNIVERSE, DataHeader, DataPacket,
    DiscoveryPacket, DropReason, MAX_PRIORITY, MAX_SLOTS, Options, PORT, Packet, START_CODE_LEVELS,
    START_CODE_PER_ADDRESS_PRIORITY, SyncPacket, fuzz_parse, ipv4_multicast, ipv6_multicast,
    ipv6_multicast_literal, write_data, write_discovery, write_sync,
};
