//! Golden vectors written by independent implementations (python-osc 1.10.2, liblo 0.31's
//! `oscsend -`), one malformed packet per [`DropReason`], and properties: parse ∘ write is the
//! identity, parsing never panics.

use super::*;
use proptest::prelude::*;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn build(address: &str, args: &[Arg<'_>]) -> Vec<u8> {
    let mut buf = vec![0xEE; 4096];
    let n = write_message(&mut buf, address, args.iter().copied()).expect("build");
    assert_eq!(n, message_len(address, args.iter().copied()).expect("len"));
    buf.truncate(n);
    buf
}

fn message(b: &[u8]) -> Message<'_> {
    match Packet::parse(b) {
        Ok(Packet::Message(m)) => m,
        other => panic!("not a message: {other:?}"),
    }
}

/// python-osc: `OscMessageBuilder("/another/address/1")` with i h f d s b T F N m r and the
/// array `[42, [1.23, 3.21], "Yay"]`.
const PY_ALL_TYPES: &str = "2f616e6f746865722f616464726573732f3100002c69686664736254464e6d725b695b66665d735d0000000000000004000000000000002a40490fda400921fb54442eea54686973206973206120737472696e672e000000000000030102030004902a7fffc02a0d0000002a3f9d70a4404d70a459617900";
/// python-osc: a message without arguments (type tag string `,`).
const PY_NO_ARGS: &str = "2f736f6d652f6164647200002c000000";
/// python-osc: an immediate bundle holding two messages and a bundle (time 1e9.5 s after
/// the Unix epoch) with two more.
const PY_NESTED_BUNDLE: &str = "2362756e646c650000000000000000010000000c2f766965772f31002c000000000000202f6d697865722f6368616e6e656c2f312f616d70000000002c6600003f666666000000442362756e646c6500bf45488080000000000000142f6f73632f312f66726571002c690000000001b8000000182f6f73632f312f7068617365000000002c660000becccccd";
/// liblo: `oscsend - /a/b ihfdsScmTFNI 1 2 3.5 4.25 hello sym x 01020304`.
const LIBLO_ALL_TYPES: &str = "2f612f62000000002c696866647353636d54464e4900000000000001000000000000000240600000401100000000000068656c6c6f00000073796d000000007801020304";
/// liblo: `oscsend - '/#/x' ""` (a `#` in the address, no arguments).
const LIBLO_HASH_NO_ARGS: &str = "2f232f78000000002c000000";

// The literals python-osc was given, not approximations of π.
#[allow(clippy::approx_constant)]
fn py_all_types_args() -> Vec<Arg<'static>> {
    vec![
        Arg::Int(4),
        Arg::Int64(42),
        Arg::Float(3.1415926),
        Arg::Double(3.14159265359),
        Arg::Str("This is a string."),
        Arg::Blob(&[1, 2, 3]),
        Arg::True,
        Arg::False,
        Arg::Nil,
        Arg::Midi(Midi {
            port: 4,
            status: 0x90,
            data1: 42,
            data2: 127,
        }),
        Arg::Rgba(Rgba {
            r: 0xff,
            g: 0xc0,
            b: 0x2a,
            a: 0x0d,
        }),
        Arg::ArrayBegin,
        Arg::Int(42),
        Arg::ArrayBegin,
        Arg::Float(1.23),
        Arg::Float(3.21),
        Arg::ArrayEnd,
        Arg::Str("Yay"),
        Arg::ArrayEnd,
    ]
}

#[test]
fn python_osc_all_types_golden() {
    let golden = unhex(PY_ALL_TYPES);
    let args = py_all_types_args();
    assert_eq!(build("/another/address/1", &args), golden);
    let m = message(&golden);
    assert_eq!(m.address(), "/another/address/1");
    assert_eq!(m.type_tags(), "ihfdsbTFNmr[i[ff]s]");
    assert_eq!(m.args().collect::<Vec<_>>(), args);
    assert_eq!(m.value_count(), 15);
    assert_eq!(m.value(11), Some(Arg::Int(42)));
    assert_eq!(m.value(14), Some(Arg::Str("Yay")));
    assert_eq!(m.value(15), None);
}

#[test]
fn liblo_all_types_golden() {
    let golden = unhex(LIBLO_ALL_TYPES);
    let args = [
        Arg::Int(1),
        Arg::Int64(2),
        Arg::Float(3.5),
        Arg::Double(4.25),
        Arg::Str("hello"),
        Arg::Symbol("sym"),
        Arg::Char('x'),
        Arg::Midi(Midi {
            port: 1,
            status: 2,
            data1: 3,
            data2: 4,
        }),
        Arg::True,
        Arg::False,
        Arg::Nil,
        Arg::Impulse,
    ];
    assert_eq!(build("/a/b", &args), golden);
    assert_eq!(message(&golden).args().collect::<Vec<_>>(), args);
}

#[test]
fn messages_without_arguments_and_hash_in_address() {
    let golden = unhex(PY_NO_ARGS);
    assert_eq!(build("/some/addr", &[]), golden);
    let m = message(&golden);
    assert!(m.has_type_tags());
    assert_eq!(m.args().count(), 0);

    let golden = unhex(LIBLO_HASH_NO_ARGS);
    assert_eq!(build("/#/x", &[]), golden);
    assert_eq!(message(&golden).address(), "/#/x");

    // OSC 1.0 without a type tag string: a message without arguments, flagged.
    let m = message(b"/some/addr\0\0");
    assert_eq!(m.address(), "/some/addr");
    assert!(!m.has_type_tags());
    assert_eq!(m.type_tags(), "");
    assert_eq!(m.args().count(), 0);
}

#[test]
fn time_tag_argument_and_timetag_bytes() {
    let b = build("/t", &[Arg::Time(TimeTag::new(0x0102_0304, 0x0506_0708))]);
    assert_eq!(
        b,
        unhex(
            "2f7400002c74000001020304050607 08"
                .replace(' ', "")
                .as_str()
        )
    );
    assert_eq!(
        message(&b).value(0),
        Some(Arg::Time(TimeTag(0x0102_0304_0506_0708)))
    );
}

#[test]
fn python_osc_nested_bundle_golden() {
    let golden = unhex(PY_NESTED_BUNDLE);
    let mut buf = [0xEEu8; 512];
    let mut w = BundleWriter::new(&mut buf, TimeTag::IMMEDIATELY).expect("header");
    w.message("/view/1", []).expect("m1");
    w.message("/mixer/channel/1/amp", [Arg::Float(0.9)])
        .expect("m2");
    let inner = TimeTag::new(0xbf45_4880, 0x8000_0000);
    w.begin_bundle(inner).expect("inner");
    w.message("/osc/1/freq", [Arg::Int(440)]).expect("m3");
    w.message("/osc/1/phase", [Arg::Float(-0.4)]).expect("m4");
    w.end_bundle().expect("close");
    assert_eq!(w.element_count(), 5);
    let n = w.finish();
    assert_eq!(&buf[..n], &golden[..]);

    let Ok(Packet::Bundle(b)) = Packet::parse(&golden) else {
        panic!("bundle rejected");
    };
    assert!(b.time().is_immediate());
    assert_eq!(b.depth(), 1);
    let mut seen = Vec::new();
    Packet::Bundle(b).for_each_message(|r| {
        let (t, m) = r.expect("valid element");
        seen.push((t, m.address(), m.args().collect::<Vec<_>>()));
    });
    assert_eq!(
        seen,
        vec![
            (TimeTag::IMMEDIATELY, "/view/1", vec![]),
            (
                TimeTag::IMMEDIATELY,
                "/mixer/channel/1/amp",
                vec![Arg::Float(0.9)]
            ),
            (inner, "/osc/1/freq", vec![Arg::Int(440)]),
            (inner, "/osc/1/phase", vec![Arg::Float(-0.4)]),
        ]
    );
    assert_eq!(
        inner.to_unix(),
        Some(std::time::Duration::from_millis(1_000_000_000_500))
    );
}

#[test]
fn empty_bundle_and_unclosed_nested_bundles() {
    let mut buf = [0u8; 64];
    let w = BundleWriter::new(&mut buf, TimeTag::new(4, 2)).expect("header");
    assert!(w.is_empty());
    let n = w.finish();
    assert_eq!(&buf[..n], &unhex("2362756e646c65000000000400000002")[..]);
    let Ok(Packet::Bundle(b)) = Packet::parse(&buf[..n]) else {
        panic!()
    };
    assert_eq!(b.elements().count(), 0);

    // finish() closes what is open; the sizes come out right.
    let mut buf = [0u8; 128];
    let mut w = BundleWriter::new(&mut buf, TimeTag::IMMEDIATELY).expect("header");
    w.begin_bundle(TimeTag::IMMEDIATELY).expect("1");
    w.begin_bundle(TimeTag::IMMEDIATELY).expect("2");
    w.message("/deep", [Arg::Int(1)]).expect("m");
    let n = w.finish();
    let mut count = 0;
    Packet::parse(&buf[..n])
        .expect("parses")
        .for_each_message(|m| {
            assert_eq!(m.expect("ok").1.address(), "/deep");
            count += 1;
        });
    assert_eq!(count, 1);
}

#[test]
fn bundle_writer_rolls_back_when_full() {
    let mut buf = [0u8; 40];
    let mut w = BundleWriter::new(&mut buf, TimeTag::IMMEDIATELY).expect("header");
    w.message("/a", [Arg::Int(1)]).expect("fits: 16 + 4 + 12");
    let before = w.len();
    assert_eq!(
        w.message("/a", [Arg::Int(2)]),
        Err(BuildError::BufferTooSmall {
            needed: 48,
            available: 40
        })
    );
    assert_eq!(w.len(), before);
    assert_eq!(
        w.begin_bundle(TimeTag::IMMEDIATELY),
        Err(BuildError::BufferTooSmall {
            needed: 52,
            available: 40
        })
    );
    assert_eq!(w.end_bundle(), Err(BuildError::NoOpenBundle));
    let n = w.finish();
    assert_eq!(n, 32);
    let mut addrs = 0;
    Packet::parse(&buf[..n])
        .expect("valid")
        .for_each_message(|m| {
            assert_eq!(m.expect("ok").1.value(0), Some(Arg::Int(1)));
            addrs += 1;
        });
    assert_eq!(addrs, 1);
}

#[test]
fn bundle_writer_depth_limit_matches_the_parser() {
    let mut buf = [0u8; 1024];
    let mut w = BundleWriter::new(&mut buf, TimeTag::IMMEDIATELY).expect("header");
    for _ in 1..MAX_BUNDLE_DEPTH {
        w.begin_bundle(TimeTag::IMMEDIATELY)
            .expect("within the limit");
    }
    assert_eq!(
        w.begin_bundle(TimeTag::IMMEDIATELY),
        Err(BuildError::BundleTooDeep)
    );
    w.message("/x", []).expect("m");
    let n = w.finish();
    let mut got = Vec::new();
    Packet::parse(&buf[..n])
        .expect("valid")
        .for_each_message(|m| got.push(m.map(|(_, m)| m.address())));
    assert_eq!(got, vec![Ok("/x")]);
}

#[test]
fn packet_element_is_copied_verbatim() {
    let inner = build("/fwd", &[Arg::Str("x")]);
    let mut buf = [0u8; 64];
    let mut w = BundleWriter::new(&mut buf, TimeTag::IMMEDIATELY).expect("header");
    w.packet(&inner).expect("element");
    assert_eq!(w.packet(&[1, 2, 3]), Err(BuildError::BadElement));
    assert_eq!(w.packet(&[]), Err(BuildError::BadElement));
    let n = w.finish();
    let Ok(Packet::Bundle(b)) = Packet::parse(&buf[..n]) else {
        panic!()
    };
    let e: Vec<_> = b.elements().collect();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].expect("valid").as_bytes(), &inner[..]);
}

#[test]
fn builder_refuses_what_it_cannot_encode() {
    let mut buf = [0u8; 64];
    assert_eq!(
        write_message(&mut buf, "x", []),
        Err(BuildError::BadAddress)
    );
    assert_eq!(
        write_message(&mut buf, "/a\0", []),
        Err(BuildError::BadAddress)
    );
    assert_eq!(
        write_message(&mut buf, "/a", [Arg::Str("a\0b")]),
        Err(BuildError::NulInString)
    );
    assert_eq!(
        write_message(&mut buf, "/a", [Arg::ArrayEnd]),
        Err(BuildError::UnbalancedArray)
    );
    assert_eq!(
        write_message(&mut buf, "/a", [Arg::ArrayBegin]),
        Err(BuildError::UnbalancedArray)
    );
    assert_eq!(
        write_message(&mut buf, "/a", [Arg::Blob(&[0; 64])]),
        Err(BuildError::BufferTooSmall {
            needed: 4 + 4 + 4 + 64,
            available: 64
        })
    );
}

/// One packet per drop reason, each breaking exactly one rule.
#[test]
fn every_drop_reason_has_a_packet() {
    let ok = build("/a", &[Arg::Int(1)]);
    assert!(Packet::parse(&ok).is_ok());
    let mut deep = Vec::new();
    {
        // MAX_BUNDLE_DEPTH + 1 nested bundle headers, built by hand.
        let levels = MAX_BUNDLE_DEPTH + 1;
        for level in 0..levels {
            deep.extend_from_slice(BUNDLE_TAG);
            deep.extend_from_slice(&1u64.to_be_bytes());
            if level + 1 < levels {
                let inner = (levels - level - 1) * 20 - 4;
                deep.extend_from_slice(&(inner as u32).to_be_bytes());
            }
        }
    }
    let cases: Vec<(DropReason, Vec<u8>)> = vec![
        (DropReason::Empty, vec![]),
        (DropReason::Unaligned, b"/a\0".to_vec()),
        (DropReason::BadAddress, b"a\0\0\0,i\0\0\0\0\0\x01".to_vec()),
        (DropReason::UnterminatedString, b"/abc".to_vec()),
        (DropReason::BadPadding, b"/a\0x,i\0\0\0\0\0\x01".to_vec()),
        (DropReason::AddressNotUtf8, b"/\xff\0\0".to_vec()),
        (
            DropReason::StringNotUtf8,
            b"/a\0\0,s\0\0\xc3\x28\0\0".to_vec(),
        ),
        (DropReason::UntypedArguments, b"/a\0\0\0\0\0\x01".to_vec()),
        (
            DropReason::UnknownTypeTag,
            b"/a\0\0,x\0\0\0\0\0\x01".to_vec(),
        ),
        (
            DropReason::TruncatedArgument,
            b"/a\0\0,h\0\0\0\0\0\x01".to_vec(),
        ),
        (
            DropReason::BadBlobSize,
            b"/a\0\0,b\0\0\xff\xff\xff\xff".to_vec(),
        ),
        (
            DropReason::TruncatedBlob,
            b"/a\0\0,b\0\0\0\0\0\x05abcd".to_vec(),
        ),
        (DropReason::BadChar, b"/a\0\0,c\0\0\0\0\xd8\x00".to_vec()),
        (DropReason::UnbalancedArray, b"/a\0\0,]\0\0".to_vec()),
        (DropReason::UnbalancedArray, b"/a\0\0,[[]\0\0\0\0".to_vec()),
        (
            DropReason::TrailingBytes,
            b"/a\0\0,i\0\0\0\0\0\x01\0\0\0\x02".to_vec(),
        ),
        (DropReason::TruncatedBundle, b"#bundle\0\0\0\0\0".to_vec()),
        (
            DropReason::BadBundleHeader,
            b"#bundlf\0\0\0\0\0\0\0\0\x01".to_vec(),
        ),
        (
            DropReason::BadElementSize,
            b"#bundle\0\0\0\0\0\0\0\0\x01\0\0\0\x03/a\0\0".to_vec(),
        ),
        (
            DropReason::BadElementSize,
            b"#bundle\0\0\0\0\0\0\0\0\x01\0\0\0\0".to_vec(),
        ),
        (
            DropReason::BadElementSize,
            b"#bundle\0\0\0\0\0\0\0\0\x01\xff\xff\xff\xfc".to_vec(),
        ),
        (
            DropReason::TruncatedElement,
            b"#bundle\0\0\0\0\0\0\0\0\x01\0\0\0\x08/a\0\0".to_vec(),
        ),
        (DropReason::BundleTooDeep, deep),
    ];
    let mut covered = [false; DropReason::COUNT];
    for (want, bytes) in &cases {
        // Element problems inside a bundle come out of the walk, not the parse.
        let got = match Packet::parse(bytes) {
            Err(r) => Some(r),
            Ok(p) => {
                let mut first = None;
                p.for_each_message(|m| {
                    if let Err(r) = m {
                        first.get_or_insert(r);
                    }
                });
                first
            }
        };
        assert_eq!(got, Some(*want), "{want:?}: {bytes:02x?}");
        covered[want.index()] = true;
    }
    let missing: Vec<_> = DropReason::ALL
        .iter()
        .filter(|r| !covered[r.index()])
        .collect();
    assert!(missing.is_empty(), "no packet for {missing:?}");
}

#[test]
fn a_bad_element_does_not_cost_its_neighbours() {
    let good = build("/good", &[Arg::Int(7)]);
    let mut b = Vec::new();
    b.extend_from_slice(BUNDLE_TAG);
    b.extend_from_slice(&1u64.to_be_bytes());
    b.extend_from_slice(&(good.len() as u32).to_be_bytes());
    b.extend_from_slice(&good);
    let bad = b"/bad\0\0\0\0,x\0\0";
    b.extend_from_slice(&(bad.len() as u32).to_be_bytes());
    b.extend_from_slice(bad);
    b.extend_from_slice(&(good.len() as u32).to_be_bytes());
    b.extend_from_slice(&good);
    let mut got = Vec::new();
    Packet::parse(&b)
        .expect("framing is fine")
        .for_each_message(|m| got.push(m.map(|(_, m)| m.address())));
    assert_eq!(
        got,
        vec![Ok("/good"), Err(DropReason::UnknownTypeTag), Ok("/good")]
    );
}

fn arb_str() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,12}"
}

/// An owned argument list (strategies cannot hand out borrowed `Arg`s).
#[derive(Debug, Clone)]
enum Owned {
    Int(i32),
    Float(f32),
    Str(String),
    Blob(Vec<u8>),
    Int64(i64),
    Double(f64),
    Time(u64),
    Symbol(String),
    Char(char),
    Rgba([u8; 4]),
    Midi([u8; 4]),
    True,
    False,
    Nil,
    Impulse,
    Array(Vec<Owned>),
}

fn arb_owned() -> impl Strategy<Value = Owned> {
    let leaf = prop_oneof![
        any::<i32>().prop_map(Owned::Int),
        any::<f32>().prop_map(Owned::Float),
        arb_str().prop_map(Owned::Str),
        proptest::collection::vec(any::<u8>(), 0..9).prop_map(Owned::Blob),
        any::<i64>().prop_map(Owned::Int64),
        any::<f64>().prop_map(Owned::Double),
        any::<u64>().prop_map(Owned::Time),
        arb_str().prop_map(Owned::Symbol),
        any::<char>().prop_map(Owned::Char),
        any::<[u8; 4]>().prop_map(Owned::Rgba),
        any::<[u8; 4]>().prop_map(Owned::Midi),
        Just(Owned::True),
        Just(Owned::False),
        Just(Owned::Nil),
        Just(Owned::Impulse),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        proptest::collection::vec(inner, 0..4).prop_map(Owned::Array)
    })
}

fn flatten<'a>(o: &'a Owned, out: &mut Vec<Arg<'a>>) {
    let arg = match o {
        Owned::Int(v) => Arg::Int(*v),
        Owned::Float(v) => Arg::Float(*v),
        Owned::Str(s) => Arg::Str(s),
        Owned::Blob(b) => Arg::Blob(b),
        Owned::Int64(v) => Arg::Int64(*v),
        Owned::Double(v) => Arg::Double(*v),
        Owned::Time(t) => Arg::Time(TimeTag(*t)),
        Owned::Symbol(s) => Arg::Symbol(s),
        Owned::Char(c) => Arg::Char(*c),
        Owned::Rgba([r, g, b, a]) => Arg::Rgba(Rgba {
            r: *r,
            g: *g,
            b: *b,
            a: *a,
        }),
        Owned::Midi([port, status, data1, data2]) => Arg::Midi(Midi {
            port: *port,
            status: *status,
            data1: *data1,
            data2: *data2,
        }),
        Owned::True => Arg::True,
        Owned::False => Arg::False,
        Owned::Nil => Arg::Nil,
        Owned::Impulse => Arg::Impulse,
        Owned::Array(items) => {
            out.push(Arg::ArrayBegin);
            for i in items {
                flatten(i, out);
            }
            Arg::ArrayEnd
        }
    };
    out.push(arg);
}

/// Bitwise comparison, so NaN payloads count as equal only when they are identical.
fn same(a: &Arg<'_>, b: &Arg<'_>) -> bool {
    match (a, b) {
        (Arg::Float(x), Arg::Float(y)) => x.to_bits() == y.to_bits(),
        (Arg::Double(x), Arg::Double(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_after_write_is_identity(
        address in "/[!-~]{0,20}",
        owned in proptest::collection::vec(arb_owned(), 0..8),
    ) {
        let mut args = Vec::new();
        for o in &owned {
            flatten(o, &mut args);
        }
        let bytes = build(&address, &args);
        prop_assert_eq!(bytes.len() % 4, 0);
        let m = message(&bytes);
        prop_assert_eq!(m.address(), address.as_str());
        let back: Vec<_> = m.args().collect();
        prop_assert_eq!(back.len(), args.len());
        for (a, b) in args.iter().zip(&back) {
            prop_assert!(same(a, b), "{:?} != {:?}", a, b);
        }
        // Accepted messages are canonical: the fuzz body re-encodes and compares.
        prop_assert_eq!(fuzz_parse(&bytes), 1);
    }

    #[test]
    fn bundles_of_random_messages_round_trip(
        addrs in proptest::collection::vec("/[a-z#]{1,6}", 0..6),
        nest_at in 0usize..6,
        time in any::<u64>(),
    ) {
        let mut buf = vec![0u8; 2048];
        let mut w = BundleWriter::new(&mut buf, TimeTag(time)).expect("header");
        for (i, a) in addrs.iter().enumerate() {
            if i == nest_at {
                w.begin_bundle(TimeTag(time.wrapping_add(1))).expect("nest");
            }
            w.message(a, [Arg::Int(i as i32)]).expect("fits");
        }
        let n = w.finish();
        let mut got = Vec::new();
        Packet::parse(&buf[..n]).expect("valid").for_each_message(|m| {
            let (t, m) = m.expect("valid element");
            got.push((t, m.address().to_string(), m.value(0)));
        });
        prop_assert_eq!(got.len(), addrs.len());
        for (i, (t, a, v)) in got.iter().enumerate() {
            let want_t = if i >= nest_at { TimeTag(time.wrapping_add(1)) } else { TimeTag(time) };
            prop_assert_eq!(*t, want_t);
            prop_assert_eq!(a, &addrs[i]);
            prop_assert_eq!(*v, Some(Arg::Int(i as i32)));
        }
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        fuzz_parse(&bytes);
    }

    /// Mutations of valid packets reach deeper than random bytes.
    #[test]
    fn mutated_packets_never_panic(
        owned in proptest::collection::vec(arb_owned(), 0..6),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut args = Vec::new();
        for o in &owned {
            flatten(o, &mut args);
        }
        let mut bytes = build("/m", &args);
        for (i, v) in flips {
            let i = i.index(bytes.len());
            bytes[i] = v;
        }
        fuzz_parse(&bytes);
        let c = cut.index(bytes.len() + 1);
        fuzz_parse(&bytes[..c]);
    }
}
