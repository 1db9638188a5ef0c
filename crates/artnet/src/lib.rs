//! Art-Net 4 for patchbay: the wire format, a sans-IO receiver and the sender's building
//! blocks. No sockets, no threads, no clock: bytes, source addresses and `Instant`s go in,
//! decisions and bytes come out.
//!
//! * [`PortAddress`]: the 15-bit net:sub-net:universe address, with exact conversions.
//! * [`wire`]: [`Packet::parse`] validates a datagram once and hands out zero-copy views of
//!   ArtDmx, ArtPoll, ArtPollReply and ArtSync (other OpCodes are recognised and classed);
//!   rejections carry a [`DropReason`], tolerated deviations a [`Quirk`], both with stable
//!   counter names. [`write_dmx`], [`write_sync`], [`write_poll`] and [`write_poll_reply`] fill
//!   caller buffers without allocating.
//! * [`receiver`]: per Port-Address universe, at most two sources (by IP address) merged HTP or
//!   LTP, a third refused and counted, sources timing out after 10 s, the sequence rule, and
//!   ArtSync (hold until ArtSync, back to immediate output 4 s after the last one).
//!
//! The rate limit and keep-alive of the sending side are not here: they belong to the frame
//! pacer shared with sACN.
//!
//! Parsing one datagram:
//!
//! ```
//! use patchbay_artnet::{DropReason, Packet, PortAddress};
//!
//! # let datagram = {
//! #     let mut b = [0u8; patchbay_artnet::wire::MAX_DMX_PACKET_LEN];
//! #     let h = patchbay_artnet::DmxHeader { sequence: 1, physical: 0,
//! #         address: PortAddress::from_parts(0, 0, 1).expect("valid") };
//! #     let n = patchbay_artnet::write_dmx(&mut b, &h, &[255, 128]).expect("build");
//! #     b[..n].to_vec()
//! # };
//! let mut drops = [0u64; DropReason::COUNT];
//! match Packet::parse(&datagram) {
//!     Ok(Packet::Dmx(d)) => {
//!         assert_eq!(d.port_address().to_string(), "0:0:1");
//!         assert_eq!(d.slots(), &[255, 128]);
//!     }
//!     Ok(_) => {} // ArtPoll, ArtPollReply, ArtSync or another OpCode
//!     Err(reason) => drops[reason.index()] += 1, // reason.as_str() names the counter
//! }
//! ```
//!
//! Receiving (the caller owns the socket and the clock):
//!
//! ```
//! use std::net::{Ipv4Addr, SocketAddrV4};
//! use std::time::Instant;
//! use patchbay_artnet::receiver::{Handled, Receiver, ReceiverConfig};
//! use patchbay_artnet::{DmxHeader, PortAddress, write_dmx};
//!
//! let universe = PortAddress::from_net_sub_uni(0, 1)?;
//! let mut rx = Receiver::new(ReceiverConfig::default());
//! let now = Instant::now();
//! rx.add_universe(universe)?;
//!
//! let mut buf = [0u8; 530];
//! let desk = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 5), 6454);
//! let h = DmxHeader { sequence: 1, physical: 0, address: universe };
//! let n = write_dmx(&mut buf, &h, &[255, 0, 64, 0])?;
//! let handled = rx.handle_datagram(now, desk, &buf[..n]);
//! assert!(matches!(handled, Ok(Handled::Dmx { changed: true, .. })));
//!
//! while let Some((address, changed)) = rx.poll_changed() {
//!     let slots = rx.universe(address).expect("listening").slots();
//!     assert_eq!(changed.iter().map(|i| slots[i]).collect::<Vec<_>>(), [255, 64]);
//! }
//! // Sleep until rx.poll_timeout() (source timeout, ArtSync timeout), then:
//! # let later = now;
//! rx.handle_timeout(later);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod port_address;
pub mod receiver;
pub mod wire;

pub use port_address::{PortAddress, PortAddressError};
pub use wire::{
    BuildError, DmxHeader, DmxPacket, DropReason, NodeReport, OpClass, OpCode, Packet, Poll,
    PollPacket, PollReply, PollReplyPacket, Port, Quirk, Quirks, SequenceCounter, SyncPacket,
    fuzz_parse, reply_groups, write_dmx, write_poll, write_poll_reply, write_sync,
};
