//! The receive buffer follows the queue (`patchbay_net::rcvbuf`): it shrinks while datagrams are
//! read only after waiting long, and grows back once they are read at once.
//!
//! Timing only pushes this test one way: a slow machine makes waits longer, which cannot stop the
//! shrink, and the growth needs just one prompt read per 100 ms interval.
#![allow(clippy::unwrap_used)]

use std::net::UdpSocket;
use std::thread::sleep;
use std::time::{Duration, Instant};

use patchbay_net::netns::require_private_netns;
use patchbay_net::rcvbuf::{FLOOR, STALE};
use patchbay_net::{BindSpec, RecvBatch, SocketId, UdpEndpoint};

const ADDR: &str = "127.0.0.1:15902";

/// An endpoint on `addr` and a sender, or `None` when the kernel grants too small a buffer for
/// the sizing to act (`net.core.rmem_max`).
fn endpoint(addr: &str) -> Option<(UdpEndpoint, UdpSocket)> {
    require_private_netns();
    let ep = UdpEndpoint::open(BindSpec::new(addr.parse().unwrap(), false)).unwrap();
    let full = ep.recv_buffer_size(SocketId::Main).unwrap();
    if full / 2 <= FLOOR {
        eprintln!("skipped: the kernel granted only {full} bytes (net.core.rmem_max)");
        return None;
    }
    Some((ep, UdpSocket::bind("127.0.0.1:0").unwrap()))
}

/// A standing queue: 30 datagrams ahead of the reader, one sent and one read per ms for 400 ms,
/// so each datagram read waited about 30 ms (longer if the machine is slow).
fn stand(ep: &mut UdpEndpoint, tx: &UdpSocket, addr: &str) {
    let payload = [0x55u8; 638];
    let mut buf = [0u8; 2048];
    for _ in 0..30 {
        tx.send_to(&payload, addr).unwrap();
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(400) {
        sleep(Duration::from_millis(1));
        tx.send_to(&payload, addr).unwrap();
        assert!(ep.recv(SocketId::Main, &mut buf).unwrap().is_some());
    }
}

#[test]
fn receive_buffer_shrinks_on_a_standing_queue_and_grows_back() {
    let Some((mut ep, tx)) = endpoint(ADDR) else {
        return;
    };
    let full = ep.recv_buffer_size(SocketId::Main).unwrap();
    let payload = [0x55u8; 638];
    let mut buf = [0u8; 2048];
    stand(&mut ep, &tx, ADDR);
    let shrunk = ep.recv_buffer_size(SocketId::Main).unwrap();
    assert!(
        shrunk < full,
        "a queue standing at 30 ms for 400 ms shrinks the buffer ({shrunk} of {full} bytes)"
    );
    assert!(ep.rcvbuf_shrinks() >= 1);
    assert!(shrunk / 2 >= FLOOR, "never below the floor: {shrunk}");

    // Caught up: everything queued is read, then each datagram as it arrives.
    while ep.recv(SocketId::Main, &mut buf).unwrap().is_some() {}
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5)
        && ep.recv_buffer_size(SocketId::Main).unwrap() < full
    {
        tx.send_to(&payload, ADDR).unwrap();
        while ep.recv(SocketId::Main, &mut buf).unwrap().is_some() {}
        sleep(Duration::from_millis(1));
    }
    let grown = ep.recv_buffer_size(SocketId::Main).unwrap();
    assert_eq!(
        grown, full,
        "back at the full size once the queue is gone (5 s given)"
    );
}

/// While a queue stands, input that waited longer than `STALE` is marked stale; input that
/// did not is not, and nothing is marked while the reader keeps up.
#[test]
fn input_that_waited_too_long_in_a_standing_queue_is_marked_stale() {
    const STALE_ADDR: &str = "127.0.0.1:15904";
    let Some((mut ep, tx)) = endpoint(STALE_ADDR) else {
        return;
    };
    let mut batch = RecvBatch::<16, 2048>::new();
    let mut read = |ep: &mut UdpEndpoint| {
        let mut got = Vec::new();
        while ep.recv_batch(SocketId::Main, &mut batch).unwrap() > 0 {
            got.extend(batch.iter().map(|(m, p)| (m.stale, p[0])));
        }
        got
    };
    // Keeping up: a datagram that waited long is not stale.
    tx.send_to(&[1; 638], STALE_ADDR).unwrap();
    sleep(STALE + Duration::from_millis(50));
    assert_eq!(read(&mut ep), [(false, 1)]);

    stand(&mut ep, &tx, STALE_ADDR);
    read(&mut ep);
    for k in 0..100u8 {
        tx.send_to(&[k; 638], STALE_ADDR).unwrap();
    }
    // Not much longer: each 100 ms without a read counts as keeping up and grows the buffer
    // back towards its maximum, where nothing is stale.
    sleep(STALE + Duration::from_millis(10));
    for k in 0..20u8 {
        tx.send_to(&[200 + k; 638], STALE_ADDR).unwrap();
    }
    let got = read(&mut ep);
    assert_eq!(got.len(), 120, "stale input is marked, not dropped");
    assert!(got.iter().all(|&(stale, k)| stale == (k < 200)), "{got:?}");
}
