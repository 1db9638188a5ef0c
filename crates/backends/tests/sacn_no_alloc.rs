//! The sACN backend's hot path does not allocate: a datagram read, merged and turned into events
//! (wide channels) and a frame (8-bit slot-for-slot channels), routed by the core's router, values
//! and frame copies applied and a packet sent, once warm. Opens sockets: private network namespace only.
#![allow(clippy::unwrap_used)]

use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

use patchbay_backends::sacn::Sacn;
use patchbay_core::{
    Backend, ChannelCtx, ChannelRegistry, ConfigCtx, Direction, Event, FrameBuf, InstanceId,
    Reactor, Ready, RoutePlan, Routed, Router, RoutingBuilder, Sink,
};
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
    let mut s = Sacn::new();
    // The link watch lists interfaces (allocates) twice a second; it is timer work, not per packet.
    s.set_link_check_period(Duration::from_secs(3600));
    let mut w = Vec::new();
    let mut ctx = ConfigCtx {
        base_dir: Path::new("/tmp"),
        config_path: Path::new("/tmp/no_alloc.cfg"),
        warnings: &mut w,
    };
    s.configure("bind", "127.0.0.1 15691", &mut ctx).unwrap();
    s.create_instance(InstanceId(0), "in").unwrap();
    s.create_instance(InstanceId(1), "out").unwrap();
    for (i, k, v) in [
        (0, "universe", "1"),
        (0, "unicast", "1"),
        (1, "universe", "2"),
        (1, "priority", "100"),
        (1, "realtime", "1"),
        (1, "destination", dest.as_str()),
    ] {
        s.configure_instance(InstanceId(i), k, v, &mut ctx).unwrap();
    }
    let mut reg = ChannelRegistry::new();
    let mut warnings = Vec::new();
    let mut routes = RoutingBuilder::new();
    // Wide channels 1+2 .. 15+16 travel as events, 8-bit slots 17..24 as a frame copy.
    let specs = (1..=8u32)
        .map(|n| format!("{}+{}", 2 * n - 1, 2 * n))
        .chain((17..=24u32).map(|n| n.to_string()));
    for spec in specs {
        let mut c = ChannelCtx {
            ids: &mut reg,
            warnings: &mut warnings,
        };
        let input = s
            .channel(InstanceId(0), &spec, Direction::Input, &mut c)
            .unwrap();
        let output = s
            .channel(InstanceId(1), &spec, Direction::Output, &mut c)
            .unwrap();
        routes.add_edge(input, output);
    }
    let (table, frame_routes) = routes.freeze(&reg);
    assert_eq!(frame_routes.len(), 1, "slots 17..24 form one frame route");
    s.plan(&RoutePlan::new(&table, &frame_routes));
    let mut reactor = Reactor::new(1).unwrap();
    s.start(Instant::now(), &mut reactor.io(0)).unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut events: Vec<Event> = Vec::with_capacity(1024);
    let mut frames = FrameBuf::new();
    let mut router = Router::new(2);
    let mut ready: Vec<Ready> = Vec::with_capacity(64);
    let mut rx = [0u8; 2048];
    let packets: Vec<Vec<u8>> = (0..=255u8).map(|i| packet(i, i)).collect();
    let mut seq = 0usize;
    let mut sent_out = 0usize;

    // One cycle: a datagram in, events and a frame out, routed back in, a packet out.
    let mut cycle =
        |s: &mut Sacn, reactor: &mut Reactor, seq: &mut usize, router: &mut Router| -> usize {
            tx.send_to(&packets[*seq % 256], "127.0.0.1:15691").unwrap();
            *seq += 1;
            let before = allocations();
            reactor.wait(Some(Duration::from_millis(20))).unwrap();
            ready.clear();
            ready.extend_from_slice(reactor.ready(0));
            let now = Instant::now();
            s.process(
                now,
                &ready,
                &mut reactor.io(0),
                &mut Sink::with_frames(&mut events, &mut frames),
            )
            .unwrap();
            router.route_all(
                &table,
                &frame_routes,
                &mut events,
                &mut frames,
                |instance, routed, sink| match routed {
                    Routed::Values(d) => s.handle(now, instance, d, sink),
                    Routed::Frames(c) => s.handle_frames(now, instance, c, sink),
                },
            );
            s.flush(now, &mut reactor.io(0));
            allocations() - before
        };

    // Warm up past the 1.5 s sampling period and the first packets of every kind.
    let end = Instant::now() + Duration::from_secs(3);
    while Instant::now() < end {
        cycle(&mut s, &mut reactor, &mut seq, &mut router);
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
    let warm = router.counters();
    for _ in 0..100 {
        total += cycle(&mut s, &mut reactor, &mut seq, &mut router);
    }
    let c = router.counters();
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
