//! OSC 1.0 wire format: zero-copy validated views ([`Packet::parse`]) and allocation-free
//! builders ([`write_message`], [`BundleWriter`]).
//!
//! Validation is strict, because a lenient reader silently misreads the arguments of a
//! packet it does not understand: every length is a multiple of 4, every string is
//! NUL-terminated and NUL-padded, every padding byte is 0, the type tags account for exactly
//! the argument bytes, and unknown type tags are refused (their size is unknown, so nothing
//! after them could be read). Each rule has its own [`DropReason`].
//!
//! Lenient where the spec or the field asks for it: a message that ends after its address
//! (OSC 1.0's optional type tag string) is a message without arguments; `#` and any other
//! byte after the leading `/` may appear in an address.
//!
//! Bundles: [`Packet::parse`] checks the header and the element framing of a bundle; each
//! element is validated when [`Bundle::elements`] reaches it, so a bad element is counted
//! and skipped without losing the others. Nesting deeper than [`MAX_BUNDLE_DEPTH`] is refused
//! ([`DropReason::BundleTooDeep`]); a byte buffer cannot contain a loop, so depth is the only
//! recursion to bound.

mod arg;
mod build;
mod error;
mod packet;
mod timetag;

pub use arg::{Arg, Args, Midi, Rgba, is_known_tag};
pub use build::{BuildError, BundleWriter, message_len, write_message};
pub use error::DropReason;
pub use packet::{Bundle, Elements, Message, Packet, fuzz_parse};
pub use timetag::TimeTag;

/// First 8 bytes of every bundle.
pub const BUNDLE_TAG: &[u8; 8] = b"#bundle\0";
/// `#bundle\0` and the time tag.
pub const BUNDLE_HEADER_LEN: usize = 16;
/// Deepest bundle nesting accepted and built (a top-level bundle has depth 1).
pub const MAX_BUNDLE_DEPTH: usize = 8;

/// `n` rounded up to a multiple of 4.
#[inline]
pub const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

#[cfg(test)]
mod tests;
