//! Value mapping: MIDIMonster's formulas, the core's 8/16-bit exactness, patchbay's
//! extensions, and where MIDIMonster's C arithmetic is deliberately not reproduced.

use super::*;
use proptest::prelude::*;

fn level(arg: Arg<'_>) -> Level {
    normalise(&arg, None).expect("has a level")
}

fn level_with(arg: Arg<'_>, p: Param) -> Option<Level> {
    normalise(&arg, Some(&p))
}

#[test]
fn default_ranges() {
    assert_eq!(level(Arg::Int(128)), Level::from_raw(128, 8));
    assert_eq!(level(Arg::Int(128)).normalised, 128.0 / 255.0);
    assert_eq!(level(Arg::Float(0.25)), Level::from_normalised(0.25));
    assert_eq!(level(Arg::Int64(512)), Level::from_normalised(0.5));
    assert_eq!(level(Arg::Double(0.75)), Level::from_normalised(0.75));
    assert_eq!(level(Arg::Char('A')), Level::from_raw(65, 8));
}

#[test]
fn clipping_and_inverted_ranges() {
    assert_eq!(level(Arg::Int(300)), Level::from_raw(255, 8));
    assert_eq!(level(Arg::Int(-5)), Level::from_raw(0, 8));
    assert_eq!(level(Arg::Float(1.5)).normalised, 1.0);
    assert_eq!(level(Arg::Float(-0.1)).normalised, 0.0);
    assert_eq!(level(Arg::Float(f32::INFINITY)).normalised, 1.0);
    assert_eq!(normalise(&Arg::Float(f32::NAN), None), None);
    assert_eq!(normalise(&Arg::Double(f64::NAN), None), None);

    let inv = Param::Float32 { min: 1.0, max: 0.0 };
    assert_eq!(
        level_with(Arg::Float(0.25), inv).map(|l| l.normalised),
        Some(0.75)
    );
    assert_eq!(
        denormalise(&inv, Level::from_normalised(0.75)),
        OutArg::Float(0.25)
    );
    let inv = Param::Int32 { min: 255, max: 0 };
    assert_eq!(level_with(Arg::Int(0), inv), Some(Level::from_raw(255, 8)));
    assert_eq!(level_with(Arg::Int(55), inv), Some(Level::from_raw(200, 8)));
    assert_eq!(level_with(Arg::Int(300), inv), Some(Level::from_raw(0, 8)));
    assert_eq!(denormalise(&inv, Level::from_raw(200, 8)), OutArg::Int(55));
    assert_eq!(
        denormalise(&inv, Level::from_normalised(1.0)),
        OutArg::Int(0)
    );
}

#[test]
fn configured_ranges_from_midimonster_examples() {
    // /1/xy1 = ff 0.0 2.0 0.0 2.0
    let p = Param::Float32 { min: 0.0, max: 2.0 };
    assert_eq!(
        level_with(Arg::Float(1.0), p).map(|l| l.normalised),
        Some(0.5)
    );
    assert_eq!(
        denormalise(&p, Level::from_normalised(0.5)),
        OutArg::Float(1.0)
    );
    // An i range that is not 2^n - 1 wide has no exact integer.
    let p = Param::Int32 { min: 0, max: 100 };
    assert_eq!(
        level_with(Arg::Int(50), p),
        Some(Level::from_normalised(0.5))
    );
    assert_eq!(
        denormalise(&p, Level::from_normalised(0.505)),
        OutArg::Int(51)
    );
    assert_eq!(
        denormalise(&p, Level::from_normalised(0.504)),
        OutArg::Int(50)
    );
    // 16-bit i range: exact both ways.
    let p = Param::Int32 { min: 0, max: 65535 };
    assert_eq!(
        level_with(Arg::Int(1234), p),
        Some(Level::from_raw(1234, 16))
    );
    // Negative ranges.
    let p = Param::Int64 {
        min: -100,
        max: 100,
    };
    assert_eq!(
        level_with(Arg::Int64(0), p),
        Some(Level::from_normalised(0.5))
    );
    assert_eq!(
        denormalise(&p, Level::from_normalised(0.0)),
        OutArg::Int64(-100)
    );
    assert_eq!(
        denormalise(&p, Level::from_normalised(0.5)),
        OutArg::Int64(0)
    );
    // The full i64 range is 2^64 - 1 wide: exact 64-bit values.
    let p = Param::Int64 {
        min: i64::MIN,
        max: i64::MAX,
    };
    assert_eq!(
        level_with(Arg::Int64(i64::MAX), p),
        Some(Level::from_raw(u64::MAX, 64))
    );
    assert_eq!(
        denormalise(&p, Level::from_raw(u64::MAX, 64)),
        OutArg::Int64(i64::MAX)
    );
    assert_eq!(
        denormalise(&p, Level::from_raw(0, 64)),
        OutArg::Int64(i64::MIN)
    );
}

#[test]
fn argument_of_another_type_maps_numerically() {
    // A float on an `i 0 127` channel (TouchOSC sends f; the config said i).
    let p = Param::Int32 { min: 0, max: 127 };
    assert_eq!(
        level_with(Arg::Float(127.0), p),
        Some(Level::from_raw(127, 7))
    );
    assert_eq!(
        level_with(Arg::Float(63.5), p),
        Some(Level::from_normalised(0.5))
    );
    // An int on an `f 0 2` channel.
    let p = Param::Float32 { min: 0.0, max: 2.0 };
    assert_eq!(
        level_with(Arg::Int(1), p),
        Some(Level::from_normalised(0.5))
    );
}

#[test]
fn every_8_and_16_bit_value_is_exact_through_i_and_f() {
    let i8 = Param::INT32_DEFAULT;
    let i16 = Param::Int32 { min: 0, max: 65535 };
    let f = Param::FLOAT32_DEFAULT;
    let d = Param::DOUBLE_DEFAULT;
    for v in 0..=255u64 {
        let l = level(Arg::Int(v as i32));
        assert_eq!(l.to_raw(8), v);
        assert_eq!(l.to_raw(16), v * 257, "8 → 16 is exact at every value");
        assert_eq!(
            denormalise(&i8, Level::from_raw(v, 8)),
            OutArg::Int(v as i32)
        );
        assert_eq!(
            denormalise(&i8, Level::from_raw(v * 257, 16)),
            OutArg::Int(v as i32)
        );
        assert_eq!(
            denormalise(&i16, Level::from_raw(v, 8)),
            OutArg::Int((v * 257) as i32)
        );
    }
    for v in 0..=65535u64 {
        let raw16 = Level::from_raw(v, 16);
        assert_eq!(denormalise(&i16, raw16), OutArg::Int(v as i32));
        assert_eq!(
            level_with(Arg::Int(v as i32), i16).map(|l| l.to_raw(16)),
            Some(v)
        );
        // Through float32 and double arguments and back.
        let OutArg::Float(x) = denormalise(&f, raw16) else {
            panic!()
        };
        assert_eq!(
            level(Arg::Float(x)).to_raw(16),
            v,
            "f32 carries 16 bits: {v}"
        );
        let OutArg::Double(x) = denormalise(&d, raw16) else {
            panic!()
        };
        assert_eq!(level(Arg::Double(x)).to_raw(16), v);
    }
    // The ends.
    assert_eq!(denormalise(&f, Level::from_raw(255, 8)), OutArg::Float(1.0));
    assert_eq!(denormalise(&f, Level::from_raw(0, 16)), OutArg::Float(0.0));
}

#[test]
fn output_clamps_out_of_range_levels() {
    let p = Param::Float32 { min: 0.0, max: 2.0 };
    assert_eq!(
        denormalise(&p, Level::from_normalised(1.5)),
        OutArg::Float(2.0)
    );
    assert_eq!(
        denormalise(&p, Level::from_normalised(-1.0)),
        OutArg::Float(0.0)
    );
    assert_eq!(
        denormalise(&p, Level::from_normalised(f64::NAN)),
        OutArg::Float(0.0)
    );
    let p = Param::INT32_DEFAULT;
    assert_eq!(
        denormalise(&p, Level::from_normalised(7.0)),
        OutArg::Int(255)
    );
}

#[test]
fn booleans_triggers_and_time() {
    assert_eq!(level(Arg::True), Level::TRIGGER);
    assert_eq!(level(Arg::False), Level::OFF);
    assert_eq!(level(Arg::Nil), Level::TRIGGER);
    assert_eq!(level(Arg::Impulse), Level::TRIGGER);
    assert_eq!(level(Arg::Time(TimeTag(12345))), Level::TRIGGER);
    assert_eq!(Level::TRIGGER.to_raw(8), 255);
    assert_eq!(Level::OFF.to_raw(16), 0);
    assert_eq!(
        denormalise(&Param::Bool, Level::from_raw(128, 8)),
        OutArg::True
    );
    assert_eq!(
        denormalise(&Param::Bool, Level::from_raw(127, 8)),
        OutArg::False
    );
    assert_eq!(
        denormalise(&Param::Bool, Level::from_normalised(0.5)),
        OutArg::True
    );
    assert_eq!(denormalise(&Param::Nil, Level::ZERO), OutArg::Nil);
    assert_eq!(denormalise(&Param::Impulse, Level::ZERO), OutArg::Impulse);
    assert_eq!(
        denormalise(&Param::Time, Level::ZERO),
        OutArg::Time(TimeTag::IMMEDIATELY)
    );
    assert_eq!(normalise(&Arg::Blob(&[1]), None), None);
    assert_eq!(normalise(&Arg::ArrayBegin, None), None);
}

#[test]
fn strings_are_numbers_or_triggers() {
    assert_eq!(level(Arg::Str("0.5")), Level::from_normalised(0.5));
    assert_eq!(level(Arg::Str(" 2 ")), Level::from_normalised(1.0));
    assert_eq!(level(Arg::Symbol("0.25")), Level::from_normalised(0.25));
    assert_eq!(level(Arg::Str("Go+")), Level::TRIGGER);
    assert_eq!(level(Arg::Str("")), Level::TRIGGER);
    assert_eq!(level(Arg::Str("nan")), Level::TRIGGER);
    // An integer range keeps the exact path for integral text.
    assert_eq!(
        level_with(Arg::Str("128"), Param::INT32_DEFAULT),
        Some(Level::from_raw(128, 8))
    );
    let p = Param::Str {
        min: 0.0,
        max: 100.0,
    };
    assert_eq!(
        level_with(Arg::Str("25"), p),
        Some(Level::from_normalised(0.25))
    );
    let out = |n: f64| match denormalise(&p, Level::from_normalised(n)) {
        OutArg::Str(t) => t.as_str().to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(out(0.5), "50");
    assert_eq!(out(0.125), "12.5");
    assert_eq!(out(1.0), "100");
    assert_eq!(NumText::new(-0.0).as_str(), "0");
    assert_eq!(NumText::new(1e300).as_str(), "1e300");
    let tiny = -1.2345678901234567e-300;
    assert_eq!(NumText::new(tiny).as_str(), format!("{tiny:e}"));
    assert_eq!(NumText::new(tiny).as_str().parse::<f64>(), Ok(tiny));
    assert_eq!(NumText::new(1e14).as_str(), "100000000000000");
}

#[test]
fn midi_messages() {
    let m = |status, data1, data2| {
        Arg::Midi(Midi {
            port: 0,
            status,
            data1,
            data2,
        })
    };
    assert_eq!(level(m(0xb0, 7, 127)), Level::from_raw(127, 7));
    assert_eq!(level(m(0x90, 60, 64)), Level::from_raw(64, 7));
    assert_eq!(level(m(0x80, 60, 64)), Level::from_raw(0, 7));
    assert_eq!(level(m(0xc3, 5, 0)), Level::from_raw(5, 7));
    assert_eq!(level(m(0xe0, 0x7f, 0x7f)), Level::from_raw(16383, 14));
    assert_eq!(level(m(0xe0, 0, 0x40)), Level::from_raw(8192, 14));
    assert_eq!(normalise(&m(0xf8, 0, 0), None), None);

    let cc7 = Param::Midi {
        status: 0xb0,
        data1: 7,
    };
    assert_eq!(
        level_with(m(0xb0, 7, 100), cc7),
        Some(Level::from_raw(100, 7))
    );
    assert_eq!(level_with(m(0xb0, 8, 100), cc7), None, "other controller");
    assert_eq!(level_with(m(0xb1, 7, 100), cc7), None, "other MIDI channel");
    let note = Param::Midi {
        status: 0x90,
        data1: 60,
    };
    assert_eq!(
        level_with(m(0x80, 60, 10), note),
        Some(Level::from_raw(0, 7))
    );
    assert_eq!(level_with(m(0x90, 61, 10), note), None);
    let bend = Param::Midi {
        status: 0xe2,
        data1: 0,
    };
    assert_eq!(
        level_with(m(0xe2, 1, 2), bend),
        Some(Level::from_raw(257, 14))
    );

    let out = |p: &Param, l| match denormalise(p, l) {
        OutArg::Midi(m) => (m.status, m.data1, m.data2),
        other => panic!("{other:?}"),
    };
    assert_eq!(out(&cc7, Level::from_raw(255, 8)), (0xb0, 7, 127));
    assert_eq!(out(&cc7, Level::from_raw(128, 8)), (0xb0, 7, 64));
    assert_eq!(out(&bend, Level::from_normalised(1.0)), (0xe2, 0x7f, 0x7f));
    assert_eq!(out(&bend, Level::from_raw(8192, 14)), (0xe2, 0, 0x40));
    let program = Param::Midi {
        status: 0xc0,
        data1: 0,
    };
    assert_eq!(out(&program, Level::from_raw(5, 7)), (0xc0, 5, 0));
}

#[test]
fn levels_of_whole_messages() {
    use crate::wire::{Packet, write_message};
    let collect = |args: &[Arg<'_>], params: &[Param]| {
        let mut buf = [0u8; 128];
        let n = write_message(&mut buf, "/x", args.iter().copied()).expect("fits");
        let Ok(Packet::Message(m)) = Packet::parse(&buf[..n]) else {
            panic!()
        };
        let mut out = Vec::new();
        message_levels(&m, params, |i, l| out.push((i, l)));
        out
    };
    assert_eq!(collect(&[], &[]), vec![(0, Level::TRIGGER)]);
    let xy = [
        Param::Float32 { min: 0.0, max: 2.0 },
        Param::Float32 { min: 0.0, max: 2.0 },
    ];
    assert_eq!(
        collect(&[Arg::Float(1.0), Arg::Float(2.0)], &xy),
        vec![
            (0, Level::from_normalised(0.5)),
            (1, Level::from_normalised(1.0))
        ]
    );
    // Array markers do not count; a blob has no level but keeps its index; an argument
    // beyond the preconfigured ones uses its type's default range.
    assert_eq!(
        collect(
            &[
                Arg::ArrayBegin,
                Arg::Blob(&[1]),
                Arg::Float(1.0),
                Arg::ArrayEnd,
                Arg::Int(255)
            ],
            &xy
        ),
        vec![
            (1, Level::from_normalised(0.5)),
            (2, Level::from_raw(255, 8))
        ]
    );
}

#[test]
fn output_messages_from_param_lists() {
    use crate::wire::{Packet, write_message};
    let params = [
        Param::Float32 { min: 0.0, max: 2.0 },
        Param::Bool,
        Param::INT32_DEFAULT,
    ];
    let mut outs: Vec<OutArg> = params.iter().map(Param::initial).collect();
    outs[2] = denormalise(&params[2], Level::from_raw(200, 8));
    let mut buf = [0u8; 64];
    let n = write_message(&mut buf, "/4/xy", outs.iter().map(OutArg::arg)).expect("fits");
    let Ok(Packet::Message(m)) = Packet::parse(&buf[..n]) else {
        panic!()
    };
    assert_eq!(m.type_tags(), "fFi");
    assert_eq!(
        m.args().collect::<Vec<_>>(),
        vec![Arg::Float(0.0), Arg::False, Arg::Int(200)]
    );
}

#[test]
fn initial_arguments_are_level_zero() {
    assert_eq!(Param::INT32_DEFAULT.initial(), OutArg::Int(0));
    assert_eq!(
        Param::Float32 { min: 1.0, max: 0.0 }.initial(),
        OutArg::Float(1.0)
    );
    assert_eq!(Param::Bool.initial(), OutArg::False);
}

/// MIDIMonster's `osc_parameter_normalise` for `i`, transliterated with its C types: the
/// division is between two unsigned integers.
fn midimonster_normalise_i32(min: i32, max: i32, cur: i32) -> f64 {
    let range = max.wrapping_sub(min) as u32;
    let raw = i64::from(cur.wrapping_sub(min)) as u64;
    let n = (raw / u64::from(range)) as f64;
    // MIDIMonster's clamp(val, 1.0, 0.0) macro.
    n.clamp(0.0, 1.0)
}

/// MIDIMonster's `osc_parameter_normalise` / `_denormalise` for `f` (float subtraction,
/// double division and multiplication, conversion back to float).
fn midimonster_f32(min: f32, max: f32, cur: f32) -> f64 {
    let n = f64::from(cur - min) / f64::from(max - min);
    n.clamp(0.0, 1.0)
}
fn midimonster_f32_out(min: f32, max: f32, n: f64) -> f32 {
    (f64::from(max - min) * n + f64::from(min)) as f32
}

#[test]
fn where_midimonster_integer_arithmetic_is_not_reproduced() {
    // MIDIMonster: 128 on 0..255 is 0 (integer division), -1 is 1 (unsigned wrap).
    assert_eq!(midimonster_normalise_i32(0, 255, 128), 0.0);
    assert_eq!(midimonster_normalise_i32(0, 255, -1), 1.0);
    // patchbay: the documented formula.
    assert_eq!(level(Arg::Int(128)).normalised, 128.0 / 255.0);
    assert_eq!(level(Arg::Int(-1)).normalised, 0.0);
    // MIDIMonster truncates on output; 0.29 × 100 = 28.999999999999996 becomes 28.
    assert_eq!((100.0f64 * 0.29) as i32, 28);
    let p = Param::Int32 { min: 0, max: 100 };
    assert_eq!(
        denormalise(&p, Level::from_normalised(0.29)),
        OutArg::Int(29)
    );
}

proptest! {
    /// Float arguments agree with MIDIMonster's single-precision arithmetic to within one
    /// float32 step of the result.
    #[test]
    fn float_mapping_agrees_with_midimonster(
        min in -1000.0f32..1000.0, width in 0.01f32..1000.0, inverted in any::<bool>(),
        x in -2000.0f32..2000.0, n in 0.0f64..=1.0,
    ) {
        let (min, max) = if inverted { (min + width, min) } else { (min, min + width) };
        let p = Param::Float32 { min, max };
        let ours = level_with(Arg::Float(x), p).expect("finite").normalised;
        let theirs = midimonster_f32(min, max, x);
        // MIDIMonster rounds `x - min` to float32.
        let tolerance = 2.0 * f64::from(f32::EPSILON) * f64::from(x.abs() + min.abs() + max.abs()) / f64::from(width);
        prop_assert!((ours - theirs).abs() <= tolerance, "{} vs {}", ours, theirs);
        let OutArg::Float(ours) = denormalise(&p, Level::from_normalised(n)) else { unreachable!() };
        let theirs = midimonster_f32_out(min, max, n);
        let step = f32::EPSILON * (min.abs().max(max.abs()));
        prop_assert!((ours - theirs).abs() <= step, "{} vs {}", ours, theirs);
    }

    #[test]
    fn integer_values_in_range_survive_a_round_trip(
        min in -(1i64 << 40)..(1i64 << 40), width in 1i64..(1i64 << 40), inverted in any::<bool>(),
        at in 0.0f64..=1.0,
    ) {
        let (min, max) = if inverted { (min + width, min) } else { (min, min + width) };
        let p = Param::Int64 { min, max };
        let v = min + ((max - min) as f64 * at) as i64;
        let l = level_with(Arg::Int64(v), p).expect("level");
        prop_assert_eq!(denormalise(&p, l), OutArg::Int64(v));
    }

    #[test]
    fn output_stays_within_the_range(
        min in any::<i32>(), max in any::<i32>(), n in any::<f64>(),
        raw in any::<u64>(), bits in 0u8..=70,
        fmin in -1e6f64..1e6, fmax in -1e6f64..1e6,
    ) {
        let (lo, hi) = (min.min(max), min.max(max));
        for l in [Level::from_normalised(n), Level::from_raw(raw, bits), Level { normalised: n, raw: Some((raw, bits)) }] {
            let OutArg::Int(v) = denormalise(&Param::Int32 { min, max }, l) else { unreachable!() };
            prop_assert!(lo <= v && v <= hi);
            let OutArg::Double(v) = denormalise(&Param::Double { min: fmin, max: fmax }, l) else { unreachable!() };
            prop_assert!(fmin.min(fmax) <= v && v <= fmin.max(fmax));
        }
    }

    #[test]
    fn input_levels_are_within_0_and_1(
        x in any::<i64>(), f in any::<f64>(), min in any::<i64>(), max in any::<i64>(),
        s in "\\PC{0,8}",
    ) {
        let params = [Param::Int64 { min, max }, Param::Double { min: min as f64, max: max as f64 }];
        for p in &params {
            for arg in [Arg::Int64(x), Arg::Double(f), Arg::Str(&s), Arg::Int(x as i32)] {
                if let Some(l) = normalise(&arg, Some(p)) {
                    prop_assert!((0.0..=1.0).contains(&l.normalised), "{:?} {:?} -> {:?}", arg, p, l);
                    if let Some((r, b)) = l.raw {
                        prop_assert!(r <= max_raw(b));
                        prop_assert_eq!(l.normalised, r as f64 / max_raw(b) as f64);
                    }
                }
            }
        }
    }

    /// Through the exact path the output is the same as rescaling with the core's rule.
    #[test]
    fn exact_integer_output_agrees_with_the_core_rule(raw in any::<u16>(), to in 1u8..=16) {
        let l = Level::from_raw(raw.into(), 16);
        let max = max_raw(to) as i32;
        prop_assert_eq!(
            denormalise(&Param::Int32 { min: 0, max }, l),
            OutArg::Int(l.to_raw(to) as i32)
        );
    }
}
