//! 1,000 input universes on one bind, far more than the default `net.ipv4.igmp_max_memberships`
//! (20) lets one socket join: every universe delivers (each group has a socket of its own). Universe 1001 + i (i = 0..1000) maps its slot 1 to slot i+1 of two output
//! universes (512 + 488 slots), each input carrying a different non-zero level.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::util::*;

const N: u16 = 1000;
const FIRST: u16 = 1001;

fn level(i: u16) -> u8 {
    (u32::from(i) * 7 % 254 + 1) as u8
}

#[test]
fn thousand_input_universes_on_one_bind_all_deliver() {
    guard();
    let limit = std::fs::read_to_string("/proc/sys/net/ipv4/igmp_max_memberships")
        .expect("sysctl")
        .trim()
        .parse::<usize>()
        .expect("number");
    assert!(
        limit < usize::from(N),
        "the test needs a membership limit below {N}, got {limit}"
    );

    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let disc = discovery_capture();
    let port = free_port();
    let cid = test_cid(90);
    let mut cfg = backend("thousand", cid, &[&format!("127.0.0.1 {port}")]);
    for i in 0..N {
        cfg += &format!("[sacn in{i}]\nuniverse = {}\n", FIRST + i);
    }
    cfg += &format!(
        "[sacn outa]\nuniverse = 3001\npriority = 100\ndestination = 127.0.0.1 {p}\n\
         [sacn outb]\nuniverse = 3002\npriority = 100\ndestination = 127.0.0.1 {p}\n[map]\n",
        p = cap.port()
    );
    for i in 0..N {
        let (out, slot) = if i < 512 {
            ("outa", i + 1)
        } else {
            ("outb", i - 511)
        };
        cfg += &format!("in{i}.1 > {out}.{slot}\n");
    }
    let pb = Patchbay::start(&cfg, port);
    let joined = poll(Duration::from_secs(10), || {
        let t = joined_table(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        (0..N)
            .all(|i| {
                t.get(&IpAddr::V4(group_v4(FIRST + i)))
                    .is_some_and(|d| d == &["lo"])
            })
            .then_some(())
    });
    assert!(
        joined.is_some(),
        "not every group joined exactly once on lo\n{}",
        pb.log()
    );

    let want_a: Vec<u8> = (0..512).map(level).collect();
    let mut want_b: Vec<u8> = (512..N).map(level).collect();
    want_b.resize(512, 0);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(190));
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        // One round to every universe, paced so socket buffers never overflow.
        for i in 0..N {
            let u = FIRST + i;
            tx.send(SocketAddr::from((group_v4(u), port)), u, 100, &[level(i)]);
            if i % 50 == 49 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let a = cap.wait_slots(cid, 3001, Duration::from_millis(800), |s| s == want_a);
        let b = cap.wait_slots(cid, 3002, Duration::from_millis(1), |s| s == want_b);
        if a.is_ok() && b.is_ok() {
            break;
        }
        if Instant::now() > end {
            let last = |u| {
                cap.data_of(cid, u)
                    .last()
                    .and_then(|c| c.data().map(|d| d.slots().to_vec()))
                    .unwrap_or_default()
            };
            let missing: Vec<u16> = (0..N)
                .filter(|&i| {
                    let (u, s) = if i < 512 { (3001, i) } else { (3002, i - 512) };
                    last(u).get(usize::from(s)) != Some(&level(i))
                })
                .map(|i| FIRST + i)
                .collect();
            panic!(
                "{} of {N} universes did not deliver, e.g. {:?}\n--- log\n{}",
                missing.len(),
                &missing[..missing.len().min(20)],
                pb.log()
            );
        }
    }
    // Discovery lists the universes transmitting when it goes out: 3001 and 3002 may start in
    // different turns, so the first page may list 3001 alone; the next round lists both.
    let listed = |c: &Captured| -> Vec<u16> {
        match patchbay_sacn::Packet::parse(&c.bytes) {
            Ok(patchbay_sacn::Packet::Discovery(d)) => d.universes().collect(),
            _ => Vec::new(),
        }
    };
    let both = poll(Duration::from_secs(11), || {
        disc.of_cid(cid)
            .iter()
            .any(|c| listed(c) == [3001, 3002])
            .then_some(())
    });
    assert!(
        both.is_some(),
        "no discovery listing 3001 and 3002 within 11 s\n{}",
        pb.log()
    );
    for p in &E131::new().check_all("discovery", &disc.of_cid(cid)) {
        let u = p.universes();
        assert!(
            p.kind == "discovery" && (u == [3001] || u == [3002] || u == [3001, 3002]),
            "{p:?}"
        );
    }
    // Each datagram was read once and used once: a second copy (another group's socket, or the
    // main socket) would be counted in and dropped as a sequence duplicate.
    let mut pb = pb;
    let sum = pb.stop_with_summary(0);
    assert_eq!(
        (sum.datagrams_in, sum.data_used, sum.dropped),
        (tx.sent, tx.sent, 0),
        "every datagram read and used exactly once: {sum:?}"
    );
    let all = cap.all();
    E131::new().check_all("thousand universes output", &all);
    assert_consecutive("outa", &cap.data_of(cid, 3001));
    assert_consecutive("outb", &cap.data_of(cid, 3002));
}

/// 600 transmitting output universes: discovery goes out in two pages (512 + 88 universes),
/// both with last page 1, listing exactly those universes in ascending order (MIDIMonster sent
/// garbage, D4). An output universe that never got a value is not transmitting and not listed;
/// before the first value nothing is sent at all, not even discovery (the sACN backend README: a freshly
/// started patchbay must not black out a universe another console drives).
#[test]
fn discovery_pages_list_exactly_the_transmitting_universes() {
    guard();
    let cap = Capture::v4(
        SACN_PORT,
        Ipv4Addr::LOCALHOST,
        &[
            group_v4(64214),
            group_v4(4001),
            group_v4(4600),
            group_v4(4601),
        ],
    );
    let port = free_port();
    let cid = test_cid(95);
    let mut cfg = backend("discovery", cid, &[&format!("127.0.0.1 {port}")]);
    // Declared in descending order; an input-only instance is not listed, nor is out4601, which
    // no channel feeds.
    for u in (4001..=4601u16).rev() {
        cfg += &format!("[sacn out{u}]\nuniverse = {u}\npriority = 100\n");
    }
    cfg += "[sacn in]\nuniverse = 4999\n[map]\n";
    for u in 4001..=4600u16 {
        cfg += &format!("in.1 > out{u}.1\n");
    }
    let pb = Patchbay::start(&cfg, port);
    std::thread::sleep(Duration::from_millis(1200)); // past a keep-alive interval
    assert!(
        cap.of_cid(cid).is_empty(),
        "sent before any event (data or discovery)\n{}",
        pb.log()
    );
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(195));
    let to = SocketAddr::from((group_v4(4999), port));
    let discovery = |c: &Captured| c.bytes.len() >= 22 && c.bytes[18..22] == [0, 0, 0, 8];
    let pages = poll(Duration::from_secs(8), || {
        tx.send(to, 4999, 100, &[7]);
        std::thread::sleep(Duration::from_millis(100));
        let p: Vec<Captured> = cap.of_cid(cid).into_iter().filter(discovery).collect();
        (p.len() >= 2).then_some(p)
    });
    let pages =
        pages.unwrap_or_else(|| panic!("fewer than 2 discovery pages within 8 s\n{}", pb.log()));
    let parsed = E131::new().check_all("discovery pages", &pages[..2]);
    assert_eq!(
        parsed
            .iter()
            .map(|p| (p.kind.as_str(), p.num("page"), p.num("last")))
            .collect::<Vec<_>>(),
        [("discovery", 0, 1), ("discovery", 1, 1)]
    );
    let listed: Vec<u16> = parsed.iter().flat_map(|p| p.universes()).collect();
    assert_eq!(listed, (4001..=4600).collect::<Vec<u16>>());
    assert_eq!(parsed[0].universes().len(), 512);
    assert!(
        !cap.data_of(cid, 4600).is_empty(),
        "universe 4600 transmits"
    );
    assert!(
        cap.data_of(cid, 4601).is_empty(),
        "universe 4601 got no value"
    );
}
