//! Looking into a running core from inside its loop: what a backend shows about an instance
//! ([`Backend::monitor`] into a [`MonitorSink`]), and the
//! [`Observer`] the loop runs beside the backends with a read-only [`CoreView`] (the web
//! monitor is one).
//!
//! Why a sink and not a snapshot struct: a backend describes its instance by calling the sink
//! (a property, a frame, a source), so nothing is allocated per call and a backend shows what
//! it has; sACN shows sources with priorities, a MIDI port would show none. Why the observer
//! gets a view and not the core: a view borrows only what may be read, so an observer can
//! never route, start or stop anything, and its work happens between two turns, where the
//! configuration it reads is consistent (a later reload swaps it between two turns too; the
//! view's [`CoreView::generation`] then changes, and ids read earlier must be looked up again).

use std::fmt;
use std::time::Instant;

use crate::backend::{Backend, ChannelId, Direction, InstanceId, StartError};
use crate::reactor::{Io, Ready};
use crate::registry::ChannelRegistry;
use crate::router::{Counters, Router};
use crate::stats::StatGroup;
use crate::value::Value;

/// Whether a source still sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceState {
    /// Heard within its protocol's loss timeout.
    Active,
    /// Not heard for the loss timeout.
    Lost,
    /// It said goodbye (sACN Stream_Terminated).
    Terminated,
}

impl SourceState {
    /// `active`, `lost` or `terminated` (the names of `patchbay sacn watch --json`).
    pub fn as_str(self) -> &'static str {
        match self {
            SourceState::Active => "active",
            SourceState::Lost => "lost",
            SourceState::Terminated => "terminated",
        }
    }
}

/// One sender feeding an instance (an sACN source on its universe). Fields a protocol does not
/// have are `None`.
#[derive(Clone, Copy)]
pub struct Source<'a> {
    /// Its identity on the wire (an sACN CID, an address and port).
    pub id: &'a dyn fmt::Display,
    /// The name it gives itself (empty if none).
    pub name: &'a str,
    /// Whether it still sends.
    pub state: SourceState,
    /// Its packet priority.
    pub priority: Option<u8>,
    /// It sends per-address priorities (sACN start code 0xDD).
    pub per_address_priority: bool,
    /// Packets taken from it since it (last) appeared.
    pub packets: Option<u64>,
    /// Packets discarded as out of sequence since it (last) appeared.
    pub sequence_errors: Option<u64>,
    /// Packets never seen (gaps in its sequence numbers) since it (last) appeared.
    pub missed: Option<u64>,
    /// Times it was lost (loss timeout) since the instance started.
    pub losses: u64,
    /// When it was last heard.
    pub last_seen: Option<Instant>,
}

/// Where [`Backend::monitor`] describes one instance. Calls may come
/// in any order and any number; an observer shows them as they come.
pub trait MonitorSink {
    /// A fact about the instance worth showing (`universe` = 1, `priority` = 100, `state` =
    /// `receiving`). Names are stable snake_case; the value is shown as text.
    fn property(&mut self, name: &'static str, value: &dyn fmt::Display);

    /// Whether [`MonitorSink::frame`] calls are wanted: a backend skips copying its frames
    /// (512 bytes per DMX universe) when nobody looks at them.
    fn wants_frames(&self) -> bool;

    /// The instance's frame as it is now: what it receives (`Input`: a merged DMX universe) or
    /// what it sends (`Output`). Byte `i` is lane `i` ([`ChannelIds::set_lane`](crate::ChannelIds::set_lane)).
    fn frame(&mut self, direction: Direction, bytes: &[u8]);

    /// One source feeding the instance.
    fn source(&mut self, source: &Source<'_>);
}

/// Something the loop runs beside the backends that looks at the whole core: the web monitor.
/// It owns its sockets like a backend ([`Io`], readiness as [`Ready`]) and is called at the end
/// of every turn, after the backends' `flush`, with a [`CoreView`]. Like a backend it must not
/// block and must bound its work per turn: the loop routes nothing while it runs.
pub trait Observer {
    /// Its name in errors (`web`).
    fn name(&self) -> &'static str;

    /// Registers its sockets; called by [`Core::start`](crate::Core::start) after every
    /// backend started. An error stops the start as a backend's would.
    fn start(&mut self, now: Instant, io: &mut Io<'_>) -> Result<(), StartError>;

    /// The next moment it wants [`Observer::observe`] called even without readiness.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// End of a turn: what became ready among its sources, and the core to look at.
    fn observe(&mut self, now: Instant, ready: &[Ready], io: &mut Io<'_>, core: &CoreView<'_>);
}

/// An instance as the core knows it.
#[derive(Debug)]
pub(crate) struct InstanceInfo {
    pub backend: usize,
    pub name: String,
    /// Removed by a reload: its id is never reused (a running backend may still know it),
    /// and an instance of the same name and backend that a later reload adds gets it back.
    pub retired: bool,
}

/// A read-only view of a running core, handed to an [`Observer`] between two turns.
pub struct CoreView<'a> {
    pub(crate) backends: &'a [Box<dyn Backend>],
    pub(crate) started: &'a [bool],
    pub(crate) instances: &'a [InstanceInfo],
    pub(crate) registry: &'a ChannelRegistry,
    pub(crate) edges: &'a [(ChannelId, ChannelId)],
    pub(crate) router: &'a Router,
    pub(crate) generation: u64,
    pub(crate) last_reload: Option<&'a crate::event_loop::ReloadOutcome>,
    pub(crate) reloading: bool,
    pub(crate) turns: u64,
    pub(crate) shutting_down: bool,
}

impl CoreView<'_> {
    /// Changes whenever the configuration is replaced: instance and channel ids read under
    /// another generation may name something else now.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// How the last configuration reload went, if one was asked for.
    pub fn last_reload(&self) -> Option<&crate::event_loop::ReloadOutcome> {
        self.last_reload
    }

    /// Whether a reload is being prepared now (its outcome will be the next
    /// [`CoreView::last_reload`]; a reload asked for meanwhile runs after it).
    pub fn is_reloading(&self) -> bool {
        self.reloading
    }

    /// Loop turns so far.
    pub fn turns(&self) -> u64 {
        self.turns
    }

    /// Whether a shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// Number of instance ids; ids are `0..instance_count()`, some of them (those a reload
    /// removed) without a name.
    pub fn instance_count(&self) -> usize {
        self.instances.len()
    }

    /// The name of instance `id`.
    pub fn instance_name(&self, id: InstanceId) -> Option<&str> {
        self.instances
            .get(id.0 as usize)
            .filter(|i| !i.retired)
            .map(|i| i.name.as_str())
    }

    /// The instance called `name`.
    pub fn instance(&self, name: &str) -> Option<InstanceId> {
        self.instances
            .iter()
            .position(|i| !i.retired && i.name == name)
            .map(|i| InstanceId(i as u32))
    }

    /// The name of the backend instance `id` belongs to.
    pub fn instance_backend(&self, id: InstanceId) -> Option<&'static str> {
        let i = self.instances.get(id.0 as usize)?;
        self.backends.get(i.backend).map(|b| b.name())
    }

    /// Whether instance `id`'s backend is running.
    pub fn instance_started(&self, id: InstanceId) -> bool {
        self.instances
            .get(id.0 as usize)
            .filter(|i| !i.retired)
            .and_then(|i| self.started.get(i.backend))
            .copied()
            .unwrap_or(false)
    }

    /// Asks instance `id`'s backend to describe it ([`Backend::monitor`]); nothing for a
    /// backend that is not running.
    pub fn monitor(&self, id: InstanceId, sink: &mut dyn MonitorSink) {
        let Some(i) = self.instances.get(id.0 as usize) else {
            return;
        };
        if self.started.get(i.backend).copied().unwrap_or(false)
            && let Some(b) = self.backends.get(i.backend)
        {
            b.monitor(id, sink);
        }
    }

    /// Every running backend's counters ([`Backend::stats`]), grouped as in the stats report.
    pub fn stats(&self) -> Vec<StatGroup> {
        crate::stats::collect(self.backends, self.started, |id| {
            self.instance_name(id).unwrap_or("?").to_string()
        })
    }

    /// Routing totals.
    pub fn counters(&self) -> Counters {
        self.router.counters()
    }

    /// Number of channels; ids are `0..channel_count()`.
    pub fn channel_count(&self) -> usize {
        self.registry.len()
    }

    /// The instance a channel belongs to.
    pub fn channel_instance(&self, channel: ChannelId) -> Option<InstanceId> {
        self.registry.instance_of(channel)
    }

    /// The channel's byte in its instance's frame, if it is a lane (see [`MonitorSink::frame`]).
    pub fn channel_lane(&self, channel: ChannelId) -> Option<u16> {
        self.registry.lane_of(channel)
    }

    /// Writes the channel's name as the configuration wrote it, `instance.channel` (or `#id`).
    pub fn write_channel_label(&self, channel: ChannelId, out: &mut dyn fmt::Write) -> fmt::Result {
        let instance = self
            .registry
            .instance_of(channel)
            .and_then(|i| self.instance_name(i));
        match (instance, self.registry.has_label(channel)) {
            (Some(instance), true) => {
                write!(out, "{instance}.")?;
                self.registry.write_label(channel, out)
            }
            _ => self.registry.write_label(channel, out),
        }
    }

    /// The last value routed on `channel` (reported as an event, or delivered to it), if any
    /// since start. Lanes copied as frames are not seen here: their values are in their
    /// instance's frame ([`CoreView::monitor`]).
    pub fn value(&self, channel: ChannelId) -> Option<Value> {
        self.router.last_value(channel)
    }

    /// Every mapping edge (source, target) in creation order: the routing graph of `--dump`.
    pub fn edges(&self) -> &[(ChannelId, ChannelId)] {
        self.edges
    }
}
