//! The core: instances, channels and mappings at config time, then the mio loop.
//!
//! One iteration ([`Core::turn`]): wait (until a source is readable, a shutdown request
//! arrives, the earliest backend deadline or the next step of a moving `slew`/`fade` output, at
//! most 1 s) → read the clock once → `process` every started backend with its ready tags, in
//! registration order, also when none are ready → route the events in rounds, the due steps of
//! moving outputs first (see [`crate::router`]) → `flush` every started backend, so output
//! changed by several rounds goes out once per iteration → the hooks, then the
//! [`Observer`] (the web monitor) with its readiness and a read-only [`CoreView`].
//!
//! Hooks: [`Core::every`] runs a task from the loop on a fixed period (after the flush of the
//! iteration it falls due in, in running and shutdown phases alike) and [`Core::on_shutdown`]
//! runs one when a graceful shutdown begins; the daemon's systemd watchdog and STOPPING
//! notice use them, so a hung loop stops pinging.
//!
//! Shutdown: SIGINT/SIGTERM (after [`Core::listen_signals`]), [`ShutdownHandle::request`] or a
//! backend's fatal error call `shutdown` on every backend, then the loop keeps turning
//! (events are no longer delivered) until every started backend reports
//! `shutdown_complete()` or the grace period ends. A second request ends the loop at once.
//!
//! Reload: SIGHUP (after [`Core::listen_signals`]) or a [`ReloadHandle`] asks for the
//! configuration to be read again; at the end of the turn the hook given to
//! [`Core::on_reload_steps`] starts configuring the successor core ([`Core::successor`]), a
//! slice per turn after the hooks; once it is complete, comparing it, freezing its table,
//! switching over and dropping the old objects take a turn each, and the switch happens
//! between two turns (see [`reload`]).
//!
//! Counters: every `with_stats_interval` period and on SIGUSR1 the core collects
//! [`Backend::stats`] of every started backend and hands them to the reporter (default: one
//! info line per scope, target `stats`); see [`crate::stats`]. SIGUSR1 never ends the loop.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mio::Waker;
use tracing::{error, info, warn};

use crate::backend::{
    Backend, ChannelCtx, ChannelError, ChannelId, ConfigCtx, Direction, FatalError, InstanceId,
    OptionError, RoutePlan, StartError,
};
use crate::clock::{Clock, SystemClock};
use crate::event_loop::hooks::Hooks;
use crate::frames::{FrameBuf, FrameRoutes};
use crate::monitor::{CoreView, InstanceInfo as Instance, Observer};
use crate::reactor::Reactor;
use crate::registry::ChannelRegistry;
use crate::router::{Counters, Routed, Router};
use crate::routing::{NewEdge, RoutingBuilder, RoutingTable};
use crate::sink::{Event, Sink};
use crate::stats::{StatGroup, StatsReporter, StatsTrigger};
use crate::transform::Chain;

/// Longest wait when no backend has a deadline (MIDIMonster's default interval).
pub const MAX_WAIT: Duration = Duration::from_secs(1);
/// Default time backends get to finish their goodbye after a shutdown request.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How the loop ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Every started backend completed its shutdown.
    Clean,
    /// The grace period ended before every backend completed its shutdown.
    GraceExpired,
    /// A second shutdown request (e.g. a second Ctrl-C) cut the shutdown short.
    Forced,
}

/// Errors of the core itself, or a backend failure it ends with.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The poll, its waker or the signal pipe failed.
    #[error("event loop: {0}")]
    Io(#[from] io::Error),
    /// A backend's `start` failed (every backend was shut down).
    #[error("backend '{backend}' failed to start: {source}")]
    Start {
        /// The backend's name.
        backend: &'static str,
        /// What it said.
        #[source]
        source: StartError,
    },
    /// A backend's `process` failed (the loop shut down).
    #[error("backend '{backend}' failed: {source}")]
    Fatal {
        /// The backend's name.
        backend: &'static str,
        /// What it said.
        #[source]
        source: FatalError,
    },
    /// [`Core::turn`] before [`Core::start`].
    #[error("the core was not started")]
    NotStarted,
    /// [`Core::start`] a second time.
    #[error("the core was already started")]
    AlreadyStarted,
}

/// Why an instance could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstanceError {
    /// No backend has this index.
    #[error("no backend with index {0}")]
    UnknownBackend(usize),
    /// Instance names are unique across all backends.
    #[error("an instance named '{0}' already exists")]
    Duplicate(String),
    /// Instances are added before [`Core::start`].
    #[error("the core was already started")]
    AlreadyStarted,
    /// The backend's `create_instance` refused.
    #[error(transparent)]
    Backend(#[from] OptionError),
}

/// Asks a running loop to shut down, from any thread (a second request forces the exit).
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    requests: Arc<AtomicUsize>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Requests the shutdown and wakes the loop.
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = self.waker.wake() {
            warn!(target: "core", "cannot wake the event loop: {e}");
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Configuring,
    Running,
    Draining { deadline: Instant },
    Finished(Exit),
}

/// The routing core and its event loop.
pub struct Core {
    backends: Vec<Box<dyn Backend>>,
    started: Vec<bool>,
    shutdown_called: bool,
    instances: Vec<Instance>,
    instance_backend: Vec<usize>,
    registry: ChannelRegistry,
    routes: RoutingBuilder,
    table: RoutingTable,
    frame_routes: FrameRoutes,
    router: Router,
    pub(crate) reactor: Reactor,
    events: Vec<Event>,
    frames: FrameBuf,
    clock: Box<dyn Clock>,
    grace: Duration,
    phase: Phase,
    requests: Arc<AtomicUsize>,
    requests_seen: usize,
    signals: Option<signal_hook_mio::v1_0::Signals>,
    hooks: Hooks,
    fatal: Option<CoreError>,
    turns: u64,
    stats_interval: Option<Duration>,
    next_stats: Option<Instant>,
    stats_requested: bool,
    reporter: Option<StatsReporter>,
    /// Runs after every turn's flush with a view of the core (the web monitor); its sources
    /// are registered as owner `backends.len()` of the reactor.
    observer: Option<Box<dyn Observer>>,
    /// Changes when the configuration is replaced ([`CoreView::generation`]).
    generation: u64,
    /// The option lines and channel uses the configuration gave, for the reload diff.
    records: reload::Records,
    /// Builds the next configuration on a reload request ([`Core::on_reload`]).
    reload_hook: Option<ReloadHook>,
    /// SIGHUP arrived and the reload has not run yet.
    reload_requested: bool,
    /// The successor being configured, a slice per turn.
    reload_task: Option<reload::Pending>,
    reload_requests: Arc<AtomicUsize>,
    reload_requests_seen: usize,
    /// How the last reload went (the monitor shows it).
    last_reload: Option<ReloadOutcome>,
    /// Told how every reload ended ([`Core::on_reloaded`]).
    reloaded_hook: Option<reload::ReloadedHook>,
}

impl Core {
    /// A core over the registered backends (their order is the order `process` is called in).
    pub fn new(backends: Vec<Box<dyn Backend>>) -> io::Result<Core> {
        let n = backends.len();
        Ok(Core {
            backends,
            started: vec![false; n],
            shutdown_called: false,
            instances: Vec::new(),
            instance_backend: Vec::new(),
            registry: ChannelRegistry::new(),
            routes: RoutingBuilder::new(),
            table: RoutingTable::default(),
            frame_routes: FrameRoutes::default(),
            router: Router::new(0),
            // One owner more than there are backends: the observer.
            reactor: Reactor::new(n + 1)?,
            events: Vec::new(),
            frames: FrameBuf::new(),
            clock: Box::new(SystemClock),
            grace: DEFAULT_SHUTDOWN_GRACE,
            phase: Phase::Configuring,
            requests: Arc::new(AtomicUsize::new(0)),
            requests_seen: 0,
            signals: None,
            hooks: Hooks::default(),
            fatal: None,
            turns: 0,
            stats_interval: None,
            next_stats: None,
            stats_requested: false,
            reporter: None,
            observer: None,
            generation: 0,
            records: reload::Records::default(),
            reload_hook: None,
            reload_requested: false,
            reload_task: None,
            reload_requests: Arc::new(AtomicUsize::new(0)),
            reload_requests_seen: 0,
            last_reload: None,
            reloaded_hook: None,
        })
    }

    /// Replaces the time source (tests use [`crate::ManualClock`]).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// How long backends may take to complete their shutdown.
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Reports every backend's counters every `interval` while running (`None`: only on
    /// SIGUSR1 and [`Core::report_stats`]).
    pub fn with_stats_interval(mut self, interval: Option<Duration>) -> Self {
        self.stats_interval = interval.filter(|d| !d.is_zero());
        self
    }

    /// Where reports go (default: one info line per scope, log target `stats`).
    pub fn with_stats_reporter(mut self, reporter: StatsReporter) -> Self {
        self.reporter = Some(reporter);
        self
    }

    /// Sets the interval on a core that is already built (see [`Core::with_stats_interval`]).
    pub fn set_stats_interval(&mut self, interval: Option<Duration>) {
        self.stats_interval = interval.filter(|d| !d.is_zero());
    }

    /// Sets the reporter on a core that is already built (see [`Core::with_stats_reporter`]).
    pub fn set_stats_reporter(&mut self, reporter: StatsReporter) {
        self.reporter = Some(reporter);
    }

    /// Every started backend's counters, grouped per instance or backend scope.
    pub fn stats(&self) -> Vec<StatGroup> {
        crate::stats::collect(&self.backends, &self.started, |id| {
            self.instance_name(id).unwrap_or("?").to_string()
        })
    }

    /// Installs the [`Observer`] (one per core; a second replaces the first), before
    /// [`Core::start`]. The router then keeps the last value of every channel for it
    /// ([`CoreView::value`]).
    pub fn set_observer(&mut self, observer: Box<dyn Observer>) {
        self.observer = Some(observer);
    }

    /// Hands the current counters to the reporter now.
    pub fn report_stats(&mut self, trigger: StatsTrigger) {
        let groups = self.stats();
        match self.reporter.as_mut() {
            Some(r) => r(trigger, &groups),
            None => {
                for g in &groups {
                    let line = crate::stats::format_text(g, &[]);
                    if g.is_instance {
                        info!(target: "stats", "{} instance '{}': {line}", g.backend, g.scope);
                    } else {
                        info!(target: "stats", "{} {}: {line}", g.backend, g.scope);
                    }
                }
            }
        }
    }

    /// Installs SIGINT/SIGTERM (shutdown), SIGHUP (reload, see [`Core::on_reload`]) and SIGUSR1
    /// (report counters) handling for this loop.
    pub fn listen_signals(&mut self) -> io::Result<()> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
        let mut signals = signal_hook_mio::v1_0::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGUSR1])?;
        self.reactor.register_signals(&mut signals)?;
        self.signals = Some(signals);
        Ok(())
    }

    /// Runs `task` from the loop every `period` (at least 1 ms), first one period from now,
    /// while the loop turns (also during the shutdown grace period). The task gets the
    /// iteration's timestamp. A loop stalled for several periods runs it once, not in a burst.
    pub fn every(&mut self, period: Duration, task: impl FnMut(Instant) + 'static) {
        let now = self.clock.now();
        self.hooks.every(now, period, Box::new(task));
    }

    /// Runs `task` once when a graceful shutdown begins (signal, [`ShutdownHandle::request`]
    /// or a backend's fatal error), before the backends' `shutdown` calls.
    pub fn on_shutdown(&mut self, task: impl FnOnce(Instant) + 'static) {
        self.hooks.on_shutdown(Box::new(task));
    }

    // ----- configuration -----

    /// Index of the backend called `name`.
    pub fn backend_index(&self, name: &str) -> Option<usize> {
        self.backends.iter().position(|b| b.name() == name)
    }

    /// The backends' names, in registration order.
    pub fn backend_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.backends.iter().map(|b| b.name())
    }

    /// Direct access for global configuration (`Backend::configure`).
    pub fn backend_mut(&mut self, index: usize) -> Option<&mut (dyn Backend + 'static)> {
        self.backends.get_mut(index).map(|b| &mut **b)
    }

    /// The backend with `index`.
    pub fn backend(&self, index: usize) -> Option<&dyn Backend> {
        self.backends.get(index).map(|b| &**b)
    }

    /// Creates an instance of backend `backend` (calls `create_instance`). Instance names are
    /// unique across all backends.
    pub fn add_instance(
        &mut self,
        backend: usize,
        name: &str,
    ) -> Result<InstanceId, InstanceError> {
        if self.phase != Phase::Configuring {
            return Err(InstanceError::AlreadyStarted);
        }
        if self.instance(name).is_some() {
            return Err(InstanceError::Duplicate(name.to_string()));
        }
        // A successor core gets back the id its predecessor gave an instance of this name and
        // backend (see `Core::successor`).
        let revived = self
            .instances
            .iter()
            .position(|i| i.retired && i.backend == backend && i.name == name);
        let index = revived.unwrap_or(self.instances.len());
        let id = InstanceId(u32::try_from(index).unwrap_or(u32::MAX));
        let b = self
            .backends
            .get_mut(backend)
            .ok_or(InstanceError::UnknownBackend(backend))?;
        b.create_instance(id, name)?;
        match self.instances.get_mut(index) {
            Some(slot) => slot.retired = false,
            None => {
                self.instances.push(Instance {
                    backend,
                    name: name.to_string(),
                    retired: false,
                });
                self.instance_backend.push(backend);
            }
        }
        Ok(id)
    }

    /// The instance called `name`.
    pub fn instance(&self, name: &str) -> Option<InstanceId> {
        self.instances
            .iter()
            .position(|i| !i.retired && i.name == name)
            .map(|i| InstanceId(i as u32))
    }

    /// Whether `id` names an instance of the configuration (not one a reload removed).
    pub fn is_live(&self, id: InstanceId) -> bool {
        self.instances
            .get(id.0 as usize)
            .is_some_and(|i| !i.retired)
    }

    /// Whether backend `b` has an instance in the configuration.
    fn has_instances(&self, b: usize) -> bool {
        self.instances.iter().any(|i| !i.retired && i.backend == b)
    }

    /// One option line of `[backend NAME]` or `-b` override (`Backend::configure`).
    pub fn configure_backend(
        &mut self,
        backend: usize,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        let Some(b) = self.backends.get_mut(backend) else {
            return Err(OptionError::Other {
                at: crate::Part::Key,
                message: format!("no backend {backend}"),
            });
        };
        self.records.backend_option(backend, key, value);
        b.configure(key, value, ctx)
    }

    /// The name of instance `id`.
    pub fn instance_name(&self, id: InstanceId) -> Option<&str> {
        self.instances.get(id.0 as usize).map(|i| i.name.as_str())
    }

    /// Index of the backend that owns an instance.
    pub fn instance_backend(&self, id: InstanceId) -> Option<usize> {
        self.instance_backend.get(id.0 as usize).copied()
    }

    /// Names of all instances, in order of definition (index = `InstanceId`; after a reload
    /// also those it removed, see [`Core::is_live`]).
    pub fn instance_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.instances.iter().map(|i| i.name.as_str())
    }

    /// One option line of an instance section (`Backend::configure_instance`).
    pub fn configure_instance(
        &mut self,
        id: InstanceId,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        let Some(&b) = self.instance_backend.get(id.0 as usize) else {
            return Err(OptionError::Other {
                at: crate::Part::Key,
                message: format!("no instance {}", id.0),
            });
        };
        self.records.instance_option(id, key, value);
        self.backends[b].configure_instance(id, key, value, ctx)
    }

    /// Resolves one mapping endpoint through the instance's backend and labels the channel
    /// `instance.name` for log lines.
    pub fn channel(
        &mut self,
        id: InstanceId,
        name: &str,
        direction: Direction,
        warnings: &mut Vec<String>,
    ) -> Result<ChannelId, ChannelError> {
        let Some(inst) = self.instances.get(id.0 as usize) else {
            return Err(ChannelError {
                message: format!("no instance {}", id.0),
            });
        };
        let mut ctx = ChannelCtx {
            ids: &mut self.registry,
            warnings,
        };
        let channel = self.backends[inst.backend].channel(id, name, direction, &mut ctx)?;
        // A successor's first use of a channel it inherited, under another name: the backend's
        // fresh object gave the key another meaning (keys handed out in lookup order, as
        // loopback and MQTT do), so the channel is marked renamed (its backend then cannot keep
        // its running object) and named as this configuration writes it.
        if self.records.is_inherited(channel)
            && self.records.uses(channel.0 as usize) == 0
            && self.registry.has_label(channel)
            && !self.registry.label_is(channel, name)
        {
            self.registry.relabel(channel, name);
            self.records.renamed(channel);
        }
        self.records.channel_use(channel, direction);
        // Only the channel part is stored (one copy, no formatting per lookup: a config can
        // hold a million endpoints); `channel_label` puts the instance name in front.
        if !self.registry.has_label(channel) {
            self.registry.set_label(channel, name);
        }
        Ok(channel)
    }

    /// The channel registry (for a [`ChannelCtx`] built by the caller, or lookups).
    pub fn registry(&self) -> &ChannelRegistry {
        &self.registry
    }

    /// Adds a mapping edge; false if it already existed (report as a note).
    pub fn add_mapping(&mut self, source: ChannelId, target: ChannelId) -> bool {
        self.routes.add_edge(source, target)
    }

    /// Adds a mapping edge whose values pass through `chain` (doc/config.md section 4.4); an
    /// existing edge keeps its chain ([`NewEdge::Conflict`] if that differs).
    pub fn add_mapping_with(
        &mut self,
        source: ChannelId,
        target: ChannelId,
        chain: &Chain,
    ) -> NewEdge {
        self.routes.add_edge_with(source, target, chain)
    }

    /// The mappings added so far.
    pub fn routes(&self) -> &RoutingBuilder {
        &self.routes
    }

    /// Mapping cycles through channels of re-emitting backends (each a list of channel ids;
    /// name them with [`Core::channel_label`]). Such a cycle loops whenever it is triggered.
    pub fn cycles(&self) -> Vec<Vec<ChannelId>> {
        let reemits: Vec<bool> = self.backends.iter().map(|b| b.reemits()).collect();
        // Without a re-emitting backend in use no cycle can loop; skip freezing a table (a
        // tenth of start-up with 512,000 mappings, and start() builds its own).
        if !self
            .instance_backend
            .iter()
            .any(|&b| reemits.get(b).copied().unwrap_or(false))
        {
            return Vec::new();
        }
        let table = self.routes.build(&self.registry);
        table.cycles(|c| {
            self.registry
                .instance_of(c)
                .and_then(|i| self.instance_backend.get(i.0 as usize))
                .is_some_and(|&b| reemits[b])
        })
    }

    /// The text a channel was written as (`instance.name`), or `#id`.
    pub fn channel_label(&self, channel: ChannelId) -> String {
        let instance = self
            .registry
            .instance_of(channel)
            .and_then(|i| self.instance_name(i));
        match (instance, self.registry.has_label(channel)) {
            (Some(instance), true) => format!("{instance}.{}", self.registry.label(channel)),
            _ => self.registry.label(channel),
        }
    }

    // ----- running -----

    /// Freezes the routing table and starts every backend that has instances. On failure
    /// every backend gets its `shutdown` call and the error names the backend.
    pub fn start(&mut self) -> Result<(), CoreError> {
        if self.phase != Phase::Configuring {
            return Err(CoreError::AlreadyStarted);
        }
        (self.table, self.frame_routes) = self.routes.freeze(&self.registry);
        self.router = Router::new(self.instances.len());
        self.router.prepare(&self.table);
        let now = self.clock.now();
        for b in 0..self.backends.len() {
            if !self.has_instances(b) {
                continue;
            }
            let plan = RoutePlan::new(&self.table, &self.frame_routes);
            self.backends[b].plan(&plan);
            let mut io = self.reactor.io(b);
            if let Err(source) = self.backends[b].start(now, &mut io) {
                let backend = self.backends[b].name();
                self.shutdown_all(now);
                self.phase = Phase::Finished(Exit::Clean);
                return Err(CoreError::Start { backend, source });
            }
            self.started[b] = true;
        }
        if let Some(observer) = self.observer.as_mut() {
            self.router.track_values(self.registry.len());
            let mut io = self.reactor.io(self.backends.len());
            if let Err(source) = observer.start(now, &mut io) {
                let backend = observer.name();
                self.shutdown_all(now);
                self.phase = Phase::Finished(Exit::Clean);
                return Err(CoreError::Start { backend, source });
            }
        }
        self.next_stats = self.stats_interval.map(|i| now + i);
        self.phase = Phase::Running;
        Ok(())
    }

    /// A handle that can request shutdown from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            requests: Arc::clone(&self.requests),
            waker: self.reactor.waker(),
        }
    }

    /// Requests shutdown as SIGINT would (a second request forces the exit).
    pub fn request_shutdown(&mut self) {
        let now = self.clock.now();
        self.on_shutdown_request(now);
    }

    /// Calls `shutdown` on every backend now, if that has not happened yet (e.g. after a
    /// configuration error, when the loop never ran). Dropping the core does the same.
    pub fn shutdown_now(&mut self) {
        let now = self.clock.now();
        self.shutdown_all(now);
        if !matches!(self.phase, Phase::Finished(_)) {
            self.phase = Phase::Finished(Exit::Forced);
        }
    }

    /// Runs iterations until the loop ends. `Err` if a backend failed (after shutdown).
    /// With a stats interval, the final totals are reported when the loop ends.
    pub fn run(&mut self) -> Result<Exit, CoreError> {
        let r = loop {
            match self.turn(None) {
                Ok(Some(exit)) => break Ok(exit),
                Ok(None) => {}
                Err(e) => break Err(e),
            }
        };
        if self.stats_interval.is_some() {
            self.report_stats(StatsTrigger::Exit);
        }
        r
    }

    /// One iteration, waiting at most `max_wait` (on top of the loop's own limits).
    /// Returns `Some(exit)` once the loop has ended.
    pub fn turn(&mut self, max_wait: Option<Duration>) -> Result<Option<Exit>, CoreError> {
        match self.phase {
            Phase::Configuring => return Err(CoreError::NotStarted),
            Phase::Finished(exit) => return Ok(Some(exit)),
            Phase::Running | Phase::Draining { .. } => {}
        }
        let timeout = self.wait_timeout(self.clock.now(), max_wait);
        let wake = self.reactor.wait(Some(timeout))?;
        let now = self.clock.now();
        if wake.signals {
            self.on_signals(now);
        }
        let requests = self.requests.load(Ordering::SeqCst);
        while self.requests_seen < requests {
            self.requests_seen += 1;
            self.on_shutdown_request(now);
        }
        if let Some(done) = self.finished()? {
            return Ok(Some(done));
        }
        self.turns += 1;

        self.process_all(now);
        if self.phase == Phase::Running {
            self.route(now);
        } else {
            // Events reported during shutdown are not delivered (the backend contract in crates/core/src/backend.rs).
            self.events.clear();
            self.frames.clear();
        }
        for b in 0..self.backends.len() {
            if self.started[b] {
                let mut io = self.reactor.io(b);
                self.backends[b].flush(now, &mut io);
            }
        }
        self.hooks.run_due(now);
        let reloads = self.reload_requests.load(Ordering::SeqCst);
        if reloads != self.reload_requests_seen {
            self.reload_requests_seen = reloads;
            self.reload_requested = true;
        }
        if self.phase == Phase::Running {
            // Reading the file is this turn's slice: configuring starts next turn.
            if self.reload_task.is_none() && std::mem::take(&mut self.reload_requested) {
                self.begin_reload();
            } else if self.reload_task.is_some() {
                self.continue_reload();
            }
        } else {
            self.reload_task = None;
        }
        self.observe(now);

        if let Phase::Draining { deadline } = self.phase {
            let complete = self
                .backends
                .iter()
                .zip(&self.started)
                .all(|(b, &started)| !started || b.shutdown_complete());
            if complete {
                self.phase = Phase::Finished(Exit::Clean);
            } else if now >= deadline {
                warn!(target: "core", "shutdown grace period of {:?} ended before every backend finished", self.grace);
                self.phase = Phase::Finished(Exit::GraceExpired);
            }
        }
        if let Some(at) = self.next_stats
            && now >= at
            && self.phase == Phase::Running
        {
            self.report_stats(StatsTrigger::Interval);
            // Skip missed periods instead of reporting a burst after a stall.
            let period = self.stats_interval.unwrap_or(MAX_WAIT);
            let mut next = at + period;
            while next <= now {
                next += period;
            }
            self.next_stats = Some(next);
        }
        if std::mem::take(&mut self.stats_requested) {
            self.report_stats(StatsTrigger::Signal);
        }
        self.finished()
    }

    /// How long the next wait may last: until the earliest backend deadline, the next value of
    /// a moving `slew`/`fade` output (or the end of the shutdown grace period), at most
    /// [`MAX_WAIT`] and `max_wait`.
    pub fn wait_timeout(&self, now: Instant, max_wait: Option<Duration>) -> Duration {
        let mut t = max_wait.map_or(MAX_WAIT, |m| m.min(MAX_WAIT));
        if let Some(at) = self.hooks.next_due() {
            t = t.min(at.saturating_duration_since(now));
        }
        for (b, &started) in self.backends.iter().zip(&self.started) {
            if started && let Some(at) = b.poll_timeout() {
                t = t.min(at.saturating_duration_since(now));
            }
        }
        if let Phase::Draining { deadline } = self.phase {
            t = t.min(deadline.saturating_duration_since(now));
        }
        if let Some(at) = self.router.next_step()
            && self.phase == Phase::Running
        {
            t = t.min(at.saturating_duration_since(now));
        }
        if self.reload_has_work() {
            // Configuring a successor: a slice each turn, no waiting in between.
            t = Duration::ZERO;
        }
        if let Some(at) = self.observer.as_ref().and_then(|o| o.poll_timeout()) {
            t = t.min(at.saturating_duration_since(now));
        }
        if let Some(at) = self.next_stats
            && self.phase == Phase::Running
        {
            t = t.min(at.saturating_duration_since(now));
        }
        t
    }

    /// The loop's IO registration and event sink for backend `b`, for a test rig that calls a
    /// backend directly between turns (events pushed are routed by the next turn).
    #[cfg(feature = "testing")]
    pub(crate) fn backend_context(&mut self, b: usize) -> (crate::reactor::Io<'_>, Sink<'_>) {
        (
            self.reactor.io(b),
            Sink::with_frames(&mut self.events, &mut self.frames),
        )
    }

    /// The frame routes of the frozen routing (empty before start).
    #[cfg(feature = "testing")]
    pub(crate) fn frame_routes(&self) -> &FrameRoutes {
        &self.frame_routes
    }

    /// Routing statistics (events, deliveries, drops by the round limit).
    pub fn counters(&self) -> Counters {
        self.router.counters()
    }

    /// Iterations run so far.
    pub fn turns(&self) -> u64 {
        self.turns
    }

    /// Whether the loop is between a shutdown request and its end.
    pub fn is_shutting_down(&self) -> bool {
        matches!(self.phase, Phase::Draining { .. } | Phase::Finished(_))
    }

    fn finished(&mut self) -> Result<Option<Exit>, CoreError> {
        match self.phase {
            Phase::Finished(exit) => match self.fatal.take() {
                Some(e) => Err(e),
                None => Ok(Some(exit)),
            },
            _ => Ok(None),
        }
    }

    /// The observer's part of a turn: its readiness and a view of everything else.
    fn observe(&mut self, now: Instant) {
        let Some(observer) = self.observer.as_mut() else {
            return;
        };
        let (ready, mut io) = self.reactor.ready_and_io(self.backends.len());
        let view = CoreView {
            backends: &self.backends,
            started: &self.started,
            instances: &self.instances,
            registry: &self.registry,
            edges: self.routes.edges(),
            router: &self.router,
            generation: self.generation,
            last_reload: self.last_reload.as_ref(),
            reloading: self.reload_task.is_some(),
            turns: self.turns,
            shutting_down: !matches!(self.phase, Phase::Running),
        };
        observer.observe(now, ready, &mut io, &view);
    }

    fn process_all(&mut self, now: Instant) {
        for b in 0..self.backends.len() {
            if !self.started[b] {
                continue;
            }
            let (ready, mut io) = self.reactor.ready_and_io(b);
            let mut sink = Sink::with_frames(&mut self.events, &mut self.frames);
            if let Err(source) = self.backends[b].process(now, ready, &mut io, &mut sink) {
                let backend = self.backends[b].name();
                error!(target: "core", "backend '{backend}' failed: {source}");
                if self.fatal.is_none() {
                    self.fatal = Some(CoreError::Fatal { backend, source });
                }
                if self.phase == Phase::Running {
                    self.begin_shutdown(now);
                }
            }
        }
    }

    fn route(&mut self, now: Instant) {
        let Core {
            backends,
            instance_backend,
            router,
            table,
            frame_routes,
            events,
            frames,
            ..
        } = self;
        let outcome = router.route_all(
            now,
            table,
            frame_routes,
            events,
            frames,
            |instance, routed, sink| {
                let Some(&b) = instance_backend.get(instance.0 as usize) else {
                    return;
                };
                match routed {
                    Routed::Values(deliveries) => {
                        backends[b].handle(now, instance, deliveries, sink)
                    }
                    Routed::Frames(copies) => {
                        backends[b].handle_frames(now, instance, copies, sink)
                    }
                }
            },
        );
        if outcome.dropped > 0 {
            let channel = outcome
                .dropped_example
                .map_or_else(String::new, |e| self.channel_label(e.channel));
            warn!(
                target: "core",
                "mapping loop: cascade cut after {} routing rounds, {} event(s) dropped (channel {channel})",
                crate::router::MAX_ROUNDS,
                outcome.dropped,
            );
        }
    }

    fn on_signals(&mut self, now: Instant) {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
        let mut requests = 0;
        if let Some(signals) = self.signals.as_mut() {
            for sig in signals.pending() {
                match sig {
                    SIGINT | SIGTERM => requests += 1,
                    // Reloaded at the end of this turn, between two routing passes.
                    SIGHUP => self.reload_requested = true,
                    // Reported at the end of this turn, after the turn's traffic was counted.
                    SIGUSR1 => self.stats_requested = true,
                    _ => {}
                }
            }
        }
        // Two signals in one wake-up count as two requests (the second forces the exit).
        for _ in 0..requests.min(2) {
            self.on_shutdown_request(now);
        }
    }

    fn on_shutdown_request(&mut self, now: Instant) {
        match self.phase {
            Phase::Running => {
                info!(target: "core", "shutting down");
                self.begin_shutdown(now);
            }
            Phase::Draining { .. } => {
                info!(target: "core", "second shutdown request: exiting now");
                self.phase = Phase::Finished(Exit::Forced);
            }
            Phase::Configuring => {
                self.shutdown_all(now);
                self.phase = Phase::Finished(Exit::Forced);
            }
            Phase::Finished(_) => {}
        }
    }

    fn begin_shutdown(&mut self, now: Instant) {
        self.hooks.shutting_down(now);
        self.shutdown_all(now);
        self.phase = Phase::Draining {
            deadline: now + self.grace,
        };
    }

    fn shutdown_all(&mut self, now: Instant) {
        if std::mem::replace(&mut self.shutdown_called, true) {
            return;
        }
        for b in 0..self.backends.len() {
            let mut io = self.reactor.io(b);
            self.backends[b].shutdown(now, &mut io);
        }
    }
}

mod hooks;
pub mod reload;
#[cfg(test)]
mod tests;

pub use reload::{RELOAD_SLICE, ReloadHandle, ReloadHook, ReloadOutcome, ReloadTask, ReloadWaker};

impl Drop for Core {
    /// Every backend gets its `shutdown` call exactly once, even if the loop never ran.
    fn drop(&mut self) {
        let now = self.clock.now();
        self.shutdown_all(now);
    }
}
