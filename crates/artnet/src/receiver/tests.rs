//! Receiver behaviour with a fake clock: merge, short packets, the third source, timeouts,
//! sequence numbers, ArtSync, counters.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::wire::{DmxHeader, DropReason, OpClass, Quirk, write_dmx, write_poll, write_sync};

const A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 6454);
const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 6454);
const C: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 3), 6454);
const SEC: Duration = Duration::from_secs(1);
const MS: Duration = Duration::from_millis(1);

fn u1() -> PortAddress {
    PortAddress::from_parts(0, 0, 1).expect("valid")
}

fn dmx_to(address: PortAddress, seq: u8, slots: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 600];
    let h = DmxHeader {
        sequence: seq,
        physical: 0,
        address,
    };
    let n = write_dmx(&mut buf, &h, slots).expect("build");
    buf[..n].to_vec()
}

fn dmx(seq: u8, slots: &[u8]) -> Vec<u8> {
    dmx_to(u1(), seq, slots)
}

fn sync() -> Vec<u8> {
    let mut buf = [0u8; 14];
    write_sync(&mut buf).expect("build");
    buf.to_vec()
}

fn receiver(merge: MergeMode) -> Receiver {
    let mut rx = Receiver::new(ReceiverConfig {
        merge,
        ..ReceiverConfig::default()
    });
    rx.add_universe(u1()).expect("add");
    rx
}

fn slots(rx: &Receiver) -> [u8; 512] {
    *rx.universe(u1()).expect("listening").slots()
}

fn changed(rx: &mut Receiver) -> Vec<usize> {
    let mut all = Vec::new();
    while let Some((u, set)) = rx.poll_changed() {
        assert_eq!(u, u1());
        all.extend(set.iter());
    }
    all
}

fn events(rx: &mut Receiver) -> Vec<Event> {
    std::iter::from_fn(|| rx.poll_event()).collect()
}

fn handled(rx: &mut Receiver, now: Instant, from: SocketAddrV4, b: &[u8]) -> Handled<'static> {
    match rx.handle_datagram(now, from, b) {
        Ok(Handled::Dmx { address, changed }) => Handled::Dmx { address, changed },
        Ok(Handled::Held { address }) => Handled::Held { address },
        Ok(Handled::Sync {
            controller,
            changed_universes,
        }) => Handled::Sync {
            controller,
            changed_universes,
        },
        Ok(Handled::Ignored(c)) => Handled::Ignored(c),
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_source_sets_every_slot_it_carries() {
    let mut rx = receiver(MergeMode::Htp);
    let t = Instant::now();
    let mut levels = [0u8; 512];
    levels[0] = 255;
    levels[511] = 7;
    assert_eq!(
        handled(&mut rx, t, A, &dmx(1, &levels)),
        Handled::Dmx {
            address: u1(),
            changed: true
        }
    );
    assert_eq!(slots(&rx), levels);
    assert_eq!(changed(&mut rx), [0, 511]);
    assert_eq!(
        events(&mut rx),
        [Event::SourceAdded {
            address: u1(),
            ip: *A.ip(),
            sources: 1
        }]
    );
    // Same levels again: nothing changes, nothing is reported.
    assert_eq!(
        handled(&mut rx, t + MS, A, &dmx(2, &levels)),
        Handled::Dmx {
            address: u1(),
            changed: false
        }
    );
    assert!(rx.poll_changed().is_none());
    assert_eq!(rx.counters().dmx, 2);
}

#[test]
fn htp_merges_two_sources_slot_by_slot() {
    let mut rx = receiver(MergeMode::Htp);
    let t = Instant::now();
    rx.handle_datagram(t, A, &dmx(1, &[10, 200, 30, 40]))
        .expect("a");
    rx.handle_datagram(t, B, &dmx(1, &[50, 100, 30, 0]))
        .expect("b");
    assert_eq!(&slots(&rx)[..4], &[50, 200, 30, 40]);
    let u = rx.universe(u1()).expect("listening");
    assert!(u.is_merging());
    assert_eq!(u.winner(0), Some(*B.ip()));
    assert_eq!(u.winner(1), Some(*A.ip()));
    assert_eq!(u.winner(4), None);
    // A drops slot 2 to 0: HTP still shows B's 30 there; slot 1 falls to B's 100.
    rx.handle_datagram(t + MS, A, &dmx(2, &[10, 0, 0, 40]))
        .expect("a");
    assert_eq!(&slots(&rx)[..4], &[50, 100, 30, 40]);
}

#[test]
fn ltp_takes_the_latest_packet() {
    let mut rx = receiver(MergeMode::Ltp);
    let t = Instant::now();
    rx.handle_datagram(t, A, &dmx(1, &[10, 200])).expect("a");
    rx.handle_datagram(t + MS, B, &dmx(1, &[50, 100]))
        .expect("b");
    assert_eq!(&slots(&rx)[..2], &[50, 100]);
    rx.handle_datagram(t + 2 * MS, A, &dmx(2, &[10, 200]))
        .expect("a");
    assert_eq!(&slots(&rx)[..2], &[10, 200]);
    assert_eq!(rx.universe(u1()).expect("u").winner(0), Some(*A.ip()));
}

#[test]
fn a_source_drives_only_the_slots_its_last_packet_carried() {
    let mut rx = receiver(MergeMode::Htp);
    let t = Instant::now();
    rx.handle_datagram(t, A, &dmx(1, &[100; 512])).expect("a");
    rx.handle_datagram(t, B, &dmx(1, &[200; 4])).expect("b");
    assert_eq!(&slots(&rx)[..6], &[200, 200, 200, 200, 100, 100]);
    changed(&mut rx);
    // A now sends two slots of 50: it no longer drives slots 3..512; B keeps 0..4, the rest
    // (driven by nobody) holds its last value.
    rx.handle_datagram(t + MS, A, &dmx(2, &[50, 50]))
        .expect("a");
    assert_eq!(&slots(&rx)[..6], &[200, 200, 200, 200, 100, 100]);
    assert!(changed(&mut rx).is_empty());
    let u = rx.universe(u1()).expect("u");
    assert_eq!((u.winner(0), u.winner(5)), (Some(*B.ip()), None));
    // B shrinks to one slot: slots 1..4 are now undriven (hold), slot 0 stays HTP.
    rx.handle_datagram(t + 2 * MS, B, &dmx(2, &[0, 0]))
        .expect("b");
    assert_eq!(&slots(&rx)[..6], &[50, 50, 200, 200, 100, 100]);
}

#[test]
fn a_lone_source_that_shrinks_leaves_the_rest_as_it_was() {
    let mut rx = receiver(MergeMode::Htp);
    let t = Instant::now();
    rx.handle_datagram(t, A, &dmx(1, &[9; 512])).expect("a");
    rx.handle_datagram(t + MS, A, &dmx(2, &[1, 2])).expect("a");
    assert_eq!(&slots(&rx)[..4], &[1, 2, 9, 9]);
    // Growing again takes the new slots (the fast path must not skip slots it did not own).
    rx.handle_datagram(t + 2 * MS, A, &dmx(3, &[1, 2, 9, 3]))
        .expect("a");
    assert_eq!(&slots(&rx)[..5], &[1, 2, 9, 3, 9]);
    rx.handle_datagram(t + 3 * MS, A, &dmx(4, &[1, 2, 5, 3]))
        .expect("a");
    assert_eq!(&slots(&rx)[..5], &[1, 2, 5, 3, 9]);
    rx.universe(u1()).expect("u").verify_merge().expect("merge");
}

#[test]
fn a_third_source_is_refused_until_one_times_out() {
    let mut rx = receiver(MergeMode::Htp);
    let t = Instant::now();
    rx.handle_datagram(t, A, &dmx(1, &[1])).expect("a");
    rx.handle_datagram(t, B, &dmx(1, &[2])).expect("b");
    events(&mut rx);
    for k in 0..3 {
        let e = rx
            .handle_datagram(t + k * MS, C, &dmx(1, &[3]))
            .expect_err("third");
        assert_eq!(e.discard(), Some(Discard::TooManySources));
        assert_eq!(e.address, Some(u1()));
    }
    assert_eq!(rx.counters().discarded(Discard::TooManySources), 3);
    // Reported once.
    assert_eq!(
        events(&mut rx),
        [Event::SourceRefused {
            address: u1(),
            ip: *C.ip()
        }]
    );
    assert_eq!(slots(&rx)[0], 2);
    // B goes quiet; A keeps sending. 10 s after B's last packet it leaves and C gets in.
    for k in 1..10 {
        rx.handle_datagram(t + k * SEC, A, &dmx(k as u8 + 1, &[1]))
            .expect("a");
    }
    assert_eq!(rx.poll_timeout(), Some(t + 10 * SEC), "B's timeout");
    rx.handle_datagram(t + 10 * SEC, C, &dmx(1, &[3]))
        .expect("C replaces B");
    let ev = events(&mut rx);
    assert!(ev.contains(&Event::SourceLost {
        address: u1(),
        ip: *B.ip()
    }));
    assert!(ev.contains(&Event::SourceAdded {
        address: u1(),
        ip: *C.ip(),
        sources: 2
    }));
    assert_eq!(slots(&rx)[0], 3);
}

#[test]
fn a_source_times_out_exactly_after_ten_seconds() {
    let mut rx = receiver(MergeMode::Htp);
    let t = Instant::now();
    assert_eq!(rx.poll_timeout(), None);
    rx.handle_datagram(t, A, &dmx(1, &[100, 100])).expect("a");
    rx.handle_datagram(t + SEC, B, &dmx(1, &[50, 250]))
        .expect("b");
    assert_eq!(&slots(&rx)[..2], &[100, 250]);
    assert_eq!(rx.poll_timeout(), Some(t + SOURCE_TIMEOUT));
    rx.handle_timeout(t + SOURCE_TIMEOUT - MS);
    assert_eq!(rx.universe(u1()).expect("u").source_count(), 2);
    events(&mut rx);
    changed(&mut rx);
    rx.handle_timeout(t + SOURCE_TIMEOUT);
    assert_eq!(
        events(&mut rx),
        [Event::SourceLost {
            address: u1(),
            ip: *A.ip()
        }]
    );
    // B alone drives both slots now.
    assert_eq!(&slots(&rx)[..2], &[50, 250]);
    assert_eq!(changed(&mut rx), [0]);
    assert_eq!(rx.poll_timeout(), Some(t + SEC + SOURCE_TIMEOUT));
    rx.handle_timeout(t + SEC + SOURCE_TIMEOUT);
    // The last source gone: the output holds.
    assert_eq!(rx.universe(u1()).expect("u").source_count(), 0);
    assert_eq!(&slots(&rx)[..2], &[50, 250]);
    assert_eq!(rx.poll_timeout(), None);
}

#[test]
fn sequence_numbers_drop_late_packets() {
    let mut rx = receiver(MergeMode::Htp);
    let t = Instant::now();
    rx.handle_datagram(t, A, &dmx(10, &[10])).expect("first");
    let late = rx.handle_datagram(t, A, &dmx(9, &[9])).expect_err("late");
    assert_eq!(late.discard(), Some(Discard::OutOfSequence));
    assert_eq!(slots(&rx)[0], 10);
    // 0 = not numbered: always taken, and the window stays where it was.
    rx.handle_datagram(t, A, &dmx(0, &[0])).expect("unnumbered");
    assert_eq!(slots(&rx)[0], 0);
    assert!(rx.handle_datagram(t, A, &dmx(5, &[5])).is_err());
    // A restart (far behind) and a wrap are taken.
    rx.handle_datagram(t, A, &dmx(200, &[200]))
        .expect("restart");
    rx.handle_datagram(t, A, &dmx(255, &[255])).expect("up");
    rx.handle_datagram(t, A, &dmx(1, &[1])).expect("wrap");
    assert_eq!(slots(&rx)[0], 1);
    assert_eq!(rx.counters().discarded(Discard::OutOfSequence), 2);
    // Each source has its own numbers.
    rx.handle_datagram(t, B, &dmx(1, &[0])).expect("b");
}

#[test]
fn artsync_holds_data_until_the_next_artsync() {
    let mut rx = receiver(MergeMode::Htp);
    let t = Instant::now();
    // Before any ArtSync, data applies on arrival.
    rx.handle_datagram(t, A, &dmx(1, &[1])).expect("a");
    assert_eq!(slots(&rx)[0], 1);
    assert_eq!(
        handled(&mut rx, t + MS, A, &sync()),
        Handled::Sync {
            controller: *A.ip(),
            changed_universes: 0
        }
    );
    assert!(events(&mut rx).contains(&Event::SyncStarted {
        controller: *A.ip()
    }));
    changed(&mut rx);
    assert_eq!(
        handled(&mut rx, t + 2 * MS, A, &dmx(2, &[2])),
        Handled::Held { address: u1() }
    );
    assert_eq!(
        handled(&mut rx, t + 3 * MS, A, &dmx(3, &[3])),
        Handled::Held { address: u1() }
    );
    assert_eq!(slots(&rx)[0], 1, "held");
    assert!(rx.poll_changed().is_none());
    // An ArtSync from another controller does not release A's data.
    assert_eq!(
        handled(&mut rx, t + 4 * MS, B, &sync()),
        Handled::Sync {
            controller: *B.ip(),
            changed_universes: 0
        }
    );
    assert_eq!(slots(&rx)[0], 1);
    // A's ArtSync outputs the latest held frame.
    assert_eq!(
        handled(&mut rx, t + 5 * MS, A, &sync()),
        Handled::Sync {
            controller: *A.ip(),
            changed_universes: 1
        }
    );
    assert_eq!(slots(&rx)[0], 3);
    assert_eq!(changed(&mut rx), [0]);
    assert_eq!(rx.counters().sync, 3);
}

#[test]
fn artsync_mode_ends_four_seconds_after_the_last_artsync() {
    let mut rx = receiver(MergeMode::Htp);
    let t = Instant::now();
    rx.handle_datagram(t, A, &sync()).expect("sync");
    rx.handle_datagram(t + SEC, A, &dmx(1, &[7])).expect("held");
    assert_eq!(slots(&rx)[0], 0);
    assert_eq!(rx.poll_timeout(), Some(t + SYNC_TIMEOUT));
    rx.handle_timeout(t + SYNC_TIMEOUT - MS);
    assert_eq!(slots(&rx)[0], 0);
    events(&mut rx);
    rx.handle_timeout(t + SYNC_TIMEOUT);
    // What was held goes out; later data applies at once.
    assert_eq!(slots(&rx)[0], 7);
    assert_eq!(
        events(&mut rx),
        [Event::SyncLost {
            controller: *A.ip()
        }]
    );
    assert_eq!(rx.sync_controllers(t + SYNC_TIMEOUT).count(), 0);
    assert_eq!(
        handled(&mut rx, t + SYNC_TIMEOUT + MS, A, &dmx(2, &[8])),
        Handled::Dmx {
            address: u1(),
            changed: true
        }
    );
    assert_eq!(rx.poll_timeout(), Some(t + SEC + SOURCE_TIMEOUT));
}

#[test]
fn a_merging_universe_ignores_artsync() {
    let mut rx = receiver(MergeMode::Htp);
    let t = Instant::now();
    rx.handle_datagram(t, A, &sync()).expect("sync");
    rx.handle_datagram(t, A, &dmx(1, &[10, 0])).expect("held");
    assert_eq!(slots(&rx)[0], 0);
    // B arrives: the universe merges, A's held frame goes out with B's.
    assert_eq!(
        handled(&mut rx, t + MS, B, &dmx(1, &[0, 20])),
        Handled::Dmx {
            address: u1(),
            changed: true
        }
    );
    assert_eq!(&slots(&rx)[..2], &[10, 20]);
    // While merging, A's data applies on arrival though A is in synchronous mode.
    assert_eq!(
        handled(&mut rx, t + 2 * MS, A, &dmx(2, &[30, 0])),
        Handled::Dmx {
            address: u1(),
            changed: true
        }
    );
    assert_eq!(slots(&rx)[0], 30);
    assert!(!rx.universe(u1()).expect("u").holds_sync_data());
}

#[test]
fn sync_controllers_are_bounded() {
    let mut rx = Receiver::new(ReceiverConfig {
        max_sync_controllers: 1,
        ..ReceiverConfig::default()
    });
    let t = Instant::now();
    rx.handle_datagram(t, A, &sync()).expect("first");
    let e = rx.handle_datagram(t, B, &sync()).expect_err("table full");
    assert_eq!(e.discard(), Some(Discard::TooManySyncControllers));
    // Once A timed out, B gets its place.
    rx.handle_datagram(t + SYNC_TIMEOUT, B, &sync())
        .expect("A expired");
    assert_eq!(
        rx.sync_controllers(t + SYNC_TIMEOUT).collect::<Vec<_>>(),
        [*B.ip()]
    );
}

#[test]
fn own_packets_malformed_quirks_and_other_opcodes_are_counted() {
    let mut rx = Receiver::new(ReceiverConfig {
        own_addresses: vec![A],
        ..ReceiverConfig::default()
    });
    rx.add_universe(u1()).expect("add");
    let t = Instant::now();
    let own = rx.handle_datagram(t, A, &dmx(1, &[1])).expect_err("own");
    assert_eq!(own.discard(), Some(Discard::OwnPacket));
    // Same IP, other port: another program on our host is a real source.
    let other_port = SocketAddrV4::new(*A.ip(), 50000);
    rx.handle_datagram(t, other_port, &dmx(1, &[1]))
        .expect("another program");

    let bad = rx.handle_datagram(t, B, b"Art-Net").expect_err("short");
    assert_eq!(bad.cause, DropCause::Malformed(DropReason::TruncatedHeader));
    assert_eq!(rx.counters().malformed(DropReason::TruncatedHeader), 1);

    let unknown = rx
        .handle_datagram(t, B, &dmx_to(PortAddress::ZERO, 1, &[1]))
        .expect_err("unknown");
    assert_eq!(unknown.discard(), Some(Discard::UnknownUniverse));

    let mut odd = dmx(2, &[1, 2]);
    odd[17] = 1; // Length 1, one trailing byte
    rx.handle_datagram(t, B, &odd).expect("odd length");
    assert_eq!(rx.counters().quirk(Quirk::OddLength), 1);
    assert_eq!(rx.counters().quirk(Quirk::TrailingBytes), 1);

    let mut tc = b"Art-Net\0\x00\x97\x00\x0e".to_vec();
    tc.extend_from_slice(&[0; 7]);
    assert_eq!(
        rx.handle_datagram(t, B, &tc)
            .map(|h| matches!(h, Handled::Ignored(OpClass::Timecode))),
        Ok(true)
    );
    assert_eq!(rx.counters().ignored(OpClass::Timecode), 1);

    let mut buf = [0u8; 32];
    let n = write_poll(&mut buf, &crate::wire::Poll::default()).expect("poll");
    assert!(matches!(
        rx.handle_datagram(t, B, &buf[..n]),
        Ok(Handled::Poll(p)) if p.wants(u1())
    ));
    assert_eq!(rx.counters().poll, 1);
    assert_eq!(rx.counters().discarded(Discard::OwnPacket), 1);
    rx.add_own_address(other_port);
    assert!(rx.handle_datagram(t, other_port, &dmx(2, &[1])).is_err());
    assert_eq!(rx.counters().discarded(Discard::OwnPacket), 2);
}

#[test]
fn keep_alive_refreshes_a_known_source_only() {
    let mut rx = receiver(MergeMode::Htp);
    let t = Instant::now();
    let first = dmx(1, &[1]);
    rx.handle_datagram(t, A, &first).expect("a");
    let later = dmx(2, &[2]);
    let p = match crate::wire::Packet::parse(&later) {
        Ok(crate::wire::Packet::Dmx(p)) => p,
        other => panic!("{other:?}"),
    };
    assert!(rx.keep_alive(t + 9 * SEC, A, &p));
    assert!(!rx.keep_alive(t + 9 * SEC, B, &p), "unknown source");
    assert_eq!(slots(&rx)[0], 1, "levels skipped");
    // Still there after the first packet's 10 s; and seq 2 counted (1 is now late).
    rx.handle_timeout(t + 10 * SEC);
    assert_eq!(rx.universe(u1()).expect("u").source_count(), 1);
    assert!(rx.handle_datagram(t + 10 * SEC, A, &first).is_err());
}

#[test]
fn timers_run_before_a_late_datagram() {
    let mut rx = receiver(MergeMode::Htp);
    let t = Instant::now();
    rx.handle_datagram(t, A, &dmx(100, &[1])).expect("a");
    events(&mut rx);
    // 11 s later without handle_timeout: A was lost, so 90 (behind 100) is a new source's.
    rx.handle_datagram(t + 11 * SEC, A, &dmx(90, &[2]))
        .expect("new source");
    let ev = events(&mut rx);
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!(slots(&rx)[0], 2);
}

#[test]
fn universes_are_independent_and_listed() {
    let mut rx = receiver(MergeMode::Htp);
    let u2 = PortAddress::from_parts(3, 2, 1).expect("valid");
    rx.add_universe(u2).expect("add");
    assert_eq!(
        rx.add_universe(u2),
        Err(ReceiverError::AlreadyListening(u2))
    );
    assert_eq!(rx.universes().collect::<Vec<_>>(), [u1(), u2]);
    let t = Instant::now();
    rx.handle_datagram(t, A, &dmx_to(u2, 1, &[5])).expect("u2");
    assert!(rx.has_pending_change(u2) && !rx.has_pending_change(u1()));
    assert_eq!(rx.poll_changed().map(|(u, s)| (u, s.len())), Some((u2, 1)));
    assert_eq!(rx.universe(u2).expect("u2").slots()[0], 5);
    assert_eq!(slots(&rx)[0], 0);
    assert!(rx.remove_universe(u2));
    assert!(!rx.remove_universe(u2));
}

#[test]
fn fuzz_entry_reaches_merge_sync_and_timeouts() {
    // Two sources on universe 1 (HTP), ArtSync from the first, a long gap, then a raw packet.
    let mut data = vec![0u8];
    let rec = |mode: u8, step: u16, src: u8| {
        let mut v = vec![mode];
        v.extend_from_slice(&step.to_le_bytes());
        v.push(src);
        v
    };
    data.extend(rec(1, 0, 0));
    data.extend([0, 1, 1, 9, 9, 9, 9]);
    data.extend(rec(1, 5, 1));
    data.extend([0, 1, 1, 1, 1, 1, 1]);
    data.extend(rec(2, 5, 0));
    data.extend(rec(1, 5, 2));
    data.extend([0, 1, 1, 3, 3, 3, 3]);
    data.extend(rec(0x80 | 0x20 | 3, 800, 0));
    let rx = fuzz::drive(&data);
    assert_eq!(rx.counters().discarded(Discard::TooManySources), 1);
    assert_eq!(rx.counters().sync, 1);
    assert_eq!(rx.counters().poll, 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn never_panics_and_merges_right(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        fuzz::drive(&data);
    }

    /// Random packets from three sources with HTP: after every packet the output equals the
    /// slot-wise maximum over the two admitted sources of the slots each last carried.
    #[test]
    fn htp_output_matches_a_model(
        steps in proptest::collection::vec((0usize..3, 1usize..=16, any::<u8>()), 1..60)
    ) {
        let mut rx = receiver(MergeMode::Htp);
        let t = Instant::now();
        let src = [A, B, C];
        let mut last: [Option<Vec<u8>>; 3] = [None, None, None];
        let mut admitted: Vec<usize> = Vec::new();
        let mut out = [0u8; 512];
        for (k, (s, len, v)) in steps.into_iter().enumerate() {
            let mut levels: Vec<u8> = (0..len).map(|i| v.wrapping_mul(i as u8 + 1)).collect();
            let packet = dmx(0, &levels);
            let r = rx.handle_datagram(t + k as u32 * MS, src[s], &packet).map(|_| ());
            if !admitted.contains(&s) {
                if admitted.len() == 2 {
                    prop_assert!(r.is_err());
                    continue;
                }
                admitted.push(s);
            }
            prop_assert!(r.is_ok());
            // An odd count goes out padded with a slot of 0.
            levels.resize(len + len % 2, 0);
            last[s] = Some(levels);
            for (i, o) in out.iter_mut().enumerate() {
                let best = admitted.iter().filter_map(|&a| last[a].as_ref()?.get(i).copied()).max();
                if let Some(b) = best { *o = b; }
            }
            prop_assert_eq!(&slots(&rx)[..], &out[..]);
        }
    }
}
