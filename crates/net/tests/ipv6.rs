//! IPv6 multicast and dual-stack behaviour. Linux `lo` does not loop IPv6 multicast back, so these
//! run on the veth pair of `scripts/netns-run --veth` (as `scripts/test` does).
#![allow(clippy::unwrap_used)]

mod util;

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use patchbay_net::{Chosen, DestKind, SocketId};
use util::*;

/// ETC layout of E1.31-2018 9.3: `ff18::83:00:hi:lo` in the last four bytes.
fn group_v6(universe: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0xff18, 0, 0, 0, 0, 0, 0x8300, universe))
}

#[test]
fn ipv6_specific_bind_receives_its_group_on_the_veth() {
    veth();
    let mut rx = open("[2001:db8:5ac::1]:0", false);
    let iface = rx.interface().unwrap().clone();
    assert_eq!(
        (iface.name.as_str(), iface.index),
        ("sacn0", ifindex("sacn0"))
    );
    rx.join(group_v6(1)).unwrap();
    let dst = SocketAddr::new(group_v6(1), rx.local_addr().port());

    let silent = open("[2001:db8:5ac::1]:0", false);
    silent.send_to(b"off", dst).unwrap();
    assert!(
        collect(&mut rx, QUIET).is_empty(),
        "loopback must be off without `local`"
    );

    let tx = open("[2001:db8:5ac::1]:0", true);
    tx.send_to(b"six", dst).unwrap();
    let got = collect(&mut rx, QUIET);
    assert_eq!(got.len(), 1, "{got:?}");
    let g = &got[0];
    assert_eq!(g.payload, b"six");
    assert_eq!(g.socket, SocketId::Receiver(0));
    assert_eq!(g.meta.kind, DestKind::Multicast);
    assert_eq!(g.meta.dst, Some(group_v6(1)));
    assert_eq!(g.meta.ifindex, ifindex("sacn0"));
    assert_eq!(g.meta.src.ip(), tx.local_addr().ip());
    assert_eq!(g.meta.src.port(), tx.local_addr().port());
}

#[test]
fn ipv6_wildcard_bind_uses_the_route_of_its_probe() {
    veth();
    let mut rx = open_probed("[::]:0", false, &["ff18::8300:1", "239.255.0.1"]);
    let iface = rx.interface().unwrap();
    assert_eq!(iface.name, "sacn0");
    assert_eq!(
        iface.chosen,
        Chosen::DefaultRoute {
            probe: "ff18::8300:1".parse().unwrap()
        }
    );
    for u in 1..=200 {
        rx.join(group_v6(u)).unwrap();
    }
    let tx = open_probed("[::]:0", true, &["ff18::8300:1"]);
    let mut seen = vec![0u32; 201];
    for u in 1..=200u16 {
        tx.send_to(
            &u.to_be_bytes(),
            SocketAddr::new(group_v6(u), rx.local_addr().port()),
        )
        .unwrap();
    }
    for g in collect(&mut rx, QUIET) {
        let u = u16::from_be_bytes([g.payload[0], g.payload[1]]);
        assert_eq!(g.meta.dst, Some(group_v6(u)));
        seen[usize::from(u)] += 1;
    }
    let wrong: Vec<_> = (1..=200).filter(|&u| seen[u] != 1).collect();
    assert!(wrong.is_empty(), "not received exactly once: {wrong:?}");
}

/// `bind = ::` is dual-stack: IPv4 peers reach it and are reported as IPv4, and it can answer them.
#[test]
fn dual_stack_bind_reports_ipv4_peers_as_ipv4() {
    guard();
    let mut rx = open("[::]:0", false);
    let port = rx.local_addr().port();
    let mut tx = open("127.0.0.1:0", false);
    tx.send_to(b"v4", sa(&format!("127.0.0.1:{port}"))).unwrap();
    let got = collect(&mut rx, QUIET);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].socket, SocketId::Main);
    assert_eq!(got[0].meta.src, tx.local_addr());
    assert_eq!(got[0].meta.dst, Some(ip("127.0.0.1")));
    assert_eq!(got[0].meta.kind, DestKind::Unicast);

    rx.send_to(b"back", tx.local_addr()).unwrap();
    let back = collect(&mut tx, QUIET);
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].payload, b"back");
    assert_eq!(back[0].meta.src, sa(&format!("127.0.0.1:{port}")));
}

/// The dual-stack main socket is strict for IPv4 too: IPv4 groups joined by another bind do not reach
/// it. (Linux starts AF_INET6 sockets with the IPv4 IP_MULTICAST_ALL flag clear; we clear it anyway.)
#[test]
fn dual_stack_main_socket_sees_no_foreign_ipv4_multicast() {
    guard();
    let mut dual = open("[::]:0", false);
    let port = dual.local_addr().port();
    let mut member = open(&format!("127.0.0.1:{port}"), false);
    member.join(ip("239.255.0.9")).unwrap();
    let tx = open("127.0.0.1:0", false);
    tx.send_to(b"m", sa(&format!("239.255.0.9:{port}")))
        .unwrap();
    assert_eq!(collect(&mut member, QUIET).len(), 1);
    assert!(collect(&mut dual, QUIET).is_empty());
}

/// A dual-stack `::` bind joins IPv4 groups too (an AF_INET socket bound to the group, on the
/// IPv4 route's interface) and sends to them with its own TTL, loopback and egress.
#[test]
fn dual_stack_bind_joins_and_sends_ipv4_groups() {
    veth();
    let mut rx = open_probed("[::]:0", false, &["ff18::8300:1", "239.255.0.1"]);
    let port = rx.local_addr().port();
    assert!(rx.carries(false) && rx.carries(true));
    let v4 = rx.interface_for(false).unwrap().unwrap().clone();
    assert_eq!((v4.name.as_str(), v4.addr), ("sacn0", ip("198.18.0.1")));
    let shown = rx.to_string();
    assert!(shown.contains("IPv4 multicast via sacn0 (index"), "{shown}");
    let j4 = rx.join(ip("239.255.0.5")).unwrap();
    let j6 = rx.join(group_v6(5)).unwrap();
    assert!(!rx.is_ipv6(SocketId::Receiver(j4.socket)));
    assert!(rx.is_ipv6(SocketId::Receiver(j6.socket)));

    // Both families sent from one dual-stack bind, looped back on the veth with `local`.
    let tx = open_probed("[::]:0", true, &["ff18::8300:1", "239.255.0.1"]);
    tx.send_to(b"four", sa(&format!("239.255.0.5:{port}")))
        .unwrap();
    tx.send_to(b"six", SocketAddr::new(group_v6(5), port))
        .unwrap();
    let mut got: Vec<(Vec<u8>, Option<IpAddr>, u32, SocketId)> = collect(&mut rx, QUIET)
        .into_iter()
        .map(|g| (g.payload, g.meta.dst, g.meta.ifindex, g.socket))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                b"four".to_vec(),
                Some(ip("239.255.0.5")),
                ifindex("sacn0"),
                SocketId::Receiver(j4.socket)
            ),
            (
                b"six".to_vec(),
                Some(group_v6(5)),
                ifindex("sacn0"),
                SocketId::Receiver(j6.socket)
            ),
        ]
    );
}

/// With dual-stack off (`v6only`), a `::` bind is IPv6 alone: no IPv4 groups, no IPv4 unicast,
/// and it does not hold IPv4's port.
#[test]
fn ipv6_only_bind_takes_no_ipv4() {
    veth();
    let mut spec =
        patchbay_net::BindSpec::new(sa("[::]:0"), false).with_route_probes([ip("ff18::8300:1")]);
    spec.dual_stack = false;
    let mut rx = patchbay_net::UdpEndpoint::open(spec).unwrap();
    let port = rx.local_addr().port();
    assert!(!rx.carries(false));
    assert!(rx.to_string().ends_with("IPv6 only"), "{rx}");
    let err = rx.join(ip("239.255.0.5")).unwrap_err();
    assert!(
        matches!(err, patchbay_net::JoinError::FamilyMismatch { .. }),
        "{err}"
    );
    // IPv4's port stays free for another program that does not share it.
    let v4 = std::net::UdpSocket::bind(format!("0.0.0.0:{port}")).unwrap();
    let tx = open("127.0.0.1:0", false);
    tx.send_to(b"v4", sa(&format!("127.0.0.1:{port}"))).unwrap();
    assert!(collect(&mut rx, QUIET).is_empty());
    v4.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 8];
    std::thread::sleep(QUIET);
    assert_eq!(v4.recv(&mut buf).unwrap(), 2);
}
