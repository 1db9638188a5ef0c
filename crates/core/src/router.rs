//! Routing rounds: events → deliveries grouped per instance → `handle` → further rounds.
//!
//! Grouping is stable: each instance has its own delivery vector, appended to in the order
//! the deliveries are produced, so A1, B1, B2, A2 reaches B as B1, B2 (the backend contract in crates/core/src/backend.rs,
//! "Order"; MIDIMonster can reverse them). Instances are handled in ascending [`InstanceId`]
//! order, i.e. order of definition. Vectors are cleared, never freed, so a warm router does
//! not allocate.
//!
//! Events reported during `handle` (re-emitting backends) are routed in a further round, at
//! most [`MAX_ROUNDS`] per loop iteration; what is left after that is dropped and reported
//! in the [`RouteOutcome`] so that the caller can log it once.
//!
//! Transform chains ([`crate::transform`]) run here, per edge, as an event crosses it; the
//! values of moving `slew`/`fade` outputs that are due join the first round of the iteration,
//! before the events, so an event that retargets a motion acts on where the output is now.

use std::time::Instant;

use crate::backend::{ChannelId, Delivery, InstanceId};
use crate::frames::{FrameBuf, FrameCopies, FrameRoutes};
use crate::routing::{ChainedEdge, RoutingTable, TRANSFORMED};
use crate::sink::{Event, Sink};
use crate::transform::state::Transforms;
use crate::value::Value;

/// Routing rounds per loop iteration before a cascade is cut (the backend contract in crates/core/src/backend.rs, "Cascade").
pub const MAX_ROUNDS: usize = 20;

/// Running totals, for statistics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Events taken from backends and looked up in the routing table.
    pub events: u64,
    /// Events that had no target (not a mapping source), silently discarded.
    pub unrouted: u64,
    /// Deliveries handed to backends.
    pub deliveries: u64,
    /// Frames taken from backends (see [`FrameCopies`](crate::FrameCopies)).
    pub frames: u64,
    /// Frame copies handed to backends (one per frame and frame route).
    pub frame_copies: u64,
    /// Events and frames dropped because a cascade reached [`MAX_ROUNDS`].
    pub dropped_by_round_limit: u64,
    /// Iterations in which the round limit cut a cascade.
    pub round_limit_hits: u64,
    /// Values a transform chain did not pass on when they arrived: dropped by `toggle` or
    /// `deadband`, or taken over by a `slew`/`fade` (not counted in `deliveries`).
    pub withheld: u64,
    /// Values emitted by moving `slew`/`fade` outputs (also counted in `deliveries`).
    pub steps: u64,
}

/// What one call of [`Router::route`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RouteOutcome {
    /// Routing rounds run.
    pub rounds: usize,
    /// Events and frames dropped by the round limit.
    pub dropped: usize,
    /// One of the dropped events (for the log line).
    pub dropped_example: Option<Event>,
}

/// What one instance gets in a round: its value deliveries or its frame copies (the two never
/// touch the same channel, so their relative order does not matter; see [`FrameCopies`]).
#[derive(Debug)]
pub enum Routed<'a> {
    /// Values for `Backend::handle`.
    Values(&'a [Delivery]),
    /// Frame copies for `Backend::handle_frames`.
    Frames(FrameCopies<'a>),
}

/// Per-instance delivery batches and the cascade loop.
#[derive(Debug, Default)]
pub struct Router {
    batches: Vec<Vec<Delivery>>,
    /// Per instance: (frame index, frame route index) of this round's copies.
    copies: Vec<Vec<(u32, u32)>>,
    touched: Vec<InstanceId>,
    spare: Vec<Event>,
    spare_frames: FrameBuf,
    counters: Counters,
    /// State of the table's transformed edges (made for the table on first use).
    transforms: Transforms,
    /// Per channel: the last value routed on it (event or delivery), [`Value::UNSET`] before
    /// the first. Empty unless [`Router::track_values`] asked: only an observer reads it, and
    /// a million-channel configuration should not pay 24 MB for nobody.
    values: Vec<Value>,
}

impl Router {
    /// A router sized for `instances` instances (it grows if it meets a larger id).
    pub fn new(instances: usize) -> Self {
        Router {
            batches: (0..instances).map(|_| Vec::new()).collect(),
            copies: (0..instances).map(|_| Vec::new()).collect(),
            ..Self::default()
        }
    }

    /// Totals since the router was made.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Makes the transform state for `table` now rather than on the first route (so the
    /// first iteration does not allocate it).
    pub fn prepare(&mut self, table: &RoutingTable) {
        if !self.transforms.fits(table) {
            self.transforms = Transforms::for_table(table);
        }
    }

    /// Takes a reloaded configuration's table: transform state starts afresh (a `slew` in
    /// progress jumps to its target's next value), tracked values of channels both
    /// configurations have stay, the counters go on.
    pub fn reconfigure(&mut self, table: &RoutingTable, instances: usize, channels: usize) {
        self.transforms = Transforms::for_table(table);
        if self.batches.len() < instances {
            self.batches.resize_with(instances, Vec::new);
            self.copies.resize_with(instances, Vec::new);
        }
        if !self.values.is_empty() {
            self.values.resize(channels, Value::UNSET);
        }
    }

    /// When a moving `slew`/`fade` output next emits a value; the loop must turn by then.
    pub fn next_step(&self) -> Option<Instant> {
        self.transforms.next_step()
    }

    /// Keeps the last value of each of `channels` channels from now on ([`Router::last_value`]).
    pub fn track_values(&mut self, channels: usize) {
        self.values = vec![Value::UNSET; channels];
    }

    /// The last value reported on `channel` or delivered to it, while values are tracked.
    pub fn last_value(&self, channel: ChannelId) -> Option<Value> {
        self.values
            .get(channel.0 as usize)
            .copied()
            .filter(|v| !v.is_unset())
    }

    /// Routes `events` (no frames) and every cascade they cause, calling `handle` once per
    /// instance with deliveries per round. `events` is left empty (its capacity is kept).
    #[cfg(any(test, feature = "testing"))]
    pub fn route(
        &mut self,
        table: &RoutingTable,
        events: &mut Vec<Event>,
        handle: impl FnMut(InstanceId, &[Delivery], &mut Sink<'_>),
    ) -> RouteOutcome {
        self.route_at(Instant::now(), table, events, handle)
    }

    /// [`Router::route`] at the time `now` (what transforms that keep time see).
    #[cfg(any(test, feature = "testing"))]
    pub fn route_at(
        &mut self,
        now: Instant,
        table: &RoutingTable,
        events: &mut Vec<Event>,
        mut handle: impl FnMut(InstanceId, &[Delivery], &mut Sink<'_>),
    ) -> RouteOutcome {
        let mut frames = FrameBuf::new();
        self.route_all(
            now,
            table,
            &FrameRoutes::default(),
            events,
            &mut frames,
            |instance, routed, sink| {
                if let Routed::Values(d) = routed {
                    handle(instance, d, sink);
                }
            },
        )
    }

    /// Routes `events` and `frames` and every cascade they cause, at the time `now`. Per
    /// round, instances are handled in ascending id order, each with its frame copies first,
    /// then its deliveries. Both inputs are left empty (capacity kept).
    pub fn route_all(
        &mut self,
        now: Instant,
        table: &RoutingTable,
        routes: &FrameRoutes,
        events: &mut Vec<Event>,
        frames: &mut FrameBuf,
        mut handle: impl FnMut(InstanceId, Routed<'_>, &mut Sink<'_>),
    ) -> RouteOutcome {
        let mut outcome = RouteOutcome::default();
        self.prepare(table);
        self.collect_steps(table, now);
        while !events.is_empty() || !frames.is_empty() || !self.touched.is_empty() {
            if outcome.rounds == MAX_ROUNDS {
                let dropped = events.len() + frames.len();
                outcome.dropped = dropped;
                outcome.dropped_example = events.first().copied();
                self.counters.dropped_by_round_limit += dropped as u64;
                self.counters.round_limit_hits += 1;
                events.clear();
                frames.clear();
                break;
            }
            outcome.rounds += 1;
            self.collect(table, events, now);
            events.clear();
            self.collect_frames(routes, frames);
            let Router {
                batches,
                copies,
                touched,
                spare,
                spare_frames,
                ..
            } = self;
            touched.sort_unstable();
            let mut sink = Sink::with_frames(spare, spare_frames);
            for &instance in touched.iter() {
                let i = instance.0 as usize;
                if let Some(items) = copies.get_mut(i)
                    && !items.is_empty()
                {
                    let copies = FrameCopies {
                        items,
                        frames,
                        routes,
                    };
                    handle(instance, Routed::Frames(copies), &mut sink);
                    items.clear();
                }
                if let Some(batch) = batches.get_mut(i)
                    && !batch.is_empty()
                {
                    handle(instance, Routed::Values(batch), &mut sink);
                    batch.clear();
                }
            }
            touched.clear();
            frames.clear();
            std::mem::swap(events, spare);
            std::mem::swap(frames, spare_frames);
        }
        outcome
    }

    /// Makes room for instance `i` and marks it touched if this round had nothing for it yet.
    #[inline]
    fn touch(&mut self, instance: InstanceId) -> usize {
        let i = instance.0 as usize;
        if i >= self.batches.len() {
            self.batches.resize_with(i + 1, Vec::new);
            self.copies.resize_with(i + 1, Vec::new);
        }
        if self.batches[i].is_empty() && self.copies[i].is_empty() {
            self.touched.push(instance);
        }
        i
    }

    /// Turns events into deliveries appended to the per-instance batches.
    #[inline]
    fn collect(&mut self, table: &RoutingTable, events: &[Event], now: Instant) {
        // Two copies of the loop, so that routing without an observer does not even test
        // whether values are tracked.
        if self.values.is_empty() {
            self.collect_with::<false>(table, events, now);
        } else {
            self.collect_with::<true>(table, events, now);
        }
    }

    #[inline]
    fn collect_with<const TRACK: bool>(
        &mut self,
        table: &RoutingTable,
        events: &[Event],
        now: Instant,
    ) {
        self.counters.events += events.len() as u64;
        for ev in events {
            if TRACK && let Some(v) = self.values.get_mut(ev.channel.0 as usize) {
                *v = ev.value;
            }
            let targets = table.targets(ev.channel);
            if targets.is_empty() {
                self.counters.unrouted += 1;
                continue;
            }
            self.counters.deliveries += targets.len() as u64;
            for t in targets {
                if t.instance == TRANSFORMED {
                    self.transformed(table, t.key, ev.value, now);
                    continue;
                }
                if TRACK && let Some(v) = self.values.get_mut(t.channel.0 as usize) {
                    *v = ev.value;
                }
                let i = self.touch(t.instance);
                self.batches[i].push(Delivery {
                    channel: t.channel,
                    key: t.key,
                    value: ev.value,
                });
            }
        }
    }

    /// An event crossing an edge with a transform chain (kept out of line: plain edges are the
    /// hot path).
    #[inline(never)]
    fn transformed(&mut self, table: &RoutingTable, index: u64, value: Value, now: Instant) {
        let Some(edge) = table.chained(index) else {
            self.counters.deliveries -= 1;
            return;
        };
        let ops = table.ops_of(edge);
        match self
            .transforms
            .apply(index as u32, edge.slots, ops, value, now)
        {
            Some(value) => self.deliver(edge, value),
            None => {
                self.counters.deliveries -= 1;
                self.counters.withheld += 1;
            }
        }
    }

    /// The values of moving outputs that are due at `now`, as deliveries.
    fn collect_steps(&mut self, table: &RoutingTable, now: Instant) {
        if self.transforms.next_step().is_none_or(|at| now < at) {
            return;
        }
        // The scratch list is taken out and put back so `deliver` can borrow the batches.
        let mut transforms = std::mem::take(&mut self.transforms);
        for &(index, value) in transforms.step(now) {
            if let Some(edge) = table.chained(u64::from(index)) {
                self.deliver(edge, value);
                self.counters.deliveries += 1;
                self.counters.steps += 1;
            }
        }
        self.transforms = transforms;
    }

    #[inline]
    fn deliver(&mut self, edge: &ChainedEdge, value: Value) {
        let t = edge.target;
        // Transformed values and motion steps are what the target gets: the monitor shows those.
        if let Some(v) = self.values.get_mut(t.channel.0 as usize) {
            *v = value;
        }
        let i = self.touch(t.instance);
        self.batches[i].push(Delivery {
            channel: t.channel,
            key: t.key,
            value,
        });
    }

    /// Turns frames into copies appended to the per-instance copy lists.
    fn collect_frames(&mut self, routes: &FrameRoutes, frames: &FrameBuf) {
        self.counters.frames += frames.len() as u64;
        for f in 0..frames.len() {
            let Some((source, _)) = frames.get(f) else {
                continue;
            };
            for r in routes.routes_of(source) {
                let Some(target) = routes.target_of(r) else {
                    continue;
                };
                let i = self.touch(target);
                self.copies[i].push((f as u32, r as u32));
                self.counters.frame_copies += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ChannelIds;
    use crate::registry::ChannelRegistry;
    use crate::routing::RoutingBuilder;
    use proptest::prelude::*;

    fn ev(c: ChannelId, v: u64) -> Event {
        Event {
            channel: c,
            value: Value::from_raw(v, 8),
        }
    }

    #[test]
    fn grouping_is_stable_per_instance() {
        // Sources s0..s3 on instance 0, targets a1,a2 on instance 1 (A), b1,b2 on instance 2 (B).
        let mut reg = ChannelRegistry::new();
        let s: Vec<_> = (0..4).map(|k| reg.resolve(InstanceId(0), k)).collect();
        let a1 = reg.resolve(InstanceId(1), 1);
        let a2 = reg.resolve(InstanceId(1), 2);
        let b1 = reg.resolve(InstanceId(2), 1);
        let b2 = reg.resolve(InstanceId(2), 2);
        let mut rb = RoutingBuilder::new();
        rb.add_edge(s[0], a1);
        rb.add_edge(s[1], b1);
        rb.add_edge(s[2], b2);
        rb.add_edge(s[3], a2);
        let table = rb.build(&reg);
        let mut router = Router::new(3);
        let mut events = vec![ev(s[0], 1), ev(s[1], 2), ev(s[2], 3), ev(s[3], 4)];
        let mut calls = Vec::new();
        let out = router.route(&table, &mut events, |inst, d, _| {
            calls.push((
                inst.0,
                d.iter()
                    .map(|d| (d.channel, d.key, d.value.to_raw(8)))
                    .collect::<Vec<_>>(),
            ));
        });
        assert_eq!(out.rounds, 1);
        assert_eq!(
            calls,
            vec![
                (1, vec![(a1, 1, 1), (a2, 2, 4)]),
                (2, vec![(b1, 1, 2), (b2, 2, 3)])
            ]
        );
        assert!(events.is_empty());
    }

    #[test]
    fn last_values_are_kept_only_when_asked() {
        let mut reg = ChannelRegistry::new();
        let a = reg.resolve(InstanceId(0), 1);
        let b = reg.resolve(InstanceId(1), 1);
        let lone = reg.resolve(InstanceId(0), 2);
        let mut rb = RoutingBuilder::new();
        rb.add_edge(a, b);
        let table = rb.build(&reg);
        let mut router = Router::new(2);
        router.route(&table, &mut vec![ev(a, 3)], |_, _, _| {});
        assert_eq!(router.last_value(a), None, "not tracked");
        router.track_values(reg.len());
        assert_eq!(router.last_value(b), None, "nothing routed since");
        router.route(
            &table,
            &mut vec![ev(a, 5), ev(lone, 9), ev(a, 6)],
            |_, _, _| {},
        );
        let raw = |c| router.last_value(c).map(|v| v.to_raw(8));
        assert_eq!((raw(a), raw(b), raw(lone)), (Some(6), Some(6), Some(9)));
        assert_eq!(router.last_value(ChannelId(99)), None);
    }

    #[test]
    fn unmapped_events_are_discarded_and_counted() {
        let mut reg = ChannelRegistry::new();
        let a = reg.resolve(InstanceId(0), 1);
        let b = reg.resolve(InstanceId(0), 2);
        let mut rb = RoutingBuilder::new();
        rb.add_edge(a, b);
        let table = rb.build(&reg);
        let mut router = Router::new(1);
        let mut calls = 0;
        router.route(
            &table,
            &mut vec![ev(b, 1), ev(ChannelId(77), 1)],
            |_, _, _| calls += 1,
        );
        assert_eq!(calls, 0);
        let c = router.counters();
        assert_eq!((c.events, c.unrouted, c.deliveries), (2, 2, 0));
    }

    #[test]
    fn feedback_loop_stops_after_twenty_rounds() {
        let mut reg = ChannelRegistry::new();
        let a = reg.resolve(InstanceId(0), 1);
        let mut rb = RoutingBuilder::new();
        rb.add_edge(a, a);
        let table = rb.build(&reg);
        let mut router = Router::new(1);
        let mut handled = 0;
        let echo = |_: InstanceId, d: &[Delivery], sink: &mut Sink<'_>| {
            handled += 1;
            for d in d {
                sink.push(d.channel, d.value);
            }
        };
        let out = router.route(&table, &mut vec![ev(a, 9)], echo);
        assert_eq!(out.rounds, MAX_ROUNDS);
        assert_eq!(out.dropped, 1);
        assert_eq!(out.dropped_example.map(|e| e.channel), Some(a));
        assert_eq!(handled, MAX_ROUNDS);
        let c = router.counters();
        assert_eq!(c.dropped_by_round_limit, 1);
        assert_eq!(c.deliveries, MAX_ROUNDS as u64);
        // A second iteration is cut again; the counter keeps rising.
        router.route(&table, &mut vec![ev(a, 9)], |_, d, s| {
            d.iter().for_each(|d| s.push(d.channel, d.value))
        });
        assert_eq!(router.counters().dropped_by_round_limit, 2);
        assert_eq!(router.counters().round_limit_hits, 2);
    }

    #[test]
    fn cascade_through_a_reemitting_instance_completes_in_one_call() {
        // src (inst 0) > loop.a (inst 1, echoes) > out (inst 2)
        let mut reg = ChannelRegistry::new();
        let src = reg.resolve(InstanceId(0), 0);
        let la = reg.resolve(InstanceId(1), 0);
        let out = reg.resolve(InstanceId(2), 0);
        let mut rb = RoutingBuilder::new();
        rb.add_edge(src, la);
        rb.add_edge(la, out);
        let table = rb.build(&reg);
        let mut router = Router::new(3);
        let mut seen = Vec::new();
        let outcome = router.route(
            &table,
            &mut vec![ev(src, 5), ev(src, 6)],
            |inst, d, sink| {
                if inst.0 == 1 {
                    d.iter().for_each(|d| sink.push(d.channel, d.value));
                } else {
                    seen.extend(d.iter().map(|d| (d.channel, d.value.to_raw(8))));
                }
            },
        );
        assert_eq!(outcome.rounds, 2);
        assert_eq!(seen, vec![(out, 5), (out, 6)]);
    }

    fn chain(ops: Vec<crate::Transform>) -> crate::Chain {
        crate::Chain::new(ops).expect("chain")
    }

    #[test]
    fn transformed_edges_run_their_chain_beside_plain_ones() {
        use crate::Transform;
        // s > a | invert, s > b (plain), s > c | toggle: one source, three targets.
        let mut reg = ChannelRegistry::new();
        let s = reg.resolve(InstanceId(0), 0);
        let a = reg.resolve(InstanceId(1), 10);
        let b = reg.resolve(InstanceId(1), 11);
        let c = reg.resolve(InstanceId(2), 12);
        let mut rb = RoutingBuilder::new();
        rb.add_edge_with(s, a, &chain(vec![Transform::Invert]));
        rb.add_edge(s, b);
        rb.add_edge_with(s, c, &chain(vec![Transform::Toggle]));
        let table = rb.build(&reg);
        // Made without the table: the state is made on the first route.
        let mut router = Router::new(3);
        let mut got = Vec::new();
        let now = std::time::Instant::now();
        for v in [200, 0] {
            router.route_at(now, &table, &mut vec![ev(s, v)], |inst, d, _| {
                got.extend(
                    d.iter()
                        .map(|d| (inst.0, d.channel, d.key, d.value.to_raw(8))),
                );
            });
        }
        assert_eq!(
            got,
            vec![
                (1, a, 10, 55),
                (1, b, 11, 200),
                (2, c, 12, 255),
                (1, a, 10, 255),
                (1, b, 11, 0),
            ]
        );
        let n = router.counters();
        assert_eq!((n.events, n.deliveries, n.withheld), (2, 5, 1));
    }

    #[test]
    fn moving_outputs_are_delivered_without_events_and_end_exactly() {
        use crate::Transform;
        use std::time::{Duration, Instant};
        let mut reg = ChannelRegistry::new();
        let s = reg.resolve(InstanceId(0), 0);
        let t = reg.resolve(InstanceId(1), 0);
        let mut rb = RoutingBuilder::new();
        rb.add_edge_with(
            s,
            t,
            &chain(vec![Transform::Fade(Duration::from_millis(40))]),
        );
        let table = rb.build(&reg);
        let mut router = Router::new(2);
        router.prepare(&table);
        let t0 = Instant::now();
        let mut got = Vec::new();
        let mut at = |router: &mut Router, ms: u64, events: Vec<Event>| {
            let mut events = events;
            let now = t0 + Duration::from_millis(ms);
            router.route_at(now, &table, &mut events, |_, d, _| {
                got.extend(d.iter().map(|d| (ms, d.value.to_raw(8))));
            });
        };
        at(&mut router, 0, vec![ev(s, 0)]);
        at(&mut router, 0, vec![ev(s, 255)]);
        assert_eq!(router.next_step(), Some(t0 + Duration::from_millis(10)));
        for ms in [5, 10, 20, 30, 40, 50] {
            at(&mut router, ms, Vec::new());
        }
        assert_eq!(got, vec![(0, 0), (10, 64), (20, 128), (30, 191), (40, 255)]);
        assert_eq!(router.next_step(), None);
        let n = router.counters();
        assert_eq!((n.deliveries, n.steps, n.withheld), (5, 4, 1));
    }

    /// (channels, instances, edges, events as (channel, value)).
    type Case = (usize, usize, Vec<(u32, u32)>, Vec<(u32, u8)>);

    /// Graph: `n` channels spread over `k` instances; edges random.
    fn graph_and_events() -> impl Strategy<Value = Case> {
        (1usize..12, 1usize..4).prop_flat_map(|(n, k)| {
            let edges = proptest::collection::vec((0..n as u32, 0..n as u32), 0..40);
            let events = proptest::collection::vec((0..n as u32 + 2, any::<u8>()), 0..60);
            (Just(n), Just(k), edges, events)
        })
    }

    proptest! {
        /// For any mapping graph without re-emitting backends and any event sequence, each
        /// target ends with the value that delivering the events one by one would leave.
        #[test]
        fn final_values_match_one_by_one_delivery((n, k, edges, events) in graph_and_events()) {
            let mut reg = ChannelRegistry::new();
            let ids: Vec<ChannelId> =
                (0..n).map(|i| reg.resolve(InstanceId((i % k) as u32), i as u64)).collect();
            let mut rb = RoutingBuilder::new();
            for &(s, t) in &edges {
                rb.add_edge(ids[s as usize], ids[t as usize]);
            }
            let table = rb.build(&reg);

            // Reference: one event at a time, straight from the edge list.
            let mut expected: Vec<Option<u64>> = vec![None; n];
            for &(c, v) in &events {
                for &(s, t) in rb.edges() {
                    if s.0 == c {
                        expected[t.0 as usize] = Some(v as u64);
                    }
                }
            }

            let mut got: Vec<Option<u64>> = vec![None; n];
            let mut router = Router::new(k);
            let mut batch: Vec<Event> =
                events.iter().map(|&(c, v)| ev(ChannelId(c), v as u64)).collect();
            let out = router.route(&table, &mut batch, |inst, d, _| {
                for d in d {
                    assert_eq!(reg.instance_of(d.channel), Some(inst));
                    assert_eq!(reg.key_of(d.channel), Some(d.key));
                    got[d.channel.0 as usize] = Some(d.value.to_raw(8));
                }
            });
            prop_assert!(out.rounds <= 1);
            prop_assert_eq!(got, expected);
        }

        /// Frame routes change nothing about the result: for any graph where some channels are
        /// lanes, a backend that reports each change both as a frame (when the plan routes its
        /// instance's frame) and as an event (when the plan still routes the channel's events)
        /// leaves every target with the value one-by-one event delivery gives (0 = never set,
        /// the value a frame lane has before anything was written).
        #[test]
        fn frame_routes_match_one_by_one_delivery(
            (n, k, edges, events) in graph_and_events(),
            lanes in proptest::collection::vec(any::<bool>(), 12),
        ) {
            let mut reg = ChannelRegistry::new();
            let ids: Vec<ChannelId> = (0..n)
                .map(|i| reg.resolve(InstanceId((i % k) as u32), i as u64))
                .collect();
            for (i, &c) in ids.iter().enumerate() {
                if lanes[i] {
                    reg.set_lane(c, (i / k) as u16);
                }
            }
            let mut rb = RoutingBuilder::new();
            for &(s, t) in &edges {
                rb.add_edge(ids[s as usize], ids[t as usize]);
            }
            let (table, routes) = rb.freeze(&reg);
            let plan = crate::backend::RoutePlan::new(&table, &routes);

            let mut expected = vec![0u64; n];
            for &(c, v) in &events {
                for &(s, t) in rb.edges() {
                    if s.0 == c {
                        expected[t.0 as usize] = v as u64;
                    }
                }
            }

            // The reporting backend: every instance's input frame, one byte per lane.
            let mut input = vec![vec![0u8; n]; k];
            let mut batch = Vec::new();
            let mut frames = FrameBuf::new();
            {
                let mut sink = Sink::with_frames(&mut batch, &mut frames);
                for &(c, v) in &events {
                    let Some(&id) = ids.get(c as usize) else {
                        sink.push(ChannelId(c), Value::from_raw(v as u64, 8));
                        continue;
                    };
                    let inst = reg.instance_of(id).unwrap();
                    if let Some(lane) = reg.lane_of(id) {
                        input[inst.0 as usize][lane as usize] = v;
                        if plan.routes_frame(inst) {
                            sink.push_frame(inst, &input[inst.0 as usize]);
                        }
                    }
                    if plan.routes_events(id) {
                        sink.push(id, Value::from_raw(v as u64, 8));
                    }
                }
            }

            let mut got = vec![0u64; n];
            let mut output = vec![vec![0u8; n]; k];
            let mut router = Router::new(k);
            router.route_all(Instant::now(), &table, &routes, &mut batch, &mut frames, |inst, routed, _| {
                match routed {
                    Routed::Values(d) => {
                        for d in d {
                            got[d.channel.0 as usize] = d.value.to_raw(8);
                        }
                    }
                    Routed::Frames(copies) => {
                        for copy in copies.iter() {
                            copy.apply(&mut output[inst.0 as usize]);
                        }
                    }
                }
            });
            prop_assert!(batch.is_empty() && frames.is_empty());
            for (i, &c) in ids.iter().enumerate() {
                if let Some(lane) = reg.lane_of(c) {
                    let inst = reg.instance_of(c).unwrap().0 as usize;
                    // A target is reached either by events or by one frame route, never both,
                    // and the other stays 0.
                    got[i] += u64::from(output[inst][lane as usize]);
                }
            }
            prop_assert_eq!(got, expected);
        }
    }
}
