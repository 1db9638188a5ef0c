//! SIGTERM: three Stream_Terminated packets per output universe (options bit 6, consecutive
//! sequence numbers continuing the stream, carrying the last data), then exit status 0.
//! One universe goes out unicast, one multicast.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::util::*;

#[test]
fn sigterm_sends_three_termination_packets_per_universe() {
    shutdown_on("TERM");
}

#[test]
fn sigint_sends_three_termination_packets_per_universe() {
    shutdown_on("INT");
}

fn shutdown_on(signal: &str) {
    guard();
    let (uni_u, multi_u, in_u) = (81u16, 82u16, 80u16);
    let cap_uni = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let cap_multi = Capture::v4(
        SACN_PORT,
        Ipv4Addr::LOCALHOST,
        &[group_v4(multi_u), group_v4(64214)],
    );
    let port = free_port();
    let cid = test_cid(if signal == "TERM" { 80 } else { 83 });
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\nunicast = 1\n\n\
         [sacn uni]\nuniverse = {uni_u}\npriority = 120\ndestination = 127.0.0.1 {}\n\n\
         [sacn multi]\nuniverse = {multi_u}\npriority = 90\n\n\
         [map]\nin.1 > uni.1\nin.2 > multi.5\nin.3+4 > multi.7+8\n",
        backend("shutdown", cid, &[&format!("127.0.0.1 {port}")]),
        cap_uni.port()
    );
    let mut pb = Patchbay::start(&cfg, port);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(180));
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut input = vec![0u8; 512];
    input[..4].copy_from_slice(&[11, 22, 0x12, 0x34]);
    let mut want_multi = vec![0u8; 512];
    want_multi[4] = 22;
    want_multi[6] = 0x12;
    want_multi[7] = 0x34;
    let ok = poll(Duration::from_secs(10), || {
        tx.send(to, in_u, 100, &input);
        let a = cap_uni.wait_slots(cid, uni_u, Duration::from_millis(200), |s| s[0] == 11);
        let b = cap_multi.wait_slots(cid, multi_u, Duration::from_millis(1), |s| s == want_multi);
        (a.is_ok() && b.is_ok()).then_some(())
    });
    assert!(
        ok.is_some(),
        "outputs never carried the input: {:?} / {:?}\n--- log\n{}",
        cap_uni.wait_slots(cid, uni_u, Duration::ZERO, |_| true),
        cap_multi.wait_slots(cid, multi_u, Duration::ZERO, |_| true),
        pb.log()
    );
    // Let the repeats after the change pass, so the termination follows a quiet stream.
    std::thread::sleep(Duration::from_millis(300));
    pb.signal(signal);
    let status = pb.wait_exit(Duration::from_secs(5));
    let status = status
        .unwrap_or_else(|| panic!("patchbay still running 5 s after SIG{signal}\n{}", pb.log()));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after SIG{signal}\n{}",
        pb.log()
    );
    std::thread::sleep(Duration::from_millis(100));

    let mut tool = E131::new();
    // Discovery lists both, including the universe sent unicast ([MM], the sACN backend README).
    wait_discovery(&cap_multi, cid);
    let disc: Vec<Captured> = cap_multi
        .of_cid(cid)
        .into_iter()
        .filter(|c| c.data().is_none())
        .collect();
    let parsed = tool.check_all("discovery", &disc);
    check_discovery(&parsed, &[uni_u, multi_u], 1);
    for (what, cap, u, prio) in [
        ("unicast universe", &cap_uni, uni_u, 120),
        ("multicast universe", &cap_multi, multi_u, 90),
    ] {
        let pkts = cap.data_of(cid, u);
        let parsed = tool.check_all(what, &pkts);
        assert!(pkts.len() >= 4, "{what}: {} packets", pkts.len());
        let term: Vec<usize> = (0..parsed.len())
            .filter(|&i| parsed[i].num("options") & 0x40 != 0)
            .collect();
        let n = parsed.len();
        assert_eq!(
            term,
            [n - 3, n - 2, n - 1],
            "{what}: the last three packets, and only they, are Stream_Terminated (options {:?})",
            parsed.iter().map(|p| p.num("options")).collect::<Vec<_>>()
        );
        for p in &parsed[n - 3..] {
            assert_eq!(p.num("options"), 0x40, "{what}: no other option bit");
            assert_eq!(p.num("priority"), prio, "{what}");
            assert_eq!(
                p.slots(),
                parsed[n - 4].slots(),
                "{what}: termination packets carry the last data"
            );
        }
        let seqs: Vec<i64> = parsed[n - 4..].iter().map(|p| p.num("seq")).collect();
        for w in seqs.windows(2) {
            assert_eq!(
                w[1],
                (w[0] + 1) % 256,
                "{what}: consecutive sequence numbers {seqs:?}"
            );
        }
        assert_consecutive(what, &pkts);
    }
    assert_eq!(
        cap_uni
            .data_of(cid, uni_u)
            .last()
            .unwrap()
            .data()
            .unwrap()
            .slots()[0],
        11
    );
}
