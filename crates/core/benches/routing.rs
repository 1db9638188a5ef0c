//! Cost per delivered event through the router, for routing tables of 10 to 1M mappings.
//!
//! Each benched call routes one batch of 512 events (one DMX universe's worth) from instance 0
//! to one target each on instance 1 and lets the target write its value into a 512-slot
//! buffer, so the figure covers CSR lookup, per-instance grouping, the handle call and the
//! write. `sequential` reports sources in id order (as a universe's slots arrive);
//! `scattered` jumps across the whole table to show the cache-miss cost of huge tables.
//! Divan's items/s counter is deliveries per second; time per item is the per-delivery cost.

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use patchbay_core::testing::{Router, RoutingTable, routing_table};
use patchbay_core::{
    ChannelId, ChannelIds, ChannelRegistry, Event, InstanceId, RoutingBuilder, Value,
};

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
    let mut reg = ChannelRegistry::new();
    let sources: Vec<ChannelId> = (0..n as u64)
        .map(|k| reg.resolve(InstanceId(0), k))
        .collect();
    let targets: Vec<ChannelId> = (0..n as u64)
        .map(|k| reg.resolve(InstanceId(1), k))
        .collect();
    let mut rb = RoutingBuilder::new();
    for (&s, &t) in sources.iter().zip(&targets) {
        rb.add_edge(s, t);
    }
    routing_table(&rb, &reg)
}

fn run(bencher: Bencher, n: usize, source_of: impl Fn(usize) -> usize) {
    let table = table(n);
    let mut router = Router::new(2);
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
