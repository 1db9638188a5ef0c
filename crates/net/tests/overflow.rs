//! A full receive buffer is not silent: `SO_RXQ_OVFL` reports how many datagrams the kernel
//! dropped, and the endpoint sums it.

use std::net::UdpSocket;

use patchbay_net::netns::require_private_netns;
use patchbay_net::{BindSpec, DestKind, SocketId, UdpEndpoint};

#[test]
fn kernel_drops_of_a_full_receive_buffer_are_counted() {
    require_private_netns();
    let mut ep =
        UdpEndpoint::open(BindSpec::new("127.0.0.1:15901".parse().unwrap(), false)).unwrap();
    assert_eq!(ep.kernel_drops(), 0);
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    // 8,000 × 1,400 bytes is far more than the 4 MiB (or rmem_max) receive buffer.
    let payload = [0x55u8; 1400];
    let mut sent = 0u64;
    for _ in 0..8000 {
        if tx.send_to(&payload, "127.0.0.1:15901").is_ok() {
            sent += 1;
        }
    }
    let mut buf = [0u8; 2048];
    let mut read = 0u64;
    while ep.recv(SocketId::Main, &mut buf).unwrap().is_some() {
        read += 1;
    }
    // The count travels with the next datagram queued after the drops.
    tx.send_to(&payload, "127.0.0.1:15901").unwrap();
    sent += 1;
    assert!(ep.recv(SocketId::Main, &mut buf).unwrap().is_some());
    read += 1;
    let drops = ep.kernel_drops();
    assert!(drops > 0, "nothing dropped? read {read} of {sent}");
    assert_eq!(read + drops, sent, "every datagram is read or counted");
}

#[test]
fn kernel_drops_are_counted_when_reading_in_batches() {
    require_private_netns();
    let mut ep =
        UdpEndpoint::open(BindSpec::new("127.0.0.1:15903".parse().unwrap(), false)).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let payload = [0x55u8; 1400];
    let mut sent = 0u64;
    for _ in 0..8000 {
        if tx.send_to(&payload, "127.0.0.1:15903").is_ok() {
            sent += 1;
        }
    }
    let mut batch = patchbay_net::RecvBatch::<32, 2048>::new();
    let mut read = 0u64;
    loop {
        let n = ep.recv_batch(SocketId::Main, &mut batch).unwrap();
        if n == 0 {
            break;
        }
        read += n as u64;
    }
    // The count travels with the datagrams queued after the drops. The first batch read after a
    // socket's first drop loses its control data (see `RecvBatch`); the next ones have it all.
    for _ in 0..2 {
        tx.send_to(&payload, "127.0.0.1:15903").unwrap();
        sent += 1;
        assert_eq!(ep.recv_batch(SocketId::Main, &mut batch).unwrap(), 1);
        read += 1;
    }
    let (meta, _) = batch.get(0).unwrap();
    assert_eq!(
        meta.kind,
        DestKind::Unicast,
        "packet info is back: {meta:?}"
    );
    assert!(meta.received.is_some(), "the timestamp is back: {meta:?}");
    let drops = ep.kernel_drops();
    assert!(drops > 0, "nothing dropped? read {read} of {sent}");
    assert_eq!(read + drops, sent, "every datagram is read or counted");
}
