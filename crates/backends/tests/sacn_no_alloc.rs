//! The sACN backend's hot path does not allocate: a datagram read, merged and turned into events
//! (wide channels) and a frame (8-bit slot-for-slot channels), routed by the core's router, values
//! and frame copies applied and a packet sent, once warm; measured around whole turns of the real
//! loop (the backend test rig). Opens sockets: private network namespace only.
#![allow(clippy::unwrap_used)]

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use patchbay_backends::sacn::Sacn;
use patchbay_core::Direction;
use patchbay_core::testing::Rig;
use patchbay_sacn::wire::{DataHeader, Options, write_data};
use patchbay_sacn::{Cid, Packet};

#[path = "../../sacn/tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

fn packet(seq: u8, level: u8) -> Vec<u8> {
    let mut buf = [0u8; 700];
    let h = DataHeader {
        cid: Cid([6; 16]),
        source_name: "desk",
        priority: 100,
        sync_address: 0,
        sequence: seq,
        options: Options::NONE,
        universe: 1,
        start_code: 0,
    };
    let slots = [level; 512];
    let n = write_data(&mut buf, &h, &slots).unwrap();
    buf[..n].to_vec()
}

#[test]
fn receive_route_and_send_do_not_allocate_once_warm() {
    patchbay_net::netns::require_private_netns();
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let dest = listener.local_addr().unwrap().to_string().replace(':', " ");
    let mut rig = Rig::real_time(Sacn::new());
    // The link watch lists interfaces (allocates) twice a second; it is timer work, not per packet.
    rig.backend_mut()
        .set_link_check_period(Duration::from_secs(3600));
    rig.configure("bind", "127.0.0.1 15691").unwrap();
    let input = rig.add_instance("in").unwrap();
    let output = rig.add_instance("out").unwrap();
    for (i, k, v) in [
        (input, "universe", "1"),
        (input, "unicast", "1"),
        (output, "universe", "2"),
        (output, "priority", "100"),
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
    let mut seq = 0usize;
    let mut sent_out = 0usize;

    // One cycle: a datagram in, events and a frame out, routed back in, a packet out, in one
    // turn of the real loop.
    let cycle = |rig: &mut Rig<Sacn>, seq: &mut usize| -> usize {
        tx.send_to(&packets[*seq % 256], "127.0.0.1:15691").unwrap();
        *seq += 1;
        let before = allocations();
        rig.turn(Duration::from_millis(20)).unwrap();
        allocations() - before
    };

    // Warm up past the 1.5 s sampling period and the first packets of every kind.
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        cycle(&mut rig, &mut seq);
        std::thread::sleep(Duration::from_millis(5));
        while let Ok(n) = listener.recv(&mut rx) {
            if matches!(Packet::parse(&rx[..n]), Ok(Packet::Data(_))) {
                sent_out += 1;
            }
        }
    }
    assert!(sent_out > 10, "the path is live ({sent_out} packets out)");
    // The counter itself must see allocations, or the zeros below prove nothing.
    let before = allocations();
    drop(std::hint::black_box(vec![1u8; 10]));
    assert!(allocations() > before);

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
