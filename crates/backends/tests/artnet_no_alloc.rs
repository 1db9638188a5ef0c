//! The Art-Net backend's hot path does not allocate: an ArtDmx read, merged and turned into
//! events (wide channels) and a frame (8-bit slot-for-slot channels), routed by the core, values
//! and frame copies applied and an ArtDmx sent, once warm; measured around whole turns of the
//! real loop (the backend test rig). Opens sockets: private network namespace only.
#![allow(clippy::unwrap_used)]

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use patchbay_artnet::{DmxHeader, Packet, PortAddress, write_dmx};
use patchbay_backends::artnet::Artnet;
use patchbay_core::Direction;
use patchbay_core::testing::Rig;

#[path = "../../sacn/tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

fn packet(seq: u8, level: u8) -> Vec<u8> {
    let mut buf = [0u8; 530];
    let h = DmxHeader {
        sequence: seq.max(1),
        physical: 0,
        address: PortAddress::new(1).unwrap(),
    };
    let n = write_dmx(&mut buf, &h, &[level; 512]).unwrap();
    buf[..n].to_vec()
}

#[test]
fn receive_route_and_send_do_not_allocate_once_warm() {
    patchbay_net::netns::require_private_netns();
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let dest = listener.local_addr().unwrap().to_string().replace(':', " ");
    let mut rig = Rig::real_time(Artnet::new());
    rig.configure("bind", "127.0.0.1 16691").unwrap();
    let input = rig.add_instance("in").unwrap();
    let output = rig.add_instance("out").unwrap();
    for (i, k, v) in [
        (input, "universe", "1"),
        (output, "universe", "2"),
        (output, "realtime", "1"),
        (output, "destination", dest.as_str()),
    ] {
        rig.configure_instance(i, k, v).unwrap();
    }
    // Wide channels 1+2 .. 15+16 travel as events, 8-bit slots 17..24 as a frame copy.
    let specs = (1..=8u32)
        .map(|n| format!("{}+{}", 2 * n - 1, 2 * n))
        .chain((17..=24u32).map(|n| n.to_string()));
    for spec in specs {
        let (from, _) = rig.channel(input, &spec, Direction::Input).unwrap();
        let (to, _) = rig.channel(output, &spec, Direction::Output).unwrap();
        rig.map(from, to);
    }
    rig.start().unwrap();
    assert_eq!(
        rig.frame_routes().len(),
        1,
        "slots 17..24 form one frame route"
    );
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rx = [0u8; 2048];
    let packets: Vec<Vec<u8>> = (0..=255u8).map(|i| packet(i, i)).collect();
    let mut seq = 1usize;
    let mut sent_out = 0usize;

    let cycle = |rig: &mut Rig<Artnet>, seq: &mut usize| -> usize {
        tx.send_to(&packets[*seq % 256], "127.0.0.1:16691").unwrap();
        *seq = *seq % 255 + 1;
        let before = allocations();
        rig.turn(Duration::from_millis(20)).unwrap();
        allocations() - before
    };

    let end = Instant::now() + Duration::from_secs(1);
    while Instant::now() < end {
        cycle(&mut rig, &mut seq);
        std::thread::sleep(Duration::from_millis(5));
        while let Ok(n) = listener.recv(&mut rx) {
            if matches!(Packet::parse(&rx[..n]), Ok(Packet::Dmx(_))) {
                sent_out += 1;
            }
        }
    }
    assert!(sent_out > 10, "the path is live ({sent_out} packets out)");
    let before = allocations();
    drop(std::hint::black_box(vec![1u8; 10]));
    assert!(allocations() > before, "the counter sees allocations");

    let mut total = 0;
    let warm = rig.core().counters();
    for _ in 0..100 {
        total += cycle(&mut rig, &mut seq);
    }
    let c = rig.core().counters();
    assert!(
        c.deliveries - warm.deliveries >= 100 * 8 / 2,
        "events flowed ({c:?})"
    );
    assert!(
        c.frame_copies - warm.frame_copies >= 100 / 2,
        "frames flowed ({c:?})"
    );
    assert_eq!(total, 0, "allocations on the hot path");
}
