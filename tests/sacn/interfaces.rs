//! Interface selection and IPv6 on the veth pair of `scripts/netns-run --veth` / `scripts/test`
//! (sacn0 198.18.0.1 / 2001:db8:5ac::1). Linux drops multicast that comes back over the veth wire
//! with a local source address, so traffic "on sacn0" here is what a sender with multicast
//! loopback sends out of sacn0; patchbay's own output on sacn0 is looped back with `local`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::util::*;

/// `bind = 198.18.0.1`: the input group is joined on sacn0 (not lo, not "any"), multicast arriving
/// on sacn0 is taken, and the same group arriving on lo is not. The lo source sends higher levels,
/// so with HTP any leak would show in the output.
#[test]
fn specific_ipv4_bind_receives_multicast_on_its_interface_only() {
    guard();
    let in_u = 61u16;
    let out_u = 62u16;
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let port = free_port();
    let cid = test_cid(61);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\ndestination = 127.0.0.1 {}\n\n[map]\nin.{{1..4}} > out.{{1..4}}\n",
        backend("iface4", cid, &[&format!("198.18.0.1 {port}")]),
        cap.port()
    );
    let pb = Patchbay::start(&cfg, port);
    assert_eq!(
        wait_joined(IpAddr::V4(group_v4(in_u))),
        ["sacn0"],
        "239.255.0.61 must be joined on sacn0 only\n{}",
        pb.log()
    );
    assert!(
        joined_on(IpAddr::V4(group_v4(out_u))).is_empty(),
        "an output-only universe joins nothing"
    );

    let mut on_veth = RawSender::v4(VETH0, test_cid(161));
    let mut on_lo = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(162));
    let dst = SocketAddr::from((group_v4(in_u), port));
    let veth_levels = [42u8, 7, 0, 1];
    let lo_levels = [200u8, 200, 200, 200];
    let want = |s: &[u8]| s[..4] == veth_levels && s[4..].iter().all(|v| *v == 0);
    let mut matched = 0;
    // Both sources run for 4 s (past the sampling and per-address-priority waits); the output must
    // carry the sacn0 levels and never the lo ones.
    let end = std::time::Instant::now() + Duration::from_secs(4);
    while std::time::Instant::now() < end {
        on_veth.send(dst, in_u, 100, &veth_levels);
        on_lo.send(dst, in_u, 100, &lo_levels);
        std::thread::sleep(Duration::from_millis(100));
        if cap.wait_slots(cid, out_u, Duration::ZERO, want).is_ok() {
            matched += 1;
        }
    }
    let pkts = cap.data_of(cid, out_u);
    assert!(
        matched > 0,
        "sacn0 levels never reached the output: {:?}\n{}",
        cap.wait_slots(cid, out_u, Duration::ZERO, |_| true),
        pb.log()
    );
    for p in &pkts {
        let s = p.data().unwrap().slots().to_vec();
        assert!(
            s.iter().all(|v| *v != 200),
            "lo traffic was taken: {:?}",
            nonzero(&s)
        );
    }
    E131::new().check_all("iface4 output", &pkts);
    // The lo copies were not even read (IP_MULTICAST_ALL off, joined on sacn0 only), and every
    // sacn0 datagram was read once.
    let mut pb = pb;
    let sum = pb.stop_with_summary(0);
    assert_eq!(
        (sum.datagrams_in, sum.dropped),
        (on_veth.sent, 0),
        "datagrams read: {sum:?}; sent on sacn0 {}, on lo {}",
        on_veth.sent,
        on_lo.sent
    );
}

/// `bind = 2001:db8:5ac::1`: input joined as ff18::8300:HHLL on sacn0 (ETC layout), output sent to
/// the ETC-layout group of the output universe through sacn0, discovery to ff18::8300:fad6 listing
/// exactly the output universe. A source on the literal-layout group is not heard.
#[test]
fn ipv6_bind_uses_etc_groups_on_its_interface() {
    guard();
    let in_u = 0x0147u16; // 327: hi byte non-zero, so the two layouts differ visibly
    let out_u = 0x0148u16;
    let idx = ifindex("sacn0");
    let cap = Capture::v6(SACN_PORT, idx, &[group_v6(out_u), group_v6(64214)]);
    let cap_literal = Capture::v6(SACN_PORT, idx, &[group_v6_literal(out_u)]);
    let cap_unicast = Capture::v6(0, idx, &[]);
    let port = free_port();
    let cid = test_cid(71);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\n\n\
         [sacn direct]\nuniverse = 9\npriority = 100\ndestination = 2001:db8:5ac::1 {}\n\n[map]\nin.{{1..3}} > out.{{11..13}}\nin.2 > direct.1\n",
        backend("iface6", cid, &[&format!("2001:db8:5ac::1 {port} local")]),
        cap_unicast.port()
    );
    let pb = Patchbay::start(&cfg, port);
    assert_eq!(
        wait_joined(IpAddr::V6(group_v6(in_u))),
        ["sacn0"],
        "ff18::8300:147 must be joined on sacn0\n{}",
        pb.log()
    );
    assert!(
        joined_on(IpAddr::V6(group_v6_literal(in_u))).is_empty(),
        "literal layout not joined"
    );

    let mut tx = RawSender::v6(VETH0_V6, idx, test_cid(171));
    let mut decoy = RawSender::v6(VETH0_V6, idx, test_cid(172));
    let to = |g: Ipv6Addr| SocketAddr::new(IpAddr::V6(g), port);
    let levels = [1u8, 128, 255];
    let mut want = vec![0u8; 512];
    want[10..13].copy_from_slice(&levels);
    let got = cap.send_until(
        cid,
        out_u,
        || {
            tx.send(to(group_v6(in_u)), in_u, 100, &levels);
            decoy.send(to(group_v6_literal(in_u)), in_u, 100, &[250, 250, 250]);
        },
        |s| s == want,
    );
    assert!(
        got.is_some(),
        "IPv6 input never reached the IPv6 output: {:?}\n{}",
        cap.wait_slots(cid, out_u, Duration::ZERO, |_| true),
        pb.log()
    );
    // Discovery: the first one goes out at start or within the 10 s interval.
    let disc = poll(Duration::from_secs(11), || {
        let d: Vec<Captured> = cap
            .of_cid(cid)
            .into_iter()
            .filter(|c| {
                matches!(
                    patchbay_sacn::wire::Packet::parse(&c.bytes),
                    Ok(patchbay_sacn::wire::Packet::Discovery(_))
                )
            })
            .collect();
        (!d.is_empty()).then_some(d)
    });
    assert!(
        disc.is_some(),
        "no IPv6 discovery packet within 11 s\n{}",
        pb.log()
    );

    // IPv6 unicast destination.
    let direct = cap_unicast.wait_slots(cid, 9, Duration::from_secs(2), |s| s[0] == 128);
    assert!(direct.is_ok(), "IPv6 unicast destination: {direct:?}");
    E131::new().check_all("iface6 unicast", &cap_unicast.all());
    assert!(
        cap_literal.of_cid(cid).is_empty(),
        "output went to the literal-layout group ff18::83:0:1:48"
    );
    let mine = cap.of_cid(cid);
    let parsed = E131::new().check_all("iface6 output", &mine);
    check_discovery(&parsed, &[9, out_u], 1);
    for (c, p) in mine.iter().zip(&parsed) {
        assert_eq!(
            c.from.ip(),
            IpAddr::V6(VETH0_V6),
            "source address is the bound one"
        );
        if p.kind == "data" {
            assert_eq!(p.num("universe"), i64::from(out_u));
            assert!(
                p.slots().iter().all(|v| *v != 250),
                "literal-layout decoy was heard"
            );
        }
    }
}

/// `unicast = 1` is strict: multicast for the universe that another socket on this host joined
/// is not taken (Linux would deliver it to a wildcard socket with IP_MULTICAST_ALL on), unicast is.
#[test]
fn unicast_instance_ignores_multicast_joined_by_others() {
    guard();
    let (in_u, out_u) = (78u16, 79u16);
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let disc = discovery_capture();
    let port = free_port();
    let cid = test_cid(78);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\nunicast = 1\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\ndestination = 127.0.0.1 {}\n\n[map]\nin.1 > out.1\n",
        backend("unicast", cid, &[&format!("127.0.0.1 {port}")]),
        cap.port()
    );
    let mut pb = Patchbay::start(&cfg, port);
    // Someone else on the host joins the group on lo, on patchbay's port.
    let other = Capture::v4(port, Ipv4Addr::LOCALHOST, &[group_v4(in_u)]);
    let mut mc = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(178));
    let mut uc = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(179));
    let end = std::time::Instant::now() + Duration::from_millis(2500);
    while std::time::Instant::now() < end {
        mc.send(SocketAddr::from((group_v4(in_u), port)), in_u, 100, &[200]);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !other.all().is_empty(),
        "control: the multicast was on the wire"
    );
    assert!(cap.all().is_empty(), "multicast reached a unicast instance");
    let got = poll(Duration::from_secs(5), || {
        uc.send(
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            in_u,
            100,
            &[50],
        );
        cap.wait_slots(cid, out_u, Duration::from_millis(100), |s| s[0] == 50)
            .ok()
    });
    assert!(got.is_some(), "unicast not taken\n{}", pb.log());
    check_discovery_capture(&disc, cid, &[out_u]);
    let sum = pb.stop_with_summary(0);
    assert_eq!((sum.datagrams_in, sum.dropped), (uc.sent, 0), "{sum:?}");
}
