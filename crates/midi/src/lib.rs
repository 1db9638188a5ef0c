//! MIDI 1.0 for patchbay, sans-IO.

mod epn;
mod error;
mod grammar;
mod input;
mod message;
mod output;
mod stream;
mod sysex;
mod value;

pub use epn::{EpnInput, EpnTx};
pub use error::{DropReason, EncodeError};
pub use grammar::{ChannelKey, Control, GrammarError, KeyTarget, MAX_PARAMETER, Spec, Voice};
pub use input::{Input, voice_value};
pub use message::{Message, RealTime, status};
pub use output::{DEFAULT_RELEASE_VELOCITY, MAX_OUTGOING, NoteOffTx, Outgoing, OutputOptions};
pub use stream::{DEFAULT_MAX_SYSEX_LEN, StreamEncoder, StreamParser};
pub use sysex::{
    ChannelName, Hex, MAX_TEMPLATE_LEN, SysExTemplate, SysExTemplates, TemplateError,
    UnmatchedSysEx,
};
pub use value::{Raw, Width};

#[cfg(test)]
mod testutil;
