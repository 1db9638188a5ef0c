//! Cost per delivered event through the router, for routing tables of 10 to 1M mappings.
//!
//! Each benched call routes one batch of 512 events (one DMX universe's worth) from instance 0
//! to one target each on instance 1 and lets the target write its value into a 512-slot
//! buffer, so the figure covers CSR lookup, per-instance grouping, the handle call and the
//! write. `sequential` reports sources in id order (as a universe's slots arrive);
//! `scattered` jumps across the whole table to show the cache-miss cost of huge tables.
//! Divan's items/s counter is deliveries per second; time per item is the per-delivery cost.
//! `transformed` is `sequential` with a transform chain on every edge (the path edges without
//! transforms never take); `steps` is one step of 512 moving `fade` outputs.

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use patchbay_core::testing::{Router, RoutingTable, routing_table};
use patchbay_core::{
    Chain, ChannelId, ChannelIds, ChannelRegistry, Event, InstanceId, Level, RoutingBuilder,
    Transform, Value,
};
use std::time::{Duration, Instant};

const BATCH: usize = 512;
const SIZES: [usize; 4] = [10, 1_000, 100_000, 1_000_000];

/// Shows allocations per benched call: a warm router must show none.
#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

/// `n` mappings: source i (instance 0) → target i (instance 1). Sources get ids 0..n.
fn table(n: usize) -> RoutingTable {
    table_with(n, &Chain::default())
}

/// As [`table`], every edge with `chain`.
fn table_with(n: usize, chain: &Chain) -> RoutingTable {
    let mut reg = ChannelRegistry::new();
    let sources: Vec<ChannelId> = (0..n as u64)
        .map(|k| reg.resolve(InstanceId(0), k))
        .collect();
    let targets: Vec<ChannelId> = (0..n as u64)
        .map(|k| reg.resolve(InstanceId(1), k))
        .collect();
    let mut rb = RoutingBuilder::new();
    for (&s, &t) in sources.iter().zip(&targets) {
        rb.add_edge_with(s, t, chain);
    }
    routing_table(&rb, &reg)
}

fn run(bencher: Bencher, n: usize, source_of: impl Fn(usize) -> usize) {
    run_table(bencher, table(n), n, source_of);
}

fn run_table(bencher: Bencher, table: RoutingTable, n: usize, source_of: impl Fn(usize) -> usize) {
    let mut router = Router::new(2);
    router.prepare(&table);
    let mut events: Vec<Event> = Vec::with_capacity(BATCH);
    let mut out = [0f64; 512];
    let mut next = 0usize;
    let value = Value::from_raw(200, 8);
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        events.clear();
        for _ in 0..BATCH {
            events.push(Event {
                channel: ChannelId(source_of(next) as u32),
                value,
            });
            next += 1;
            if next == n {
                next = 0;
            }
        }
        router.route(&table, &mut events, |_, deliveries, _| {
            for d in deliveries {
                out[(d.key & 511) as usize] = d.value.normalised();
            }
        });
        black_box(&out);
    });
}

#[divan::bench(args = SIZES)]
fn sequential(bencher: Bencher, n: usize) {
    run(bencher, n, |i| i);
}

#[divan::bench(args = SIZES)]
fn scattered(bencher: Bencher, n: usize) {
    run(bencher, n, |i| (i.wrapping_mul(2_654_435_761)) % n);
}

/// `invert | scale 0.2 0.8` on every edge: what an event costs on the transformed path.
#[divan::bench(args = [1_000, 1_000_000])]
fn transformed(bencher: Bencher, n: usize) {
    let chain = Chain::new(vec![
        Transform::Invert,
        Transform::Scale {
            min: Level::from_ppb(200_000_000).unwrap_or(Level::ZERO),
            max: Level::from_ppb(800_000_000).unwrap_or(Level::FULL),
        },
    ])
    .unwrap_or_default();
    run_table(bencher, table_with(n, &chain), n, |i| i);
}

/// One step of 512 moving `fade` outputs (each an edge of a 512-slot universe): the values
/// computed and delivered per step, every 10 ms while they move.
#[divan::bench]
fn steps(bencher: Bencher) {
    let chain = Chain::new(vec![Transform::Fade(Duration::from_secs(3600))]).unwrap_or_default();
    let table = table_with(BATCH, &chain);
    let mut router = Router::new(2);
    router.prepare(&table);
    let t0 = Instant::now();
    // A first value for each output, then a second starts every fade.
    for v in [0, 255] {
        let mut events: Vec<Event> = (0..BATCH)
            .map(|i| Event {
                channel: ChannelId(i as u32),
                value: Value::from_raw(v, 8),
            })
            .collect();
        router.route_at(t0, &table, &mut events, |_, _, _| {});
    }
    let mut out = [0f64; 512];
    let mut now = t0;
    let mut events = Vec::new();
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        now += Duration::from_millis(10);
        router.route_at(now, &table, &mut events, |_, deliveries, _| {
            for d in deliveries {
                out[(d.key & 511) as usize] = d.value.normalised();
            }
        });
        black_box(&out);
    });
}
