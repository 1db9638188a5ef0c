//! What the MIDI backends (`jack`, and `midi` on the ALSA sequencer) share beyond
//! `patchbay_midi`, which holds MIDI itself (messages, the channel grammar, values, (N)RPN,
//! SysEx templates): the pieces that need the core's types.
//!
//! * [`options`]: the instance options every MIDI output takes (`epn-tx`, `note-off`,
//!   `sysex.NAME`) and `detect`.
//! * [`channels`]: the channels of one instance: name → key → `ChannelId` at configuration
//!   time, a received message → events, a delivered value → messages, and the last value of
//!   every output, re-sent when a device or server comes back.
//! * [`reconnect`]: when to try again after a device or server went away, and which of the
//!   attempts to log (the first failure and the return, not every retry).
//!
//! Why here and not in each backend: both read and write MIDI the same way, so a fix (or a
//! difference from MIDIMonster) is made once.

pub mod channels;
pub mod options;
pub mod reconnect;

pub use channels::MidiChannels;
pub use options::{Detect, parse_detect};
pub use reconnect::{RETRY_PERIOD, Reconnect};

use patchbay_midi::DropReason;

/// `malformed.REASON`: the counter of MIDI input dropped for one reason (the names are
/// `DropReason::as_str`'s, stable).
pub fn malformed_name(r: DropReason) -> &'static str {
    match r.as_str() {
        "stray_data" => "malformed.stray_data",
        "incomplete_message" => "malformed.incomplete_message",
        "sysex_interrupted" => "malformed.sysex_interrupted",
        "sysex_too_long" => "malformed.sysex_too_long",
        "stray_eox" => "malformed.stray_eox",
        "undefined_status" => "malformed.undefined_status",
        "empty" => "malformed.empty",
        "wrong_length" => "malformed.wrong_length",
        "status_in_data" => "malformed.status_in_data",
        "sysex_unterminated" => "malformed.sysex_unterminated",
        _ => "malformed.other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_drop_reason_has_its_own_counter() {
        for r in DropReason::ALL {
            assert_eq!(malformed_name(r), format!("malformed.{}", r.as_str()));
        }
    }
}
