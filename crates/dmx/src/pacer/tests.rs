//! Pacer scenarios on a fake clock: a caller that notes changes, flushes after each one and
//! otherwise sleeps until the pacer's deadline (on time or a little late).

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

/// 1/44 s rounded up to whole nanoseconds (E1.31's 44 packets/s).
const GAP: Duration = Duration::from_nanos(1_000_000_000_u64.div_ceil(44));
/// Period of a 44 fps input: k/44 s rounded to ns, as a sender computing from its start does.
fn frame(k: u32) -> Duration {
    Duration::from_nanos((f64::from(k) * 1e9 / 44.0).round() as u64)
}

fn ms(n: f64) -> Duration {
    Duration::from_secs_f64(n / 1000.0)
}

fn strict() -> PacerConfig {
    PacerConfig {
        limit: Limit::Strict {
            min_gap: GAP,
            late_allowance: ms(1.0),
            catch_up: Some(ms(2.0)),
        },
        repeats: 3,
        repeat_gap: GAP,
        repeat_delay: GAP / 2,
        keep_alive: ms(900.0),
    }
}

fn burst() -> PacerConfig {
    PacerConfig {
        limit: Limit::Burst {
            min_gap: Duration::from_micros(250),
            burst: ms(1.0),
        },
        repeats: 3,
        repeat_gap: GAP,
        repeat_delay: Duration::ZERO,
        keep_alive: ms(900.0),
    }
}

#[derive(Debug, Clone, Copy)]
struct Sent {
    at: Instant,
    reason: SendReason,
    /// Index of the newest change the packet carries.
    carries: usize,
}

/// Feeds `changes` (ascending offsets from `t0`) and polls at every deadline, `late(i)` after
/// it for the `i`-th timer poll, until `until`; a change is flushed at once, as an event loop
/// flushes at the end of the turn that noted it.
fn run(
    cfg: &PacerConfig,
    t0: Instant,
    changes: &[Duration],
    late: impl FnMut(usize) -> Duration,
    until: Duration,
) -> Vec<Sent> {
    run_counting(cfg, t0, changes, late, until).0
}

/// As [`run`], and when changes were given up to catch up.
fn run_counting(
    cfg: &PacerConfig,
    t0: Instant,
    changes: &[Duration],
    mut late: impl FnMut(usize) -> Duration,
    until: Duration,
) -> (Vec<Sent>, Vec<Instant>) {
    let mut given_up = Vec::new();
    let mut p = Pacer::new();
    let mut out = Vec::new();
    let mut next = 0;
    let mut polls = 0;
    let end = t0 + until;
    loop {
        let change_at = changes.get(next).map(|d| t0 + *d);
        let poll_at = p.deadline(cfg).map(|d| d + late(polls));
        match (change_at, poll_at) {
            (Some(c), p_at) if p_at.is_none_or(|x| c <= x) => {
                // The give-up condition of `Pacer::change`.
                if p.dirty
                    && p.slot_of_change(cfg)
                        .is_some_and(|slot| p.holds(slot, cfg) && c >= slot)
                {
                    given_up.push(c);
                }
                p.change(c, cfg);
                next += 1;
                if let Some(reason) = p.poll(c, cfg) {
                    out.push(Sent {
                        at: c,
                        reason,
                        carries: next - 1,
                    });
                }
            }
            (_, Some(x)) if x <= end => {
                polls += 1;
                let reason = p.sent(x, cfg);
                out.push(Sent {
                    at: x,
                    reason,
                    carries: next.saturating_sub(1),
                });
            }
            _ => break,
        }
    }
    (out, given_up)
}

/// Sent within 1 µs of `at`: a 44 fps input's period alternates between one gap and 1 ns less,
/// so a frame on time can wait a few ns for its slot.
fn about(sent: Instant, at: Instant) -> bool {
    sent >= at && sent - at < Duration::from_micros(1)
}

fn on_time(_: usize) -> Duration {
    Duration::ZERO
}

/// Changes never carried as the newest one by any packet (coalesced or given up).
fn lost(sent: &[Sent], changes: usize) -> Vec<usize> {
    let mut carried = vec![false; changes];
    for s in sent.iter().filter(|s| s.reason == SendReason::Change) {
        carried[s.carries] = true;
    }
    (0..changes).filter(|&i| !carried[i]).collect()
}

fn gaps(sent: &[Sent]) -> impl Iterator<Item = Duration> + '_ {
    sent.windows(2).map(|w| w[1].at - w[0].at)
}

/// At most 44 packets in any closed 1 s window.
fn max_per_second(sent: &[Sent]) -> usize {
    let mut most = 0;
    for (i, s) in sent.iter().enumerate() {
        let n = sent[i..]
            .iter()
            .take_while(|q| q.at - s.at <= Duration::from_secs(1))
            .count();
        most = most.max(n);
    }
    most
}

#[test]
fn nothing_before_the_first_change_then_at_once() {
    let t0 = Instant::now();
    let cfg = strict();
    let mut p = Pacer::new();
    assert_eq!(p.deadline(&cfg), None);
    assert_eq!(p.poll(t0 + ms(5000.0), &cfg), None);
    p.change(t0, &cfg);
    assert!(p.is_dirty());
    assert_eq!(p.deadline(&cfg), Some(t0));
    assert_eq!(p.poll(t0, &cfg), Some(SendReason::Change));
    assert!(!p.is_dirty());
}

#[test]
fn repeats_then_keep_alives() {
    let t0 = Instant::now();
    let cfg = strict();
    let sent = run(&cfg, t0, &[Duration::ZERO], on_time, ms(3000.0));
    let reasons: Vec<SendReason> = sent.iter().map(|s| s.reason).take(5).collect();
    use SendReason::*;
    assert_eq!(reasons, [Change, Repeat, Repeat, Repeat, KeepAlive]);
    // The first repeat waits a gap and the delay, the others a gap.
    assert_eq!(sent[1].at - sent[0].at, GAP + GAP / 2);
    assert_eq!(sent[2].at - sent[1].at, GAP);
    assert_eq!(sent[3].at - sent[2].at, GAP);
    for w in sent[3..].windows(2) {
        assert_eq!(w[1].at - w[0].at, ms(900.0));
    }
}

#[test]
fn a_change_too_soon_waits_for_its_slot_and_carries_the_latest_values() {
    let t0 = Instant::now();
    let cfg = strict();
    // 100 changes within 10 ms.
    let changes: Vec<Duration> = (0..100).map(|i| Duration::from_micros(100 * i)).collect();
    let sent = run(&cfg, t0, &changes, on_time, ms(30.0));
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!((sent[0].at, sent[0].carries), (t0, 0));
    assert_eq!((sent[1].at, sent[1].carries), (t0 + GAP, 99));
}

#[test]
fn overload_sends_exactly_one_packet_per_gap() {
    let t0 = Instant::now();
    let cfg = strict();
    let changes: Vec<Duration> = (0..4000).map(|i| Duration::from_micros(500 * i)).collect();
    let sent = run(&cfg, t0, &changes, on_time, ms(2100.0));
    let data: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.reason == SendReason::Change)
        .collect();
    for w in data.windows(2) {
        assert_eq!(w[1].at - w[0].at, GAP);
    }
    assert_eq!(max_per_second(&sent), 44);
    // The last change (at 1999.5 ms) goes out at the next slot.
    let last = data.last().expect("sent");
    assert_eq!(last.carries, 3999);
    assert!(last.at - (t0 + Duration::from_micros(500 * 3999)) <= GAP);
}

/// The schedule, not the wake-up, sets the gap: a deferred packet polled late (within the
/// allowance) keeps its slot, so the next frame of a 44 fps input is not deferred by as much.
#[test]
fn lateness_within_the_allowance_is_not_charged() {
    let t0 = Instant::now();
    let cfg = strict();
    let mut p = Pacer::new();
    p.change(t0, &cfg);
    assert_eq!(p.poll(t0, &cfg), Some(SendReason::Change));
    // A change 10 ms later waits for t0 + GAP; the caller wakes 0.8 ms late.
    p.change(t0 + ms(10.0), &cfg);
    assert_eq!(p.deadline(&cfg), Some(t0 + GAP));
    assert_eq!(p.poll(t0 + GAP + ms(0.8), &cfg), Some(SendReason::Change));
    // The next change at the next slot goes out at once.
    p.change(t0 + GAP * 2, &cfg);
    assert_eq!(p.poll(t0 + GAP * 2, &cfg), Some(SendReason::Change));
    // Beyond the allowance the rest is charged: 1.5 ms late moves the next slot by 0.5 ms.
    p.change(t0 + GAP * 2 + ms(10.0), &cfg);
    assert_eq!(
        p.poll(t0 + GAP * 3 + ms(1.5), &cfg),
        Some(SendReason::Change)
    );
    p.change(t0 + GAP * 4, &cfg);
    assert_eq!(p.poll(t0 + GAP * 4, &cfg), None);
    assert_eq!(p.deadline(&cfg), Some(t0 + GAP * 4 + ms(0.5)));
}

/// A 44 fps input whose schedule fell behind (one frame stalled) waits a second, gives up one
/// frame and is back on its phase: every later frame goes out as it arrives. A frame stalled
/// beyond the repeat delay finds its slot taken by the first repeat and is lost as well.
#[test]
fn a_stall_costs_one_frame_then_frames_go_out_on_arrival() {
    for (stall, cost) in [(3.0, 1), (8.0, 1), (11.0, 1), (15.0, 2), (21.0, 2)] {
        let t0 = Instant::now();
        let cfg = strict();
        let mut changes: Vec<Duration> = (0..200).map(frame).collect();
        changes[10] += ms(stall);
        let sent = run(&cfg, t0, &changes, on_time, ms(5000.0));
        let lost = lost(&sent, changes.len());
        assert_eq!(lost.len(), cost, "stall {stall} ms: lost {lost:?}");
        // Frame 11 is the first to wait behind the stalled one; a second later, frame 55 is
        // held and given up.
        assert!(
            lost.iter().all(|&i| i == 10 || i == 55),
            "stall {stall} ms: lost {lost:?}"
        );
        for s in sent.iter().filter(|s| s.reason == SendReason::Change) {
            if s.carries > 55 {
                assert!(
                    about(s.at, t0 + changes[s.carries]),
                    "frame {} deferred",
                    s.carries
                );
            }
        }
        assert!(gaps(&sent).all(|g| g >= GAP));
    }
}

/// A lag below the catch-up threshold is kept (nothing is lost for it).
#[test]
fn a_small_lag_is_kept_without_losing_frames() {
    let t0 = Instant::now();
    let cfg = strict();
    let mut changes: Vec<Duration> = (0..200).map(frame).collect();
    changes[10] += ms(1.5);
    let sent = run(&cfg, t0, &changes, on_time, ms(5000.0));
    assert!(lost(&sent, changes.len()).is_empty());
    for s in sent.iter().filter(|s| s.reason == SendReason::Change) {
        assert!(s.at - (t0 + changes[s.carries]) <= ms(1.5) + Duration::from_micros(1));
    }
}

/// Stalls 1.5 s apart: each is caught up a second later; none sooner.
#[test]
fn a_lag_is_caught_up_after_it_stood_for_a_second() {
    let t0 = Instant::now();
    let cfg = strict();
    let changes: Vec<Duration> = (0..440)
        .map(|k| frame(k) + if k % 66 == 5 { ms(8.0) } else { ms(0.0) })
        .collect();
    let (sent, given_up) = run_counting(&cfg, t0, &changes, on_time, ms(12_000.0));
    assert_eq!(given_up.len(), 6, "{given_up:?}");
    for (n, g) in given_up.iter().enumerate() {
        let stall = t0 + changes[66 * n + 5];
        assert!(*g - stall >= CATCH_UP_AFTER, "{given_up:?}");
        assert!(*g - stall <= CATCH_UP_AFTER + GAP * 3, "{given_up:?}");
    }
    assert!(gaps(&sent).all(|g| g >= GAP));
}

/// Frames late now and then (every 100 ms by 10 ms) set the schedule's phase each time: the
/// lag does not stand, so nothing is given up, and no frame waits longer than the lateness.
#[test]
fn recurring_lateness_is_not_caught_up_with() {
    let t0 = Instant::now();
    let cfg = strict();
    let changes: Vec<Duration> = (0..440)
        .map(|k| frame(k) + if k % 4 == 0 { ms(10.0) } else { ms(0.0) })
        .collect();
    let (sent, given_up) = run_counting(&cfg, t0, &changes, on_time, ms(12_000.0));
    assert!(given_up.is_empty(), "{given_up:?}");
    assert!(lost(&sent, changes.len()).is_empty());
    for s in sent.iter().filter(|s| s.reason == SendReason::Change) {
        assert!(s.at - (t0 + changes[s.carries]) <= ms(10.0) + Duration::from_micros(1));
    }
    assert!(gaps(&sent).all(|g| g >= GAP));
}

/// A change right after a repeat waits for its slot but is not held to catch up: the input
/// paused, so there is no phase to catch up with.
#[test]
fn no_catch_up_after_a_pause() {
    let t0 = Instant::now();
    let cfg = strict();
    let mut p = Pacer::new();
    p.change(t0, &cfg);
    p.poll(t0, &cfg);
    let repeat = p.deadline(&cfg).expect("repeat");
    assert_eq!(p.poll(repeat, &cfg), Some(SendReason::Repeat));
    p.change(repeat + ms(1.0), &cfg);
    assert_eq!(p.deadline(&cfg), Some(repeat + GAP));
}

#[test]
fn zero_durations_do_not_spin() {
    let t0 = Instant::now();
    let cfg = PacerConfig {
        limit: Limit::Strict {
            min_gap: Duration::ZERO,
            late_allowance: Duration::ZERO,
            catch_up: Some(Duration::ZERO),
        },
        repeats: 3,
        repeat_gap: Duration::ZERO,
        repeat_delay: Duration::ZERO,
        keep_alive: Duration::ZERO,
    };
    let mut p = Pacer::new();
    p.change(t0, &cfg);
    let mut n = 0;
    while p.poll(t0, &cfg).is_some() {
        n += 1;
        assert!(n < 10, "spins");
    }
    assert_eq!(n, 4);
    assert_eq!(p.deadline(&cfg), Some(t0 + ms(1.0)));
}

/// Burst mode (realtime): changes a sender delivers back to back go out at once, a flood is
/// held to one packet per slot after the burst, and the latest values go out last.
#[test]
fn burst_mode_allows_a_burst_then_one_per_slot() {
    let t0 = Instant::now();
    let cfg = burst();
    let mut p = Pacer::new();
    let mut at_once = 0;
    for _ in 0..3 {
        p.change(t0, &cfg);
        at_once += usize::from(p.poll(t0, &cfg).is_some());
    }
    assert_eq!(at_once, 3);
    let changes: Vec<Duration> = (0..400)
        .map(|i| ms(100.0) + Duration::from_micros(50 * i))
        .collect();
    let sent = run(&cfg, t0, &changes, on_time, ms(121.0));
    let data: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.reason == SendReason::Change)
        .collect();
    let slot = Duration::from_micros(250);
    for (i, a) in data.iter().enumerate() {
        for (n, b) in data[i + 1..].iter().enumerate() {
            let n = u32::try_from(n + 1).expect("n");
            assert!(b.at - a.at + ms(1.0) + slot >= slot * n);
        }
    }
    let in_burst = data.iter().filter(|s| s.at < t0 + ms(120.0)).count();
    assert!((80..=87).contains(&in_burst), "{in_burst}");
    assert_eq!(data.last().map(|s| s.carries), Some(399));
}

fn change_times(deltas: &[u64]) -> Vec<Duration> {
    let mut t = Duration::ZERO;
    deltas
        .iter()
        .map(|d| {
            t += Duration::from_micros(*d);
            t
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Changes at any times, polled on time: no two packets closer than the gap, at most 44 in
    /// any 1 s window, the last change out within one gap, never silent for longer than the
    /// keep-alive once started.
    #[test]
    fn strict_bounds_hold_for_any_input(
        deltas in proptest::collection::vec(
            prop_oneof![0u64..2_000, 0u64..30_000, 0u64..1_500_000], 1..300),
    ) {
        let cfg = strict();
        let t0 = Instant::now();
        let changes = change_times(&deltas);
        let last = *changes.last().expect("one");
        let sent = run(&cfg, t0, &changes, on_time, last + ms(3000.0));
        prop_assert!(sent[0].at == t0 + changes[0]);
        for g in gaps(&sent) {
            prop_assert!(g >= GAP, "gap {:?}", g);
            prop_assert!(g <= ms(900.0) + GAP, "silent for {:?}", g);
        }
        prop_assert!(max_per_second(&sent) <= 44);
        let out = sent
            .iter()
            .find(|s| s.reason == SendReason::Change && s.carries == changes.len() - 1);
        let out = out.expect("final state sent");
        prop_assert!(out.at - (t0 + last) <= GAP, "final state after {:?}", out.at - (t0 + last));
    }

    /// Polled late by up to the allowance: gaps shrink by at most the lateness, and the final
    /// state is out within a gap plus the lateness.
    #[test]
    fn late_polls_cost_at_most_their_lateness(
        deltas in proptest::collection::vec(0u64..40_000, 1..200),
        lateness in proptest::collection::vec(0u64..1_000, 1..50),
    ) {
        let cfg = strict();
        let t0 = Instant::now();
        let changes = change_times(&deltas);
        let last = *changes.last().expect("one");
        let late = |i: usize| Duration::from_micros(lateness[i % lateness.len()]);
        let sent = run(&cfg, t0, &changes, late, last + ms(3000.0));
        for g in gaps(&sent) {
            prop_assert!(g + ms(1.0) >= GAP, "gap {:?}", g);
        }
        let out = sent
            .iter()
            .find(|s| s.reason == SendReason::Change && s.carries == changes.len() - 1)
            .expect("final state sent");
        prop_assert!(out.at - (t0 + last) <= GAP + ms(1.0));
    }

    /// A 44 fps input with jitter below the catch-up lag, polled up to 0.9 ms late: every frame
    /// goes out, none later than the jitter and the lateness after it arrived.
    #[test]
    fn a_44_fps_input_loses_nothing_and_lags_little(
        jitter in proptest::collection::vec(0u64..1_500, 20..300),
        late_us in 0u64..900,
    ) {
        let cfg = strict();
        let t0 = Instant::now();
        let changes: Vec<Duration> = jitter
            .iter()
            .enumerate()
            .map(|(k, j)| frame(k as u32) + Duration::from_micros(*j))
            .collect();
        let late = |_| Duration::from_micros(late_us);
        let sent = run(&cfg, t0, &changes, late, changes[changes.len() - 1] + ms(100.0));
        prop_assert_eq!(lost(&sent, changes.len()), Vec::<usize>::new());
        for s in sent.iter().filter(|s| s.reason == SendReason::Change) {
            let lag = s.at - (t0 + changes[s.carries]);
            prop_assert!(lag <= ms(1.5) + Duration::from_micros(late_us), "frame {} lag {:?}", s.carries, lag);
        }
    }

    /// Stalls anywhere in a 44 fps input: each costs at most two frames (one given up to catch
    /// up; one more if the stalled frame came after the first repeat took its slot), and the
    /// bounds hold.
    #[test]
    fn stalls_cost_at_most_one_frame_each(
        stalls in proptest::collection::vec((0usize..400, 0u64..30_000), 0..6),
    ) {
        let cfg = strict();
        let t0 = Instant::now();
        let mut changes: Vec<Duration> = (0..400).map(frame).collect();
        for (k, s) in &stalls {
            changes[*k] += Duration::from_micros(*s);
        }
        changes.sort();
        let (sent, given_up) = run_counting(&cfg, t0, &changes, on_time, changes[399] + ms(100.0));
        let lost = lost(&sent, changes.len());
        prop_assert!(lost.len() <= 2 * stalls.len(), "lost {:?} for stalls {:?}", lost, stalls);
        prop_assert!(given_up.len() <= stalls.len());
        for g in gaps(&sent) {
            prop_assert!(g >= GAP);
        }
        // Two seconds after the last stall, no frame waits as long as the catch-up lag.
        let quiet_from = stalls.iter().map(|(k, _)| k + 4).max().unwrap_or(0);
        for s in sent.iter().filter(|s| s.reason == SendReason::Change && s.carries > quiet_from + 88) {
            let lag = s.at - (t0 + changes[s.carries]);
            prop_assert!(lag < ms(2.0), "frame {} waited {:?}", s.carries, lag);
        }
    }
}
