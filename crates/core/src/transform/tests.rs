use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::state::Transforms;
use super::*;
use crate::backend::{ChannelIds, InstanceId};
use crate::registry::ChannelRegistry;
use crate::routing::{RoutingBuilder, RoutingTable};

fn level(ppb: u32) -> Level {
    Level::from_ppb(ppb).expect("level")
}

/// A table with one edge whose chain is `ops`, and fresh state for it.
fn one_edge(ops: Vec<Transform>) -> (RoutingTable, Transforms) {
    let mut reg = ChannelRegistry::new();
    let a = reg.resolve(InstanceId(0), 0);
    let b = reg.resolve(InstanceId(1), 0);
    let mut rb = RoutingBuilder::new();
    rb.add_edge_with(a, b, &Chain::new(ops).expect("chain"));
    let table = rb.build(&reg);
    let state = Transforms::for_table(&table);
    (table, state)
}

/// Runs one value through edge 0 of `table`.
fn run(table: &RoutingTable, state: &mut Transforms, v: Value, now: Instant) -> Option<Value> {
    state.apply(0, 0, table.chain_ops(0), v, now)
}

fn raw8(v: Option<Value>) -> Option<u64> {
    v.map(|v| v.to_raw(8))
}

#[test]
fn levels_and_transforms_display_as_written() {
    assert_eq!(Level::ZERO.to_string(), "0");
    assert_eq!(Level::FULL.to_string(), "1");
    assert_eq!(level(200_000_000).to_string(), "0.2");
    assert_eq!(level(125_000_000).to_string(), "0.125");
    assert_eq!(level(1).to_string(), "0.000000001");
    assert_eq!(Level::from_ppb(1_000_000_001), None);
    let chain = Chain::new(vec![
        Transform::Invert,
        Transform::Scale {
            min: level(200_000_000),
            max: level(800_000_000),
        },
        Transform::Toggle,
        Transform::Deadband(level(20_000_000)),
        Transform::Slew(Duration::from_millis(500)),
    ])
    .expect("chain");
    assert_eq!(
        chain.to_string(),
        "invert | scale 0.2 0.8 | toggle | deadband 0.02 | slew 500ms"
    );
    assert_eq!(
        Transform::Fade(Duration::from_secs(2)).to_string(),
        "fade 2s"
    );
    assert_eq!(
        Transform::Fade(Duration::from_millis(1500)).to_string(),
        "fade 1500ms"
    );
}

#[test]
fn a_motion_must_end_the_chain() {
    let slew = Transform::Slew(Duration::from_secs(1));
    assert!(Chain::new(vec![Transform::Invert, slew]).is_ok());
    assert_eq!(
        Chain::new(vec![slew, Transform::Invert]),
        Err(ChainError::MotionNotLast("slew"))
    );
    assert_eq!(
        Chain::new(vec![Transform::Fade(Duration::from_secs(1)), slew]),
        Err(ChainError::MotionNotLast("fade"))
    );
    assert!(Chain::new(Vec::new()).expect("empty").is_empty());
}

#[test]
fn invert_is_exact_for_every_8_and_16_bit_value() {
    for v in 0..=255u64 {
        let out = invert(Value::from_raw(v, 8));
        assert_eq!(out.raw(), Some((255 - v, 8)));
        assert_eq!(invert(out).raw(), Some((v, 8)));
        // Delivered to a 16-bit output it is the inverse of the widened value.
        assert_eq!(out.to_raw(16), 65535 - Value::from_raw(v, 8).to_raw(16));
    }
    for v in 0..=65535u64 {
        assert_eq!(invert(Value::from_raw(v, 16)).raw(), Some((65535 - v, 16)));
    }
    assert_eq!(invert(Value::from_normalised(0.25)).normalised(), 0.75);
    assert_eq!(invert(Value::from_normalised(1.5)).normalised(), -0.5);
}

/// Checks `out` is round-half-away((min·(M − r) + max·r) / 10⁹) from the exact integers.
fn is_exact_scale(out: u64, r: u64, m: u64, min: u32, max: u32) -> bool {
    let num = u128::from(min) * u128::from(m - r) + u128::from(max) * u128::from(r);
    let twice = 2 * (u128::from(out) * 1_000_000_000);
    let n2 = 2 * num;
    // |out − num/10⁹| ≤ ½, and a tie goes up (away from zero).
    let within = twice.abs_diff(n2) <= 1_000_000_000;
    let tie = twice.abs_diff(n2) == 1_000_000_000;
    within && (!tie || twice > n2)
}

#[test]
fn scale_by_whole_range_is_identity_and_reversed_is_invert() {
    for (bits, m) in [(8u8, 255u64), (16, 65535)] {
        for v in 0..=m {
            let x = Value::from_raw(v, bits);
            assert_eq!(scale(x, Level::ZERO, Level::FULL).raw(), Some((v, bits)));
            assert_eq!(scale(x, Level::FULL, Level::ZERO), invert(x));
        }
    }
    assert_eq!(
        scale(
            Value::from_normalised(0.5),
            level(200_000_000),
            level(800_000_000)
        )
        .normalised(),
        0.5
    );
}

#[test]
fn scale_rounds_ties_away_from_zero() {
    // 0.1 … 0.3 on 8 bits: 0 → 25.5 → 26, the exact tie.
    let out = scale(
        Value::from_raw(0, 8),
        level(100_000_000),
        level(300_000_000),
    );
    assert_eq!(out.raw(), Some((26, 8)));
    // scale 0 0.5: 1 → 0.5 → 1.
    let out = scale(Value::from_raw(1, 8), Level::ZERO, level(500_000_000));
    assert_eq!(out.raw(), Some((1, 8)));
}

fn levels() -> impl Strategy<Value = u32> {
    prop_oneof![
        0u32..=1_000_000_000,
        // Round decimals and percentages, the values people write.
        (0u32..=1000).prop_map(|k| k * 1_000_000),
        (0u32..=100).prop_map(|k| k * 10_000_000),
    ]
}

proptest! {
    /// Every 8-bit and every 16-bit value: the ends are exactly MIN and MAX at the value's
    /// width, every value is the exact result rounded half away from zero, and the output
    /// moves monotonically with the input.
    #[test]
    fn scale_is_exact_and_monotonic_for_every_8_and_16_bit_value(
        min in levels(), max in levels(),
    ) {
        for (bits, m) in [(8u8, 255u64), (16, 65535)] {
            let mut prev: Option<u64> = None;
            for r in 0..=m {
                let out = scale(Value::from_raw(r, bits), level(min), level(max));
                let Some((o, b)) = out.raw() else {
                    return Err(TestCaseError::fail("scale lost the raw value"));
                };
                prop_assert_eq!(b, bits);
                prop_assert!(is_exact_scale(o, r, m, min, max), "r={} out={}", r, o);
                if let Some(p) = prev {
                    let monotonic = if min <= max { o >= p } else { o <= p };
                    prop_assert!(monotonic, "r={} out={} before={}", r, o, p);
                }
                prev = Some(o);
            }
            let at = |r| scale(Value::from_raw(r, bits), level(min), level(max)).to_raw(bits);
            let round = |l: u32| ((u128::from(l) * u128::from(m) + 500_000_000) / 1_000_000_000) as u64;
            prop_assert_eq!(at(0), round(min));
            prop_assert_eq!(at(m), round(max));
        }
    }

    /// Without a raw value the ends are exactly MIN and MAX as normalised numbers.
    #[test]
    fn scale_of_normalised_values_is_exact_at_the_ends(min in levels(), max in levels()) {
        let (lo, hi) = (level(min), level(max));
        prop_assert_eq!(scale(Value::from_normalised(0.0), lo, hi).normalised(), lo.as_f64());
        prop_assert_eq!(scale(Value::from_normalised(1.0), lo, hi).normalised(), hi.as_f64());
    }
}

#[test]
fn toggle_flips_on_each_press_and_ignores_releases_and_repeats() {
    let (table, mut s) = one_edge(vec![Transform::Toggle]);
    let now = Instant::now();
    let mut feed = |v: u64| raw8(run(&table, &mut s, Value::from_raw(v, 8), now));
    // A button sending 255 then 0, with a repeat of the pressed value and a soft press.
    assert_eq!(feed(255), Some(255));
    assert_eq!(feed(255), None);
    assert_eq!(feed(0), None);
    assert_eq!(feed(20), Some(0));
    assert_eq!(feed(0), None);
    assert_eq!(feed(0), None);
    assert_eq!(feed(1), Some(255));
    // 16-bit in, 16-bit out.
    let (table, mut s) = one_edge(vec![Transform::Toggle]);
    let out = run(&table, &mut s, Value::from_raw(65535, 16), now);
    assert_eq!(out.and_then(|v| v.raw()), Some((65535, 16)));
    // A first value of 0 is a release: nothing.
    let (table, mut s) = one_edge(vec![Transform::Toggle]);
    assert_eq!(run(&table, &mut s, Value::from_normalised(0.0), now), None);
    assert_eq!(
        run(&table, &mut s, Value::from_normalised(0.7), now).map(|v| v.normalised()),
        Some(1.0)
    );
}

#[test]
fn deadband_drops_small_changes_but_passes_the_ends() {
    // 0.02 of 255 is 5.1: a change of 6 passes, 5 does not.
    let (table, mut s) = one_edge(vec![Transform::Deadband(level(20_000_000))]);
    let now = Instant::now();
    let mut feed = |v: u64| raw8(run(&table, &mut s, Value::from_raw(v, 8), now));
    assert_eq!(feed(100), Some(100));
    assert_eq!(feed(105), None);
    assert_eq!(feed(95), None);
    assert_eq!(feed(106), Some(106));
    assert_eq!(feed(101), None, "measured from the last value passed, 106");
    assert_eq!(feed(252), Some(252));
    assert_eq!(feed(255), Some(255), "full scale always passes");
    assert_eq!(feed(3), Some(3));
    assert_eq!(feed(0), Some(0), "zero always passes");
    assert_eq!(feed(0), Some(0));
}

#[test]
fn deadband_is_exact_at_the_band_in_integers() {
    // 0.2 of 255 is 51 exactly: a change of 51 passes, 50 does not. (In floats 101/255 − 50/255
    // is a hair below 0.2.)
    let (table, mut s) = one_edge(vec![Transform::Deadband(level(200_000_000))]);
    let now = Instant::now();
    let mut feed = |v: u64| raw8(run(&table, &mut s, Value::from_raw(v, 8), now));
    assert_eq!(feed(50), Some(50));
    assert_eq!(feed(100), None);
    assert_eq!(feed(101), Some(101));
    assert_eq!(feed(50), Some(50));
}

#[test]
fn chain_runs_in_order() {
    // invert, then scale into 0.2..0.8: 255 → 0 → 0.2·255 = 51; 0 → 255 → 204.
    let (table, mut s) = one_edge(vec![
        Transform::Invert,
        Transform::Scale {
            min: level(200_000_000),
            max: level(800_000_000),
        },
    ]);
    let now = Instant::now();
    assert_eq!(
        raw8(run(&table, &mut s, Value::from_raw(255, 8), now)),
        Some(51)
    );
    assert_eq!(
        raw8(run(&table, &mut s, Value::from_raw(0, 8), now)),
        Some(204)
    );
}

/// Drives a motion edge: values fed at the given times, steps taken every `tick` until `until`.
/// Returns every emitted (time, normalised value, raw 8-bit), in order.
fn drive(op: Transform, feeds: &[(u64, Value)], tick: u64, until: u64) -> Vec<(u64, f64, u64)> {
    let (table, mut s) = one_edge(vec![op]);
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut feeds = feeds.iter().peekable();
    let mut ms = 0;
    while ms <= until {
        let now = t0 + Duration::from_millis(ms);
        for &(i, v) in s.step(now) {
            assert_eq!(i, 0);
            out.push((ms, v.normalised(), v.to_raw(8)));
        }
        while let Some(&&(at, v)) = feeds.peek() {
            if at > ms {
                break;
            }
            feeds.next();
            if let Some(v) = run(&table, &mut s, v, now) {
                out.push((ms, v.normalised(), v.to_raw(8)));
            }
        }
        ms += tick;
    }
    out
}

#[test]
fn fade_takes_the_whole_time_and_ends_exactly() {
    let out = drive(
        Transform::Fade(Duration::from_millis(100)),
        &[(0, Value::from_raw(0, 8)), (10, Value::from_raw(255, 8))],
        1,
        200,
    );
    // The first value passes at once; the fade to 255 emits every 10 ms and ends at 110 ms.
    assert_eq!(out[0], (0, 0.0, 0));
    let times: Vec<u64> = out[1..].iter().map(|o| o.0).collect();
    assert_eq!(times, (2..=11).map(|k| k * 10).collect::<Vec<_>>());
    let last = out.last().copied().unwrap_or_default();
    assert_eq!((last.0, last.2), (110, 255));
    assert_eq!(out[5].2, 128, "half-way at 60 ms: 127.5 rounds up");
}

#[test]
fn slew_time_is_proportional_to_the_distance() {
    // 1 s per full scale: 0 → 0.5 takes 500 ms.
    let out = drive(
        Transform::Slew(Duration::from_secs(1)),
        &[
            (0, Value::from_normalised(0.0)),
            (0, Value::from_normalised(0.5)),
        ],
        5,
        1000,
    );
    let last = out.last().copied().unwrap_or_default();
    assert_eq!((last.0, last.1), (500, 0.5));
}

#[test]
fn retarget_mid_motion_starts_from_where_the_output_is() {
    // Fade 0 → 1 over 100 ms; at 50 ms (output 0.5) retarget to 0: back to 0 by 150 ms.
    let out = drive(
        Transform::Fade(Duration::from_millis(100)),
        &[
            (0, Value::from_normalised(0.0)),
            (0, Value::from_normalised(1.0)),
            (50, Value::from_normalised(0.0)),
        ],
        10,
        300,
    );
    let peak = out.iter().map(|o| o.1).fold(0.0, f64::max);
    assert!((0.45..=0.55).contains(&peak), "{out:?}");
    let last = out.last().copied().unwrap_or_default();
    assert_eq!((last.0, last.1), (150, 0.0));
    assert!(
        out.windows(2)
            .skip_while(|w| w[1].0 <= 50)
            .all(|w| w[1].1 <= w[0].1)
    );
}

#[test]
fn a_value_at_the_current_position_ends_the_motion_at_once() {
    let out = drive(
        Transform::Fade(Duration::from_secs(1)),
        &[(0, Value::from_raw(7, 8)), (10, Value::from_raw(7, 8))],
        10,
        100,
    );
    assert_eq!(out.iter().map(|o| o.2).collect::<Vec<_>>(), vec![7, 7]);
}

#[test]
fn a_repeated_target_does_not_restart_the_motion() {
    // A source re-sending 255 every 30 ms during a 100 ms fade: still done at 100 ms.
    let repeats: Vec<(u64, Value)> = (1..=5).map(|k| (k * 30, Value::from_raw(255, 8))).collect();
    let mut feeds = vec![(0, Value::from_raw(0, 8)), (0, Value::from_raw(255, 8))];
    feeds.extend(repeats);
    let out = drive(Transform::Fade(Duration::from_millis(100)), &feeds, 10, 300);
    // Ends at 100 ms; repeats at rest pass again (as on a plain edge).
    let end = out.iter().find(|o| o.2 == 255).map(|o| o.0);
    assert_eq!(end, Some(100), "{out:?}");
    assert!(out.windows(2).all(|w| w[1].1 >= w[0].1));
}

proptest! {
    /// For any start, target, time and step pattern: steps move monotonically from the start
    /// towards the target, never past it, at most [`MOTION_STEP`] apart, and the last value is
    /// the target exactly (raw value and width included), at the motion's end.
    #[test]
    fn motion_steps_are_monotonic_and_end_exactly(
        from in 0u64..=65535, to in 0u64..=65535, wide in any::<bool>(),
        ms in 1u64..2000, rate in any::<bool>(),
        ticks in proptest::collection::vec(1u64..25, 1..400),
    ) {
        let bits = if wide { 16 } else { 8 };
        let (from, to) = if wide { (from, to) } else { (from % 256, to % 256) };
        let time = Duration::from_millis(ms);
        let op = if rate { Transform::Slew(time) } else { Transform::Fade(time) };
        let (table, mut s) = one_edge(vec![op]);
        let t0 = Instant::now();
        let first = run(&table, &mut s, Value::from_raw(from, bits), t0);
        prop_assert_eq!(first.and_then(|v| v.raw()), Some((from, bits)));
        let target = Value::from_raw(to, bits);
        let started = run(&table, &mut s, target, t0);
        if from == to {
            prop_assert_eq!(started, Some(target));
            prop_assert_eq!(s.next_step(), None);
            return Ok(());
        }
        prop_assert_eq!(started, None);
        let (a, b) = (from as f64 / ((1u64 << bits) - 1) as f64, target.normalised());
        let span = if rate { time.mul_f64((b - a).abs()) } else { time };
        let mut now = t0;
        let mut last = a;
        let mut previous_at = t0;
        let mut done = None;
        for tick in ticks.iter().cycle().take(100_000) {
            now += Duration::from_millis(*tick);
            let due = s.next_step();
            let stepped = s.step(now).to_vec();
            if let Some(due) = due {
                prop_assert!(due <= previous_at + MOTION_STEP || due == t0 + span);
            }
            for (_, v) in stepped {
                let x = v.normalised();
                prop_assert!((x - last) * (b - a) >= 0.0, "went back: {} after {}", x, last);
                prop_assert!((x - b) * (a - b) >= 0.0, "past the target: {}", x);
                last = x;
                previous_at = now;
                if v.raw().is_some() {
                    prop_assert_eq!(v, target);
                    done = Some(now);
                }
            }
            if done.is_some() {
                break;
            }
        }
        let end = done.ok_or_else(|| TestCaseError::fail("never reached the target"))?;
        prop_assert!(end >= t0 + span);
        prop_assert_eq!(s.next_step(), None);
    }
}
