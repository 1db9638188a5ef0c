//! The backend test rig (feature `testing`; a backend crate enables it for its tests only:
//! `patchbay-core = { workspace = true, features = ["testing"] }` under `[dev-dependencies]`).
//!
//! Why one rig for every backend: a backend test that drives `process`, `handle` and `flush`
//! by hand has to copy the loop's order of calls, its wait and its routing, and the copy drifts
//! from the real [`Core::turn`]. [`Rig`] runs the backend under test inside a real [`Core`]
//! (its reactor, its timers, its routing rounds), next to a recording *probe* backend:
//!
//! * channels looked up with [`Rig::input`] are mapped to the probe, so every event the backend
//!   reports on them is recorded ([`Rig::events`], with the backend's own channel id); the
//!   probe's instance and mappings are added at [`Rig::start`], after the backend's, so the
//!   backend's instances and channels get the ids they would get without the rig;
//! * channels looked up with [`Rig::output`] are fed by the probe: [`Rig::set`] queues a value
//!   that the next [`Rig::turn`] routes to the backend's `handle`, then `flush`;
//! * time is a [`ManualClock`] ([`Rig::new`], moved with [`Rig::advance`]) or the system clock
//!   ([`Rig::real_time`], for tests against real peers whose timers run in real time);
//! * sockets are real: in-memory ones (pipes, socket pairs) anywhere, network sockets only
//!   inside a private network namespace (`patchbay_net::netns::require_private_netns`);
//! * the backend stays reachable between turns ([`Rig::backend`], [`Rig::backend_mut`]) for its
//!   own counters and state, and [`Rig::call`] calls it directly with the loop's [`Io`] for the
//!   rare test that needs a call order no turn produces.
//!
//! ```
//! use std::time::Duration;
//! use patchbay_core::testing::Rig;
//! use patchbay_core::Value;
//! use patchbay_core::testing::Echo;
//!
//! // `Echo` reports every value it is sent again, on the same channel.
//! let mut rig = Rig::new(Echo);
//! let a = rig.add_instance("a").unwrap();
//! let out = rig.output(a, "x").unwrap();
//! let back = rig.input(a, "x").unwrap();
//! rig.start().unwrap();
//! rig.set(out, Value::from_raw(200, 8));
//! rig.turn(Duration::ZERO).unwrap();
//! let events = rig.take_events();
//! assert_eq!(events.len(), 1);
//! assert_eq!((events[0].channel, events[0].value.raw()), (back, Some((200, 8))));
//! ```
//!
//! The rest of this module (the routing internals a benchmark or a fuzz target needs to drive
//! pieces of the loop on their own) is not API either; it is here so that it need not be
//! public in every build.

use std::cell::{Ref, RefCell, RefMut};
use std::rc::Rc;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use crate::{
    Backend, ChannelCtx, ChannelError, ChannelId, ChannelRegistry, Clock, ConfigCtx, Core,
    CoreError, Delivery, Direction, Event, Exit, FatalError, FrameCopies, InstanceError,
    InstanceId, Io, ManualClock, OptionError, Part, Ready, RoutePlan, RoutingBuilder, Sink,
    StartError, Stat, Value,
};

pub use crate::frames::{FrameBuf, FrameRoutes};
pub use crate::router::{RouteOutcome, Routed, Router};
pub use crate::routing::{RoutingTable, Target};

/// A sink collecting into `events` (frames reported to it are dropped): for driving a
/// backend's `handle` or a sans-IO pipeline without a loop.
pub fn sink(events: &mut Vec<Event>) -> Sink<'_> {
    Sink::new(events)
}

/// A sink collecting events and frames, as the loop's.
pub fn sink_with_frames<'a>(events: &'a mut Vec<Event>, frames: &'a mut FrameBuf) -> Sink<'a> {
    Sink::with_frames(events, frames)
}

/// The routing table of `routes` (channels looked up in `registry`), without frame routes.
pub fn routing_table(routes: &RoutingBuilder, registry: &ChannelRegistry) -> RoutingTable {
    routes.build(registry)
}

/// The routing table and frame routes of `routes`, as the core freezes them at start.
pub fn freeze(routes: &RoutingBuilder, registry: &ChannelRegistry) -> (RoutingTable, FrameRoutes) {
    routes.freeze(registry)
}

/// A [`RoutePlan`] over a frozen table and its frame routes (see [`freeze`]).
pub fn plan<'a>(table: &'a RoutingTable, frames: &'a FrameRoutes) -> RoutePlan<'a> {
    RoutePlan::new(table, frames)
}

/// What the probe saw and has to send, shared with the rig.
#[derive(Default)]
struct ProbeState {
    /// Per probe key: the backend channel whose events it records.
    watched: Vec<ChannelId>,
    events: Vec<Event>,
    /// Values for probe channels, reported at the next `process`.
    inbox: Vec<(ChannelId, Value)>,
}

/// The rig's second backend: records deliveries, reports queued values. Its channel names are
/// decimal keys.
struct Probe(Rc<RefCell<ProbeState>>);

/// Name of the probe backend and its one instance.
const PROBE: &str = "rig";

impl Backend for Probe {
    fn name(&self) -> &'static str {
        PROBE
    }
    fn configure(&mut self, _: &str, _: &str, _: &mut ConfigCtx<'_>) -> Result<(), OptionError> {
        Ok(())
    }
    fn create_instance(&mut self, _: InstanceId, _: &str) -> Result<(), OptionError> {
        Ok(())
    }
    fn configure_instance(
        &mut self,
        _: InstanceId,
        _: &str,
        _: &str,
        _: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        Ok(())
    }
    fn channel(
        &mut self,
        instance: InstanceId,
        name: &str,
        _: Direction,
        ctx: &mut ChannelCtx<'_>,
    ) -> Result<ChannelId, ChannelError> {
        let key = name.parse().map_err(|_| ChannelError {
            message: format!("rig probe channel '{name}' is not a number"),
        })?;
        Ok(ctx.ids.resolve(instance, key))
    }
    fn start(&mut self, _: Instant, _: &mut Io<'_>) -> Result<(), StartError> {
        Ok(())
    }
    fn process(
        &mut self,
        _: Instant,
        _: &[Ready],
        _: &mut Io<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), FatalError> {
        for (channel, value) in self.0.borrow_mut().inbox.drain(..) {
            sink.push(channel, value);
        }
        Ok(())
    }
    fn handle(&mut self, _: Instant, _: InstanceId, deliveries: &[Delivery], _: &mut Sink<'_>) {
        let mut state = self.0.borrow_mut();
        for d in deliveries {
            let watched = usize::try_from(d.key)
                .ok()
                .and_then(|k| state.watched.get(k))
                .copied();
            if let Some(channel) = watched {
                state.events.push(Event {
                    channel,
                    value: d.value,
                });
            }
        }
    }
    fn shutdown(&mut self, _: Instant, _: &mut Io<'_>) {}
}

/// The backend under test as the core holds it: shared with the rig, which reaches it between
/// turns. Every trait method is forwarded (a method added to [`Backend`] must be added here,
/// or the rig would test its default instead of the backend's own).
struct Shared<B> {
    backend: Rc<RefCell<B>>,
    /// What the last `process` was handed.
    ready: Rc<RefCell<Vec<Ready>>>,
}

impl<B: Backend> Backend for Shared<B> {
    fn name(&self) -> &'static str {
        self.backend.borrow().name()
    }
    fn reemits(&self) -> bool {
        self.backend.borrow().reemits()
    }
    fn configure(
        &mut self,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        self.backend.borrow_mut().configure(key, value, ctx)
    }
    fn create_instance(&mut self, instance: InstanceId, name: &str) -> Result<(), OptionError> {
        self.backend.borrow_mut().create_instance(instance, name)
    }
    fn configure_instance(
        &mut self,
        instance: InstanceId,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        self.backend
            .borrow_mut()
            .configure_instance(instance, key, value, ctx)
    }
    fn channel(
        &mut self,
        instance: InstanceId,
        name: &str,
        direction: Direction,
        ctx: &mut ChannelCtx<'_>,
    ) -> Result<ChannelId, ChannelError> {
        self.backend
            .borrow_mut()
            .channel(instance, name, direction, ctx)
    }
    fn validate(&self) -> Vec<StartError> {
        self.backend.borrow().validate()
    }
    fn plan(&mut self, plan: &RoutePlan<'_>) {
        self.backend.borrow_mut().plan(plan)
    }
    fn start(&mut self, now: Instant, io: &mut Io<'_>) -> Result<(), StartError> {
        self.backend.borrow_mut().start(now, io)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.backend.borrow().poll_timeout()
    }
    fn process(
        &mut self,
        now: Instant,
        ready: &[Ready],
        io: &mut Io<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), FatalError> {
        {
            // Cleared, not replaced: a warm rig does not allocate here.
            let mut seen = self.ready.borrow_mut();
            seen.clear();
            seen.extend_from_slice(ready);
        }
        self.backend.borrow_mut().process(now, ready, io, sink)
    }
    fn handle(
        &mut self,
        now: Instant,
        instance: InstanceId,
        deliveries: &[Delivery],
        sink: &mut Sink<'_>,
    ) {
        self.backend
            .borrow_mut()
            .handle(now, instance, deliveries, sink)
    }
    fn handle_frames(
        &mut self,
        now: Instant,
        instance: InstanceId,
        copies: FrameCopies<'_>,
        sink: &mut Sink<'_>,
    ) {
        self.backend
            .borrow_mut()
            .handle_frames(now, instance, copies, sink)
    }
    fn flush(&mut self, now: Instant, io: &mut Io<'_>) {
        self.backend.borrow_mut().flush(now, io)
    }
    fn shutdown(&mut self, now: Instant, io: &mut Io<'_>) {
        self.backend.borrow_mut().shutdown(now, io)
    }
    fn shutdown_complete(&self) -> bool {
        self.backend.borrow().shutdown_complete()
    }
    fn stats(&self, out: &mut Vec<Stat>) {
        self.backend.borrow().stats(out)
    }
}

/// One backend under test in a real [`Core`], with a recording probe and a clock the test
/// controls (see the [module docs](self)).
pub struct Rig<B: Backend + 'static> {
    core: Core,
    backend: Rc<RefCell<B>>,
    ready: Rc<RefCell<Vec<Ready>>>,
    probe: Rc<RefCell<ProbeState>>,
    /// `None`: the system clock.
    clock: Option<ManualClock>,
    /// Backend channels of [`Rig::input`] lookups, in order (the probe's key is the index).
    recorded: Vec<ChannelId>,
    /// Backend channels of [`Rig::output`] lookups, each with its probe channel once started.
    driven: FxHashMap<ChannelId, Option<ChannelId>>,
    /// [`Rig::start`] connected the probe (a second start only reaches the core's refusal).
    probe_connected: bool,
}

/// Backend index of the backend under test in the rig's core (the probe is index 1).
const UNDER_TEST: usize = 0;

impl<B: Backend + 'static> Rig<B> {
    /// A rig on a [`ManualClock`] that starts at the current instant and moves only with
    /// [`Rig::advance`]; waits still block for real (at most `max_wait` per turn).
    pub fn new(backend: B) -> Self {
        Self::build(backend, Some(ManualClock::new(Instant::now())))
    }

    /// A rig on the system clock, for backends whose peers (or kernels) keep time for real.
    pub fn real_time(backend: B) -> Self {
        Self::build(backend, None)
    }

    fn build(backend: B, clock: Option<ManualClock>) -> Self {
        let backend = Rc::new(RefCell::new(backend));
        let ready = Rc::new(RefCell::new(Vec::new()));
        let probe = Rc::new(RefCell::new(ProbeState::default()));
        let shared = Shared {
            backend: Rc::clone(&backend),
            ready: Rc::clone(&ready),
        };
        let mut core = match Core::new(vec![Box::new(shared), Box::new(Probe(Rc::clone(&probe)))]) {
            Ok(core) => core,
            Err(e) => panic!("rig: cannot create the event loop: {e}"),
        };
        if let Some(c) = &clock {
            core = core.with_clock(c.clone());
        }
        Rig {
            core,
            backend,
            ready,
            probe,
            clock,
            recorded: Vec::new(),
            driven: FxHashMap::default(),
            probe_connected: false,
        }
    }

    // ----- configuration -----

    /// One `[backend NAME]` option line; `Ok` holds the warnings it produced.
    pub fn configure(
        &mut self,
        key: &str,
        value: &str,
    ) -> Result<Vec<(Part, String)>, OptionError> {
        let mut warnings = Vec::new();
        let mut ctx = test_ctx(&mut warnings);
        match self.core.backend_mut(UNDER_TEST) {
            Some(b) => b.configure(key, value, &mut ctx)?,
            None => unreachable!("the rig's core always has the backend under test"),
        }
        Ok(warnings)
    }

    /// Opens an instance section `[NAME name]` of the backend under test.
    pub fn add_instance(&mut self, name: &str) -> Result<InstanceId, InstanceError> {
        self.core.add_instance(UNDER_TEST, name)
    }

    /// One option line of an instance section; `Ok` holds the warnings it produced.
    pub fn configure_instance(
        &mut self,
        instance: InstanceId,
        key: &str,
        value: &str,
    ) -> Result<Vec<(Part, String)>, OptionError> {
        let mut warnings = Vec::new();
        let mut ctx = test_ctx(&mut warnings);
        self.core
            .configure_instance(instance, key, value, &mut ctx)?;
        Ok(warnings)
    }

    /// Looks up channel `name` of `instance` for one use as `direction`, as a mapping line
    /// would; `Ok` holds the id and the warnings about the channel.
    pub fn channel(
        &mut self,
        instance: InstanceId,
        name: &str,
        direction: Direction,
    ) -> Result<(ChannelId, Vec<String>), ChannelError> {
        let mut warnings = Vec::new();
        let id = self
            .core
            .channel(instance, name, direction, &mut warnings)?;
        Ok((id, warnings))
    }

    /// Looks up `name` as a mapping source and maps it to the probe (at [`Rig::start`]): every
    /// event the backend reports on it is recorded ([`Rig::events`]).
    pub fn input(&mut self, instance: InstanceId, name: &str) -> Result<ChannelId, ChannelError> {
        let (id, _) = self.channel(instance, name, Direction::Input)?;
        if !self.recorded.contains(&id) {
            self.recorded.push(id);
        }
        Ok(id)
    }

    /// Looks up `name` as a mapping target fed by the probe (from [`Rig::start`]):
    /// [`Rig::set`] sends it values.
    pub fn output(&mut self, instance: InstanceId, name: &str) -> Result<ChannelId, ChannelError> {
        let (id, _) = self.channel(instance, name, Direction::Output)?;
        self.driven.entry(id).or_insert(None);
        Ok(id)
    }

    /// Adds the probe's instance and its mappings. Why at start: the backend's instances keep
    /// the ids they would have without the rig (0, 1, ... in order of definition).
    fn connect_probe(&mut self) -> Result<(), CoreError> {
        if std::mem::replace(&mut self.probe_connected, true)
            || (self.recorded.is_empty() && self.driven.is_empty())
        {
            return Ok(());
        }
        let fail = |message: String| CoreError::Start {
            backend: PROBE,
            source: StartError::backend(message),
        };
        let probe = self
            .core
            .add_instance(1, PROBE)
            .map_err(|e| fail(format!("cannot add the probe instance: {e}")))?;
        let lookup = |core: &mut Core, key: usize, direction| {
            core.channel(probe, &key.to_string(), direction, &mut Vec::new())
                .map_err(|e| fail(e.message))
        };
        for (key, &id) in self.recorded.iter().enumerate() {
            let p = lookup(&mut self.core, key, Direction::Output)?;
            self.core.add_mapping(id, p);
        }
        self.probe.borrow_mut().watched = self.recorded.clone();
        // Keys of driven channels count down from the top, clear of the recorded ones.
        let mut driven: Vec<ChannelId> = self.driven.keys().copied().collect();
        driven.sort_unstable();
        for (n, id) in driven.into_iter().enumerate() {
            let p = lookup(&mut self.core, usize::MAX - n, Direction::Input)?;
            self.core.add_mapping(p, id);
            self.driven.insert(id, Some(p));
        }
        Ok(())
    }

    /// Maps `source` to `target` (both the backend's channels); false if the edge existed.
    pub fn map(&mut self, source: ChannelId, target: ChannelId) -> bool {
        self.core.add_mapping(source, target)
    }

    /// Connects the probe, freezes the routing and starts the backends, as the daemon does
    /// after reading the configuration ([`Backend::validate`] is the daemon's job and is not
    /// called).
    pub fn start(&mut self) -> Result<(), CoreError> {
        self.connect_probe()?;
        self.core.start()
    }

    // ----- running -----

    /// Queues `value` for `channel` (looked up with [`Rig::output`]): the probe reports it in
    /// the next turn, which routes it to the backend's `handle` and then calls `flush`.
    /// Values set before one turn reach the backend together, in order.
    ///
    /// # Panics
    /// If `channel` was not looked up with [`Rig::output`], or before [`Rig::start`].
    pub fn set(&mut self, channel: ChannelId, value: Value) {
        let Some(&probe) = self.driven.get(&channel) else {
            panic!("rig: channel {channel:?} was not looked up with Rig::output");
        };
        let Some(probe) = probe else {
            panic!("rig: set before start");
        };
        self.probe.borrow_mut().inbox.push((probe, value));
    }

    /// One iteration of the real loop ([`Core::turn`]): wait for readiness, a backend deadline
    /// or `max_wait`, then process, route and flush. `Some(exit)` once the loop has ended.
    pub fn turn(&mut self, max_wait: Duration) -> Result<Option<Exit>, CoreError> {
        self.core.turn(Some(max_wait))
    }

    /// The events recorded so far on channels looked up with [`Rig::input`], in the order the
    /// backend reported them (with the backend's channel ids).
    pub fn events(&self) -> Vec<Event> {
        self.probe.borrow().events.clone()
    }

    /// Like [`Rig::events`], and forgets them.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.probe.borrow_mut().events)
    }

    /// What the backend's last `process` was handed: one [`Ready`] per ready source.
    pub fn ready(&self) -> Vec<Ready> {
        self.ready.borrow().clone()
    }

    /// The time the next turn will see.
    pub fn now(&self) -> Instant {
        self.clock.as_ref().map_or_else(Instant::now, |c| c.now())
    }

    /// Moves the manual clock forward.
    ///
    /// # Panics
    /// On a [`Rig::real_time`] rig.
    pub fn advance(&self, by: Duration) {
        match &self.clock {
            Some(c) => c.advance(by),
            None => panic!("rig: a real-time rig cannot move time"),
        }
    }

    /// The backend under test, between turns.
    pub fn backend(&self) -> Ref<'_, B> {
        self.backend.borrow()
    }

    /// The backend under test, mutably, between turns.
    pub fn backend_mut(&self) -> RefMut<'_, B> {
        self.backend.borrow_mut()
    }

    /// Calls the backend directly with the rig's time, the loop's [`Io`] and the loop's sink
    /// (events pushed to it are routed by the next turn): for a test of a call order no turn
    /// makes, e.g. several `handle` calls before one `flush`.
    pub fn call<R>(
        &mut self,
        f: impl FnOnce(&mut B, Instant, &mut Io<'_>, &mut Sink<'_>) -> R,
    ) -> R {
        let now = self.now();
        let (mut io, mut sink) = self.core.backend_context(UNDER_TEST);
        f(&mut self.backend.borrow_mut(), now, &mut io, &mut sink)
    }

    /// Asks the loop to shut down, as SIGINT would: every backend's `shutdown` now, then turns
    /// until they complete ([`Rig::turn`] returns the exit).
    pub fn shutdown(&mut self) {
        self.core.request_shutdown();
    }

    /// The counter `name` of `scope` (an instance name, or the backend's own scope label such
    /// as sACN's `bind 0`), from the backend's [`Backend::stats`].
    pub fn stat(&self, scope: &str, name: &str) -> Option<u64> {
        let backend = self.backend.borrow().name();
        self.core
            .stats()
            .iter()
            .filter(|g| g.backend == backend && g.scope == scope)
            .flat_map(|g| g.counters.iter())
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    /// The frame routes the routing was frozen into at [`Rig::start`].
    pub fn frame_routes(&self) -> &FrameRoutes {
        self.core.frame_routes()
    }

    /// How many sources (sockets, pipes) the backends have registered with the loop.
    pub fn registered(&self) -> usize {
        self.core.reactor.registered()
    }

    /// The core, for what the rig does not wrap (counters, labels, cycles).
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// The core, mutably.
    pub fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }
}

/// Configuration context of rig lookups: relative paths resolve against the temporary
/// directory, the configuration file is a name that does not exist.
fn test_ctx(warnings: &mut Vec<(Part, String)>) -> ConfigCtx<'_> {
    ConfigCtx {
        base_dir: std::path::Path::new("/tmp"),
        config_path: std::path::Path::new("/tmp/patchbay-rig.cfg"),
        warnings,
    }
}

/// A minimal re-emitting backend (every value delivered to a channel comes back as an event on
/// the same channel), for the rig's own examples and tests.
#[derive(Debug, Default)]
#[doc(hidden)]
pub struct Echo;

impl Backend for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }
    fn reemits(&self) -> bool {
        true
    }
    fn configure(&mut self, _: &str, _: &str, _: &mut ConfigCtx<'_>) -> Result<(), OptionError> {
        Ok(())
    }
    fn create_instance(&mut self, _: InstanceId, _: &str) -> Result<(), OptionError> {
        Ok(())
    }
    fn configure_instance(
        &mut self,
        _: InstanceId,
        _: &str,
        _: &str,
        _: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        Ok(())
    }
    fn channel(
        &mut self,
        instance: InstanceId,
        name: &str,
        _: Direction,
        ctx: &mut ChannelCtx<'_>,
    ) -> Result<ChannelId, ChannelError> {
        let key = name
            .bytes()
            .fold(0u64, |k, b| k.wrapping_mul(131) ^ u64::from(b));
        Ok(ctx.ids.resolve(instance, key))
    }
    fn start(&mut self, _: Instant, _: &mut Io<'_>) -> Result<(), StartError> {
        Ok(())
    }
    fn process(
        &mut self,
        _: Instant,
        _: &[Ready],
        _: &mut Io<'_>,
        _: &mut Sink<'_>,
    ) -> Result<(), FatalError> {
        Ok(())
    }
    fn handle(&mut self, _: Instant, _: InstanceId, deliveries: &[Delivery], sink: &mut Sink<'_>) {
        for d in deliveries {
            sink.push(d.channel, d.value);
        }
    }
    fn shutdown(&mut self, _: Instant, _: &mut Io<'_>) {}
}

#[cfg(test)]
mod tests;
