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
                            let floor = cfg.min_gap / 2;
                            prop_assert!(gap >= floor, "universe {} gap {:?} below limit", u, gap);
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
                // Rate limit: any n + 1 packets of a session span n slots minus the tolerance
                // and one slot of credit (realtime: slots of `realtime_min_gap`; repeats and
                // keep-alives take slots too).
                // Rate-limited streams also move onto their input's phase by up to the tolerance
                // once per second: one more tolerance per second the packets span, and one.
                let (slot, tol) = if *u == 4 {
                    (cfg.realtime_min_gap, cfg.realtime_tolerance + cfg.realtime_min_gap)
                } else {
                    (cfg.min_gap, cfg.jitter_tolerance + cfg.min_gap)
                };
                if !p.terminated {
                    for (n, q) in packets[session_start..i].iter().rev().enumerate() {
                        let n = n as u32 + 1;
                        let moves = if *u == 4 { 0 } else { 1 + (p.at - q.at).as_secs() as u32 };
                        prop_assert!(
                            p.at - q.at + tol + cfg.jitter_tolerance * moves >= slot * n,
                            "universe {} exceeds the rate: {} packets in {:?}", u, n + 1, p.at - q.at
                        );
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Input at exactly the limit rate (44 fps) with jitter within the tolerance, and late
    /// wake-ups: every frame goes out when it arrives, none is coalesced, and the rate bound
    /// still holds.
    #[test]
    fn limit_rate_input_with_jitter_is_sent_frame_for_frame(
        jitter in proptest::collection::vec(0u64..11_000, 20..200),
        late_us in 0u64..1_000,
    ) {
        let cfg = SourceConfig::default();
        let t0 = Instant::now();
        let mut src = Source::new(Cid([6; 16]), "prop", cfg);
        src.add_universe(1, UniverseConfig::default()).expect("add");
        let mut log: HashMap<u16, Vec<Rx>> = HashMap::new();
        for (i, j) in jitter.iter().enumerate() {
            let now = t0 + cfg.min_gap * (i as u32) + Duration::from_micros(*j);
            advance_late(&mut src, now, late_us, &mut log);
            let value = (i % 255) as u8 + 1;
            src.set_slot(now, 1, 0, value).expect("set");
            drain(&mut src, now, &mut log);
            let last = log.get(&1).and_then(|v| v.last()).expect("sent");
            prop_assert_eq!(last.slots[0], value, "frame {} coalesced or deferred", i);
            prop_assert_eq!(last.at, now);
        }
    }

    /// Changes at any rate, wake-ups late by up to 1 ms: the latest values always go out at the
    /// next allowed moment (at most one slot after the last change, plus the lateness), and the
    /// rate bound holds.
    #[test]
    fn final_state_goes_out_at_the_next_allowed_moment(
        deltas in proptest::collection::vec(0u64..40_000, 1..150),
        late_us in 0u64..1_000,
    ) {
        let cfg = SourceConfig::default();
        let t0 = Instant::now();
        let mut src = Source::new(Cid([6; 16]), "prop", cfg);
        src.add_universe(1, UniverseConfig::default()).expect("add");
        let mut log: HashMap<u16, Vec<Rx>> = HashMap::new();
        let mut now = t0;
        let mut value = 0u8;
        for d in deltas {
            now += Duration::from_micros(d);
            advance_late(&mut src, now, late_us, &mut log);
            value = value % 254 + 1;
            src.set_slot(now, 1, 0, value).expect("set");
            drain(&mut src, now, &mut log);
        }
        let last_change = now;
        advance_late(&mut src, now + Duration::from_secs(2), late_us, &mut log);
        let packets = &log[&1];
        let first = packets.iter().find(|p| p.slots[0] == value && p.at >= last_change);
        let first = first.expect("final state sent");
        prop_assert!(
            first.at - last_change <= cfg.min_gap + Duration::from_micros(late_us),
            "final state after {:?}", first.at - last_change
        );
        for (i, p) in packets.iter().enumerate() {
            for (n, q) in packets[..i].iter().rev().enumerate() {
                let n = n as u32 + 1;
                let moves = 1 + (p.at - q.at).as_secs() as u32;
                prop_assert!(
                    p.at - q.at + cfg.jitter_tolerance * (1 + moves) + cfg.min_gap
                        >= cfg.min_gap * n
                );
            }
            if i > 0 {
                prop_assert!(p.at - packets[i - 1].at >= cfg.min_gap / 2);
            }
        }
    }
}
