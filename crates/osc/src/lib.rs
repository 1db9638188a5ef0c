//! Open Sound Control for patchbay, sans-IO: bytes in, views and decisions out; no sockets,
//! no clock, no dependency on the routing core.
//!
//! * [`wire`]: OSC 1.0 messages and bundles. [`wire::Packet::parse`] validates and hands out
//!   zero-copy views ([`wire::Message`], [`wire::Bundle`], the [`wire::Args`] iterator);
//!   rejections carry a [`wire::DropReason`] with a stable counter name.
//!   [`wire::write_message`] and [`wire::BundleWriter`] build into caller buffers.
//! * [`framing`]: OSC over stream transports: SLIP (OSC 1.1, RFC 1055 with a leading END)
//!   and the OSC 1.0 32-bit length prefix, encoders and an incremental decoder with a frame
//!   size limit.
//! * [`address`]: OSC 1.0 address patterns (`*`, `?`, `[a-z]`, `[!a]`, `{a,b}`): a matcher
//!   for one pattern against one path, and [`address::AddressSpace`], the configured paths
//!   compiled so that an incoming address costs one hash lookup and a pattern walks only the
//!   branches it can match.
//! * [`channel`]: channel names (`/path`, `/path:N`), path validation and the instance
//!   `root` prefix.
//! * [`value`]: MIDIMonster's value mapping (types `i f h d` with MIN MAX, default ranges,
//!   clipping, inverted ranges) plus patchbay's extensions (`s T F N I m t`), with exact
//!   integer paths for 8- and 16-bit values; the differences from MIDIMonster are listed there.
//! * [`preconfig`]: the instance option `/PATTERN = FMT MIN MAX ...` (first match wins).
//! * [`fuzz`]: bodies of the cargo-fuzz targets, replayed by the root `tests/fuzz_corpus.rs`.
//!
//! The input path of an instance, allocation-free per message:
//!
//! ```
//! use patchbay_osc::address::AddressSpace;
//! use patchbay_osc::channel::{ChannelName, Root};
//! use patchbay_osc::preconfig::{Preconfig, Preconfigs};
//! use patchbay_osc::value::{Level, message_levels};
//! use patchbay_osc::wire::{Arg, Packet, write_message};
//!
//! // Configuration time: root, preconfiguration, channels.
//! let root = Root::parse("/4").unwrap();
//! let mut pre = Preconfigs::default();
//! pre.push(Preconfig::parse("/xy*", "ff 0.0 2.0 0.0 2.0").unwrap());
//! let mut space = AddressSpace::new();
//! let mut params = Vec::new(); // per path id
//! for spec in ["/xy1:1", "/fader1"] {
//!     let ch = ChannelName::parse(spec).unwrap();
//!     let id = space.insert(&root.join(ch.path)).unwrap();
//!     if id.index() == params.len() {
//!         params.push(pre.find(ch.path).map(|p| p.params().to_vec()).unwrap_or_default());
//!     }
//! }
//!
//! // A datagram arrives.
//! let mut buf = [0u8; 64];
//! let n = write_message(&mut buf, "/4/xy1", [Arg::Float(0.5), Arg::Float(2.0)]).unwrap();
//! let mut events = Vec::new();
//! if let Ok(p) = Packet::parse(&buf[..n]) {
//!     p.for_each_message(|m| {
//!         let Ok((_time, m)) = m else { return }; // count the drop reason
//!         let _ = space.lookup(m.address(), |id| {
//!             message_levels(&m, &params[id.index()], |arg, level| {
//!                 events.push((space.path(id).to_string(), arg, level));
//!             });
//!         });
//!     });
//! }
//! assert_eq!(events[1], ("/4/xy1".to_string(), 1, Level::from_normalised(1.0)));
//! ```

pub mod address;
pub mod channel;
pub mod framing;
pub mod fuzz;
pub mod preconfig;
pub mod value;
pub mod wire;
