//! MIDI 1.0 for patchbay, sans-IO.

mod error;
mod grammar;
mod message;
mod stream;
mod value;

pub use error::{DropReason, EncodeError};
pub use grammar::{ChannelKey, Control, GrammarError, KeyTarget, MAX_PARAMETER, Spec, Voice};
pub use message::{Message, RealTime, status};
pub use stream::{DEFAULT_MAX_SYSEX_LEN, StreamEncoder, StreamParser};
pub use value::{Raw, Width};

#[cfg(test)]
mod testutil;
