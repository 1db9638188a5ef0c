//! The mqtt backend through the real binary, against a real broker and an independent client,
//! inside the private network namespace of `scripts/test` (`scripts/netns-run cargo test --test
//! mqtt` works the same).
//!
//! Peers: mosquitto, started by each test on a private port with a private configuration
//! (`harness::Mosquitto`), and Eclipse paho-mqtt (tests/peers/mqtt_peer.py) publishing and
//! subscribing. Levels are checked on the wire: patchbay's sACN output goes to a capture socket
//! (tests/sacn/util.rs), its sACN input comes from a raw E1.31 sender.
//!
//! Modules: `values` (MQTT → sACN levels and sACN → MQTT payloads exact, range, discrete,
//! 16-bit, wildcards, retained initial values, QoS 1, retained output), `connection` (broker
//! restart during traffic, broker absent at start, mqtts:// with the test CA and a wrong one,
//! the MQTT 5 → 3.1.1 fallback, `--check`), `examples` (examples/mqtt-sacn.cfg checks and runs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "sacn/util.rs"]
#[allow(dead_code)]
mod util;

#[path = "mqtt/harness.rs"]
mod harness;

#[path = "mqtt/connection.rs"]
mod connection;
#[path = "mqtt/examples.rs"]
mod examples;
#[path = "mqtt/values.rs"]
mod values;
