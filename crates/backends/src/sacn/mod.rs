//! The `sacn` backend: ANSI E1.31-2018 input and output, MIDIMonster-compatible options
//! (user documentation: README.md beside this file; contract: `patchbay_core::Backend`).
//!
//! Layout: [`options`] parses every option value, `patchbay_kit::dmx_channels` the channel
//! specs and the per-instance slot table, [`identity`] the default CID, `start` opens binds and
//! joins groups, `input` drains sockets into the sans-IO receivers and reports events, `output`
//! writes delivered values into the sans-IO sources and sends what they schedule, [`counters`]
//! holds what is counted (reported through `Backend::stats`), `link` watches the binds'
//! interfaces and re-joins groups after an outage, `fuzz` is the socket-free pipeline the fuzzer
//! drives (feature `fuzzing`).
//!
//! Protocol state lives in `patchbay_sacn` (one `Source` per bind, shared CID and name; one
//! `Receiver` per bind and merge setting) and sockets in `patchbay_net` (one `UdpEndpoint` per bind);
//! this module wires them to the core.

pub mod counters;
// The fuzz target's entry point drives the core's routing internals, which only the core's
// `testing` feature makes public: compiled for tests and with the `fuzzing` feature.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzz;
pub mod identity;
mod input;
mod link;
mod monitor;
pub mod options;
mod output;
mod reload;
mod start;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use patchbay_core::{
    Backend, ChannelCtx, ChannelError, ChannelId, ConfigCtx, Delivery, Direction, FatalError,
    FrameCopies, InstanceId, Io, OptionError, Part, Ready, RoutePlan, Sink, StartError,
};
use patchbay_sacn::Cid;
use patchbay_sacn::receiver::{LossBehavior, MergeMode};

use counters::Throttle;
pub use counters::{BindCounters, InstanceCounters};
use options::{BindOption, Destination, Detect};
use patchbay_kit::dmx_channels::SlotMap;
pub use start::route_probes;

/// Settings of one `[sacn NAME]` instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceOptions {
    pub universe: Option<u16>,
    pub interface: usize,
    /// 0 = no output.
    pub priority: u8,
    pub destination: Option<SocketAddr>,
    /// A destination host name and port, looked up into `destination` when the backend starts
    /// (so `--check` queries no resolver).
    pub destination_name: Option<(String, u16)>,
    pub from: Option<Cid>,
    pub unicast: bool,
    pub realtime: bool,
    pub merge: MergeMode,
    pub accept_preview: bool,
    /// 0 = none.
    pub sync: u16,
    pub loss: LossBehavior,
}

impl InstanceOptions {
    /// A `destination` line was read (looked up or not).
    pub fn has_destination(&self) -> bool {
        self.destination.is_some() || self.destination_name.is_some()
    }
}

#[derive(Debug)]
struct Instance {
    id: InstanceId,
    name: String,
    opts: InstanceOptions,
    /// Allocated on the first channel lookup.
    map: Option<Box<SlotMap>>,
    counters: InstanceCounters,
    /// Output events dropped for lack of `priority`.
    no_priority_log: Throttle,
    send_error_log: Throttle,
    /// A change is in the output buffer that no packet has carried yet.
    unsent_change: bool,
    /// Sources seen on its universe, for the live monitor.
    sources: monitor::SourceLog,
}

impl Instance {
    fn has_inputs(&self) -> bool {
        self.map.as_ref().is_some_and(|m| m.has_inputs())
    }

    fn transmits(&self) -> bool {
        self.opts.priority > 0
    }
}

/// The sACN backend; one value serves every `[sacn NAME]` instance.
#[derive(Debug)]
pub struct Sacn {
    name: String,
    cid: Option<Cid>,
    binds: Vec<BindOption>,
    detect: Detect,
    config_path: Option<PathBuf>,
    instances: Vec<Instance>,
    /// `InstanceId` → index into `instances`.
    by_id: patchbay_kit::instances::InstanceIndex,
    rt: Option<start::Runtime>,
    /// Held while running, so a second patchbay with the same CID can tell ([`identity::claim`]).
    cid_claim: Option<identity::CidClaim>,
    /// Cached for `poll_timeout`, which cannot borrow mutably.
    deadline: Option<Instant>,
    shutting_down: bool,
    /// How often the link watch looks at the interfaces ([`link::LINK_CHECK_PERIOD`]).
    link_check_period: std::time::Duration,
}

impl Default for Sacn {
    fn default() -> Self {
        Self::new()
    }
}

/// Default source name ([PB]; MIDIMonster: `MIDIMonster`).
pub const DEFAULT_NAME: &str = "patchbay";

impl Sacn {
    /// Looks up the host names of `bind` and `destination` lines, which configuring only checked
    /// for syntax (so `--check` queries no resolver). A failure names its line's option.
    fn look_up_hosts(&mut self) -> Result<(), StartError> {
        for (i, bind) in self.binds.iter_mut().enumerate() {
            if let Some(name) = bind.pending.take() {
                bind.addr = options::lookup(&name, bind.addr.port())
                    .map_err(|e| StartError::option("bind", i, format!("bind {i}: {e}")))?;
                tracing::debug!(target: "sacn", "bind {i}: {name} is {}", bind.addr);
            }
        }
        for inst in &mut self.instances {
            if let Some((name, port)) = inst.opts.destination_name.take() {
                let addr = options::lookup(&name, port).map_err(|e| {
                    StartError::instance(inst.id, format!("destination = '{name} {port}': {e}"))
                })?;
                tracing::debug!(target: "sacn", "instance '{}': destination {name} is {addr}", inst.name);
                inst.opts.destination = Some(addr);
            }
        }
        Ok(())
    }

    /// Claims `cid` on this host and warns when another patchbay already sends with it.
    fn claim_cid(&self, cid: Cid) -> Option<identity::CidClaim> {
        match identity::claim(cid) {
            identity::Claim::Held(claim) => Some(claim),
            identity::Claim::Shared { pid } => {
                let who = pid.map_or_else(
                    || "another patchbay".to_string(),
                    |p| format!("another patchbay (pid {p})"),
                );
                let why = if self.cid.is_some() {
                    "both have this `cid` line".to_string()
                } else {
                    format!(
                        "both derive it from this host's name, the same configuration path and \
                         the source name '{}'",
                        self.name
                    )
                };
                tracing::warn!(target: "sacn",
                    "{who} already runs on this host with CID {cid}: {why}; receivers take the two \
                     for one source with clashing sequence numbers and drop packets of both. Give \
                     one of them its own `cid` (or `name`) in [backend sacn]");
                None
            }
            identity::Claim::Unknown(e) => {
                tracing::debug!(target: "sacn", "cannot check whether another patchbay uses CID {cid}: {e}");
                None
            }
        }
    }

    /// The index of `instance` if it sends; otherwise counts (and, throttled, logs) the `n`
    /// outputs routed to it as dropped for lack of `priority`.
    fn output_instance(&mut self, now: Instant, instance: InstanceId, n: usize) -> Option<usize> {
        let i = self.index_of(instance)?;
        let inst = &mut self.instances[i];
        if inst.transmits() {
            return Some(i);
        }
        inst.counters.output_dropped += n as u64;
        if let Some(n) = inst.no_priority_log.hit(now, counters::LOG_PERIOD) {
            tracing::info!(target: "sacn",
                "instance '{}' has no priority: dropped {n} output value(s) (set priority = 1..200 to send)",
                inst.name);
        }
        None
    }

    pub fn new() -> Self {
        Sacn {
            name: DEFAULT_NAME.to_string(),
            cid: None,
            binds: Vec::new(),
            detect: Detect::Off,
            config_path: None,
            instances: Vec::new(),
            by_id: patchbay_kit::instances::InstanceIndex::new(),
            rt: None,
            cid_claim: None,
            deadline: None,
            shutting_down: false,
            link_check_period: link::LINK_CHECK_PERIOD,
        }
    }

    /// Changes how often bind interfaces are checked for link changes (before `start`). Tests
    /// that measure the per-packet path set it long, since a check lists interfaces (allocates).
    pub fn set_link_check_period(&mut self, period: std::time::Duration) {
        self.link_check_period = period;
    }

    fn index_of(&self, id: InstanceId) -> Option<usize> {
        self.by_id.get(id)
    }

    /// The CID in use: the configured one, or once started the default one.
    pub fn cid(&self) -> Option<Cid> {
        self.rt.as_ref().map(|rt| rt.cid).or(self.cid)
    }

    /// The options of an instance as configured.
    pub fn instance_options(&self, id: InstanceId) -> Option<&InstanceOptions> {
        self.index_of(id).map(|i| &self.instances[i].opts)
    }

    /// Totals of one instance since start.
    pub fn instance_counters(&self, id: InstanceId) -> Option<&InstanceCounters> {
        self.index_of(id).map(|i| &self.instances[i].counters)
    }

    /// Totals of bind `index` (in order of the `bind` lines) since start.
    pub fn bind_counters(&self, index: usize) -> Option<&BindCounters> {
        self.rt
            .as_ref()
            .and_then(|rt| rt.binds.get(index))
            .map(|b| &b.counters)
    }

    /// Sources currently merged on an instance's universe (0 before start or without input).
    pub fn source_count(&self, id: InstanceId) -> usize {
        let (Some(i), Some(rt)) = (self.index_of(id), self.rt.as_ref()) else {
            return 0;
        };
        rt.source_count(&self.instances[i])
    }

    /// Where bind `index` is bound (the real port when it said 0), once started.
    pub fn bind_addr(&self, index: usize) -> Option<SocketAddr> {
        self.rt
            .as_ref()
            .and_then(|rt| rt.binds.get(index))
            .map(|b| b.ep.local_addr())
    }

    fn remember_path(&mut self, ctx: &ConfigCtx<'_>) {
        if self.config_path.is_none() {
            self.config_path = Some(ctx.config_path.to_path_buf());
        }
    }

    /// An earlier instance already on the same (interface, universe)? MIDIMonster checks this
    /// at start, once every option is read, so `universe` may come before `interface`.
    fn collision(&self, me: usize) -> Option<&str> {
        let o = &self.instances[me].opts;
        let u = o.universe?;
        self.instances[..me]
            .iter()
            .find(|x| x.opts.universe == Some(u) && x.opts.interface == o.interface)
            .map(|x| x.name.as_str())
    }

    fn refresh_deadline(&mut self) {
        self.deadline = self.rt.as_mut().and_then(|rt| rt.poll_timeout());
    }
}

impl Backend for Sacn {
    fn name(&self) -> &'static str {
        "sacn"
    }

    fn configure(
        &mut self,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        self.remember_path(ctx);
        match key {
            "name" => self.name = options::parse_name(value)?,
            "cid" => self.cid = Some(options::parse_cid(key, value)?),
            "bind" => options::push_bind(
                &mut self.binds,
                options::MAX_BINDS,
                options::parse_bind(value),
            )?,
            "detect" => self.detect = ctx.accept(options::parse_detect(value)),
            _ => {
                return Err(OptionError::Unknown {
                    key: key.to_string(),
                    known: options::GLOBAL_OPTIONS,
                });
            }
        }
        Ok(())
    }

    fn create_instance(&mut self, instance: InstanceId, name: &str) -> Result<(), OptionError> {
        self.by_id.insert(instance, self.instances.len());
        self.instances.push(Instance {
            id: instance,
            name: name.to_string(),
            opts: InstanceOptions::default(),
            map: None,
            counters: InstanceCounters::default(),
            no_priority_log: Throttle::default(),
            send_error_log: Throttle::default(),
            unsent_change: false,
            sources: monitor::SourceLog::default(),
        });
        Ok(())
    }

    fn configure_instance(
        &mut self,
        instance: InstanceId,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        self.remember_path(ctx);
        let Some(i) = self.index_of(instance) else {
            return Err(OptionError::Other {
                at: Part::Key,
                message: "not an sacn instance".into(),
            });
        };
        let binds = self.binds.len();
        let before = self.instances[i].opts.clone();
        let o = &mut self.instances[i].opts;
        match key {
            "universe" => {
                o.universe = Some(ctx.accept(options::parse_universe(key, value)?));
            }
            "interface" => o.interface = options::parse_interface(value, binds)?,
            "priority" => o.priority = options::parse_priority(value)?,
            "destination" => match options::parse_destination(value)? {
                Destination::Addr(addr) => {
                    o.destination = Some(addr);
                    o.destination_name = None;
                }
                Destination::Name(name, port) => {
                    o.destination = None;
                    o.destination_name = Some((name, port));
                }
            },
            "from" => o.from = Some(options::parse_cid(key, value)?),
            "unicast" => o.unicast = options::parse_switch(key, value)?,
            "realtime" => o.realtime = options::parse_switch(key, value)?,
            "merge" => o.merge = options::parse_merge(value)?,
            "preview" => o.accept_preview = options::parse_preview(value)?,
            "sync" => o.sync = options::parse_sync(value)?,
            "loss" => o.loss = options::parse_loss(value)?,
            _ => {
                return Err(OptionError::Unknown {
                    key: key.to_string(),
                    known: options::INSTANCE_OPTIONS,
                });
            }
        }
        let o = &self.instances[i].opts;
        if key == "priority" && o.priority == 0 && o.has_destination() {
            ctx.warn(
                Part::Value,
                "priority 0 disables output, so the destination of this instance is never used",
            );
        }
        if key == "destination" && before.priority == 0 && self.instances[i].opts.priority == 0 {
            // Priority may still follow; start() warns again if it does not.
            tracing::debug!(target: "sacn", instance = %self.instances[i].name,
                "destination set before priority");
        }
        Ok(())
    }

    fn channel(
        &mut self,
        instance: InstanceId,
        name: &str,
        direction: Direction,
        ctx: &mut ChannelCtx<'_>,
    ) -> Result<ChannelId, ChannelError> {
        let Some(i) = self.index_of(instance) else {
            return Err(ChannelError {
                message: format!("channel '{name}': not an sacn instance"),
            });
        };
        let inst = &mut self.instances[i];
        let map = SlotMap::get_or_new(&mut inst.map);
        let (id, _spec) = map.lookup(instance, name, direction, ctx.ids)?;
        if direction == Direction::Output && inst.opts.priority == 0 {
            // The same text for every channel of the instance, so the setup can fold a glob's
            // warnings into one; the diagnostic points at the channel.
            let unused = if inst.opts.has_destination() {
                " and its destination is unused"
            } else {
                ""
            };
            ctx.warnings.push(format!(
                "no priority, so this instance never sends{unused} (set priority = 1..200 to \
                 enable output)"
            ));
        }
        Ok(id)
    }

    fn validate(&self) -> Vec<StartError> {
        start::problems(self)
    }

    fn plan(&mut self, plan: &RoutePlan<'_>) {
        for inst in &mut self.instances {
            if let Some(map) = inst.map.as_mut() {
                map.plan(inst.id, plan);
            }
        }
    }

    fn start(&mut self, now: Instant, io: &mut Io<'_>) -> Result<(), StartError> {
        self.look_up_hosts()?;
        let rt = start::Runtime::open(self, now, io)?;
        self.cid_claim = self.claim_cid(rt.cid);
        self.rt = Some(rt);
        self.refresh_deadline();
        Ok(())
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn process(
        &mut self,
        now: Instant,
        ready: &[Ready],
        io: &mut Io<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), FatalError> {
        // Nothing is sent here: `flush` runs at the end of every turn, timer wake-ups included,
        // after the core routed this turn's changes. Sending a due (deferred) packet here would
        // restart its universe's gap just before the new values arrive, so they would be
        // deferred again, and at input rates near the realtime gap every frame would leave only
        // when the next one arrives.
        if let Some(rt) = self.rt.as_mut() {
            rt.watch_links(now);
            rt.receive(now, ready, io, &mut self.instances, self.detect, sink);
        }
        self.refresh_deadline();
        Ok(())
    }

    fn handle(
        &mut self,
        now: Instant,
        instance: InstanceId,
        deliveries: &[Delivery],
        _sink: &mut Sink<'_>,
    ) {
        let Some(i) = self.output_instance(now, instance, deliveries.len()) else {
            return;
        };
        if let Some(rt) = self.rt.as_mut() {
            rt.apply(now, &mut self.instances[i], deliveries);
        }
    }

    fn handle_frames(
        &mut self,
        now: Instant,
        instance: InstanceId,
        copies: FrameCopies<'_>,
        _sink: &mut Sink<'_>,
    ) {
        // Dropped copies are counted per copy, not per slot: the count says that output was
        // lost, not how much.
        let Some(i) = self.output_instance(now, instance, copies.len()) else {
            return;
        };
        if let Some(rt) = self.rt.as_mut() {
            rt.apply_frames(now, &mut self.instances[i], copies);
        }
    }

    fn flush(&mut self, now: Instant, io: &mut Io<'_>) {
        if let Some(rt) = self.rt.as_mut() {
            rt.transmit(now, &mut self.instances, io);
        }
        self.refresh_deadline();
    }

    fn shutdown(&mut self, now: Instant, io: &mut Io<'_>) {
        if self.shutting_down {
            return;
        }
        self.shutting_down = true;
        if let Some(rt) = self.rt.as_mut() {
            rt.terminate(now);
            rt.transmit(now, &mut self.instances, io);
            rt.log_summary(&self.instances);
        }
        self.refresh_deadline();
    }

    fn shutdown_complete(&self) -> bool {
        self.rt.as_ref().is_none_or(|rt| rt.idle())
    }

    fn take_over(
        &mut self,
        now: Instant,
        handover: patchbay_core::Handover<'_>,
        io: &mut Io<'_>,
    ) -> Result<bool, StartError> {
        self.take_over_from(now, handover, io)
    }

    fn stats(&self, out: &mut Vec<patchbay_core::Stat>) {
        for inst in &self.instances {
            let sources = self.rt.as_ref().map_or(0, |rt| rt.source_count(inst));
            inst.counters.stats(inst.id, sources, out);
        }
        if let Some(rt) = self.rt.as_ref() {
            for (i, b) in rt.binds.iter().enumerate() {
                b.counters
                    .stats(i, b.ep.kernel_drops(), b.ep.rcvbuf_shrinks(), out);
            }
        }
    }

    fn monitor(&self, instance: InstanceId, out: &mut dyn patchbay_core::MonitorSink) {
        if let Some(i) = self.index_of(instance) {
            self.describe(&self.instances[i], out);
        }
    }
}

#[cfg(test)]
mod tests;
