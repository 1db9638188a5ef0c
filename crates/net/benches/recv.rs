//! Receive cost per datagram: `recv` (one `recvmsg` each) against `recv_batch` (`recvmmsg`).
//! Opens sockets, so run it in a private namespace:
//! `scripts/netns-run cargo bench -p patchbay-net --bench recv -- --sample-count 20`.
#![allow(clippy::unwrap_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use divan::Bencher;
use patchbay_net::{BindSpec, RecvBatch, SocketId, UdpEndpoint};

const PER_ITER: usize = 64;
const GROUP: IpAddr = IpAddr::V4(Ipv4Addr::new(239, 255, 0, 1));

fn main() {
    patchbay_net::netns::require_private_netns();
    divan::main();
}

fn setup() -> (UdpEndpoint, UdpEndpoint, SocketAddr) {
    let mut rx = UdpEndpoint::open(BindSpec::new("127.0.0.1:0".parse().unwrap(), false)).unwrap();
    rx.join(GROUP).unwrap();
    let tx = UdpEndpoint::open(BindSpec::new("127.0.0.1:0".parse().unwrap(), false)).unwrap();
    let dst = SocketAddr::new(GROUP, rx.local_addr().port());
    (rx, tx, dst)
}

fn send_all(tx: &UdpEndpoint, dst: SocketAddr) {
    let packet = [0u8; 638];
    for _ in 0..PER_ITER {
        tx.send_to(&packet, dst).unwrap();
    }
}

/// Baseline: sending alone, to a group nobody joined (the kernel drops it after the loopback).
#[divan::bench]
fn send_only(b: Bencher<'_, '_>) {
    let (_rx, tx, dst) = setup();
    let unjoined = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(239, 255, 0, 2)), dst.port());
    b.counter(divan::counter::ItemsCount::new(PER_ITER))
        .bench_local(|| send_all(&tx, unjoined));
}

#[divan::bench]
fn send_and_recv_one_by_one(b: Bencher<'_, '_>) {
    let (mut rx, tx, dst) = setup();
    let mut buf = [0u8; 1500];
    b.counter(divan::counter::ItemsCount::new(PER_ITER))
        .bench_local(|| {
            send_all(&tx, dst);
            let mut n = 0;
            while rx.recv(SocketId::Receiver(0), &mut buf).unwrap().is_some() {
                n += 1;
            }
            assert_eq!(n, PER_ITER);
        });
}

#[divan::bench]
fn send_and_recv_batched_32(b: Bencher<'_, '_>) {
    let (mut rx, tx, dst) = setup();
    let mut batch = RecvBatch::<32, 1500>::new();
    b.counter(divan::counter::ItemsCount::new(PER_ITER))
        .bench_local(|| {
            send_all(&tx, dst);
            let mut n = 0;
            loop {
                let got = rx.recv_batch(SocketId::Receiver(0), &mut batch).unwrap();
                if got == 0 {
                    break;
                }
                n += got;
            }
            assert_eq!(n, PER_ITER);
        });
}
