//! Real-socket tests of the Linux multicast behaviour `patchbay-net` relies on. They must run inside
//! a private network namespace (`scripts/test`, or `scripts/netns-run --veth cargo test -p
//! patchbay-net`); outside one they fail with the guard's message.
#![allow(clippy::unwrap_used)]

mod util;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use patchbay_net::{DestKind, JoinError, SocketId, UdpEndpoint};
use socket2::{Domain, Protocol, Socket, Type};
use util::*;

const G1: &str = "239.255.0.1";

fn group_v4(universe: u16) -> IpAddr {
    let [hi, lo] = universe.to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(239, 255, hi, lo))
}

fn to(group: IpAddr, ep: &UdpEndpoint) -> SocketAddr {
    SocketAddr::new(group, ep.local_addr().port())
}

/// A plain wildcard socket on `port` with Linux defaults (IP_MULTICAST_ALL on), joined to nothing.
fn default_wildcard_socket(port: u16) -> std::net::UdpSocket {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    s.set_reuse_address(true).unwrap();
    s.set_nonblocking(true).unwrap();
    s.bind(&sa(&format!("0.0.0.0:{port}")).into()).unwrap();
    s.into()
}

fn drain_std(s: &std::net::UdpSocket) -> usize {
    let mut n = 0;
    let mut buf = [0u8; 2048];
    let start = std::time::Instant::now();
    while start.elapsed() < QUIET {
        match s.recv_from(&mut buf) {
            Ok(_) => n += 1,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    }
    n
}

#[test]
fn multicast_on_lo_arrives_once_with_destination_info() {
    guard();
    let mut rx = open("127.0.0.1:0", false);
    assert_eq!(rx.interface().unwrap().name, "lo");
    let joined = rx.join(ip(G1)).unwrap();
    assert!(joined.new_socket && !joined.already);
    assert_eq!(joined.socket, 0);
    assert!(rx.join(ip(G1)).unwrap().already);

    let tx = open("127.0.0.1:0", false);
    assert_eq!(tx.send_to(b"hello", to(ip(G1), &rx)).unwrap(), 5);
    let got = collect(&mut rx, QUIET);
    assert_eq!(got.len(), 1, "{got:?}");
    let g = &got[0];
    assert_eq!(g.socket, SocketId::Receiver(0));
    assert_eq!(g.payload, b"hello");
    assert_eq!(g.meta.kind, DestKind::Multicast);
    assert_eq!(g.meta.dst, Some(ip(G1)));
    assert_eq!(
        g.meta.src,
        tx.local_addr(),
        "source address is the bound address"
    );
    assert_eq!(g.meta.ifindex, ifindex("lo"));
    assert!(!g.meta.truncated);

    // After leaving, nothing arrives.
    assert!(rx.leave(ip(G1)).unwrap());
    assert!(!rx.leave(ip(G1)).unwrap());
    tx.send_to(b"again", to(ip(G1), &rx)).unwrap();
    assert!(collect(&mut rx, QUIET).is_empty());
}

/// Linux fact: the loopback device loops multicast itself, so IP_MULTICAST_LOOP (`local`) makes no
/// difference for traffic sent out of `lo`.
#[test]
fn lo_delivers_locally_even_without_local_flag() {
    guard();
    let mut rx = open("127.0.0.1:0", false);
    rx.join(ip(G1)).unwrap();
    for local in [false, true] {
        let tx = open("127.0.0.1:0", local);
        tx.send_to(b"x", to(ip(G1), &rx)).unwrap();
        assert_eq!(collect(&mut rx, QUIET).len(), 1, "local={local}");
    }
}

/// On a real interface, `local` decides whether this host's own receivers see the output.
#[test]
fn local_flag_controls_loopback_on_a_real_interface() {
    veth();
    let mut rx = open("198.18.0.1:0", false);
    assert_eq!(rx.interface().unwrap().name, "sacn0");
    rx.join(ip(G1)).unwrap();
    let quiet_tx = open("198.18.0.1:0", false);
    quiet_tx.send_to(b"off", to(ip(G1), &rx)).unwrap();
    assert!(
        collect(&mut rx, QUIET).is_empty(),
        "loopback must be off without `local`"
    );
    let loud_tx = open("198.18.0.1:0", true);
    loud_tx.send_to(b"on", to(ip(G1), &rx)).unwrap();
    let got = collect(&mut rx, QUIET);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, b"on");
    assert_eq!(got[0].meta.ifindex, ifindex("sacn0"));
}

/// A bind to a specific address receives the group joined on its interface and not the same group
/// arriving on another interface, although both binds have a socket on the same group and port. A socket
/// with Linux's default IP_MULTICAST_ALL=1 shows why that option must be off: it gets both copies
/// without having joined anything.
#[test]
fn specific_bind_receives_only_its_own_interface() {
    veth();
    let mut on_veth = open("198.18.0.1:0", false);
    let port = on_veth.local_addr().port();
    let mut on_lo = open(&format!("127.0.0.1:{port}"), false);
    let promiscuous = default_wildcard_socket(port);
    assert_eq!(on_veth.interface().unwrap().name, "sacn0");
    assert_eq!(on_lo.interface().unwrap().name, "lo");
    on_veth.join(ip(G1)).unwrap();
    on_lo.join(ip(G1)).unwrap();

    // Out of lo: arrives on lo only.
    let via_lo = open("127.0.0.1:0", false);
    via_lo
        .send_to(b"lo", SocketAddr::new(ip(G1), port))
        .unwrap();
    let got = collect(&mut on_lo, QUIET);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].payload.as_slice(), got[0].meta.ifindex),
        (&b"lo"[..], ifindex("lo"))
    );
    assert!(
        collect(&mut on_veth, QUIET).is_empty(),
        "lo traffic leaked to the sacn0 bind"
    );

    // Out of sacn0 (looped back locally): arrives on sacn0 only.
    let via_veth = open("198.18.0.1:0", true);
    via_veth
        .send_to(b"veth", SocketAddr::new(ip(G1), port))
        .unwrap();
    let got = collect(&mut on_veth, QUIET);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, b"veth");
    assert_eq!(got[0].meta.ifindex, ifindex("sacn0"));
    assert!(
        collect(&mut on_lo, QUIET).is_empty(),
        "sacn0 traffic leaked to the lo bind"
    );

    assert_eq!(
        drain_std(&promiscuous),
        2,
        "control: IP_MULTICAST_ALL=1 sees every joined group"
    );
}

/// 1,000 groups: one socket each, bound to its group, and a packet to every group arrives
/// exactly once, on the socket of its group.
#[test]
fn thousand_groups_each_received_exactly_once() {
    guard();
    let mut rx = open_probed("0.0.0.0:0", false, &[G1]);
    for u in 1..=1000u16 {
        let j = rx.join(group_v4(u)).unwrap();
        assert!(j.new_socket && !j.already);
    }
    let groups = rx.memberships();
    assert_eq!((groups.group_count(), groups.len()), (1000, 1000));

    // Sent from the interface address with `local`, so it also works when that is a veth.
    let src = rx.interface().unwrap().addr;
    let tx = open(&format!("{src}:0"), true);
    let mut seen = vec![0u32; 1001];
    // Batches stay below the per-CPU backlog (net.core.netdev_max_backlog = 1000) of looped packets.
    for batch in (1..=1000u16).collect::<Vec<_>>().chunks(100) {
        for &u in batch {
            tx.send_to(&u.to_be_bytes(), to(group_v4(u), &rx)).unwrap();
        }
        for g in collect(&mut rx, std::time::Duration::from_millis(50)) {
            let u = u16::from_be_bytes([g.payload[0], g.payload[1]]);
            assert_eq!(g.meta.dst, Some(group_v4(u)));
            let SocketId::Receiver(i) = g.socket else {
                panic!("multicast on the main socket: {g:?}")
            };
            assert_eq!(rx.memberships().group_of(i), Some(group_v4(u)));
            seen[usize::from(u)] += 1;
        }
    }
    let wrong: Vec<_> = (1..=1000)
        .filter(|&u| seen[u] != 1)
        .map(|u| (u, seen[u]))
        .collect();
    assert!(
        wrong.is_empty(),
        "universes not received exactly once: {wrong:?}"
    );
}

/// Linux fact behind the layout: a socket bound to a group's address receives that group, joined
/// on it, and nothing else: not another group it did not join (even one a neighbour joined),
/// not unicast, not broadcast.
#[test]
fn group_bound_socket_receives_only_its_group() {
    guard();
    let mut rx = open("127.0.0.1:0", false);
    let port = rx.local_addr().port();
    rx.join(ip(G1)).unwrap();
    rx.join(ip("239.255.0.2")).unwrap();
    let tx = open("127.0.0.1:0", false);
    for (payload, dst) in [
        (&b"g1"[..], format!("{G1}:{port}")),
        (b"g2", format!("239.255.0.2:{port}")),
        (b"g3", format!("239.255.0.3:{port}")),
        (b"uni", format!("127.0.0.1:{port}")),
        (b"bc", format!("255.255.255.255:{port}")),
    ] {
        tx.send_to(payload, sa(&dst)).unwrap();
    }
    let mut got: Vec<(SocketId, Vec<u8>)> = collect(&mut rx, QUIET)
        .into_iter()
        .map(|g| (g.socket, g.payload))
        .collect();
    got.sort();
    let g1 = rx.memberships().socket_of(ip(G1)).unwrap();
    let g2 = rx.memberships().socket_of(ip("239.255.0.2")).unwrap();
    let mut want = vec![
        (SocketId::Main, b"uni".to_vec()),
        (SocketId::Receiver(g1), b"g1".to_vec()),
        (SocketId::Receiver(g2), b"g2".to_vec()),
    ];
    want.sort();
    assert_eq!(got, want, "broadcast reaches no socket of a specific bind");
}

/// A bind that joins nothing (all its instances `unicast`) sees none of the groups another socket on
/// the same port joined, but does get unicast; group sockets never get unicast.
#[test]
fn unicast_only_bind_sees_no_foreign_multicast() {
    guard();
    let mut unicast_only = open("0.0.0.0:0", false);
    let port = unicast_only.local_addr().port();
    let mut member = open(&format!("127.0.0.1:{port}"), false);
    member.join(ip(G1)).unwrap();
    let tx = open("127.0.0.1:0", false);
    tx.send_to(b"m", SocketAddr::new(ip(G1), port)).unwrap();
    assert_eq!(collect(&mut member, QUIET).len(), 1);
    assert!(collect(&mut unicast_only, QUIET).is_empty());

    // Unicast to 127.0.0.2: `member` is bound to 127.0.0.1, and its group socket to the group,
    // so only the wildcard bind matches.
    tx.send_to(b"u", sa(&format!("127.0.0.2:{port}"))).unwrap();
    assert!(collect(&mut member, QUIET).is_empty());
    let got = collect(&mut unicast_only, QUIET);
    assert_eq!(got.len(), 1, "{got:?}");
    let g = &got[0];
    assert_eq!(g.socket, SocketId::Main);
    assert_eq!(
        (g.meta.kind, g.meta.dst),
        (DestKind::Unicast, Some(ip("127.0.0.2")))
    );
}

/// Unicast to a specific bind goes to its main socket, with the destination reported.
#[test]
fn unicast_to_specific_bind_is_reported_as_unicast() {
    guard();
    let mut rx = open("127.0.0.1:0", false);
    rx.join(ip(G1)).unwrap();
    let tx = open("127.0.0.1:0", false);
    tx.send_to(b"direct", rx.local_addr()).unwrap();
    let got = collect(&mut rx, QUIET);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].socket, SocketId::Main);
    assert_eq!(got[0].meta.kind, DestKind::Unicast);
    assert_eq!(got[0].meta.dst, Some(ip("127.0.0.1")));
    assert_eq!(got[0].meta.src, tx.local_addr());
}

/// A broadcast reaches a wildcard bind's main socket once, however many groups it joined.
#[test]
fn broadcast_is_read_once_on_the_main_socket() {
    guard();
    let mut rx = open_probed("0.0.0.0:0", false, &[G1]);
    for u in 1..=30 {
        rx.join(group_v4(u)).unwrap();
    }
    let tx = open("0.0.0.0:0", false);
    tx.send_to(
        b"bc",
        sa(&format!("255.255.255.255:{}", rx.local_addr().port())),
    )
    .unwrap();
    let got = collect(&mut rx, QUIET);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].socket, SocketId::Main);
    assert_eq!(got[0].meta.kind, DestKind::Broadcast);
    assert_eq!(got[0].meta.dst, Some(ip("255.255.255.255")));
}

#[test]
fn join_rejects_non_groups_and_other_families() {
    guard();
    let mut rx = open("127.0.0.1:0", false);
    assert!(matches!(
        rx.join(ip("10.0.0.1")),
        Err(JoinError::NotMulticast { .. })
    ));
    let err = rx.join(ip("ff18::8300:1")).unwrap_err();
    assert!(matches!(err, JoinError::FamilyMismatch { .. }), "{err}");
    assert!(err.to_string().contains("ff18::8300:1"), "{err}");
}

#[test]
fn mio_sees_readiness_on_receive_sockets() {
    guard();
    let mut rx = open("127.0.0.1:0", false);
    let mut poll = mio::Poll::new().unwrap();
    let mut events = mio::Events::with_capacity(8);
    let main = rx.socket_mut(SocketId::Main).unwrap();
    poll.registry()
        .register(main, mio::Token(0), mio::Interest::READABLE)
        .unwrap();
    let j = rx.join(ip(G1)).unwrap();
    assert!(j.new_socket);
    let recv = rx.socket_mut(SocketId::Receiver(j.socket)).unwrap();
    poll.registry()
        .register(recv, mio::Token(1), mio::Interest::READABLE)
        .unwrap();
    let tx = open("127.0.0.1:0", false);
    tx.send_to(b"m", to(ip(G1), &rx)).unwrap();
    poll.poll(&mut events, Some(std::time::Duration::from_secs(2)))
        .unwrap();
    let tokens: Vec<_> = events.iter().map(|e| e.token()).collect();
    assert_eq!(tokens, vec![mio::Token(1)]);
    let mut buf = [0u8; 64];
    assert!(rx.recv(SocketId::Receiver(0), &mut buf).unwrap().is_some());
    assert!(rx.recv(SocketId::Receiver(0), &mut buf).unwrap().is_none());
}

#[test]
fn wildcard_bind_names_its_default_interface() {
    guard();
    let rx = open_probed("0.0.0.0:0", false, &[G1]);
    let iface = rx.interface().unwrap();
    let expected = if has_veth() { "sacn0" } else { "lo" };
    assert_eq!(iface.name, expected);
    let shown = rx.to_string();
    assert!(shown.contains("default route for 239.255.0.1"), "{shown}");
    assert!(shown.contains(expected), "{shown}");
}

/// Without a probe, a wildcard bind's interface is the route of the first group it joins.
#[test]
fn wildcard_bind_without_probe_takes_the_route_of_its_first_group() {
    guard();
    let mut rx = open("0.0.0.0:0", false);
    assert!(rx.interface().is_err());
    assert!(!rx.to_string().contains("multicast"), "{rx}");
    rx.join(group_v4(7)).unwrap();
    assert!(
        rx.to_string().contains("default route for 239.255.0.7"),
        "{rx}"
    );
    let iface = rx.interface().unwrap();
    assert_eq!(iface.name, if has_veth() { "sacn0" } else { "lo" });
    assert_eq!(
        iface.chosen,
        patchbay_net::Chosen::DefaultRoute { probe: group_v4(7) }
    );
}

/// An interface named in the configuration wins over the route.
#[test]
fn named_interface_is_used_for_joins() {
    guard();
    let mut spec = patchbay_net::BindSpec::new(sa("0.0.0.0:0"), false).with_route_probes([ip(G1)]);
    spec.interface = Some("lo".into());
    let mut rx = UdpEndpoint::open(spec).unwrap();
    assert_eq!(rx.interface().unwrap().name, "lo");
    assert_eq!(rx.interface().unwrap().chosen, patchbay_net::Chosen::Named);
    rx.join(ip(G1)).unwrap();
    let tx = open("127.0.0.1:0", false);
    tx.send_to(b"x", to(ip(G1), &rx)).unwrap();
    assert_eq!(collect(&mut rx, QUIET).len(), 1);

    let mut spec = patchbay_net::BindSpec::new(sa("0.0.0.0:0"), false);
    spec.interface = Some("nosuch0".into());
    let err = UdpEndpoint::open(spec).err().unwrap().to_string();
    assert!(
        err.contains("there is no interface named 'nosuch0'"),
        "{err}"
    );
}

/// Linux fact behind the receive sockets: a socket bound to a unicast address gets no multicast, even
/// when it joined the group itself on the right interface.
#[test]
fn socket_bound_to_unicast_address_gets_no_multicast() {
    veth();
    let bound = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    bound.set_reuse_address(true).unwrap();
    bound.set_nonblocking(true).unwrap();
    bound.bind(&sa("198.18.0.1:0").into()).unwrap();
    let port = bound.local_addr().unwrap().as_socket().unwrap().port();
    bound
        .join_multicast_v4_n(
            &Ipv4Addr::new(239, 255, 0, 1),
            &socket2::InterfaceIndexOrAddress::Index(ifindex("sacn0")),
        )
        .unwrap();
    let bound: std::net::UdpSocket = bound.into();
    let mut ep = open(&format!("198.18.0.1:{port}"), false);
    ep.join(ip(G1)).unwrap();
    let tx = open("198.18.0.1:0", true);
    tx.send_to(b"m", SocketAddr::new(ip(G1), port)).unwrap();
    assert_eq!(
        collect(&mut ep, QUIET).len(),
        1,
        "control: the group-bound receive socket gets it"
    );
    assert_eq!(drain_std(&bound), 0);
}
