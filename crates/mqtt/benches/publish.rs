//! Incoming PUBLISH costs: parsing one packet, resolving its topic among many channels, and the
//! whole client path (framing, parsing, lookup, event, MIDIMonster value decode); plus one
//! outgoing value. Run with `cargo bench -p patchbay-mqtt --bench publish`.

use std::hint::black_box;
use std::time::Instant;

use patchbay_mqtt::client::{Output, Subscription};
use patchbay_mqtt::mapping::ValueMap;
use patchbay_mqtt::topic::TopicTable;
use patchbay_mqtt::wire::{Packet, Properties, Protocol, Publish, QoS};
use patchbay_mqtt::{Client, Config, Event, OutputId};

fn main() {
    divan::main();
}

/// 1,000 exact topics (as a large MIDIMonster configuration has) and 10 wildcard filters.
fn filters() -> Vec<String> {
    let mut f: Vec<String> = (0..1000)
        .map(|i| format!("show/dimmer/{i}/level"))
        .collect();
    f.extend((0..10).map(|i| format!("sensors/{i}/+/value")));
    f
}

fn publish_bytes(protocol: Protocol, topic: &str, qos: QoS) -> Vec<u8> {
    let mut out = Vec::new();
    Packet::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic,
        packet_id: if qos == QoS::AtMostOnce { 0 } else { 7 },
        properties: Properties::EMPTY,
        payload: b"0.503922",
    })
    .write(protocol, &mut out)
    .expect("build");
    out
}

#[divan::bench(args = [Protocol::V311, Protocol::V5])]
fn parse_publish(bencher: divan::Bencher, protocol: Protocol) {
    let b = publish_bytes(protocol, "show/dimmer/517/level", QoS::AtMostOnce);
    bencher.bench_local(|| match Packet::parse(protocol, black_box(&b)) {
        Ok(Packet::Publish(p)) => p.payload.len() + p.topic.len(),
        _ => 0,
    });
}

#[divan::bench(args = ["show/dimmer/517/level", "sensors/3/kitchen/value", "unknown/topic"])]
fn topic_lookup(bencher: divan::Bencher, topic: &str) {
    let f = filters();
    let table = TopicTable::new(f.iter().map(String::as_str));
    let mut out = Vec::with_capacity(4);
    bencher.bench_local(|| {
        out.clear();
        table.lookup(black_box(topic), &mut out);
        out.len()
    });
}

fn connected_client() -> Client {
    let mut cfg = Config::new("bench");
    cfg.protocol = Protocol::V311;
    cfg.subscriptions = filters()
        .into_iter()
        .map(|filter| Subscription {
            filter,
            qos: QoS::AtLeastOnce,
        })
        .collect();
    cfg.outputs = vec![Output {
        topic: "show/out".into(),
        qos: QoS::AtMostOnce,
        retain: false,
    }];
    let now = Instant::now();
    let mut c = Client::new(cfg, now);
    c.handle_timeout(now);
    while c.poll_event().is_some() {}
    c.transport_connected(now);
    c.handle_input(now, &[0x20, 0x02, 0x00, 0x00]);
    while c.poll_event().is_some() {}
    let n = c.output().len();
    c.consume_output(n);
    c
}

/// Bytes in → value out for one QoS 0 or QoS 1 (with PUBACK) message.
#[divan::bench(args = [QoS::AtMostOnce, QoS::AtLeastOnce])]
fn client_incoming_publish(bencher: divan::Bencher, qos: QoS) {
    let mut c = connected_client();
    let b = publish_bytes(Protocol::V311, "show/dimmer/517/level", qos);
    let now = Instant::now();
    let map = ValueMap::Plain;
    bencher.bench_local(|| {
        c.handle_input(now, black_box(&b));
        let mut v = 0.0;
        while let Some(e) = c.poll_event() {
            if let Event::Message(m) = e {
                v += map.decode(m.payload).unwrap_or(0.0);
            }
        }
        let n = c.output().len();
        c.consume_output(n);
        v
    });
}

/// Value in → bytes out for one QoS 0 output (MIDIMonster's `%f` text).
#[divan::bench]
fn client_outgoing_publish(bencher: divan::Bencher) {
    let mut c = connected_client();
    let now = Instant::now();
    let map = ValueMap::Plain;
    let mut payload = Vec::with_capacity(32);
    bencher.bench_local(|| {
        payload.clear();
        map.encode(black_box(0.503922), &mut payload)
            .expect("encode");
        c.publish(now, OutputId(0), &payload);
        let n = c.output().len();
        c.consume_output(n);
        n
    });
}
