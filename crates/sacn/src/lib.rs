//! ANSI E1.31-2018 (sACN) for patchbay: the wire format, a sans-IO receiver and a sans-IO
//! source. No sockets, no threads, no clock: bytes and `Instant`s go in, decisions and bytes
//! come out, so every timing rule is tested with a fake clock.
//!
//! * [`wire`]: [`Packet::parse`] validates a whole datagram once (every rule of the spec's
//!   receiver validation: lengths at all three layers, vectors, DMP header, ranges) and then
//!   hands out zero-copy views whose accessors cannot fail; rejections carry a [`DropReason`]
//!   with a stable counter name. [`write_data`], [`write_sync`] and [`write_discovery`] fill
//!   caller buffers without allocating. Multicast groups: [`ipv4_multicast`] and
//!   [`ipv6_multicast`] (ETC's `ff18::8300:HHLL` layout; see [`wire`] for why).
//! * [`cid`]: the source identifier [`Cid`].
//! * [`source`]: [`Source`] decides when each packet goes out (44 packets/s rate limit with
//!   coalescing, 3 repeats, keep-alive within 1 s, sync packets, discovery every 10 s,
//!   Stream_Terminated on removal). It reads no clock and owns no socket.
//! * [`receiver`]: [`receiver::Receiver`] keeps per-universe, per-source state: the sequence
//!   rule, 2.5 s source loss, stream termination, preview, priority with HTP or LTP merge,
//!   per-address priority (0xDD, never applied as levels), the sampling period, universe
//!   synchronization, and bounded memory under floods of new CIDs. It reports the merged slots
//!   and which of them changed, source events and drop counters.
//! * [`discovery`]: universe discovery pages assembled per source, expiring when not refreshed.
//!
//! Parsing one datagram:
//!
//! ```
//! use patchbay_sacn::{Packet, DropReason};
//!
//! # let datagram = {
//! #     let mut b = [0u8; 1144];
//! #     let h = patchbay_sacn::DataHeader { cid: patchbay_sacn::Cid([1; 16]), source_name: "desk",
//! #         priority: 100, sync_address: 0, sequence: 0, options: patchbay_sacn::Options::NONE,
//! #         universe: 1, start_code: 0 };
//! #     let n = patchbay_sacn::write_data(&mut b, &h, &[255, 128]).expect("build");
//! #     b[..n].to_vec()
//! # };
//! let mut drops = [0u64; DropReason::COUNT];
//! match Packet::parse(&datagram) {
//!     Ok(Packet::Data(d)) if d.start_code() == patchbay_sacn::START_CODE_LEVELS => {
//!         assert_eq!((d.universe(), d.source_name().as_ref()), (1, "desk"));
//!         assert_eq!(d.slots(), &[255, 128]);
//!     }
//!     Ok(_) => {} // sync, discovery, or a non-level start code
//!     Err(reason) => drops[reason.index()] += 1, // reason.as_str() names the counter
//! }
//! ```
//!
//! Sending (the caller supplies time and owns the socket):
//!
//! ```
//! use std::time::{Duration, Instant};
//! use patchbay_sacn::{Cid, Packet, Source, SourceConfig, TransmitKind, UniverseConfig};
//! use patchbay_sacn::wire::{MAX_PACKET_LEN, ipv4_multicast};
//!
//! let mut source = Source::new(Cid([2; 16]), "patchbay", SourceConfig::default());
//! source.add_universe(1, UniverseConfig::default())?;
//! let now = Instant::now();
//! source.set_slots(now, 1, &[255, 0, 64])?; // returns false (and sends nothing) if unchanged
//!
//! let mut buf = [0u8; MAX_PACKET_LEN];
//! let mut sent = Vec::new();
//! while let Some(t) = source.poll_transmit(now, &mut buf) {
//!     let group = match t.kind {
//!         TransmitKind::Data { universe } => ipv4_multicast(universe),
//!         TransmitKind::Sync { sync_address } => ipv4_multicast(sync_address),
//!         TransmitKind::Discovery { .. } => ipv4_multicast(patchbay_sacn::DISCOVERY_UNIVERSE),
//!     };
//!     // socket.send_to(&buf[..t.len], (group, patchbay_sacn::PORT)) in a real backend
//!     sent.push((group, buf[..t.len].to_vec()));
//! }
//! assert_eq!(sent.len(), 2); // the data packet and a discovery page
//! assert!(matches!(Packet::parse(&sent[0].1), Ok(Packet::Data(_))));
//! // Sleep until the next repeat/keep-alive/discovery deadline, then poll again (the first
//! // repeat waits one slot plus the jitter tolerance, in case a next frame comes late).
//! let cfg = SourceConfig::default();
//! assert_eq!(source.poll_timeout(), Some(now + cfg.min_gap + cfg.jitter_tolerance));
//! # Ok::<(), patchbay_sacn::SourceError>(())
//! ```

pub mod cid;
pub mod discovery;
pub mod receiver;
pub mod source;
pub mod wire;

pub use cid::{Cid, CidParseError};
pub use source::{Source, SourceConfig, SourceError, Transmit, TransmitKind, UniverseConfig};
pub use wire::{
    BuildError, DATA_UNIVERSES, DEFAULT_PRIORITY, DISCOVERY_UNIVERSE, DataHeader, DataPacket,
    DiscoveryPacket, DropReason, Irregularities, Irregularity, MAX_PRIORITY, MAX_SLOTS, Options,
    PORT, Packet, START_CODE_LEVELS, START_CODE_PER_ADDRESS_PRIORITY, SyncPacket, fuzz_parse,
    ipv4_multicast, ipv6_multicast, ipv6_multicast_literal, write_data, write_discovery,
    write_sync,
};
