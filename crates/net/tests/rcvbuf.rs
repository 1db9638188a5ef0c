//! The receive buffer follows the queue (`patchbay_net::rcvbuf`): it shrinks while datagrams are
//! read only after waiting long, and grows back once they are read at once.
//!
//! Timing only pushes this test one way: a slow machine makes waits longer, which cannot stop the
//! shrink, and the growth needs just one prompt read per 100 ms interval.

use std::net::UdpSocket;
use std::thread::sleep;
use std::time::{Duration, Instant};

use patchbay_net::netns::require_private_netns;
use patchbay_net::rcvbuf::FLOOR;
use patchbay_net::{BindSpec, Endpoint, SocketId};

const ADDR: &str = "127.0.0.1:15902";

#[test]
fn receive_buffer_shrinks_on_a_standing_queue_and_grows_back() {
    require_private_netns();
    let mut ep = Endpoint::open(BindSpec::new(ADDR.parse().unwrap(), false)).unwrap();
    let full = ep.recv_buffer_size(SocketId::Main).unwrap();
    if full / 2 <= FLOOR {
        eprintln!("skipped: the kernel granted only {full} bytes (net.core.rmem_max)");
        return;
    }
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let payload = [0x55u8; 638];
    let mut buf = [0u8; 2048];

    // A standing queue: 30 datagrams ahead of the reader, one sent and one read per ms, so each
    // datagram read waited about 30 ms (longer if the machine is slow).
    for _ in 0..30 {
        tx.send_to(&payload, ADDR).unwrap();
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(400) {
        sleep(Duration::from_millis(1));
        tx.send_to(&payload, ADDR).unwrap();
        assert!(ep.recv(SocketId::Main, &mut buf).unwrap().is_some());
    }
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
