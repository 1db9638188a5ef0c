//! Option values of the `jack` backend: MIDIMonster's port lines (`NAME = midi in`, `NAME = cv
//! out min -1 max 1`) and `on`/`off` switches.

use patchbay_core::OptionError;

/// What a port carries and which way, as seen from patchbay: `in` is read from JACK.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PortKind {
    /// A JACK MIDI input port.
    MidiIn,
    /// A JACK MIDI output port.
    MidiOut,
    /// An audio input port read as a control voltage: the first sample of each period,
    /// normalised over `min..max` and clipped.
    CvIn {
        /// The sample value of 0.
        min: f64,
        /// The sample value of 1.
        max: f64,
    },
    /// An audio output port written as a control voltage: every sample of a period is
    /// `min + value × (max − min)`.
    CvOut {
        /// The sample value of 0.
        min: f64,
        /// The sample value of 1.
        max: f64,
    },
}

impl PortKind {
    /// A MIDI port (either direction).
    pub fn is_midi(self) -> bool {
        matches!(self, PortKind::MidiIn | PortKind::MidiOut)
    }

    /// Read from JACK.
    pub fn is_input(self) -> bool {
        matches!(self, PortKind::MidiIn | PortKind::CvIn { .. })
    }

    /// `midi in`, `cv out`: for messages.
    pub fn describe(self) -> &'static str {
        match self {
            PortKind::MidiIn => "midi in",
            PortKind::MidiOut => "midi out",
            PortKind::CvIn { .. } => "cv in",
            PortKind::CvOut { .. } => "cv out",
        }
    }
}

/// A parsed port line: the kind, and warnings about words that do nothing.
#[derive(Clone, Debug, PartialEq)]
pub struct PortLine {
    /// The port.
    pub kind: PortKind,
    /// Things MIDIMonster accepts that have no effect (told, not refused).
    pub warnings: Vec<String>,
}

const EXPECTED: &str = "'midi in', 'midi out', 'cv in MIN MAX' or 'cv out MIN MAX' \
    (MIDIMonster's 'cv in min MIN max MAX' too), e.g. 'cv out min -1 max 1'";

/// A port line's value, MIDIMonster's way: the words `midi` or `cv`, `in` or `out`, `min X`
/// and `max X`, in any order. patchbay also takes the two numbers of a CV port without
/// `min`/`max` (`cv in 0 10`: MIN then MAX) and is stricter where MIDIMonster guesses:
/// * a port without a direction is an output in MIDIMonster; accepted, with a warning;
/// * a CV port needs a range (MIDIMonster divides by zero without one); MIN = MAX is refused,
///   MIN > MAX inverts the port;
/// * numbers must be finite decimal numbers (MIDIMonster's `strtod` reads `1x` as 1);
/// * `osc` ports (never implemented by MIDIMonster) are refused;
/// * `min`/`max` on a MIDI port do nothing and are warned about.
pub fn parse_port(key: &str, value: &str) -> Result<PortLine, OptionError> {
    let invalid = |why: &str| OptionError::Invalid {
        key: key.into(),
        value: value.into(),
        expected: format!("{EXPECTED}{why}"),
    };
    let mut midi = None;
    let mut input = None;
    let (mut min, mut max) = (None, None);
    let mut bare = Vec::new();
    let mut words = value.split_ascii_whitespace();
    while let Some(w) = words.next() {
        match w {
            "midi" => midi = Some(true),
            "cv" => midi = Some(false),
            "osc" => {
                return Err(invalid(
                    " (OSC over JACK is not supported, as in MIDIMonster)",
                ));
            }
            "in" => input = Some(true),
            "out" => input = Some(false),
            "min" | "max" => {
                let n = words
                    .next()
                    .ok_or_else(|| invalid(&format!(" ('{w}' needs a number after it)")))?;
                let n = number(n).ok_or_else(|| invalid(&format!(" ('{n}' is not a number)")))?;
                if w == "min" {
                    min = Some(n);
                } else {
                    max = Some(n);
                }
            }
            _ => match number(w) {
                Some(n) => bare.push(n),
                None => return Err(invalid(&format!(" ('{w}' is not one of these words)"))),
            },
        }
    }
    let midi = midi.ok_or_else(|| invalid(" (no port type: midi or cv)"))?;
    let mut warnings = Vec::new();
    let input = input.unwrap_or_else(|| {
        warnings.push(format!(
            "port '{key}' has no direction (in or out): it is an output, as in MIDIMonster"
        ));
        false
    });
    if midi {
        if min.is_some() || max.is_some() || !bare.is_empty() {
            warnings.push(format!(
                "a MIDI port has no range: the numbers on port '{key}' do nothing"
            ));
        }
        let kind = if input {
            PortKind::MidiIn
        } else {
            PortKind::MidiOut
        };
        return Ok(PortLine { kind, warnings });
    }
    let mut bare = bare.into_iter();
    let min = min.or_else(|| bare.next());
    let max = max.or_else(|| bare.next());
    if bare.next().is_some() {
        return Err(invalid(" (more than two numbers)"));
    }
    let (Some(min), Some(max)) = (min, max) else {
        return Err(invalid(" (a CV port needs MIN and MAX)"));
    };
    if min == max {
        return Err(invalid(" (MIN and MAX must differ)"));
    }
    let kind = if input {
        PortKind::CvIn { min, max }
    } else {
        PortKind::CvOut { min, max }
    };
    Ok(PortLine { kind, warnings })
}

/// A finite decimal number (`-1`, `0.5`, `10`, `1e3`).
fn number(s: &str) -> Option<f64> {
    let looks_numeric = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    s.parse::<f64>()
        .ok()
        .filter(|n| looks_numeric && n.is_finite())
}

/// A port name: not empty, no `.` (the channel name is `PORT.ch0.cc7`), no `:` (JACK's
/// separator of client and port), no white space.
pub fn check_port_name(key: &str) -> Result<(), OptionError> {
    let bad = key.is_empty()
        || key
            .chars()
            .any(|c| c == '.' || c == ':' || c.is_whitespace() || c.is_control());
    if bad {
        return Err(OptionError::Other {
            at: patchbay_core::Part::Key,
            message: format!(
                "'{key}' is not a port name: a port name has no '.', ':' or spaces (channels are \
                 named PORT.ch0.note60); options are name, server, epn-tx, note-off, sysex.NAME"
            ),
        });
    }
    Ok(())
}

/// `debug` / `errors`: `on` turns JACK's messages of that kind on, anything else off (as in
/// MIDIMonster).
pub fn parse_switch(value: &str) -> bool {
    value == "on"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(v: &str) -> PortKind {
        parse_port("p", v).expect(v).kind
    }

    #[test]
    fn midimonster_port_lines() {
        assert_eq!(kind("midi in"), PortKind::MidiIn);
        assert_eq!(kind("out midi"), PortKind::MidiOut);
        assert_eq!(
            kind("cv out min -1 max 1"),
            PortKind::CvOut {
                min: -1.0,
                max: 1.0
            }
        );
        assert_eq!(
            kind("cv in min 0.0 max 10.0"),
            PortKind::CvIn {
                min: 0.0,
                max: 10.0
            }
        );
        assert_eq!(
            kind("max 5 cv in min 1"),
            PortKind::CvIn { min: 1.0, max: 5.0 }
        );
        assert_eq!(
            kind("cv in 0 10"),
            PortKind::CvIn {
                min: 0.0,
                max: 10.0
            }
        );
        assert_eq!(
            kind("cv out 10 0"),
            PortKind::CvOut {
                min: 10.0,
                max: 0.0
            }
        );
        let no_dir = parse_port("p", "midi").expect("accepted");
        assert_eq!(no_dir.kind, PortKind::MidiOut);
        assert_eq!(no_dir.warnings.len(), 1);
        assert_eq!(
            parse_port("p", "midi in min 1").expect("ok").warnings.len(),
            1
        );
    }

    #[test]
    fn refused_port_lines_say_what_is_allowed() {
        for bad in [
            "",
            "in",
            "cv in",
            "cv in min 1",
            "cv in 1 1",
            "cv in 1 2 3",
            "cv in min",
            "cv in min x",
            "cv in min 1x max 2",
            "cv in min inf max 1",
            "osc in",
            "midi sideways",
            "cv in nan 1",
        ] {
            let e = parse_port("p", bad).unwrap_err();
            assert!(e.to_string().contains("'midi in'"), "{bad}: {e}");
        }
    }

    proptest::proptest! {
        /// Any text is a port line or an error that says what is allowed; never a panic, never
        /// a CV range that divides by zero or is not a number.
        #[test]
        fn any_port_line(value in "\\PC{0,40}", words in proptest::collection::vec(
            proptest::sample::select(vec!["midi", "cv", "in", "out", "min", "max", "1", "-1", "0", "1e3", "x"]), 0..6)
        ) {
            for v in [value, words.join(" ")] {
                match parse_port("p", &v) {
                    Ok(PortLine { kind: PortKind::CvIn { min, max } | PortKind::CvOut { min, max }, .. }) => {
                        proptest::prop_assert!(min.is_finite() && max.is_finite() && min != max);
                    }
                    Ok(_) => {}
                    Err(e) => proptest::prop_assert!(e.to_string().contains("'midi in'")),
                }
            }
        }
    }

    #[test]
    fn port_names() {
        assert!(check_port_name("midi_in").is_ok());
        assert!(check_port_name("Fader-1").is_ok());
        for bad in ["", "a.b", "a:b", "a b"] {
            assert!(check_port_name(bad).is_err(), "{bad}");
        }
    }
}
