//! Receive rules where implementations differ, through the binary with raw senders: termination
//! whatever the start code or preview bit, short packets leaving slots to the next source,
//! packets off the standard that sources in the field send (MIDIMonster's DMP length, padding,
//! priority above 200, sync address above 63999) used and counted, and discovery listing only
//! the universes that are transmitting.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use patchbay_sacn::Cid;

use crate::util::*;

const WAIT: Duration = Duration::from_secs(8);

/// Input universe `in_u` (unicast on a private port) mapped slot for slot (1..=`slots`) to
/// output `out_u`, sent at once (`realtime`) to a capture socket. Returns patchbay, the capture,
/// the input address and patchbay's CID.
fn through(
    name: &str,
    n: u8,
    in_u: u16,
    out_u: u16,
    slots: u16,
) -> (Patchbay, Capture, SocketAddr, Cid) {
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let port = free_port();
    let cid = test_cid(n);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\nunicast = 1\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\n\
         realtime = 1\ndestination = 127.0.0.1 {}\n\n[map]\nin.{{1..{slots}}} > out.{{1..{slots}}}\n",
        backend(name, cid, &[&format!("127.0.0.1 {port}")]),
        cap.port()
    );
    let pb = Patchbay::start_with(&cfg, port, &["--stats-format", "json"]);
    (pb, cap, SocketAddr::from((Ipv4Addr::LOCALHOST, port)), cid)
}

/// Every counter of every scope, from a SIGUSR1 report (`--stats-format json`).
fn stats(pb: &Patchbay) -> HashMap<String, HashMap<String, u64>> {
    let reports = |l: &str| {
        l.lines()
            .filter(|l| {
                l.starts_with("{\"stats\":\"signal\"") && l.contains("\"scope\":\"bind 0\"")
            })
            .count()
    };
    let before = reports(&pb.log());
    pb.signal("USR1");
    let log = poll(Duration::from_secs(5), || {
        let l = pb.log();
        (reports(&l) > before).then_some(l)
    })
    .unwrap_or_else(|| panic!("no stats report\n{}", pb.log()));
    let mut out = HashMap::new();
    for l in log
        .lines()
        .filter(|l| l.starts_with("{\"stats\":\"signal\""))
    {
        let key = if l.contains("\"instance\":\"") {
            "\"instance\":\""
        } else {
            "\"scope\":\""
        };
        let Some(start) = l.find(key).map(|i| i + key.len()) else {
            continue;
        };
        let scope = l[start..].split('"').next().unwrap_or_default().to_string();
        let body = l
            .split("\"counters\":{")
            .nth(1)
            .unwrap_or("")
            .trim_end_matches("}}");
        let counters = body
            .split(',')
            .filter_map(|p| p.split_once(':'))
            .filter_map(|(k, v)| Some((k.trim_matches('"').to_string(), v.parse().ok()?)))
            .collect();
        out.insert(scope, counters);
    }
    out
}

fn counter(s: &HashMap<String, HashMap<String, u64>>, scope: &str, name: &str) -> u64 {
    *s.get(scope)
        .and_then(|c| c.get(name))
        .unwrap_or_else(|| panic!("no counter {scope}/{name} in {s:?}"))
}

/// Item 2 of issue 14: a Stream_Terminated packet ends the source's stream at once (no 2.5 s
/// loss wait) whether it carries 0xDD, another start code, or the Preview bit.
#[test]
fn termination_ends_the_stream_whatever_its_start_code_or_preview_bit() {
    guard();
    let (in_u, out_u) = (141u16, 142u16);
    let (mut pb, cap, to, cid) = through("terminate", 141, in_u, out_u, 4);
    let mut high = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(143));
    let mut low = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(144));
    let cases: [(&str, u8, u8); 4] = [
        ("0xDD", 0xDD, 0x40),
        ("ASCII text 0x17", 0x17, 0x40),
        ("preview, levels", 0x00, 0xC0),
        ("preview, 0xDD", 0xDD, 0xC0),
    ];
    for (what, start_code, options) in cases {
        // The high source (back after the previous case: a new source waits up to 1.5 s for
        // 0xDD) wins; the low one stays alive throughout.
        let up = cap.send_until(
            cid,
            out_u,
            || {
                high.send(to, in_u, 150, &[200; 4]);
                low.send(to, in_u, 100, &[10; 4]);
            },
            |s| s[..4] == [200; 4],
        );
        assert!(up.is_some(), "{what}: high source never won\n{}", pb.log());
        let mut term = high.build(in_u, 150, options, &[255; 4]);
        term[125] = start_code;
        high.send_raw(to, &term);
        let sent = Instant::now();
        let got = poll(Duration::from_secs(2), || {
            low.send(to, in_u, 100, &[10; 4]);
            cap.wait_slots(cid, out_u, Duration::from_millis(50), |s| s[..4] == [10; 4])
                .ok()
        });
        assert!(
            got.is_some(),
            "{what}: the termination did not end the stream: {:?}\n{}",
            cap.wait_slots(cid, out_u, Duration::ZERO, |_| true),
            pb.log()
        );
        assert!(
            sent.elapsed() < Duration::from_millis(1500),
            "{what}: took {:?}, as long as a loss",
            sent.elapsed()
        );
    }
    let s = stats(&pb);
    assert_eq!(counter(&s, "in", "sources_terminated"), 4, "{s:?}");
    assert_eq!(counter(&s, "in", "sources_lost"), 0);
    E131::new().check_all("terminate output", &cap.of_cid(cid));
    pb.assert_running();
}

/// Item 3: a source drives only the slots its last packet carried; when its packets shrink the
/// slots beyond go to the next source, and come back when they grow.
#[test]
fn a_shrinking_source_leaves_the_slots_beyond_to_the_next_source() {
    guard();
    let (in_u, out_u) = (145u16, 146u16);
    let (mut pb, cap, to, cid) = through("shrink", 145, in_u, out_u, 512);
    let mut high = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(147));
    let mut low = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(148));
    let full = cap.send_until(
        cid,
        out_u,
        || {
            high.send(to, in_u, 150, &[200; 512]);
            low.send(to, in_u, 100, &[10; 512]);
        },
        |s| s == [200; 512],
    );
    assert!(full.is_some(), "no output\n{}", pb.log());
    let mut want = vec![10u8; 512];
    want[..4].copy_from_slice(&[1, 2, 3, 4]);
    let short = cap.send_until(
        cid,
        out_u,
        || {
            high.send(to, in_u, 150, &[1, 2, 3, 4]);
            low.send(to, in_u, 100, &[10; 512]);
        },
        |s| s == want,
    );
    assert!(
        short.is_some(),
        "slots beyond a 4-slot packet: {:?}\n{}",
        cap.wait_slots(cid, out_u, Duration::ZERO, |_| true),
        pb.log()
    );
    let again = cap.send_until(
        cid,
        out_u,
        || {
            high.send(to, in_u, 150, &[200; 512]);
            low.send(to, in_u, 100, &[10; 512]);
        },
        |s| s == [200; 512],
    );
    assert!(again.is_some(), "the full packet takes its slots back");
    pb.assert_running();
}

/// Item 5: what sources in the field get wrong is used and counted under `irregular.*`, and
/// what sits right next to it is still dropped as malformed.
#[test]
fn packets_off_the_standard_that_sources_send_are_used_and_counted() {
    guard();
    let (in_u, out_u) = (151u16, 152u16);
    let (mut pb, cap, to, cid) = through("irregular", 151, in_u, out_u, 16);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(153));
    let mut rival = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(154));
    let mut e131 = E131::new();
    // MIDIMonster (every release to v0.6): 638 bytes, DMP length 517 where 523 is right.
    let midimonster = |tx: &mut RawSender, v: u8| {
        let mut b = tx.build(in_u, 200, 0, &[v; 512]);
        b[115..117].copy_from_slice(&0x7205u16.to_be_bytes());
        b
    };
    let control = midimonster(&mut tx, 1);
    assert!(
        e131.parse(&control).errors > 0,
        "control: e131_check.py flags it"
    );
    let got = cap.send_until(
        cid,
        out_u,
        || {
            let b = midimonster(&mut tx, 1);
            tx.send_raw(to, &b);
        },
        |s| s[..16] == [1; 16],
    );
    assert!(got.is_some(), "MIDIMonster's packet not used\n{}", pb.log());
    // Padding after 8 slots: not level data (slots 9.. are no longer driven: held at 1).
    let mut want = [1u8; 16];
    want[..8].fill(2);
    let got = cap.send_until(
        cid,
        out_u,
        || {
            let mut b = tx.build(in_u, 200, 0, &[2; 8]);
            b.extend_from_slice(&[0xEE; 30]);
            tx.send_raw(to, &b);
        },
        |s| s[..16] == want,
    );
    assert!(got.is_some(), "padded packet: {got:?}\n{}", pb.log());
    // A sync address above 63999 means no sync: applied at once, no sync packet ever comes.
    let got = cap.send_until(
        cid,
        out_u,
        || {
            // (the builder refuses it, so patch the field)
            let mut b = tx.build(in_u, 200, 0, &[3; 16]);
            b[109..111].copy_from_slice(&64000u16.to_be_bytes());
            tx.send_raw(to, &b);
        },
        |s| s[..16] == [3; 16],
    );
    assert!(got.is_some(), "sync address 64000: {got:?}\n{}", pb.log());
    // Priority 255 is 200: the rival is used (its higher levels win by HTP) but does not win
    // outright (its lower levels lose to the source at 200).
    let mut rival_sends = |v: u8| {
        let mut b = rival.build(in_u, 200, 0, &[v; 16]);
        b[108] = 255;
        b
    };
    let got = cap.send_until(
        cid,
        out_u,
        || {
            tx.send(to, in_u, 200, &[100; 16]);
            let b = rival_sends(150);
            tx.sock.send_to(&b, to).expect("send");
        },
        |s| s[..16] == [150; 16],
    );
    assert!(got.is_some(), "priority 255 not used\n{}", pb.log());
    let got = cap.send_until(
        cid,
        out_u,
        || {
            tx.send(to, in_u, 200, &[100; 16]);
            let b = rival_sends(50);
            tx.sock.send_to(&b, to).expect("send");
        },
        |s| s[..16] == [100; 16],
    );
    assert!(
        got.is_some(),
        "priority 255 beat priority 200\n{}",
        pb.log()
    );
    // Right next to MIDIMonster's deviation: DMP length 518 is still malformed.
    let mut b = tx.build(in_u, 200, 0, &[255; 512]);
    b[115..117].copy_from_slice(&(0x7000u16 | 518).to_be_bytes());
    tx.send_raw(to, &b);
    tx.send(to, in_u, 200, &[100; 16]);
    std::thread::sleep(Duration::from_millis(300));
    let s = stats(&pb);
    for name in [
        "irregular.dmp_length_midimonster",
        "irregular.padded",
        "irregular.sync_address_out_of_range",
        "irregular.priority_above_200",
    ] {
        assert!(
            counter(&s, "bind 0", name) >= 1,
            "{name}: {:?}",
            s["bind 0"]
        );
    }
    assert_eq!(counter(&s, "bind 0", "malformed.bad_dmp_length"), 1);
    assert_eq!(counter(&s, "bind 0", "malformed"), 1);
    assert!(
        cap.data_of(cid, out_u)
            .iter()
            .all(|c| c.data().is_some_and(|d| d.slots()[..16] != [255; 16])),
        "the malformed packet was applied"
    );
    assert!(
        pb.log().contains("deviate from E1.31") && pb.log().contains("irregular.padded"),
        "the first of each kind is logged\n{}",
        pb.log()
    );
    pb.assert_running();
}

/// Item 7: discovery lists the universes patchbay is transmitting, not every configured output:
/// one that got no value yet is not listed (nor sent), and is listed once it starts.
#[test]
fn discovery_lists_only_the_universes_that_transmit() {
    guard();
    let disc = discovery_capture();
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let port = free_port();
    let cid = test_cid(155);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = 155\nunicast = 1\n\n\
         [sacn a]\nuniverse = 156\npriority = 100\ndestination = 127.0.0.1 {p}\n\n\
         [sacn b]\nuniverse = 157\npriority = 100\ndestination = 127.0.0.1 {p}\n\n\
         [sacn idle]\nuniverse = 158\npriority = 100\ndestination = 127.0.0.1 {p}\n\n\
         [map]\nin.1 > a.1\nin.2 > b.1\n",
        backend("listing", cid, &[&format!("127.0.0.1 {port}")]),
        p = cap.port()
    );
    let pb = Patchbay::start(&cfg, port);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(159));
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listed = |c: &Captured| -> Option<Vec<u16>> {
        match patchbay_sacn::Packet::parse(&c.bytes) {
            Ok(patchbay_sacn::Packet::Discovery(d)) => Some(d.universes().collect()),
            _ => None,
        }
    };
    // Only slot 1 changes: universe 156 starts, 157 and 158 do not.
    let a = cap.send_until(cid, 156, || tx.send(to, 155, 100, &[9, 0]), |s| s[0] == 9);
    assert!(a.is_some(), "no output\n{}", pb.log());
    let first = poll(WAIT, || disc.of_cid(cid).iter().find_map(listed));
    assert_eq!(first, Some(vec![156]), "{}", pb.log());
    // Universe 157 starts: the next round (10 s after the first) lists both.
    let b = cap.send_until(cid, 157, || tx.send(to, 155, 100, &[9, 7]), |s| s[0] == 7);
    assert!(b.is_some(), "no output on 157\n{}", pb.log());
    let both = poll(Duration::from_secs(11), || {
        let keep = tx.build(155, 100, 0, &[9, 7]);
        tx.send_raw(to, &keep);
        std::thread::sleep(Duration::from_millis(200));
        disc.of_cid(cid)
            .iter()
            .filter_map(listed)
            .any(|l| l == [156, 157])
            .then_some(())
    });
    assert!(
        both.is_some(),
        "no discovery listing 156 and 157\n{}",
        pb.log()
    );
    let parsed = E131::new().check_all("discovery", &disc.of_cid(cid));
    for p in parsed.iter().filter(|p| p.kind == "discovery") {
        assert!(
            p.universes() == [156] || p.universes() == [156, 157],
            "listed {:?}",
            p.universes()
        );
    }
    assert!(
        cap.data_of(cid, 158).is_empty(),
        "universe 158 got no value"
    );
}
