//! Source scenarios on a fake clock: every instant is `t0 + offset`, the source never reads time.

use std::time::{Duration, Instant};

use super::*;
use crate::wire::{MAX_PACKET_LEN, Packet};

const CID: Cid = Cid([7; 16]);

fn ms(n: f64) -> Duration {
    Duration::from_secs_f64(n / 1000.0)
}

#[derive(Debug, Clone)]
struct Sent {
    at: Instant,
    kind: TransmitKind,
    bytes: Vec<u8>,
}

impl Sent {
    fn data(&self) -> crate::wire::DataPacket<'_> {
        match Packet::parse(&self.bytes) {
            Ok(Packet::Data(d)) => d,
            other => panic!("expected data packet, got {other:?}"),
        }
    }
}

fn drain(src: &mut Source, now: Instant, out: &mut Vec<Sent>) {
    let mut buf = [0u8; MAX_PACKET_LEN];
    let mut n = 0;
    while let Some(t) = src.poll_transmit(now, &mut buf) {
        let bytes = buf[..t.len].to_vec();
        assert!(
            Packet::parse(&bytes).is_ok(),
            "source built an invalid packet"
        );
        out.push(Sent {
            at: now,
            kind: t.kind,
            bytes,
        });
        n += 1;
        assert!(n < 100_000, "poll_transmit never ran dry");
    }
}

/// Sleeps from deadline to deadline as an ideal event loop would, up to `until`.
fn run_until(src: &mut Source, until: Instant, out: &mut Vec<Sent>) {
    while let Some(at) = src.poll_timeout() {
        if at > until {
            break;
        }
        drain(src, at, out);
    }
}

fn data_only(v: &[Sent]) -> Vec<&Sent> {
    v.iter()
        .filter(|s| matches!(s.kind, TransmitKind::Data { .. }))
        .collect()
}

/// The limiter's guarantee for a caller that polls on time: no two packets closer than
/// `min_gap`, so no closed 1 s window holds more than 44.
fn assert_rate_bound(times: &[Instant], cfg: &SourceConfig) {
    assert_rate_bound_late(times, cfg, Duration::ZERO);
}

/// As [`assert_rate_bound`] for a caller that polls up to `late` after a deadline: a packet
/// polled late keeps its slot (up to `late_allowance`), so the next may follow it `late` sooner.
fn assert_rate_bound_late(times: &[Instant], cfg: &SourceConfig, late: Duration) {
    for (i, w) in times.windows(2).enumerate() {
        assert!(
            w[1] - w[0] + late >= cfg.min_gap,
            "packets {i} and {} {:?} apart",
            i + 1,
            w[1] - w[0]
        );
    }
    if late.is_zero() {
        for (i, t) in times.iter().enumerate() {
            let n = times[i..]
                .iter()
                .take_while(|u| **u - *t <= Duration::from_secs(1))
                .count();
            assert!(n <= 44, "{n} packets in the second after packet {i}");
        }
    }
}

fn source() -> Source {
    Source::new(CID, "patchbay test", SourceConfig::default())
}

#[test]
fn nothing_is_sent_before_the_first_change() {
    let t0 = Instant::now();
    let mut src = source();
    src.add_universe(1, UniverseConfig::default()).expect("add");
    let mut out = Vec::new();
    run_until(&mut src, t0 + ms(5000.0), &mut out);
    drain(&mut src, t0 + ms(5000.0), &mut out);
    // Not even discovery: it lists only universes that are transmitting.
    assert!(out.is_empty(), "{out:?}");
    // Setting the same (zero) values is no change either.
    assert_eq!(src.set_slots(t0, 1, &[0; 512]), Ok(false));
    drain(&mut src, t0 + ms(5000.0), &mut out);
    assert!(out.is_empty());
}

/// Discovery lists exactly the universes whose stream is active: started by a first change,
/// not terminated (ETC's source does the same; MIDIMonster lists every configured output).
#[test]
fn discovery_lists_only_the_universes_being_transmitted() {
    let t0 = Instant::now();
    let mut src = source();
    for u in [5, 6, 7] {
        src.add_universe(u, UniverseConfig::default()).expect("add");
    }
    let listed = |out: &[Sent]| -> Vec<Vec<u16>> {
        out.iter()
            .filter_map(|s| match Packet::parse(&s.bytes) {
                Ok(Packet::Discovery(d)) => Some(d.universes().collect()),
                _ => None,
            })
            .collect()
    };
    let mut out = Vec::new();
    src.handle_timeout(t0);
    drain(&mut src, t0, &mut out);
    assert_eq!(
        src.poll_timeout(),
        None,
        "no discovery before any universe starts"
    );
    // The first change starts universe 6: the same flush announces it, after its data.
    src.set_slot(t0 + ms(100.0), 6, 0, 1).expect("set");
    drain(&mut src, t0 + ms(100.0), &mut out);
    assert!(matches!(
        out.last().map(|s| s.kind),
        Some(TransmitKind::Discovery { page: 0 })
    ));
    assert_eq!(listed(&out), [vec![6]]);
    // Universe 7 starts; the next round (10 s after the first) lists both.
    src.set_slot(t0 + ms(2000.0), 7, 0, 1).expect("set");
    out.clear();
    run_until(&mut src, t0 + ms(10_100.0), &mut out);
    assert_eq!(listed(&out), [vec![6, 7]]);
    // Universe 6 is removed: from its first termination packet on it is no longer listed.
    src.remove_universe(t0 + ms(10_200.0), 6).expect("remove");
    out.clear();
    run_until(&mut src, t0 + ms(20_200.0), &mut out);
    assert_eq!(listed(&out), [vec![7]]);
    // A universe removed before it ever started is never listed; with nothing left, silence.
    src.remove_universe(t0 + ms(20_300.0), 5).expect("remove");
    src.remove_universe(t0 + ms(20_300.0), 7).expect("remove");
    out.clear();
    run_until(&mut src, t0 + ms(40_000.0), &mut out);
    assert!(listed(&out).is_empty());
    assert!(src.is_idle());
}

#[test]
fn change_repeats_three_times_then_keepalive_within_one_second() {
    let t0 = Instant::now();
    let cfg = SourceConfig::default();
    let mut src = source();
    src.add_universe(2, UniverseConfig::default()).expect("add");
    assert_eq!(src.set_slot(t0, 2, 0, 255), Ok(true));
    let mut out = Vec::new();
    drain(&mut src, t0, &mut out);
    run_until(&mut src, t0 + ms(10_000.0), &mut out);
    let data = data_only(&out);
    assert_eq!(data[0].at, t0);
    for (i, s) in data.iter().enumerate() {
        assert_eq!(usize::from(s.data().sequence()), i);
        assert_eq!(s.data().slots()[0], 255);
        assert_eq!(s.data().universe(), 2);
        assert_eq!(s.data().slots().len(), 512);
    }
    // Three repeats: the first once the next slot's tolerance has passed (a late frame of a
    // 44 fps stream would have come by then), then one min_gap apart.
    assert_eq!(data[1].at - data[0].at, cfg.min_gap + cfg.tolerance());
    for i in 2..=3 {
        assert_eq!(data[i].at - data[i - 1].at, cfg.min_gap, "repeat {i}");
    }
    assert!((cfg.min_gap.as_secs_f64() - 1.0 / 44.0).abs() < 1e-6);
    // Then keep-alives in the 800..=1000 ms window.
    assert!(data.len() > 10);
    for w in data[3..].windows(2) {
        let gap = w[1].at - w[0].at;
        assert!(
            gap >= ms(800.0) && gap <= ms(1000.0),
            "keep-alive gap {gap:?}"
        );
    }
}

#[test]
fn burst_is_rate_limited_and_coalesced_into_one_deferred_packet() {
    let t0 = Instant::now();
    let cfg = SourceConfig::default();
    let mut src = source();
    src.add_universe(3, UniverseConfig::default()).expect("add");
    let mut out = Vec::new();
    // 100 changes within 10 ms, draining after each as a caller would after each batch.
    for i in 0..100u8 {
        let now = t0 + Duration::from_micros(100 * u64::from(i));
        assert_eq!(src.set_slot(now, 3, 0, i + 1), Ok(true));
        src.set_slot(now, 3, 511, i).expect("set");
        drain(&mut src, now, &mut out);
    }
    let immediate = data_only(&out);
    assert_eq!(immediate.len(), 1, "only the first change goes out at once");
    assert_eq!(immediate[0].data().slots()[0], 1);
    // The first packet took the slot at t0; the next is one gap later.
    let due = t0 + cfg.min_gap;
    assert_eq!(src.poll_timeout(), Some(due));
    run_until(&mut src, t0 + ms(30.0), &mut out);
    let data = data_only(&out);
    assert_eq!(data.len(), 2, "one deferred packet");
    assert_eq!(data[1].at, due);
    assert_eq!(
        data[1].data().slots()[0],
        100,
        "deferred packet carries the last values"
    );
    assert_eq!(data[1].data().slots()[511], 99);
    assert_eq!(data[1].data().sequence(), 1);
}

#[test]
fn continuous_changes_never_exceed_44_packets_per_second() {
    let t0 = Instant::now();
    let mut src = source();
    src.add_universe(4, UniverseConfig::default()).expect("add");
    let mut out = Vec::new();
    for i in 0..2000u32 {
        let now = t0 + Duration::from_micros(500 * u64::from(i));
        src.set_slot(now, 4, 0, (i % 251) as u8).expect("set");
        drain(&mut src, now, &mut out);
        // Also honour deadlines between changes.
        if let Some(at) = src.poll_timeout()
            && at < now + Duration::from_micros(500)
        {
            drain(&mut src, at, &mut out);
        }
    }
    let data = data_only(&out);
    let cfg = SourceConfig::default();
    let times: Vec<Instant> = data.iter().map(|s| s.at).collect();
    assert_rate_bound(&times, &cfg);
    // Under sustained overload the spacing is exactly one gap from the first packet on.
    for w in times.windows(2) {
        assert_eq!(w[1] - w[0], cfg.min_gap);
    }
    let first_second = data.iter().filter(|s| s.at < t0 + ms(1000.0)).count();
    assert_eq!(first_second, 44, "{first_second} packets in 1 s");
    let second_second = data
        .iter()
        .filter(|s| s.at >= t0 + ms(1000.0) && s.at < t0 + ms(2000.0))
        .count();
    assert!(
        second_second <= 44,
        "{second_second} packets in the next second"
    );
    // The last change (at 999.5 ms) goes out at the next slot with the latest value.
    run_until(&mut src, t0 + ms(1100.0), &mut out);
    let last = data_only(&out)
        .into_iter()
        .find(|s| s.data().slots()[0] == (1999 % 251) as u8);
    let last = last.expect("final state sent");
    assert!(last.at - (t0 + ms(999.5)) <= cfg.min_gap);
}

/// Issue 14: input jitter must not shorten the gap. 44 fps frames early or late by up to 5 ms,
/// wake-ups up to 0.9 ms late: a frame that comes early waits for its slot (never two packets
/// closer than the gap, less the wake-up's lateness), no later than the jitter's range; and
/// since such an input is not steady, no frame is given up to catch up with it.
#[test]
fn jittery_input_at_the_limit_rate_keeps_the_gap_and_loses_nothing() {
    let t0 = Instant::now();
    let cfg = SourceConfig::default();
    let mut src = source();
    src.add_universe(4, UniverseConfig::default()).expect("add");
    let mut out = Vec::new();
    let mut arrivals = Vec::new();
    for i in 0..440u32 {
        let jitter_us = i64::from((i * 7919) % 10_001) - 5_000;
        let nominal = t0 + cfg.min_gap * i + Duration::from_millis(10);
        let now = if jitter_us >= 0 {
            nominal + Duration::from_micros(jitter_us.unsigned_abs())
        } else {
            nominal - Duration::from_micros(jitter_us.unsigned_abs())
        };
        if let Some(at) = src.poll_timeout()
            && at < now
        {
            drain(
                &mut src,
                (at + Duration::from_micros(900)).min(now),
                &mut out,
            );
        }
        // Two slots so that every frame's values are unique.
        let v = [(i % 250) as u8 + 1, (i / 250) as u8];
        src.set_slots(now, 4, &v).expect("set");
        drain(&mut src, now, &mut out);
        arrivals.push(now);
    }
    run_until(&mut src, t0 + ms(11_000.0), &mut out);
    let data = data_only(&out);
    let sent: Vec<Instant> = data.iter().map(|s| s.at).collect();
    assert_rate_bound_late(&sent, &cfg, Duration::from_micros(900));
    let mut lost = 0;
    for (i, &arrival) in arrivals.iter().enumerate() {
        let v = [(i % 250) as u8 + 1, (i / 250) as u8];
        match data.iter().find(|s| s.data().slots()[..2] == v) {
            // Within the jitter's range (plus the wake-up's lateness) of its arrival.
            Some(s) => assert!(s.at - arrival <= ms(10.9), "frame {i}"),
            None => lost += 1,
        }
    }
    assert_eq!(lost, 0, "frames lost in 10 s");
    assert_eq!(
        data.last().map(|s| s.data().slots()[0]),
        Some((439 % 250) as u8 + 1)
    );
}

#[test]
fn realtime_sends_every_change_but_not_faster_than_the_ceiling() {
    let t0 = Instant::now();
    let mut src = source();
    let scfg = SourceConfig::default();
    let cfg = UniverseConfig {
        realtime: true,
        ..UniverseConfig::default()
    };
    src.add_universe(5, cfg).expect("add");
    let mut out = Vec::new();
    // A change every 1 ms: each one goes out at once.
    for i in 0..10u8 {
        let now = t0 + ms(f64::from(i));
        src.set_slot(now, 5, 0, i + 1).expect("set");
        drain(&mut src, now, &mut out);
    }
    assert_eq!(data_only(&out).len(), 10);
    // Three changes back to back (a sender catching up): all go out at once.
    out.clear();
    let t1 = t0 + ms(50.0);
    for i in 0..3u8 {
        src.set_slot(t1, 5, 0, 50 + i).expect("set");
        drain(&mut src, t1, &mut out);
    }
    assert_eq!(data_only(&out).len(), 3);
    // Changes every 50 µs for 20 ms: the burst tolerance, then one per 250 µs slot, the
    // latest values last.
    out.clear();
    let t2 = t0 + ms(100.0);
    for i in 0..400u32 {
        let now = t2 + Duration::from_micros(50 * u64::from(i));
        if let Some(at) = src.poll_timeout()
            && at <= now
        {
            drain(&mut src, at, &mut out);
        }
        src.set_slot(now, 5, 0, (i % 200) as u8 + 1).expect("set");
        drain(&mut src, now, &mut out);
    }
    run_until(&mut src, t2 + ms(21.0), &mut out);
    let data = data_only(&out);
    let times: Vec<Instant> = data.iter().map(|s| s.at).collect();
    let gap = scfg.realtime_min_gap;
    for i in 0..times.len() {
        for j in i + 1..times.len() {
            let n = u32::try_from(j - i).expect("count");
            let slack = scfg.realtime_tolerance + gap;
            assert!(times[j] - times[i] + slack >= gap * n);
        }
    }
    // 20 ms of slots plus the burst allowance, not the 400 changes.
    let in_burst = data.iter().filter(|s| s.at < t2 + ms(20.0)).count();
    assert!((80..=87).contains(&in_burst), "{in_burst}");
    assert_eq!(
        data.last().map(|s| s.data().slots()[0]),
        Some((399 % 200) as u8 + 1)
    );
}

#[test]
fn termination_sends_three_packets_with_consecutive_sequence_and_last_data() {
    let t0 = Instant::now();
    let mut src = source();
    src.add_universe(6, UniverseConfig::default()).expect("add");
    src.add_universe(8, UniverseConfig::default()).expect("add");
    src.set_slots(t0, 6, &[1, 2, 3]).expect("set");
    let mut out = Vec::new();
    run_until(&mut src, t0 + ms(50.0), &mut out);
    let next_seq = src.next_sequence(6).expect("seq");
    out.clear();
    let t1 = t0 + ms(60.0);
    src.remove_universe(t1, 6).expect("remove");
    assert_eq!(src.set_slot(t1, 6, 0, 9), Err(SourceError::Terminating(6)));
    // Universe 8 never sent anything: it is simply forgotten, no termination packets.
    src.remove_universe(t1, 8).expect("remove");
    assert_eq!(src.slots(8), Err(SourceError::UnknownUniverse(8)));
    drain(&mut src, t1, &mut out);
    let data = data_only(&out);
    assert_eq!(data.len(), 3);
    for (i, s) in data.iter().enumerate() {
        let d = s.data();
        assert!(d.options().stream_terminated());
        assert_eq!(d.universe(), 6);
        assert_eq!(d.sequence(), next_seq.wrapping_add(i as u8));
        assert_eq!(&d.slots()[..4], &[1, 2, 3, 0]);
    }
    assert!(src.is_idle());
    assert_eq!(src.poll_timeout(), None, "nothing left, not even discovery");
    // The universe can be added again afterwards and starts fresh.
    src.add_universe(6, UniverseConfig::default())
        .expect("re-add");
    assert_eq!(src.next_sequence(6), Ok(0));
}

#[test]
fn terminate_all_stops_every_active_universe() {
    let t0 = Instant::now();
    let mut src = source();
    for u in 1..=5 {
        src.add_universe(u, UniverseConfig::default()).expect("add");
        src.set_slot(t0, u, 0, 1).expect("set");
    }
    let mut out = Vec::new();
    run_until(&mut src, t0 + ms(2000.0), &mut out);
    out.clear();
    let t1 = t0 + ms(2500.0);
    src.terminate_all(t1);
    drain(&mut src, t1, &mut out);
    let data = data_only(&out);
    assert_eq!(data.len(), 15);
    assert!(data.iter().all(|s| s.data().options().stream_terminated()));
    assert!(src.is_idle());
}

#[test]
fn discovery_pages_a_thousand_universes() {
    let t0 = Instant::now();
    let mut src = source();
    // Added in descending order: the list must still come out ascending.
    for u in (1..=1000u16).rev() {
        src.add_universe(u * 3, UniverseConfig::default())
            .expect("add");
        src.set_slot(t0, u * 3, 0, 1).expect("start");
    }
    let mut out = Vec::new();
    drain(&mut src, t0, &mut out);
    out.retain(|s| !matches!(s.kind, TransmitKind::Data { .. }));
    let pages: Vec<_> = out
        .iter()
        .map(|s| match Packet::parse(&s.bytes) {
            Ok(Packet::Discovery(d)) => {
                assert_eq!(s.kind, TransmitKind::Discovery { page: d.page() });
                (d.page(), d.last_page(), d.universes().collect::<Vec<_>>())
            }
            other => panic!("expected discovery, got {other:?}"),
        })
        .collect();
    assert_eq!(pages.len(), 2);
    assert_eq!((pages[0].0, pages[0].1, pages[0].2.len()), (0, 1, 512));
    assert_eq!((pages[1].0, pages[1].1, pages[1].2.len()), (1, 1, 488));
    let all: Vec<u16> = pages.iter().flat_map(|p| p.2.iter().copied()).collect();
    assert_eq!(all, (1..=1000u16).map(|u| u * 3).collect::<Vec<_>>());
    // Next round 10 s later, not before.
    let discovery = |out: &[Sent]| {
        out.iter()
            .filter(|s| matches!(s.kind, TransmitKind::Discovery { .. }))
            .count()
    };
    drain(&mut src, t0 + ms(9999.0), &mut out);
    assert_eq!(discovery(&out), 2);
    run_until(&mut src, t0 + ms(10_000.0), &mut out);
    assert_eq!(discovery(&out), 4);
}

#[test]
fn discovery_of_exactly_512_universes_is_one_page() {
    let t0 = Instant::now();
    let mut src = source();
    for u in 1..=512 {
        src.add_universe(u, UniverseConfig::default()).expect("add");
        src.set_slot(t0, u, 0, 1).expect("start");
    }
    let mut out = Vec::new();
    drain(&mut src, t0, &mut out);
    out.retain(|s| !matches!(s.kind, TransmitKind::Data { .. }));
    assert_eq!(out.len(), 1);
    let Ok(Packet::Discovery(d)) = Packet::parse(&out[0].bytes) else {
        panic!()
    };
    assert_eq!((d.page(), d.last_page(), d.universe_count()), (0, 0, 512));
}

#[test]
fn sync_packet_follows_the_data_packets_of_a_flush() {
    let t0 = Instant::now();
    let mut src = source();
    let synced = UniverseConfig {
        sync_address: 7,
        ..UniverseConfig::default()
    };
    src.add_universe(10, synced.clone()).expect("add");
    src.add_universe(11, synced).expect("add");
    src.add_universe(12, UniverseConfig::default())
        .expect("add");
    let mut out = Vec::new();
    src.handle_timeout(t0);
    drain(&mut src, t0, &mut out);
    assert!(
        out.is_empty(),
        "nothing before the first change, not even discovery"
    );
    for u in 10..=12 {
        src.set_slot(t0, u, 0, 50).expect("set");
    }
    drain(&mut src, t0, &mut out);
    let kinds: Vec<_> = out.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            TransmitKind::Data { universe: 10 },
            TransmitKind::Data { universe: 11 },
            TransmitKind::Data { universe: 12 },
            TransmitKind::Sync { sync_address: 7 },
            TransmitKind::Discovery { page: 0 },
        ]
    );
    assert_eq!(out[0].data().sync_address(), 7);
    assert_eq!(out[2].data().sync_address(), 0);
    // Repeats and keep-alives are followed by sync packets too, with their own sequence.
    run_until(&mut src, t0 + ms(2000.0), &mut out);
    let syncs: Vec<u8> = out
        .iter()
        .filter_map(|s| match Packet::parse(&s.bytes) {
            Ok(Packet::Sync(p)) => Some(p.sequence()),
            _ => None,
        })
        .collect();
    // Initial flush + 3 repeats + 2 keep-alives within 2 s.
    assert_eq!(syncs, [0, 1, 2, 3, 4, 5]);
    for (i, s) in out.iter().enumerate() {
        if matches!(s.kind, TransmitKind::Sync { .. }) {
            assert!(matches!(out[i - 1].kind, TransmitKind::Data { .. }));
        }
    }
}

#[test]
fn sequence_numbers_wrap_from_255_to_0() {
    let t0 = Instant::now();
    let mut src = source();
    src.add_universe(9, UniverseConfig::default()).expect("add");
    let mut out = Vec::new();
    for i in 0..300u32 {
        let now = t0 + ms(30.0 * f64::from(i));
        src.set_slot(now, 9, 0, (i % 2) as u8 + 1).expect("set");
        drain(&mut src, now, &mut out);
    }
    let seqs: Vec<u8> = data_only(&out)
        .iter()
        .map(|s| s.data().sequence())
        .collect();
    assert_eq!(seqs.len(), 300);
    for (i, s) in seqs.iter().enumerate() {
        assert_eq!(usize::from(*s), i % 256);
    }
}

#[test]
fn per_address_priority_stream_uses_0xdd_and_shares_the_sequence() {
    let t0 = Instant::now();
    let mut src = source();
    let mut pap = [0u8; 512];
    pap[0] = 150;
    let cfg = UniverseConfig {
        per_address_priority: Some(pap),
        ..UniverseConfig::default()
    };
    src.add_universe(20, cfg).expect("add");
    src.set_slot(t0, 20, 0, 77).expect("set");
    let mut out = Vec::new();
    drain(&mut src, t0, &mut out);
    let data = data_only(&out);
    assert_eq!(data.len(), 2);
    let codes: Vec<(u8, u8, u8)> = data
        .iter()
        .map(|s| {
            (
                s.data().start_code(),
                s.data().sequence(),
                s.data().slots()[0],
            )
        })
        .collect();
    assert_eq!(codes, [(0x00, 0, 77), (0xDD, 1, 150)]);
}

#[test]
fn invalid_configuration_is_refused() {
    let mut src = source();
    let cfg = UniverseConfig::default();
    assert_eq!(
        src.add_universe(0, cfg.clone()),
        Err(SourceError::UniverseOutOfRange(0))
    );
    assert_eq!(
        src.add_universe(64214, cfg.clone()),
        Err(SourceError::UniverseOutOfRange(64214))
    );
    let bad = UniverseConfig {
        priority: 201,
        ..cfg.clone()
    };
    assert_eq!(
        src.add_universe(1, bad),
        Err(SourceError::PriorityOutOfRange(201))
    );
    src.add_universe(1, cfg.clone()).expect("add");
    assert_eq!(
        src.add_universe(1, cfg),
        Err(SourceError::UniverseExists(1))
    );
    let t0 = Instant::now();
    assert_eq!(
        src.set_slot(t0, 2, 0, 1),
        Err(SourceError::UnknownUniverse(2))
    );
    assert_eq!(
        src.set_slot(t0, 1, 512, 1),
        Err(SourceError::TooManySlots(513))
    );
}

#[test]
fn a_thousand_universes_stay_cheap_and_bounded() {
    let t0 = Instant::now();
    let mut src = source();
    for u in 1..=1000 {
        src.add_universe(u, UniverseConfig::default()).expect("add");
    }
    let mut out = Vec::new();
    // Every universe changes every 5 ms for 200 ms, then idles for 3 s.
    for step in 0..40u32 {
        let now = t0 + ms(5.0 * f64::from(step));
        for u in 1..=1000 {
            src.set_slot(now, u, 0, (step % 200) as u8).expect("set");
        }
        run_until(&mut src, now, &mut out);
        drain(&mut src, now, &mut out);
        assert!(
            src.heap.len() <= 4 * 1000 + 64 + 1,
            "heap {}",
            src.heap.len()
        );
    }
    run_until(&mut src, t0 + ms(3200.0), &mut out);
    let data = data_only(&out);
    // Per universe: ≤ 44 packets/s while changing, then repeats and keep-alives.
    let u1: Vec<_> = data
        .iter()
        .filter(|s| s.kind == TransmitKind::Data { universe: 1 })
        .collect();
    for w in u1.windows(2) {
        assert!(w[1].at - w[0].at <= ms(1000.0));
    }
    let times: Vec<Instant> = u1.iter().map(|s| s.at).collect();
    assert_rate_bound(&times, &SourceConfig::default());
    assert_eq!(u1.last().map(|s| s.data().slots()[0]), Some(39));
}

#[test]
fn zero_durations_do_not_make_poll_transmit_spin() {
    let t0 = Instant::now();
    let cfg = SourceConfig {
        min_gap: Duration::ZERO,
        keepalive: Duration::ZERO,
        realtime_min_gap: Duration::ZERO,
        ..SourceConfig::default()
    };
    let mut src = Source::new(CID, "x", cfg);
    src.add_universe(1, UniverseConfig::default()).expect("add");
    src.set_slot(t0, 1, 0, 1).expect("set");
    let mut out = Vec::new();
    drain(&mut src, t0, &mut out);
    // The change and three repeats (zero gap) plus discovery; keep-alive waits ≥ 1 ms.
    assert_eq!(data_only(&out).len(), 4);
    assert_eq!(src.poll_timeout(), Some(t0 + ms(1.0)));
}

#[test]
fn name_is_cut_to_63_bytes_at_a_char_boundary() {
    let src = Source::new(CID, &"ü".repeat(40), SourceConfig::default());
    assert_eq!(src.name().len(), 62);
    assert!(format!("{src:?}").len() < 300);
}

/// A 44 fps stream whose schedule fell behind (a stalled frame, or a first packet at another
/// phase) gets back onto the input's phase by giving up a frame once the lag has stood for a
/// second (a frame stalled beyond the repeat delay also loses its slot to the first repeat):
/// frames within that second are deferred, all later frames go out as they arrive, and never
/// two packets closer than the gap.
#[test]
fn schedule_recovers_the_input_phase_after_a_stall() {
    let cfg = SourceConfig::default();
    for (stall_frame, stall) in [(10u32, 18.0), (10, 21.0), (0, 3.0), (5, 12.0), (60, 8.0)] {
        let t0 = Instant::now();
        let mut src = source();
        src.add_universe(4, UniverseConfig::default()).expect("add");
        let mut out = Vec::new();
        // A packet at t0 at another phase than the frames (e.g. after the sampling period).
        src.set_slot(t0, 4, 1, 1).expect("set");
        drain(&mut src, t0, &mut out);
        let mut late = Vec::new();
        for i in 0..200u32 {
            let mut now = t0 + ms(7.0) + cfg.min_gap * i;
            if i == stall_frame {
                now += ms(stall);
            }
            if let Some(at) = src.poll_timeout()
                && at < now
            {
                drain(&mut src, at, &mut out);
            }
            src.set_slot(now, 4, 0, (i % 250) as u8 + 1).expect("set");
            drain(&mut src, now, &mut out);
            let last = *data_only(&out).last().expect("sent");
            if last.data().slots()[0] != (i % 250) as u8 + 1 {
                late.push(i);
            }
        }
        run_until(&mut src, t0 + ms(5000.0), &mut out);
        // Frames 0.. wait behind the first packet's phase for a second; frames after the stall
        // wait behind the stalled frame's for a second.
        let settled = (stall_frame + 47).max(46);
        assert!(
            late.iter().all(|&i| i < settled),
            "stall {stall} ms at {stall_frame}: deferred {late:?}"
        );
        let data = data_only(&out);
        let lost: Vec<u32> = (0..200u32)
            .filter(|i| {
                let v = (i % 250) as u8 + 1;
                !data.iter().any(|s| s.data().slots()[0] == v)
            })
            .collect();
        assert!(
            lost.len() <= 3,
            "stall {stall} ms at {stall_frame}: lost {lost:?}"
        );
        let times: Vec<Instant> = data.iter().map(|s| s.at).collect();
        assert_rate_bound(&times, &cfg);
    }
}

/// Issue 9: after an overload the schedule runs exactly on time. A 44 fps input whose frames then
/// arrive just before each slot must not stay deferred for as long as it keeps that phase: once
/// the lag has stood for a second the stream gives up one frame and is on the input's phase.
#[test]
fn schedule_moves_onto_the_input_phase_after_an_overload() {
    let cfg = SourceConfig::default();
    for before_window in [2.0, 8.0, 11.0] {
        let t0 = Instant::now();
        let mut src = source();
        src.add_universe(4, UniverseConfig::default()).expect("add");
        let mut out = Vec::new();
        // 2 s of changes every 0.5 ms.
        for i in 0..4000u32 {
            let now = t0 + Duration::from_micros(500 * u64::from(i));
            if let Some(at) = src.poll_timeout()
                && at < now
            {
                drain(&mut src, at, &mut out);
            }
            src.set_slot(now, 4, 0, 1 + (i % 200) as u8).expect("set");
            drain(&mut src, now, &mut out);
        }
        let last = data_only(&out).last().expect("sent").at;
        // Frames at 44 fps, each `before_window` ms before the window the overload's schedule
        // gives it (the previous packet's time + one gap).
        let first = last + cfg.min_gap - ms(before_window);
        let mut deferred = Vec::new();
        let mut lost = Vec::new();
        for i in 0..100u32 {
            let arrival = first + cfg.min_gap * i;
            let v = 201 + (i % 50) as u8;
            if let Some(at) = src.poll_timeout()
                && at < arrival
            {
                drain(&mut src, at, &mut out);
            }
            src.set_slot(arrival, 4, 0, v).expect("set");
            drain(&mut src, arrival, &mut out);
            if let Some(at) = src.poll_timeout()
                && at < arrival + cfg.min_gap
            {
                drain(&mut src, at, &mut out);
            }
            match data_only(&out)
                .into_iter()
                .find(|s| s.at >= arrival && s.data().slots()[0] == v)
            {
                Some(s) if s.at > arrival => deferred.push(i),
                Some(_) => {}
                None => lost.push(i),
            }
        }
        assert!(
            deferred.iter().all(|&i| i < 46),
            "{before_window} ms before the window: frames {deferred:?} deferred"
        );
        assert!(
            lost.len() == 1 && (43..=46).contains(&lost[0]),
            "{before_window} ms before the window: lost {lost:?}"
        );
        let after: Vec<Instant> = data_only(&out)
            .iter()
            .map(|s| s.at)
            .filter(|&t| t >= first)
            .collect();
        assert_rate_bound(&after, &cfg);
    }
}
