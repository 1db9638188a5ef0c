//! The `midi` backend: the ALSA sequencer, with MIDIMonster's options and channel names (user
//! documentation: README.md beside this file).
//!
//! One sequencer client for the backend, one port per instance (named after the instance;
//! others can connect to it with `aconnect`), and the devices of `read` and `write` subscribed
//! to it. The sequencer's descriptor is registered with the loop: no thread. Events become MIDI
//! bytes (ALSA's coder) and go through `patchbay_midi`'s stream parser and
//! [`crate::midi_common`], as the `jack` backend's do.
//!
//! A device that is missing or goes away (the sequencer announces ports that come and go) is
//! logged once and tried again when a port appears and every second; when it is back, it gets
//! the instance's last output values again (cbdevnet/midimonster#144).
//!
//! All ALSA calls are behind [`seq::Sequencer`], so that this logic is tested against a fake
//! sequencer (tests.rs) on machines without `/dev/snd/seq`.

pub mod alsa_seq;
pub mod seq;
#[cfg(test)]
mod tests;

use std::time::Instant;

use mio::unix::SourceFd;
use patchbay_core::{
    Backend, ChannelCtx, ChannelError, ChannelId, ConfigCtx, Delivery, Direction, FatalError,
    InstanceId, Interest, Io, OptionError, Part, Ready, Sink, StartError, Stat,
};
use patchbay_kit::{LOG_PERIOD, Throttle};
use patchbay_midi::{DEFAULT_MAX_SYSEX_LEN, DropReason, Input, Message, StreamParser};

use crate::midi_common::channels::Configured;
use crate::midi_common::reconnect::Outage;
use crate::midi_common::{
    Detect, MidiChannels, RETRY_PERIOD, Reconnect, malformed_name, parse_detect,
};
use seq::{Addr, Opener, SeqEvent, Sequencer, Way, resolve};

/// The tag of the sequencer's descriptor.
const SEQ: u32 = 0;

/// MIDIMonster's default client name.
const DEFAULT_CLIENT_NAME: &str = "MIDIMonster";

/// Sequencer events read per loop turn before the other backends get their turn.
const READ_BUDGET: usize = 512;

const GLOBAL_OPTIONS: &[&str] = &["name", "detect"];
const INSTANCE_OPTIONS: &[&str] = &[
    "read",
    "source",
    "write",
    "target",
    "epn-tx",
    "note-off",
    "sysex.NAME",
];

/// A `read` or `write` device.
#[derive(Debug)]
struct Device {
    spec: String,
    way: Way,
    /// The port it resolved to while connected.
    addr: Option<Addr>,
    link: Option<Reconnect>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    midi_in: u64,
    midi_out: u64,
    /// Events the sequencer could not turn into MIDI bytes.
    undecodable: u64,
    /// Messages the sequencer refused to queue.
    out_errors: u64,
}

struct Instance {
    id: InstanceId,
    name: String,
    read: Option<Device>,
    write: Option<Device>,
    midi: MidiChannels,
    input: Input,
    parser: StreamParser,
    /// Our port, once started.
    port: Option<i32>,
    counters: Counters,
    malformed_log: Throttle,
    /// `INSTANCE.`, what `detect` puts before a channel name.
    detect_prefix: String,
}

impl Instance {
    fn devices_mut(&mut self) -> impl Iterator<Item = &mut Device> {
        self.read.iter_mut().chain(self.write.iter_mut())
    }
}

/// The `midi` backend; one value serves all `[midi NAME]` instances.
pub struct Midi {
    client_name: Option<String>,
    detect: Detect,
    instances: Vec<Instance>,
    opener: Opener,
    seq: Option<Box<dyn Sequencer>>,
    buf: Box<[u8; DEFAULT_MAX_SYSEX_LEN]>,
    /// The read budget ran out: read again next turn.
    more: bool,
    /// Something was queued since the last flush.
    queued: bool,
    deadline: Option<Instant>,
    errors_log: Throttle,
}

impl Default for Midi {
    fn default() -> Self {
        Self::with_opener(Box::new(|name| {
            alsa_seq::AlsaSeq::open(name).map(|s| Box::new(s) as Box<dyn Sequencer>)
        }))
    }
}

impl Midi {
    /// The backend on the system's ALSA sequencer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The backend on the sequencer `opener` opens (tests use a fake one).
    pub fn with_opener(opener: Opener) -> Self {
        Midi {
            client_name: None,
            detect: Detect::Off,
            instances: Vec::new(),
            opener,
            seq: None,
            buf: Box::new([0; DEFAULT_MAX_SYSEX_LEN]),
            more: false,
            queued: false,
            deadline: None,
            errors_log: Throttle::default(),
        }
    }

    fn instance(&mut self, id: InstanceId) -> Option<&mut Instance> {
        self.instances.iter_mut().find(|i| i.id == id)
    }

    /// Whether instance `name`'s `read` (or `write`) device is connected (tests).
    pub fn is_connected(&self, name: &str, write: bool) -> bool {
        self.instances.iter().any(|i| {
            i.name == name
                && if write { &i.write } else { &i.read }
                    .as_ref()
                    .is_some_and(|d| d.link.is_some_and(|l| l.is_up()))
        })
    }

    /// Reads what the sequencer has, within the budget.
    fn read_events(&mut self, now: Instant, sink: &mut Sink<'_>) -> Result<(), FatalError> {
        let Some(seq) = &mut self.seq else {
            return Ok(());
        };
        self.more = false;
        for n in 0.. {
            if n == READ_BUDGET {
                self.more = true;
                break;
            }
            let ev = match seq.read(&mut self.buf[..]) {
                Ok(Some(ev)) => ev,
                Ok(None) => break,
                Err(e) => {
                    return Err(FatalError {
                        message: format!("the ALSA sequencer failed: {e}"),
                    });
                }
            };
            match ev {
                SeqEvent::Midi { port, len } => {
                    let Some(inst) = self.instances.iter_mut().find(|i| i.port == Some(port))
                    else {
                        continue;
                    };
                    if len == 0 {
                        inst.counters.undecodable += 1;
                        continue;
                    }
                    let before = inst.parser.dropped_total();
                    let (midi, input, counters) = (&inst.midi, &mut inst.input, &mut inst.counters);
                    let (detect, prefix) = (self.detect, inst.detect_prefix.as_str());
                    inst.parser.feed(&self.buf[..len], |m| {
                        counters.midi_in += 1;
                        midi.receive(0, input, &m, sink, detect, prefix);
                    });
                    if inst.parser.dropped_total() > before
                        && let Some(n) = inst.malformed_log.hit(now, LOG_PERIOD)
                    {
                        tracing::warn!(target: "midi",
                            "midi instance {}: dropped malformed MIDI ({n} time(s) since the last \
                             message; counters malformed.*)",
                            inst.name
                        );
                    }
                }
                SeqEvent::PortExit(addr) => gone(&mut self.instances, now, |a| a == addr),
                SeqEvent::ClientExit(client) => {
                    gone(&mut self.instances, now, |a| a.client == client);
                }
                SeqEvent::PortStart(_) => {
                    for inst in &mut self.instances {
                        for d in inst.devices_mut() {
                            if let Some(l) = &mut d.link {
                                l.hurry(now);
                            }
                        }
                    }
                }
                SeqEvent::Other => {}
            }
        }
        Ok(())
    }

    /// Connects the devices that are due.
    fn connect_due(&mut self, now: Instant) {
        let Some(seq) = &mut self.seq else {
            return;
        };
        let due = self
            .instances
            .iter()
            .flat_map(|i| i.read.iter().chain(i.write.iter()))
            .any(|d| d.link.is_some_and(|l| l.due(now)));
        if !due {
            return;
        }
        let ports = seq.ports();
        for inst in &mut self.instances {
            let Some(our) = inst.port else {
                continue;
            };
            let name = inst.name.clone();
            let mut resend = false;
            for d in inst.read.iter_mut().chain(inst.write.iter_mut()) {
                let Some(link) = &mut d.link else {
                    continue;
                };
                if !link.due(now) {
                    continue;
                }
                link.trying();
                let result = match resolve(&d.spec, &ports, d.way) {
                    None => Err(format!(
                        "no port matches '{}' (aconnect -{} lists them)",
                        d.spec,
                        if d.way == Way::Read { 'i' } else { 'o' }
                    )),
                    Some(addr) => match d.way {
                        Way::Read => seq.connect_from(our, addr),
                        Way::Write => seq.connect_to(our, addr),
                    }
                    .map(|()| addr)
                    .map_err(|e| e.to_string()),
                };
                match result {
                    Ok(addr) => {
                        d.addr = Some(addr);
                        let back = link.connected();
                        tracing::info!(target: "midi",
                            "midi instance {name}: {} device '{}' connected ({addr}){}",
                            way_name(d.way),
                            d.spec,
                            if back { ", again" } else { "" }
                        );
                        resend |= d.way == Way::Write;
                    }
                    Err(e) => {
                        if link.failed(now) == Outage::Began {
                            tracing::warn!(target: "midi",
                                "midi instance {name}: {} device: {e}; trying again every {} s \
                                 and when a port appears",
                                way_name(d.way),
                                RETRY_PERIOD.as_secs()
                            );
                        }
                    }
                }
            }
            if resend {
                let counters = &mut inst.counters;
                inst.midi.resend(0, |_, m| {
                    write(&mut **seq, our, m, counters);
                });
                inst.input.reset();
                self.queued = true;
            }
        }
    }

    fn update_deadline(&mut self, now: Instant) {
        self.deadline = if self.more {
            Some(now)
        } else {
            self.instances
                .iter()
                .flat_map(|i| i.read.iter().chain(i.write.iter()))
                .filter_map(|d| d.link.and_then(|l| l.deadline()))
                .min()
        };
    }
}

/// Devices whose port matches `gone` went away.
fn gone(instances: &mut [Instance], now: Instant, gone: impl Fn(Addr) -> bool) {
    for inst in instances {
        let name = inst.name.clone();
        for d in inst.devices_mut() {
            if !d.addr.is_some_and(&gone) {
                continue;
            }
            let addr = d.addr.take();
            if let Some(link) = &mut d.link
                && link.lost(now) == Outage::Began
            {
                tracing::warn!(target: "midi",
                    "midi instance {name}: {} device '{}' ({}) went away; reconnecting when \
                     it returns",
                    way_name(d.way),
                    d.spec,
                    addr.map_or_else(String::new, |a| a.to_string())
                );
            }
        }
    }
}

fn way_name(w: Way) -> &'static str {
    match w {
        Way::Read => "read",
        Way::Write => "write",
    }
}

/// Queues one message on our port.
fn write(seq: &mut dyn Sequencer, port: i32, m: &Message<'_>, counters: &mut Counters) {
    let mut buf = [0u8; 3];
    let bytes = match m {
        Message::SysEx(b) => *b,
        m => match m.encode(&mut buf) {
            Ok(n) => &buf[..n],
            Err(_) => return,
        },
    };
    match seq.write(port, bytes) {
        Ok(()) => counters.midi_out += 1,
        Err(_) => counters.out_errors += 1,
    }
}

impl Backend for Midi {
    fn name(&self) -> &'static str {
        "midi"
    }

    fn configure(
        &mut self,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        match key {
            "name" if !value.is_empty() && !value.contains('\0') => {
                self.client_name = Some(value.into());
            }
            "name" => {
                return Err(OptionError::Invalid {
                    key: key.into(),
                    value: value.into(),
                    expected: "an ALSA sequencer client name".into(),
                });
            }
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
            read: None,
            write: None,
            midi: MidiChannels::new(),
            input: Input::new(),
            parser: StreamParser::new(DEFAULT_MAX_SYSEX_LEN),
            port: None,
            counters: Counters::default(),
            malformed_log: Throttle::default(),
            detect_prefix: format!("{name}."),
        });
        Ok(())
    }

    fn configure_instance(
        &mut self,
        id: InstanceId,
        key: &str,
        value: &str,
        _ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        let Some(inst) = self.instance(id) else {
            return Err(OptionError::Unknown {
                key: key.into(),
                known: INSTANCE_OPTIONS,
            });
        };
        let way = match key {
            "read" | "source" => Way::Read,
            "write" | "target" => Way::Write,
            _ => {
                return match inst.midi.configure(key, value)? {
                    Configured::Done => Ok(()),
                    Configured::NotMine => Err(OptionError::Unknown {
                        key: key.into(),
                        known: INSTANCE_OPTIONS,
                    }),
                };
            }
        };
        if value.is_empty() {
            return Err(OptionError::Invalid {
                key: key.into(),
                value: value.into(),
                expected: "a device: CLIENT:PORT (20:0) or the start of its name (aconnect -l \
                           lists them)"
                    .into(),
            });
        }
        let slot = match way {
            Way::Read => &mut inst.read,
            Way::Write => &mut inst.write,
        };
        if let Some(d) = slot {
            return Err(OptionError::Other {
                at: Part::Key,
                message: format!(
                    "this instance already has a {} device ('{}'); one each of read and write \
                     per instance (as in MIDIMonster): connect more with aconnect, or add an \
                     instance",
                    way_name(way),
                    d.spec
                ),
            });
        }
        *slot = Some(Device {
            spec: value.into(),
            way,
            addr: None,
            link: None,
        });
        Ok(())
    }

    fn channel(
        &mut self,
        id: InstanceId,
        name: &str,
        _direction: Direction,
        ctx: &mut ChannelCtx<'_>,
    ) -> Result<ChannelId, ChannelError> {
        let Some(inst) = self.instance(id) else {
            return Err(ChannelError {
                message: "no such midi instance".into(),
            });
        };
        inst.midi.resolve(id, 0, name, ctx).map(|(id, _)| id)
    }

    fn start(&mut self, now: Instant, io: &mut Io<'_>) -> Result<(), StartError> {
        let name = self.client_name.as_deref().unwrap_or(DEFAULT_CLIENT_NAME);
        let mut seq = (self.opener)(name).map_err(|e| {
            StartError::backend(format!(
                "{e}; on Linux the ALSA sequencer is the kernel module snd-seq (modprobe \
                 snd-seq), and the user needs access to /dev/snd/seq (group audio)"
            ))
        })?;
        for inst in &mut self.instances {
            let port = seq.create_port(&inst.name).map_err(|e| {
                StartError::instance(inst.id, format!("cannot create port '{}': {e}", inst.name))
            })?;
            inst.port = Some(port);
            for d in inst.devices_mut() {
                d.link = Some(Reconnect::new(now));
            }
        }
        let fd = seq.fd();
        io.register(&mut SourceFd(&fd), SEQ, Interest::READABLE)
            .map_err(|e| StartError::backend(format!("cannot watch the ALSA sequencer: {e}")))?;
        tracing::info!(target: "midi", "midi: ALSA sequencer client {} '{name}'", seq.client_id());
        self.seq = Some(seq);
        self.connect_due(now);
        self.update_deadline(now);
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
        if self.more || ready.iter().any(|r| r.tag == SEQ && r.should_read()) {
            self.read_events(now, sink)?;
        }
        self.connect_due(now);
        self.update_deadline(now);
        Ok(())
    }

    fn handle(&mut self, _: Instant, id: InstanceId, deliveries: &[Delivery], _: &mut Sink<'_>) {
        let Some(seq) = self.seq.as_deref_mut() else {
            return;
        };
        let Some(inst) = self.instances.iter_mut().find(|i| i.id == id) else {
            return;
        };
        let Some(port) = inst.port else {
            return;
        };
        let counters = &mut inst.counters;
        for d in deliveries {
            // Always sent: besides the `write` device, anyone may have connected to the port.
            inst.midi
                .deliver(d.key, d.value, true, |_, m| write(seq, port, m, counters));
        }
        self.queued = true;
    }

    fn flush(&mut self, now: Instant, _: &mut Io<'_>) {
        if !std::mem::take(&mut self.queued) {
            return;
        }
        if let Some(seq) = &mut self.seq
            && let Err(e) = seq.flush()
            && let Some(n) = self.errors_log.hit(now, LOG_PERIOD)
        {
            tracing::warn!(target: "midi", "midi: sending to the ALSA sequencer failed ({n} time(s)): {e}");
        }
    }

    fn shutdown(&mut self, _: Instant, io: &mut Io<'_>) {
        if let Some(seq) = &mut self.seq {
            let _ = seq.flush();
            let _ = io.deregister(&mut SourceFd(&seq.fd()), SEQ);
        }
        self.seq = None;
        self.deadline = None;
    }

    fn stats(&self, out: &mut Vec<Stat>) {
        for inst in &self.instances {
            let id = inst.id;
            let c = inst.counters;
            out.push(Stat::instance(id, "midi_in", c.midi_in));
            out.push(Stat::instance(id, "midi_out", c.midi_out));
            out.push(Stat::instance(id, "undecodable", c.undecodable));
            out.push(Stat::instance(id, "out_errors", c.out_errors));
            let reconnects = inst
                .read
                .iter()
                .chain(inst.write.iter())
                .filter_map(|d| d.link.map(|l| l.reconnects()))
                .sum();
            out.push(Stat::instance(id, "reconnects", reconnects));
            for r in DropReason::ALL {
                out.push(Stat::instance(
                    id,
                    malformed_name(r),
                    inst.parser.dropped(r),
                ));
            }
        }
    }
}
