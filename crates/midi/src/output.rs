//! Channel values → the messages that send them.

use crate::epn::{self, EpnTx};
use crate::{Control, Message, Voice};

/// How a `note` channel set to 0 is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum NoteOffTx {
    /// Note on with velocity 0, which MIDI 1.0 defines as note off: what MIDIMonster sends,
    /// and the form that lets running status carry a whole melody.
    #[default]
    NoteOnZero,
    /// A real note off (8n) with this release velocity, for receivers that ignore note on
    /// with velocity 0 or want a release velocity ([`DEFAULT_RELEASE_VELOCITY`] is MIDI
    /// 1.0's value for senders without one).
    NoteOff {
        /// Release velocity 0..=127.
        velocity: u8,
    },
}

/// MIDI 1.0's release velocity for senders that do not measure one.
pub const DEFAULT_RELEASE_VELOCITY: u8 = 64;

/// How one MIDI output sends channel values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct OutputOptions {
    /// The `epn-tx` option.
    pub epn_tx: EpnTx,
    /// Note off form.
    pub note_off: NoteOffTx,
}

/// Most messages one channel value takes: a full (N)RPN sequence.
pub const MAX_OUTGOING: usize = 6;

/// The messages for one channel value, in sending order (1 to [`MAX_OUTGOING`]); no
/// allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outgoing {
    msgs: [Message<'static>; MAX_OUTGOING],
    len: usize,
}

impl Outgoing {
    fn new() -> Outgoing {
        Outgoing {
            msgs: [Message::TuneRequest; MAX_OUTGOING],
            len: 0,
        }
    }

    fn push(&mut self, m: Message<'static>) {
        if let Some(slot) = self.msgs.get_mut(self.len) {
            *slot = m;
            self.len += 1;
        }
    }

    /// The messages.
    pub fn as_slice(&self) -> &[Message<'static>] {
        &self.msgs[..self.len]
    }
}

impl<'a> IntoIterator for &'a Outgoing {
    type Item = &'a Message<'static>;
    type IntoIter = core::slice::Iter<'a, Message<'static>>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl OutputOptions {
    /// The messages that set `voice` to `value` (7-bit or 14-bit as the control is; clamped to
    /// its maximum). A backend computes `value` from the core's value with
    /// `value.to_raw(voice.control.width().bits())`, which rounds.
    pub fn messages(&self, voice: Voice, value: u16) -> Outgoing {
        let channel = voice.channel & 0x0F;
        let max = voice.control.width().max();
        let value = value.min(max);
        let v7 = value as u8 & 0x7F;
        let mut out = Outgoing::new();
        match voice.control {
            Control::Note(note) => out.push(match (v7, self.note_off) {
                (0, NoteOffTx::NoteOff { velocity }) => Message::NoteOff {
                    channel,
                    note,
                    velocity: velocity & 0x7F,
                },
                _ => Message::NoteOn {
                    channel,
                    note,
                    velocity: v7,
                },
            }),
            Control::Cc(controller) => out.push(Message::ControlChange {
                channel,
                controller,
                value: v7,
            }),
            Control::Pressure(note) => out.push(Message::PolyPressure {
                channel,
                note,
                pressure: v7,
            }),
            Control::Aftertouch => out.push(Message::ChannelPressure {
                channel,
                pressure: v7,
            }),
            Control::Program => out.push(Message::ProgramChange {
                channel,
                program: v7,
            }),
            Control::Pitch => out.push(Message::PitchBend { channel, value }),
            Control::Rpn(parameter) | Control::Nrpn(parameter) => epn::messages(
                channel,
                matches!(voice.control, Control::Nrpn(_)),
                parameter,
                value,
                self.epn_tx,
                &mut |m| out.push(m),
            ),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::{Input, Raw, SysExTemplates};

    fn voice(name: &str) -> Voice {
        Voice::parse(name).expect("valid name")
    }

    fn bytes(out: &Outgoing) -> Vec<u8> {
        let mut v = Vec::new();
        let mut buf = [0u8; 3];
        for m in out {
            let n = m.encode(&mut buf).expect("output messages encode");
            v.extend_from_slice(&buf[..n]);
        }
        v
    }

    #[test]
    fn each_control() {
        let o = OutputOptions::default();
        let cases: &[(&str, u16, &[u8])] = &[
            ("ch0.note60", 100, &[0x90, 60, 100]),
            ("ch0.note60", 0, &[0x90, 60, 0]),
            ("ch1.cc7", 127, &[0xB1, 7, 127]),
            ("ch1.cc7", 500, &[0xB1, 7, 127]),
            ("ch2.pressure5", 3, &[0xA2, 5, 3]),
            ("ch3.aftertouch", 4, &[0xD3, 4]),
            ("ch4.program", 9, &[0xC4, 9]),
            ("ch5.pitch", 8192, &[0xE5, 0x00, 0x40]),
            ("ch5.pitch", 16383, &[0xE5, 0x7F, 0x7F]),
            ("ch5.pitch", 0, &[0xE5, 0x00, 0x00]),
            (
                "ch6.rpn0",
                256,
                &[
                    0xB6, 101, 0, 0xB6, 100, 0, 0xB6, 6, 2, 0xB6, 38, 0, 0xB6, 101, 127, 0xB6, 100,
                    127,
                ],
            ),
        ];
        for (name, value, want) in cases {
            assert_eq!(
                bytes(&o.messages(voice(name), *value)),
                *want,
                "{name} = {value}"
            );
        }
        let short = OutputOptions {
            epn_tx: EpnTx::Short,
            ..OutputOptions::default()
        };
        assert_eq!(
            bytes(&short.messages(voice("ch0.nrpn900"), 130)),
            [0xB0, 99, 7, 0xB0, 98, 4, 0xB0, 6, 1, 0xB0, 38, 2]
        );
    }

    #[test]
    fn note_off_forms() {
        let real = OutputOptions {
            note_off: NoteOffTx::NoteOff {
                velocity: DEFAULT_RELEASE_VELOCITY,
            },
            ..OutputOptions::default()
        };
        assert_eq!(
            bytes(&real.messages(voice("ch3.note60"), 0)),
            [0x83, 60, 64]
        );
        assert_eq!(bytes(&real.messages(voice("ch3.note60"), 1)), [0x93, 60, 1]);
        let zero_velocity = OutputOptions {
            note_off: NoteOffTx::NoteOff { velocity: 0 },
            ..OutputOptions::default()
        };
        assert_eq!(
            bytes(&zero_velocity.messages(voice("ch3.note60"), 0)),
            [0x83, 60, 0]
        );
        assert_eq!(
            bytes(&OutputOptions::default().messages(voice("ch3.note60"), 0)),
            [0x93, 60, 0]
        );
    }

    proptest! {
        /// What goes out comes back in: output ∘ input = id on the channel and its value, for
        /// every control and both note-off and epn-tx forms.
        #[test]
        fn output_then_input(
            voice in crate::testutil::voice(), value in 0u16..16384,
            short in any::<bool>(), real_off in any::<bool>(), velocity in 0u8..128,
        ) {
            let o = OutputOptions {
                epn_tx: if short { EpnTx::Short } else { EpnTx::Full },
                note_off: if real_off { NoteOffTx::NoteOff { velocity } } else { NoteOffTx::NoteOnZero },
            };
            let value = value.min(voice.control.width().max());
            let out = o.messages(voice, value);
            let mut input = Input::new();
            let t = SysExTemplates::new();
            let mut seen = Vec::new();
            for m in &out {
                input.decode(m, &t, |k, r| seen.push((k, r)));
            }
            let want = (voice.key(), Raw { value, width: voice.control.width() });
            prop_assert!(seen.contains(&want), "{:?} not in {:?}", want, seen);
            // Nothing else but the transport CCs of an (N)RPN.
            for (k, _) in &seen {
                let other = k.voice().expect("voice keys");
                prop_assert!(*k == want.0 || matches!(other.control, Control::Cc(_)));
            }
        }
    }
}
