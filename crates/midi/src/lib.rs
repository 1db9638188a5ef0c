//! MIDI 1.0 for patchbay, sans-IO.

mod error;
mod message;
mod stream;

pub use error::{DropReason, EncodeError};
pub use message::{Message, RealTime, status};
pub use stream::{DEFAULT_MAX_SYSEX_LEN, StreamEncoder, StreamParser};

#[cfg(test)]
mod testutil;
