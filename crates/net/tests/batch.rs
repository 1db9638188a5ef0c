//! `UdpEndpoint::recv_batch` (recvmmsg) against the same expectations as the one-by-one path.
#![allow(clippy::unwrap_used)]

mod util;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use patchbay_net::{DestKind, RecvBatch, SocketId, UdpEndpoint};
use util::*;

type Batch = RecvBatch<16, 1500>;

fn g4(u: u16) -> IpAddr {
    let [hi, lo] = u.to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(239, 255, hi, lo))
}

/// Everything `recv_batch` returns from all sockets until quiet: (socket, meta, payload).
fn collect_batched(
    ep: &mut UdpEndpoint,
    batch: &mut Batch,
) -> Vec<(SocketId, patchbay_net::RecvMeta, Vec<u8>)> {
    let mut out = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < QUIET {
        let mut any = false;
        for id in ep.socket_ids().collect::<Vec<_>>() {
            while ep.recv_batch(id, batch).unwrap() > 0 {
                assert!(batch.len() <= 16);
                out.extend(batch.iter().map(|(m, p)| (id, *m, p.to_vec())));
                any = true;
            }
        }
        if any {
            last = Instant::now();
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    out
}

#[test]
fn batched_multicast_arrives_once_with_metadata() {
    guard();
    let mut rx = open("0.0.0.0:0", false);
    for u in 1..=60 {
        rx.join(g4(u)).unwrap();
    }
    assert_eq!(rx.memberships().len(), 60);
    let src = rx.interface().unwrap().addr;
    let tx = open(&format!("{src}:0"), true);
    let port = rx.local_addr().port();
    // 5 rounds of 60 groups: 300 datagrams, several full batches per socket.
    for round in 0..5u8 {
        for u in 1..=60u16 {
            let mut payload = vec![round; 100 + usize::from(u)];
            payload[..2].copy_from_slice(&u.to_be_bytes());
            tx.send_to(&payload, SocketAddr::new(g4(u), port)).unwrap();
        }
    }
    let mut batch = Batch::new();
    let got = collect_batched(&mut rx, &mut batch);
    assert_eq!(got.len(), 300);
    let mut seen = [[0u8; 5]; 61];
    for (id, meta, payload) in &got {
        let u = u16::from_be_bytes([payload[0], payload[1]]);
        assert_eq!(meta.len, 100 + usize::from(u));
        assert_eq!(payload.len(), meta.len);
        assert_eq!(meta.kind, DestKind::Multicast);
        assert_eq!(meta.dst, Some(g4(u)));
        assert_eq!(meta.src, tx.local_addr());
        assert_eq!(
            *id,
            SocketId::Receiver(rx.memberships().socket_of(g4(u)).unwrap())
        );
        seen[usize::from(u)][usize::from(payload[2])] += 1;
    }
    assert!(
        seen[1..].iter().all(|r| r.iter().all(|&c| c == 1)),
        "{seen:?}"
    );
}

#[test]
fn batched_broadcast_arrives_once_on_the_main_socket() {
    guard();
    let mut rx = open("0.0.0.0:0", false);
    for u in 1..=25 {
        rx.join(g4(u)).unwrap();
    }
    let tx = open("0.0.0.0:0", false);
    for _ in 0..3 {
        tx.send_to(
            b"bc",
            sa(&format!("255.255.255.255:{}", rx.local_addr().port())),
        )
        .unwrap();
    }
    let mut batch = Batch::new();
    let got = collect_batched(&mut rx, &mut batch);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got.iter()
            .all(|(id, m, _)| *id == SocketId::Main && m.kind == DestKind::Broadcast)
    );
}

/// One batch reused for an IPv4 and then an IPv6 receive socket still reports destinations (the
/// kernel shrinks each slot's control length to what the last datagram used).
#[test]
fn one_batch_serves_both_families() {
    veth();
    let mut batch = Batch::new();
    let group6 = IpAddr::V6(Ipv6Addr::new(0xff18, 0, 0, 0, 0, 0, 0x8300, 7));
    let mut rx4 = open("198.18.0.1:0", false);
    let mut rx6 = open("[2001:db8:5ac::1]:0", false);
    rx4.join(g4(7)).unwrap();
    rx6.join(group6).unwrap();
    let tx4 = open("198.18.0.1:0", true);
    let tx6 = open("[2001:db8:5ac::1]:0", true);
    for round in 0..3 {
        tx4.send_to(b"4", SocketAddr::new(g4(7), rx4.local_addr().port()))
            .unwrap();
        tx6.send_to(b"6", SocketAddr::new(group6, rx6.local_addr().port()))
            .unwrap();
        let a = collect_batched(&mut rx4, &mut batch);
        let b = collect_batched(&mut rx6, &mut batch);
        assert_eq!(a.len(), 1, "round {round}");
        assert_eq!(b.len(), 1, "round {round}");
        assert_eq!(a[0].1.dst, Some(g4(7)));
        assert_eq!(b[0].1.dst, Some(group6));
        assert_eq!(b[0].1.ifindex, ifindex("sacn0"));
    }
}

/// The dual-stack main socket mixes families, which the one-by-one fill handles.
#[test]
fn batched_main_socket_mixes_families() {
    veth();
    let mut rx = open("[::]:0", false);
    let port = rx.local_addr().port();
    let tx4 = open("127.0.0.1:0", false);
    let tx6 = open("[2001:db8:5ac::2]:0", false);
    for _ in 0..4 {
        tx4.send_to(b"4", sa(&format!("127.0.0.1:{port}"))).unwrap();
        tx6.send_to(b"6", sa(&format!("[2001:db8:5ac::1]:{port}")))
            .unwrap();
    }
    let mut batch = Batch::new();
    let got = collect_batched(&mut rx, &mut batch);
    assert_eq!(got.len(), 8);
    for (id, m, p) in got {
        assert_eq!(id, SocketId::Main);
        assert_eq!(m.kind, DestKind::Unicast);
        match p.as_slice() {
            b"4" => assert_eq!((m.src, m.dst), (tx4.local_addr(), Some(ip("127.0.0.1")))),
            b"6" => assert_eq!(
                (m.src, m.dst),
                (tx6.local_addr(), Some(ip("2001:db8:5ac::1")))
            ),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// Once a receive socket has overflowed, every datagram after it reports the drop count, which
/// needs more control space than the datagrams before. Batch reads must still deliver packet
/// info then (nix reuses `recvmmsg` headers shrunk by the kernel), or every datagram after the
/// first kernel drop would arrive without its destination and timestamp, for good.
#[test]
fn batched_multicast_keeps_arriving_after_the_receive_buffer_overflowed() {
    guard();
    let mut rx = open("0.0.0.0:0", false);
    rx.join(g4(1)).unwrap();
    let src = rx.interface().unwrap().addr;
    let tx = open(&format!("{src}:0"), true);
    let to = SocketAddr::new(g4(1), rx.local_addr().port());
    let mut batch = Batch::new();
    // Before the overflow: the batch headers learn the control space of drop-free datagrams.
    for _ in 0..20 {
        tx.send_to(&[0u8; 1400], to).unwrap();
    }
    assert_eq!(collect_batched(&mut rx, &mut batch).len(), 20);
    // 8,000 x 1,400 bytes overflow any receive buffer the kernel grants.
    for _ in 0..8000 {
        let _ = tx.send_to(&[1u8; 1400], to);
    }
    let flooded = collect_batched(&mut rx, &mut batch);
    assert!(flooded.len() < 8000, "nothing dropped?");
    // The drop count travels with the datagrams queued after the drops. The first batch that
    // carries it is truncated and loses its metadata (the headers are remade after it); its
    // datagram is still delivered.
    for round in 2..6u8 {
        tx.send_to(&[round; 1400], to).unwrap();
        let got = collect_batched(&mut rx, &mut batch);
        assert_eq!(got.len(), 1, "round {round}: the datagram was read");
        let (_, meta, payload) = &got[0];
        assert_eq!(payload[0], round);
        if round > 2 {
            assert_eq!(meta.kind, DestKind::Multicast, "round {round}: {meta:?}");
            assert_eq!(meta.dst, Some(g4(1)));
            assert!(meta.received.is_some());
            assert!(
                meta.waited
                    .is_some_and(|w| w < std::time::Duration::from_secs(5))
            );
        }
    }
    assert!(rx.kernel_drops() > 0);
    assert_eq!(
        u64::try_from(20 + 8000 + 4).unwrap(),
        u64::try_from(20 + flooded.len() + 4).unwrap() + rx.kernel_drops(),
        "every datagram is read or counted"
    );
}
