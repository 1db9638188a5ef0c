//! What a [`Client`](super::Client) is told at start: identity, subscriptions, output topics
//! and timing.

use std::time::Duration;

use crate::wire::{Protocol, QoS};

/// Client configuration. [`Config::new`] gives MIDIMonster's behaviour: MQTT 5 with fallback
/// to 3.1.1, keep alive 20 s, QoS 0, no retain.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Client identifier; must not be empty (MIDIMonster refuses an empty `clientid`).
    pub client_id: String,
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Vec<u8>>,
    /// First protocol tried. [`Protocol::V5`] falls back to 3.1.1 for good when the broker
    /// refuses the version (3.1.1 return code 1, MQTT 5 reason 0x84).
    pub protocol: Protocol,
    /// Keep alive sent in CONNECT (seconds on the wire; 0 turns pings off). A PINGREQ goes out
    /// after half of it without other traffic. The broker's Server Keep Alive overrides it.
    pub keep_alive: Duration,
    /// How long to wait for PINGRESP before the connection is taken as dead.
    pub ping_timeout: Duration,
    /// From [`Event::Open`](super::Event::Open) to CONNACK (TCP, TLS and MQTT handshakes).
    pub connect_timeout: Duration,
    /// Delay between connection attempts.
    pub backoff: Backoff,
    /// MQTT 5 Session Expiry Interval in seconds for reconnections: the broker keeps the
    /// session (subscriptions, unacknowledged QoS 1/2 messages) that long after a connection
    /// is lost. The first connection of a client always starts clean; 3.1.1 always starts
    /// clean (its sessions never expire on the broker).
    pub session_expiry: u32,
    /// Largest packet accepted (MQTT 5 tells the broker as Maximum Packet Size; a longer
    /// 3.1.1 packet is skipped and counted).
    pub max_packet_size: u32,
    /// Most QoS 1/2 publications awaiting acknowledgement (the broker's Receive Maximum may
    /// lower it); further values wait, and only the newest per topic is sent.
    pub max_in_flight: u16,
    /// Output bytes buffered beyond which new publications wait (newest per topic kept)
    /// instead of growing the queue while the socket is slow.
    pub max_queued_output: usize,
    /// Topic filters to subscribe to, in [`SubscriptionId`](crate::topic::SubscriptionId) order.
    pub subscriptions: Vec<Subscription>,
    /// Topics published to, in [`OutputId`] order.
    pub outputs: Vec<Output>,
}

impl Config {
    /// Defaults for `client_id`.
    pub fn new(client_id: impl Into<String>) -> Config {
        Config {
            client_id: client_id.into(),
            username: None,
            password: None,
            protocol: Protocol::V5,
            keep_alive: Duration::from_secs(20),
            ping_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            session_expiry: 60,
            max_packet_size: 256 * 1024,
            max_in_flight: 64,
            max_queued_output: 256 * 1024,
            subscriptions: Vec::new(),
            outputs: Vec::new(),
        }
    }
}

/// MIDIMonster's `protocol` option: `3.1.1` selects 3.1.1, any other value MQTT 5 (with the
/// fallback to 3.1.1).
pub fn protocol_option(value: &str) -> Protocol {
    if value == "3.1.1" {
        Protocol::V311
    } else {
        Protocol::V5
    }
}

/// A client identifier for an instance without `clientid`: `pb-INSTANCE-XXXXXXXX` from a
/// random 32-bit value, cut to the 23 bytes every broker must accept (MQTT 3.1.1 section
/// 3.1.3.1; MIDIMonster uses `MM-INSTANCE-TIME`, cut the same way). Brokers drop a session
/// when another connects with its identifier, so two patchbays must not share one.
pub fn default_client_id(instance: &str, random: u32) -> String {
    let mut id = String::from("pb-");
    let tail = format!("-{random:08x}");
    for c in instance.chars().filter(char::is_ascii_alphanumeric) {
        if id.len() + tail.len() >= 23 {
            break;
        }
        id.push(c);
    }
    id.push_str(&tail);
    id
}

/// One subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Topic filter; wildcards allowed.
    pub filter: String,
    /// Maximum QoS to receive with.
    pub qos: QoS,
}

/// One topic published to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Topic name (no wildcards).
    pub topic: String,
    /// QoS of its publications.
    pub qos: QoS,
    /// Publish retained (the broker keeps the last value for new subscribers).
    pub retain: bool,
}

/// Identifies one output topic: its index in [`Config::outputs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OutputId(pub u32);

/// Exponential back-off between connection attempts: `initial`, doubling up to `max`, each
/// delay moved by up to ±`jitter` of itself so that many clients restarted together do not
/// reconnect in step. Deterministic for a given seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// First delay after a lost connection.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
    /// Fraction 0..1 of random spread.
    pub jitter: f64,
    /// Seed of the jitter generator.
    pub seed: u64,
}

impl Default for Backoff {
    /// 0.5 s doubling to 10 s (MIDIMonster retries every 10 s), ±20 %.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(10),
            jitter: 0.2,
            seed: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_option_is_midimonsters() {
        assert_eq!(protocol_option("3.1.1"), Protocol::V311);
        assert_eq!(protocol_option("5"), Protocol::V5);
        assert_eq!(protocol_option("3.1"), Protocol::V5);
    }

    #[test]
    fn default_client_ids_fit_23_bytes_and_keep_the_random_part() {
        assert_eq!(default_client_id("mq1", 0xdead_beef), "pb-mq1-deadbeef");
        let long = default_client_id("a-very-long instance name", 1);
        assert_eq!(long, "pb-averylongin-00000001");
        assert_eq!(long.len(), 23);
        assert_eq!(default_client_id("ü", 2), "pb--00000002");
    }
}
