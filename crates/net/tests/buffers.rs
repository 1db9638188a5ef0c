//! Socket buffers: a burst of 1,000 universes sent at once must fit in the receive queue.
#![allow(clippy::unwrap_used)]

mod util;

use std::net::{IpAddr, Ipv4Addr};

use patchbay_net::{RecvBatch, SocketId};
use util::*;

fn sysctl(name: &str) -> usize {
    std::fs::read_to_string(format!("/proc/sys/net/core/{name}"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Linux reports twice the granted size; the request is 4 MiB, capped by the sysctl.
fn expected(max: usize) -> usize {
    2 * max.min(4 << 20)
}

#[test]
fn main_socket_asks_for_large_buffers() {
    guard();
    let ep = open("127.0.0.1:0", false);
    let (rcv, snd) = ep.buffer_sizes();
    assert_eq!(rcv, expected(sysctl("rmem_max")));
    assert_eq!(snd, expected(sysctl("wmem_max")));
}

#[test]
fn a_thousand_universe_burst_is_not_dropped() {
    guard();
    if sysctl("rmem_max") < 4 << 20 {
        eprintln!("skipped: net.core.rmem_max below 4 MiB, the burst cannot fit");
        return;
    }
    let mut rx = open("127.0.0.1:0", false);
    let tx = open("127.0.0.1:0", false);
    let dst = rx.local_addr();
    let payload = [0x5au8; 638];
    for i in 0..1000u16 {
        let mut p = payload;
        p[..2].copy_from_slice(&i.to_be_bytes());
        tx.send_to(&p, dst).unwrap();
    }
    let mut batch: RecvBatch<64, 1500> = RecvBatch::new();
    let mut seen = Vec::new();
    while rx.recv_batch(SocketId::Main, &mut batch).unwrap() > 0 {
        seen.extend(batch.iter().map(|(_, p)| u16::from_be_bytes([p[0], p[1]])));
    }
    assert_eq!(seen, (0..1000).collect::<Vec<_>>());
}

/// A group's socket holds one group: 1 MiB (capped by the sysctl) instead of the main socket's 4.
#[test]
fn group_sockets_ask_for_a_megabyte() {
    guard();
    let mut rx = open("0.0.0.0:0", false);
    rx.join(IpAddr::V4(Ipv4Addr::new(239, 255, 0, 1))).unwrap();
    let sock = rx.socket_mut(SocketId::Receiver(0)).unwrap();
    let rcv = socket2::SockRef::from(&*sock).recv_buffer_size().unwrap();
    assert_eq!(
        rcv,
        2 * sysctl("rmem_max").min(patchbay_net::GROUP_RECV_BUFFER)
    );
}

#[test]
fn batch_max_keeps_an_exact_budget() {
    guard();
    let mut rx = open("127.0.0.1:0", false);
    let tx = open("127.0.0.1:0", false);
    for i in 0..10u8 {
        tx.send_to(&[i; 4], rx.local_addr()).unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(20));
    let mut batch: RecvBatch<8, 64> = RecvBatch::new();
    assert_eq!(rx.recv_batch_max(SocketId::Main, &mut batch, 3).unwrap(), 3);
    let first: Vec<u8> = batch.iter().map(|(_, p)| p[0]).collect();
    assert_eq!(first, [0, 1, 2]);
    assert_eq!(rx.recv_batch(SocketId::Main, &mut batch).unwrap(), 7);
    let (meta, p) = batch.get(6).unwrap();
    assert_eq!((p, meta.src), (&[9u8; 4][..], tx.local_addr()));
    assert_eq!(meta.dst, Some(rx.local_addr().ip()));
    assert_eq!(rx.recv_batch_max(SocketId::Main, &mut batch, 0).unwrap(), 0);
    assert_eq!(rx.recv_batch(SocketId::Main, &mut batch).unwrap(), 0);
}

/// Every datagram carries the time the kernel queued it, so a reader can tell how far behind its
/// input it is.
#[test]
fn datagrams_carry_their_queueing_time() {
    guard();
    let mut rx = open("127.0.0.1:0", false);
    let tx = open("127.0.0.1:0", false);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    tx.send_to(&[1; 4], rx.local_addr()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(30));
    let mut batch: RecvBatch<8, 64> = RecvBatch::new();
    assert_eq!(rx.recv_batch(SocketId::Main, &mut batch).unwrap(), 1);
    let (meta, _) = batch.get(0).unwrap();
    let queued = meta.received.expect("SO_TIMESTAMPNS");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    assert!(queued >= before && now - queued >= std::time::Duration::from_millis(30));
}
