//! The sACN backend's hot path does not allocate: a datagram read, merged and turned into events
//! (wide channels) and a frame (8-bit slot-for-slot channels), routed by the core's router, values
//! and frame copies applied and a packet sent, once warm; measured around whole turns of the real
//! loop (the backend test rig). Opens sockets: private network namespace only.
#![allow(clippy::unwrap_used)]

use std::net::UdpSocket;
use std::time::Duration;

use patchbay_backends::sacn::Sacn;
use patchbay_core::testing::Rig;
use patchbay_sacn::wire::{DataHeader, Options, write_data};
use patchbay_sacn::{Cid, Packet};

#[path = "../../sacn/tests/support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/dmx_hot_path.rs"]
mod dmx_hot_path;

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
    dmx_hot_path::map_events_and_a_frame(&mut rig, input, output);
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let packets: Vec<Vec<u8>> = (0..=255u8).map(|i| packet(i, i)).collect();
    let mut seq = 0usize;
    let send = || {
        tx.send_to(&packets[seq % 256], "127.0.0.1:15691").unwrap();
        seq += 1;
    };
    // Warm up past the 1.5 s sampling period and the first packets of every kind.
    dmx_hot_path::assert_turns_do_not_allocate(
        &mut rig,
        Duration::from_secs(3),
        send,
        &listener,
        |b| matches!(Packet::parse(b), Ok(Packet::Data(_))),
    );
}
