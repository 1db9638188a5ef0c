//! Transform chains allocate nothing at run time: events crossing transformed edges (stateless
//! and stateful transforms, motions started and retargeted) and the steps of moving outputs,
//! once the router is warm. No sockets.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use patchbay_core::testing::Router;
use patchbay_core::testing::routing_table;
use patchbay_core::{
    Chain, ChannelId, ChannelIds, ChannelRegistry, Event, InstanceId, Level, RoutingBuilder,
    Transform, Value,
};

#[path = "../../sacn/tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

#[test]
fn transformed_routing_and_steps_do_not_allocate_once_warm() {
    let level = |ppb| Level::from_ppb(ppb).unwrap();
    let chains = [
        Chain::new(vec![
            Transform::Invert,
            Transform::Scale {
                min: level(200_000_000),
                max: level(800_000_000),
            },
        ])
        .unwrap(),
        Chain::new(vec![Transform::Toggle]).unwrap(),
        Chain::new(vec![Transform::Deadband(level(20_000_000))]).unwrap(),
        Chain::new(vec![Transform::Fade(Duration::from_millis(200))]).unwrap(),
        Chain::new(vec![
            Transform::Invert,
            Transform::Slew(Duration::from_secs(1)),
        ])
        .unwrap(),
    ];
    // 512 sources on instance 0, each to a target on instance 1 through one of the chains.
    let mut reg = ChannelRegistry::new();
    let mut rb = RoutingBuilder::new();
    for k in 0..512u64 {
        let s = reg.resolve(InstanceId(0), k);
        let t = reg.resolve(InstanceId(1), k);
        rb.add_edge_with(s, t, &chains[k as usize % chains.len()]);
    }
    let table = routing_table(&rb, &reg);
    let mut router = Router::new(2);
    router.prepare(&table);
    let mut events: Vec<Event> = Vec::with_capacity(512);
    let t0 = Instant::now();
    let mut delivered = 0usize;
    let mut turn = |router: &mut Router, events: &mut Vec<Event>, ms: u64, level: u64| {
        events.clear();
        if level > 0 {
            for k in 0..512u32 {
                events.push(Event {
                    channel: ChannelId(k * 2),
                    value: Value::from_raw((level + u64::from(k)) % 256, 8),
                });
            }
        }
        let now = t0 + Duration::from_millis(ms);
        router.route_at(now, &table, events, |_, d, _| delivered += d.len());
    };
    // Warm-up: first values, then every motion started.
    turn(&mut router, &mut events, 0, 1);
    turn(&mut router, &mut events, 1, 200);
    let mut ms = 1;
    let n = allocations_in(|| {
        for round in 0..200u64 {
            ms += 5;
            // Every fourth turn brings new values (retargets, toggles, dead band), the rest
            // only steps.
            let level = if round % 4 == 0 { 30 + round } else { 0 };
            turn(&mut router, &mut events, ms, level);
        }
    });
    assert_eq!(n, 0, "allocations on the transform path");
    let c = router.counters();
    assert!(c.steps > 1000 && c.withheld > 100, "{c:?}");
    assert!(delivered > 5000);
}
