//! Strategies shared by the crate's property tests.

use proptest::prelude::*;

use crate::{Control, Message, RealTime, Voice};

/// A message that owns its SysEx bytes, so strategies can produce any [`Message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owned {
    Fixed(Message<'static>),
    SysEx(Vec<u8>),
}

impl Owned {
    pub(crate) fn from_message(m: Message<'_>) -> Owned {
        match m {
            Message::SysEx(b) => Owned::SysEx(b.to_vec()),
            m => Owned::Fixed(m.detach().expect("only SysEx borrows")),
        }
    }

    pub(crate) fn message(&self) -> Message<'_> {
        match self {
            Owned::Fixed(m) => *m,
            Owned::SysEx(b) => Message::SysEx(b),
        }
    }
}

pub(crate) fn real_time() -> impl Strategy<Value = RealTime> {
    prop_oneof![
        Just(RealTime::TimingClock),
        Just(RealTime::Start),
        Just(RealTime::Continue),
        Just(RealTime::Stop),
        Just(RealTime::ActiveSensing),
        Just(RealTime::SystemReset),
    ]
}

/// Every valid message: all channel voice kinds, system common, real-time, SysEx up to
/// `max_sysex_data` data bytes.
pub(crate) fn message(max_sysex_data: usize) -> impl Strategy<Value = Owned> {
    let c = 0u8..16;
    let d = || 0u8..128;
    let w = 0u16..16384;
    let fixed = prop_oneof![
        (c.clone(), d(), d()).prop_map(|(channel, note, velocity)| Message::NoteOff {
            channel,
            note,
            velocity
        }),
        (c.clone(), d(), d()).prop_map(|(channel, note, velocity)| Message::NoteOn {
            channel,
            note,
            velocity
        }),
        (c.clone(), d(), d()).prop_map(|(channel, note, pressure)| Message::PolyPressure {
            channel,
            note,
            pressure
        }),
        (c.clone(), d(), d()).prop_map(|(channel, controller, value)| {
            Message::ControlChange {
                channel,
                controller,
                value,
            }
        }),
        (c.clone(), d()).prop_map(|(channel, program)| Message::ProgramChange { channel, program }),
        (c.clone(), d())
            .prop_map(|(channel, pressure)| Message::ChannelPressure { channel, pressure }),
        (c, w.clone()).prop_map(|(channel, value)| Message::PitchBend { channel, value }),
        d().prop_map(Message::TimeCode),
        w.prop_map(Message::SongPosition),
        d().prop_map(Message::SongSelect),
        Just(Message::TuneRequest),
        real_time().prop_map(Message::RealTime),
    ]
    .prop_map(Owned::Fixed);
    let sysex = proptest::collection::vec(0u8..128, 0..=max_sysex_data).prop_map(|data| {
        let mut b = Vec::with_capacity(data.len() + 2);
        b.push(0xF0);
        b.extend(data);
        b.push(0xF7);
        Owned::SysEx(b)
    });
    prop_oneof![12 => fixed, 1 => sysex]
}

pub(crate) fn control() -> impl Strategy<Value = Control> {
    prop_oneof![
        (0u8..128).prop_map(Control::Note),
        (0u8..128).prop_map(Control::Cc),
        (0u8..128).prop_map(Control::Pressure),
        Just(Control::Aftertouch),
        Just(Control::Pitch),
        Just(Control::Program),
        (0u16..16383).prop_map(Control::Rpn),
        (0u16..16384).prop_map(Control::Nrpn),
    ]
}

/// Every voice control on every channel.
pub(crate) fn voice() -> impl Strategy<Value = Voice> {
    (0u8..16, control()).prop_map(|(channel, control)| Voice { channel, control })
}
