//! Received messages → channel events, as MIDIMonster reports them.

use crate::{ChannelKey, Control, EpnInput, Message, Raw, SysExTemplates, Voice};

/// The receive side of one MIDI input (an ALSA port, a JACK port): the (N)RPN state of its 16
/// channels. Turns each message into the channel values it sets.
#[derive(Debug, Clone, Default)]
pub struct Input {
    epn: EpnInput,
}

/// The voice control a channel voice message sets and its value, without (N)RPN state.
///
/// Note off and note on with velocity 0 are value 0 on `note` (MIDIMonster ignores the release
/// velocity since cbdevnet/midimonster#34: devices that send note off with velocity 127 would
/// otherwise leave the channel at full).
#[inline]
pub fn voice_value(msg: &Message<'_>) -> Option<(Voice, Raw)> {
    let (channel, control, raw) = match *msg {
        Message::NoteOn {
            channel,
            note,
            velocity,
        } => (channel, Control::Note(note), Raw::seven(velocity)),
        Message::NoteOff { channel, note, .. } => (channel, Control::Note(note), Raw::seven(0)),
        Message::PolyPressure {
            channel,
            note,
            pressure,
        } => (channel, Control::Pressure(note), Raw::seven(pressure)),
        Message::ControlChange {
            channel,
            controller,
            value,
        } => (channel, Control::Cc(controller), Raw::seven(value)),
        Message::ProgramChange { channel, program } => {
            (channel, Control::Program, Raw::seven(program))
        }
        Message::ChannelPressure { channel, pressure } => {
            (channel, Control::Aftertouch, Raw::seven(pressure))
        }
        Message::PitchBend { channel, value } => (channel, Control::Pitch, Raw::fourteen(value)),
        _ => return None,
    };
    Some((Voice { channel, control }, raw))
}

impl Input {
    /// No (N)RPN selected.
    pub fn new() -> Input {
        Input::default()
    }

    /// Forgets the (N)RPN state (a reconnected device).
    pub fn reset(&mut self) {
        self.epn.reset();
    }

    /// Reports every channel `msg` sets to `emit`, in MIDIMonster's order, and returns how
    /// many it reported:
    /// * channel voice messages: their control ([`voice_value`]); a control change that
    ///   completes an (N)RPN value reports the `rpn`/`nrpn` channel first, then the `cc`;
    /// * SysEx: every template of `templates` it matches (0 reported: `detect` can print it
    ///   with [`UnmatchedSysEx`](crate::UnmatchedSysEx));
    /// * system common and real-time messages: nothing.
    #[inline]
    pub fn decode(
        &mut self,
        msg: &Message<'_>,
        templates: &SysExTemplates,
        mut emit: impl FnMut(ChannelKey, Raw),
    ) -> usize {
        if let Message::SysEx(bytes) = msg {
            let mut n = 0;
            for (key, raw) in templates.matches(bytes) {
                emit(key, raw);
                n += 1;
            }
            return n;
        }
        let Some((voice, raw)) = voice_value(msg) else {
            return 0;
        };
        let mut n = 0;
        if let Message::ControlChange {
            channel,
            controller,
            value,
        } = *msg
            && let Some((epn, value)) = self.epn.control_change(channel, controller, value)
        {
            emit(epn.key(), Raw::fourteen(value));
            n += 1;
        }
        emit(voice.key(), raw);
        n + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RealTime, Width};

    fn decode(input: &mut Input, t: &SysExTemplates, m: Message<'_>) -> Vec<(String, u16, u8)> {
        let mut out = Vec::new();
        let n = input.decode(&m, t, |k, r| {
            out.push((t.channel_name(k).to_string(), r.value, r.width.bits()))
        });
        assert_eq!(n, out.len());
        out
    }

    fn one(name: &str, value: u16, bits: u8) -> Vec<(String, u16, u8)> {
        vec![(name.to_owned(), value, bits)]
    }

    #[test]
    fn each_message_kind() {
        let t = SysExTemplates::new();
        let mut i = Input::new();
        let cases = [
            (
                Message::NoteOn {
                    channel: 0,
                    note: 60,
                    velocity: 100,
                },
                one("ch0.note60", 100, 7),
            ),
            (
                Message::NoteOn {
                    channel: 0,
                    note: 60,
                    velocity: 0,
                },
                one("ch0.note60", 0, 7),
            ),
            // Release velocity ignored: note off is 0.
            (
                Message::NoteOff {
                    channel: 9,
                    note: 36,
                    velocity: 127,
                },
                one("ch9.note36", 0, 7),
            ),
            (
                Message::PolyPressure {
                    channel: 1,
                    note: 2,
                    pressure: 3,
                },
                one("ch1.pressure2", 3, 7),
            ),
            (
                Message::ControlChange {
                    channel: 15,
                    controller: 7,
                    value: 127,
                },
                one("ch15.cc7", 127, 7),
            ),
            (
                Message::ProgramChange {
                    channel: 2,
                    program: 5,
                },
                one("ch2.program", 5, 7),
            ),
            (
                Message::ChannelPressure {
                    channel: 3,
                    pressure: 64,
                },
                one("ch3.aftertouch", 64, 7),
            ),
            (
                Message::PitchBend {
                    channel: 4,
                    value: 8192,
                },
                one("ch4.pitch", 8192, 14),
            ),
            (Message::RealTime(RealTime::TimingClock), vec![]),
            (Message::SongSelect(1), vec![]),
            (Message::SysEx(&[0xF0, 0x01, 0xF7]), vec![]),
        ];
        for (m, want) in cases {
            assert_eq!(decode(&mut i, &t, m), want, "{m:?}");
        }
    }

    #[test]
    fn nrpn_reports_before_the_completing_cc() {
        let t = SysExTemplates::new();
        let mut i = Input::new();
        let cc = |controller, value| Message::ControlChange {
            channel: 0,
            controller,
            value,
        };
        assert_eq!(decode(&mut i, &t, cc(99, 7)), one("ch0.cc99", 7, 7));
        assert_eq!(decode(&mut i, &t, cc(98, 4)), one("ch0.cc98", 4, 7));
        assert_eq!(decode(&mut i, &t, cc(6, 127)), one("ch0.cc6", 127, 7));
        assert_eq!(
            decode(&mut i, &t, cc(38, 127)),
            vec![
                ("ch0.nrpn900".to_owned(), 16383, 14),
                ("ch0.cc38".to_owned(), 127, 7)
            ]
        );
        i.reset();
        assert_eq!(decode(&mut i, &t, cc(6, 1)), one("ch0.cc6", 1, 7));
        assert_eq!(decode(&mut i, &t, cc(38, 1)), one("ch0.cc38", 1, 7));
    }

    #[test]
    fn sysex_reports_every_matching_template() {
        let mut t = SysExTemplates::new();
        t.define("a", "F0 01 {v} F7").expect("valid");
        t.define("b", "F0 {hi} {lo} F7").expect("valid");
        let mut i = Input::new();
        assert_eq!(
            decode(&mut i, &t, Message::SysEx(&[0xF0, 0x01, 0x02, 0xF7])),
            vec![
                ("sysex.a".to_owned(), 2, 7),
                ("sysex.b".to_owned(), 130, 14)
            ]
        );
        assert_eq!(
            decode(&mut i, &t, Message::SysEx(&[0xF0, 0x03, 0x02, 0xF7])),
            vec![("sysex.b".to_owned(), 386, 14)]
        );
        assert!(decode(&mut i, &t, Message::SysEx(&[0xF0, 0x03, 0xF7])).is_empty());
        assert_eq!(Width::Fourteen.normalise(386), 386.0 / 16383.0);
    }
}
