//! Per-message input cost of an OSC instance: parse a datagram, find the configured paths it
//! names, and map the argument to a level for the channel (the array lookup the backend does
//! before reporting the event). Measured at 10, 1,000 and 10,000 configured paths; a literal
//! address should cost the same at every size. Run with
//! `cargo bench -p patchbay-osc --bench route`.

use std::hint::black_box;

use patchbay_osc::address::{AddressSpace, PatternCache};
use patchbay_osc::channel::Root;
use patchbay_osc::value::{Level, Param, normalise};
use patchbay_osc::wire::{Arg, Packet, write_message};

fn main() {
    divan::main();
}

const SIZES: [usize; 3] = [10, 1_000, 10_000];

/// What the backend keeps per configured path: the argument's type and range, and the dense
/// channel id of `/path:0`.
struct Route {
    param: Param,
    channel: u32,
}

fn local(i: usize) -> String {
    format!("/bank{}/fader{}", i / 100, i % 100)
}

fn setup(n: usize) -> (AddressSpace, Vec<Route>) {
    let root = Root::parse("/show").expect("root");
    let mut space = AddressSpace::new();
    let mut routes = Vec::new();
    for i in 0..n {
        let id = space.insert(&root.join(&local(i))).expect("path");
        assert_eq!(id.index(), routes.len());
        routes.push(Route {
            param: Param::Float32 { min: 0.0, max: 1.0 },
            channel: i as u32,
        });
    }
    (space, routes)
}

fn datagram(address: &str) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let n = write_message(&mut buf, address, [Arg::Float(0.5)]).expect("build");
    buf.truncate(n);
    buf
}

#[inline]
fn handle(space: &AddressSpace, routes: &[Route], bytes: &[u8]) -> (u32, f64) {
    let mut out = (u32::MAX, 0.0);
    if let Ok(Packet::Message(m)) = Packet::parse(bytes) {
        let _ = space.lookup(m.address(), |id| {
            let r = &routes[id.index()];
            if let Some(arg) = m.value(0)
                && let Some(Level { normalised, .. }) = normalise(&arg, Some(&r.param))
            {
                out = (r.channel, normalised);
            }
        });
    }
    out
}

/// Parse + literal lookup + map, for the path in the middle of the set.
#[divan::bench(args = SIZES)]
fn parse_match_route_literal(bencher: divan::Bencher, n: usize) {
    let (space, routes) = setup(n);
    let bytes = datagram(&format!("/show{}", local(n / 2)));
    assert_eq!(handle(&space, &routes, &bytes), ((n / 2) as u32, 0.5));
    bencher.bench_local(|| handle(black_box(&space), &routes, black_box(&bytes)));
}

/// A pattern that matches one path (`/show/bank5/fader[0]`): the walk tests the children of
/// one bank (at most 100), whatever the total.
#[divan::bench(args = SIZES)]
fn parse_match_route_pattern_one(bencher: divan::Bencher, n: usize) {
    let (space, routes) = setup(n);
    let target = local(n / 2);
    let (head, last) = target.split_at(target.len() - 1);
    let bytes = datagram(&format!("/show{head}[{last}]"));
    assert_eq!(handle(&space, &routes, &bytes), ((n / 2) as u32, 0.5));
    bencher.bench_local(|| handle(black_box(&space), &routes, black_box(&bytes)));
}

/// The same pattern through the backend's [`PatternCache`], after its first message: one hash
/// lookup, as for a literal address.
#[divan::bench(args = SIZES)]
fn parse_match_route_pattern_cached(bencher: divan::Bencher, n: usize) {
    let (space, routes) = setup(n);
    let target = local(n / 2);
    let (head, last) = target.split_at(target.len() - 1);
    let bytes = datagram(&format!("/show{head}[{last}]"));
    let mut cache = PatternCache::new();
    let run = |cache: &mut PatternCache, bytes: &[u8]| {
        let mut out = (u32::MAX, 0.0);
        if let Ok(Packet::Message(m)) = Packet::parse(bytes) {
            let _ = cache.lookup(&space, m.address(), |id| {
                let r = &routes[id.index()];
                if let Some(arg) = m.value(0)
                    && let Some(Level { normalised, .. }) = normalise(&arg, Some(&r.param))
                {
                    out = (r.channel, normalised);
                }
            });
        }
        out
    };
    assert_eq!(run(&mut cache, &bytes), ((n / 2) as u32, 0.5));
    bencher.bench_local(|| run(black_box(&mut cache), black_box(&bytes)));
}

/// An address nobody configured (the cost of ignoring foreign traffic).
#[divan::bench(args = SIZES)]
fn parse_match_unknown(bencher: divan::Bencher, n: usize) {
    let (space, routes) = setup(n);
    let bytes = datagram("/other/device/fader1");
    bencher.bench_local(|| handle(black_box(&space), &routes, black_box(&bytes)));
}

/// Building one output message (`/show/bank0/fader1 ,f`).
#[divan::bench]
fn build_message(bencher: divan::Bencher) {
    let mut buf = [0u8; 64];
    bencher.bench_local(|| {
        write_message(
            black_box(&mut buf),
            black_box("/show/bank0/fader1"),
            [Arg::Float(black_box(0.5))],
        )
    });
}
