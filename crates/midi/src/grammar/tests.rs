use proptest::prelude::*;

use super::*;
use crate::testutil::voice;

fn v(channel: u8, control: Control) -> Voice {
    Voice { channel, control }
}

#[test]
fn midimonster_names() {
    // Every example in MIDIMonster's midi.md and jack.md, plus the long forms.
    let cases = [
        ("ch0.note9", v(0, Control::Note(9))),
        ("channel1.cc4", v(1, Control::Cc(4))),
        ("channel15.pressure1", v(15, Control::Pressure(1))),
        ("channel0.note0", v(0, Control::Note(0))),
        ("ch1.aftertouch", v(1, Control::Aftertouch)),
        ("ch2.cc0", v(2, Control::Cc(0))),
        ("ch0.pitch", v(0, Control::Pitch)),
        ("ch0.nrpn900", v(0, Control::Nrpn(900))),
        ("ch0.rpn1", v(0, Control::Rpn(1))),
        ("ch15.note1", v(15, Control::Note(1))),
        ("ch2.program", v(2, Control::Program)),
        ("ch4.program", v(4, Control::Program)),
        ("ch0.note3", v(0, Control::Note(3))),
        ("ch1.rpn1", v(1, Control::Rpn(1))),
        ("ch0.cc127", v(0, Control::Cc(127))),
        ("ch0.nrpn16383", v(0, Control::Nrpn(16383))),
        // Leading zeros, as strtoul reads them.
        ("ch00.cc007", v(0, Control::Cc(7))),
        ("channel015.note0127", v(15, Control::Note(127))),
    ];
    for (name, want) in cases {
        assert_eq!(Voice::parse(name), Ok(want), "{name}");
        assert_eq!(Spec::parse(name), Ok(Spec::Voice(want)), "{name}");
        assert_eq!(want.key().voice(), Some(want), "{name}");
    }
    assert_eq!(v(3, Control::Cc(7)).to_string(), "ch3.cc7");
    assert_eq!(v(3, Control::Pitch).to_string(), "ch3.pitch");
    assert_eq!(v(15, Control::Nrpn(900)).to_string(), "ch15.nrpn900");
    assert_eq!(Spec::parse("sysex.fader-1_A"), Ok(Spec::SysEx("fader-1_A")));
    assert_eq!(Spec::SysEx("x").to_string(), "sysex.x");
}

#[test]
fn what_midimonster_accepts_and_patchbay_refuses() {
    use GrammarError::*;
    let trailing = |name: &str, rest: &str, hint: bool| TrailingText {
        name: name.into(),
        rest: rest.into(),
        hint: if hint {
            " (aftertouch, pitch and program are channel-wide and take no number)"
        } else {
            ""
        },
    };
    let cases = [
        ("ch0.pitch5", trailing("ch0.pitch", "5", true)),
        ("ch0.program1", trailing("ch0.program", "1", true)),
        ("ch0.aftertouch.x", trailing("ch0.aftertouch", ".x", true)),
        ("ch0.cc7junk", trailing("ch0.cc7", "junk", false)),
        ("ch0.note60 ", trailing("ch0.note60", " ", false)),
        (
            "ch0.cc",
            MissingIndex {
                word: "cc",
                max: 127,
                example: 60,
            },
        ),
        (
            "ch0.nrpn",
            MissingIndex {
                word: "nrpn",
                max: 16383,
                example: 900,
            },
        ),
        (
            "ch0.rpn",
            MissingIndex {
                word: "rpn",
                max: 16382,
                example: 900,
            },
        ),
        (
            "ch0.note128",
            IndexOutOfRange {
                word: "note",
                index: 128,
                max: 127,
            },
        ),
        (
            "ch0.pressure99999999999999999999999",
            IndexOutOfRange {
                word: "pressure",
                index: u64::MAX,
                max: 127,
            },
        ),
        (
            "ch0.rpn16383",
            IndexOutOfRange {
                word: "rpn",
                index: 16383,
                max: 16382,
            },
        ),
        (
            "ch0.nrpn16384",
            IndexOutOfRange {
                word: "nrpn",
                index: 16384,
                max: 16383,
            },
        ),
        ("ch16.cc1", ChannelOutOfRange(16)),
        ("ch-1.cc1", MissingChannel),
        ("ch+1.cc1", MissingChannel),
        ("ch 1.cc1", MissingChannel),
        ("ch.cc1", MissingChannel),
        ("ch0cc1", MissingDot(0)),
        (
            "ch0.cc+1",
            MissingIndex {
                word: "cc",
                max: 127,
                example: 60,
            },
        ),
        ("ch0.velocity1", UnknownControl("velocity".into())),
        ("ch0.Note1", UnknownControl("Note".into())),
        ("CH0.note1", Prefix),
        ("note1", Prefix),
        ("", Prefix),
        ("sysex.", SysExName(String::new())),
        ("sysex.a b", SysExName("a b".into())),
        ("sysex.a.b", SysExName("a.b".into())),
    ];
    for (name, want) in cases {
        assert_eq!(Spec::parse(name), Err(want.clone()), "{name}");
        // Every message names what is allowed.
        let msg = want.to_string();
        assert!(msg.len() > 20, "{name}: {msg}");
    }
    assert_eq!(
        GrammarError::TrailingText {
            name: "ch0.pitch".into(),
            rest: "5".into(),
            hint: " (x)"
        }
        .to_string(),
        "unexpected '5' after 'ch0.pitch' (x)"
    );
}

#[test]
fn key_layout() {
    let k = v(15, Control::Nrpn(16383)).key();
    assert_eq!(k.get(), 8 << 18 | 15 << 14 | 16383);
    assert!(k.get() <= ChannelKey::MASK);
    assert_eq!(ChannelKey::from_u64(k.get()), Some(k));
    assert_eq!(ChannelKey::sysex(3).target(), Some(KeyTarget::SysEx(3)));
    assert_eq!(ChannelKey::sysex(3).voice(), None);
    // Not keys: zero, unknown kinds, a channel-wide control with an index, a note above 127,
    // a SysEx with a channel, backend bits above BITS.
    for bad in [
        0,
        10 << 18,
        15 << 18,
        (5 << 18) | 1,
        (1 << 18) | 128,
        (7 << 18) | 16383,
        (9 << 18) | (1 << 14),
        k.get() | 1 << ChannelKey::BITS,
    ] {
        assert_eq!(ChannelKey::from_u64(bad), None, "{bad:#x}");
    }
}

proptest! {
    /// parse ∘ display = id, and key ∘ target = id.
    #[test]
    fn display_parse_and_key_round_trip(voice in voice(), long in any::<bool>()) {
        let mut name = voice.to_string();
        if long {
            name = name.replacen("ch", "channel", 1);
        }
        prop_assert_eq!(Voice::parse(&name), Ok(voice));
        let key = voice.key();
        prop_assert!(key.get() != 0 && key.get() <= ChannelKey::MASK);
        prop_assert_eq!(key.voice(), Some(voice));
        prop_assert_eq!(ChannelKey::from_u64(key.get()), Some(key));
    }

    /// Distinct voices have distinct keys.
    #[test]
    fn keys_are_injective(a in voice(), b in voice()) {
        prop_assert_eq!(a == b, a.key() == b.key());
    }

    /// Any text: no panic; whatever parses displays back to a name that parses the same.
    #[test]
    fn arbitrary_names(name in "(ch|channel|sysex\\.)?[0-9a-z.+ -]{0,16}") {
        if let Ok(spec) = Spec::parse(&name) {
            let again = spec.to_string();
            prop_assert_eq!(Spec::parse(&again), Ok(spec));
        }
    }

    #[test]
    fn any_u64_is_a_key_or_not(k in any::<u64>()) {
        if let Some(key) = ChannelKey::from_u64(k) {
            prop_assert_eq!(key.get(), k);
            prop_assert_eq!(key.target().map(KeyTarget::key), Some(key));
        }
    }
}
