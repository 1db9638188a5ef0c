//! The message paths allocate nothing once warmed up: an incoming PUBLISH through framing,
//! parsing, topic lookup, the event arena and the value mapping, and an outgoing value through
//! the mapping, the PUBLISH builder and the in-flight store (QoS 1), with acknowledgements.

#[path = "../../sacn/tests/support/counting_alloc.rs"]
mod counting_alloc;

use std::time::Instant;

use patchbay_mqtt::client::{Output, Subscription};
use patchbay_mqtt::mapping::ValueMap;
use patchbay_mqtt::wire::{Packet, Protocol, QoS, frame};
use patchbay_mqtt::{Client, Config, Event, OutputId};

fn client(protocol: Protocol) -> Client {
    let mut cfg = Config::new("alloc");
    cfg.protocol = protocol;
    cfg.subscriptions = ["in/+", "exact", "other/#"]
        .iter()
        .map(|f| Subscription {
            filter: (*f).into(),
            qos: QoS::AtLeastOnce,
        })
        .collect();
    cfg.outputs = vec![
        Output {
            topic: "out/0".into(),
            qos: QoS::AtMostOnce,
            retain: false,
        },
        Output {
            topic: "out/1".into(),
            qos: QoS::AtLeastOnce,
            retain: false,
        },
    ];
    let now = Instant::now();
    let mut c = Client::new(cfg, now);
    c.handle_timeout(now);
    while c.poll_event().is_some() {}
    c.transport_connected(now);
    let connack: &[u8] = if protocol.is_v5() {
        &[0x20, 0x03, 0x00, 0x00, 0x00]
    } else {
        &[0x20, 0x02, 0x00, 0x00]
    };
    c.handle_input(now, connack);
    while c.poll_event().is_some() {}
    let n = c.output().len();
    c.consume_output(n);
    c
}

/// One round: two incoming messages (QoS 0 exact, QoS 1 wildcard), two outgoing values, the
/// PUBACK for the QoS 1 one. Returns the sum of decoded values (so nothing is optimised away).
fn round(c: &mut Client, now: Instant, id: u16, payload: &mut Vec<u8>, v5: bool) -> f64 {
    let props: &[u8] = if v5 { &[0x00] } else { &[] };
    let mut sum = 0.0;
    let feed = |c: &mut Client, b: &[u8]| c.handle_input(now, b);
    let mut p0 = [
        0x30, 0, 0x00, 0x05, b'e', b'x', b'a', b'c', b't', 0, 0, 0, 0, 0, 0, 0,
    ];
    let mut n = 9;
    for &b in props {
        p0[n] = b;
        n += 1;
    }
    p0[n..n + 4].copy_from_slice(b"0.25");
    n += 4;
    p0[1] = (n - 2) as u8;
    feed(c, &p0[..n]);
    let mut p1 = [
        0x32, 0, 0x00, 0x04, b'i', b'n', b'/', b'x', 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let mut n = 8;
    p1[n..n + 2].copy_from_slice(&id.to_be_bytes());
    n += 2;
    for &b in props {
        p1[n] = b;
        n += 1;
    }
    p1[n..n + 3].copy_from_slice(b"0.5");
    n += 3;
    p1[1] = (n - 2) as u8;
    feed(c, &p1[..n]);
    let map = ValueMap::Plain;
    while let Some(e) = c.poll_event() {
        if let Event::Message(m) = e {
            sum += map.decode(m.payload).unwrap_or(0.0) + m.subscriptions.len() as f64;
        }
    }
    for out in [0, 1] {
        payload.clear();
        map.encode(0.125 * f64::from(id % 8), payload)
            .expect("encode");
        c.publish(now, OutputId(out), payload);
    }
    // Acknowledge the QoS 1 publication by the packet id the client gave it.
    let mut ack = None;
    let mut rest = c.output();
    while let Ok(Some(f)) = frame(rest) {
        if let Ok(Packet::Publish(p)) = Packet::parse(c.protocol(), &rest[..f.len()])
            && p.qos == QoS::AtLeastOnce
        {
            ack = Some(p.packet_id);
        }
        rest = &rest[f.len()..];
    }
    let written = c.output().len();
    c.consume_output(written);
    let pid = ack.expect("a QoS 1 PUBLISH");
    c.handle_input(now, &[0x40, 0x02, (pid >> 8) as u8, pid as u8]);
    assert_eq!(c.in_flight(), 0);
    sum
}

#[test]
fn message_paths_do_not_allocate_after_warm_up() {
    for protocol in [Protocol::V5, Protocol::V311] {
        let mut c = client(protocol);
        let now = Instant::now();
        let mut payload = Vec::with_capacity(64);
        let mut sum = 0.0;
        for id in 1..=50 {
            sum += round(&mut c, now, id, &mut payload, protocol.is_v5());
        }
        let mut measured = 0.0;
        let allocs = counting_alloc::allocations_in(|| {
            for id in 51..=550 {
                measured += round(&mut c, now, id, &mut payload, protocol.is_v5());
            }
        });
        assert_eq!(allocs, 0, "{protocol}: {allocs} allocations in 500 rounds");
        // Each round: 0.25 (one subscription) + 0.5 (one subscription) decoded.
        assert_eq!(measured, 500.0 * (0.25 + 1.0 + 0.5 + 1.0), "{protocol}");
        assert!(sum > 0.0);
        assert!(c.is_connected());
    }
}
