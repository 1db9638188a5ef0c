//! Fuzzing entry point for the whole client: arbitrary broker bytes, clock steps, publications
//! and reconnections, with the client's own output checked after every step.

use std::time::{Duration, Instant};

use super::{Backoff, Client, Config, Event, Output, OutputId, Subscription};
use crate::wire::{Packet, Protocol, QoS, frame};

/// Runs `data` as records `[op, len, bytes...]` against a connected MQTT 5 and a connected
/// 3.1.1 client: op % 4 = 0 broker bytes, 1 clock step of `len` × 100 ms, 2 a publication of
/// `len` bytes on output `op / 4 % 3`, 3 transport closed and reopened (with a CONNACK when
/// `len` is even). Returns the number of events seen.
///
/// # Panics
/// When the client writes bytes that are not valid packets of its protocol: a bug.
pub fn fuzz_client(data: &[u8]) -> usize {
    [Protocol::V5, Protocol::V311]
        .into_iter()
        .map(|p| run(p, data))
        .sum()
}

fn connack(p: Protocol) -> &'static [u8] {
    if p.is_v5() {
        &[0x20, 0x03, 0x00, 0x00, 0x00]
    } else {
        &[0x20, 0x02, 0x00, 0x00]
    }
}

fn run(protocol: Protocol, mut data: &[u8]) -> usize {
    let mut cfg = Config::new("fuzz");
    cfg.protocol = protocol;
    cfg.max_packet_size = 512;
    cfg.max_in_flight = 4;
    cfg.backoff = Backoff {
        jitter: 0.0,
        ..Backoff::default()
    };
    cfg.subscriptions = ["a/+", "#", "b", "$SYS/#"]
        .iter()
        .map(|f| Subscription {
            filter: (*f).into(),
            qos: QoS::ExactlyOnce,
        })
        .collect();
    cfg.outputs = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
        .iter()
        .enumerate()
        .map(|(i, q)| Output {
            topic: format!("out/{i}"),
            qos: *q,
            retain: i == 1,
        })
        .collect();
    let mut now = Instant::now();
    let mut c = Client::new(cfg, now);
    let mut events = 0;
    c.handle_timeout(now);
    events += drain(&mut c);
    c.transport_connected(now);
    c.handle_input(now, connack(protocol));
    events += drain(&mut c);
    while let [op, len, rest @ ..] = data {
        let n = usize::from(*len).min(rest.len());
        let (bytes, tail) = rest.split_at(n);
        data = tail;
        match op % 4 {
            0 => c.handle_input(now, bytes),
            1 => {
                now += Duration::from_millis(100) * u32::from(*len);
                c.handle_timeout(now);
            }
            2 => c.publish(now, OutputId(u32::from(op / 4 % 3)), bytes),
            _ => {
                c.transport_closed(now);
                events += drain(&mut c);
                if let Some(t) = c.poll_timeout() {
                    now = now.max(t);
                }
                c.handle_timeout(now);
                c.transport_connected(now);
                if len % 2 == 0 {
                    c.handle_input(now, connack(c.protocol()));
                }
            }
        }
        events += drain(&mut c);
    }
    events
}

/// Reads every event and checks the output.
fn drain(c: &mut Client) -> usize {
    let mut n = 0;
    while let Some(e) = c.poll_event() {
        if let Event::Message(m) = e {
            assert!(!m.subscriptions.is_empty());
            std::hint::black_box((m.topic.len(), m.payload.len()));
        }
        n += 1;
    }
    let protocol = c.protocol();
    let out = c.output().to_vec();
    let mut rest = &out[..];
    while !rest.is_empty() {
        let f = match frame(rest) {
            Ok(Some(f)) if f.len() <= rest.len() => f,
            other => panic!("client output does not frame: {other:?} in {out:02x?}"),
        };
        let (one, tail) = rest.split_at(f.len());
        if let Err(e) = Packet::parse(protocol, one) {
            panic!("client wrote an invalid packet ({e}): {one:02x?}");
        }
        rest = tail;
    }
    c.consume_output(out.len());
    n
}

#[cfg(test)]
mod tests {
    #[test]
    fn records_drive_the_client() {
        // Broker PUBLISH QoS 1 on "b", a clock step past the ping, a publication on output 1,
        // a reconnection with CONNACK.
        let data = [
            0, 6, 0x32, 0x04, 0x00, 0x01, b'b', 0x00, // QoS 1 without a packet id: malformed
            3, 0, // reopen
            0, 6, 0x30, 0x04, 0x00, 0x01, b'b', b'1', // QoS 0 message
            1, 200, // 20 s
            6, 1, b'5', // publish on output 1
        ];
        assert!(super::fuzz_client(&data) >= 8);
    }
}
