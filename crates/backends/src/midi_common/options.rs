//! Option values shared by the MIDI backends.

use patchbay_core::OptionError;
use patchbay_midi::{DEFAULT_RELEASE_VELOCITY, EpnTx, NoteOffTx};

/// The instance options of a MIDI output, in the order error messages list them.
pub const OUTPUT_OPTIONS: [&str; 3] = ["epn-tx", "note-off", "sysex.NAME"];

/// Whether incoming values are logged as channel names (`detect`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Detect {
    /// Nothing logged.
    #[default]
    Off,
    /// Every incoming value is logged with the name of its channel.
    On,
}

/// `detect`: `on` or `off`. MIDIMonster turns detection on for every value but `off`; patchbay
/// does too (a configuration written for it keeps working) and warns about a value other than
/// `on`, which is most likely a typo.
pub fn parse_detect(value: &str) -> (Detect, Option<String>) {
    match value {
        "off" => (Detect::Off, None),
        "on" => (Detect::On, None),
        _ => (
            Detect::On,
            Some(format!(
                "detect = '{value}' is neither on nor off; detection is on (as in MIDIMonster)"
            )),
        ),
    }
}

/// `epn-tx`: `full` (the default: the null RPN after every (N)RPN value) or `short`.
pub fn parse_epn_tx(key: &str, value: &str) -> Result<EpnTx, OptionError> {
    EpnTx::from_option(value).ok_or_else(|| OptionError::Invalid {
        key: key.into(),
        value: value.into(),
        expected:
            "full (number, value, then the null RPN; the default) or short (number and value only)"
                .into(),
    })
}

/// `note-off`: how a `note` channel set to 0 is sent. `note-on` (the default, MIDIMonster's
/// form): note on with velocity 0; `note-off`: a real note off with release velocity 64;
/// `note-off V`: with release velocity V (0..127).
pub fn parse_note_off(key: &str, value: &str) -> Result<NoteOffTx, OptionError> {
    let invalid = || OptionError::Invalid {
        key: key.into(),
        value: value.into(),
        expected: "note-on (note on with velocity 0, the default), note-off (a note off message \
                   with release velocity 64) or note-off VELOCITY (0..127)"
            .into(),
    };
    let mut words = value.split_ascii_whitespace();
    let tx = match (words.next(), words.next(), words.next()) {
        (Some("note-on"), None, _) => NoteOffTx::NoteOnZero,
        (Some("note-off"), None, _) => NoteOffTx::NoteOff {
            velocity: DEFAULT_RELEASE_VELOCITY,
        },
        (Some("note-off"), Some(v), None) => {
            let velocity = v
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| v.parse::<u8>().ok())
                .flatten()
                .filter(|&v| v <= 127)
                .ok_or_else(invalid)?;
            NoteOffTx::NoteOff { velocity }
        }
        _ => return Err(invalid()),
    };
    Ok(tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn note_off_forms() {
        assert_eq!(
            parse_note_off("note-off", "note-on"),
            Ok(NoteOffTx::NoteOnZero)
        );
        assert_eq!(
            parse_note_off("note-off", "note-off"),
            Ok(NoteOffTx::NoteOff { velocity: 64 })
        );
        assert_eq!(
            parse_note_off("note-off", "note-off 0"),
            Ok(NoteOffTx::NoteOff { velocity: 0 })
        );
        assert_eq!(
            parse_note_off("note-off", "note-off 127"),
            Ok(NoteOffTx::NoteOff { velocity: 127 })
        );
        for bad in [
            "",
            "off",
            "note-off 128",
            "note-off -1",
            "note-off +5",
            "note-on 3",
            "note-off 1 2",
        ] {
            let e = parse_note_off("note-off", bad).unwrap_err();
            assert!(e.to_string().contains("note-off VELOCITY"), "{bad}: {e}");
        }
    }

    #[test]
    fn epn_tx_and_detect() {
        assert_eq!(parse_epn_tx("epn-tx", "short"), Ok(EpnTx::Short));
        assert_eq!(parse_epn_tx("epn-tx", "full"), Ok(EpnTx::Full));
        assert!(parse_epn_tx("epn-tx", "shrt").is_err());
        assert_eq!(parse_detect("on"), (Detect::On, None));
        assert_eq!(parse_detect("off"), (Detect::Off, None));
        let (d, w) = parse_detect("yes");
        assert_eq!(d, Detect::On);
        assert!(w.is_some());
    }
}
