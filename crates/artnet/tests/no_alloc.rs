//! After warm-up neither the receiver nor the builders allocate: 100 universes at 44 fps would
//! otherwise hit the allocator thousands of times a second.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use patchbay_artnet::receiver::{Receiver, ReceiverConfig};
use patchbay_artnet::wire::{MAX_DMX_PACKET_LEN, POLL_REPLY_PACKET_LEN, status};
use patchbay_artnet::{
    DmxHeader, NodeReport, PollReply, Port, PortAddress, SequenceCounter, reply_groups, write_dmx,
    write_poll_reply, write_sync,
};

// The one counting allocator of the workspace's tests (see its header).
#[path = "../../sacn/tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

const A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 6454);
const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 6454);
const C: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 3), 6454);

fn address(u: u16) -> PortAddress {
    PortAddress::new(u).expect("valid")
}

/// One frame: 20 universes; A sends all, B (short packets) merges with it on 0..10, C is a
/// refused third source on universe 0; every other frame ends with an ArtSync from A, so A's
/// data on 10..20 is held and released.
fn frame(seq: &mut [SequenceCounter; 3], k: u8) -> Vec<(SocketAddrV4, Vec<u8>)> {
    let mut out = Vec::new();
    for u in 0..20u16 {
        for (i, src) in [A, B, C].into_iter().enumerate() {
            if (i == 1 && u >= 10) || (i == 2 && u != 0) {
                continue;
            }
            let len = if i == 1 { 24 } else { 512 };
            let mut buf = vec![0u8; MAX_DMX_PACKET_LEN];
            let h = DmxHeader {
                sequence: seq[i].next_sequence(),
                physical: 0,
                address: address(u),
            };
            let n =
                write_dmx(&mut buf, &h, &vec![k.wrapping_mul(i as u8 + 3); len]).expect("build");
            buf.truncate(n);
            out.push((src, buf));
        }
    }
    if k.is_multiple_of(2) {
        let mut buf = vec![0u8; 14];
        write_sync(&mut buf).expect("sync");
        out.push((A, buf));
    }
    out
}

#[test]
fn receiver_does_not_allocate_per_packet() {
    let mut rx = Receiver::new(ReceiverConfig::default());
    for u in 0..20 {
        rx.add_universe(address(u)).expect("add");
    }
    let mut seq = [SequenceCounter::new(); 3];
    let frames: Vec<_> = (0..200u8).map(|k| frame(&mut seq, k)).collect();
    let t0 = Instant::now();
    let run = |rx: &mut Receiver, range: std::ops::Range<usize>| {
        let mut changed = 0usize;
        for k in range {
            let now = t0 + Duration::from_millis(k as u64 * 23);
            for (src, b) in &frames[k] {
                let _ = rx.handle_datagram(now, *src, b);
            }
            rx.handle_timeout(now);
            while let Some((_, set)) = rx.poll_changed() {
                changed += set.len();
            }
            while rx.poll_event().is_some() {}
        }
        changed
    };
    run(&mut rx, 0..20);
    let mut changed = 0;
    let n = allocations_in(|| changed = run(&mut rx, 20..200));
    assert_eq!(n, 0, "allocations after warm-up");
    assert!(changed > 0, "the traffic changed the output");
    let c = rx.counters();
    assert!(c.sync > 0 && c.discarded.iter().sum::<u64>() > 0);
    let held = frames[21]
        .iter()
        .map(|(src, b)| rx.handle_datagram(t0 + Duration::from_secs(5), *src, b));
    assert!(
        held.filter(|h| matches!(h, Ok(patchbay_artnet::receiver::Handled::Held { .. })))
            .count()
            > 0,
        "the hold path ran"
    );
}

#[test]
fn builders_do_not_allocate() {
    let ports: Vec<Port> = (0..8)
        .map(|u| Port::new(address(u), true, u % 2 == 0))
        .collect();
    let mut buf = [0u8; POLL_REPLY_PACKET_LEN + MAX_DMX_PACKET_LEN];
    let mut seq = SequenceCounter::new();
    let n = allocations_in(|| {
        for (i, group) in reply_groups(&ports, 4) {
            let r = PollReply {
                ip: Ipv4Addr::new(10, 0, 0, 1),
                version_info: 1,
                oem: 0x7ff0,
                status1: status::STATUS1_INDICATORS_NORMAL,
                esta_manufacturer: 0x7ff0,
                short_name: "patchbay",
                long_name: "patchbay",
                report: NodeReport {
                    code: status::REPORT_POWER_OK,
                    counter: 12,
                    text: "running",
                },
                style: status::STYLE_NODE,
                mac: [0; 6],
                bind_ip: Ipv4Addr::new(10, 0, 0, 1),
                bind_index: i,
                status2: status::STATUS2_PORT_ADDRESS_15BIT,
            };
            write_poll_reply(&mut buf, &r, group).expect("reply");
        }
        let h = DmxHeader {
            sequence: seq.next_sequence(),
            physical: 0,
            address: address(1),
        };
        write_dmx(&mut buf, &h, &[1; 512]).expect("dmx");
    });
    assert_eq!(n, 0);
}
