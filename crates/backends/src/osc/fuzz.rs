//! Entry point of the `osc_pipeline` fuzz target: an instance's input-to-output path without
//! sockets — datagram → parse → bundles (held until their time tag) → address patterns through
//! the pattern cache → value mapping → events → delivered back to the output side of the same
//! paths → the messages `flush` builds — with invariants checked after every step.
//!
//! The pieces are the ones the backend wires together (`input`, `paths`, the message builder of
//! `output`); only the sockets are left out, so a crash here is a crash of the running daemon on
//! the same datagrams.

use std::time::{Duration, Instant};

use patchbay_core::testing::sink;
use patchbay_core::{ChannelId, ChannelIds, ChannelRegistry, Direction, Event, InstanceId};
use patchbay_kit::throttle::Throttle;
use patchbay_osc::address::PatternCache;
use patchbay_osc::channel::Root;
use patchbay_osc::preconfig::Preconfig;
use patchbay_osc::value::OutArg;
use patchbay_osc::wire::{Packet, write_message};

use super::counters::InstanceCounters;
use super::input::{Held, Input, MAX_HELD, Wall};
use super::paths::Paths;

/// `/PATTERN = TYPES ...` lines of the fixture (root `/r`).
const PRECONFIG: &[(&str, &str)] = &[
    ("/f*", "f 0.0 1.0"),
    ("/xy", "ff 0.0 1.0 -1.0 1.0"),
    ("/i*", "i 0 255"),
    ("/w", "i 0 65535"),
    ("/m", "m 0xB0 7"),
    ("/s", "s 0 10"),
    ("/t", "T"),
    ("/n", "N"),
    ("/h", "hd 0 1024 1.0 0.0"),
];
/// Channels, each used as input and as output.
const CHANNELS: &[&str] = &[
    "/f1", "/f2", "/fa/b", "/xy", "/xy:1", "/i1", "/w", "/m", "/s", "/t", "/n", "/h", "/h:1", "/u",
    "/u:3", "/c#1",
];

struct Ids<'a>(&'a mut ChannelRegistry);

impl ChannelIds for Ids<'_> {
    fn resolve(&mut self, instance: InstanceId, key: u64) -> ChannelId {
        self.0.resolve(instance, key)
    }
}

/// Runs the records of `data`: `[op, len_hi, len_lo, bytes...]`; op even: a datagram of `len`
/// bytes; op odd: the clock moves `len` ms (and held messages come due).
pub fn fuzz_pipeline(data: &[u8]) {
    let mut reg = ChannelRegistry::new();
    let root = Root::parse("/r").unwrap_or_default();
    let pre: Vec<Preconfig> = PRECONFIG
        .iter()
        .filter_map(|(k, v)| Preconfig::parse(k, v).ok())
        .collect();
    let mut paths = Paths::default();
    // Channel id → its key (the same for input and output: one channel per path argument).
    let mut keys: Vec<(ChannelId, u64)> = Vec::new();
    for name in CHANNELS {
        for dir in [Direction::Input, Direction::Output] {
            let Ok(r) = paths.channel(
                InstanceId(0),
                name,
                dir,
                &root,
                &pre,
                true,
                &mut Ids(&mut reg),
            ) else {
                panic!("fixture channel {name} refused");
            };
            if !keys.iter().any(|&(c, _)| c == r.id) {
                let key = reg.key_of(r.id).unwrap_or(0);
                keys.push((r.id, key));
            }
        }
    }
    let t0 = Instant::now();
    let wall = Wall {
        at: t0,
        unix: Duration::from_secs(1_700_000_000),
    };
    let mut now = t0;
    let (mut k, mut held, mut throttle, mut cache) = (
        InstanceCounters::default(),
        Vec::<Held>::new(),
        Throttle::default(),
        PatternCache::new(),
    );
    let mut events: Vec<Event> = Vec::new();
    let mut dirty: Vec<u32> = Vec::new();
    let mut buf = vec![0u8; 65_536];
    let mut rest = data;
    while let [op, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        let (bytes, next) = tail.split_at(len.min(tail.len()));
        rest = next;
        events.clear();
        {
            let mut s = sink(&mut events);
            let mut input = Input {
                name: "fuzz",
                root: &root,
                paths: &paths,
                cache: &mut cache,
                k: &mut k,
                held: &mut held,
                throttle: &mut throttle,
                detect: false,
            };
            if op % 2 == 0 {
                input.packet(bytes, now, wall, &mut s);
            } else {
                now += Duration::from_millis(len as u64);
                input.due(now, &mut s);
            }
        }
        assert!(held.len() <= MAX_HELD);
        assert!(held.windows(2).all(|w| w[0].due <= w[1].due));
        assert!(held.iter().all(|h| h.due > now), "held past its time");
        for e in &events {
            let v = e.value.normalised();
            assert!((0.0..=1.0).contains(&v), "{v} out of range");
            if let Some((raw, bits)) = e.value.raw() {
                assert!(bits >= 1 && (bits == 64 || raw < 1u64 << bits));
            }
            let Some(&(_, key)) = keys.iter().find(|(c, _)| *c == e.channel) else {
                panic!("event on a channel nobody configured");
            };
            // Delivered back to the same path argument, as a mapping `x > x` would.
            paths.set(key, e.value, &mut dirty);
        }
        // What flush would send: every dirty path once, a valid message of its types.
        let mut seen = Vec::new();
        for &p in &dirty {
            assert!(!seen.contains(&p), "a path queued twice");
            seen.push(p);
            let e = &mut paths.entries[p as usize];
            e.dirty = false;
            let Ok(n) = write_message(&mut buf, &e.address, e.out.iter().map(OutArg::arg)) else {
                panic!("{} does not fit", e.address);
            };
            let Ok(Packet::Message(m)) = Packet::parse(&buf[..n]) else {
                panic!("built an invalid message for {}", e.address);
            };
            assert_eq!(m.address(), &*e.address);
            assert_eq!(m.value_count(), e.out_types.len());
            for (arg, param) in m.args().zip(&e.out_types) {
                let tag = arg.tag() as char;
                let want = param.letter();
                assert!(
                    tag == want || (want == 'T' && tag == 'F'),
                    "{tag} for {want}"
                );
            }
        }
        dirty.clear();
    }
}
