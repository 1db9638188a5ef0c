//! MQTT 3.1.1 and 5 for patchbay: a sans-IO client, its codec, a TLS layer and MIDIMonster's
//! value mapping. No sockets, no threads, no clock: bytes and `Instant`s go in, bytes,
//! deadlines and events come out.
//!
//! # Why a sans-IO client in patchbay's loop, not a thread
//!
//! The issue allowed either "a sans-IO client driven by the loop's sockets" or "a dedicated
//! thread with a wake-up channel". This crate is the former, because:
//! * MQTT is one TCP stream whose work per message is small (a 30 ns parse and a hash lookup,
//!   see BENCHMARKS.md): nothing in it blocks or needs a CPU of its own, so a thread would add
//!   a channel hop and a wake-up to every message in each direction and buy nothing.
//! * Every timing rule (keep-alive, PINGRESP timeout, connect timeout, back-off) is a deadline
//!   the loop already knows how to wait for ([`Client::poll_timeout`]); with a fake clock they
//!   are tested exactly (tests/fake_broker.rs) instead of with sleeps.
//! * A reconnection cannot block anything: the client only says "open a connection now"
//!   ([`Event::Open`]) and the loop opens a non-blocking socket; DNS, if the host is a name,
//!   is the backend's business at start.
//! * TLS fits the same shape: rustls's `ClientConnection` is sans-IO too
//!   ([`transport::Transport`]).
//!
//! # Why a hand-written codec
//!
//! `mqtt-protocol-core` (sans-IO, 3.1.1 and 5) returns a `Vec` of events per call, owns
//! strings and `Arc` payloads and runs its own timer protocol; `mqttbytes` is no longer
//! published on its own and owns `String` topics; `rumqttc`'s codec needs tokio. A client
//! needs fourteen packet types and one property table: [`wire`] parses them strictly
//! (everything the specifications call malformed is rejected with a counted
//! [`wire::ParseError`]) into zero-copy views and writes them into a reused `Vec`, so neither
//! message path allocates after warm-up (tests/no_alloc.rs). It has a fuzz target for the
//! parser and one for the whole client.
//!
//! # Modules
//!
//! * [`wire`]: framing, [`wire::Packet::parse`] and [`wire::Packet::write`] for every packet
//!   type of both versions, v5 properties and reason codes.
//! * [`topic`]: topic name and filter rules (channel names), wildcard matching (`$` topics
//!   are not matched by a leading wildcard), [`topic::TopicTable`].
//! * [`client`]: the [`Client`] state machine; [`client::Config`], [`Event`].
//! * [`transport`]: `Plain | Tls` between socket bytes and the client; system roots or a CA
//!   file; ring as the crypto provider.
//! * [`mapping`]: MIDIMonster's `range` / `discrete` payload mapping and its number format.
//! * [`broker`]: the `host` option (`mqtt[s]://[user][:password]@host[:port]`).
//!
//! # Behaviour (MIDIMonster's, and beyond it)
//!
//! * MQTT 5 first; a broker refusing the version (3.1.1 code 1, v5 reason 0x84) gets 3.1.1
//!   at once and for good. `protocol = 3.1.1` starts there.
//! * Input topics are subscribed after every new session, several per SUBSCRIBE, with
//!   no-local on MQTT 5 (a value patchbay publishes does not come back to it). Filters may
//!   contain wildcards; a message reports every matching subscription.
//! * Retained messages: the broker sends a topic's retained value at subscribe (retain
//!   handling 0); the client delivers it like any message with [`Message::retain`] set, so it
//!   becomes the input's initial value. Outputs publish with `retain` if configured.
//! * QoS 0, 1 or 2 per subscription and per output; unacknowledged QoS 1/2 publications are
//!   tracked and, when the broker kept the session, sent again with DUP after a reconnection.
//! * Reconnection: 0.5 s doubling to 10 s (MIDIMonster retries every 10 s), ±20 % seeded
//!   jitter, reset after a connection that lasted. After a new session the last value of
//!   every output is published again; values given while disconnected are kept (newest per
//!   topic) and sent on connect.
//! * Keep alive 20 s as MIDIMonster: PINGREQ after 10 s without traffic, reconnection when
//!   no PINGRESP came within 10 s.
//!
//! # Example: one connection, driven by hand
//!
//! ```
//! use std::time::Instant;
//! use patchbay_mqtt::client::{Output, Subscription};
//! use patchbay_mqtt::wire::{Protocol, QoS};
//! use patchbay_mqtt::{Client, Config, Event, OutputId};
//!
//! let mut cfg = Config::new("patchbay-doc");
//! cfg.protocol = Protocol::V311;
//! cfg.subscriptions.push(Subscription { filter: "lights/+".into(), qos: QoS::AtMostOnce });
//! cfg.outputs.push(Output { topic: "fader/1".into(), qos: QoS::AtMostOnce, retain: false });
//! let now = Instant::now();
//! let mut client = Client::new(cfg, now);
//!
//! // The loop sleeps until poll_timeout(), then:
//! client.handle_timeout(now);
//! assert!(matches!(client.poll_event(), Some(Event::Open)));
//! // ... the backend opens a TCP connection, then:
//! client.transport_connected(now);
//! let connect = client.output().to_vec(); // write these bytes to the socket
//! client.consume_output(connect.len());
//!
//! // Bytes read from the socket (CONNACK, then a PUBLISH on lights/kitchen):
//! client.handle_input(now, &[0x20, 0x02, 0x00, 0x00]);
//! client.handle_input(now, &[&[0x30, 0x11, 0, 14][..], b"lights/kitchen", b"1"].concat());
//! assert!(matches!(client.poll_event(), Some(Event::Connected { protocol: Protocol::V311, .. })));
//! match client.poll_event() {
//!     Some(Event::Message(m)) => {
//!         assert_eq!((m.topic, m.payload), ("lights/kitchen", &b"1"[..]));
//!         assert_eq!(m.subscriptions[0].0, 0);
//!     }
//!     other => panic!("{other:?}"),
//! }
//! // A value out: written now, and again after any reconnection with a new session.
//! client.publish(now, OutputId(0), b"0.500000");
//! assert!(client.output().ends_with(b"fader/10.500000"));
//! ```

pub mod broker;
pub mod client;
pub mod mapping;
pub mod topic;
pub mod transport;
pub mod wire;

pub use client::{Client, Config, Event, Message, OutputId};
pub use topic::SubscriptionId;
