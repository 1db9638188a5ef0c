//! The `osc` backend: Open Sound Control over UDP, configured as in MIDIMonster (user
//! documentation: README.md beside this file; contract: `patchbay_core::Backend`).
//!
//! The protocol is `patchbay_osc` (sans-IO: packet views and builders, address patterns, value
//! mapping, preconfiguration); this module owns the sockets and the timing. Layout: [`options`]
//! parses option values, [`paths`] resolves channel names to dense path ids and keeps per path
//! what input and output need, `input` turns a datagram into events (bundles, held future
//! bundles, pattern addresses), `output` sends what a turn changed, `link` is the socket,
//! [`counters`] what is counted.

pub mod counters;
#[cfg(feature = "fuzzing")]
pub mod fuzz;
mod input;
mod link;
pub mod options;
mod output;
pub mod paths;

use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mio::Interest;
use patchbay_core::{
    Backend, ChannelCtx, ChannelError, ChannelId, ConfigCtx, Delivery, Direction, FatalError,
    InstanceId, Io, OptionError, Part, Ready, Sink, StartError, Stat,
};
use patchbay_kit::SocketTag;
use patchbay_kit::host::lookup;
use patchbay_kit::instances::InstanceIndex;
use patchbay_kit::read_queue::{Drained, ReadQueue};
use patchbay_kit::throttle::Throttle;
use patchbay_net::{BindSpec, SocketId, TcpListener, UdpEndpoint};
use patchbay_osc::address::PatternCache;
use patchbay_osc::framing::Framing;
use patchbay_osc::wire::write_message;

pub use counters::InstanceCounters;
use input::{Held, Input, Wall};
use link::{Link, StreamEvent, Tcp};
use options::{Addr, Destination, GLOBAL_OPTIONS, InstanceOptions, Transport};
use output::{Batch, MAX_DATAGRAM, Output, Sent};
use paths::Paths;

/// Receive buffer: the largest UDP payload.
const RECV_BUF: usize = 65_536;
/// Datagrams read per socket per turn.
const READ_BUDGET: usize = 256;

#[derive(Debug)]
struct Instance {
    id: InstanceId,
    name: String,
    opts: InstanceOptions,
    paths: Paths,
    counters: InstanceCounters,
    link: Option<Link>,
    /// The fixed destination, once looked up.
    dest: Option<SocketAddr>,
    /// The sender of the last datagram (`learn`), with the forced port.
    learned: Option<SocketAddr>,
    /// Paths with changed values, in the order they changed.
    dirty: Vec<u32>,
    /// Messages of future bundles.
    held: Vec<Held>,
    next_keepalive: Option<Instant>,
    /// Waiting for the socket to have room.
    blocked: bool,
    /// Registered for writability.
    watching: bool,
    throttle: Throttle,
    send_throttle: Throttle,
    /// Matches of incoming address patterns seen before.
    cache: PatternCache,
}

impl Instance {
    /// Where output goes now.
    fn destination(&self) -> Option<SocketAddr> {
        match self.opts.destination {
            Some(Destination::Fixed(_)) => self.dest,
            Some(Destination::Learn { .. }) => self.learned,
            None => None,
        }
    }

    fn tag(index: usize) -> u32 {
        SocketTag::new(index as u16, 0).tag()
    }
}

/// The OSC backend; one value serves every `[osc NAME]` instance.
#[derive(Debug)]
pub struct Osc {
    detect: bool,
    instances: Vec<Instance>,
    /// `InstanceId` → index into `instances`.
    by_id: InstanceIndex,
    reads: ReadQueue,
    buf: Vec<u8>,
    out: Vec<u8>,
    wall: Option<Wall>,
    deadline: Option<Instant>,
    /// Messages of one flush, sent with one system call (allocated at start).
    batch: Option<Box<Batch>>,
}

impl Default for Osc {
    fn default() -> Self {
        Osc {
            detect: false,
            instances: Vec::new(),
            by_id: InstanceIndex::new(),
            reads: ReadQueue::new(READ_BUDGET),
            buf: Vec::new(),
            out: Vec::new(),
            wall: None,
            deadline: None,
            batch: None,
        }
    }
}

fn resolve(addr: &Addr) -> Result<SocketAddr, String> {
    match addr {
        Addr::Socket(a) => Ok(*a),
        Addr::Name(n, p) => lookup(n, *p),
    }
}

impl Osc {
    /// The backend, with no instances yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn index_of(&self, id: InstanceId) -> Option<usize> {
        self.by_id.get(id)
    }

    /// Totals of one instance since start.
    pub fn instance_counters(&self, id: InstanceId) -> Option<&InstanceCounters> {
        self.index_of(id).map(|i| &self.instances[i].counters)
    }

    /// The address an instance's socket is bound to (after start).
    pub fn local_addr(&self, id: InstanceId) -> Option<SocketAddr> {
        let i = self.index_of(id)?;
        self.instances[i].link.as_ref().and_then(Link::local_addr)
    }

    /// Where an instance sends now (fixed, or learned).
    pub fn destination(&self, id: InstanceId) -> Option<SocketAddr> {
        self.index_of(id)
            .and_then(|i| self.instances[i].destination())
    }

    /// The wall clock at the start, for converting OSC time tags (tests build bundles with it).
    pub fn wall_clock(&self) -> Option<(Instant, std::time::Duration)> {
        self.wall.map(|w| (w.at, w.unix))
    }

    fn refresh_deadline(&mut self, now: Instant) {
        let mut d = self.reads.is_waiting().then_some(now);
        for inst in &self.instances {
            let retry = match &inst.link {
                Some(Link::Tcp(t)) => t.retry_at,
                _ => None,
            };
            for t in [inst.held.first().map(|h| h.due), inst.next_keepalive, retry]
                .into_iter()
                .flatten()
            {
                d = Some(d.map_or(t, |d: Instant| d.min(t)));
            }
        }
        self.deadline = d;
    }

    fn open(&mut self, now: Instant, io: &mut Io<'_>) -> Result<(), StartError> {
        if self.instances.len() >= usize::from(u16::MAX) {
            return Err(StartError::backend(format!(
                "{} osc instances: at most {} are supported",
                self.instances.len(),
                u16::MAX - 1
            )));
        }
        for (index, inst) in self.instances.iter_mut().enumerate() {
            if let Some(Destination::Fixed(a)) = &inst.opts.destination {
                inst.dest = Some(resolve(a).map_err(|e| {
                    StartError::instance(inst.id, format!("destination = '{a}': {e}"))
                        .about("destination")
                })?);
            }
            let bind = match &inst.opts.bind {
                Some(a) => Some(resolve(a).map_err(|e| {
                    StartError::instance(inst.id, format!("bind = '{a}': {e}")).about("bind")
                })?),
                // Output without `bind` (MIDIMonster needs one, cbdevnet/midimonster#133).
                None if inst.opts.destination.is_some()
                    && inst.opts.transport == Transport::Udp =>
                {
                    Some(options::ephemeral_bind(inst.dest))
                }
                None => None,
            };
            let tag = Instance::tag(index);
            let link = match inst.opts.transport {
                Transport::Udp => {
                    let Some(bind) = bind else {
                        tracing::info!(target: "osc", "instance '{}': no bind and no destination, nothing to do", inst.name);
                        continue;
                    };
                    let mut ep = UdpEndpoint::open(BindSpec::new(bind, false)).map_err(|e| {
                        StartError::instance(inst.id, format!("instance '{}': {e}", inst.name))
                            .about("bind")
                    })?;
                    if let Some(s) = ep.socket_mut(SocketId::Main) {
                        io.register(s, tag, Interest::READABLE).map_err(|e| {
                            StartError::instance(
                                inst.id,
                                format!("cannot register the socket: {e}"),
                            )
                        })?;
                    }
                    Link::Udp(Box::new(ep))
                }
                Transport::TcpSlip | Transport::TcpLength => {
                    let framing = if inst.opts.transport == Transport::TcpSlip {
                        Framing::Slip
                    } else {
                        Framing::LengthPrefix
                    };
                    let mut t = Tcp::new(framing);
                    if let Some(bind) = bind {
                        let mut l = TcpListener::bind(bind).map_err(|e| {
                            StartError::instance(inst.id, format!("instance '{}': {e}", inst.name))
                                .about("bind")
                        })?;
                        io.register(l.source_mut(), tag, Interest::READABLE)
                            .map_err(|e| {
                                StartError::instance(
                                    inst.id,
                                    format!("cannot register the socket: {e}"),
                                )
                            })?;
                        t.listener = Some(l);
                    }
                    t.target = inst.dest;
                    if let Err(e) = t.connect(index as u16, now, io) {
                        tracing::warn!(target: "osc", "instance '{}': {e}; trying again every {} s", inst.name, link::RECONNECT.as_secs());
                    }
                    Link::Tcp(t)
                }
            };
            let dest = match &inst.opts.destination {
                None => "nowhere".to_string(),
                Some(Destination::Fixed(_)) => inst.dest.map_or(String::new(), |d| d.to_string()),
                Some(Destination::Learn { port: None }) => "the last sender".to_string(),
                Some(Destination::Learn { port: Some(p) }) => {
                    format!("the last sender's host, port {p}")
                }
            };
            tracing::info!(target: "osc",
                "instance '{}': {} {} on {}, sending to {dest}{}, {} path(s) ({} with output), root '{}'",
                inst.name, inst.opts.transport, if inst.opts.bind.is_some() { "bound" } else { "sending" },
                link.local_addr().map_or("-".to_string(), |a| a.to_string()), if inst.opts.bundle { " in bundles" } else { "" },
                inst.paths.entries.len(), inst.paths.outputs(), inst.opts.root.as_str());
            inst.link = Some(link);
            inst.next_keepalive = inst.opts.keepalive.as_ref().map(|_| now);
        }
        Ok(())
    }

    /// Reads socket `socket` of instance `index`, at most `budget` datagrams (or stream reads).
    #[allow(clippy::too_many_arguments)]
    fn read(
        instances: &mut [Instance],
        buf: &mut [u8],
        wall: Option<Wall>,
        detect: bool,
        tag: SocketTag,
        budget: usize,
        now: Instant,
        io: &mut Io<'_>,
        sink: &mut Sink<'_>,
    ) -> Drained {
        let Some(wall) = wall else {
            return Drained::Dry;
        };
        let (group, socket) = (tag.group, usize::from(tag.socket));
        let Some(inst) = instances.get_mut(usize::from(group)) else {
            return Drained::Dry;
        };
        let Instance {
            name,
            opts,
            paths,
            counters,
            link,
            learned,
            held,
            throttle,
            cache,
            ..
        } = inst;
        let learn = match opts.destination {
            Some(Destination::Learn { port }) => Some(port),
            _ => None,
        };
        let mut input = Input {
            name,
            root: &opts.root,
            paths,
            cache,
            k: counters,
            held,
            throttle,
            detect,
        };
        match link.as_mut() {
            Some(Link::Udp(ep)) => {
                for _ in 0..budget {
                    match ep.recv(SocketId::Main, buf) {
                        Ok(Some(meta)) => {
                            if meta.truncated {
                                input.k.truncated += 1;
                                continue;
                            }
                            if let Some(port) = learn {
                                let mut src = meta.src;
                                if let Some(p) = port {
                                    src.set_port(p);
                                }
                                *learned = Some(src);
                            }
                            input.packet(&buf[..meta.len], now, wall, sink);
                        }
                        Ok(None) => return Drained::Dry,
                        Err(e) => {
                            input.k.recv_errors += 1;
                            tracing::debug!(target: "osc", "instance '{}': {e}", input.name);
                            return Drained::Dry;
                        }
                    }
                }
                Drained::More
            }
            Some(Link::Tcp(t)) if socket == 0 => {
                let (n, dry) = t.accept(group, budget, io);
                input.k.connections += n;
                if n > 0 {
                    tracing::info!(target: "osc", "instance '{}': {n} connection(s) accepted", input.name);
                }
                if dry { Drained::Dry } else { Drained::More }
            }
            Some(Link::Tcp(t)) => {
                let slot = socket - 1;
                for _ in 0..budget {
                    let r = t.read(slot, buf, |e| match e {
                        StreamEvent::Frame(f) => input.packet(f, now, wall, sink),
                        StreamEvent::Bad(e) => input.k.framing[e.index()] += 1,
                    });
                    match r {
                        Ok(true) => return Drained::Dry,
                        Ok(false) => {}
                        Err(()) => {
                            tracing::info!(target: "osc", "instance '{}': a connection closed", input.name);
                            t.drop_conn(slot, group, now, io);
                            return Drained::Dry;
                        }
                    }
                }
                Drained::More
            }
            None => Drained::Dry,
        }
    }

    /// Write readiness of TCP streams, and connections out that are due.
    fn streams(&mut self, now: Instant, ready: &[Ready], io: &mut Io<'_>) {
        for r in ready.iter().filter(|r| r.writable) {
            let tag = SocketTag::from_tag(r.tag);
            let Some(inst) = self.instances.get_mut(usize::from(tag.group)) else {
                continue;
            };
            match inst.link.as_mut() {
                Some(Link::Tcp(t)) if tag.socket > 0 => {
                    // A stream that had no room has drained: send the latest values.
                    inst.blocked = false;
                    let slot = usize::from(tag.socket) - 1;
                    match t.writable(slot) {
                        Ok(true) => {
                            inst.counters.connections += 1;
                            tracing::info!(target: "osc", "instance '{}': connected to {}", inst.name, t.target.map_or(String::new(), |a| a.to_string()));
                        }
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(target: "osc", "instance '{}': {e}", inst.name);
                            t.drop_conn(slot, tag.group, now, io);
                        }
                    }
                }
                _ => inst.blocked = false,
            }
        }
        for (index, inst) in self.instances.iter_mut().enumerate() {
            if let Some(Link::Tcp(t)) = inst.link.as_mut()
                && t.retry_at.is_some_and(|at| at <= now)
                && let Err(e) = t.connect(index as u16, now, io)
            {
                tracing::debug!(target: "osc", "instance '{}': {e}", inst.name);
            }
        }
    }

    /// Sends the keep-alive message of every instance whose time has come.
    fn keepalives(&mut self, now: Instant) {
        for inst in &mut self.instances {
            let (Some(due), Some(ka)) = (inst.next_keepalive, inst.opts.keepalive.as_ref()) else {
                continue;
            };
            if due > now {
                continue;
            }
            let next = due + ka.every;
            inst.next_keepalive = Some(if next <= now { now + ka.every } else { next });
            let udp_dest = inst.destination();
            let Some(link) = inst.link.as_mut() else {
                continue;
            };
            let Some(dst) = link.target(udp_dest) else {
                continue;
            };
            let Ok(n) = write_message(&mut self.out, &ka.path, []) else {
                continue;
            };
            match link.send(&self.out[..n], dst) {
                Ok(()) => {
                    inst.counters.keepalives_out += 1;
                    inst.counters.datagrams_out += 1;
                }
                Err(e) => {
                    inst.counters.send_errors += 1;
                    tracing::debug!(target: "osc", "instance '{}': keep-alive: {e}", inst.name);
                }
            }
        }
    }
}

impl Backend for Osc {
    fn name(&self) -> &'static str {
        "osc"
    }

    /// `detect`: MIDIMonster turns it on for any value but `off`.
    fn configure(
        &mut self,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        if key != "detect" {
            return Err(OptionError::Unknown {
                key: key.to_string(),
                known: GLOBAL_OPTIONS,
            });
        }
        self.detect = value != "off";
        if value != "on" && value != "off" {
            ctx.warn(
                Part::Value,
                format!("detect = '{value}' is not on or off; as in MIDIMonster, detection is on"),
            );
        }
        Ok(())
    }

    fn create_instance(&mut self, instance: InstanceId, name: &str) -> Result<(), OptionError> {
        self.by_id.insert(instance, self.instances.len());
        self.instances.push(Instance {
            id: instance,
            name: name.to_string(),
            opts: InstanceOptions::default(),
            paths: Paths::default(),
            counters: InstanceCounters::default(),
            link: None,
            dest: None,
            learned: None,
            dirty: Vec::new(),
            held: Vec::new(),
            next_keepalive: None,
            blocked: false,
            watching: false,
            throttle: Throttle::default(),
            send_throttle: Throttle::default(),
            cache: PatternCache::new(),
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
                message: "not an osc instance".into(),
            });
        };
        let inst = &mut self.instances[i];
        if !inst.paths.entries.is_empty() {
            // Mappings come after every instance section, so this cannot happen from a file.
            return Err(OptionError::Other {
                at: Part::Key,
                message: "options must come before the instance's channels are used".into(),
            });
        }
        options::apply(&mut inst.opts, key, value)?;
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
                message: format!("channel '{name}': not an osc instance"),
            });
        };
        let inst = &mut self.instances[i];
        let r = inst
            .paths
            .channel(
                instance,
                name,
                direction,
                &inst.opts.root,
                &inst.opts.preconfig,
                inst.opts.destination.is_some(),
                ctx.ids,
            )
            .map_err(|message| ChannelError { message })?;
        if let Some(w) = r.warning {
            ctx.warnings.push(w);
        }
        Ok(r.id)
    }

    fn validate(&self) -> Vec<StartError> {
        let mut problems = Vec::new();
        for inst in &self.instances {
            let o = &inst.opts;
            if o.keepalive.is_some() && o.destination.is_none() {
                problems.push(
                    StartError::instance(
                        inst.id,
                        format!(
                            "instance '{}': keepalive needs a destination to send to: set destination = HOST PORT (or learn)",
                            inst.name
                        ),
                    )
                    .about("keepalive"),
                );
            }
            if matches!(o.destination, Some(Destination::Learn { .. })) && o.bind.is_none() {
                problems.push(
                    StartError::instance(
                        inst.id,
                        format!(
                            "instance '{}': destination = learn answers whoever sent last, so the instance must receive: set bind = HOST PORT",
                            inst.name
                        ),
                    )
                    .about("destination"),
                );
            }
            if o.transport != Transport::Udp {
                if matches!(o.destination, Some(Destination::Learn { .. })) {
                    problems.push(
                        StartError::instance(
                            inst.id,
                            format!(
                                "instance '{}': over TCP, output goes to every connected peer; destination = learn is for UDP: remove it, or set destination = HOST PORT to connect out",
                                inst.name
                            ),
                        )
                        .about("destination"),
                    );
                } else if o.bind.is_none() && o.destination.is_none() {
                    problems.push(
                        StartError::instance(
                            inst.id,
                            format!(
                                "instance '{}': transport = tcp needs bind = HOST PORT (listen) or destination = HOST PORT (connect)",
                                inst.name
                            ),
                        )
                        .about("transport"),
                    );
                }
            }
        }
        problems
    }

    fn start(&mut self, now: Instant, io: &mut Io<'_>) -> Result<(), StartError> {
        self.buf = vec![0; RECV_BUF];
        self.out = vec![0; MAX_DATAGRAM.max(1024)];
        self.batch = Some(Box::new(Batch(patchbay_net::SendBatch::new())));
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.wall = Some(Wall { at: now, unix });
        self.open(now, io)?;
        for inst in &mut self.instances {
            inst.dirty.reserve(inst.paths.entries.len());
        }
        self.refresh_deadline(now);
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
        self.streams(now, ready, io);
        let Osc {
            reads,
            instances,
            buf,
            wall,
            detect,
            ..
        } = self;
        reads.run(ready, |tag, budget| {
            Self::read(
                instances,
                buf,
                *wall,
                *detect,
                SocketTag::from_tag(tag),
                budget,
                now,
                io,
                sink,
            )
        });
        let detect = self.detect;
        for inst in &mut self.instances {
            if inst.held.first().is_some_and(|h| h.due <= now) {
                let Instance {
                    name,
                    opts,
                    paths,
                    counters,
                    held,
                    throttle,
                    cache,
                    ..
                } = inst;
                Input {
                    name,
                    root: &opts.root,
                    paths,
                    cache,
                    k: counters,
                    held,
                    throttle,
                    detect,
                }
                .due(now, sink);
            }
        }
        self.keepalives(now);
        self.refresh_deadline(now);
        Ok(())
    }

    fn handle(
        &mut self,
        _now: Instant,
        instance: InstanceId,
        deliveries: &[Delivery],
        _sink: &mut Sink<'_>,
    ) {
        let Some(i) = self.index_of(instance) else {
            return;
        };
        let inst = &mut self.instances[i];
        for d in deliveries {
            inst.paths.set(d.key, d.value, &mut inst.dirty);
        }
    }

    fn flush(&mut self, now: Instant, io: &mut Io<'_>) {
        let Some(batch) = self.batch.as_deref_mut() else {
            return;
        };
        for (index, inst) in self.instances.iter_mut().enumerate() {
            if inst.dirty.is_empty() || inst.blocked {
                continue;
            }
            let udp_dest = inst.destination();
            let Some(dst) = inst.link.as_ref().and_then(|l| l.target(udp_dest)) else {
                inst.counters.no_destination += inst.dirty.len() as u64;
                for &p in &inst.dirty {
                    inst.paths.entries[p as usize].dirty = false;
                }
                inst.dirty.clear();
                continue;
            };
            let Some(link) = inst.link.as_mut() else {
                continue;
            };
            let sent = Output {
                name: &inst.name,
                paths: &mut inst.paths,
                dirty: &mut inst.dirty,
                k: &mut inst.counters,
                link,
                bundle: inst.opts.bundle,
                batch,
            }
            .flush(dst, &mut self.out);
            // Watch for room only while something waits (see doc/backends.md, Writing).
            let interest = if sent == Sent::Blocked {
                inst.blocked = true;
                if let Some(n) = inst.send_throttle.hit(now, patchbay_kit::LOG_PERIOD) {
                    tracing::debug!(target: "osc", "instance '{}': send buffer full {n} time(s); sending the latest values when it has room", inst.name);
                }
                Interest::READABLE | Interest::WRITABLE
            } else if inst.watching {
                Interest::READABLE
            } else {
                continue;
            };
            inst.watching = sent == Sent::Blocked;
            if let Some(s) = inst.link.as_mut().and_then(Link::udp_socket)
                && let Err(e) = io.reregister(s, Instance::tag(index), interest)
            {
                tracing::warn!(target: "osc", "instance '{}': cannot watch the socket: {e}", inst.name);
            }
        }
        self.refresh_deadline(now);
    }

    fn shutdown(&mut self, now: Instant, _io: &mut Io<'_>) {
        for inst in &self.instances {
            let k = &inst.counters;
            tracing::debug!(target: "osc",
                "instance '{}': {} message(s) in, {} event(s), {} message(s) out, {} malformed",
                inst.name, k.messages_in, k.events_in, k.messages_out, k.malformed_total());
        }
        self.refresh_deadline(now);
    }

    fn stats(&self, out: &mut Vec<Stat>) {
        for inst in &self.instances {
            inst.counters.stats(inst.id, out);
        }
    }

    /// Transport, addresses and what the instance is doing, for the web monitor.
    fn monitor(&self, instance: InstanceId, out: &mut dyn patchbay_core::MonitorSink) {
        let Some(i) = self.index_of(instance) else {
            return;
        };
        let inst = &self.instances[i];
        out.property("transport", &inst.opts.transport);
        if let Some(a) = inst.link.as_ref().and_then(Link::local_addr) {
            out.property("bind", &a);
        }
        if !inst.opts.root.as_str().is_empty() {
            out.property("root", &inst.opts.root.as_str());
        }
        let udp_dest = inst.destination();
        match inst.link.as_ref().and_then(|l| l.target(udp_dest)) {
            Some(d) => out.property("destination", &d),
            None if matches!(inst.opts.destination, Some(Destination::Learn { .. })) => {
                out.property("destination", &"learn (nobody heard yet)")
            }
            None => {}
        }
        let k = &inst.counters;
        out.property("paths", &inst.paths.entries.len());
        out.property("messages_in", &k.messages_in);
        out.property("messages_out", &k.messages_out);
        out.property("malformed", &k.malformed_total());
        let state = if inst.link.is_none() {
            "idle"
        } else if k.messages_in > 0 || k.messages_out > 0 {
            "active"
        } else {
            "waiting"
        };
        out.property("state", &state);
    }
}

#[cfg(test)]
mod tests;
