//! The real binary against the python `sacn` package (1.11.0), an independent implementation:
//! python sends to patchbay and reads patchbay's output, multicast and unicast, with priority
//! takeover, stream termination, source loss (`loss = hold|zero`) and 16-bit channels. Values are
//! compared slot by slot as the python receiver decoded them, and every datagram patchbay sent is
//! run through e131_check.py's strict parser. All on 127.0.0.1 port 5568, one test at a time
//! ([`serial`]): python's sender can only send to port 5568.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use patchbay_sacn::Cid;

use crate::util::*;

const BIND: &str = "127.0.0.1 5568";

fn py_cid(n: u8) -> Cid {
    let mut c = test_cid(n);
    c.0[0] = 0x9c; // python side
    c
}

/// Waits until the python receiver shows exactly `want` on `universe`; panics with the difference.
/// The output reflected the loss of source `cid` on `universe` at `reflected`: that must be 2..4.5 s
/// after the source's last packet (as the python receiver, which sees every group joined on lo,
/// read it), i.e. the 2.5 s network data loss timeout in a wide window.
fn assert_loss_window(peer: &PyPeer, cid: Cid, universe: u16, reflected: Instant, what: &str) {
    let last = peer
        .raw_from(cid)
        .into_iter()
        .filter(|c| c.data().is_some_and(|d| d.universe() == universe))
        .map(|c| c.at)
        .max()
        .expect("the python receiver saw the source's packets");
    let gap = reflected.saturating_duration_since(last);
    assert!(
        (Duration::from_millis(2000)..=Duration::from_millis(4500)).contains(&gap),
        "{what}: loss reflected {gap:?} after the source's last packet; want 2..4.5 s (2.5 s timeout)"
    );
}

#[test]
fn python_multicast_in_and_out() {
    let _serial = serial();
    guard();
    let (in_u, out_u) = (11u16, 12u16);
    let cid = test_cid(11);
    let cap = Capture::v4(
        SACN_PORT,
        Ipv4Addr::LOCALHOST,
        &[group_v4(out_u), group_v4(64214)],
    );
    let mut peer = PyPeer::start();
    peer.receiver(SACN_PORT, &[out_u], true);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\n\n[map]\nin.{{1..512}} > out.{{1..512}}\n",
        backend("pymulticast", cid, &[BIND])
    );
    let pb = Patchbay::start(&cfg, SACN_PORT);
    peer.sender("a", py_cid(11), "python a");
    peer.output("a", in_u, 100, None);
    for seed in [1u8, 2, 3] {
        peer.dmx("a", in_u, &pattern(seed));
        let d = peer.expect_dmx(&pb, out_u, &pattern(seed), "multicast pattern");
        assert_eq!(d.priority, 100);
        assert_eq!(d.cid, hex(&cid.0), "patchbay's configured CID on the wire");
    }
    // Fewer slots than 512 set only those; zeros pass too.
    let mut partial = pattern(3);
    partial[100..200].fill(0);
    peer.dmx("a", in_u, &partial);
    peer.expect_dmx(&pb, out_u, &partial, "zeros in the middle");
    wait_discovery(&cap, cid);
    check_wire(&cap, cid, &[out_u], 1, "multicast output");
    // What python read is what was captured.
    let last = cap.data_of(cid, out_u).pop().unwrap();
    assert_eq!(last.data().unwrap().slots(), &partial[..]);
}

#[test]
fn python_unicast_in_and_out() {
    let _serial = serial();
    guard();
    let (in_u, out_u, py_port) = (13u16, 14u16, 5570u16);
    let cid = test_cid(13);
    let mut peer = PyPeer::start();
    peer.receiver(py_port, &[out_u], false);
    let disc = discovery_capture();
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\nunicast = 1\n\n[sacn out]\nuniverse = {out_u}\npriority = 150\ndestination = 127.0.0.1 {py_port}\n\n[map]\nin.{{1..512}} > out.{{1..512}}\n",
        backend("pyunicast", cid, &[BIND])
    );
    let pb = Patchbay::start(&cfg, SACN_PORT);
    assert!(
        joined_on(std::net::IpAddr::V4(group_v4(in_u))).is_empty(),
        "a unicast instance joins no group"
    );
    peer.sender("a", py_cid(13), "python unicast");
    peer.output("a", in_u, 100, Some("127.0.0.1"));
    for seed in [4u8, 5] {
        peer.dmx("a", in_u, &pattern(seed));
        let d = peer.expect_dmx(&pb, out_u, &pattern(seed), "unicast pattern");
        assert_eq!(d.priority, 150);
    }
    // The python receiver is the capture here (a second socket on its port would split unicast).
    std::thread::sleep(Duration::from_millis(200));
    let got = peer.raw_from(cid);
    let parsed = E131::new().check_all("unicast output", &got);
    assert!(
        parsed
            .iter()
            .all(|p| p.kind == "data" && p.num("universe") == i64::from(out_u))
    );
    assert_consecutive("unicast output", &got);
    check_discovery_capture(&disc, cid, &[out_u]);
}

/// Two python sources on one universe at priorities 50 and 150: the high one wins outright
/// (no HTP across priorities); when it goes silent the low one's levels return after the 2.5 s
/// loss timeout (window 2..6 s); when it terminates they return at once.
#[test]
fn python_priority_takeover() {
    let _serial = serial();
    guard();
    let (in_u, out_u) = (21u16, 22u16);
    let cid = test_cid(21);
    let cap = Capture::v4(
        SACN_PORT,
        Ipv4Addr::LOCALHOST,
        &[group_v4(out_u), group_v4(64214)],
    );
    let mut peer = PyPeer::start();
    peer.receiver(SACN_PORT, &[out_u], true);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\n\n[map]\nin.{{1..512}} > out.{{1..512}}\n",
        backend("pypriority", cid, &[BIND])
    );
    let pb = Patchbay::start(&cfg, SACN_PORT);
    let low = pattern(7);
    let high: Vec<u8> = pattern(8).iter().map(|v| v / 2).collect(); // lower levels: not HTP
    peer.sender("low", py_cid(21), "python low");
    peer.output("low", in_u, 50, None);
    peer.dmx("low", in_u, &low);
    peer.expect_dmx(&pb, out_u, &low, "low-priority source alone");

    peer.sender("high", py_cid(22), "python high");
    peer.output("high", in_u, 150, None);
    peer.dmx("high", in_u, &high);
    peer.expect_dmx(&pb, out_u, &high, "high priority takes over");

    // Silent stop: network data loss 2.5 s after its last packet.
    peer.stop("high");
    let d = peer.expect_dmx(&pb, out_u, &low, "after the high source went silent");
    assert_loss_window(&peer, py_cid(22), in_u, d.at, "priority takeover");

    // Termination: immediate.
    peer.sender("high2", py_cid(23), "python high again");
    peer.output("high2", in_u, 150, None);
    peer.dmx("high2", in_u, &high);
    peer.expect_dmx(&pb, out_u, &high, "second high source takes over");
    let t0 = Instant::now();
    peer.terminate("high2", in_u);
    peer.expect_dmx(&pb, out_u, &low, "after the high source terminated");
    let took = t0.elapsed();
    assert!(
        took < Duration::from_millis(2000),
        "termination took {took:?}: patchbay waited for the loss timeout instead"
    );
    wait_discovery(&cap, cid);
    check_wire(&cap, cid, &[out_u], 1, "priority output");
}

/// `loss = zero` vs `loss = hold` (default), after termination and after a killed sender.
#[test]
fn python_termination_and_source_loss() {
    let _serial = serial();
    guard();
    // (input, output, loss, how the source ends)
    let rows = [
        (31u16, 32u16, "zero", "terminate"),
        (33, 34, "hold", "terminate"),
        (35, 36, "zero", "kill"),
        (37, 38, "hold", "kill"),
    ];
    let outs: Vec<u16> = rows.iter().map(|r| r.1).collect();
    let cid = test_cid(31);
    let mut groups: Vec<Ipv4Addr> = outs.iter().map(|u| group_v4(*u)).collect();
    groups.push(group_v4(64214));
    let cap = Capture::v4(SACN_PORT, Ipv4Addr::LOCALHOST, &groups);
    let mut peer = PyPeer::start();
    peer.receiver(SACN_PORT, &outs, true);
    let mut cfg = backend("pyloss", cid, &[BIND]);
    for (i, (in_u, out_u, loss, _)) in rows.iter().enumerate() {
        cfg += &format!(
            "\n[sacn in{i}]\nuniverse = {in_u}\n{}\n[sacn out{i}]\nuniverse = {out_u}\npriority = 100\n",
            if *loss == "zero" { "loss = zero" } else { "" }
        );
    }
    cfg += "\n[map]\n";
    for i in 0..rows.len() {
        cfg += &format!("in{i}.{{1..512}} > out{i}.{{1..512}}\n");
    }
    let pb = Patchbay::start(&cfg, SACN_PORT);
    let mut victim = PyPeer::start(); // killed below
    peer.sender("t", py_cid(31), "python terminating");
    victim.sender("k", py_cid(32), "python killed");
    for (i, (in_u, out_u, _, how)) in rows.iter().enumerate() {
        let (p, id) = if *how == "kill" {
            (&mut victim, "k")
        } else {
            (&mut peer, "t")
        };
        p.output(id, *in_u, 100, None);
        p.dmx(id, *in_u, &pattern(30 + i as u8));
        peer.expect_dmx(&pb, *out_u, &pattern(30 + i as u8), "before the end");
    }
    let zeros = vec![0u8; 512];

    let t0 = Instant::now();
    peer.terminate("t", 31);
    peer.terminate("t", 33);
    let z = cap.wait_slots(cid, 32, Duration::from_secs(2), |s| s == zeros);
    assert!(
        z.is_ok(),
        "loss = zero after termination: {z:?}\n{}",
        pb.log()
    );
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "termination acts at once"
    );
    peer.expect_dmx(&pb, 32, &zeros, "python sees the zeros (terminate, zero)");

    let t1 = Instant::now();
    victim.kill();
    let z = cap.wait_slots(cid, 36, Duration::from_secs(6), |s| s == zeros);
    assert!(
        z.is_ok(),
        "loss = zero after the source died: {z:?}\n{}",
        pb.log()
    );
    let d = peer.expect_dmx(&pb, 36, &zeros, "python sees the zeros (kill, zero)");
    assert_loss_window(&peer, py_cid(32), 35, d.at, "loss = zero");

    // Hold: 4 s after the end (past the loss timeout) the last levels are still sent.
    let settle = Duration::from_secs(4).saturating_sub(t1.elapsed());
    std::thread::sleep(settle);
    let late = Instant::now();
    std::thread::sleep(Duration::from_millis(1100)); // at least one keep-alive
    for (u, seed) in [(34u16, 31u8), (38, 33)] {
        let after: Vec<Captured> = cap
            .data_of(cid, u)
            .into_iter()
            .filter(|c| c.at >= late)
            .collect();
        assert!(!after.is_empty(), "universe {u}: keep-alives continue");
        for c in &after {
            assert_eq!(
                c.data().unwrap().slots(),
                &pattern(seed)[..],
                "loss = hold: universe {u} keeps the last levels"
            );
        }
        assert_eq!(peer.dmx_seen(u).last().unwrap().slots, pattern(seed));
    }
    wait_discovery(&cap, cid);
    check_wire(&cap, cid, &outs, 1, "loss outputs");
}

/// Wide channels as MIDIMonster writes them (`N+M`, coarse first), non-adjacent slots, swapped
/// roles, and conversions between 8 and 16 bits (the sACN backend README, rounding).
#[test]
fn python_16bit_channels() {
    let _serial = serial();
    guard();
    let (in_u, out_u) = (45u16, 46u16);
    let cid = test_cid(45);
    let cap = Capture::v4(
        SACN_PORT,
        Ipv4Addr::LOCALHOST,
        &[group_v4(out_u), group_v4(64214)],
    );
    let mut peer = PyPeer::start();
    peer.receiver(SACN_PORT, &[out_u], true);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\n\n[map]\n\
         in.1+2 > out.11+12\nin.5+9 > out.100+101\nin.10+11 > out.3+2\nin.1+2 > out.300\nin.20 > out.400+401\nin.30+31 > out.500+512\n",
        backend("py16", cid, &[BIND])
    );
    let pb = Patchbay::start(&cfg, SACN_PORT);
    peer.sender("a", py_cid(45), "python wide");
    peer.output("a", in_u, 100, None);
    let cases: [[(usize, u8); 9]; 3] = [
        [
            (1, 0x12),
            (2, 0x34),
            (5, 0xab),
            (9, 0xcd),
            (10, 0xff),
            (11, 0x01),
            (20, 200),
            (30, 0),
            (31, 1),
        ],
        [
            (1, 0xff),
            (2, 0xff),
            (5, 0x00),
            (9, 0x01),
            (10, 0x80),
            (11, 0x00),
            (20, 1),
            (30, 0xff),
            (31, 0xfe),
        ],
        [
            // 0x807f -> 127.998: rounds to 128 (MIDIMonster truncated to 127, D15)
            (1, 0x80),
            (2, 0x7f),
            (5, 0x7f),
            (9, 0xff),
            (10, 0x00),
            (11, 0x00),
            (20, 255),
            (30, 0x80),
            (31, 0x00),
        ],
    ];
    for case in cases {
        let mut input = vec![0u8; 512];
        for (slot, v) in case {
            input[slot - 1] = v;
        }
        let s = |n: usize| input[n - 1];
        let wide = |c: usize, f: usize| u32::from(s(c)) * 256 + u32::from(s(f));
        let mut want = vec![0u8; 512];
        let mut put = |n: usize, v: u8| want[n - 1] = v;
        put(11, s(1));
        put(12, s(2));
        put(100, s(5));
        put(101, s(9));
        put(3, s(10)); // coarse goes to slot 3, fine to slot 2
        put(2, s(11));
        // 16 → 8 bit: round(v / 65535 × 255)
        put(
            300,
            ((f64::from(wide(1, 2)) / 65535.0 * 255.0).round()) as u8,
        );
        // 8 → 16 bit: v × 257
        let w = u16::from(s(20)) * 257;
        put(400, (w >> 8) as u8);
        put(401, (w & 0xff) as u8);
        put(500, s(30));
        put(512, s(31));
        peer.dmx("a", in_u, &input);
        peer.expect_dmx(&pb, out_u, &want, &format!("wide case {case:?}"));
    }
    wait_discovery(&cap, cid);
    check_wire(&cap, cid, &[out_u], 1, "16-bit output");
}

/// Sources already running when patchbay starts: the sampling period (1.5 s, ETC practice) keeps
/// the lower-priority one from flashing through before the higher one has been heard.
#[test]
fn python_no_flash_of_a_lower_priority_source_at_start() {
    let _serial = serial();
    guard();
    let (in_u, out_u) = (47u16, 48u16);
    let cid = test_cid(47);
    let cap = Capture::v4(SACN_PORT, Ipv4Addr::LOCALHOST, &[group_v4(out_u)]);
    let mut peer = PyPeer::start();
    peer.receiver(SACN_PORT, &[out_u], true);
    let low = pattern(47);
    let high: Vec<u8> = pattern(48).iter().map(|v| v / 3).collect();
    peer.sender("low", py_cid(47), "python low");
    peer.output("low", in_u, 20, None);
    peer.dmx("low", in_u, &low);
    peer.sender("high", py_cid(48), "python high");
    peer.output("high", in_u, 180, None);
    peer.dmx("high", in_u, &high);
    std::thread::sleep(Duration::from_millis(300));
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\nrealtime = 1\n\n[map]\nin.{{1..512}} > out.{{1..512}}\n",
        backend("noflash", cid, &[BIND])
    );
    let pb = Patchbay::start(&cfg, SACN_PORT);
    // The low source changes every 50 ms (a packet each time), the high one only sends its 1 s
    // keep-alives: the low source is almost surely heard first.
    let t0 = Instant::now();
    let mut k = 0u8;
    while t0.elapsed() < Duration::from_millis(2000) {
        k = k.wrapping_add(1);
        peer.dmx("low", in_u, &pattern(47u8.wrapping_add(k)));
        std::thread::sleep(Duration::from_millis(50));
    }
    peer.expect_dmx(&pb, out_u, &high, "the high source");
    for (i, c) in cap.data_of(cid, out_u).iter().enumerate() {
        let s = c.data().unwrap().slots().to_vec();
        assert_eq!(
            s, high,
            "packet {i}: something other than the high source went out (flash)"
        );
    }
}
