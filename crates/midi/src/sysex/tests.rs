use proptest::prelude::*;

use super::*;

#[test]
fn seven_bit_template() {
    let t = SysExTemplate::parse("F0 43 10 4c 02 01 00 {v} F7").expect("valid");
    assert_eq!(t.width(), Width::Seven);
    assert_eq!(t.len(), 9);
    assert_eq!(t.to_string(), "F0 43 10 4C 02 01 00 {v} F7");
    let mut buf = [0u8; 16];
    let n = t.write(100, &mut buf).expect("fits");
    assert_eq!(
        &buf[..n],
        &[0xF0, 0x43, 0x10, 0x4C, 0x02, 0x01, 0x00, 100, 0xF7]
    );
    assert_eq!(t.extract(&buf[..n]), Some(Raw::seven(100)));
    // Clamped on output.
    let n = t.write(5000, &mut buf).expect("fits");
    assert_eq!(buf[n - 2], 127);
    // Any fixed byte different, or another length: no match.
    assert_eq!(
        t.extract(&[0xF0, 0x43, 0x11, 0x4C, 0x02, 0x01, 0x00, 1, 0xF7]),
        None
    );
    assert_eq!(
        t.extract(&[0xF0, 0x43, 0x10, 0x4C, 0x02, 0x01, 1, 0xF7]),
        None
    );
    assert_eq!(
        t.write(1, &mut buf[..8]),
        Err(EncodeError::BufferTooSmall {
            needed: 9,
            available: 8
        })
    );
}

#[test]
fn fourteen_bit_template_in_either_order() {
    let t = SysExTemplate::parse("F0 7D {lo} 01 {hi} F7").expect("valid");
    assert_eq!(t.width(), Width::Fourteen);
    let mut buf = [0u8; 8];
    let n = t.write(0x1234 & 0x3FFF, &mut buf).expect("fits");
    assert_eq!(&buf[..n], &[0xF0, 0x7D, 0x34, 0x01, 0x24, 0xF7]);
    assert_eq!(t.extract(&buf[..n]), Some(Raw::fourteen(0x1234)));
    let n = t.write(16383, &mut buf).expect("fits");
    assert_eq!(t.extract(&buf[..n]), Some(Raw::fourteen(16383)));
    assert_eq!(t.to_string(), "F0 7D {lo} 01 {hi} F7");
}

#[test]
fn template_errors() {
    use TemplateError::*;
    let cases = [
        ("", Frame),
        ("F0 {v}", Frame),
        ("{v} F7", Frame),
        ("43 {v} F7", Frame),
        ("F0 F7", Placeholders),
        ("F0 {v} {v} F7", Placeholders),
        ("F0 {hi} F7", Placeholders),
        ("F0 {v} {hi} {lo} F7", Placeholders),
        ("F0 {hi} {hi} {lo} F7", Placeholders),
        (
            "F0 90 {v} F7",
            StatusByte {
                byte: 0x90,
                position: 2,
            },
        ),
        (
            "F0 {v} F7 F7",
            StatusByte {
                byte: 0xF7,
                position: 3,
            },
        ),
        (
            "F0 4 {v} F7",
            BadItem {
                item: "4".into(),
                position: 2,
            },
        ),
        (
            "F0 +4 {v} F7",
            BadItem {
                item: "+4".into(),
                position: 2,
            },
        ),
        (
            "F0 0x43 {v} F7",
            BadItem {
                item: "0x43".into(),
                position: 2,
            },
        ),
        (
            "F0 {V} F7",
            BadItem {
                item: "{V}".into(),
                position: 2,
            },
        ),
        (
            "F043{v}F7",
            BadItem {
                item: "F043{v}F7".into(),
                position: 1,
            },
        ),
    ];
    for (text, want) in cases {
        assert_eq!(SysExTemplate::parse(text), Err(want.clone()), "{text}");
        assert!(want.to_string().len() > 20);
    }
    let long = format!("F0 {} {{v}} F7", "00 ".repeat(MAX_TEMPLATE_LEN));
    assert_eq!(
        SysExTemplate::parse(&long),
        Err(TooLong(MAX_TEMPLATE_LEN + 3))
    );
    // Tabs and repeated spaces separate items too.
    assert!(SysExTemplate::parse("F0\t43  {v}\tF7").is_ok());
}

#[test]
fn table_defines_resolves_and_matches() {
    let mut t = SysExTemplates::new();
    assert!(t.is_empty());
    assert_eq!(t.define("cutoff", "F0 43 10 {v} F7"), Ok(0));
    assert_eq!(t.define("fine", "F0 7D {hi} {lo} F7"), Ok(1));
    // Same bytes under a second name: both report.
    assert_eq!(t.define("alias", "F0 43 10 {v} F7"), Ok(2));
    assert_eq!(
        t.define("cutoff", "F0 {v} F7"),
        Err(TemplateError::Duplicate("cutoff".into()))
    );
    assert_eq!(
        t.define("a b", "F0 {v} F7"),
        Err(TemplateError::Name("a b".into()))
    );
    assert_eq!(t.len(), 3);
    assert_eq!(t.resolve("sysex.fine"), Ok(ChannelKey::sysex(1)));
    assert_eq!(
        t.resolve("sysex.nope"),
        Err(GrammarError::UnknownSysEx("nope".into()))
    );
    assert_eq!(
        t.resolve("ch1.cc7").map(|k| k.voice()),
        Ok(crate::Voice::parse("ch1.cc7").ok())
    );
    assert!(t.resolve("ch1.cc7x").is_err());
    let got: Vec<_> = t.matches(&[0xF0, 0x43, 0x10, 0x55, 0xF7]).collect();
    assert_eq!(
        got,
        vec![
            (ChannelKey::sysex(0), Raw::seven(0x55)),
            (ChannelKey::sysex(2), Raw::seven(0x55))
        ]
    );
    assert_eq!(t.matches(&[0xF0, 0x43, 0x11, 0x55, 0xF7]).count(), 0);
    assert_eq!(
        t.channel_name(ChannelKey::sysex(1)).to_string(),
        "sysex.fine"
    );
    assert_eq!(t.channel_name(ChannelKey::sysex(9)).to_string(), "sysex.#9");
    let cc = crate::Voice::parse("ch2.cc7").expect("valid").key();
    assert_eq!(t.channel_name(cc).to_string(), "ch2.cc7");
}

#[test]
fn unmatched_sysex_suggests_a_template() {
    let msg = [0xF0, 0x43, 0x10, 0x4C, 0x00, 0x00, 0x7E, 0x40, 0xF7];
    let s = UnmatchedSysEx(&msg).to_string();
    assert_eq!(
        s,
        "SysEx F0 43 10 4C 00 00 7E 40 F7 matches no template; to map it, define \
         sysex.NAME = F0 43 10 4C 00 00 7E {v} F7"
    );
    // The suggestion is a valid template that matches the message.
    let text = s.split("sysex.NAME = ").nth(1).expect("suggestion");
    let t = SysExTemplate::parse(text).expect("valid suggestion");
    assert_eq!(t.extract(&msg), Some(Raw::seven(0x40)));
    assert_eq!(
        UnmatchedSysEx(&[0xF0, 0xF7]).to_string(),
        "SysEx F0 F7 matches no template"
    );
}

fn template() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(0u8..128, 0..12),
        any::<bool>(),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(data, wide, a, b)| {
            let mut items: Vec<String> = data.iter().map(|b| format!("{b:02x}")).collect();
            if wide {
                items.insert(a.index(items.len() + 1), "{hi}".into());
                items.insert(b.index(items.len() + 1), "{lo}".into());
            } else {
                items.insert(a.index(items.len() + 1), "{v}".into());
            }
            format!("F0 {} F7", items.join(" "))
        })
}

proptest! {
    /// Any valid template: display → parse = id, write → extract = id for every value, and the
    /// written message is a valid SysEx that the stream parser passes through unchanged.
    #[test]
    fn write_then_extract(text in template(), value in 0u16..16384) {
        let t = SysExTemplate::parse(&text).expect("generated templates are valid");
        prop_assert_eq!(SysExTemplate::parse(&t.to_string()), Ok(t.clone()));
        let value = value.min(t.width().max());
        let mut buf = [0u8; 32];
        let n = t.write(value, &mut buf).expect("fits");
        prop_assert_eq!(t.extract(&buf[..n]), Some(Raw { value, width: t.width() }));
        prop_assert_eq!(crate::Message::parse(&buf[..n]), Ok(crate::Message::SysEx(&buf[..n])));
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[0-9A-Fa-f{}vhilo \t]{0,40}", msg in proptest::collection::vec(any::<u8>(), 0..20)) {
        if let Ok(t) = SysExTemplate::parse(&text) {
            prop_assert_eq!(SysExTemplate::parse(&t.to_string()), Ok(t.clone()));
            if let Some(raw) = t.extract(&msg) {
                prop_assert!(raw.value <= t.width().max());
            }
        }
    }
}
