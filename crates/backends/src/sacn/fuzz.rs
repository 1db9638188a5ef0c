//! Entry point of the `sacn_pipeline` fuzz target: the backend's whole input-to-output path
//! without sockets — datagram → [`Receiver`] (merge, timers) → [`SlotMap::emit`] → core routing
//! → [`write_value`] into a [`Source`] → output packet — with invariants checked after every step.
//!
//! The pieces are the ones the backend wires together in `input.rs` and `output.rs`; only the
//! sockets are left out, so a crash here is a crash of the running daemon on the same packets.

use std::time::{Duration, Instant};

use patchbay_core::testing::{Router, RoutingTable, routing_table, sink};
use patchbay_core::{
    ChannelId, ChannelIds, ChannelRegistry, Delivery, Event, InstanceId, RoutingBuilder, Value,
};
use patchbay_sacn::receiver::{MergeMode, Receiver, ReceiverConfig, UniverseConfig as RxUniverse};
use patchbay_sacn::wire::{DataHeader, MAX_PACKET_LEN, Options, write_data, write_sync};
use patchbay_sacn::{Cid, Packet, Source, SourceConfig, UniverseConfig};

use patchbay_kit::dmx_channels::{ChannelSpec, SlotMap, parse_spec, write_value};

const IN: u16 = 1;
const OUT: u16 = 2;
/// (input spec, output spec): same width, widening, narrowing, a 16-bit pair out of order.
const MAPPINGS: &[(&str, &str)] = &[
    ("1", "1"),
    ("2", "2"),
    ("3", "3"),
    ("4", "4"),
    ("5", "20+21"),
    ("17+18", "17+18"),
    ("30+31", "30"),
    ("41+40", "41+40"),
    ("512", "512"),
];

struct Ids<'a>(&'a mut ChannelRegistry);

impl ChannelIds for Ids<'_> {
    fn resolve(&mut self, instance: InstanceId, key: u64) -> ChannelId {
        self.0.resolve(instance, key)
    }
}

/// The fixture: one receiver, one source, the slot maps and the routing table.
struct Pipeline {
    rx: Receiver,
    source: Source,
    in_map: SlotMap,
    out_map: SlotMap,
    table: RoutingTable,
    router: Router,
    /// Input channel → (input spec, output spec).
    pairs: Vec<(ChannelId, ChannelSpec, ChannelSpec)>,
    /// Last value reported per input channel (index = position in `pairs`).
    shadow: Vec<Option<Value>>,
    events: Vec<Event>,
}

impl Pipeline {
    fn new(t0: Instant, mode: u8) -> Option<Pipeline> {
        let mut reg = ChannelRegistry::new();
        let mut routes = RoutingBuilder::new();
        let (mut in_map, mut out_map) = (SlotMap::default(), SlotMap::default());
        let mut pairs = Vec::new();
        for (i, o) in MAPPINGS {
            let (i, o) = (parse_spec(i).ok()?, parse_spec(o).ok()?);
            in_map.claim(i).ok()?;
            out_map.claim(o).ok()?;
            let a = Ids(&mut reg).resolve(InstanceId(0), u64::from(i.coarse));
            let b = Ids(&mut reg).resolve(InstanceId(1), u64::from(o.coarse));
            in_map.set_input(i, a);
            out_map.add_output();
            routes.add_edge(a, b);
            pairs.push((a, i, o));
        }
        let cfg = ReceiverConfig {
            own_cid: Some(Cid([0xEE; 16])),
            merge: if mode & 1 != 0 {
                MergeMode::Ltp
            } else {
                MergeMode::Htp
            },
            max_sources_per_universe: 4,
            ..ReceiverConfig::default()
        };
        let mut rx = Receiver::new(cfg);
        rx.add_universe(t0, IN, RxUniverse { from: None }).ok()?;
        let mut source = Source::new(Cid([0xEE; 16]), "fuzz", SourceConfig::default());
        let ucfg = UniverseConfig {
            priority: 100,
            realtime: mode & 2 != 0,
            ..UniverseConfig::default()
        };
        source.add_universe(OUT, ucfg).ok()?;
        Some(Pipeline {
            rx,
            source,
            in_map,
            out_map,
            table: routing_table(&routes, &reg),
            router: Router::new(2),
            shadow: vec![None; pairs.len()],
            pairs,
            events: Vec::new(),
        })
    }

    /// What `input.rs` does after a datagram or timer, then routing, then what `output.rs` does.
    fn turn(&mut self, now: Instant, out_buf: &mut [u8; MAX_PACKET_LEN]) {
        if self.rx.poll_timeout().is_some_and(|t| t <= now) {
            self.rx.handle_timeout(now);
        }
        while let Some((u, changes)) = self.rx.poll_changed() {
            let Some(ur) = self.rx.universe(u) else {
                continue;
            };
            let mut sink = sink(&mut self.events);
            self.in_map.emit(&changes, ur.slots(), &mut sink);
        }
        while self.rx.poll_event().is_some() {}
        for e in &self.events {
            if let Some(k) = self.pairs.iter().position(|p| p.0 == e.channel) {
                self.shadow[k] = Some(e.value);
            }
        }
        let Pipeline {
            router,
            table,
            events,
            source,
            out_map,
            ..
        } = self;
        router.route(table, events, |instance, deliveries: &[Delivery], _| {
            assert_eq!(
                instance,
                InstanceId(1),
                "only the output instance is a target"
            );
            let Ok(slots) = source.slots_mut(OUT) else {
                return;
            };
            let mut changed = false;
            for d in deliveries {
                let spec = out_map
                    .spec_of_key(d.key)
                    .expect("routed to a mapped channel");
                changed |= write_value(slots, spec, d.value);
            }
            if changed {
                let _ = source.mark_changed(now, OUT);
            }
        });
        while let Some(t) = self.source.poll_transmit(now, &mut out_buf[..]) {
            let p = Packet::parse(&out_buf[..t.len]).expect("our own output parses");
            if let Packet::Data(d) = p {
                assert_eq!(d.universe(), OUT);
                let current = self.source.slots(OUT).expect("universe");
                assert_eq!(d.slots(), &current[..d.slots().len()], "packet = buffer");
            }
        }
        self.check();
    }

    /// Nothing lost between receiver and output: every mapped input slot's merged value was
    /// reported, and the output buffer holds exactly the routed values.
    fn check(&self) {
        let Some(ur) = self.rx.universe(IN) else {
            return;
        };
        let merged = ur.slots();
        let out = self.source.slots(OUT).expect("universe");
        for (k, (_, i, o)) in self.pairs.iter().enumerate() {
            let c = usize::from(i.coarse);
            let now_in = match i.fine {
                None => Value::from_raw(u64::from(merged[c]), 8),
                Some(f) => Value::from_raw(
                    u64::from(merged[c]) << 8 | u64::from(merged[usize::from(f)]),
                    16,
                ),
            };
            let reported = self.shadow[k].unwrap_or(Value::from_raw(0, 8));
            assert_eq!(
                reported.to_raw(16),
                now_in.to_raw(16),
                "input {i}: merged value not reported"
            );
            let mut expect = [0u8; 512];
            write_value(&mut expect, *o, reported);
            let oc = usize::from(o.coarse);
            assert_eq!(out[oc], expect[oc], "output {o} coarse");
            if let Some(f) = o.fine {
                let f = usize::from(f);
                assert_eq!(out[f], expect[f], "output {o} fine");
            }
        }
    }
}

/// Record layout (after one mode byte: bit 0 LTP, bit 1 realtime output): a kind byte, a clock
/// step in 10 ms units (scaled ×10 when kind bit 7 is set, so the loss timeout is reachable),
/// then for kind & 3 == 0 a length byte pair and raw bytes; 1: a data packet for the input
/// universe from the next 5 bytes (CID index, priority, sequence, options, slot count) with slot
/// values from the bytes after; 2: a sync packet; 3: only the clock step (timers).
///
/// Invariant violations panic (that is what the fuzzer looks for); nothing here runs in the
/// daemon.
pub fn fuzz_pipeline(data: &[u8]) {
    drive(data);
}

/// The body of [`fuzz_pipeline`]; returns the fixture so tests can check what was reached.
fn drive(data: &[u8]) -> Option<Pipeline> {
    let t0 = Instant::now();
    let mode = data.first().copied().unwrap_or(0);
    let mut p = Pipeline::new(t0, mode)?;
    let mut now = t0;
    let mut rest = data.get(1..).unwrap_or(&[]);
    let mut buf = vec![0u8; 1200];
    let mut out_buf = Box::new([0u8; MAX_PACKET_LEN]);
    while rest.len() >= 2 {
        let kind = rest[0];
        let step = u64::from(rest[1]) * if kind & 0x80 != 0 { 100 } else { 10 };
        rest = &rest[2..];
        now += Duration::from_millis(step);
        let mut take = |n: usize| -> &[u8] {
            let n = n.min(rest.len());
            let (a, b) = rest.split_at(n);
            rest = b;
            a
        };
        let len = match kind & 3 {
            0 => {
                let h = take(2);
                let n = match h {
                    [a, b] => usize::from(u16::from_le_bytes([*a, *b])) % 1200,
                    _ => 0,
                };
                let raw = take(n);
                buf[..raw.len()].copy_from_slice(raw);
                Some(raw.len())
            }
            1 => {
                let f = take(5).to_vec();
                let g = |i: usize| f.get(i).copied().unwrap_or(0);
                let slots = take(usize::from(g(4)) * 2 + 2).to_vec();
                let h = DataHeader {
                    cid: Cid([g(0) % 6 + 1; 16]),
                    source_name: "fuzz",
                    priority: g(1) % 201,
                    sync_address: 0,
                    sequence: g(2),
                    options: Options::from_bits(g(3) & 0x40),
                    universe: IN,
                    start_code: if g(3) & 1 != 0 { 0xDD } else { 0 },
                };
                write_data(&mut buf, &h, &slots[..slots.len().min(512)]).ok()
            }
            2 => {
                let f = take(2).to_vec();
                let g = |i: usize| f.get(i).copied().unwrap_or(0);
                write_sync(&mut buf, Cid([g(0) % 6 + 1; 16]), g(1), 7).ok()
            }
            _ => None,
        };
        if let Some(len) = len {
            let _ = p.rx.handle_datagram(now, &buf[..len]);
        }
        p.turn(now, &mut out_buf);
    }
    // Run out the clock: sampling, loss and terminations all settle.
    for _ in 0..4 {
        now += Duration::from_secs(2);
        p.turn(now, &mut out_buf);
    }
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A data packet record: kind 1, step, CID index, priority, sequence, options, slot count.
    fn data_rec(cid: u8, prio: u8, seq: u8, step: u8, value: u8) -> Vec<u8> {
        let mut r = vec![1, step, cid, prio, seq, 0, 255];
        r.extend(std::iter::repeat_n(value, 512));
        r
    }

    #[test]
    fn valid_traffic_reaches_the_output_and_the_invariants_hold() {
        let mut input = vec![0u8];
        for (i, v) in [10u8, 200, 30].into_iter().enumerate() {
            input.extend(data_rec(1, 100, i as u8, 100, v));
        }
        let p = drive(&input).expect("fixture");
        let out = p.source.slots(OUT).expect("universe");
        // Slot 1 = 30; 5 -> 20+21 widened (30 * 257); 17+18 -> 17+18 as is; 30+31 -> 30
        // narrowed; 512 -> 512. The source is held after the clock ran out (loss = hold).
        assert_eq!(out[0], 30);
        assert_eq!(u16::from_be_bytes([out[19], out[20]]), 30 * 257);
        assert_eq!((out[16], out[17]), (30, 30));
        assert_eq!(out[29], Value::from_raw(30 * 257, 16).to_raw(8) as u8);
        assert_eq!(out[511], 30);
        // Terminations of the lost source do not reach the output; the fixture saw events.
        assert!(p.shadow.iter().all(Option::is_some));
    }

    #[test]
    fn higher_priority_source_wins_at_the_output() {
        let mut input = vec![0u8];
        input.extend(data_rec(1, 100, 0, 100, 200));
        input.extend(data_rec(2, 150, 0, 1, 20));
        for i in 1..20u8 {
            input.extend(data_rec(1, 100, i, 10, 200));
            input.extend(data_rec(2, 150, i, 10, 20));
        }
        let p = drive(&input).expect("fixture");
        // After the run-out both are lost; with loss = hold the last merged levels remain.
        assert_eq!(p.source.slots(OUT).expect("universe")[0], 20);
    }

    #[test]
    fn garbage_never_panics() {
        let mut x = 0x1234_5678u32;
        for len in 0..300 {
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            fuzz_pipeline(&v);
        }
    }
}
