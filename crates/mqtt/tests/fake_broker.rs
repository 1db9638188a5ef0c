//! The client against a scripted broker: bytes in, expected bytes out, with a fake clock.
//! No sockets: the test plays both the owner of the connection and the broker.

use std::time::{Duration, Instant};

use patchbay_mqtt::client::{Backoff, DisconnectReason, Output, Subscription};
use patchbay_mqtt::wire::{Ack, Packet, ParseError, Properties, Protocol, QoS};
use patchbay_mqtt::{Client, Config, Event, OutputId, SubscriptionId};

#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Open,
    Close,
    Connected(bool, Protocol),
    Disconnected(DisconnectReason, Option<Duration>),
    Message {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        subs: Vec<u32>,
    },
    Subscribed(u32, u8),
    PublishFailed(u32, u8),
}

struct Rig {
    c: Client,
    t0: Instant,
    now: Instant,
}

fn config(protocol: Protocol) -> Config {
    let mut cfg = Config::new("pb");
    cfg.protocol = protocol;
    cfg.backoff = Backoff {
        jitter: 0.0,
        ..Backoff::default()
    };
    cfg.subscriptions = vec![
        Subscription {
            filter: "in/a".into(),
            qos: QoS::AtMostOnce,
        },
        Subscription {
            filter: "in/+".into(),
            qos: QoS::AtLeastOnce,
        },
    ];
    cfg.outputs = vec![
        Output {
            topic: "out/0".into(),
            qos: QoS::AtMostOnce,
            retain: false,
        },
        Output {
            topic: "out/1".into(),
            qos: QoS::AtLeastOnce,
            retain: true,
        },
        Output {
            topic: "out/2".into(),
            qos: QoS::ExactlyOnce,
            retain: false,
        },
    ];
    cfg
}

impl Rig {
    fn new(cfg: Config) -> Rig {
        let t0 = Instant::now();
        Rig {
            c: Client::new(cfg, t0),
            t0,
            now: t0,
        }
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.c.handle_timeout(self.now);
    }

    /// Runs timers up to the client's next deadline.
    fn run_to_deadline(&mut self) -> Duration {
        let at = self.c.poll_timeout().expect("deadline");
        let d = at.saturating_duration_since(self.now);
        self.advance(d);
        d
    }

    fn events(&mut self) -> Vec<Ev> {
        let now = self.now;
        let mut v = Vec::new();
        while let Some(e) = self.c.poll_event() {
            v.push(match e {
                Event::Open => Ev::Open,
                Event::Close => Ev::Close,
                Event::Connected {
                    session_present,
                    protocol,
                } => Ev::Connected(session_present, protocol),
                Event::Disconnected { reason, retry_at } => {
                    Ev::Disconnected(reason, retry_at.map(|t| t - now))
                }
                Event::Message(m) => Ev::Message {
                    topic: m.topic.into(),
                    payload: m.payload.into(),
                    qos: m.qos,
                    retain: m.retain,
                    subs: m.subscriptions.iter().map(|s| s.0).collect(),
                },
                Event::Subscribed { subscription, code } => Ev::Subscribed(subscription.0, code),
                Event::PublishFailed { output, code } => Ev::PublishFailed(output.0, code),
            });
        }
        v
    }

    /// Everything the client wants to write.
    fn out(&mut self) -> Vec<u8> {
        let b = self.c.output().to_vec();
        self.c.consume_output(b.len());
        b
    }

    fn input(&mut self, b: &[u8]) {
        self.c.handle_input(self.now, b);
    }

    /// Opens the connection: the first Open event, transport up, CONNECT bytes returned.
    fn open(&mut self) -> Vec<u8> {
        self.run_to_deadline();
        assert_eq!(self.events(), [Ev::Open]);
        self.c.transport_connected(self.now);
        self.out()
    }

    /// Connects and accepts with the given CONNACK, returns the bytes sent after it.
    fn connect(&mut self, connack: &[u8]) -> Vec<u8> {
        self.open();
        self.input(connack);
        self.out()
    }
}

fn packets(protocol: Protocol, mut b: &[u8]) -> Vec<Packet<'_>> {
    let mut v = Vec::new();
    while !b.is_empty() {
        let f = patchbay_mqtt::wire::frame(b)
            .expect("frame")
            .expect("whole");
        let (one, rest) = b.split_at(f.len());
        v.push(Packet::parse(protocol, one).expect("client sent a valid packet"));
        b = rest;
    }
    v
}

const V5_CONNACK: [u8; 5] = [0x20, 0x03, 0x00, 0x00, 0x00];
const V5_CONNACK_SESSION: [u8; 5] = [0x20, 0x03, 0x01, 0x00, 0x00];
const V3_CONNACK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];

/// SUBSCRIBE of both test filters, packet id `id`, no-local set on MQTT 5.
fn subscribe_bytes(protocol: Protocol, id: u8) -> Vec<u8> {
    let (nl, props): (u8, &[u8]) = if protocol.is_v5() {
        (0x04, &[0x00])
    } else {
        (0x00, &[])
    };
    let mut b = vec![0x82, 0, 0x00, id];
    b.extend_from_slice(props);
    b.extend_from_slice(&[0x00, 0x04, b'i', b'n', b'/', b'a', nl]);
    b.extend_from_slice(&[0x00, 0x04, b'i', b'n', b'/', b'+', nl | 0x01]);
    b[1] = (b.len() - 2) as u8;
    b
}

#[test]
fn v5_connect_bytes_and_subscriptions() {
    let mut r = Rig::new(config(Protocol::V5));
    assert_eq!(r.c.poll_timeout(), Some(r.t0), "first attempt at once");
    let connect = r.open();
    // Clean start, keep alive 20, Maximum Packet Size 262144, client id "pb".
    assert_eq!(
        connect,
        [
            0x10, 0x14, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x14, 0x05, 0x27,
            0x00, 0x04, 0x00, 0x00, 0x00, 0x02, b'p', b'b'
        ]
    );
    r.input(&V5_CONNACK);
    assert_eq!(r.events(), [Ev::Connected(false, Protocol::V5)]);
    assert_eq!(r.out(), subscribe_bytes(Protocol::V5, 1));
    r.input(&[0x90, 0x05, 0x00, 0x01, 0x00, 0x00, 0x80]);
    assert_eq!(r.events(), [Ev::Subscribed(0, 0), Ev::Subscribed(1, 0x80)]);
    assert!(r.c.is_connected());
}

#[test]
fn v5_refused_as_unsupported_falls_back_to_v311_at_once() {
    for refusal in [
        &[0x20, 0x02, 0x00, 0x01][..],
        &[0x20, 0x03, 0x00, 0x84, 0x00][..],
    ] {
        let mut r = Rig::new(config(Protocol::V5));
        r.open();
        r.input(refusal);
        assert_eq!(
            r.events(),
            [
                Ev::Close,
                Ev::Disconnected(DisconnectReason::ProtocolFallback, Some(Duration::ZERO))
            ]
        );
        let connect = r.open();
        assert_eq!(
            connect,
            [
                0x10, 0x0E, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x14, 0x00, 0x02,
                b'p', b'b'
            ]
        );
        r.input(&V3_CONNACK);
        assert_eq!(r.events(), [Ev::Connected(false, Protocol::V311)]);
        assert_eq!(r.out(), subscribe_bytes(Protocol::V311, 1));
        // Later reconnections stay on 3.1.1.
        r.c.transport_closed(r.now);
        r.events();
        assert_eq!(r.open()[8], 4);
    }
}

#[test]
fn v311_refusal_is_not_a_fallback() {
    let mut r = Rig::new(config(Protocol::V311));
    r.open();
    r.input(&[0x20, 0x02, 0x00, 0x05]);
    assert_eq!(
        r.events(),
        [
            Ev::Close,
            Ev::Disconnected(
                DisconnectReason::Refused {
                    code: 5,
                    protocol: Protocol::V311
                },
                Some(Duration::from_millis(500))
            )
        ]
    );
    let text = DisconnectReason::Refused {
        code: 5,
        protocol: Protocol::V311,
    }
    .to_string();
    assert!(text.contains("not authorized"), "{text}");
}

#[test]
fn incoming_messages_at_each_qos_with_wildcards() {
    let mut r = Rig::new(config(Protocol::V5));
    r.connect(&V5_CONNACK);
    r.events();
    // QoS 0 on in/a: matches the exact filter and in/+.
    r.input(&[
        0x31, 0x0A, 0x00, 0x04, b'i', b'n', b'/', b'a', 0x00, b'0', b'.', b'5',
    ]);
    assert_eq!(
        r.events(),
        [Ev::Message {
            topic: "in/a".into(),
            payload: b"0.5".to_vec(),
            qos: QoS::AtMostOnce,
            retain: true,
            subs: vec![0, 1],
        }]
    );
    assert!(r.out().is_empty(), "QoS 0 is not acknowledged");
    // QoS 1 on in/b: only the wildcard; PUBACK.
    r.input(&[
        0x32, 0x0A, 0x00, 0x04, b'i', b'n', b'/', b'b', 0x00, 0x07, 0x00, b'1',
    ]);
    assert!(
        matches!(&r.events()[..], [Ev::Message { subs, qos: QoS::AtLeastOnce, .. }] if subs == &[1])
    );
    assert_eq!(r.out(), [0x40, 0x02, 0x00, 0x07]);
    // QoS 2: PUBREC; the same id again before PUBREL is not delivered twice; PUBREL → PUBCOMP.
    let q2 = [
        0x34, 0x0A, 0x00, 0x04, b'i', b'n', b'/', b'b', 0x00, 0x08, 0x00, b'1',
    ];
    r.input(&q2);
    assert_eq!(r.events().len(), 1);
    assert_eq!(r.out(), [0x50, 0x02, 0x00, 0x08]);
    let mut dup = q2;
    dup[0] |= 0x08;
    r.input(&dup);
    assert_eq!(r.events(), []);
    assert_eq!(r.out(), [0x50, 0x02, 0x00, 0x08]);
    assert_eq!(r.c.stats().duplicate_qos2, 1);
    r.input(&[0x62, 0x02, 0x00, 0x08]);
    assert_eq!(r.out(), [0x70, 0x02, 0x00, 0x08]);
    // Unmatched topics and $-topics are counted, not delivered.
    r.input(&[0x30, 0x07, 0x00, 0x04, b'o', b't', b'h', b'r', 0x00]);
    r.input(&[0x30, 0x07, 0x00, 0x04, b'i', b'n', b'/', b'x', 0x00]);
    assert_eq!(r.events().len(), 1);
    assert_eq!(r.c.stats().unmatched, 1);
}

#[test]
fn dollar_topics_are_not_matched_by_a_leading_wildcard() {
    let mut cfg = config(Protocol::V311);
    cfg.subscriptions = vec![Subscription {
        filter: "#".into(),
        qos: QoS::AtMostOnce,
    }];
    let mut r = Rig::new(cfg);
    r.connect(&V3_CONNACK);
    r.events();
    r.input(&[0x30, 0x06, 0x00, 0x04, b'$', b'S', b'Y', b'S']);
    r.input(&[0x30, 0x06, 0x00, 0x04, b'a', b'/', b'b', b'c']);
    let ev = r.events();
    assert_eq!(ev.len(), 1);
    assert!(matches!(&ev[0], Ev::Message { topic, .. } if topic == "a/bc"));
}

#[test]
fn outgoing_publications_at_each_qos() {
    let mut r = Rig::new(config(Protocol::V5));
    r.connect(&V5_CONNACK);
    r.events();
    let now = r.now;
    r.c.publish(now, OutputId(0), b"0.500000");
    // QoS 0, no properties (MIDIMonster misreads a Payload Format Indicator, see the client).
    assert_eq!(
        r.out(),
        [
            0x30, 0x10, 0x00, 0x05, b'o', b'u', b't', b'/', b'0', 0x00, b'0', b'.', b'5', b'0',
            b'0', b'0', b'0', b'0'
        ]
    );
    r.c.publish(now, OutputId(1), b"1");
    // QoS 1 retained, packet id 2 (1 went to SUBSCRIBE).
    assert_eq!(
        r.out(),
        [
            0x33, 0x0B, 0x00, 0x05, b'o', b'u', b't', b'/', b'1', 0x00, 0x02, 0x00, b'1'
        ]
    );
    assert_eq!(r.c.in_flight(), 1);
    r.input(&[0x40, 0x02, 0x00, 0x02]);
    assert_eq!(r.c.in_flight(), 0);
    r.c.publish(now, OutputId(2), b"x");
    assert_eq!(
        r.out(),
        [
            0x34, 0x0B, 0x00, 0x05, b'o', b'u', b't', b'/', b'2', 0x00, 0x03, 0x00, b'x'
        ]
    );
    r.input(&[0x50, 0x02, 0x00, 0x03]);
    assert_eq!(r.out(), [0x62, 0x02, 0x00, 0x03]);
    assert_eq!(r.c.in_flight(), 1);
    r.input(&[0x70, 0x02, 0x00, 0x03]);
    assert_eq!(r.c.in_flight(), 0);
    // A refusal by reason code is reported.
    r.c.publish(now, OutputId(1), b"2");
    r.out();
    r.input(&[0x40, 0x03, 0x00, 0x04, 0x87]);
    assert_eq!(r.events(), [Ev::PublishFailed(1, 0x87)]);
}

#[test]
fn v311_publications_have_no_properties() {
    let mut r = Rig::new(config(Protocol::V311));
    r.connect(&V3_CONNACK);
    let now = r.now;
    r.c.publish(now, OutputId(0), b"1");
    assert_eq!(
        r.out(),
        [0x30, 0x08, 0x00, 0x05, b'o', b'u', b't', b'/', b'0', b'1']
    );
}

#[test]
fn in_flight_window_keeps_only_the_newest_waiting_value() {
    let mut cfg = config(Protocol::V5);
    cfg.max_in_flight = 1;
    let mut r = Rig::new(cfg);
    r.connect(&V5_CONNACK);
    let now = r.now;
    for v in [b"1", b"2", b"3"] {
        r.c.publish(now, OutputId(1), v);
    }
    let sent = r.out();
    let p = packets(Protocol::V5, &sent);
    assert!(matches!(p[..], [Packet::Publish(ref x)] if x.payload == b"1"));
    // The broker's Receive Maximum cannot raise the window above the configuration's.
    r.input(&[0x40, 0x02, 0x00, 0x02]);
    let sent = r.out();
    let p = packets(Protocol::V5, &sent);
    assert!(
        matches!(p[..], [Packet::Publish(ref x)] if x.payload == b"3"),
        "{p:?}"
    );
}

#[test]
fn keep_alive_pings_and_a_missing_pingresp_reconnects() {
    let mut r = Rig::new(config(Protocol::V311));
    r.connect(&V3_CONNACK);
    r.events();
    // Half the keep alive (20 s) without traffic: PINGREQ.
    assert_eq!(r.run_to_deadline(), Duration::from_secs(10));
    assert_eq!(r.out(), [0xC0, 0x00]);
    r.input(&[0xD0, 0x00]);
    assert_eq!(r.run_to_deadline(), Duration::from_secs(10));
    assert_eq!(r.out(), [0xC0, 0x00]);
    assert_eq!(r.events(), []);
    // No answer within the ping timeout (10 s): the connection is dropped.
    assert_eq!(r.run_to_deadline(), Duration::from_secs(10));
    r.out();
    assert_eq!(
        r.events(),
        [
            Ev::Close,
            Ev::Disconnected(
                DisconnectReason::PingTimeout,
                Some(Duration::from_millis(500))
            )
        ]
    );
}

#[test]
fn server_keep_alive_overrides_the_configured_one() {
    let mut r = Rig::new(config(Protocol::V5));
    r.connect(&[0x20, 0x06, 0x00, 0x00, 0x03, 0x13, 0x00, 0x04]);
    assert_eq!(r.run_to_deadline(), Duration::from_secs(2));
    assert_eq!(r.out(), [0xC0, 0x00]);
}

#[test]
fn connect_timeout_and_exponential_backoff() {
    let mut r = Rig::new(config(Protocol::V311));
    r.open();
    // No CONNACK within 10 s.
    assert_eq!(r.run_to_deadline(), Duration::from_secs(10));
    assert_eq!(
        r.events(),
        [
            Ev::Close,
            Ev::Disconnected(
                DisconnectReason::ConnectTimeout,
                Some(Duration::from_millis(500))
            )
        ]
    );
    // Attempts that fail at once back off 0.5, 1, 2, 4, 8, 10, 10 s.
    let mut delays = Vec::new();
    for _ in 0..6 {
        delays.push(r.run_to_deadline());
        assert_eq!(r.events(), [Ev::Open]);
        r.c.transport_closed(r.now);
        r.events();
    }
    let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [500, 1000, 2000, 4000, 8000, 10_000]);
    // A connection that lasts resets the back-off.
    assert_eq!(r.run_to_deadline(), Duration::from_secs(10));
    r.events();
    r.c.transport_connected(r.now);
    r.input(&V3_CONNACK);
    r.advance(Duration::from_secs(9));
    r.input(&[0xD0, 0x00]);
    r.advance(Duration::from_secs(9));
    r.c.transport_closed(r.now);
    assert!(r.events().contains(&Ev::Disconnected(
        DisconnectReason::TransportClosed,
        Some(Duration::from_millis(500))
    )));
}

#[test]
fn new_session_resubscribes_and_republishes_last_values() {
    let mut r = Rig::new(config(Protocol::V5));
    r.connect(&V5_CONNACK);
    r.events();
    let now = r.now;
    r.c.publish(now, OutputId(0), b"0.1");
    r.c.publish(now, OutputId(1), b"0.2");
    r.out();
    // A value given while disconnected is kept too.
    r.c.transport_closed(r.now);
    r.c.publish(now, OutputId(2), b"0.3");
    r.c.publish(now, OutputId(0), b"0.4");
    assert!(r.out().is_empty(), "nothing is written while disconnected");
    r.events();
    let connect = r.open();
    // Reconnection: Clean Start 0 and Session Expiry Interval 60 s.
    assert_eq!(connect[9], 0x00);
    assert_eq!(&connect[12..18], &[0x0A, 0x11, 0x00, 0x00, 0x00, 0x3C]);
    // The broker lost the session (restart without persistence).
    r.input(&V5_CONNACK);
    assert_eq!(r.events(), [Ev::Connected(false, Protocol::V5)]);
    let sent = r.out();
    let p = packets(Protocol::V5, &sent);
    assert!(matches!(p[0], Packet::Subscribe(_)));
    let pubs: Vec<(&str, &[u8], bool)> = p[1..]
        .iter()
        .map(|x| match x {
            Packet::Publish(x) => (x.topic, x.payload, x.dup),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        pubs,
        [
            ("out/2", &b"0.3"[..], false),
            ("out/0", &b"0.4"[..], false),
            ("out/1", &b"0.2"[..], false)
        ]
    );
}

#[test]
fn kept_session_resends_unacknowledged_with_dup() {
    let mut r = Rig::new(config(Protocol::V5));
    r.connect(&V5_CONNACK);
    let now = r.now;
    r.c.publish(now, OutputId(1), b"a");
    r.c.publish(now, OutputId(2), b"b");
    r.out();
    // PUBREC for the QoS 2 one: PUBREL is the next step.
    r.input(&[0x50, 0x02, 0x00, 0x03]);
    r.out();
    r.c.transport_closed(r.now);
    r.events();
    r.open();
    r.input(&V5_CONNACK_SESSION);
    assert_eq!(r.events(), [Ev::Connected(true, Protocol::V5)]);
    let sent = r.out();
    let p = packets(Protocol::V5, &sent);
    assert_eq!(p.len(), 2, "no SUBSCRIBE, no re-publication: {p:?}");
    assert!(
        matches!(p[0], Packet::Publish(ref x) if x.dup && x.packet_id == 2 && x.payload == b"a" && x.retain)
    );
    assert_eq!(p[1], Packet::PubRel(Ack::ok(3)));
    r.input(&[0x40, 0x02, 0x00, 0x02, 0x70, 0x02, 0x00, 0x03]);
    assert_eq!(r.c.in_flight(), 0);
}

#[test]
fn malformed_packet_from_the_broker_closes_with_reason_0x81() {
    let mut r = Rig::new(config(Protocol::V5));
    r.connect(&V5_CONNACK);
    r.events();
    // PUBLISH with QoS 3.
    r.input(&[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01]);
    assert_eq!(r.out(), [0xE0, 0x01, 0x81]);
    assert_eq!(
        r.events(),
        [
            Ev::Close,
            Ev::Disconnected(
                DisconnectReason::Malformed(ParseError::BadQos),
                Some(Duration::from_millis(500))
            )
        ]
    );
    assert_eq!(r.c.stats().malformed[ParseError::BadQos.index()], 1);
    // Data after the close is ignored.
    r.input(&[0x30]);
    assert!(r.out().is_empty());
}

#[test]
fn broker_disconnect_and_topic_alias_are_handled() {
    let mut r = Rig::new(config(Protocol::V5));
    r.connect(&V5_CONNACK);
    r.events();
    r.input(&[0xE0, 0x01, 0x8B]);
    assert_eq!(
        r.events()[1],
        Ev::Disconnected(
            DisconnectReason::ServerDisconnect(0x8B),
            Some(Duration::from_millis(500))
        )
    );
    r.run_to_deadline();
    r.events();
    r.c.transport_connected(r.now);
    r.input(&V5_CONNACK);
    r.out();
    r.events();
    // A topic alias although the client allowed none.
    r.input(&[0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01]);
    assert_eq!(r.out(), [0xE0, 0x01, 0x82]);
}

#[test]
fn packets_split_anywhere_are_reassembled() {
    let mut r = Rig::new(config(Protocol::V311));
    r.connect(&V3_CONNACK);
    r.events();
    let stream = [
        0x30, 0x07, 0x00, 0x04, b'i', b'n', b'/', b'a', b'1', 0x30, 0x07, 0x00, 0x04, b'i', b'n',
        b'/', b'a', b'2',
    ];
    for b in stream {
        r.input(&[b]);
    }
    let payloads: Vec<Vec<u8>> = r
        .events()
        .into_iter()
        .map(|e| match e {
            Ev::Message { payload, .. } => payload,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(payloads, [b"1".to_vec(), b"2".to_vec()]);
}

#[test]
fn oversize_v311_packets_are_skipped() {
    let mut cfg = config(Protocol::V311);
    cfg.max_packet_size = 16;
    let mut r = Rig::new(cfg);
    r.connect(&V3_CONNACK);
    r.events();
    let mut big = vec![0x30, 0x1A, 0x00, 0x04, b'i', b'n', b'/', b'a'];
    big.extend_from_slice(&[b'9'; 20]);
    big.extend_from_slice(&[0x30, 0x07, 0x00, 0x04, b'i', b'n', b'/', b'a', b'5']);
    r.input(&big[..10]);
    r.input(&big[10..]);
    let ev = r.events();
    assert_eq!(ev.len(), 1);
    assert!(matches!(&ev[0], Ev::Message { payload, .. } if payload == b"5"));
    assert_eq!(r.c.stats().oversize, 1);
}

#[test]
fn midimonster_v5_length_prefix_is_removed() {
    let mut r = Rig::new(config(Protocol::V5));
    r.connect(&V5_CONNACK);
    r.events();
    // MIDIMonster 0.6 sends "0.500000" as 00 08 "0.500000" with Payload Format Indicator 1.
    let mut p = vec![
        0x30, 0, 0x00, 0x04, b'i', b'n', b'/', b'a', 0x02, 0x01, 0x01, 0x00, 0x08,
    ];
    p.extend_from_slice(b"0.500000");
    p[1] = (p.len() - 2) as u8;
    r.input(&p);
    assert!(matches!(&r.events()[0], Ev::Message { payload, .. } if payload == b"0.500000"));
}

#[test]
fn disconnect_sends_disconnect_and_stops() {
    let mut r = Rig::new(config(Protocol::V311));
    r.connect(&V3_CONNACK);
    r.events();
    r.c.disconnect(r.now);
    assert_eq!(r.out(), [0xE0, 0x00]);
    assert_eq!(
        r.events(),
        [
            Ev::Close,
            Ev::Disconnected(DisconnectReason::Requested, None)
        ]
    );
    assert_eq!(r.c.poll_timeout(), None);
    let _ = SubscriptionId(0);
    let _ = Properties::EMPTY;
}
