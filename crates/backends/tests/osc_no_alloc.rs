//! The osc backend's message path does not allocate once warm: a datagram read, parsed (a bare
//! message, a pattern address, a bundle), matched, mapped and reported, routed by the core to an
//! output path, built and sent, measured around whole turns of the real loop (the backend test
//! rig) on the loop's thread. The peer runs on a thread of its own (its allocations are not
//! counted) and sends the next datagram once patchbay's answer arrived. Opens sockets: private
//! network namespace only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use patchbay_backends::osc::Osc;
use patchbay_core::Direction;
use patchbay_core::testing::Rig;
use patchbay_osc::wire::{Arg, BundleWriter, Packet, TimeTag, write_message};

#[path = "../../sacn/tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

fn peer(
    sock: UdpSocket,
    to: std::net::SocketAddr,
    echoes: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 512];
    let mut rx = [0u8; 2048];
    let mut i = 0u32;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let v = (i % 200) as f32 / 200.0 + 0.001;
        let n = match i % 3 {
            0 => write_message(&mut buf, "/in/f", [Arg::Float(v)]).unwrap(),
            1 => write_message(&mut buf, "/in/[e-g]", [Arg::Float(v)]).unwrap(),
            _ => {
                let mut w = BundleWriter::new(&mut buf, TimeTag::IMMEDIATELY).unwrap();
                w.message("/in/f", [Arg::Float(v)]).unwrap();
                w.finish()
            }
        };
        sock.send_to(&buf[..n], to).unwrap();
        while let Ok(len) = sock.recv(&mut rx) {
            if let Ok(Packet::Message(m)) = Packet::parse(&rx[..len])
                && m.address() == "/out/g"
            {
                echoes.fetch_add(1, Ordering::SeqCst);
                break;
            }
            if stop.load(Ordering::SeqCst) {
                return;
            }
        }
    }
}

#[test]
fn receive_route_and_send_do_not_allocate_once_warm() {
    patchbay_net::netns::require_private_netns();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dest = sock.local_addr().unwrap().to_string().replace(':', " ");

    let mut rig = Rig::real_time(Osc::new());
    let a = rig.add_instance("a").unwrap();
    for (k, v) in [
        ("bind", "127.0.0.1 0"),
        ("dest", dest.as_str()),
        ("/out/*", "f 0.0 1.0"),
    ] {
        rig.configure_instance(a, k, v).unwrap();
    }
    for i in 0..100 {
        rig.channel(a, &format!("/in/other{i}"), Direction::Input)
            .unwrap();
    }
    let (from, _) = rig.channel(a, "/in/f", Direction::Input).unwrap();
    let (to, _) = rig.channel(a, "/out/g", Direction::Output).unwrap();
    rig.map(from, to);
    rig.start().unwrap();
    let addr = rig.backend().local_addr(a).unwrap();

    let echoes = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (e, s) = (Arc::clone(&echoes), Arc::clone(&stop));
        std::thread::spawn(move || peer(sock, addr, e, s))
    };
    let end = Instant::now() + Duration::from_secs(10);
    while echoes.load(Ordering::SeqCst) < 200 {
        rig.turn(Duration::from_millis(20)).unwrap();
        assert!(Instant::now() < end, "the path is not live");
    }
    // The counter must see allocations, or the zero below proves nothing.
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 10]))) > 0);
    let start = echoes.load(Ordering::SeqCst);
    let total = allocations_in(|| {
        for _ in 0..600 {
            rig.turn(Duration::from_millis(20)).unwrap();
        }
    });
    let flowed = echoes.load(Ordering::SeqCst) - start;
    stop.store(true, Ordering::SeqCst);
    let _ = thread.join();
    assert!(flowed >= 300, "messages flowed ({flowed})");
    assert_eq!(total, 0, "allocations on the message path");
}
