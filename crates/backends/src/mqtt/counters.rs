//! What an instance counts, and the names `stats` reports them under (stable: tests, scripts
//! and the README use them).

use patchbay_core::{InstanceId, Stat};
use patchbay_mqtt::client::Stats as ClientStats;
use patchbay_mqtt::wire::ParseError;

/// Where the connection of an instance is, as the `state` counter reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Waiting for the next attempt (back-off), or not started.
    Waiting = 0,
    /// Looking up the broker's host name.
    Resolving = 1,
    /// TCP, TLS and MQTT handshakes under way.
    Connecting = 2,
    /// CONNACK accepted: values flow.
    Connected = 3,
    /// Shut down.
    Stopped = 4,
}

/// Totals of one instance since start (the client's own counters are added by
/// [`InstanceCounters::stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceCounters {
    /// Messages received on subscribed topics (each once, however many inputs it matched).
    pub messages_in: u64,
    /// Of those, retained messages (a topic's stored value, sent at subscription).
    pub retained_in: u64,
    /// Events reported to the core (a message matching two inputs is two events).
    pub events_in: u64,
    /// Input payloads that are not a number (plain and `range` topics), dropped.
    pub in_not_a_number: u64,
    /// Input payloads that match no `discrete` text of their topic, dropped.
    pub in_no_discrete_match: u64,
    /// Values handed to the client for publication (while disconnected, only the newest per
    /// topic is kept and sent on connect).
    pub messages_out: u64,
    /// Values no `discrete` interval of their topic covers: nothing sent (MIDIMonster's rule).
    pub out_no_discrete_match: u64,
    /// QoS 1/2 publications the broker refused (MQTT 5 reason code), or longer than its limit.
    pub out_refused: u64,
    /// Connections that reached CONNACK after the first one.
    pub reconnects: u64,
    /// Established connections that were lost (not counting shutdown).
    pub connections_lost: u64,
    /// Connection attempts that failed before CONNACK (refused, unreachable, timed out, TLS).
    pub connect_failures: u64,
    /// Host name look-ups that failed.
    pub resolve_failures: u64,
    /// TLS failures (certificate, handshake, alert).
    pub tls_errors: u64,
    /// Subscriptions the broker refused (SUBACK failure code).
    pub subscribe_refused: u64,
}

impl InstanceCounters {
    /// Named totals for the core's stats reports.
    pub fn stats(
        &self,
        id: InstanceId,
        client: Option<(&ClientStats, usize)>,
        state: LinkState,
        out: &mut Vec<Stat>,
    ) {
        let default = ClientStats::default();
        let (c, in_flight) = client.unwrap_or((&default, 0));
        let fixed: [(&'static str, u64); 25] = [
            ("state", state as u64),
            ("messages_in", self.messages_in),
            ("retained_in", self.retained_in),
            ("events_in", self.events_in),
            ("messages_out", self.messages_out),
            ("in_flight", in_flight as u64),
            ("connects", c.connects),
            ("sessions", c.sessions),
            ("reconnects", self.reconnects),
            ("connections_lost", self.connections_lost),
            ("connect_failures", self.connect_failures),
            ("resolve_failures", self.resolve_failures),
            ("tls_errors", self.tls_errors),
            ("subscribe_refused", self.subscribe_refused),
            ("in_dropped.not_a_number", self.in_not_a_number),
            ("in_dropped.no_discrete_match", self.in_no_discrete_match),
            ("in_dropped.unmatched", c.unmatched),
            ("in_dropped.duplicate_qos2", c.duplicate_qos2),
            ("in_dropped.oversize", c.oversize),
            ("out_dropped.no_discrete_match", self.out_no_discrete_match),
            ("out_dropped.refused", self.out_refused),
            ("unknown_acks", c.unknown_acks),
            ("malformed", c.malformed.iter().sum()),
            ("connected", u64::from(state == LinkState::Connected)),
            ("dropped_total", self.dropped_total(c)),
        ];
        for (name, value) in fixed {
            out.push(Stat::instance(id, name, value));
        }
        for e in ParseError::ALL {
            out.push(Stat::instance(
                id,
                malformed_name(e),
                c.malformed[e.index()],
            ));
        }
    }

    /// Every value dropped on the way in or out.
    pub fn dropped_total(&self, c: &ClientStats) -> u64 {
        self.in_not_a_number
            + self.in_no_discrete_match
            + self.out_no_discrete_match
            + self.out_refused
            + c.unmatched
            + c.oversize
            + c.malformed.iter().sum::<u64>()
    }
}

/// `malformed.REASON`, with the codec's stable reason names.
pub fn malformed_name(e: ParseError) -> String {
    format!("malformed.{}", e.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_snake_case() {
        let mut out = Vec::new();
        InstanceCounters::default().stats(InstanceId(0), None, LinkState::Waiting, &mut out);
        let names: Vec<String> = out.iter().map(|s| s.name.to_string()).collect();
        let unique: HashSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len());
        assert!(names.iter().all(|n| {
            n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.')
        }));
        assert!(names.contains(&"malformed.bad_utf8".to_string()));
    }

    #[test]
    fn client_counters_are_reported() {
        let c = ClientStats {
            unmatched: 2,
            oversize: 1,
            connects: 5,
            sessions: 3,
            ..ClientStats::default()
        };
        let k = InstanceCounters {
            in_not_a_number: 4,
            ..InstanceCounters::default()
        };
        let mut out = Vec::new();
        k.stats(InstanceId(3), Some((&c, 7)), LinkState::Connected, &mut out);
        let get = |n: &str| out.iter().find(|s| s.name == n).map(|s| s.value);
        assert_eq!(get("connects"), Some(5));
        assert_eq!(get("sessions"), Some(3));
        assert_eq!(get("in_flight"), Some(7));
        assert_eq!(get("state"), Some(3));
        assert_eq!(get("connected"), Some(1));
        assert_eq!(get("dropped_total"), Some(7));
    }
}
