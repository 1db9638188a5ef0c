//! Scenario tests with a fake clock: every timing rule is checked at its exact edge.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::cid::Cid;
use crate::wire::{DataHeader, Options, write_data, write_discovery, write_sync};

const U: u16 = 1;

fn cid(n: u8) -> Cid {
    Cid([n; 16])
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[derive(Clone, Copy)]
struct Pkt {
    cid: u8,
    universe: u16,
    seq: u8,
    priority: u8,
    sync: u16,
    options: Options,
    start_code: u8,
}

fn pkt(cid: u8, seq: u8) -> Pkt {
    Pkt {
        cid,
        universe: U,
        seq,
        priority: 100,
        sync: 0,
        options: Options::NONE,
        start_code: 0,
    }
}

impl Pkt {
    fn prio(mut self, p: u8) -> Self {
        self.priority = p;
        self
    }
    fn sync(mut self, s: u16) -> Self {
        self.sync = s;
        self
    }
    fn opts(mut self, o: Options) -> Self {
        self.options = o;
        self
    }
    fn pap(mut self) -> Self {
        self.start_code = 0xDD;
        self
    }
    fn sc(mut self, sc: u8) -> Self {
        self.start_code = sc;
        self
    }
    fn uni(mut self, u: u16) -> Self {
        self.universe = u;
        self
    }
    fn bytes(&self, slots: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 700];
        let h = DataHeader {
            cid: cid(self.cid),
            source_name: "src",
            priority: self.priority,
            sync_address: self.sync,
            sequence: self.seq,
            options: self.options,
            universe: self.universe,
            start_code: self.start_code,
        };
        let n = write_data(&mut buf, &h, slots).expect("valid test packet");
        buf.truncate(n);
        buf
    }
}

fn sync_bytes(c: u8, seq: u8, addr: u16) -> Vec<u8> {
    let mut buf = vec![0u8; 64];
    let n = write_sync(&mut buf, cid(c), seq, addr).expect("sync");
    buf.truncate(n);
    buf
}

/// Sampling and 0xDD wait off: sources merge on their first packet.
fn immediate() -> ReceiverConfig {
    ReceiverConfig {
        sampling_period: Duration::ZERO,
        pap_wait: Duration::ZERO,
        ..ReceiverConfig::default()
    }
}

struct H {
    rx: Receiver,
    t0: Instant,
}

impl H {
    fn new(cfg: ReceiverConfig) -> H {
        let t0 = Instant::now();
        let mut rx = Receiver::new(cfg);
        rx.add_universe(t0, U, UniverseConfig::default())
            .expect("add");
        H { rx, t0 }
    }
    fn at(&self, t: u64) -> Instant {
        self.t0 + ms(t)
    }
    fn send(&mut self, t: u64, p: Pkt, slots: &[u8]) -> Result<Handled, Dropped> {
        let now = self.at(t);
        self.rx.handle_datagram(now, &p.bytes(slots))
    }
    fn sync(&mut self, t: u64, c: u8, seq: u8, addr: u16) -> Result<Handled, Dropped> {
        let now = self.at(t);
        self.rx.handle_datagram(now, &sync_bytes(c, seq, addr))
    }
    fn tick(&mut self, t: u64) {
        let now = self.at(t);
        self.rx.handle_timeout(now);
    }
    fn u(&self) -> &UniverseReceiver {
        self.rx.universe(U).expect("universe")
    }
    fn slots(&self, n: usize) -> Vec<u8> {
        self.u().slots()[..n].to_vec()
    }
    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.rx.poll_event()).collect()
    }
    fn changed(&mut self) -> Option<SlotSet> {
        let (u, set) = self.rx.poll_changed()?;
        assert_eq!(u, U);
        Some(set)
    }
}

fn data_changed(r: Result<Handled, Dropped>) -> bool {
    match r {
        Ok(Handled::Data { changed, .. }) => changed,
        other => panic!("expected data, got {other:?}"),
    }
}

fn discard(r: Result<Handled, Dropped>) -> Discard {
    r.expect_err("expected a drop")
        .discard()
        .expect("well-formed")
}

#[test]
fn full_change_set_then_unchanged_packet() {
    let mut h = H::new(immediate());
    let all: Vec<u8> = (0..512).map(|i| (i % 251) as u8 + 1).collect();
    assert!(data_changed(h.send(0, pkt(1, 0), &all)));
    let set = h.changed().expect("changed");
    assert_eq!(set.len(), 512);
    assert_eq!(h.u().slots()[..], all[..]);
    assert_eq!(h.u().winner(0), Some(cid(1)));
    assert_eq!(h.u().winner(511), Some(cid(1)));
    assert!(!data_changed(h.send(20, pkt(1, 1), &all)));
    assert_eq!(h.changed(), None);
    let mut one = all.clone();
    one[300] = 0;
    assert!(data_changed(h.send(40, pkt(1, 2), &one)));
    assert_eq!(
        h.changed().expect("changed").iter().collect::<Vec<_>>(),
        vec![300]
    );
    // A short packet sets only the slots it carries.
    assert!(data_changed(h.send(60, pkt(1, 3), &[0, 0])));
    assert_eq!(
        h.changed().expect("changed").iter().collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert_eq!(h.u().slots()[2], all[2]);
}

/// `has_pending_change` says exactly what `poll_changed` will return: set by a change, by a
/// timer and by a sync release, not by a packet that changes nothing, cleared once reported.
#[test]
fn pending_change_matches_what_poll_changed_returns() {
    let mut h = H::new(ReceiverConfig {
        loss: LossBehavior::Zero,
        ..immediate()
    });
    h.rx.add_universe(h.t0, 2, UniverseConfig::default())
        .expect("add");
    assert!(!h.rx.has_pending_change(U));
    assert!(!h.rx.has_pending_change(7), "unknown universe");
    assert!(data_changed(h.send(0, pkt(1, 0), &[5])));
    assert!(h.rx.has_pending_change(U));
    assert!(
        !h.rx.has_pending_change(2),
        "only the universe that changed"
    );
    assert!(!data_changed(h.send(1, pkt(1, 1), &[5])));
    assert!(h.rx.has_pending_change(U), "still pending after a repeat");
    assert!(h.changed().is_some());
    assert!(!h.rx.has_pending_change(U), "reported");
    assert!(!data_changed(h.send(2, pkt(1, 2), &[5])));
    assert!(!h.rx.has_pending_change(U), "a repeat changes nothing");
    // Loss is a change too (the source's levels leave the merge).
    h.tick(2 + 2500 + 1000);
    assert_eq!(h.u().slots()[0], 0);
    assert!(h.rx.has_pending_change(U));
    assert!(h.changed().is_some());
    assert!(!h.rx.has_pending_change(U));
    // Held data changes nothing until its sync packet releases it.
    h.sync(4000, 2, 0, 9).expect("sync");
    h.send(4001, pkt(2, 0).sync(9), &[7]).expect("held");
    assert!(!h.rx.has_pending_change(U));
    h.sync(4002, 2, 1, 9).expect("sync");
    assert!(h.rx.has_pending_change(U));
    assert_eq!(h.changed().map(|s| s.len()), Some(1));
    assert!(!h.rx.has_pending_change(U));
    assert!(h.rx.remove_universe(U));
    assert!(!h.rx.has_pending_change(U), "removed");
}

/// Repeats, drops and sampling change nothing; new values, priority changes (HTP with a rival),
/// LTP arrivals and terminations may.
#[test]
fn changes_nothing_recognises_repeats_and_drops() {
    let judge = |h: &H, p: Pkt, slots: &[u8]| {
        let bytes = p.bytes(slots);
        let Ok(Packet::Data(d)) = Packet::parse(&bytes) else {
            panic!("valid test packet");
        };
        h.u().changes_nothing(&d)
    };
    let mut h = H::new(immediate());
    assert!(!judge(&h, pkt(1, 0), &[5]), "a new source");
    h.send(0, pkt(1, 0), &[5, 6]).expect("data");
    assert!(judge(&h, pkt(1, 1), &[5, 6]), "a repeat");
    assert!(
        !judge(&h, pkt(1, 1), &[5]),
        "a shorter repeat releases the rest"
    );
    assert!(
        !judge(&h, pkt(1, 1), &[5, 6, 0]),
        "a longer repeat drives one more slot"
    );
    assert!(!judge(&h, pkt(1, 1), &[5, 7]), "a new value");
    assert!(
        judge(&h, pkt(1, 1).prio(150), &[5, 6]),
        "a lone source's priority does not matter"
    );
    assert!(judge(&h, pkt(1, 0), &[9]), "out of sequence");
    assert!(
        judge(&h, pkt(1, 1).sc(0x17), &[9]),
        "unsupported start code"
    );
    assert!(
        judge(&h, pkt(1, 1).opts(Options::NONE.with_preview(true)), &[9]),
        "preview"
    );
    assert!(!judge(
        &h,
        pkt(1, 1).opts(Options::NONE.with_stream_terminated(true)),
        &[5, 6]
    ));
    assert!(
        !judge(
            &h,
            pkt(1, 1).sc(0x17).opts(
                Options::NONE
                    .with_stream_terminated(true)
                    .with_preview(true)
            ),
            &[5, 6]
        ),
        "a termination of any start code, even a preview, ends the stream"
    );
    assert!(judge(
        &h,
        pkt(2, 0).opts(Options::NONE.with_stream_terminated(true)),
        &[1]
    ));
    assert!(!judge(&h, pkt(1, 1).pap(), &[5, 6]), "0xDD: unsure");
    assert!(!judge(&h, pkt(1, 1).sync(3), &[5, 6]), "sync: unsure");
    h.send(1, pkt(2, 0), &[1, 1]).expect("data");
    assert!(judge(&h, pkt(2, 1), &[1, 1]), "HTP repeat of a rival");
    assert!(
        !judge(&h, pkt(2, 1).prio(150), &[1, 1]),
        "HTP priority change with a rival"
    );

    let mut ltp = H::new(ReceiverConfig {
        merge: MergeMode::Ltp,
        ..immediate()
    });
    ltp.send(0, pkt(1, 0), &[5]).expect("data");
    assert!(judge(&ltp, pkt(1, 1), &[5]), "LTP, lone source");
    ltp.send(1, pkt(2, 0), &[6]).expect("data");
    assert!(!judge(&ltp, pkt(1, 1), &[5]), "LTP: arrival order decides");

    let mut sampling = H::new(ReceiverConfig {
        sampling_period: ms(500),
        ..immediate()
    });
    assert!(
        judge(&sampling, pkt(1, 0), &[5]),
        "sampling: nothing shows yet"
    );
    sampling.send(0, pkt(1, 0), &[5]).expect("data");
    assert!(judge(&sampling, pkt(1, 1), &[6]));
}

#[test]
fn source_lost_at_exactly_the_timeout() {
    for (late, lost) in [(2400u64, false), (2499, false), (2500, true), (2600, true)] {
        let mut h = H::new(immediate());
        h.send(0, pkt(1, 0), &[9]).expect("data");
        h.send(1000, pkt(1, 1), &[9]).expect("data");
        assert_eq!(
            h.rx.poll_timeout(),
            Some(h.at(2500)),
            "first deadline from creation"
        );
        h.tick(2500);
        assert_eq!(h.u().source_count(), 1, "refreshed at 1000 ms");
        assert_eq!(h.rx.poll_timeout(), Some(h.at(3500)));
        h.events();
        h.tick(1000 + late);
        assert_eq!(
            h.u().source_count(),
            usize::from(!lost),
            "heard at 1000, checked at +{late}"
        );
        let ev = h.events();
        if lost {
            assert_eq!(
                ev,
                vec![Event::SourceLost {
                    universe: U,
                    cid: cid(1)
                }]
            );
            // Hold: the last look stays and nothing is reported as changed.
            assert_eq!(h.slots(1), vec![9]);
            assert_eq!(h.u().winner(0), None);
        } else {
            assert!(ev.is_empty(), "{ev:?}");
        }
    }
}

/// Per-source counts as `patchbay sacn watch` makes them: accepted packets, out-of-sequence
/// discards, gaps; a source that was lost starts counting again.
#[test]
fn traffic_counts_packets_sequence_errors_and_gaps_per_source() {
    let mut h = H::new(immediate());
    for seq in [0u8, 1, 2, 1, 2, 6, 7] {
        let _ = h.send(0, pkt(3, seq), &[1]);
    }
    h.send(0, pkt(4, 200), &[1]).expect("data");
    h.send(0, pkt(4, 201).pap(), &[100])
        .expect("0xDD counts too");
    let traffic = |h: &H, c: u8| h.u().source(cid(c)).map(|s| s.traffic);
    let t = traffic(&h, 3).expect("tracked");
    assert_eq!((t.packets, t.sequence_errors, t.missed), (5, 2, 3));
    let t = traffic(&h, 4).expect("tracked");
    assert_eq!((t.packets, t.sequence_errors, t.missed), (2, 0, 0));
    // A jump of 128 or more is a restart, not a gap.
    h.send(10, pkt(4, 201u8.wrapping_add(130)), &[1])
        .expect("restart");
    assert_eq!(traffic(&h, 4).map(|t| t.missed), Some(0));
    // Lost, then back: a new source with fresh counts.
    h.send(3000, pkt(3, 8), &[1]).expect("new again");
    let t = traffic(&h, 3).expect("tracked");
    assert_eq!((t.packets, t.sequence_errors, t.missed), (1, 0, 0));
}

#[test]
fn late_packet_after_loss_is_a_new_source() {
    let mut h = H::new(immediate());
    h.send(0, pkt(1, 10), &[1]).expect("data");
    h.events();
    // No handle_timeout call in between: the datagram path runs the timers itself, and the
    // sequence restarts (9 would be stale for the old source).
    h.send(3000, pkt(1, 9), &[2])
        .expect("accepted as new source");
    assert_eq!(
        h.events(),
        vec![
            Event::SourceLost {
                universe: U,
                cid: cid(1)
            },
            Event::SourceAdded {
                universe: U,
                cid: cid(1),
                name: SourceName::from_wire(b"src"),
                priority: 100
            },
        ]
    );
    assert_eq!(h.slots(1), vec![2]);
}

#[test]
fn termination_ends_source_at_once_without_using_its_data() {
    let cfg = ReceiverConfig {
        loss: LossBehavior::Zero,
        ..immediate()
    };
    let mut h = H::new(cfg);
    h.send(0, pkt(1, 0), &[50, 60]).expect("data");
    h.send(0, pkt(2, 0).prio(50), &[5, 5]).expect("data");
    assert_eq!(h.slots(2), vec![50, 60]);
    h.events();
    h.changed();
    let term = Options::NONE.with_stream_terminated(true);
    assert!(data_changed(h.send(100, pkt(1, 1).opts(term), &[255, 255])));
    assert_eq!(
        h.events(),
        vec![Event::SourceTerminated {
            universe: U,
            cid: cid(1)
        }]
    );
    assert_eq!(
        h.slots(2),
        vec![5, 5],
        "lower source takes over; 255 never applied"
    );
    assert_eq!(h.u().winner(0), Some(cid(2)));
    // The two repeats of the termination must not revive the source.
    assert_eq!(
        discard(h.send(110, pkt(1, 2).opts(term), &[255])),
        Discard::Terminated
    );
    assert_eq!(
        discard(h.send(120, pkt(1, 3).opts(term), &[255])),
        Discard::Terminated
    );
    assert_eq!(h.u().source_count(), 1);
    assert_eq!(h.rx.counters().discarded(Discard::Terminated), 2);
    // Last source terminated with loss = zero: output drops to 0.
    assert!(data_changed(h.send(
        200,
        pkt(2, 1).prio(50).opts(term),
        &[5, 5]
    )));
    assert_eq!(h.slots(2), vec![0, 0]);
}

/// E1.31-2018 6.2.6: Stream_Terminated ends the source's stream whatever the start code and
/// even with Preview_Data set (ETC's receiver does so too); the sequence check still applies.
#[test]
fn termination_is_honoured_whatever_the_start_code_and_preview() {
    let term = Options::NONE.with_stream_terminated(true);
    let preview_term = term.with_preview(true);
    let cases: [(&str, Pkt); 5] = [
        ("0xDD", pkt(1, 1).pap().opts(term)),
        ("ASCII text 0x17", pkt(1, 1).sc(0x17).opts(term)),
        ("0xCC", pkt(1, 1).sc(0xCC).opts(term)),
        ("preview", pkt(1, 1).opts(preview_term)),
        ("preview 0xDD", pkt(1, 1).pap().opts(preview_term)),
    ];
    for (what, p) in cases {
        let mut h = H::new(immediate());
        h.send(0, pkt(1, 0), &[50, 60]).expect("data");
        h.send(0, pkt(2, 0).prio(50), &[5, 5]).expect("data");
        assert_eq!(h.slots(2), vec![50, 60]);
        h.events();
        h.changed();
        assert!(data_changed(h.send(100, p, &[255, 255])), "{what}");
        assert_eq!(
            h.events(),
            vec![Event::SourceTerminated {
                universe: U,
                cid: cid(1)
            }],
            "{what}"
        );
        assert_eq!(
            h.slots(2),
            vec![5, 5],
            "{what}: the lower source takes over"
        );
        assert_eq!(h.u().source_count(), 1, "{what}");
        // Its repeats do not revive it.
        assert_eq!(
            discard(h.send(110, Pkt { seq: 2, ..p }, &[255])),
            Discard::Terminated,
            "{what}"
        );
    }

    // Out of sequence: an old termination arriving late is discarded like any old packet.
    let mut h = H::new(immediate());
    h.send(0, pkt(1, 10), &[50]).expect("data");
    assert_eq!(
        discard(h.send(10, pkt(1, 9).sc(0x17).opts(term), &[0])),
        Discard::OutOfSequence
    );
    assert_eq!(
        discard(h.send(10, pkt(1, 9).opts(preview_term), &[0])),
        Discard::OutOfSequence
    );
    assert_eq!(h.u().source_count(), 1);
    assert_eq!(h.slots(1), vec![50]);
    // Non-terminating packets of other start codes and previews are still not used.
    assert_eq!(
        discard(h.send(20, pkt(1, 11).sc(0x17), &[0])),
        Discard::UnsupportedStartCode
    );
    assert_eq!(
        discard(h.send(20, pkt(1, 11).opts(Options::NONE.with_preview(true)), &[0])),
        Discard::Preview
    );
    assert_eq!(h.slots(1), vec![50]);
}

/// A source lost while the loss settles still has its levels in the merge; its termination
/// takes them out at once instead of at the end of the settling.
#[test]
fn termination_of_a_source_whose_loss_is_settling_takes_effect_at_once() {
    let mut h = H::new(immediate());
    h.send(0, pkt(1, 0), &[50]).expect("data");
    h.send(2000, pkt(2, 0).prio(50), &[5]).expect("data");
    h.tick(2500);
    assert!(h.u().is_settling_loss());
    assert_eq!(h.slots(1), vec![50], "held while the loss settles");
    h.events();
    let term = Options::NONE.with_stream_terminated(true);
    assert!(data_changed(h.send(
        2510,
        pkt(1, 1).sc(0x17).opts(term),
        &[0]
    )));
    assert!(!h.u().is_settling_loss());
    assert_eq!(h.slots(1), vec![5]);
    assert_eq!(h.u().winner(0), Some(cid(2)));
    // Nothing left to end: the repeats are counted as before.
    assert_eq!(
        discard(h.send(2520, pkt(1, 2).opts(term), &[0])),
        Discard::Terminated
    );
}

#[test]
fn lower_priority_takes_over_when_higher_is_lost() {
    for settle in [true, false] {
        let cfg = ReceiverConfig {
            loss_settle: if settle { LOSS_SETTLE } else { Duration::ZERO },
            ..immediate()
        };
        let mut h = H::new(cfg);
        let mut t = 0;
        h.send(t, pkt(1, 0).prio(100), &[10, 10]).expect("a");
        h.send(t, pkt(2, 0).prio(50), &[200, 0]).expect("b");
        assert_eq!(h.slots(2), vec![10, 10], "priority beats level");
        assert_eq!(h.u().winner(0), Some(cid(1)));
        h.changed();
        h.events();
        // B keeps sending, A stops after t = 0.
        let mut seq = 1u8;
        while t < 2400 {
            t += 200;
            h.send(t, pkt(2, seq).prio(50), &[200, 0]).expect("b");
            seq += 1;
            h.tick(t);
            assert_eq!(h.slots(2), vec![10, 10], "A still present at {t} ms");
        }
        h.tick(2500);
        assert_eq!(
            h.events(),
            vec![Event::SourceLost {
                universe: U,
                cid: cid(1)
            }]
        );
        assert_eq!(h.u().source_count(), 1, "A is lost exactly at 2.5 s");
        if settle {
            // ETC data loss behaviour: A's look stays until B is heard again.
            assert_eq!(h.slots(2), vec![10, 10]);
            assert_eq!(h.changed(), None);
            assert!(data_changed(h.send(2520, pkt(2, seq).prio(50), &[200, 0])));
        }
        assert_eq!(h.slots(2), vec![200, 0]);
        assert_eq!(h.u().winner(0), Some(cid(2)));
        assert_eq!(h.u().winner(1), Some(cid(2)));
        let set = h.changed().expect("takeover changes output");
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 1]);
    }
}

#[test]
fn losing_every_source_at_once_keeps_the_top_look() {
    // The receiver's own link fails: A (top) times out 10 ms before B. Without loss settling,
    // B's look would show for 10 ms and then be held.
    let mut h = H::new(immediate());
    h.send(0, pkt(1, 0).prio(100), &[0, 0]).expect("a");
    h.send(10, pkt(2, 0).prio(90), &[255, 255]).expect("b");
    h.changed();
    h.tick(2500);
    assert_eq!(h.slots(2), vec![0, 0]);
    h.tick(2510);
    assert_eq!(h.slots(2), vec![0, 0]);
    assert_eq!(h.u().source_count(), 0);
    assert_eq!(h.changed(), None, "no flash of B's levels");
    assert_eq!(h.u().winner(0), None);
}

#[test]
fn loss_settling_ends_after_at_most_one_second() {
    let mut h = H::new(immediate());
    h.send(0, pkt(1, 0).prio(100), &[10]).expect("a");
    h.send(0, pkt(2, 0).prio(50), &[20]).expect("b");
    h.send(2000, pkt(2, 1).prio(50), &[20]).expect("b");
    h.tick(2500);
    assert_eq!(h.slots(1), vec![10], "B not heard since A's loss");
    h.tick(3499);
    assert_eq!(h.slots(1), vec![10]);
    assert_eq!(h.rx.poll_timeout(), Some(h.at(3500)));
    h.tick(3500);
    assert_eq!(h.slots(1), vec![20]);
    // A coming back during settling is a new source (and must not duplicate).
    let mut h = H::new(immediate());
    h.send(0, pkt(1, 0).prio(100), &[10]).expect("a");
    h.send(0, pkt(2, 0).prio(50), &[20]).expect("b");
    h.send(2000, pkt(2, 1).prio(50), &[20]).expect("b");
    h.tick(2500);
    assert_eq!(h.u().source_count(), 1);
    h.send(2600, pkt(1, 5).prio(100), &[11]).expect("a again");
    assert_eq!(h.u().source_count(), 2);
    assert_eq!(h.slots(1), vec![11]);
}

#[test]
fn htp_merge_of_two_sources() {
    let mut h = H::new(immediate());
    h.send(0, pkt(1, 0), &[10, 200, 0, 7]).expect("a");
    h.send(0, pkt(2, 0), &[50, 100, 0, 7]).expect("b");
    assert_eq!(h.slots(4), vec![50, 200, 0, 7]);
    assert_eq!(h.u().winner(0), Some(cid(2)));
    assert_eq!(h.u().winner(1), Some(cid(1)));
    // A raises slot 0 above B; B's level no longer matters.
    h.send(20, pkt(1, 1), &[60, 200, 0, 7]).expect("a");
    assert_eq!(h.slots(2), vec![60, 200]);
    assert_eq!(h.u().winner(0), Some(cid(1)));
}

/// A source drives only the slots its last levels packet carried; the slots beyond go to the
/// next source in the merge (ETC's merger), and come back when its packets grow again.
#[test]
fn short_packets_leave_the_slots_beyond_to_the_next_source() {
    for ltp in [false, true] {
        let cfg = ReceiverConfig {
            merge: if ltp { MergeMode::Ltp } else { MergeMode::Htp },
            ..immediate()
        };
        let mut h = H::new(cfg);
        h.send(0, pkt(1, 0), &[200; 512]).expect("a");
        h.send(0, pkt(2, 0).prio(50), &[10; 512]).expect("b");
        assert_eq!(h.slots(512), vec![200; 512]);
        h.changed();
        assert!(data_changed(h.send(10, pkt(1, 1), &[1, 2, 3])));
        let mut expect = vec![10u8; 512];
        expect[..3].copy_from_slice(&[1, 2, 3]);
        assert_eq!(h.slots(512), expect, "ltp {ltp}");
        assert_eq!(h.u().winner(2), Some(cid(1)));
        assert_eq!(h.u().winner(3), Some(cid(2)));
        assert_eq!(h.u().winner(511), Some(cid(2)));
        assert_eq!(h.u().source(cid(1)).expect("a").slot_count, 3);
        assert_eq!(h.changed().expect("changed").len(), 512);
        // Equal priority too: a shorter source does not drive (or hold) the slots beyond.
        h.send(20, pkt(1, 2), &[1, 2, 3]).expect("a");
        h.send(20, pkt(2, 1).prio(100), &[0; 512]).expect("b");
        let mut equal = vec![0u8; 512];
        equal[..3].copy_from_slice(if ltp { &[0, 0, 0] } else { &[1, 2, 3] });
        assert_eq!(h.slots(512), equal, "ltp {ltp}: equal priority");
        assert_eq!(h.u().winner(3), Some(cid(2)));
        // Growing again takes the slots back.
        h.send(30, pkt(1, 3), &[200; 512]).expect("a");
        assert_eq!(h.slots(512), vec![200; 512], "ltp {ltp}");
        assert_eq!(h.u().winner(511), Some(cid(1)));
        h.u().verify_merge().expect("merge");
    }
}

/// A lone source that shrinks releases the slots beyond; what they then show is the loss
/// behaviour's (hold the last value, or zero), exactly as when the source is lost.
#[test]
fn a_lone_source_shrinking_releases_the_slots_beyond() {
    for loss in [LossBehavior::Hold, LossBehavior::Zero] {
        let mut h = H::new(ReceiverConfig {
            loss,
            ..immediate()
        });
        h.send(0, pkt(1, 0), &[200; 512]).expect("a");
        h.changed();
        assert!(data_changed(h.send(10, pkt(1, 1), &[1, 2])));
        assert_eq!(h.u().winner(1), Some(cid(1)));
        assert_eq!(h.u().winner(2), None, "{loss:?}");
        let rest = if loss == LossBehavior::Zero { 0 } else { 200 };
        let mut expect = vec![rest; 512];
        expect[..2].copy_from_slice(&[1, 2]);
        assert_eq!(h.slots(512), expect, "{loss:?}");
        let changed = h.changed().expect("changed");
        assert_eq!(changed.len(), if rest == 0 { 512 } else { 2 }, "{loss:?}");
        // The same short packet again changes nothing (the fast path is back).
        assert!(!data_changed(h.send(20, pkt(1, 2), &[1, 2])));
        assert!(data_changed(h.send(30, pkt(1, 3), &[1, 3])));
        assert_eq!(h.slots(3), vec![1, 3, rest]);
        // Growing drives the slots again.
        assert!(data_changed(h.send(40, pkt(1, 4), &[7; 4])));
        assert_eq!(h.slots(5), vec![7, 7, 7, 7, rest]);
        assert_eq!(h.u().winner(3), Some(cid(1)));
        h.u().verify_merge().expect("merge");
        // A levels packet with no slot at all drives nothing.
        h.send(50, pkt(1, 5), &[]).expect("a");
        assert_eq!(h.u().winner(0), None);
        assert_eq!(h.slots(1), vec![if rest == 0 { 0 } else { 7 }]);
    }
}

/// 0xDD: a source's per-slot priority counts only where its levels reach too, and a short 0xDD
/// packet leaves the slots beyond its last value undriven by that source (priority 0).
#[test]
fn short_per_address_priority_and_short_levels_combine() {
    let mut h = H::new(immediate());
    h.send(0, pkt(1, 0), &[100; 8]).expect("a levels");
    h.send(0, pkt(2, 0), &[50; 8]).expect("b levels");
    h.send(0, pkt(2, 1).pap(), &[200; 4])
        .expect("b 0xDD, 4 values");
    assert_eq!(h.slots(8), vec![50, 50, 50, 50, 100, 100, 100, 100]);
    assert_eq!(h.u().winner(4), Some(cid(1)), "beyond the 0xDD values");
    // B's 0xDD covers 8 slots but its levels only 2: beyond them it drives nothing.
    h.send(10, pkt(2, 2).pap(), &[200; 8])
        .expect("b 0xDD, 8 values");
    h.send(10, pkt(2, 3), &[50, 50]).expect("b levels, 2 slots");
    assert_eq!(h.slots(8), vec![50, 50, 100, 100, 100, 100, 100, 100]);
    assert_eq!(h.u().winner(2), Some(cid(1)));
    h.u().verify_merge().expect("merge");
    // A lone 0xDD source: the same rule.
    h.send(
        20,
        pkt(1, 1).opts(Options::NONE.with_stream_terminated(true)),
        &[],
    )
    .expect("a ends");
    assert_eq!(h.u().winner(1), Some(cid(2)));
    assert_eq!(h.u().winner(2), None);
    h.u().verify_merge().expect("merge");
}

/// Levels held for synchronization keep their slot count until the sync packet applies them.
#[test]
fn held_short_packet_applies_with_its_slot_count() {
    let mut h = H::new(immediate());
    h.send(0, pkt(2, 0).prio(50), &[9; 4]).expect("b");
    h.sync(0, 1, 0, 7).expect("sync seen");
    h.send(10, pkt(1, 0).sync(7), &[1, 1, 1, 1]).expect("held");
    h.sync(10, 1, 1, 7).expect("sync");
    assert_eq!(h.slots(4), vec![1, 1, 1, 1]);
    assert!(matches!(
        h.send(20, pkt(1, 1).sync(7), &[2]),
        Ok(Handled::Held { .. })
    ));
    assert_eq!(h.slots(4), vec![1, 1, 1, 1], "held");
    h.sync(20, 1, 2, 7).expect("sync");
    assert_eq!(h.slots(4), vec![2, 9, 9, 9]);
}

#[test]
fn ltp_newest_source_wins_among_top_priority() {
    let cfg = ReceiverConfig {
        merge: MergeMode::Ltp,
        ..immediate()
    };
    let mut h = H::new(cfg);
    h.send(0, pkt(1, 0), &[10, 200]).expect("a");
    h.send(10, pkt(2, 0), &[50, 100]).expect("b");
    assert_eq!(h.slots(2), vec![50, 100], "B arrived last");
    h.send(20, pkt(1, 1), &[10, 200]).expect("a");
    assert_eq!(h.slots(2), vec![10, 200], "A arrived last");
    assert_eq!(h.u().winner(1), Some(cid(1)));
    // A newer source at lower priority does not win.
    h.send(30, pkt(3, 0).prio(50), &[99, 99]).expect("c");
    assert_eq!(h.slots(2), vec![10, 200]);
}

#[test]
fn per_address_priority_picks_winner_per_slot_and_falls_back() {
    let mut h = H::new(immediate());
    h.send(0, pkt(1, 0), &[100, 100, 100, 100])
        .expect("a levels");
    h.send(0, pkt(2, 0), &[50, 50, 50, 50]).expect("b levels");
    h.send(0, pkt(2, 1).pap(), &[0, 150, 50]).expect("b 0xDD");
    // Slot 0: B does not drive. Slot 1: 150 > 100. Slot 2: 50 < 100.
    assert_eq!(h.slots(4), vec![100, 50, 100, 100]);
    assert_eq!(h.u().winner(1), Some(cid(2)));
    assert_eq!(h.u().winner(0), Some(cid(1)));
    assert_eq!(
        h.u().winner(3),
        Some(cid(1)),
        "missing trailing 0xDD values are 0"
    );
    assert!(h.u().source(cid(2)).expect("b").per_address_priority);
    h.events();
    // Levels continue, 0xDD stops: fallback to packet priority (HTP at 100) at exactly 2.5 s.
    for (seq, t) in (2u8..).zip((200..=2400).step_by(200)) {
        h.send(t, pkt(1, seq), &[100, 100, 100, 100]).expect("a");
        h.send(t, pkt(2, seq), &[50, 50, 50, 50]).expect("b");
        h.tick(t);
    }
    assert_eq!(
        h.slots(3),
        vec![100, 50, 100],
        "0xDD still in force at 2.4 s"
    );
    h.tick(2500);
    assert_eq!(h.slots(3), vec![100, 100, 100]);
    assert_eq!(h.u().winner(1), Some(cid(1)));
    assert_eq!(
        h.events(),
        vec![Event::PerAddressPriorityLost {
            universe: U,
            cid: cid(2)
        }]
    );
    assert_eq!(h.u().source_count(), 2);
}

#[test]
fn per_address_priority_zero_releases_a_slot() {
    for (loss, released) in [(LossBehavior::Hold, 77u8), (LossBehavior::Zero, 0)] {
        let cfg = ReceiverConfig {
            loss,
            ..immediate()
        };
        let mut h = H::new(cfg);
        h.send(0, pkt(1, 0), &[77, 88]).expect("levels");
        h.changed();
        assert!(
            data_changed(h.send(10, pkt(1, 1).pap(), &[0, 100])) == (loss == LossBehavior::Zero)
        );
        assert_eq!(h.slots(2), vec![released, 88]);
        assert_eq!(
            h.u().winner(0),
            None,
            "priority 0: the source does not drive slot 1"
        );
        assert_eq!(h.u().winner(1), Some(cid(1)));
        // Another source at packet priority 1 (key 2) now drives it.
        h.send(20, pkt(2, 0).prio(1), &[5, 5]).expect("b");
        assert_eq!(h.slots(2), vec![5, 88]);
        assert_eq!(h.u().winner(0), Some(cid(2)));
    }
}

#[test]
fn per_address_priority_is_never_applied_as_levels() {
    let mut h = H::new(immediate());
    assert!(!data_changed(h.send(0, pkt(1, 0).pap(), &[200; 512])));
    assert_eq!(h.slots(512), vec![0; 512]);
    assert_eq!(h.changed(), None);
    h.send(10, pkt(1, 1), &[1, 2, 3]).expect("levels");
    assert_eq!(h.slots(4), vec![1, 2, 3, 0]);
    h.send(20, pkt(1, 2).pap(), &[199; 512]).expect("pap");
    assert_eq!(h.slots(4), vec![1, 2, 3, 0]);
}

#[test]
fn other_start_codes_are_counted_not_merged() {
    let mut h = H::new(immediate());
    h.send(0, pkt(1, 0), &[1]).expect("levels");
    assert_eq!(
        discard(h.send(10, pkt(1, 1).sc(0x17), &[99])),
        Discard::UnsupportedStartCode
    );
    assert_eq!(
        discard(h.send(10, pkt(1, 2).sc(0xCC), &[99])),
        Discard::UnsupportedStartCode
    );
    assert_eq!(h.slots(1), vec![1]);
    assert_eq!(h.rx.counters().discarded(Discard::UnsupportedStartCode), 2);
}

#[test]
fn sampling_period_withholds_output_then_emits_the_merge() {
    let mut h = H::new(ReceiverConfig::default());
    assert_eq!(h.rx.poll_timeout(), Some(h.at(1500)));
    assert!(!data_changed(h.send(100, pkt(1, 0).prio(50), &[50, 50])));
    assert!(!data_changed(h.send(500, pkt(2, 0).prio(100), &[100, 100])));
    assert!(h.u().is_sampling());
    assert_eq!(h.slots(2), vec![0, 0]);
    assert_eq!(h.changed(), None);
    h.tick(1499);
    assert!(h.u().is_sampling());
    assert_eq!(h.slots(2), vec![0, 0]);
    h.tick(1500);
    assert!(!h.u().is_sampling());
    // The higher source heard during sampling wins at once: no flash of the lower one.
    assert_eq!(h.slots(2), vec![100, 100]);
    assert_eq!(h.u().winner(0), Some(cid(2)));
    assert_eq!(
        h.changed().expect("changed").iter().collect::<Vec<_>>(),
        vec![0, 1]
    );
    assert!(h.events().contains(&Event::SamplingEnded { universe: U }));
}

#[test]
fn new_source_after_sampling_waits_for_per_address_priority() {
    // Variant 1: the 0xDD packet arrives during the wait and releases the stored levels at once.
    let mut h = H::new(ReceiverConfig::default());
    h.send(0, pkt(1, 0), &[10]).expect("a");
    h.tick(1500);
    assert_eq!(h.slots(1), vec![10]);
    assert!(!data_changed(h.send(2000, pkt(2, 0), &[255])));
    assert!(h.u().source(cid(2)).expect("b").waiting_for_priority);
    assert_eq!(h.slots(1), vec![10]);
    h.send(1900, pkt(1, 1), &[10]).expect("a keeps sending");
    assert!(data_changed(h.send(2400, pkt(2, 1).pap(), &[100])));
    assert_eq!(h.slots(1), vec![255]);

    // Variant 2: no 0xDD; levels merge when the 1.5 s wait ends, not before.
    let mut h = H::new(ReceiverConfig::default());
    h.send(0, pkt(1, 0), &[10]).expect("a");
    h.tick(1500);
    h.send(2000, pkt(1, 1), &[10]).expect("a");
    h.send(2000, pkt(2, 0), &[255]).expect("b");
    h.send(3000, pkt(1, 2), &[10]).expect("a");
    h.send(3000, pkt(2, 1), &[255]).expect("b");
    h.tick(3499);
    assert_eq!(h.slots(1), vec![10]);
    h.changed();
    h.tick(3500);
    assert_eq!(h.slots(1), vec![255]);
    assert!(h.changed().is_some());
    assert!(!h.u().source(cid(2)).expect("b").waiting_for_priority);
}

#[test]
fn sync_holds_until_sync_packet_and_not_before_first_sync() {
    let mut h = H::new(immediate());
    // No sync packet seen yet for (cid 1, 7): data applies on arrival (E1.31 6.2.4.1).
    assert!(data_changed(h.send(0, pkt(1, 0).sync(7), &[1])));
    assert!(h.events().contains(&Event::SyncAddressSeen {
        universe: U,
        cid: cid(1),
        sync_address: 7
    }));
    assert_eq!(
        h.sync(10, 1, 0, 7),
        Ok(Handled::Sync {
            address: 7,
            changed_universes: 0
        })
    );
    assert_eq!(
        h.send(20, pkt(1, 1).sync(7), &[2]),
        Ok(Handled::Held { universe: U })
    );
    assert_eq!(
        h.send(25, pkt(1, 2).sync(7), &[3]),
        Ok(Handled::Held { universe: U })
    );
    assert_eq!(h.slots(1), vec![1]);
    // A sync packet from another CID releases nothing.
    assert_eq!(
        h.sync(30, 2, 0, 7),
        Ok(Handled::Sync {
            address: 7,
            changed_universes: 0
        })
    );
    assert_eq!(h.slots(1), vec![1]);
    assert_eq!(
        h.sync(40, 1, 1, 7),
        Ok(Handled::Sync {
            address: 7,
            changed_universes: 1
        })
    );
    assert_eq!(h.slots(1), vec![3], "the newest held data applies");
    // Out-of-sequence sync packets are dropped.
    assert_eq!(discard(h.sync(50, 1, 1, 7)), Discard::OutOfSequence);
}

#[test]
fn sync_spans_universes() {
    let mut h = H::new(immediate());
    let now = h.at(0);
    h.rx.add_universe(now, 2, UniverseConfig::default())
        .expect("add");
    h.sync(0, 1, 0, 9).expect("sync");
    assert_eq!(
        h.send(10, pkt(1, 0).sync(9), &[4]),
        Ok(Handled::Held { universe: U })
    );
    assert_eq!(
        h.send(10, pkt(1, 0).sync(9).uni(2), &[5]),
        Ok(Handled::Held { universe: 2 })
    );
    assert_eq!(
        h.sync(20, 1, 1, 9),
        Ok(Handled::Sync {
            address: 9,
            changed_universes: 2
        })
    );
    assert_eq!(h.rx.universe(1).expect("u1").slots()[0], 4);
    assert_eq!(h.rx.universe(2).expect("u2").slots()[0], 5);
}

#[test]
fn force_synchronization_on_sync_loss() {
    // E1.31-2018 6.2.6: bit set = may revert to applying on arrival; clear = keep holding.
    for force in [true, false] {
        let mut h = H::new(immediate());
        let opts = Options::NONE.with_force_synchronization(force);
        h.sync(0, 1, 0, 7).expect("sync");
        assert_eq!(
            h.send(10, pkt(1, 0).sync(7).opts(opts), &[1]),
            Ok(Handled::Held { universe: U })
        );
        h.sync(20, 1, 1, 7).expect("sync");
        assert_eq!(h.slots(1), vec![1]);
        // Sync stops. 2.4 s later the stream still counts as alive.
        assert_eq!(
            h.send(2420, pkt(1, 1).sync(7).opts(opts), &[2]),
            Ok(Handled::Held { universe: U })
        );
        // At 2.5 s after the last sync packet it is lost.
        let r = h.send(2520, pkt(1, 2).sync(7).opts(opts), &[3]);
        if force {
            assert!(data_changed(r));
            assert_eq!(h.slots(1), vec![3]);
        } else {
            assert_eq!(r, Ok(Handled::Held { universe: U }));
            assert_eq!(h.slots(1), vec![1], "keeps the last synchronized look");
            // Sync resumes: the newest held data applies.
            assert_eq!(
                h.sync(3000, 1, 2, 7),
                Ok(Handled::Sync {
                    address: 7,
                    changed_universes: 1
                })
            );
            assert_eq!(h.slots(1), vec![3]);
        }
    }
}

#[test]
fn unsynchronized_packet_discards_held_data() {
    let mut h = H::new(immediate());
    h.sync(0, 1, 0, 7).expect("sync");
    assert_eq!(
        h.send(10, pkt(1, 0).sync(7), &[1]),
        Ok(Handled::Held { universe: U })
    );
    assert!(data_changed(h.send(20, pkt(1, 1), &[2])));
    assert_eq!(
        h.sync(30, 1, 1, 7),
        Ok(Handled::Sync {
            address: 7,
            changed_universes: 0
        })
    );
    assert_eq!(h.slots(1), vec![2]);
}

#[test]
fn filters_and_preview() {
    let cfg = ReceiverConfig {
        own_cid: Some(cid(9)),
        ..immediate()
    };
    let t0 = Instant::now();
    let mut rx = Receiver::new(cfg);
    rx.add_universe(t0, 1, UniverseConfig::default())
        .expect("add");
    rx.add_universe(t0, 2, UniverseConfig { from: Some(cid(1)) })
        .expect("add");
    let d = |r: Result<Handled, Dropped>| r.expect_err("drop").discard().expect("discard");
    assert_eq!(
        d(rx.handle_datagram(t0, &pkt(9, 0).bytes(&[1]))),
        Discard::OwnCid
    );
    assert_eq!(
        d(rx.handle_datagram(t0, &pkt(2, 0).uni(2).bytes(&[1]))),
        Discard::FilteredCid
    );
    assert!(
        rx.handle_datagram(t0, &pkt(1, 0).uni(2).bytes(&[1]))
            .is_ok()
    );
    assert_eq!(
        d(rx.handle_datagram(t0, &pkt(1, 0).uni(3).bytes(&[1]))),
        Discard::UnknownUniverse
    );
    let prev = Options::NONE.with_preview(true);
    assert_eq!(
        d(rx.handle_datagram(t0, &pkt(1, 0).opts(prev).bytes(&[1]))),
        Discard::Preview
    );
    assert_eq!(rx.universe(1).expect("u1").slots()[0], 0);
    assert_eq!(rx.universe(2).expect("u2").slots()[0], 1);
    let drop = rx.handle_datagram(t0, &[0u8; 10]).expect_err("malformed");
    assert!(matches!(drop.cause, DropCause::Malformed(_)));
    let c = rx.counters();
    for r in [
        Discard::OwnCid,
        Discard::FilteredCid,
        Discard::UnknownUniverse,
        Discard::Preview,
    ] {
        assert_eq!(c.discarded(r), 1, "{r:?}");
    }
    assert_eq!(c.malformed_total(), 1);
    assert_eq!(c.data, 1);

    // Previews accepted by option.
    let cfg = ReceiverConfig {
        accept_preview: true,
        ..immediate()
    };
    let mut rx = Receiver::new(cfg);
    rx.add_universe(t0, 1, UniverseConfig::default())
        .expect("add");
    assert!(
        rx.handle_datagram(t0, &pkt(1, 0).opts(prev).bytes(&[7]))
            .is_ok()
    );
    assert_eq!(rx.universe(1).expect("u1").slots()[0], 7);
}

/// Packets with a tolerated deviation are used as the parser reads them, and counted.
#[test]
fn irregular_packets_are_used_and_counted() {
    use crate::wire::Irregularity;
    let mut h = H::new(immediate());
    // Priority 255 is used as 200: it beats 199 and ties with 200 (HTP).
    h.send(0, pkt(2, 0).prio(199), &[50]).expect("data");
    let mut b = pkt(1, 0).bytes(&[10]);
    b[108] = 255;
    h.rx.handle_datagram(h.at(0), &b).expect("priority 255");
    assert_eq!(h.slots(1), vec![10]);
    assert_eq!(h.u().source(cid(1)).expect("src").priority, 200);
    h.send(10, pkt(2, 1).prio(200), &[50]).expect("data");
    assert_eq!(h.slots(1), vec![50]);
    // A sync address above 63999 is no sync: applied at once, not held, no sync group asked for.
    h.sync(10, 1, 0, 7).expect("sync stream seen");
    let mut b = pkt(1, 1).prio(200).bytes(&[99]);
    b[109..111].copy_from_slice(&64000u16.to_be_bytes());
    h.events();
    assert!(data_changed(h.rx.handle_datagram(h.at(20), &b)));
    assert_eq!(h.slots(1), vec![99]);
    assert!(
        h.events()
            .iter()
            .all(|e| !matches!(e, Event::SyncAddressSeen { .. }))
    );
    // Padding after the slots is not level data.
    let mut b = pkt(1, 2).prio(200).bytes(&[98]);
    b.extend_from_slice(&[255; 20]);
    assert!(data_changed(h.rx.handle_datagram(h.at(30), &b)));
    assert_eq!(h.slots(2), vec![98, 0]);
    assert_eq!(h.u().source(cid(1)).expect("src").slot_count, 1);
    let c = h.rx.counters();
    assert_eq!(c.irregular(Irregularity::PriorityAbove200), 1);
    assert_eq!(c.irregular(Irregularity::SyncAddressOutOfRange), 1);
    assert_eq!(c.irregular(Irregularity::Padded), 1);
    assert_eq!(c.irregular(Irregularity::MidimonsterDmpLength), 0);
    assert_eq!(c.malformed_total(), 0);
}

#[test]
fn flood_of_new_cids_is_bounded() {
    let cfg = ReceiverConfig {
        max_sources_per_universe: 4,
        ..immediate()
    };
    let mut h = H::new(cfg);
    for n in 0..1000u32 {
        let mut p = pkt(0, 0);
        let c = Cid(n.to_be_bytes().repeat(4).try_into().expect("16 bytes"));
        let mut bytes = p.bytes(&[1]);
        bytes[22..38].copy_from_slice(&c.0);
        p.seq = 0;
        let _ = h.rx.handle_datagram(h.at(0), &bytes);
    }
    assert_eq!(h.u().source_count(), 4);
    assert_eq!(h.u().source_capacity(), 4);
    assert_eq!(h.rx.counters().discarded(Discard::TooManySources), 996);
    let limit = h
        .events()
        .iter()
        .filter(|e| matches!(e, Event::SourceLimitExceeded { .. }))
        .count();
    assert_eq!(limit, 1, "reported once");
}

#[test]
fn discovery_through_the_receiver() {
    let mut h = H::new(immediate());
    let all: Vec<u16> = (1..=1000).collect();
    let mut buf = vec![0u8; 1200];
    for (page, chunk) in all.chunks(512).enumerate() {
        let n = write_discovery(&mut buf, cid(3), "desk", page as u8, 1, chunk).expect("page");
        let r = h.rx.handle_datagram(h.at(0), &buf[..n]).expect("page");
        assert_eq!(
            r,
            Handled::Discovery {
                cid: cid(3),
                complete: page == 1
            }
        );
    }
    assert_eq!(
        h.rx.discovery().get(cid(3)).expect("known").universes,
        &all[..]
    );
    assert!(
        h.events()
            .contains(&Event::DiscoveryUpdated { cid: cid(3) })
    );
    h.tick(24_999);
    assert_eq!(h.rx.discovery().len(), 1);
    h.tick(25_000);
    assert_eq!(h.rx.discovery().len(), 0);
    assert!(
        h.events()
            .contains(&Event::DiscoveryExpired { cid: cid(3) })
    );
}

#[test]
fn many_universes_share_one_deadline_heap() {
    let t0 = Instant::now();
    let mut rx = Receiver::new(ReceiverConfig::default());
    for u in 1..=1000u16 {
        rx.add_universe(t0, u, UniverseConfig::default())
            .expect("add");
    }
    assert_eq!(
        rx.add_universe(t0, 5, UniverseConfig::default()),
        Err(ReceiverError::AlreadyListening(5))
    );
    assert_eq!(
        rx.add_universe(t0, 0, UniverseConfig::default()),
        Err(ReceiverError::InvalidUniverse(0))
    );
    assert_eq!(rx.poll_timeout(), Some(t0 + SAMPLING_PERIOD));
    for u in 1..=1000u16 {
        rx.handle_datagram(t0 + ms(10), &pkt(1, 0).uni(u).bytes(&[u as u8]))
            .expect("data");
    }
    rx.handle_timeout(t0 + SAMPLING_PERIOD);
    let mut n = 0;
    while let Some((u, set)) = rx.poll_changed() {
        n += 1;
        assert_eq!(set.contains(0), u as u8 != 0);
    }
    assert_eq!(n, 1000 - 3, "universes whose low byte is 0 did not change");
    assert_eq!(
        rx.poll_timeout(),
        Some(t0 + ms(10) + NETWORK_DATA_LOSS_TIMEOUT)
    );
    assert!(rx.remove_universe(500));
    assert!(rx.universe(500).is_none());
    rx.handle_timeout(t0 + ms(2510));
    assert_eq!(rx.universe(1).expect("u1").source_count(), 0);
    assert_eq!(rx.poll_timeout(), None);
}

#[test]
fn source_sending_priority_first_merges_from_its_first_levels_packet() {
    let mut h = H::new(ReceiverConfig::default());
    h.send(0, pkt(1, 0), &[10]).expect("a");
    h.tick(1500);
    h.send(2000, pkt(2, 0).pap(), &[150]).expect("b 0xDD");
    assert_eq!(h.slots(1), vec![10]);
    assert!(data_changed(h.send(2010, pkt(2, 1), &[20])));
    assert_eq!(h.slots(1), vec![20], "0xDD 150 beats packet priority 100");
    assert_eq!(h.u().winner(0), Some(cid(2)));
}

#[test]
fn levels_stopping_loses_the_source_even_if_priorities_continue() {
    let mut h = H::new(immediate());
    h.send(0, pkt(1, 0), &[10]).expect("levels");
    h.send(0, pkt(1, 1).pap(), &[100]).expect("pap");
    for (seq, t) in (2u8..).zip((500..=2000).step_by(500)) {
        h.send(t, pkt(1, seq).pap(), &[100]).expect("pap");
    }
    h.tick(2499);
    assert_eq!(h.u().source_count(), 1);
    h.tick(2500);
    assert_eq!(
        h.u().source_count(),
        0,
        "0xDD packets do not keep a source alive"
    );
    assert!(h.events().contains(&Event::SourceLost {
        universe: U,
        cid: cid(1)
    }));
}

/// A stale packet (the reader is far behind) keeps its known source alive and counts its
/// sequence number, without touching the levels; anything else it refuses, unchanged.
#[test]
fn keep_alive_restarts_the_loss_timer_and_skips_the_levels() {
    let mut h = H::new(immediate());
    let keep = |h: &mut H, t: u64, p: Pkt, slots: &[u8]| {
        let bytes = p.bytes(slots);
        let Ok(Packet::Data(d)) = Packet::parse(&bytes) else {
            panic!("valid test packet");
        };
        let now = h.at(t);
        h.rx.keep_alive(now, &d)
    };
    assert!(
        !keep(&mut h, 0, pkt(1, 0), &[10]),
        "an unknown source needs full handling"
    );
    h.send(0, pkt(1, 0), &[10]).expect("levels");
    for (seq, t) in (1u8..).zip((1000..=4000).step_by(1000)) {
        assert!(keep(&mut h, t, pkt(1, seq), &[99]));
    }
    h.tick(6499);
    assert_eq!(
        h.u().source_count(),
        1,
        "alive 2.5 s after the last stale packet"
    );
    assert_eq!(h.slots(1), vec![10], "its levels were skipped");
    assert_eq!(
        discard(h.send(6499, pkt(1, 4), &[50])),
        Discard::OutOfSequence,
        "its sequence numbers counted"
    );
    assert!(
        !keep(&mut h, 6499, pkt(1, 4), &[50]),
        "out of sequence: refused"
    );
    assert!(
        !keep(&mut h, 6499, pkt(1, 5).pap(), &[50]),
        "0xDD: full handling"
    );
    let end = Options::NONE.with_stream_terminated(true);
    assert!(
        !keep(&mut h, 6499, pkt(1, 5).opts(end), &[50]),
        "termination: full handling"
    );
    assert!(
        !keep(&mut h, 6499, pkt(1, 5).uni(U + 1), &[50]),
        "unknown universe"
    );
    assert!(data_changed(h.send(6499, pkt(1, 5), &[50])));
    assert_eq!(h.slots(1), vec![50]);
    h.tick(9000);
    assert_eq!(h.u().source_count(), 0, "lost 2.5 s after its last packet");
}

#[test]
fn sync_stream_table_is_bounded() {
    let cfg = ReceiverConfig {
        max_sync_streams: 2,
        ..immediate()
    };
    let mut h = H::new(cfg);
    h.sync(0, 1, 0, 7).expect("first");
    h.sync(0, 2, 0, 7).expect("second");
    assert_eq!(discard(h.sync(0, 3, 0, 7)), Discard::TooManySources);
    assert_eq!(h.rx.sync_stream_count(), 2);
    h.sync(1000, 2, 1, 7).expect("refresh");
    // Stream of CID 1 lost at 2.5 s: it is evicted for the newcomer, CID 2's is kept.
    h.sync(2600, 3, 0, 7).expect("evicts the lost stream");
    assert_eq!(discard(h.sync(2600, 4, 0, 7)), Discard::TooManySources);
    assert_eq!(h.rx.sync_stream_count(), 2);
}

/// The fuzz record format reaches the merge, sync and discovery, not just the parser.
#[test]
fn fuzz_records_build_valid_packets() {
    let mut input = Vec::new();
    // Data: CID index 0, universe 1, seq 0, no options, levels, prio 100, no sync, 4 slots.
    input.extend_from_slice(&[1, 10, 0, 0, 0, 0, 0, 0, 100, 0, 2]);
    input.extend_from_slice(&[9, 9, 9, 9]);
    // Sync: CID index 0, seq 0, address 7.
    input.extend_from_slice(&[2, 1, 0, 0, 0, 0]);
    // Discovery: CID index 1, page 0 of 0, 8 universes.
    input.extend_from_slice(&[3, 1, 0, 1, 0, 0, 4]);
    // Empty raw datagram 1.6 s later, with handle_timeout: the sampling period ends.
    input.extend_from_slice(&[0x20, 0x40, 0x06, 0, 0]);
    let rx = fuzz::drive(&input);
    let c = rx.counters();
    assert_eq!((c.data, c.sync, c.discovery), (1, 1, 1));
    assert_eq!(c.malformed_total(), 1);
    assert_eq!(rx.universe(1).expect("u1").slots()[..5], [9, 9, 9, 9, 0]);
}

proptest! {
    /// Acceptance through a whole universe follows the standalone window rule.
    #[test]
    fn universe_sequence_matches_model(seqs in proptest::collection::vec(any::<u8>(), 1..100)) {
        let mut h = H::new(immediate());
        let mut last: Option<u8> = None;
        for (k, s) in seqs.into_iter().enumerate() {
            let r = h.send(k as u64, pkt(1, s), &[s]);
            let expect = last.is_none_or(|l| sequence_accepts(l, s));
            match r {
                Ok(_) => {
                    prop_assert!(expect);
                    last = Some(s);
                    prop_assert_eq!(h.u().slots()[0], s);
                }
                Err(d) => {
                    prop_assert!(!expect);
                    prop_assert_eq!(d.discard(), Some(Discard::OutOfSequence));
                }
            }
        }
    }

    /// Mostly valid packets (data, 0xDD, sync, discovery) from five sources at random times,
    /// with the fuzz body's invariants checked after every step.
    #[test]
    fn random_valid_traffic_keeps_invariants(
        records in proptest::collection::vec(
            (
                prop_oneof![4 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8)],
                any::<bool>(),
                proptest::bool::weighted(0.1),
                0u16..300,
                proptest::collection::vec(any::<u8>(), 8),
                // Slot counts 0..=23, and now and then a full universe (255 → 512).
                prop_oneof![6 => 0u8..12, 1 => Just(255u8)],
            ),
            0..150,
        ),
        ltp: bool,
        zero: bool,
    ) {
        let mut input = Vec::new();
        for (kind, timeout, slow, step, mut fields, nslots) in records {
            let mode = kind | if timeout { 0x20 } else { 0 } | if slow { 0x80 } else { 0 };
            input.push(mode);
            input.extend_from_slice(&step.to_le_bytes());
            fields[7] = nslots;
            // Options: mostly none, sometimes terminate / force sync / preview.
            fields[3] &= 0xE0;
            if fields[4] % 4 != 0 {
                fields[3] &= 0x20;
            }
            let n = match kind { 1 => 8, 2 => 3, _ => 4 };
            input.extend_from_slice(&fields[..n]);
            if kind == 1 {
                let slots = match nslots {
                    255 => 512,
                    c => usize::from(c) * 2 + usize::from(c & 1),
                };
                input.extend(std::iter::repeat_n(fields[5], slots));
            }
        }
        if let Some(first) = input.first_mut() {
            *first |= if ltp { 0x40 } else { 0 } | if zero { 0x08 } else { 0 };
        }
        let rx = fuzz::drive(&input);
        prop_assert_eq!(rx.universe(1).map(|u| u.source_count()), Some(0));
    }

    #[test]
    fn fuzz_entry_never_panics(data in proptest::collection::vec(any::<u8>(), 0..2000)) {
        fuzz_receiver(&data);
    }

    #[test]
    fn arbitrary_datagrams_and_times_never_panic(
        steps in proptest::collection::vec((0u64..5000, proptest::collection::vec(any::<u8>(), 0..700)), 0..40),
    ) {
        let t0 = Instant::now();
        let mut rx = Receiver::new(ReceiverConfig::default());
        rx.add_universe(t0, 1, UniverseConfig::default()).expect("add");
        let mut now = t0;
        for (dt, bytes) in steps {
            now += ms(dt);
            let _ = rx.handle_datagram(now, &bytes);
            rx.handle_timeout(now);
            while rx.poll_event().is_some() {}
            while rx.poll_changed().is_some() {}
        }
    }

    /// `changes_nothing` never lies: whenever it says so, taking the packet in changes no slot
    /// (random sources, repeats, priorities, 0xDD, terminations, sequence jumps, both merges).
    #[test]
    fn changes_nothing_is_never_wrong(
        steps in proptest::collection::vec(
            (
                1u8..4,
                0u8..6,
                prop_oneof![Just(100u8), Just(120u8)],
                proptest::bool::weighted(0.15),
                proptest::bool::weighted(0.05),
                prop_oneof![3 => Just(0u8), 1 => Just(1u8)],
                0u64..40,
                // Slot count: packets that shrink and grow move what a source drives.
                prop_oneof![4 => Just(2usize), 1 => Just(1usize), 1 => Just(3usize)],
            ),
            1..80,
        ),
        ltp: bool,
        sampling: bool,
    ) {
        let cfg = ReceiverConfig {
            merge: if ltp { MergeMode::Ltp } else { MergeMode::Htp },
            sampling_period: if sampling { ms(500) } else { Duration::ZERO },
            ..immediate()
        };
        let mut h = H::new(cfg);
        let mut seq = [0u8; 4];
        let mut t = 0;
        for (c, value, prio, pap, term, back, dt, count) in steps {
            t += dt;
            let i = usize::from(c);
            seq[i] = seq[i].wrapping_add(1).wrapping_sub(back.wrapping_mul(2));
            let mut p = pkt(c, seq[i]).prio(prio);
            if pap {
                p = p.pap();
            }
            if term {
                p = p.opts(Options::NONE.with_stream_terminated(true));
            }
            let bytes = p.bytes(&[value % 3, 7, 7][..count]);
            // Timers first, as the receiver does on arrival, so only the packet is judged.
            h.tick(t);
            while h.rx.poll_changed().is_some() {}
            let Ok(Packet::Data(d)) = Packet::parse(&bytes) else {
                panic!("valid test packet");
            };
            let nothing = h.u().changes_nothing(&d);
            let before = *h.u().slots();
            let _ = h.rx.handle_datagram(h.at(t), &bytes);
            if nothing {
                prop_assert_eq!(&before[..], &h.u().slots()[..]);
                prop_assert!(!h.rx.has_pending_change(U));
            }
            while h.rx.poll_event().is_some() {}
        }
    }

    /// HTP output equals a per-slot reference merge for random sources (no 0xDD) of random
    /// lengths: per slot, the highest priority among the sources whose packet reaches it, then
    /// the highest level; a slot no packet reaches keeps its value (0).
    #[test]
    fn htp_matches_reference(
        srcs in proptest::collection::vec((0u8..3, proptest::collection::vec(any::<u8>(), 0..=8)), 1..5),
    ) {
        let mut h = H::new(immediate());
        let mut expect = [0u8; 8];
        for (slot, e) in expect.iter_mut().enumerate() {
            let reaching = || srcs.iter().filter(|(_, l)| slot < l.len());
            let Some(top) = reaching().map(|s| s.0).max() else { continue };
            *e = reaching().filter(|s| s.0 == top).map(|(_, l)| l[slot]).max().unwrap_or(0);
        }
        for (k, (prio, levels)) in srcs.iter().enumerate() {
            h.send(0, pkt(k as u8 + 1, 0).prio(100 + *prio), levels).expect("data");
        }
        prop_assert_eq!(h.slots(8), expect.to_vec());
        h.u().verify_merge().map_err(TestCaseError::fail)?;
    }
}
