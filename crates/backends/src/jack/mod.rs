//! The `jack` backend: JACK MIDI and control-voltage (CV) ports, with MIDIMonster's options and
//! channel names (user documentation: README.md beside this file).
//!
//! Each instance is one JACK client with the ports of its port lines. Three threads take part:
//! * JACK's real-time thread runs the process callback (`rt`): it moves MIDI events between
//!   the ports and wait-free rings, and CV samples through atomics, wakes the loop when
//!   something came in, and neither blocks nor allocates;
//! * a side thread (`client`) opens and closes clients, which talks to the server;
//! * the loop (this module) turns received events into channel values and delivered values
//!   into events, through `patchbay_midi` and [`crate::midi_common`] (the ALSA backend reads
//!   and writes MIDI the same way).
//!
//! A server that goes away (its shutdown notification) or is not there yet is logged once and
//! tried again every second; when the client is back, every output gets its last value again.

mod client;
pub mod options;
mod rt;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use patchbay_core::{
    Backend, ChannelCtx, ChannelError, ChannelId, ConfigCtx, Delivery, Direction, FatalError,
    InstanceId, Io, OptionError, Part, Ready, Sink, StartError, Stat, Value,
};
use patchbay_kit::Throttle;
use patchbay_midi::{DropReason, Input, Message};

use crate::midi_common::channels::Configured;
use crate::midi_common::reconnect::Outage;
use crate::midi_common::{Detect, MidiChannels, Reconnect, parse_detect};
use client::{Command, LoopEnd, OpenRequest, Opened, Report, Worker};
use options::{PortKind, check_port_name, parse_port, parse_switch};
use rt::{MAX_EVENT, Shared, pop_record, push_record};

/// The tag of the loop's waker (the backend registers nothing else).
const WAKER: u32 = 0;

/// A core key with this bit set is a CV port (its index in the low bits); others are MIDI
/// channel slots of [`MidiChannels`].
const CV_KEY: u64 = 1 << 63;

/// MIDIMonster's default client name.
const DEFAULT_CLIENT_NAME: &str = "MIDIMonster";

const GLOBAL_OPTIONS: &[&str] = &["debug", "errors", "detect"];
const INSTANCE_OPTIONS: &[&str] = &[
    "name",
    "server",
    "epn-tx",
    "note-off",
    "sysex.NAME",
    "PORT (= midi in|out, cv in|out MIN MAX)",
];

/// One port line.
#[derive(Debug)]
struct PortDef {
    name: String,
    kind: PortKind,
    /// CV ports: the channel (the port itself), once a mapping names it.
    cv_channel: Option<ChannelId>,
    /// CV outputs: the sample written (the last value, kept across reconnects).
    cv_out: f32,
    /// CV inputs: the last sample reported (f32 bits).
    cv_in: Option<u32>,
    /// `INSTANCE.PORT.`, what `detect` puts before a channel name.
    detect_prefix: String,
}

/// Counters of one instance (`Backend::stats`); the callback's own are in [`Shared`].
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    midi_in: u64,
    midi_out: u64,
    cv_in: u64,
    /// Outgoing events dropped because the port's ring was full (the server fell behind).
    out_overflow: u64,
    malformed: [u64; DropReason::COUNT],
    /// Totals of the connections before the current one (their `Shared` is gone).
    in_overflow: u64,
    in_too_long: u64,
    out_deferred: u64,
    xruns: u64,
}

/// A running client as the loop holds it.
struct Connection {
    client: Option<Box<client::Active>>,
    shared: Arc<Shared>,
    ends: Vec<LoopEnd>,
}

#[derive(Debug, Default)]
struct InstanceLogs {
    malformed: Throttle,
    overflow: Throttle,
    /// The connection's `in_overflow` when it was last looked at.
    overflow_seen: u64,
}

struct Instance {
    id: InstanceId,
    name: String,
    client_name: Option<String>,
    server: Option<String>,
    ports: Vec<PortDef>,
    midi: MidiChannels,
    /// (N)RPN state per port.
    inputs: Vec<Input>,
    link: Option<Reconnect>,
    conn: Option<Connection>,
    counters: Counters,
    logs: InstanceLogs,
}

impl Instance {
    fn port(&self, name: &str) -> Option<usize> {
        self.ports.iter().position(|p| p.name == name)
    }

    fn server_name(&self) -> &str {
        self.server.as_deref().unwrap_or("default")
    }
}

/// The `jack` backend; one value serves all `[jack NAME]` instances.
pub struct Jack {
    detect: Detect,
    jack_errors: bool,
    jack_debug: bool,
    instances: Vec<Instance>,
    worker: Option<Worker>,
    /// The worker ended (after shutdown).
    stopped: bool,
    /// Where records are read into.
    scratch: Box<[u8; MAX_EVENT]>,
    deadline: Option<Instant>,
}

impl Default for Jack {
    fn default() -> Self {
        Jack {
            detect: Detect::Off,
            jack_errors: false,
            jack_debug: false,
            instances: Vec::new(),
            worker: None,
            stopped: false,
            scratch: Box::new([0; MAX_EVENT]),
            deadline: None,
        }
    }
}

impl Jack {
    /// The backend, with no instances yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn instance(&mut self, id: InstanceId) -> Option<&mut Instance> {
        self.instances.iter_mut().find(|i| i.id == id)
    }

    /// Whether the client of instance `name` is connected (tests).
    pub fn is_connected(&self, name: &str) -> bool {
        self.instances
            .iter()
            .any(|i| i.name == name && i.link.is_some_and(|l| l.is_up()))
    }

    /// Takes what the side thread reported.
    fn reports(&mut self, now: Instant) {
        let Some(worker) = &self.worker else {
            return;
        };
        while let Some(r) = worker.try_recv() {
            match r {
                Report::Opened(o) => {
                    if let Some(inst) = self.instances.get_mut(o.instance) {
                        connected(inst, *o);
                    }
                }
                Report::Failed { instance, error } => {
                    if let Some(inst) = self.instances.get_mut(instance)
                        && let Some(link) = &mut inst.link
                        && link.failed(now) == Outage::Began
                    {
                        tracing::warn!(target: "jack",
                            "jack instance {}: cannot connect to JACK server '{}': {error}; \
                             trying again every {} s",
                            inst.name,
                            inst.server_name(),
                            crate::midi_common::RETRY_PERIOD.as_secs()
                        );
                    }
                }
                Report::Stopped => self.stopped = true,
            }
        }
    }

    fn update_deadline(&mut self) {
        self.deadline = self
            .instances
            .iter()
            .filter_map(|i| i.link.and_then(|l| l.deadline()))
            .min();
    }
}

/// A client is up: install its ends and give every output its last value again.
fn connected(inst: &mut Instance, o: Opened) {
    let Some(link) = &mut inst.link else {
        return;
    };
    let back = link.connected();
    if back {
        tracing::info!(target: "jack",
            "jack instance {}: connected again to JACK server '{}' as client '{}'; last values re-sent",
            inst.name,
            inst.server_name(),
            o.name
        );
    } else {
        tracing::info!(target: "jack",
            "jack instance {}: JACK client '{}' on server '{}' ({} Hz, {} frames per period)",
            inst.name,
            o.name,
            inst.server_name(),
            o.sample_rate,
            o.period
        );
    }
    for input in &mut inst.inputs {
        input.reset();
    }
    inst.logs.overflow_seen = 0;
    let mut conn = Connection {
        client: Some(o.client),
        shared: o.shared,
        ends: o.ends,
    };
    for (i, p) in inst.ports.iter().enumerate() {
        if let PortKind::MidiOut = p.kind {
            let Some(port) = u16::try_from(i).ok() else {
                continue;
            };
            let (ends, counters) = (&mut conn.ends, &mut inst.counters);
            inst.midi
                .resend(port, |port, m| send(ends, counters, port, m));
        }
    }
    inst.conn = Some(conn);
}

/// Queues one message for the callback to write on `port`.
fn send(ends: &mut [LoopEnd], counters: &mut Counters, port: u16, m: &Message<'_>) {
    let mut buf = [0u8; 3];
    let bytes = match m {
        Message::SysEx(b) => *b,
        m => match m.encode(&mut buf) {
            Ok(n) => &buf[..n],
            Err(_) => return,
        },
    };
    if let Some(LoopEnd::MidiOut(ring)) = ends.get_mut(usize::from(port)) {
        if push_record(ring, bytes) {
            counters.midi_out += 1;
        } else {
            counters.out_overflow += 1;
        }
    }
}

/// Adds the counters of a connection that ends to the instance's totals.
fn keep_counts(counters: &mut Counters, shared: &Shared) {
    counters.in_overflow += shared.in_overflow.load(Ordering::Relaxed);
    counters.in_too_long += shared.in_too_long.load(Ordering::Relaxed);
    counters.out_deferred += shared.out_deferred.load(Ordering::Relaxed);
    counters.xruns += shared.xruns.load(Ordering::Relaxed);
}

/// CV sample of a normalised value: `min + v × (max − min)`, `v` clipped to 0..1 so the port
/// never leaves its range.
fn cv_sample(value: Value, min: f64, max: f64) -> f32 {
    (min + value.normalised().clamp(0.0, 1.0) * (max - min)) as f32
}

/// Normalised value of a CV sample: `(s − min) / (max − min)`, clipped to 0..1 (MIDIMonster).
fn cv_value(sample: f32, min: f64, max: f64) -> Value {
    let n = (f64::from(sample) - min) / (max - min);
    Value::from_normalised(if n.is_nan() { 0.0 } else { n.clamp(0.0, 1.0) })
}

impl Backend for Jack {
    fn name(&self) -> &'static str {
        "jack"
    }

    fn configure(
        &mut self,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        match key {
            "debug" => self.jack_debug = parse_switch(value),
            "errors" => self.jack_errors = parse_switch(value),
            "detect" => self.detect = ctx.accept(parse_detect(value)),
            _ => {
                return Err(OptionError::Unknown {
                    key: key.into(),
                    known: GLOBAL_OPTIONS,
                });
            }
        }
        Ok(())
    }

    fn create_instance(&mut self, id: InstanceId, name: &str) -> Result<(), OptionError> {
        self.instances.push(Instance {
            id,
            name: name.into(),
            client_name: None,
            server: None,
            ports: Vec::new(),
            midi: MidiChannels::new(),
            inputs: Vec::new(),
            link: None,
            conn: None,
            counters: Counters::default(),
            logs: InstanceLogs::default(),
        });
        Ok(())
    }

    fn configure_instance(
        &mut self,
        id: InstanceId,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        let Some(inst) = self.instance(id) else {
            return Err(OptionError::Unknown {
                key: key.into(),
                known: INSTANCE_OPTIONS,
            });
        };
        let non_empty = |what: &str| {
            if value.is_empty() {
                Err(OptionError::Invalid {
                    key: key.into(),
                    value: value.into(),
                    expected: format!("a {what} name"),
                })
            } else {
                Ok(value.to_owned())
            }
        };
        match key {
            "name" => inst.client_name = Some(non_empty("JACK client")?),
            "server" => inst.server = Some(non_empty("JACK server")?),
            _ => {
                if inst.midi.configure(key, value)? == Configured::Done {
                    return Ok(());
                }
                check_port_name(key)?;
                if inst.port(key).is_some() {
                    return Err(OptionError::Other {
                        at: Part::Key,
                        message: format!("port '{key}' is defined twice in this instance"),
                    });
                }
                let line = parse_port(key, value)?;
                for w in line.warnings {
                    ctx.warn(Part::Value, w);
                }
                let cv_out = match line.kind {
                    PortKind::CvOut { min, .. } => min as f32,
                    _ => 0.0,
                };
                inst.ports.push(PortDef {
                    name: key.into(),
                    kind: line.kind,
                    cv_channel: None,
                    cv_out,
                    cv_in: None,
                    detect_prefix: format!("{}.{key}.", inst.name),
                });
                inst.inputs.push(Input::new());
            }
        }
        Ok(())
    }

    fn channel(
        &mut self,
        id: InstanceId,
        name: &str,
        direction: Direction,
        ctx: &mut ChannelCtx<'_>,
    ) -> Result<ChannelId, ChannelError> {
        let Some(inst) = self.instance(id) else {
            return Err(ChannelError {
                message: "no such jack instance".into(),
            });
        };
        let (port_name, rest) = match name.split_once('.') {
            Some((p, rest)) => (p, Some(rest)),
            None => (name, None),
        };
        let Some(p) = inst.port(port_name) else {
            let known: Vec<&str> = inst.ports.iter().map(|p| p.name.as_str()).collect();
            return Err(ChannelError {
                message: format!(
                    "no port '{port_name}' in this instance (ports: {}); define it with \
                     '{port_name} = midi in' (or out, or cv in|out MIN MAX)",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            });
        };
        let kind = inst.ports[p].kind;
        if kind.is_input() != (direction == Direction::Input) {
            ctx.warnings.push(format!(
                "port '{port_name}' is {}: as a mapping {} it {}",
                kind.describe(),
                if direction == Direction::Input {
                    "source"
                } else {
                    "target"
                },
                if direction == Direction::Input {
                    "never has events"
                } else {
                    "sends nothing"
                }
            ));
        }
        if kind.is_midi() {
            let Some(rest) = rest else {
                return Err(ChannelError {
                    message: format!(
                        "'{name}' names a MIDI port: add the MIDI channel, e.g. {name}.ch0.note60 \
                         or {name}.ch0.cc7"
                    ),
                });
            };
            let port = u16::try_from(p).map_err(|_| ChannelError {
                message: "too many ports".into(),
            })?;
            return inst.midi.resolve(id, port, rest, ctx).map(|(id, _)| id);
        }
        if let Some(rest) = rest {
            return Err(ChannelError {
                message: format!(
                    "'{port_name}' is a CV port, a single channel: map it as '{port_name}' \
                     (without '.{rest}')"
                ),
            });
        }
        let channel = ctx.ids.resolve(id, CV_KEY | p as u64);
        inst.ports[p].cv_channel = Some(channel);
        Ok(channel)
    }

    fn validate(&self) -> Vec<StartError> {
        self.instances
            .iter()
            .filter(|i| i.ports.is_empty())
            .map(|i| {
                StartError::instance(
                    i.id,
                    format!(
                        "jack instance {} has no ports: add a line such as 'midi_in = midi in' \
                         or 'cv_out = cv out min 0 max 1'",
                        i.name
                    ),
                )
            })
            .collect()
    }

    fn start(&mut self, now: Instant, io: &mut Io<'_>) -> Result<(), StartError> {
        if let Some(e) = client::library_error() {
            return Err(StartError::backend(format!(
                "cannot load the JACK library ({e}): install JACK (Debian: libjack-jackd2-0)"
            )));
        }
        client::route_jack_messages(self.jack_errors, self.jack_debug);
        let worker = Worker::spawn(io.waker(WAKER)).map_err(|e| {
            StartError::backend(format!("cannot start the JACK client thread: {e}"))
        })?;
        self.worker = Some(worker);
        for inst in &mut self.instances {
            inst.link = Some(Reconnect::new(now));
        }
        self.update_deadline();
        Ok(())
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    fn process(
        &mut self,
        now: Instant,
        _ready: &[Ready],
        _io: &mut Io<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), FatalError> {
        // Readiness is not looked at: the waker is shared by every backend that uses one, and
        // draining rings that may be empty costs a few atomic loads.
        self.reports(now);
        let detect = self.detect;
        let scratch = &mut *self.scratch;
        for inst in &mut self.instances {
            let Some(conn) = &mut inst.conn else {
                continue;
            };
            if conn.shared.dead.load(Ordering::Acquire) {
                keep_counts(&mut inst.counters, &conn.shared);
                if let (Some(c), Some(w)) = (conn.client.take(), &self.worker) {
                    w.send(Command::Close(c));
                }
                inst.conn = None;
                if let Some(link) = &mut inst.link
                    && link.lost(now) == Outage::Began
                {
                    tracing::warn!(target: "jack",
                        "jack instance {}: JACK server '{}' went away; reconnecting when it \
                         returns",
                        inst.name,
                        inst.server_name()
                    );
                }
                continue;
            }
            for (p, end) in conn.ends.iter_mut().enumerate() {
                let LoopEnd::MidiIn(ring) = end else {
                    continue;
                };
                let prefix = inst.ports[p].detect_prefix.as_str();
                let port = p as u16;
                while let Some(len) = pop_record(ring, scratch) {
                    inst.counters.midi_in += 1;
                    match Message::parse(&scratch[..len]) {
                        Ok(m) => {
                            inst.midi
                                .receive(port, &mut inst.inputs[p], &m, sink, detect, prefix);
                        }
                        Err(reason) => {
                            inst.counters.malformed[reason.index()] += 1;
                            if let Some(n) = inst.logs.malformed.hit(now, patchbay_kit::LOG_PERIOD)
                            {
                                tracing::warn!(target: "jack",
                                    "jack instance {}: dropped {n} malformed MIDI event(s) on port \
                                     {} (last: {reason})",
                                    inst.name,
                                    inst.ports[p].name
                                );
                            }
                        }
                    }
                }
            }
            for (p, flag) in conn.shared.resend.iter().enumerate() {
                if flag.swap(false, Ordering::Acquire) {
                    let (ends, counters) = (&mut conn.ends, &mut inst.counters);
                    inst.midi
                        .resend(p as u16, |port, m| send(ends, counters, port, m));
                }
            }
            if conn.shared.cv_in_changed.swap(false, Ordering::Acquire) {
                for (p, def) in inst.ports.iter_mut().enumerate() {
                    let PortKind::CvIn { min, max } = def.kind else {
                        continue;
                    };
                    let Some(bits) = conn.shared.cv_in.get(p).map(|a| a.load(Ordering::Relaxed))
                    else {
                        continue;
                    };
                    if def.cv_in == Some(bits) {
                        continue;
                    }
                    def.cv_in = Some(bits);
                    inst.counters.cv_in += 1;
                    let value = cv_value(f32::from_bits(bits), min, max);
                    if detect == Detect::On {
                        tracing::info!(target: "jack",
                            "detect: {}.{} = {} ({})",
                            inst.name,
                            def.name,
                            f32::from_bits(bits),
                            value.normalised()
                        );
                    }
                    if let Some(c) = def.cv_channel {
                        sink.push(c, value);
                    }
                }
            }
            let overflow = conn.shared.in_overflow.load(Ordering::Relaxed);
            if overflow > inst.counters.in_overflow
                && inst
                    .logs
                    .overflow
                    .hit(now, patchbay_kit::LOG_PERIOD)
                    .is_some()
            {
                tracing::warn!(target: "jack",
                    "jack instance {}: incoming MIDI events dropped (the loop fell behind JACK)",
                    inst.name
                );
            }
        }
        if let Some(worker) = &self.worker {
            for (i, inst) in self.instances.iter_mut().enumerate() {
                let Some(link) = &mut inst.link else {
                    continue;
                };
                if !link.due(now) {
                    continue;
                }
                link.trying();
                worker.send(Command::Open(OpenRequest {
                    instance: i,
                    client_name: inst
                        .client_name
                        .clone()
                        .unwrap_or_else(|| DEFAULT_CLIENT_NAME.into()),
                    server: inst.server.clone(),
                    ports: inst
                        .ports
                        .iter()
                        .map(|p| (p.name.clone(), p.kind))
                        .collect(),
                    cv_out: inst.ports.iter().map(|p| p.cv_out).collect(),
                }));
            }
        }
        self.update_deadline();
        Ok(())
    }

    fn handle(&mut self, _: Instant, id: InstanceId, deliveries: &[Delivery], _: &mut Sink<'_>) {
        let Some(inst) = self.instance(id) else {
            return;
        };
        for d in deliveries {
            if d.key & CV_KEY != 0 {
                let p = (d.key & !CV_KEY) as usize;
                let Some(def) = inst.ports.get_mut(p) else {
                    continue;
                };
                if let PortKind::CvOut { min, max } = def.kind {
                    def.cv_out = cv_sample(d.value, min, max);
                    if let Some(slot) = inst.conn.as_ref().and_then(|c| c.shared.cv_out.get(p)) {
                        slot.store(def.cv_out.to_bits(), Ordering::Relaxed);
                    }
                }
                continue;
            }
            let (midi, counters) = (&mut inst.midi, &mut inst.counters);
            match &mut inst.conn {
                Some(conn) => {
                    let ends = &mut conn.ends;
                    midi.deliver(d.key, d.value, true, |port, m| {
                        send(ends, counters, port, m)
                    });
                }
                None => {
                    midi.deliver(d.key, d.value, false, |_, _| {});
                }
            }
        }
    }

    fn shutdown(&mut self, _: Instant, _: &mut Io<'_>) {
        let Some(worker) = &self.worker else {
            self.stopped = true;
            return;
        };
        for inst in &mut self.instances {
            if let Some(conn) = &mut inst.conn {
                keep_counts(&mut inst.counters, &conn.shared);
                if let Some(c) = conn.client.take() {
                    worker.send(Command::Close(c));
                }
            }
            inst.conn = None;
            inst.link = None;
        }
        worker.send(Command::Stop);
        self.deadline = None;
    }

    fn shutdown_complete(&self) -> bool {
        self.stopped || self.worker.is_none()
    }

    fn stats(&self, out: &mut Vec<Stat>) {
        for inst in &self.instances {
            let mut c = inst.counters;
            if let Some(conn) = &inst.conn {
                keep_counts(&mut c, &conn.shared);
            }
            let id = inst.id;
            out.push(Stat::instance(id, "midi_in", c.midi_in));
            out.push(Stat::instance(id, "midi_out", c.midi_out));
            out.push(Stat::instance(id, "cv_in", c.cv_in));
            out.push(Stat::instance(id, "in_overflow", c.in_overflow));
            out.push(Stat::instance(id, "in_too_long", c.in_too_long));
            out.push(Stat::instance(id, "out_overflow", c.out_overflow));
            out.push(Stat::instance(id, "out_deferred", c.out_deferred));
            out.push(Stat::instance(id, "xruns", c.xruns));
            out.push(Stat::instance(
                id,
                "reconnects",
                inst.link.map_or(0, |l| l.reconnects()),
            ));
            for r in DropReason::ALL {
                out.push(Stat::instance(
                    id,
                    crate::midi_common::malformed_name(r),
                    c.malformed[r.index()],
                ));
            }
        }
    }
}
