//! Random schedules of changes, removals and re-adds against a [`Source`] polled exactly at its
//! deadlines, checking the transmission rules on the packets it produced.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use patchbay_sacn::wire::{MAX_PACKET_LEN, Packet};
use patchbay_sacn::{Cid, Source, SourceConfig, SourceError, TransmitKind, UniverseConfig};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Set { u: u16, slot: usize, value: u8 },
    Remove { u: u16 },
    Add { u: u16 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1u16..=4, 0usize..512, any::<u8>()).prop_map(|(u, slot, value)| Op::Set { u, slot, value }),
        1 => (1u16..=4).prop_map(|u| Op::Remove { u }),
        1 => (1u16..=4).prop_map(|u| Op::Add { u }),
    ]
}

#[derive(Debug)]
struct Rx {
    at: Instant,
    seq: u8,
    terminated: bool,
    slots: Vec<u8>,
}

fn universe_cfg(u: u16) -> UniverseConfig {
    UniverseConfig {
        realtime: u == 4,
        ..UniverseConfig::default()
    }
}

fn drain(src: &mut Source, now: Instant, log: &mut HashMap<u16, Vec<Rx>>) {
    let mut buf = [0u8; MAX_PACKET_LEN];
    while let Some(t) = src.poll_transmit(now, &mut buf) {
        let p = Packet::parse(&buf[..t.len]).expect("source built an invalid packet");
        if let (TransmitKind::Data { universe }, Packet::Data(d)) = (t.kind, p) {
            assert_eq!(universe, d.universe());
            log.entry(universe).or_default().push(Rx {
                at: now,
                seq: d.sequence(),
                terminated: d.options().stream_terminated(),
                slots: d.slots().to_vec(),
            });
        }
    }
}

fn advance(src: &mut Source, to: Instant, log: &mut HashMap<u16, Vec<Rx>>) {
    while let Some(at) = src.poll_timeout() {
        if at > to {
            break;
        }
        drain(src, at, log);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn transmission_rules_hold(ops in proptest::collection::vec((0u64..60_000, op()), 1..120)) {
        let cfg = SourceConfig::default();
        let t0 = Instant::now();
        let mut src = Source::new(Cid([5; 16]), "prop", cfg);
        for u in 1..=4 {
            src.add_universe(u, universe_cfg(u)).expect("add");
        }
        let mut log: HashMap<u16, Vec<Rx>> = HashMap::new();
        let mut now = t0;
        for (delta_us, op) in ops {
            let next = now + Duration::from_micros(delta_us);
            advance(&mut src, next, &mut log);
            now = next;
            match op {
                Op::Set { u, slot, value } => match src.set_slot(now, u, slot, value) {
                    Ok(_) | Err(SourceError::UnknownUniverse(_)) | Err(SourceError::Terminating(_)) => {}
                    Err(e) => panic!("{e}"),
                },
                Op::Remove { u } => {
                    let _ = src.remove_universe(now, u);
                }
                Op::Add { u } => {
                    let _ = src.add_universe(u, universe_cfg(u));
                }
            }
            drain(&mut src, now, &mut log);
        }
        let end = now + Duration::from_secs(3);
        advance(&mut src, end, &mut log);

        for (u, packets) in &log {
            // Split into sessions: each ends with its third Stream_Terminated packet.
            let mut session_start = 0;
            for i in 0..packets.len() {
                let p = &packets[i];
                if i > session_start {
                    let prev = &packets[i - 1];
                    prop_assert_eq!(p.seq, prev.seq.wrapping_add(1), "universe {} seq", u);
                    let gap = p.at - prev.at;
                    if !p.terminated {
                        if *u != 4 {
                            prop_assert!(gap >= cfg.min_gap, "universe {} gap {:?} below limit", u, gap);
                        }
                        prop_assert!(gap <= cfg.keepalive, "universe {} gap {:?} above keep-alive", u, gap);
                    } else if prev.terminated {
                        // The three termination packets carry the same (latest) data; it may
                        // be newer than the previous packet if a deferred change was pending.
                        prop_assert_eq!(&p.slots, &prev.slots);
                    }
                } else {
                    prop_assert_eq!(p.seq, 0, "universe {} session starts at 0", u);
                    prop_assert!(!p.terminated);
                }
                // Rate limit: rate-limited universes never have more than 44 packets in a 1 s
                // window (implied by the gap); realtime ones span n slots of `realtime_min_gap`
                // for any n + 1 packets, less the burst tolerance and one slot of unused
                // schedule. Repeats and keep-alives take slots too.
                if !p.terminated {
                    for (n, q) in packets[session_start..i].iter().rev().enumerate() {
                        let n = n as u32 + 1;
                        if *u == 4 {
                            let slot = cfg.realtime_min_gap;
                            prop_assert!(
                                p.at - q.at + cfg.realtime_tolerance + slot >= slot * n,
                                "universe {} exceeds the rate: {} packets in {:?}", u, n + 1, p.at - q.at
                            );
                        } else {
                            prop_assert!(
                                n < 44 || p.at - q.at > Duration::from_secs(1),
                                "universe {}: {} packets in {:?}", u, n + 1, p.at - q.at
                            );
                        }
                    }
                }
                let ends = p.terminated
                    && i >= 2
                    && packets[i - 2..=i].iter().all(|q| q.terminated)
                    && (i < 3 || !packets[i - 3].terminated || i - 3 < session_start);
                if ends {
                    session_start = i + 1;
                }
            }
            // A universe still transmitting has sent its final values.
            if let Ok(slots) = src.slots(*u)
                && let Some(last) = packets.last().filter(|p| !p.terminated)
            {
                prop_assert_eq!(&last.slots[..], &slots[..], "universe {} final state lost", u);
                prop_assert!(end - last.at <= cfg.keepalive);
            }
        }
    }
}

/// Drains at the first deadline, but wakes `late_us` after it (an event loop's rounding).
fn advance_late(src: &mut Source, to: Instant, late_us: u64, log: &mut HashMap<u16, Vec<Rx>>) {
    while let Some(at) = src.poll_timeout() {
        let wake = at + Duration::from_micros(late_us);
        if wake > to {
            break;
        }
        drain(src, wake, log);
    }
}

/// Changes at `deltas` (µs apart) to universe 1, each flushed at once, deadlines polled
/// `late_us` late; returns the packets, the change times and the last value.
fn run_one(deltas: &[u64], late_us: u64) -> (Vec<Rx>, Vec<Instant>, Instant) {
    let cfg = SourceConfig::default();
    let t0 = Instant::now();
    let mut src = Source::new(Cid([6; 16]), "prop", cfg);
    src.add_universe(1, UniverseConfig::default()).expect("add");
    let mut log: HashMap<u16, Vec<Rx>> = HashMap::new();
    let mut now = t0;
    let mut times = Vec::new();
    for (i, d) in deltas.iter().enumerate() {
        now += Duration::from_micros(*d);
        advance_late(&mut src, now, late_us, &mut log);
        // Two slots, so that every change's values are unique.
        let v = [(i % 255) as u8 + 1, (i / 255) as u8];
        src.set_slots(now, 1, &v).expect("set");
        drain(&mut src, now, &mut log);
        times.push(now);
    }
    advance_late(&mut src, now + Duration::from_secs(2), late_us, &mut log);
    (log.remove(&1).unwrap_or_default(), times, t0)
}

/// The packet that carried change `i` of [`run_one`], if any did.
fn carrying(packets: &[Rx], i: usize) -> Option<&Rx> {
    let v = [(i % 255) as u8 + 1, (i / 255) as u8];
    packets.iter().find(|p| p.slots[..2] == v)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Issue 14: changes at any times, deadlines polled on time: no two packets closer than the
    /// gap, never more than 44 in any 1 s window, and the last state out within one gap of the
    /// last change.
    #[test]
    fn strict_rate_limit_for_any_change_times(
        deltas in proptest::collection::vec(
            prop_oneof![0u64..2_000, 0u64..30_000, 0u64..1_200_000], 1..250),
    ) {
        let cfg = SourceConfig::default();
        let (packets, times, _) = run_one(&deltas, 0);
        for w in packets.windows(2) {
            prop_assert!(w[1].at - w[0].at >= cfg.min_gap, "gap {:?}", w[1].at - w[0].at);
        }
        for (i, p) in packets.iter().enumerate() {
            let n = packets[i..].iter().take_while(|q| q.at - p.at <= Duration::from_secs(1)).count();
            prop_assert!(n <= 44, "{} packets in 1 s", n);
        }
        let last = times.len() - 1;
        let out = carrying(&packets, last).expect("final state sent");
        prop_assert!(out.at - times[last] <= cfg.min_gap, "final state after {:?}", out.at - times[last]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Input at the limit rate (44 fps) with up to 11 ms of jitter, and wake-ups up to 1 ms
    /// late: a frame that comes early waits for its slot (the gap shrinks by no more than the
    /// wake-up's lateness), every frame sent goes out within a gap of its arrival, and at most
    /// one frame per second is given up to get back onto the input's phase.
    #[test]
    fn limit_rate_input_with_jitter_keeps_the_gap(
        jitter in proptest::collection::vec(0u64..11_000, 20..200),
        late_us in 0u64..1_000,
    ) {
        let cfg = SourceConfig::default();
        let gap_us = cfg.min_gap.as_nanos() as u64;
        // Offsets of frame i: i gaps plus its jitter, as deltas.
        let mut prev = 0u64;
        let deltas: Vec<u64> = jitter
            .iter()
            .enumerate()
            .map(|(i, j)| {
                let at = (i as u64 * gap_us) / 1000 + j;
                let d = at.saturating_sub(prev);
                prev = prev.max(at);
                d
            })
            .collect();
        let (packets, times, _) = run_one(&deltas, late_us);
        let late = Duration::from_micros(late_us);
        for w in packets.windows(2) {
            prop_assert!(w[1].at - w[0].at + late >= cfg.min_gap, "gap {:?}", w[1].at - w[0].at);
        }
        let mut lost = 0;
        for (i, t) in times.iter().enumerate() {
            match carrying(&packets, i) {
                Some(p) => prop_assert!(p.at - *t <= cfg.min_gap + late, "frame {} after {:?}", i, p.at - *t),
                None => lost += 1,
            }
        }
        let seconds = (times[times.len() - 1] - times[0]).as_secs() as usize;
        prop_assert!(lost <= 1 + seconds, "{} frames lost in {} s", lost, seconds);
    }

    /// Changes at any rate, wake-ups late by up to 1 ms: the latest values always go out within
    /// a gap of the last change (plus the lateness), and the gap shrinks by no more than the
    /// lateness.
    #[test]
    fn final_state_goes_out_at_the_next_allowed_moment(
        deltas in proptest::collection::vec(0u64..40_000, 1..150),
        late_us in 0u64..1_000,
    ) {
        let cfg = SourceConfig::default();
        let (packets, times, _) = run_one(&deltas, late_us);
        let late = Duration::from_micros(late_us);
        let last = times.len() - 1;
        let out = carrying(&packets, last).expect("final state sent");
        prop_assert!(out.at - times[last] <= cfg.min_gap + late, "final state after {:?}", out.at - times[last]);
        for w in packets.windows(2) {
            prop_assert!(w[1].at - w[0].at + late >= cfg.min_gap);
        }
    }
}
