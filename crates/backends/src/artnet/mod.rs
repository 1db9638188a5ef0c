//! The `artnet` backend: Art-Net 4 input and output with MIDIMonster's options (user
//! documentation: README.md beside this file; contract: `patchbay_core::Backend`).
//!
//! Layout: [`options`] parses every option value, `patchbay_kit::dmx_channels` the channel
//! specs and the per-instance slot table (as sACN), `runtime` opens the binds, drains them into
//! the sans-IO receiver of `patchbay_artnet` (two-source HTP merge, source timeout, ArtSync),
//! answers ArtPoll and sends what the pacers schedule, [`counters`] holds what is counted.
//!
//! An instance is one Port-Address (`net` × 256 + `universe`) on one bind. It receives when one
//! of its channels is a mapping source and sends when it has a `destination`; output is paced
//! by `patchbay_dmx::Pacer` (one packet per 20 ms per universe, as MIDIMonster, a keep-alive
//! every second, `realtime`
//! lifts the limit).

pub mod counters;
pub mod options;
mod runtime;

/// Output timing, shared with `patchbay artnet send` so the tool paces as the backend does.
pub use runtime::{MIN_GAP, POLL_INTERVAL, limited_pacing, realtime_pacing};

use std::net::SocketAddr;
use std::time::Instant;

use patchbay_artnet::PortAddress;
use patchbay_core::{
    Backend, ChannelCtx, ChannelError, ChannelId, ConfigCtx, Delivery, Direction, FatalError,
    FrameCopies, InstanceId, Io, OptionError, Part, Ready, RoutePlan, Sink, StartError,
};
use patchbay_kit::dmx_channels::SlotMap;
use patchbay_kit::net_options::{self, Destination, Detect};
use patchbay_kit::{LOG_PERIOD, Throttle};

pub use counters::{BindCounters, InstanceCounters};
use options::BindOption;

/// Settings of one `[artnet NAME]` instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InstanceOptions {
    /// Upper 7 bits of the Port-Address (default: the global `net` when the section began).
    pub net: u8,
    /// Lower 8 bits (sub-net and universe).
    pub universe: u8,
    /// Index of the `bind` line.
    pub interface: usize,
    /// Where output goes; `None`: the instance does not send.
    pub destination: Option<SocketAddr>,
    /// A destination host name and port, looked up when the backend starts.
    pub destination_name: Option<(String, u16)>,
    /// No output rate limit.
    pub realtime: bool,
    /// Send ArtSync after the ArtDmx of each turn ([PB]).
    pub sync: bool,
}

impl InstanceOptions {
    /// The 15-bit Port-Address.
    pub fn address(&self) -> PortAddress {
        PortAddress::from_net_sub_uni(self.net, self.universe).unwrap_or(PortAddress::ZERO)
    }

    /// A `destination` line was read.
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
    /// Output state once started, if it sends.
    out: Option<Box<runtime::Output>>,
    no_destination_log: Throttle,
    send_error_log: Throttle,
}

impl Instance {
    fn has_inputs(&self) -> bool {
        self.map.as_ref().is_some_and(|m| m.has_inputs())
    }
}

/// The Art-Net backend; one value serves every `[artnet NAME]` instance.
#[derive(Debug, Default)]
pub struct Artnet {
    binds: Vec<BindOption>,
    /// `net` of the backend section: the default of instances created after it.
    default_net: u8,
    detect: Detect,
    instances: Vec<Instance>,
    /// `InstanceId` → index into `instances`.
    by_id: patchbay_kit::instances::InstanceIndex,
    rt: Option<runtime::Runtime>,
    /// Cached for `poll_timeout`, which cannot borrow mutably.
    deadline: Option<Instant>,
}

impl Artnet {
    /// The backend, with no binds or instances yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn index_of(&self, id: InstanceId) -> Option<usize> {
        self.by_id.get(id)
    }

    /// The options of an instance as configured.
    pub fn instance_options(&self, id: InstanceId) -> Option<&InstanceOptions> {
        self.index_of(id).map(|i| &self.instances[i].opts)
    }

    /// Totals of one instance since start.
    pub fn instance_counters(&self, id: InstanceId) -> Option<&InstanceCounters> {
        self.index_of(id).map(|i| &self.instances[i].counters)
    }

    /// Where bind `index` is bound (the real port when it said 0), once started.
    pub fn bind_addr(&self, index: usize) -> Option<SocketAddr> {
        self.rt.as_ref().and_then(|rt| rt.bind_addr(index))
    }

    /// Looks up the host names of `bind` and `destination` lines (configuring only checked
    /// their syntax, so `--check` queries no resolver).
    fn look_up_hosts(&mut self) -> Result<(), StartError> {
        for (i, bind) in self.binds.iter_mut().enumerate() {
            if let Some(name) = bind.pending.take() {
                bind.addr = net_options::lookup(&name, bind.addr.port())
                    .map_err(|e| StartError::option("bind", i, format!("bind {i}: {e}")))?;
            }
        }
        for inst in &mut self.instances {
            if let Some((name, port)) = inst.opts.destination_name.take() {
                let addr = net_options::lookup(&name, port).map_err(|e| {
                    StartError::instance(inst.id, format!("destination = '{name} {port}': {e}"))
                })?;
                inst.opts.destination = Some(addr);
            }
        }
        Ok(())
    }

    /// The index of `instance` if it sends; otherwise counts (and, throttled, logs) the `n`
    /// outputs routed to it as dropped.
    fn output_instance(&mut self, now: Instant, instance: InstanceId, n: usize) -> Option<usize> {
        let i = self.index_of(instance)?;
        let inst = &mut self.instances[i];
        if inst.out.is_some() {
            return Some(i);
        }
        inst.counters.output_dropped += n as u64;
        if let Some(n) = inst.no_destination_log.hit(now, LOG_PERIOD) {
            tracing::info!(target: "artnet",
                "instance '{}' has no destination: dropped {n} output value(s) (set destination = HOST to send)",
                inst.name);
        }
        None
    }

    fn refresh_deadline(&mut self) {
        self.deadline = self
            .rt
            .as_ref()
            .and_then(|rt| rt.poll_timeout(&self.instances));
    }
}

impl Backend for Artnet {
    fn name(&self) -> &'static str {
        "artnet"
    }

    fn configure(
        &mut self,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        match key {
            "bind" => net_options::push_bind(
                &mut self.binds,
                options::MAX_BINDS,
                options::parse_bind(value),
            )?,
            "net" => self.default_net = options::parse_net(key, value)?,
            "detect" => self.detect = ctx.accept(net_options::parse_detect(value)),
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
            opts: InstanceOptions {
                net: self.default_net,
                ..InstanceOptions::default()
            },
            map: None,
            counters: InstanceCounters::default(),
            out: None,
            no_destination_log: Throttle::default(),
            send_error_log: Throttle::default(),
        });
        Ok(())
    }

    fn configure_instance(
        &mut self,
        instance: InstanceId,
        key: &str,
        value: &str,
        _ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        let Some(i) = self.index_of(instance) else {
            return Err(OptionError::Other {
                at: Part::Key,
                message: "not an artnet instance".into(),
            });
        };
        let binds = self.binds.len();
        let o = &mut self.instances[i].opts;
        match key {
            "net" => o.net = options::parse_net(key, value)?,
            "universe" | "uni" => o.universe = options::parse_universe(key, value)?,
            "interface" | "iface" => o.interface = options::parse_interface(key, value, binds)?,
            "destination" | "dest" => {
                match net_options::parse_destination(key, value, options::PORT)? {
                    Destination::Addr(addr) => {
                        o.destination = Some(addr);
                        o.destination_name = None;
                    }
                    Destination::Name(name, port) => {
                        o.destination = None;
                        o.destination_name = Some((name, port));
                    }
                }
            }
            "realtime" => o.realtime = net_options::parse_switch(key, value)?,
            "sync" => o.sync = net_options::parse_switch(key, value)?,
            _ => {
                return Err(OptionError::Unknown {
                    key: key.to_string(),
                    known: options::INSTANCE_OPTIONS,
                });
            }
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
                message: format!("channel '{name}': not an artnet instance"),
            });
        };
        let inst = &mut self.instances[i];
        let map = SlotMap::get_or_new(&mut inst.map);
        let (id, _spec) = map.lookup(instance, name, direction, ctx.ids)?;
        if direction == Direction::Output && !inst.opts.has_destination() {
            // The same text for every channel of the instance, so a glob's warnings fold.
            ctx.warnings.push(
                "no destination, so this instance never sends (set destination = HOST [PORT])"
                    .to_string(),
            );
        }
        Ok(id)
    }

    fn validate(&self) -> Vec<StartError> {
        runtime::problems(
            &self.binds,
            self.instances.iter().map(|i| (i.id, &i.name, &i.opts)),
        )
    }

    fn plan(&mut self, plan: &RoutePlan<'_>) {
        for inst in &mut self.instances {
            if let Some(map) = inst.map.as_mut() {
                map.plan(inst.id, plan);
            }
        }
    }

    fn start(&mut self, now: Instant, io: &mut Io<'_>) -> Result<(), StartError> {
        if let Some(first) = self.validate().into_iter().next() {
            return Err(first);
        }
        self.look_up_hosts()?;
        self.rt = Some(runtime::Runtime::open(
            &self.binds,
            &mut self.instances,
            now,
            io,
        )?);
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
        _io: &mut Io<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), FatalError> {
        // Nothing is sent here but poll replies: `flush` sends after the core routed this turn.
        if let Some(rt) = self.rt.as_mut() {
            rt.receive(now, ready, &mut self.instances, self.detect, sink);
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
        if let Some(i) = self.output_instance(now, instance, deliveries.len()) {
            runtime::apply(now, &mut self.instances[i], deliveries);
        }
    }

    fn handle_frames(
        &mut self,
        now: Instant,
        instance: InstanceId,
        copies: FrameCopies<'_>,
        _sink: &mut Sink<'_>,
    ) {
        if let Some(i) = self.output_instance(now, instance, copies.len()) {
            runtime::apply_frames(now, &mut self.instances[i], copies);
        }
    }

    fn flush(&mut self, now: Instant, io: &mut Io<'_>) {
        if let Some(rt) = self.rt.as_mut() {
            rt.transmit(now, &mut self.instances, io);
        }
        self.refresh_deadline();
    }

    fn shutdown(&mut self, now: Instant, io: &mut Io<'_>) {
        // Art-Net has no termination: what is queued goes, then the backend is done.
        if let Some(rt) = self.rt.as_mut() {
            rt.drain_queued(now, &mut self.instances, io);
            rt.log_summary();
        }
        self.refresh_deadline();
    }

    fn shutdown_complete(&self) -> bool {
        true
    }

    fn stats(&self, out: &mut Vec<patchbay_core::Stat>) {
        for inst in &self.instances {
            let sources = self.rt.as_ref().map_or(0, |rt| rt.source_count(&inst.opts));
            inst.counters.stats(inst.id, sources, out);
        }
        if let Some(rt) = self.rt.as_ref() {
            rt.stats(out);
        }
    }

    fn monitor(&self, instance: InstanceId, out: &mut dyn patchbay_core::MonitorSink) {
        let Some(i) = self.index_of(instance) else {
            return;
        };
        let inst = &self.instances[i];
        out.property("port_address", &inst.opts.address());
        out.property("bind", &inst.opts.interface);
        if let Some(d) = inst.opts.destination {
            out.property("destination", &d);
        }
        if let Some(o) = inst.out.as_deref()
            && out.wants_frames()
        {
            out.frame(Direction::Output, &o.slots[..]);
        }
        if let Some(rt) = self.rt.as_ref()
            && let Some(slots) = rt.input_slots(&inst.opts)
        {
            out.property("sources", &rt.source_count(&inst.opts));
            if out.wants_frames() {
                out.frame(Direction::Input, slots);
            }
        }
    }
}

#[cfg(test)]
mod tests;
