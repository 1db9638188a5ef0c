//! Hostile and looped-back input through the binary: malformed datagrams (including the empty one
//! that stopped MIDIMonster, D8) are counted and dropped while routing goes on; 0xDD packets are
//! never levels (D9); patchbay's own output looped back by `local` is not taken as input (D13).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::util::*;

#[test]
fn malformed_datagrams_are_dropped_and_counted() {
    guard();
    let (in_u, out_u) = (87u16, 88u16);
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let disc = discovery_capture();
    let port = free_port();
    let cid = test_cid(87);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\nunicast = 1\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {}\n\n[map]\nin.{{1..4}} > out.{{1..4}}\n",
        backend("hostile", cid, &[&format!("127.0.0.1 {port}")]),
        cap.port()
    );
    let mut pb = Patchbay::start(&cfg, port);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(187));
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let ok = cap.send_until(
        cid,
        out_u,
        || tx.send(to, in_u, 100, &[1, 2, 3, 4]),
        |s| s[..4] == [1, 2, 3, 4],
    );
    assert!(ok.is_some(), "no output\n{}", pb.log());
    let good = tx.build(in_u, 100, 0, &[9, 9, 9, 9]);
    let mut tool = E131::new();
    let mut bad: Vec<(&str, Vec<u8>)> = vec![
        ("empty datagram", vec![]),
        ("truncated to 100 bytes", good[..100].to_vec()),
        ("one byte", vec![0x00]),
        (
            "garbage",
            (0..1400u32).map(|i| (i * 31 + 7) as u8).collect(),
        ),
    ];
    let mut b = good.clone();
    b[16] = 0x60; // root flags nibble
    bad.push(("root flags 0x6", b));
    let mut b = good.clone();
    b[124] = b[124].wrapping_add(1); // property count one too high
    bad.push(("lying property count", b));
    let mut b = good.clone();
    let short_by_six = 0x7000u16 | (b.len() as u16 - 115 - 6);
    b[115..117].copy_from_slice(&short_by_six.to_be_bytes());
    bad.push((
        "DMP length 6 short in a short packet (not MIDIMonster's)",
        b,
    ));
    let mut b = good.clone();
    b[113..115].copy_from_slice(&64000u16.to_be_bytes());
    bad.push(("universe 64000", b));
    let mut b = good.clone();
    b[4] = b'X';
    bad.push(("ACN identifier", b));
    for (what, b) in &bad {
        if !b.is_empty() {
            let p = tool.parse(b);
            assert!(
                p.errors > 0 || p.kind == "unknown",
                "control: e131_check.py rejects {what}"
            );
        }
        tx.send_raw(to, b);
    }
    // Per-address priorities from the same source: never levels.
    let mut dd = tx.build(in_u, 100, 0, &[150, 150, 150, 150]);
    dd[125] = 0xdd;
    tx.send_raw(to, &dd);
    tx.send(to, in_u, 100, &[5, 6, 7, 8]);
    let got = cap.wait_slots(cid, out_u, Duration::from_secs(3), |s| {
        s[..4] == [5, 6, 7, 8]
    });
    assert!(
        got.is_ok(),
        "routing stopped after bad input: {got:?}\n{}",
        pb.log()
    );
    std::thread::sleep(Duration::from_millis(200));
    for c in cap.data_of(cid, out_u) {
        assert!(
            c.data().unwrap().slots()[..4] != [150; 4],
            "a 0xDD packet was applied as levels"
        );
    }
    check_discovery_capture(&disc, cid, &[out_u]);
    pb.assert_running();
    let sum = pb.stop_with_summary(0);
    assert_eq!(sum.datagrams_in, tx.sent, "{sum:?}");
    assert_eq!(
        sum.dropped,
        bad.len() as u64,
        "each bad datagram dropped once: {sum:?}"
    );
    assert_eq!(sum.data_used, tx.sent - bad.len() as u64, "{sum:?}");
}

/// `local` mirrors output to this host and, as in MIDIMonster HEAD (issue 5), into patchbay's own
/// inputs: universe 91 sent by bind 0 comes back as input on bind 1; another source on the same
/// group is heard too.
#[test]
fn own_output_looped_back_by_local_is_mirrored_into_input() {
    guard();
    let (drive_u, loop_u, report_u) = (90u16, 91u16, 92u16);
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let port = free_port();
    let cid = test_cid(90);
    // bind 0 (private port, `local`) drives universe 91 out of sacn0 to port 5568, where bind 1
    // listens to 91: with `local`, out.1 comes back as echo.1 (the mirror).
    let cfg = format!(
        "{}\n[sacn drive]\nuniverse = {drive_u}\nunicast = 1\n\n[sacn out]\nuniverse = {loop_u}\npriority = 100\n\n\
         [sacn echo]\ninterface = 1\nuniverse = {loop_u}\n\n\
         [sacn report]\nuniverse = {report_u}\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {}\n\n\
         [map]\ndrive.1 > out.1\ndrive.2 > report.2\necho.1 > report.1\necho.3 > report.3\n",
        backend(
            "ownloop",
            cid,
            &[&format!("198.18.0.1 {port} local"), "198.18.0.1 5568"]
        ),
        cap.port()
    );
    let pb = Patchbay::start(&cfg, port);
    assert_eq!(
        wait_joined(IpAddr::V4(group_v4(loop_u))),
        ["sacn0"],
        "{}",
        pb.log()
    );
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(190));
    let to = SocketAddr::from((VETH0, port));
    let ok = cap.send_until(
        cid,
        report_u,
        || tx.send(to, drive_u, 100, &[77, 5]),
        |s| s[1] == 5,
    );
    assert!(ok.is_some(), "drive -> report failed\n{}", pb.log());
    // A foreign source on the looped group (out of sacn0 with loopback) is heard: slot 3.
    let mut other = RawSender::v4(VETH0, test_cid(191));
    let heard = cap.send_until(
        cid,
        report_u,
        || {
            tx.send(to, drive_u, 100, &[77, 5]);
            other.send(
                SocketAddr::from((group_v4(loop_u), 5568)),
                loop_u,
                100, // equal to the mirrored source's priority, so HTP merges both
                &[0, 0, 33],
            );
        },
        |s| s[2] == 33,
    );
    assert!(
        heard.is_some(),
        "control: bind 1 hears universe 91 on sacn0\n{}",
        pb.log()
    );
    let mirrored = cap.send_until(
        cid,
        report_u,
        || tx.send(to, drive_u, 100, &[77, 5]),
        |s| s[0] == 77,
    );
    assert!(
        mirrored.is_some(),
        "patchbay's own universe 91 output (slot 1 = 77) did not come back as echo.1\n{}",
        pb.log()
    );
}

/// MIDIMonster's usual `bind = 0.0.0.0`: joins go to the interface of the route for the sACN
/// groups (sacn0 in the test namespace), never "any", and traffic there is received.
#[test]
fn wildcard_bind_joins_on_the_default_multicast_interface() {
    guard();
    let (in_u, out_u) = (93u16, 94u16);
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let port = free_port();
    let cid = test_cid(93);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\ndestination = 127.0.0.1 {}\n\n[map]\nin.1 > out.1\n",
        backend("wildcard", cid, &[&format!("0.0.0.0 {port}")]),
        cap.port()
    );
    let pb = Patchbay::start(&cfg, port);
    assert_eq!(
        wait_joined(IpAddr::V4(group_v4(in_u))),
        ["sacn0"],
        "{}",
        pb.log()
    );
    let mut tx = RawSender::v4(VETH0, test_cid(193));
    let ok = cap.send_until(
        cid,
        out_u,
        || tx.send(SocketAddr::from((group_v4(in_u), port)), in_u, 100, &[123]),
        |s| s[0] == 123,
    );
    assert!(
        ok.is_some(),
        "wildcard bind did not receive on sacn0\n{}",
        pb.log()
    );
}

/// E1.31 6.7.2 through the binary: a packet 1..19 behind the last accepted sequence number is
/// dropped (MIDIMonster applied reordered and duplicated packets, D10); 20 or more behind counts
/// as a restarted source and is taken.
#[test]
fn stale_sequence_numbers_are_dropped() {
    guard();
    let (in_u, out_u) = (105u16, 106u16);
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let port = free_port();
    let cid = test_cid(105);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\nunicast = 1\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {}\n\n[map]\nin.1 > out.1\n",
        backend("sequence", cid, &[&format!("127.0.0.1 {port}")]),
        cap.port()
    );
    let mut pb = Patchbay::start(&cfg, port);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(205));
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut seq = 100u8;
    let ok = cap.send_until(
        cid,
        out_u,
        || {
            seq = seq.wrapping_add(1);
            let p = tx.build_with_seq(in_u, 100, 0, 0, seq, &[10]);
            tx.send_raw(to, &p);
        },
        |s| s[0] == 10,
    );
    assert!(ok.is_some(), "no output\n{}", pb.log());
    let last = |cap: &Capture| {
        cap.wait_slots(cid, out_u, Duration::ZERO, |_| true)
            .unwrap()[0]
    };
    // (offset from the last accepted number, level, taken?)
    for (d, level, taken) in [
        (0i16, 20u8, false), // duplicate
        (-1, 21, false),
        (-19, 22, false),
        (1, 23, true),
        (-20, 24, true), // far behind: a restarted source
        (1, 25, true),
        (5, 26, true),
    ] {
        let s = (i16::from(seq) + d).rem_euclid(256) as u8;
        let p = tx.build_with_seq(in_u, 100, 0, 0, s, &[level]);
        tx.send_raw(to, &p);
        if taken {
            seq = s;
            let got = cap.wait_slots(cid, out_u, Duration::from_secs(2), |x| x[0] == level);
            assert!(got.is_ok(), "offset {d}: packet must be taken: {got:?}");
        } else {
            std::thread::sleep(Duration::from_millis(150));
            assert_ne!(last(&cap), level, "offset {d}: stale packet applied");
        }
    }
    let sum = pb.stop_with_summary(0);
    assert_eq!(sum.dropped, 3, "three stale packets dropped: {sum:?}");
}

/// A bind that cannot be opened stops startup (exit 1) with the position of the `bind` line, the
/// address, the port and the OS error text (the sACN backend README).
#[test]
fn bind_failure_names_the_bind_line_address_port_and_os_error() {
    guard();
    // Port taken by a socket without SO_REUSEADDR: EADDRINUSE.
    let taken = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let busy = taken.local_addr().unwrap().port();
    let mut misplaced = Vec::new();
    for (addr, port, os_text) in [
        ("203.0.113.5", 5568u16, "203.0.113.5"),
        ("127.0.0.1", busy, "in use"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("bindfail.cfg");
        std::fs::write(
            &cfg,
            format!(
                "[backend sacn]\nbind = {addr} {port}\n\n[sacn a]\nuniverse = 1\n\n[sacn b]\nuniverse = 2\npriority = 100\n\n[map]\na.1 > b.1\n"
            ),
        )
        .unwrap();
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_patchbay"))
            .arg("bindfail.cfg")
            .current_dir(dir.path())
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let status = poll(Duration::from_secs(5), || child.try_wait().ok().flatten());
        if status.is_none() {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            status.and_then(|s| s.code()),
            Some(1),
            "{addr} {port}: exit\n{err}"
        );
        let line = err
            .lines()
            .find(|l| l.starts_with("bindfail.cfg:") && l.contains("error"))
            .unwrap_or_else(|| panic!("{addr} {port}: no positioned error\n{err}"));
        assert!(
            line.contains(addr) && line.contains(&port.to_string()) && line.contains(os_text),
            "{addr} {port}: address, port and reason: {line}"
        );
        if !line.starts_with("bindfail.cfg:2:") {
            misplaced.push(line.to_string());
        }
    }
    assert!(
        misplaced.is_empty(),
        "the error must point at the `bind` line (bindfail.cfg:2), got:\n{}",
        misplaced.join("\n")
    );
}
