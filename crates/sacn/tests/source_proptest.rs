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
                        let floor = if *u == 4 { cfg.realtime_min_gap } else { cfg.min_gap };
                        prop_assert!(gap >= floor, "universe {} gap {:?} below limit", u, gap);
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
