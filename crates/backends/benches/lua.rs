//! Cost of a Lua handler call per delivered value: the backend's `handle` with a batch of
//! deliveries, each calling its channel's Lua function (setting the running channel, arming the
//! instruction budget, the call through mlua, storing the value, handing outputs to the sink).
//!
//! `empty` is a handler that does nothing (the call overhead alone), `passthrough` one that
//! outputs its value on another channel (`output("out", v)`: the commonest script), `curve`
//! computes a square-law level. Batches of 1 show the per-`handle` cost, batches of 512 (one
//! universe's worth) the cost per value in bulk. Divan's time per item is the cost per value.
//! Target: ≤ 1 µs per value.

use std::time::Duration;

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use patchbay_backends::lua::LuaBackend;
use patchbay_core::testing::{Rig, sink};
use patchbay_core::{Backend, Delivery, Event, InstanceId, Value};

/// Shows allocations per benched call.
#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

const SCRIPTS: [(&str, &str); 3] = [
    ("empty", "function a(v) end"),
    ("passthrough", "function a(v) output('out', v) end"),
    ("curve", "function a(v) output('out', v * v) end"),
];

/// A started instance running `script`, and the delivery of a value to its channel `a`.
fn setup(script: &str) -> (Rig<LuaBackend>, tempfile::TempDir, InstanceId, Delivery) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bench.lua");
    std::fs::write(&path, script).expect("script");
    let mut rig = Rig::new(LuaBackend::new());
    let inst = rig.add_instance("bench").expect("instance");
    rig.configure_instance(inst, "script", &path.to_string_lossy())
        .expect("script");
    let a = rig.output(inst, "a").expect("a");
    rig.input(inst, "out").expect("out");
    rig.start().expect("start");
    rig.turn(Duration::ZERO).expect("turn");
    let delivery = Delivery {
        channel: a,
        key: 0,
        value: Value::from_raw(200, 8),
    };
    (rig, dir, inst, delivery)
}

#[divan::bench(args = SCRIPTS.map(|(name, _)| name), consts = [1, 512])]
fn handle<const BATCH: usize>(bencher: Bencher, name: &str) {
    let script = SCRIPTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .expect("script");
    let (rig, _dir, inst, delivery) = setup(script);
    let deliveries = vec![delivery; BATCH];
    let mut events: Vec<Event> = Vec::with_capacity(BATCH);
    let now = rig.now();
    let mut backend = rig.backend_mut();
    bencher.counter(ItemsCount::new(BATCH)).bench_local(|| {
        events.clear();
        backend.handle(now, inst, black_box(&deliveries), &mut sink(&mut events));
        black_box(events.len());
    });
}
