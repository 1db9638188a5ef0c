//! The Art-Net backend's hot path does not allocate: an ArtDmx read, merged and turned into
//! events (wide channels) and a frame (8-bit slot-for-slot channels), routed by the core, values
//! and frame copies applied and an ArtDmx sent, once warm; measured around whole turns of the
//! real loop (the backend test rig). Opens sockets: private network namespace only.
#![allow(clippy::unwrap_used)]

use std::net::UdpSocket;
use std::time::Duration;

use patchbay_artnet::{DmxHeader, Packet, PortAddress, write_dmx};
use patchbay_backends::artnet::Artnet;
use patchbay_core::testing::Rig;

#[path = "../../sacn/tests/support/counting_alloc.rs"]
mod counting_alloc;
#[path = "support/dmx_hot_path.rs"]
mod dmx_hot_path;

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
    dmx_hot_path::map_events_and_a_frame(&mut rig, input, output);
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let packets: Vec<Vec<u8>> = (0..=255u8).map(|i| packet(i, i)).collect();
    let mut seq = 1usize;
    let send = || {
        tx.send_to(&packets[seq % 256], "127.0.0.1:16691").unwrap();
        seq = seq % 255 + 1;
    };
    dmx_hot_path::assert_turns_do_not_allocate(
        &mut rig,
        Duration::from_secs(1),
        send,
        &listener,
        |b| matches!(Packet::parse(b), Ok(Packet::Dmx(_))),
    );
}
