//! MIDI 1.0 for patchbay, sans-IO: no devices, no threads, no clock. Bytes and events go in,
//! channel values come out, and the other way round. The `jack` and `midi` (ALSA sequencer)
//! backends share all of it, so both read and write MIDI the same way.
//!
//! * Messages: [`Message`] is one MIDI 1.0 message; [`Message::parse`] reads one whole message
//!   (one JACK event, one ALSA byte event) and [`Message::encode`] writes one into a caller
//!   buffer. [`StreamParser`] reads a byte stream incrementally (running status, real-time
//!   bytes anywhere, SysEx framing with a maximum length, long SysEx in chunks) and
//!   [`StreamEncoder`] writes one, with running status if asked. Every dropped byte or message
//!   is counted under a [`DropReason`] with a stable counter name.
//! * Channel names: [`Spec::parse`] reads MIDIMonster's grammar (`ch0.note60`,
//!   `channel15.cc7`, `ch1.pitch`, `ch0.nrpn900`, ...) plus patchbay's `sysex.NAME`, stricter
//!   than MIDIMonster where it lets mistakes through (see [`Spec`]). A backend resolves each
//!   name once, at configuration time, to a [`ChannelKey`] with [`SysExTemplates::resolve`];
//!   [`SysExTemplates::channel_name`] turns a key back into the name (for `detect`).
//! * Values: [`Raw`] is a 7-bit or 14-bit integer with its [`Width`]; `Value::from_raw(raw,
//!   bits)` in the core gives exactly MIDIMonster's normalisation, `value.to_raw(bits)` rounds
//!   on output (MIDIMonster truncates; see [`Width`]).
//! * Input: [`Input::decode`] turns a received message into channel values, with the (N)RPN
//!   state machine ([`EpnInput`]) and SysEx templates ([`SysExTemplates`]).
//! * Output: [`OutputOptions::messages`] gives the messages for one channel value: (N)RPN
//!   sequences per `epn-tx` ([`EpnTx`]), note off as note-on velocity 0 or a real note off
//!   ([`NoteOffTx`]); a SysEx template writes its message with [`SysExTemplate::write`].
//!
//! A round trip through the pieces, as a JACK backend would do it:
//!
//! ```
//! use patchbay_midi::{Input, Message, OutputOptions, Raw, SysExTemplates};
//!
//! // Configuration time: options and channel names of one instance.
//! let mut templates = SysExTemplates::new();
//! templates.define("cutoff", "F0 43 10 4C 02 01 00 {v} F7")?;
//! let fader = templates.resolve("ch0.cc7")?;
//! let cutoff = templates.resolve("sysex.cutoff")?;
//!
//! // Input: one event's bytes → channel values.
//! let mut input = Input::new();
//! let mut got = Vec::new();
//! let event = [0xB0, 7, 127];
//! input.decode(&Message::parse(&event)?, &templates, |key, raw| got.push((key, raw)));
//! assert_eq!(got, [(fader, Raw::seven(127))]);
//! assert_eq!(templates.channel_name(fader).to_string(), "ch0.cc7");
//!
//! // Output: a channel value → the messages to send.
//! let voice = fader.voice().expect("a voice key");
//! let out = OutputOptions::default().messages(voice, 100);
//! let mut buf = [0u8; 3];
//! let n = out.as_slice()[0].encode(&mut buf)?;
//! assert_eq!(&buf[..n], &[0xB0, 7, 100]);
//!
//! let template = templates.get(0).expect("defined above");
//! let mut sysex = [0u8; 16];
//! let n = template.write(64, &mut sysex)?;
//! assert_eq!(template.extract(&sysex[..n]), Some(Raw::seven(64)));
//! # let _ = cutoff;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod epn;
mod error;
pub mod fuzz;
mod grammar;
mod input;
mod message;
mod output;
mod stream;
mod sysex;
mod value;

pub use epn::{EpnInput, EpnTx, cc as epn_cc};
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
