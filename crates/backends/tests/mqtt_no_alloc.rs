//! The mqtt backend's message path does not allocate once warm: a PUBLISH read from the socket,
//! parsed, decoded and reported, routed by the core to an output topic, encoded, published and
//! written, measured around whole turns of the real loop (the backend test rig) on the loop's
//! thread. The broker is a scripted one on a thread of its own (its allocations are not
//! counted): it echoes nothing, it sends a message and waits for patchbay's publication before
//! the next. Opens sockets: private network namespace only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use patchbay_backends::mqtt::Mqtt;
use patchbay_core::Direction;
use patchbay_core::testing::Rig;
use patchbay_mqtt::wire::{Packet, Properties, Protocol, Publish, QoS, SubAck, frame};

#[path = "../../sacn/tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

/// Reads one whole packet.
fn packet(s: &mut TcpStream, rx: &mut Vec<u8>) -> Vec<u8> {
    let mut buf = [0u8; 4096];
    loop {
        if let Ok(Some(f)) = frame(rx)
            && rx.len() >= f.len()
        {
            return rx.drain(..f.len()).collect();
        }
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "patchbay closed the connection");
        rx.extend_from_slice(&buf[..n]);
    }
}

fn write(s: &mut TcpStream, p: Packet<'_>) {
    let mut out = Vec::new();
    p.write(Protocol::V5, &mut out).unwrap();
    s.write_all(&out).unwrap();
}

/// Accepts patchbay, then sends `in/x` values one at a time, each after patchbay published the
/// previous one to `out/x`; counts the publications.
fn broker(listener: TcpListener, echoes: Arc<AtomicUsize>, stop: Arc<AtomicBool>) {
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut rx = Vec::new();
    assert_eq!(packet(&mut s, &mut rx)[0] >> 4, 1, "CONNECT");
    s.write_all(&[0x20, 0x03, 0x00, 0x00, 0x00]).unwrap();
    let sub = packet(&mut s, &mut rx);
    let Ok(Packet::Subscribe(sub)) = Packet::parse(Protocol::V5, &sub) else {
        panic!("SUBSCRIBE expected");
    };
    write(
        &mut s,
        Packet::SubAck(SubAck {
            packet_id: sub.packet_id,
            properties: Properties::EMPTY,
            codes: &[0],
        }),
    );
    let mut i = 0u32;
    while !stop.load(Ordering::SeqCst) {
        i += 1;
        let payload = format!("{:.6}", f64::from(i % 1000) / 1000.0);
        write(
            &mut s,
            Packet::Publish(Publish {
                dup: false,
                qos: QoS::AtMostOnce,
                retain: false,
                topic: "in/x",
                packet_id: 0,
                properties: Properties::EMPTY,
                payload: payload.as_bytes(),
            }),
        );
        let p = packet(&mut s, &mut rx);
        match Packet::parse(Protocol::V5, &p) {
            Ok(Packet::Publish(p)) => {
                assert_eq!((p.topic, p.payload), ("out/x", payload.as_bytes()));
                echoes.fetch_add(1, Ordering::SeqCst);
            }
            Ok(Packet::PingReq) => {}
            Ok(Packet::Disconnect(_)) => return,
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn receive_route_and_publish_do_not_allocate_once_warm() {
    patchbay_net::netns::require_private_netns();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let echoes = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (e, s) = (Arc::clone(&echoes), Arc::clone(&stop));
        std::thread::spawn(move || broker(listener, e, s))
    };

    let mut rig = Rig::real_time(Mqtt::new());
    let mq = rig.add_instance("mq").unwrap();
    rig.configure_instance(mq, "host", &format!("127.0.0.1:{port}"))
        .unwrap();
    let (from, _) = rig.channel(mq, "in/x", Direction::Input).unwrap();
    let (to, _) = rig.channel(mq, "out/x", Direction::Output).unwrap();
    rig.map(from, to);
    rig.start().unwrap();

    // Warm up: connection, subscription, the first messages (buffers grow to their size).
    let end = Instant::now() + Duration::from_secs(10);
    while echoes.load(Ordering::SeqCst) < 200 {
        rig.turn(Duration::from_millis(20)).unwrap();
        assert!(Instant::now() < end, "the path is not live");
    }
    // The counter itself must see allocations, or the zero below proves nothing.
    let before = allocations();
    drop(std::hint::black_box(vec![1u8; 10]));
    assert!(allocations() > before);

    let start = echoes.load(Ordering::SeqCst);
    let mut total = 0;
    for _ in 0..500 {
        let before = allocations();
        rig.turn(Duration::from_millis(20)).unwrap();
        total += allocations() - before;
    }
    let flowed = echoes.load(Ordering::SeqCst) - start;
    stop.store(true, Ordering::SeqCst);
    rig.shutdown();
    for _ in 0..50 {
        if rig.turn(Duration::from_millis(20)).unwrap().is_some() {
            break;
        }
    }
    let _ = thread.join();
    assert!(flowed >= 250, "messages flowed ({flowed})");
    assert_eq!(total, 0, "allocations on the message path");
}
