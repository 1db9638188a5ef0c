//! `bind = ::` is dual-stack by default (issue 14 item 6): it joins each input universe's IPv6
//! (ETC layout) and IPv4 group on the routes' interface, takes input from both, and sends every
//! output packet to both groups; `v6only` keeps it to IPv6. On the veth pair (IPv4 and IPv6
//! multicast routed via sacn0), looped back to this host with `local`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::util::*;

/// patchbay on `:: port local FLAGS`, input universe `in_u` to slot 1 of output `out_u`.
fn start(n: u8, port: u16, flags: &str, in_u: u16, out_u: u16) -> Patchbay {
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\n\
         realtime = 1\n\n[map]\nin.1 > out.1\n",
        backend("dual", test_cid(n), &[&format!(":: {port} local {flags}")]),
    );
    Patchbay::start(&cfg, port)
}

#[test]
fn dual_stack_bind_takes_and_sends_both_families() {
    guard();
    let (in_u, out_u) = (0x0151u16, 0x0152u16);
    let idx = ifindex("sacn0");
    let cap4 = Capture::v4(SACN_PORT, VETH0, &[group_v4(out_u)]);
    let cap6 = Capture::v6(SACN_PORT, idx, &[group_v6(out_u)]);
    let port = free_port();
    let pb = start(151, port, "", in_u, out_u);
    assert_eq!(
        wait_joined(IpAddr::V4(group_v4(in_u))),
        ["sacn0"],
        "{}",
        pb.log()
    );
    assert_eq!(
        wait_joined(IpAddr::V6(group_v6(in_u))),
        ["sacn0"],
        "{}",
        pb.log()
    );
    let cid = test_cid(151);
    // IPv4 input reaches the output in both families.
    let mut tx4 = RawSender::v4(VETH0, test_cid(152));
    let to4 = SocketAddr::from((group_v4(in_u), port));
    let got = cap4.send_until(
        cid,
        out_u,
        || tx4.send(to4, in_u, 100, &[44]),
        |s| s[0] == 44,
    );
    assert!(got.is_some(), "IPv4 input -> IPv4 output\n{}", pb.log());
    let got = cap6.wait_slots(cid, out_u, Duration::from_secs(2), |s| s[0] == 44);
    assert!(
        got.is_ok(),
        "IPv4 input -> IPv6 output: {got:?}\n{}",
        pb.log()
    );
    // IPv6 input likewise (another source; its higher level wins the HTP merge).
    let mut tx6 = RawSender::v6(VETH0_V6, idx, test_cid(153));
    let to6 = SocketAddr::from((group_v6(in_u), port));
    let got = cap6.send_until(
        cid,
        out_u,
        || tx6.send(to6, in_u, 100, &[66]),
        |s| s[0] == 66,
    );
    assert!(got.is_some(), "IPv6 input -> IPv6 output\n{}", pb.log());
    let got = cap4.wait_slots(cid, out_u, Duration::from_secs(2), |s| s[0] == 66);
    assert!(
        got.is_ok(),
        "IPv6 input -> IPv4 output: {got:?}\n{}",
        pb.log()
    );
    for (what, cap) in [("IPv4", &cap4), ("IPv6", &cap6)] {
        let data = cap.data_of(cid, out_u);
        E131::new().check_all(what, &data);
        assert_consecutive(what, &data);
    }
}

#[test]
fn v6only_bind_keeps_to_ipv6() {
    guard();
    let (in_u, out_u) = (0x0154u16, 0x0155u16);
    let idx = ifindex("sacn0");
    let cap4 = Capture::v4(SACN_PORT, VETH0, &[group_v4(out_u)]);
    let cap6 = Capture::v6(SACN_PORT, idx, &[group_v6(out_u)]);
    let port = free_port();
    let pb = start(154, port, "v6only", in_u, out_u);
    assert_eq!(
        wait_joined(IpAddr::V6(group_v6(in_u))),
        ["sacn0"],
        "{}",
        pb.log()
    );
    let mut tx6 = RawSender::v6(VETH0_V6, idx, test_cid(155));
    let to6 = SocketAddr::from((group_v6(in_u), port));
    let got = cap6.send_until(
        test_cid(154),
        out_u,
        || tx6.send(to6, in_u, 100, &[77]),
        |s| s[0] == 77,
    );
    assert!(got.is_some(), "IPv6 in and out\n{}", pb.log());
    assert!(
        joined_on(IpAddr::V4(group_v4(in_u))).is_empty(),
        "v6only joined the IPv4 group"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        cap4.of_cid(test_cid(154)).is_empty(),
        "v6only sent to IPv4 groups"
    );
}
