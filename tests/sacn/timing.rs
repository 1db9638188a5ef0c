//! Output timing through the binary, asserted on values and counts with wide windows (the sACN backend README):
//! a burst of changes is rate-limited to about 44 packets/s without losing the final state, three
//! repeats follow the last change, then keep-alives every 800–1000 ms.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::util::*;

#[test]
fn rate_limit_repeats_and_keep_alive() {
    guard();
    let (in_u, out_u) = (85u16, 86u16);
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let disc = discovery_capture();
    let port = free_port();
    let cid = test_cid(85);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\nunicast = 1\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\ndestination = 127.0.0.1 {}\n\n[map]\nin.1 > out.1\n",
        backend("timing", cid, &[&format!("127.0.0.1 {port}")]),
        cap.port()
    );
    let pb = Patchbay::start(&cfg, port);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(185));
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let ok = cap.send_until(cid, out_u, || tx.send(to, in_u, 100, &[1]), |s| s[0] == 1);
    assert!(ok.is_some(), "no output\n{}", pb.log());

    // Burst: 200 changes, one every 5 ms (200 packets/s in).
    let start = Instant::now();
    for v in 2..=201u8 {
        tx.send(to, in_u, 100, &[v]);
        std::thread::sleep(Duration::from_millis(5));
    }
    let burst = start.elapsed();
    let last = cap.wait_slots(cid, out_u, Duration::from_secs(1), |s| s[0] == 201);
    assert!(
        last.is_ok(),
        "final state of the burst lost: {last:?}\n{}",
        pb.log()
    );
    std::thread::sleep(Duration::from_millis(4500));

    let pkts = cap.data_of(cid, out_u);
    let in_burst: Vec<&Captured> = pkts
        .iter()
        .filter(|c| c.at >= start && c.at <= start + burst + Duration::from_millis(30))
        .collect();
    let max = (burst.as_secs_f64() * 44.0).ceil() as usize + 2;
    assert!(
        in_burst.len() <= max && in_burst.len() >= 10,
        "{} packets during a {burst:?} burst; at most {max} allowed (44/s), and some must go out",
        in_burst.len()
    );
    let values: Vec<u8> = pkts.iter().map(|c| c.data().unwrap().slots()[0]).collect();
    assert!(
        values.windows(2).all(|w| w[0] <= w[1]),
        "output went backwards: {values:?}"
    );
    // After the final change: three repeats close together, then keep-alives 0.8..1.0 s apart,
    // checked in a 0.55..1.35 s window (capture timestamps jitter on a loaded machine; MIDIMonster's
    // gaps reached 2 s, D17).
    let first_final = pkts
        .iter()
        .position(|c| c.data().unwrap().slots()[0] == 201)
        .unwrap();
    let tail = &pkts[first_final..];
    assert!(
        tail.len() >= 4 + 3,
        "{} packets after the final change",
        tail.len()
    );
    let gaps: Vec<Duration> = tail.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(
        gaps[..3].iter().all(|g| *g < Duration::from_millis(200)),
        "three repeats ~23 ms apart after a change: {gaps:?}"
    );
    for g in &gaps[3..] {
        assert!(
            (Duration::from_millis(550)..=Duration::from_millis(1350)).contains(g),
            "keep-alive gaps must be 800..1000 ms: {gaps:?}"
        );
    }
    check_discovery_capture(&disc, cid, &[out_u]);
    assert_consecutive("timing output", &pkts);
    E131::new().check_all("timing output", &pkts);
}

/// The same input again changes nothing, so nothing new is sent (even with `realtime = 1`): only
/// the three repeats and keep-alives follow the one change (MIDIMonster sent a packet for
/// unchanged bytes, D15).
#[test]
fn unchanged_input_sends_nothing_new() {
    guard();
    let (in_u, out_u) = (107u16, 108u16);
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let port = free_port();
    let cid = test_cid(107);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\nunicast = 1\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {}\n\n[map]\nin.{{1..8}} > out.{{1..8}}\n",
        backend("unchanged", cid, &[&format!("127.0.0.1 {port}")]),
        cap.port()
    );
    let pb = Patchbay::start(&cfg, port);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(207));
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let levels = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let ok = cap.send_until(
        cid,
        out_u,
        || tx.send(to, in_u, 100, &levels),
        |s| s[..8] == levels,
    );
    assert!(ok.is_some(), "no output\n{}", pb.log());
    std::thread::sleep(Duration::from_millis(300)); // the repeats of the change
    let before = cap.data_of(cid, out_u).len();
    let start = Instant::now();
    for _ in 0..40 {
        tx.send(to, in_u, 100, &levels);
        std::thread::sleep(Duration::from_millis(25));
    }
    let window = start.elapsed();
    let sent = cap.data_of(cid, out_u).len() - before;
    // At most the keep-alives of the window (one per 0.8 s) plus one.
    let max = (window.as_secs_f64() / 0.8).ceil() as usize + 1;
    assert!(
        sent <= max,
        "{sent} packets for 40 unchanged inputs in {window:?} (at most {max} keep-alives)"
    );
}
