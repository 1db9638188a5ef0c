//! The backend through the test rig: configuration without sockets, and the connection against
//! a scripted broker (a TCP listener in this test that parses what the backend sends with
//! `patchbay_mqtt::wire` and answers with exact bytes), on the rig's manual clock, so back-off
//! and reconnection are exact. The backend against mosquitto and paho-mqtt, through the real
//! binary, is in the repository's tests/mqtt.rs.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use patchbay_core::testing::Rig;
use patchbay_core::{Direction, InstanceId, Part, Value};
use patchbay_mqtt::wire::{
    Ack, ConnAck, Packet, Properties, Protocol, Publish, QoS, SubAck, frame,
};

use super::*;

// ---------------------------------------------------------------------------------------------
// Configuration (no sockets)
// ---------------------------------------------------------------------------------------------

#[test]
fn global_options_are_refused() {
    let mut rig = Rig::new(Mqtt::new());
    let e = rig.configure("host", "x").unwrap_err();
    assert_eq!(e.part(), Part::Key);
    assert!(e.to_string().contains("no global options"), "{e}");
}

#[test]
fn instance_lines_are_options_or_topic_settings() {
    let mut rig = Rig::new(Mqtt::new());
    let mq = rig.add_instance("mq").unwrap();
    for (k, v) in [
        ("host", "mqtt://u:p@127.0.0.1:1884"),
        ("/a/topic", "range -10 10"),
        ("/b", "discrete !0 0.5 off"),
        ("/b", "discrete 0.5 !1 on"),
        ("qos", "1"),
    ] {
        assert_eq!(rig.configure_instance(mq, k, v), Ok(vec![]), "{k}");
    }
    let e = rig.configure_instance(mq, "hots", "broker").unwrap_err();
    assert_eq!(e.part(), Part::Key);
    let m = e.to_string();
    assert!(m.contains("'hots' is no option (host, user,"), "{m}");
    assert!(m.contains("TOPIC = range MIN MAX"), "{m}");
    let e = rig
        .configure_instance(mq, "/a/topic", "range 0 1")
        .unwrap_err();
    assert_eq!(e.part(), Part::Value);
    assert!(e.to_string().contains("one `range`"), "{e}");
    let e = rig.configure_instance(mq, "/c", "range 0 x").unwrap_err();
    assert!(e.to_string().contains("MAX is not a number"), "{e}");
    let e = rig
        .configure_instance(mq, "a/#/b", "range 0 1")
        .unwrap_err();
    assert_eq!(e.part(), Part::Key);
    assert!(e.to_string().contains("last level"), "{e}");
    let w = rig.configure_instance(mq, "protocol", "4").unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].0, Part::Value);
}

#[test]
fn channels_are_topics_and_wildcards_only_inputs() {
    let mut rig = Rig::new(Mqtt::new());
    let mq = rig.add_instance("mq").unwrap();
    rig.configure_instance(mq, "host", "127.0.0.1").unwrap();
    let a = rig.channel(mq, "/a/b", Direction::Input).unwrap().0;
    assert_eq!(rig.channel(mq, "/a/b", Direction::Output).unwrap().0, a);
    rig.channel(mq, "lights/+", Direction::Input).unwrap();
    let e = rig.channel(mq, "lights/#", Direction::Output).unwrap_err();
    assert!(
        e.message
            .contains("allowed only in topics that are subscribed to"),
        "{e}"
    );
    assert!(rig.channel(mq, "a/b+", Direction::Input).is_err());
}

#[test]
fn validate_wants_a_host_and_tls_for_a_ca_file() {
    let mut rig = Rig::new(Mqtt::new());
    let a = rig.add_instance("a").unwrap();
    let b = rig.add_instance("b").unwrap();
    let c = rig.add_instance("c").unwrap();
    rig.configure_instance(b, "host", "broker").unwrap();
    rig.configure_instance(b, "cafile", "ca.pem").unwrap();
    rig.configure_instance(c, "host", "mqtts://broker").unwrap();
    rig.configure_instance(c, "cafile", "ca.pem").unwrap();
    let problems = rig.backend().validate();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert_eq!(problems[0].instance, Some(a));
    assert_eq!(problems[0].about, Some("host"));
    assert!(problems[0].message.contains("host = mqtt://"));
    assert_eq!(problems[1].instance, Some(b));
    assert_eq!(problems[1].about, Some("cafile"));
    assert!(
        problems[1].message.contains("mqtts://broker:1883"),
        "{}",
        problems[1].message
    );
}

#[test]
fn a_missing_ca_file_fails_the_start_at_its_option() {
    let mut rig = Rig::new(Mqtt::new());
    let a = rig.add_instance("a").unwrap();
    rig.configure_instance(a, "host", "mqtts://127.0.0.1")
        .unwrap();
    rig.configure_instance(a, "cafile", "/nonexistent/ca.pem")
        .unwrap();
    let e = rig.start().unwrap_err().to_string();
    assert!(e.contains("/nonexistent/ca.pem"), "{e}");
}

#[test]
fn a_tls_host_no_certificate_can_name_fails_the_start() {
    let ca = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../mqtt/tests/certs/ca.pem");
    let mut rig = Rig::new(Mqtt::new());
    let a = rig.add_instance("a").unwrap();
    rig.configure_instance(a, "host", "mqtts://a..b").unwrap();
    rig.configure_instance(a, "cafile", ca.to_str().unwrap())
        .unwrap();
    let e = rig.start().unwrap_err().to_string();
    assert!(e.contains("host = 'a..b'"), "{e}");
    assert!(e.contains("certificate"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// A scripted broker
// ---------------------------------------------------------------------------------------------

/// One TCP listener on 127.0.0.1; one client connection at a time; non-blocking, polled between
/// rig turns.
struct Broker {
    listener: TcpListener,
    conn: Option<TcpStream>,
    rx: Vec<u8>,
    /// Packets received and not yet taken, as bytes.
    packets: Vec<Vec<u8>>,
    /// The client closed its side of the connection.
    eof: bool,
    protocol: Protocol,
}

impl Broker {
    fn bind() -> Broker {
        patchbay_net::netns::require_private_netns();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        Broker {
            listener,
            conn: None,
            rx: Vec::new(),
            packets: Vec::new(),
            eof: false,
            protocol: Protocol::V5,
        }
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().expect("addr").port()
    }

    fn poll(&mut self) {
        if let Ok((s, _)) = self.listener.accept() {
            s.set_nonblocking(true).expect("nonblocking");
            self.conn = Some(s);
            self.rx.clear();
            self.eof = false;
        }
        let Some(s) = self.conn.as_mut() else { return };
        let mut buf = [0u8; 65536];
        loop {
            match s.read(&mut buf) {
                // The broker's side stays open until the test drops it.
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.rx.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    self.eof = true;
                    self.conn = None;
                    break;
                }
            }
        }
        while let Ok(Some(f)) = frame(&self.rx) {
            if self.rx.len() < f.len() {
                break;
            }
            self.packets.push(self.rx.drain(..f.len()).collect());
        }
    }

    fn send(&mut self, p: Packet<'_>) {
        let mut out = Vec::new();
        p.write(self.protocol, &mut out).expect("build");
        self.send_raw(&out);
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        let s = self.conn.as_mut().expect("a connection");
        s.set_nonblocking(false).expect("blocking");
        s.write_all(bytes).expect("write");
        s.set_nonblocking(true).expect("nonblocking");
    }

    fn connack(&mut self) {
        self.send(Packet::ConnAck(ConnAck {
            session_present: false,
            code: 0,
            properties: Properties::EMPTY,
        }));
    }

    fn drop_connection(&mut self) {
        self.conn = None;
        self.rx.clear();
    }
}

/// Turns the rig (each waits at most 5 ms of real time) and polls the broker until `f` finds
/// what it wants among the packets received so far (it takes the ones it used), for 5 s.
fn until<T>(
    rig: &mut Rig<Mqtt>,
    broker: &mut Broker,
    what: &str,
    mut f: impl FnMut(&mut Rig<Mqtt>, &mut Broker) -> Option<T>,
) -> T {
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        rig.turn(Duration::from_millis(5)).expect("turn");
        broker.poll();
        if let Some(v) = f(rig, broker) {
            return v;
        }
        assert!(Instant::now() < end, "{what}: not within 5 s");
    }
}

/// The first received packet of type `t` (upper nibble of the first byte), taken.
fn take(broker: &mut Broker, t: u8) -> Option<Vec<u8>> {
    let i = broker.packets.iter().position(|p| p[0] >> 4 == t)?;
    Some(broker.packets.remove(i))
}

const CONNECT: u8 = 1;
const PUBLISH: u8 = 3;
const SUBSCRIBE: u8 = 8;
const DISCONNECT: u8 = 14;

/// Accepts the connection, checks CONNECT, answers CONNACK, and answers the SUBSCRIBE
/// (returning its filters) if the instance has inputs.
fn handshake(rig: &mut Rig<Mqtt>, broker: &mut Broker, inputs: bool) -> Vec<String> {
    let connect = until(rig, broker, "CONNECT", |_, b| take(b, CONNECT));
    match Packet::parse(broker.protocol, &connect).expect("CONNECT parses") {
        Packet::Connect(c) => {
            assert_eq!(c.protocol, broker.protocol);
            assert!(c.client_id.starts_with("pb-mq-"), "{}", c.client_id);
            assert_eq!(c.client_id.len(), "pb-mq-".len() + 8);
        }
        other => panic!("{other:?}"),
    }
    broker.connack();
    if !inputs {
        return Vec::new();
    }
    let sub = until(rig, broker, "SUBSCRIBE", |_, b| take(b, SUBSCRIBE));
    let Packet::Subscribe(s) = Packet::parse(broker.protocol, &sub).expect("parses") else {
        panic!("not SUBSCRIBE");
    };
    let filters: Vec<String> = s.entries().map(|e| e.filter.to_string()).collect();
    let codes = vec![0u8; filters.len()];
    broker.send(Packet::SubAck(SubAck {
        packet_id: s.packet_id,
        properties: Properties::EMPTY,
        codes: &codes,
    }));
    filters
}

fn publish(broker: &mut Broker, topic: &str, payload: &[u8]) {
    broker.send(Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic,
        packet_id: 0,
        properties: Properties::EMPTY,
        payload,
    }));
}

/// (topic, payload) of a received PUBLISH.
fn published(broker: &Broker, bytes: &[u8]) -> (String, String) {
    match Packet::parse(broker.protocol, bytes).expect("PUBLISH parses") {
        Packet::Publish(p) => (
            p.topic.to_string(),
            String::from_utf8_lossy(p.payload).into_owned(),
        ),
        other => panic!("{other:?}"),
    }
}

fn instance(rig: &mut Rig<Mqtt>, host: &str) -> InstanceId {
    let mq = rig.add_instance("mq").expect("instance");
    rig.configure_instance(mq, "host", host).expect("host");
    mq
}

#[test]
fn values_both_ways_with_midimonsters_payloads() {
    let mut broker = Broker::bind();
    let mut rig = Rig::new(Mqtt::new());
    let mq = instance(&mut rig, &format!("mqtt://127.0.0.1:{}", broker.port()));
    rig.configure_instance(mq, "dimmers/+", "range 0 100")
        .unwrap();
    rig.configure_instance(mq, "out/d", "discrete !0 0.5 off")
        .unwrap();
    rig.configure_instance(mq, "out/d", "discrete 0.5 !1 on")
        .unwrap();
    let plain = rig.input(mq, "in/plain").unwrap();
    let dimmers = rig.input(mq, "dimmers/+").unwrap();
    let out = rig.output(mq, "out/x").unwrap();
    let discrete = rig.output(mq, "out/d").unwrap();
    rig.start().unwrap();
    assert_eq!(rig.stat("mq", "state"), Some(LinkState::Waiting as u64));
    let filters = handshake(&mut rig, &mut broker, true);
    // In the order the topics first appear (the setting line made `dimmers/+` first).
    assert_eq!(filters, ["dimmers/+", "in/plain"]);
    until(&mut rig, &mut broker, "connected", |r, _| {
        (r.stat("mq", "state") == Some(LinkState::Connected as u64)).then_some(())
    });

    publish(&mut broker, "in/plain", b"0.25");
    publish(&mut broker, "dimmers/kitchen", b"75");
    publish(&mut broker, "dimmers/hall", b"250");
    publish(&mut broker, "in/plain", b"bright");
    let events = until(&mut rig, &mut broker, "three events", |r, _| {
        let e = r.events();
        (e.len() >= 3 && r.stat("mq", "messages_in") == Some(4)).then_some(e)
    });
    let got: Vec<(ChannelId, f64)> = events
        .iter()
        .map(|e| (e.channel, e.value.normalised()))
        .collect();
    assert_eq!(got, [(plain, 0.25), (dimmers, 0.75), (dimmers, 1.0)]);
    assert_eq!(rig.stat("mq", "events_in"), Some(3));
    assert_eq!(rig.stat("mq", "in_dropped.not_a_number"), Some(1));

    // An 8-bit value as MIDIMonster prints it; the discrete topic's text.
    rig.set(out, Value::from_raw(128, 8));
    rig.set(discrete, Value::from_raw(255, 8));
    rig.set(discrete, Value::from_raw(0, 8));
    let mut seen = Vec::new();
    until(&mut rig, &mut broker, "three publications", |_, b| {
        while let Some(p) = take(b, PUBLISH) {
            seen.push(published(b, &p));
        }
        (seen.len() == 3).then_some(())
    });
    let want = [("out/x", "0.501961"), ("out/d", "on"), ("out/d", "off")];
    let seen: Vec<(&str, &str)> = seen.iter().map(|(t, p)| (t.as_str(), p.as_str())).collect();
    assert_eq!(seen, want);
    assert_eq!(rig.stat("mq", "messages_out"), Some(3));
    assert_eq!(rig.stat("mq", "connects"), Some(1));
    assert_eq!(rig.stat("mq", "dropped_total"), Some(1));
}

#[test]
fn a_value_no_discrete_entry_covers_is_not_sent() {
    let mut broker = Broker::bind();
    let mut rig = Rig::new(Mqtt::new());
    let mq = instance(&mut rig, &format!("127.0.0.1:{}", broker.port()));
    rig.configure_instance(mq, "out/d", "discrete 0.9 1 full")
        .unwrap();
    let d = rig.output(mq, "out/d").unwrap();
    rig.start().unwrap();
    handshake(&mut rig, &mut broker, false);
    rig.set(d, Value::from_normalised(0.5));
    rig.set(d, Value::from_normalised(0.95));
    let p = until(&mut rig, &mut broker, "PUBLISH", |_, b| take(b, PUBLISH));
    assert_eq!(published(&broker, &p), ("out/d".into(), "full".into()));
    assert_eq!(rig.stat("mq", "out_dropped.no_discrete_match"), Some(1));
    assert_eq!(rig.stat("mq", "messages_out"), Some(1));
}

#[test]
fn broker_absent_at_start_is_retried_with_backoff_and_gets_the_last_value() {
    // A port nobody listens on (yet).
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    patchbay_net::netns::require_private_netns();
    let mut rig = Rig::new(Mqtt::new());
    let mq = instance(&mut rig, &format!("127.0.0.1:{port}"));
    let out = rig.output(mq, "out/x").unwrap();
    rig.start().unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while rig.stat("mq", "connect_failures") != Some(1) {
        rig.turn(Duration::from_millis(5)).unwrap();
        assert!(Instant::now() < end, "no failed attempt");
    }
    assert_eq!(rig.stat("mq", "state"), Some(LinkState::Waiting as u64));
    // Values while disconnected: only the newest is kept.
    rig.set(out, Value::from_raw(10, 8));
    rig.turn(Duration::ZERO).unwrap();
    rig.set(out, Value::from_raw(255, 8));
    rig.turn(Duration::ZERO).unwrap();
    // The next attempt is 0.5 s ±20 % away: nothing happens before.
    rig.advance(Duration::from_millis(390));
    for _ in 0..5 {
        rig.turn(Duration::from_millis(5)).unwrap();
    }
    assert_eq!(rig.stat("mq", "connect_failures"), Some(1));
    // The broker appears on the port.
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the port again");
    listener.set_nonblocking(true).expect("nonblocking");
    let mut broker = Broker {
        listener,
        conn: None,
        rx: Vec::new(),
        packets: Vec::new(),
        eof: false,
        protocol: Protocol::V5,
    };
    rig.advance(Duration::from_millis(220));
    handshake(&mut rig, &mut broker, false);
    let p = until(&mut rig, &mut broker, "the last value", |_, b| {
        take(b, PUBLISH)
    });
    assert_eq!(published(&broker, &p), ("out/x".into(), "1.000000".into()));
    broker.poll();
    assert!(
        take(&mut broker, PUBLISH).is_none(),
        "only the newest value"
    );
    assert_eq!(rig.stat("mq", "state"), Some(LinkState::Connected as u64));
    assert_eq!(rig.stat("mq", "reconnects"), Some(0));
}

#[test]
fn a_lost_connection_is_reestablished_and_the_last_value_published_again() {
    let mut broker = Broker::bind();
    let mut rig = Rig::new(Mqtt::new());
    let mq = instance(&mut rig, &format!("127.0.0.1:{}", broker.port()));
    let out = rig.output(mq, "out/x").unwrap();
    let input = rig.input(mq, "in/x").unwrap();
    rig.start().unwrap();
    handshake(&mut rig, &mut broker, true);
    rig.set(out, Value::from_normalised(0.5));
    let p = until(&mut rig, &mut broker, "PUBLISH", |_, b| take(b, PUBLISH));
    assert_eq!(published(&broker, &p).1, "0.500000");
    broker.drop_connection();
    until(&mut rig, &mut broker, "loss noticed", |r, _| {
        (r.stat("mq", "connections_lost") == Some(1)).then_some(())
    });
    // Back-off 0.5 s ±20 %.
    rig.advance(Duration::from_millis(600));
    let filters = handshake(&mut rig, &mut broker, true);
    assert_eq!(filters, ["in/x"], "subscribed again");
    let p = until(&mut rig, &mut broker, "republished", |_, b| {
        take(b, PUBLISH)
    });
    assert_eq!(published(&broker, &p), ("out/x".into(), "0.500000".into()));
    publish(&mut broker, "in/x", b"1");
    let e = until(&mut rig, &mut broker, "input after reconnect", |r, _| {
        r.events().first().copied()
    });
    assert_eq!((e.channel, e.value.normalised()), (input, 1.0));
    assert_eq!(rig.stat("mq", "reconnects"), Some(1));
    assert_eq!(rig.stat("mq", "sessions"), Some(2));
}

#[test]
fn malformed_input_is_counted_and_the_connection_renewed() {
    let mut broker = Broker::bind();
    let mut rig = Rig::new(Mqtt::new());
    let mq = instance(&mut rig, &format!("127.0.0.1:{}", broker.port()));
    rig.input(mq, "in/x").unwrap();
    rig.start().unwrap();
    handshake(&mut rig, &mut broker, true);
    // PUBLISH with QoS bits 3.
    broker.send_raw(&[0x36, 0x07, 0x00, 0x01, b'a', 0x00, 0x01, 0x00, b'1']);
    let d = until(&mut rig, &mut broker, "DISCONNECT 0x81", |_, b| {
        take(b, DISCONNECT)
    });
    // MQTT 5: the client says why before it closes.
    assert_eq!(d, [0xE0, 0x01, 0x81]);
    until(&mut rig, &mut broker, "closed", |_, b| b.eof.then_some(()));
    assert_eq!(rig.stat("mq", "malformed.bad_qos"), Some(1));
    assert_eq!(rig.stat("mq", "malformed"), Some(1));
    assert_eq!(rig.stat("mq", "connections_lost"), Some(1));
    rig.advance(Duration::from_millis(600));
    handshake(&mut rig, &mut broker, true);
}

#[test]
fn more_than_a_turns_read_budget_arrives_whole() {
    let mut broker = Broker::bind();
    let mut rig = Rig::new(Mqtt::new());
    let mq = instance(&mut rig, &format!("127.0.0.1:{}", broker.port()));
    let input = rig.input(mq, "in/x").unwrap();
    rig.start().unwrap();
    handshake(&mut rig, &mut broker, true);
    // 10,000 messages, about 150 KB: more than two turns' budget.
    let n = 10_000u32;
    let mut bytes = Vec::new();
    for i in 0..n {
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "in/x",
            packet_id: 0,
            properties: Properties::EMPTY,
            payload: format!("{:.6}", f64::from(i % 1000) / 1000.0).as_bytes(),
        })
        .write(Protocol::V5, &mut bytes)
        .expect("build");
    }
    assert!(bytes.len() > 2 * session::READ_BUDGET);
    broker.send_raw(&bytes);
    let events = until(&mut rig, &mut broker, "every message", |r, _| {
        (r.events().len() == n as usize).then(|| r.events())
    });
    assert!(events.iter().all(|e| e.channel == input));
    for (i, e) in events.iter().enumerate() {
        assert_eq!(
            e.value.normalised(),
            (i % 1000) as f64 / 1000.0,
            "message {i}"
        );
    }
    assert_eq!(rig.stat("mq", "messages_in"), Some(u64::from(n)));
}

#[test]
fn qos1_publications_wait_for_their_acknowledgement() {
    let mut broker = Broker::bind();
    let mut rig = Rig::new(Mqtt::new());
    let mq = instance(&mut rig, &format!("127.0.0.1:{}", broker.port()));
    rig.configure_instance(mq, "qos", "1").unwrap();
    rig.configure_instance(mq, "retain", "on").unwrap();
    let out = rig.output(mq, "out/x").unwrap();
    rig.start().unwrap();
    handshake(&mut rig, &mut broker, false);
    rig.set(out, Value::from_normalised(1.0));
    let p = until(&mut rig, &mut broker, "PUBLISH", |_, b| take(b, PUBLISH));
    let Packet::Publish(publ) = Packet::parse(Protocol::V5, &p).expect("parse") else {
        panic!("not PUBLISH");
    };
    assert_eq!((publ.qos, publ.retain), (QoS::AtLeastOnce, true));
    assert_eq!(rig.stat("mq", "in_flight"), Some(1));
    broker.send(Packet::PubAck(Ack::ok(publ.packet_id)));
    until(&mut rig, &mut broker, "acknowledged", |r, _| {
        (r.stat("mq", "in_flight") == Some(0)).then_some(())
    });
}

#[test]
fn shutdown_says_disconnect_and_waits_for_the_broker_to_close() {
    let mut broker = Broker::bind();
    let mut rig = Rig::new(Mqtt::new());
    let mq = instance(&mut rig, &format!("127.0.0.1:{}", broker.port()));
    rig.input(mq, "in/x").unwrap();
    rig.start().unwrap();
    handshake(&mut rig, &mut broker, true);
    until(&mut rig, &mut broker, "connected", |r, _| {
        (r.stat("mq", "state") == Some(LinkState::Connected as u64)).then_some(())
    });
    rig.shutdown();
    let d = until(&mut rig, &mut broker, "DISCONNECT", |_, b| {
        take(b, DISCONNECT)
    });
    // MQTT 5 DISCONNECT, normal, ending the session the broker would otherwise keep.
    match Packet::parse(Protocol::V5, &d).expect("DISCONNECT parses") {
        Packet::Disconnect(d) => {
            assert_eq!(d.reason, 0);
            let expiry: Vec<_> = d.properties.iter().collect();
            assert_eq!(
                expiry,
                [patchbay_mqtt::wire::Property::SessionExpiryInterval(0)]
            );
        }
        other => panic!("{other:?}"),
    }
    until(&mut rig, &mut broker, "end of stream", |_, b| {
        b.eof.then_some(())
    });
    assert!(
        !rig.backend().shutdown_complete(),
        "waits for the broker's close"
    );
    // The broker closes its side (what mosquitto does after DISCONNECT).
    broker.conn = None;
    let exit = until(&mut rig, &mut broker, "loop ends", |r, _| {
        r.turn(Duration::from_millis(5)).expect("turn")
    });
    assert!(matches!(exit, patchbay_core::Exit::Clean), "{exit:?}");
    assert_eq!(rig.stat("mq", "state"), Some(LinkState::Stopped as u64));
}

#[test]
fn a_host_name_is_looked_up_off_the_loop() {
    let mut broker = Broker::bind();
    let mut rig = Rig::new(Mqtt::new());
    let mq = instance(&mut rig, &format!("mqtt://localhost:{}", broker.port()));
    rig.output(mq, "out/x").unwrap();
    rig.start().unwrap();
    handshake(&mut rig, &mut broker, false);
    assert_eq!(rig.stat("mq", "resolve_failures"), Some(0));
}

#[test]
fn a_name_that_does_not_resolve_is_retried() {
    patchbay_net::netns::require_private_netns();
    let mut rig = Rig::new(Mqtt::new());
    let mq = instance(&mut rig, "mqtt://no-such-host.invalid:1883");
    rig.output(mq, "out/x").unwrap();
    rig.start().unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while rig.stat("mq", "resolve_failures") != Some(1) {
        rig.turn(Duration::from_millis(20)).unwrap();
        assert!(Instant::now() < end, "no failed look-up");
    }
    assert_eq!(rig.stat("mq", "connect_failures"), Some(1));
    assert_eq!(rig.stat("mq", "state"), Some(LinkState::Waiting as u64));
    rig.advance(Duration::from_millis(600));
    let end = Instant::now() + Duration::from_secs(20);
    while rig.stat("mq", "resolve_failures") != Some(2) {
        rig.turn(Duration::from_millis(20)).unwrap();
        assert!(Instant::now() < end, "no second look-up");
    }
}

// ---------------------------------------------------------------------------------------------
// Any configuration text
// ---------------------------------------------------------------------------------------------

mod any_text {
    use std::path::Path;

    use patchbay_core::{Backend, ChannelCtx, ChannelIds, ConfigCtx, Direction, InstanceId};
    use proptest::prelude::*;

    use super::super::Mqtt;

    struct Ids(u32);

    impl ChannelIds for Ids {
        fn resolve(&mut self, _: InstanceId, _: u64) -> patchbay_core::ChannelId {
            self.0 += 1;
            patchbay_core::ChannelId(self.0)
        }
    }

    /// Text made of what URIs, topics and settings are made of, and anything else now and then.
    fn text(max: usize) -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::string::string_regex(&format!("[a-z0-9/+#!:@. \\[\\]-]{{0,{max}}}"))
                .expect("regex"),
            proptest::string::string_regex(&format!("(range|discrete|mqtts?://)[ -~]{{0,{max}}}"))
                .expect("regex"),
            proptest::string::string_regex(&format!("\\PC{{0,{max}}}")).expect("regex"),
        ]
    }

    proptest! {
        /// Every option line, channel name and the validation that follows is accepted or
        /// refused with a message, never a panic; a refused line changes nothing for the next.
        #[test]
        fn any_line_and_channel_is_accepted_or_refused(
            lines in proptest::collection::vec(
                (prop_oneof![
                    Just("host".to_string()), Just("qos".to_string()), Just("retain".to_string()),
                    Just("cafile".to_string()), Just("clientid".to_string()),
                    Just("protocol".to_string()), text(12)
                ], text(30)),
                0..8,
            ),
            channels in proptest::collection::vec((text(20), any::<bool>()), 0..6),
        ) {
            let mut m = Mqtt::new();
            let id = InstanceId(0);
            m.create_instance(id, "mq").unwrap();
            let mut warnings = Vec::new();
            for (k, v) in &lines {
                let mut ctx = ConfigCtx {
                    base_dir: Path::new("/etc"),
                    config_path: Path::new("/etc/x.cfg"),
                    warnings: &mut warnings,
                };
                if let Err(e) = m.configure_instance(id, k, v, &mut ctx) {
                    prop_assert!(!e.to_string().is_empty());
                }
            }
            let mut ids = Ids(0);
            let mut w = Vec::new();
            for (name, input) in &channels {
                let d = if *input { Direction::Input } else { Direction::Output };
                let mut ctx = ChannelCtx { ids: &mut ids, warnings: &mut w };
                if let Err(e) = m.channel(id, name, d, &mut ctx) {
                    prop_assert!(!e.message.is_empty());
                    prop_assert!(!*input || name.is_empty() || name.contains(['+', '#', '\0']));
                }
            }
            let _ = m.validate();
        }
    }
}
