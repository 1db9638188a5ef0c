//! Receive-side features beyond MIDIMonster through the real binary: preview data, the `from`
//! CID filter, per-address priority (0xDD) from the python peer, universe synchronization in and
//! out (raw sender), and the `local` flag on a real interface.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use patchbay_sacn::Cid;

use crate::util::*;

const BIND: &str = "127.0.0.1 5568";
const WAIT: Duration = Duration::from_secs(8);

fn py_cid(n: u8) -> Cid {
    let mut c = test_cid(n);
    c.0[0] = 0x9d;
    c
}

/// Preview_Data packets are ignored by default (`preview = ignore`) and applied with
/// `preview = accept`; once the source clears the bit its levels apply.
#[test]
fn python_preview_ignored_unless_accepted() {
    let _serial = serial();
    guard();
    let cid = test_cid(51);
    let cap = Capture::v4(
        SACN_PORT,
        Ipv4Addr::LOCALHOST,
        &[group_v4(52), group_v4(54), group_v4(64214)],
    );
    let mut peer = PyPeer::start();
    peer.receiver(SACN_PORT, &[52, 54], true);
    let cfg = format!(
        "{}\n[sacn ignore]\nuniverse = 51\n\n[sacn accept]\nuniverse = 53\npreview = accept\n\n\
         [sacn out_ignore]\nuniverse = 52\npriority = 100\n\n[sacn out_accept]\nuniverse = 54\npriority = 100\n\n\
         [map]\nignore.{{1..512}} > out_ignore.{{1..512}}\naccept.{{1..512}} > out_accept.{{1..512}}\n",
        backend("preview", cid, &[BIND])
    );
    let pb = Patchbay::start(&cfg, SACN_PORT);
    peer.sender("p", py_cid(51), "python preview");
    for u in [51, 53] {
        peer.output("p", u, 100, None);
        peer.preview("p", u, true);
        peer.dmx("p", u, &pattern(u as u8));
    }
    peer.expect_dmx(
        &pb,
        54,
        &pattern(53),
        "preview = accept applies preview data",
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        cap.data_of(cid, 52).is_empty(),
        "preview = ignore: preview data produced output {:?}",
        cap.wait_slots(cid, 52, Duration::ZERO, |_| true)
    );
    peer.preview("p", 51, false);
    peer.dmx("p", 51, &pattern(52)); // a change, so python sends at once
    peer.expect_dmx(&pb, 52, &pattern(52), "live data after preview ends");
    wait_discovery(&cap, cid);
    check_wire(&cap, cid, &[52, 54], 1, "preview outputs");
}

/// `from = CID`: only that source is heard, even when another has a higher priority.
#[test]
fn python_from_filter_selects_one_source() {
    let _serial = serial();
    guard();
    let cid = test_cid(57);
    let cap = Capture::v4(
        SACN_PORT,
        Ipv4Addr::LOCALHOST,
        &[group_v4(58), group_v4(64214)],
    );
    let mut peer = PyPeer::start();
    peer.receiver(SACN_PORT, &[58], true);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = 57\nfrom = {}\n\n[sacn out]\nuniverse = 58\npriority = 100\n\n[map]\nin.{{1..512}} > out.{{1..512}}\n",
        backend("from", cid, &[BIND]),
        cid_text(py_cid(58))
    );
    let pb = Patchbay::start(&cfg, SACN_PORT);
    peer.sender("other", py_cid(57), "python other");
    peer.output("other", 57, 200, None);
    peer.dmx("other", 57, &[255; 512]);
    peer.sender("chosen", py_cid(58), "python chosen");
    peer.output("chosen", 57, 100, None);
    peer.dmx("chosen", 57, &pattern(58));
    peer.expect_dmx(&pb, 58, &pattern(58), "the `from` source only");
    std::thread::sleep(Duration::from_millis(1500));
    for c in cap.data_of(cid, 58) {
        let s = c.data().unwrap().slots().to_vec();
        assert_eq!(
            s,
            pattern(58),
            "the filtered source leaked into the output: {:?}",
            diff(&s, &pattern(58))
        );
    }
    wait_discovery(&cap, cid);
    check_wire(&cap, cid, &[58], 1, "from output");
}

/// Per-address priority (ETC 0xDD) from python `sacn`: source A drives slots 1..256 at 150 and
/// leaves 257..512 alone (0); source B has packet priority 100 and brighter levels everywhere.
/// Slots 1..256 follow A (per-slot priority wins over HTP), 257..512 follow B, and no 0xDD value
/// is ever applied as a level.
#[test]
fn python_per_address_priority_merges_per_slot() {
    let _serial = serial();
    guard();
    let cid = test_cid(59);
    let cap = Capture::v4(
        SACN_PORT,
        Ipv4Addr::LOCALHOST,
        &[group_v4(65), group_v4(64214)],
    );
    let mut peer = PyPeer::start();
    peer.receiver(SACN_PORT, &[65], true);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = 59\n\n[sacn out]\nuniverse = 65\npriority = 100\n\n[map]\nin.{{1..512}} > out.{{1..512}}\n",
        backend("pap", cid, &[BIND])
    );
    let pb = Patchbay::start(&cfg, SACN_PORT);
    let a_levels: Vec<u8> = pattern(59).iter().map(|v| v / 2 + 1).collect(); // 1..=128
    let b_levels: Vec<u8> = (0..512)
        .map(|i| if i < 256 { 255 } else { pattern(60)[i] })
        .collect();
    let mut a_pap = vec![150u8; 256];
    a_pap.resize(512, 0);
    peer.sender("a", py_cid(59), "python pap");
    peer.output("a", 59, 100, None);
    peer.pap("a", 59, &a_pap);
    peer.dmx("a", 59, &a_levels);
    peer.sender("b", py_cid(60), "python plain");
    peer.output("b", 59, 100, None);
    peer.dmx("b", 59, &b_levels);
    let want: Vec<u8> = (0..512)
        .map(|i| if i < 256 { a_levels[i] } else { b_levels[i] })
        .collect();
    peer.expect_dmx(&pb, 65, &want, "per-address priority merge");
    for c in cap.data_of(cid, 65) {
        let s = c.data().unwrap().slots().to_vec();
        assert!(
            !s[..256].iter().all(|v| *v == 150),
            "0xDD priorities were applied as levels"
        );
    }
    wait_discovery(&cap, cid);
    check_wire(&cap, cid, &[65], 1, "pap output");
}

/// A synchronized source (data naming sync universe 60, sync packets for 60): once sync packets
/// flow, data is held until the next sync packet and then applied.
#[test]
fn sync_input_held_until_sync_packet() {
    guard();
    let (in_u, out_u, sync_u) = (66u16, 67u16, 60u16);
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let disc = discovery_capture();
    let port = free_port();
    let cid = test_cid(66);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\nunicast = 1\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {}\n\n[map]\nin.{{1..8}} > out.{{1..8}}\n",
        backend("syncin", cid, &[&format!("127.0.0.1 {port}")]),
        cap.port()
    );
    let pb = Patchbay::start(&cfg, port);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(166));
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let a = [10u8, 20, 30, 40, 50, 60, 70, 80];
    let b = [11u8, 21, 31, 41, 51, 61, 71, 81];
    let c = [12u8, 22, 32, 42, 52, 62, 72, 82];
    let slots8 = |s: &[u8]| s[..8].to_vec();
    // Unsynchronized data first, until it shows (sampling period).
    let ok = poll(WAIT, || {
        tx.send(to, in_u, 100, &a);
        cap.wait_slots(cid, out_u, Duration::from_millis(100), |s| s[..8] == a)
            .ok()
    });
    assert!(ok.is_some(), "plain data never arrived\n{}", pb.log());
    // Sync stream starts; data naming it is held until the next sync packet.
    let sync = tx.build_sync(sync_u);
    tx.send_raw(to, &sync);
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(600) {
        let p = tx.build_synced(in_u, 100, 0, sync_u, &b);
        tx.send_raw(to, &p);
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = cap
        .wait_slots(cid, out_u, Duration::ZERO, |_| true)
        .unwrap();
    assert_eq!(
        slots8(&before),
        a,
        "synchronized data applied before its sync packet"
    );
    let sync = tx.build_sync(sync_u);
    tx.send_raw(to, &sync);
    let got = cap.wait_slots(cid, out_u, Duration::from_secs(2), |s| s[..8] == b);
    assert!(
        got.is_ok(),
        "sync packet did not release the held data: {got:?}\n{}",
        pb.log()
    );
    // And again.
    let p = tx.build_synced(in_u, 100, 0, sync_u, &c);
    tx.send_raw(to, &p);
    std::thread::sleep(Duration::from_millis(300));
    let held = cap
        .wait_slots(cid, out_u, Duration::ZERO, |_| true)
        .unwrap();
    assert_eq!(
        slots8(&held),
        b,
        "second frame applied before its sync packet"
    );
    let sync = tx.build_sync(sync_u);
    tx.send_raw(to, &sync);
    let got = cap.wait_slots(cid, out_u, Duration::from_secs(2), |s| s[..8] == c);
    assert!(got.is_ok(), "second sync packet: {got:?}");
    check_discovery_capture(&disc, cid, &[out_u]);
    E131::new().check_all("sync input output", &cap.all());
}

/// `sync = 70` on an output: its data packets name sync universe 70, and every one is followed
/// by a sync packet (own sequence counter) on 70's group.
#[test]
fn sync_output_sends_sync_packets() {
    guard();
    let (in_u, out_u, sync_u) = (68u16, 69u16, 70u16);
    let cap = Capture::v4(
        SACN_PORT,
        Ipv4Addr::LOCALHOST,
        &[group_v4(out_u), group_v4(sync_u), group_v4(64214)],
    );
    let port = free_port();
    let cid = test_cid(68);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\nunicast = 1\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\nsync = {sync_u}\n\n[map]\nin.{{1..4}} > out.{{1..4}}\n",
        backend("syncout", cid, &[&format!("127.0.0.1 {port}")])
    );
    let pb = Patchbay::start(&cfg, port);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(168));
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    for v in [1u8, 2, 3] {
        let ok = poll(WAIT, || {
            tx.send(to, in_u, 100, &[v, v, v, v]);
            cap.wait_slots(cid, out_u, Duration::from_millis(100), |s| s[..4] == [v; 4])
                .ok()
        });
        assert!(ok.is_some(), "value {v} never arrived\n{}", pb.log());
    }
    std::thread::sleep(Duration::from_millis(1200)); // a keep-alive too
    let mine = cap.of_cid(cid);
    let parsed = E131::new().check_all("sync output", &mine);
    check_discovery(&parsed, &[out_u], 1);
    let data: Vec<_> = parsed.iter().filter(|p| p.kind == "data").collect();
    let syncs: Vec<_> = parsed.iter().filter(|p| p.kind == "sync").collect();
    assert!(
        data.iter().all(|p| p.num("sync") == i64::from(sync_u)),
        "data names sync universe {sync_u}"
    );
    assert!(syncs.iter().all(|p| p.num("sync") == i64::from(sync_u)));
    assert!(
        syncs.len() + 1 >= data.len() && !syncs.is_empty(),
        "{} data packets but {} sync packets",
        data.len(),
        syncs.len()
    );
    let seqs: Vec<i64> = syncs.iter().map(|p| p.num("seq")).collect();
    for w in seqs.windows(2) {
        assert_eq!(w[1], (w[0] + 1) % 256, "sync sequence numbers {seqs:?}");
    }
    // Each data packet is followed by a sync packet before the next data packet.
    let kinds: Vec<&str> = parsed
        .iter()
        .map(|p| p.kind.as_str())
        .filter(|k| *k != "discovery")
        .collect();
    for w in kinds.windows(2) {
        assert!(
            w != ["data", "data"],
            "two data packets without a sync packet between: {kinds:?}"
        );
    }
}

/// `local` on a real interface: patchbay's multicast output on sacn0 reaches this host's own
/// receivers; without it, it does not (multicast loopback off, the sACN backend README).
#[test]
fn local_flag_loops_output_back_on_a_real_interface() {
    guard();
    for (local, out_u) in [(true, 73u16), (false, 74u16)] {
        let cap = Capture::v4(SACN_PORT, VETH0, &[group_v4(out_u)]);
        // Proof that the multicast output was sent: a unicast twin fed by the same channel.
        let twin = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
        let port = free_port();
        let cid = test_cid(out_u as u8);
        let flag = if local { " local" } else { "" };
        let cfg = format!(
            "{}\n[sacn in]\nuniverse = 72\nunicast = 1\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\n\n\
             [sacn twin]\nuniverse = 76\npriority = 100\ndestination = 127.0.0.1 {}\n\n[map]\nin.1 > out.1\nin.1 > twin.1\n",
            backend("local", cid, &[&format!("198.18.0.1 {port}{flag}")]),
            twin.port()
        );
        let pb = Patchbay::start(&cfg, port);
        let mut tx = RawSender::v4(VETH0, test_cid(172));
        let to = SocketAddr::from((VETH0, port));
        let got = poll(WAIT, || {
            tx.send(to, 72, 100, &[99]);
            let seen = if local { &cap } else { &twin };
            let u = if local { out_u } else { 76 };
            seen.wait_slots(cid, u, Duration::from_millis(100), |s| s[0] == 99)
                .ok()
        });
        assert!(got.is_some(), "local={local}: no output\n{}", pb.log());
        if local {
            let mine = cap.data_of(cid, out_u);
            assert!(
                mine.iter().all(|c| c.from.ip() == IpAddr::V4(VETH0)),
                "source address is the bind"
            );
            E131::new().check_all("local output", &mine);
        } else {
            std::thread::sleep(Duration::from_millis(300)); // the multicast twin went out meanwhile
            assert!(
                cap.of_cid(cid).is_empty(),
                "without `local` nothing may loop back; got {} packets",
                cap.of_cid(cid).len()
            );
        }
    }
}

/// `detect = on` logs each new source once at the default level, with its name, CID and
/// priority; without it that line is debug only.
#[test]
fn python_detect_logs_new_sources() {
    let _serial = serial();
    guard();
    for detect in [true, false] {
        let cid = test_cid(if detect { 96 } else { 97 });
        let mut peer = PyPeer::start();
        let cap = Capture::v4(SACN_PORT, Ipv4Addr::LOCALHOST, &[group_v4(98)]);
        let cfg = format!(
            "{}{}\n[sacn in]\nuniverse = 96\n\n[sacn out]\nuniverse = 98\npriority = 100\n\n[map]\nin.1 > out.1\n",
            backend("detect", cid, &[BIND]),
            if detect { "detect = on\n" } else { "" }
        );
        let mut pb = Patchbay::start_with(&cfg, SACN_PORT, &[]);
        let src = py_cid(96);
        peer.sender("d", src, "python detect me");
        peer.output("d", 96, 120, None);
        peer.dmx("d", 96, &[42]);
        let got = cap.wait_slots(cid, 98, WAIT, |s| s[0] == 42);
        assert!(got.is_ok(), "{got:?}\n{}", pb.log());
        peer.dmx("d", 96, &[43]);
        let got = cap.wait_slots(cid, 98, WAIT, |s| s[0] == 43);
        assert!(got.is_ok(), "{got:?}\n{}", pb.log());
        pb.stop_with_summary(0);
        let log = pb.log();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("python detect me"))
            .collect();
        if detect {
            assert_eq!(lines.len(), 1, "one line per new source:\n{log}");
            assert!(
                lines[0].contains(&cid_text(src)) && lines[0].contains("120"),
                "name, CID and priority: {}",
                lines[0]
            );
        } else {
            assert!(lines.is_empty(), "detect off: not at info level:\n{log}");
        }
    }
}

/// `merge = htp` (default) vs `merge = ltp` for two sources of equal priority: HTP takes the
/// highest level per slot, LTP the levels of the source whose packet arrived last.
#[test]
fn merge_htp_and_ltp() {
    guard();
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let port = free_port();
    let cid = test_cid(101);
    let cfg = format!(
        "{}\n[sacn in_htp]\nuniverse = 101\nunicast = 1\n\n[sacn in_ltp]\nuniverse = 103\nunicast = 1\nmerge = ltp\n\n\
         [sacn out_htp]\nuniverse = 102\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {p}\n\n\
         [sacn out_ltp]\nuniverse = 104\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {p}\n\n\
         [map]\nin_htp.{{1..4}} > out_htp.{{1..4}}\nin_ltp.{{1..4}} > out_ltp.{{1..4}}\n",
        backend("merge", cid, &[&format!("127.0.0.1 {port}")]),
        p = cap.port()
    );
    let pb = Patchbay::start(&cfg, port);
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut a = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(201));
    let mut b = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(202));
    let a1 = [50u8, 200, 50, 200];
    let b1 = [100u8; 4];
    let a2 = [30u8; 4];
    let both = |a_: &mut RawSender, b_: &mut RawSender, av: &[u8], bv: &[u8]| {
        for u in [101, 103] {
            a_.send(to, u, 100, av);
            b_.send(to, u, 100, bv);
        }
    };
    let ok = poll(WAIT, || {
        both(&mut a, &mut b, &a1, &b1);
        let h = cap.wait_slots(cid, 102, Duration::from_millis(100), |s| {
            s[..4] == [100, 200, 100, 200]
        });
        let l = cap.wait_slots(cid, 104, Duration::ZERO, |s| s[..4] == b1);
        (h.is_ok() && l.is_ok()).then_some(())
    });
    assert!(
        ok.is_some(),
        "htp {:?} / ltp {:?}\n{}",
        cap.wait_slots(cid, 102, Duration::ZERO, |_| true),
        cap.wait_slots(cid, 104, Duration::ZERO, |_| true),
        pb.log()
    );
    // A sends lower levels last: LTP follows A, HTP keeps B's higher levels.
    for u in [101, 103] {
        a.send(to, u, 100, &a2);
    }
    let l = cap.wait_slots(cid, 104, Duration::from_secs(2), |s| s[..4] == a2);
    assert!(l.is_ok(), "ltp: latest source wins: {l:?}");
    let h = cap.wait_slots(cid, 102, Duration::from_secs(2), |s| s[..4] == b1);
    assert!(h.is_ok(), "htp: highest level wins: {h:?}");
    // B again: LTP follows B.
    b.send(to, 103, 100, &b1);
    let l = cap.wait_slots(cid, 104, Duration::from_secs(2), |s| s[..4] == b1);
    assert!(l.is_ok(), "ltp back to B: {l:?}");
    E131::new().check_all("merge outputs", &cap.all());
}
