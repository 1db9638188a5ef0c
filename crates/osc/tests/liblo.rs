//! liblo (0.31, Debian `liblo-tools`) as a second independent encoder: `oscsend -` writes the
//! serialised message to stdout, no socket involved. Covers the types python-osc lacks
//! (`S`, `c`, `I`) and liblo's view of the others.
//!
//! Needs `oscsend` (apt `liblo-tools`, see `.ci/run`).

use std::process::Command;

use patchbay_osc::wire::{Arg, Midi, Packet, write_message};

fn oscsend(args: &[&str]) -> Vec<u8> {
    let out = Command::new("oscsend")
        .arg("-")
        .args(args)
        .output()
        .expect("oscsend (apt install liblo-tools)");
    assert!(
        out.status.success(),
        "oscsend {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn check(args: &[&str], address: &str, want: &[Arg<'_>]) {
    let bytes = oscsend(args);
    let Ok(Packet::Message(m)) = Packet::parse(&bytes) else {
        panic!("{args:?}: {:?}", Packet::parse(&bytes));
    };
    assert_eq!(m.address(), address, "{args:?}");
    assert!(m.has_type_tags());
    assert_eq!(m.args().collect::<Vec<_>>(), want, "{args:?}");
    // And we encode exactly what liblo encodes.
    let mut buf = [0u8; 512];
    let n = write_message(&mut buf, address, want.iter().copied()).expect("fits");
    assert_eq!(&buf[..n], &bytes[..], "{args:?}");
}

#[test]
fn every_liblo_type() {
    check(
        &[
            "/a/b",
            "ihfdsScmTFNI",
            "-1",
            "-9223372036854775808",
            "3.5",
            "-4.25e-10",
            "hello",
            "sym",
            "x",
            "90403f7f",
        ],
        "/a/b",
        &[
            Arg::Int(-1),
            Arg::Int64(i64::MIN),
            Arg::Float(3.5),
            Arg::Double(-4.25e-10),
            Arg::Str("hello"),
            Arg::Symbol("sym"),
            Arg::Char('x'),
            Arg::Midi(Midi {
                port: 0x90,
                status: 0x40,
                data1: 0x3f,
                data2: 0x7f,
            }),
            Arg::True,
            Arg::False,
            Arg::Nil,
            Arg::Impulse,
        ],
    );
}

#[test]
fn strings_at_every_padding_length() {
    for s in ["", "a", "ab", "abc", "abcd", "abcde"] {
        check(&["/s", "s", s], "/s", &[Arg::Str(s)]);
    }
}

#[test]
fn no_arguments_and_hash_and_patterns_in_addresses() {
    check(&["/xremote", ""], "/xremote", &[]);
    check(
        &["/ch/#01/mix", "f", "0.5"],
        "/ch/#01/mix",
        &[Arg::Float(0.5)],
    );
    check(&["/1/fader*", "f", "1"], "/1/fader*", &[Arg::Float(1.0)]);
    check(&["/{a,b}/[1-3]", "i", "7"], "/{a,b}/[1-3]", &[Arg::Int(7)]);
}

#[test]
fn nan_and_infinity_are_carried_bit_exact() {
    let bytes = oscsend(&["/x", "fd", "nan", "-inf"]);
    let Ok(Packet::Message(m)) = Packet::parse(&bytes) else {
        panic!()
    };
    let args: Vec<_> = m.args().collect();
    assert!(matches!(args[0], Arg::Float(v) if v.is_nan()));
    assert_eq!(args[1], Arg::Double(f64::NEG_INFINITY));
}
