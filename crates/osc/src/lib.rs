//! Open Sound Control for patchbay, sans-IO: bytes in, views and decisions out; no sockets,
//! no clock, no dependency on the routing core.
//!
//! * [`wire`]: OSC 1.0 messages and bundles. [`wire::Packet::parse`] validates and hands out
//!   zero-copy views ([`wire::Message`], [`wire::Bundle`], the [`wire::Args`] iterator);
//!   rejections carry a [`wire::DropReason`] with a stable counter name.
//!   [`wire::write_message`] and [`wire::BundleWriter`] build into caller buffers.
//! * [`framing`]: OSC over stream transports: SLIP (OSC 1.1, RFC 1055 with a leading END)
//!   and the OSC 1.0 32-bit length prefix, encoders and incremental decoders with a frame
//!   size limit.
//! * [`address`]: OSC 1.0 address patterns (`*`, `?`, `[a-z]`, `[!a]`, `{a,b}`): a matcher
//!   for one pattern against one path, and [`address::AddressSpace`], the configured paths
//!   compiled so that an incoming address costs one hash lookup and a pattern walks only the
//!   branches it can match.
//! * [`channel`]: channel names (`/path`, `/path:N`), path validation and the instance
//!   `root` prefix.
//! * [`value`]: MIDIMonster's value mapping (types `i f h d` with MIN MAX, default ranges,
//!   clipping, inverted ranges) plus patchbay's extensions (`s T F N I m t`), with exact
//!   integer paths for 8- and 16-bit values; and the `/PATTERN = FMT MIN MAX ...`
//!   preconfiguration.

pub mod address;
pub mod channel;
pub mod framing;
pub mod fuzz;
pub mod preconfig;
pub mod value;
pub mod wire;
