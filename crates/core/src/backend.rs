//! The contract between the core and a protocol backend: the [`Backend`] trait (its docs give
//! the lifecycle and a whole example backend) and the types its calls take and return. Steps
//! before `start` must not have external effects, so `--check` can run them. The guide for
//! backend authors is `doc/backends.md`.

use std::any::Any;
use std::path::Path;
use std::time::Instant;

use crate::frames::{FrameCopies, FrameRoutes};
use crate::reactor::{Io, Ready};
use crate::routing::RoutingTable;
use crate::sink::Sink;
use crate::stats::Stat;
use crate::value::Value;

/// Dense index of an instance, across all backends, in order of definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub u32);

/// Dense index of a channel, across all instances, in order of first lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u32);

/// How a mapping uses a channel: as a source (the backend must report events for it), as a
/// target (the backend will be asked to set it), or both (once per lookup, flags are per use).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// A mapping source: the backend reports events on it.
    Input,
    /// A mapping target: the core delivers values to it.
    Output,
}

/// Which token of an option line an error or warning points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The option name.
    Key,
    /// The option value.
    Value,
}

/// A problem with one option line. The core attaches the file position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionError {
    /// The backend has no option of that name.
    #[error("unknown option '{key}' (known options: {})", known.join(", "))]
    Unknown {
        /// The name as written.
        key: String,
        /// Every option the backend (or instance) takes, in the order the message lists them.
        known: &'static [&'static str],
    },
    /// The value is not one the option accepts.
    #[error("invalid value '{value}' for option '{key}': expected {expected}")]
    Invalid {
        /// The option.
        key: String,
        /// The value as written.
        value: String,
        /// What would be accepted ("a number in 1..63999").
        expected: String,
    },
    /// Anything else.
    #[error("{message}")]
    Other {
        /// Which token is at fault.
        at: Part,
        /// What is wrong, and what is allowed.
        message: String,
    },
}

impl OptionError {
    /// Which token the error points at.
    pub fn part(&self) -> Part {
        match self {
            OptionError::Unknown { .. } => Part::Key,
            OptionError::Invalid { .. } => Part::Value,
            OptionError::Other { at, .. } => *at,
        }
    }
}

/// A channel name a backend cannot accept; points at the channel text of the mapping side.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ChannelError {
    /// What is wrong with the name, and what is allowed.
    pub message: String,
}

/// A failure while starting (bind, join, open) or a problem found once the whole configuration
/// is known ([`Backend::validate`]). The daemon points the message at the line it names: the
/// `option` (the n-th occurrence of a global option, e.g. the second `bind`), else where the
/// `instance` was defined, else nowhere in particular (the backend as a whole).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StartError {
    /// The instance at fault, if one is.
    pub instance: Option<InstanceId>,
    /// The global option line at fault, if one is (it wins over `instance`).
    pub option: Option<GlobalOption>,
    /// The option (of the instance, or a global one) whose absence or value the problem is
    /// about. When that option's line already had an error, the problem only repeats it
    /// (`universe = 0` need not also say "no universe"), and the daemon leaves it out.
    pub about: Option<&'static str>,
    /// What went wrong, and what would fix it.
    pub message: String,
}

/// The `index`-th (0-based) occurrence of global option `key` of a backend, in file order with
/// `-b` overrides where they apply; the same order `configure` saw them in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalOption {
    /// The option name (`bind`).
    pub key: &'static str,
    /// Which occurrence, from 0.
    pub index: usize,
}

impl StartError {
    /// A problem of one instance.
    pub fn instance(instance: InstanceId, message: impl Into<String>) -> Self {
        StartError {
            instance: Some(instance),
            option: None,
            about: None,
            message: message.into(),
        }
    }

    /// A problem of the backend as a whole.
    pub fn backend(message: impl Into<String>) -> Self {
        StartError {
            instance: None,
            option: None,
            about: None,
            message: message.into(),
        }
    }

    /// A problem of the `index`-th `key` line of the backend's global options.
    pub fn option(key: &'static str, index: usize, message: impl Into<String>) -> Self {
        StartError {
            instance: None,
            option: Some(GlobalOption { key, index }),
            about: None,
            message: message.into(),
        }
    }

    /// Marks the problem as one about option `key` ([`StartError::about`]).
    pub fn about(mut self, key: &'static str) -> Self {
        self.about = Some(key);
        self
    }
}

/// A condition that makes a backend unusable at run time (never a remote peer's packet).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct FatalError {
    /// What failed; the daemon logs it and shuts down.
    pub message: String,
}

/// What a configuration reload does to one instance of a backend ([`Backend::take_over`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstanceChange {
    /// In both configurations, with the same option lines: it goes on without a break.
    Kept,
    /// In both (same id), with other option lines: the old one ends, the new one starts.
    Replaced,
    /// Only in the running configuration: it ends as at shutdown.
    Removed,
    /// Only in the new configuration: it starts.
    Added,
}

/// The running side of a reload, handed to the new object's [`Backend::take_over`].
pub struct Handover<'a> {
    /// This backend's object running the old configuration.
    pub running: &'a mut dyn Backend,
    /// What happens to each instance of this backend.
    pub changes: Changes<'a>,
    /// Whether the backend's own `[backend NAME]` option lines differ.
    pub options_changed: bool,
}

/// Every instance of one backend in either configuration of a reload and what happens to it,
/// by ascending id.
#[derive(Clone, Copy, Debug)]
pub struct Changes<'a>(pub &'a [(InstanceId, InstanceChange)]);

impl Changes<'_> {
    /// What happens to instance `id` (`None`: not an instance of this backend).
    pub fn of(&self, id: InstanceId) -> Option<InstanceChange> {
        self.0
            .binary_search_by_key(&id, |&(i, _)| i)
            .ok()
            .map(|p| self.0[p].1)
    }

    /// Each instance with its change.
    pub fn iter(&self) -> impl Iterator<Item = (InstanceId, InstanceChange)> + '_ {
        self.0.iter().copied()
    }
}

/// Context for configuration callbacks: where relative paths are resolved and where
/// warnings go. No effects allowed while configuring.
pub struct ConfigCtx<'a> {
    /// Directory of the file the line came from (relative path options resolve against it).
    pub base_dir: &'a Path,
    /// The top-level configuration file (absolute when it could be resolved). Backends derive
    /// identities that must survive restarts from it (the default sACN CID).
    pub config_path: &'a Path,
    /// Warnings for this line, each pointing at a token; the core renders them with the position.
    pub warnings: &'a mut Vec<(Part, String)>,
}

impl ConfigCtx<'_> {
    /// Adds a warning about this line, pointing at its key or value.
    pub fn warn(&mut self, at: Part, message: impl Into<String>) {
        self.warnings.push((at, message.into()));
    }

    /// Takes a value read leniently (as MIDIMonster reads it, e.g. `detect = yes`) and puts the
    /// warning that came with it, if any, on the line's value. Lenient parsers return
    /// `(value, warning)` so they stay pure and testable; this is the one place the pair is
    /// unpacked.
    pub fn accept<T>(&mut self, (value, warning): (T, Option<String>)) -> T {
        if let Some(w) = warning {
            self.warn(Part::Value, w);
        }
        value
    }
}

/// The channel-id allocator handed to [`Backend::channel`]: the same (instance, key) always
/// yields the same [`ChannelId`]. Implemented by the core's channel registry.
pub trait ChannelIds {
    /// The id of the backend's channel `key` of `instance`; the key is the backend's own
    /// (e.g. a slot number) and comes back with every [`Delivery`].
    fn resolve(&mut self, instance: InstanceId, key: u64) -> ChannelId;

    /// Declares `channel` an 8-bit *lane*: byte `offset` of its instance's frame (a DMX
    /// universe), so that slot-for-slot mappings between lanes become frame routes (see
    /// [`FrameCopies`]). A backend that declares lanes must implement [`Backend::plan`],
    /// report its frames with [`Sink::push_frame`] and apply [`Backend::handle_frames`].
    fn set_lane(&mut self, _channel: ChannelId, _offset: u16) {}
}

/// Context for channel lookups: the id allocator plus a place for warnings that point at the
/// channel text (e.g. "output on an instance without priority").
pub struct ChannelCtx<'a> {
    /// Hands out channel ids (and takes lane declarations).
    pub ids: &'a mut dyn ChannelIds,
    /// Warnings about this channel; the daemon shows them at the mapping.
    pub warnings: &'a mut Vec<String>,
}

/// One value delivered to a backend's channel in a routing round.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Delivery {
    /// The target channel.
    pub channel: ChannelId,
    /// The backend's own key for the channel, as it passed to [`ChannelIds::resolve`].
    pub key: u64,
    /// The value to set it to.
    pub value: Value,
}

/// The frozen routing as a backend sees it in [`Backend::plan`].
#[derive(Clone, Copy)]
pub struct RoutePlan<'a> {
    pub(crate) table: &'a RoutingTable,
    pub(crate) frames: &'a FrameRoutes,
}

impl<'a> RoutePlan<'a> {
    /// A plan over a table and frame routes.
    pub(crate) fn new(table: &'a RoutingTable, frames: &'a FrameRoutes) -> Self {
        RoutePlan { table, frames }
    }

    /// Whether an event on `channel` reaches any target. False for a lane whose every target
    /// is served by a frame route, so the backend can skip reporting it.
    pub fn routes_events(&self, channel: ChannelId) -> bool {
        !self.table.targets(channel).is_empty()
    }

    /// Whether `instance`'s frame is copied anywhere: then the backend reports it with
    /// [`Sink::push_frame`] whenever a lane of it changes.
    pub fn routes_frame(&self, instance: InstanceId) -> bool {
        self.frames.has_source(instance)
    }
}

/// A protocol backend. One value of this type serves all instances of the backend.
///
/// # Lifecycle
/// Configuration, in file order and without effects (`--check` runs it): [`configure`] per
/// `[backend NAME]` option line, [`create_instance`] per `[NAME instance]` section,
/// [`configure_instance`] per option line of it, [`channel`] per mapping endpoint; then
/// [`validate`] and [`plan`]. Then [`start`] (open and register sockets) and the loop, one turn
/// at a time: wait → [`process`] (every started backend, with what became ready) → routing
/// rounds, each calling [`handle`] / [`handle_frames`] per instance → [`flush`] (send what the
/// turn changed) → repeat. [`shutdown`] once, then turns until [`shutdown_complete`].
///
/// # Identities
/// The core gives every instance a dense [`InstanceId`] and every channel a dense
/// [`ChannelId`]. A backend resolves a channel name to its own 64-bit key and asks
/// [`ChannelIds::resolve`] for the id, which it stores (e.g. per slot) so that reporting an
/// event is `sink.push(id, value)` and routing is an array lookup. Deliveries come back with
/// both the id and the key, so a backend needs no map at run time.
///
/// # Sockets and timers
/// Register sources in `start` with [`Io::register`]; in `process`, read every source whose
/// [`Ready::should_read`] until it would block (mio is edge-triggered), within a budget per
/// turn. Write in `flush`; when a write would block, keep what is left, switch the socket to
/// [`Interest::WRITABLE`](crate::Interest) with [`Io::reregister`] (a socket input reads too:
/// [`Io::watch_for_room`]) and write it in the `flush` of the turn its [`Ready::writable`]
/// arrives, then switch back. Timers are a deadline from [`poll_timeout`]; side threads wake
/// the loop through [`Io::waker`].
///
/// # Example
/// A whole backend, `ticker`: each instance counts up every `period` milliseconds and reports
/// the count on its channel `count`; a value sent to its channel `reset` sets the count. It is
/// then run in the real loop by the test rig (`patchbay_core::testing`, feature `testing`).
/// ```
/// use std::time::{Duration, Instant};
///
/// use patchbay_core::{
///     Backend, ChannelCtx, ChannelError, ChannelId, ConfigCtx, Delivery, Direction, FatalError,
///     InstanceId, Io, OptionError, Ready, Sink, StartError, Stat, Value,
/// };
///
/// const COUNT: u64 = 0;
/// const RESET: u64 = 1;
///
/// struct Counter {
///     id: InstanceId,
///     period: Duration,
///     /// Where events go; `None` while no mapping reads `count`.
///     count_channel: Option<ChannelId>,
///     count: u64,
///     next: Option<Instant>,
/// }
///
/// #[derive(Default)]
/// struct Ticker {
///     counters: Vec<Counter>,
/// }
///
/// impl Ticker {
///     fn counter(&mut self, id: InstanceId) -> Option<&mut Counter> {
///         self.counters.iter_mut().find(|c| c.id == id)
///     }
/// }
///
/// impl Backend for Ticker {
///     fn name(&self) -> &'static str {
///         "ticker"
///     }
///
///     fn configure(
///         &mut self,
///         key: &str,
///         _: &str,
///         _: &mut ConfigCtx<'_>,
///     ) -> Result<(), OptionError> {
///         Err(OptionError::Unknown { key: key.into(), known: &[] })
///     }
///
///     fn create_instance(&mut self, id: InstanceId, _name: &str) -> Result<(), OptionError> {
///         let period = Duration::from_secs(1);
///         self.counters.push(Counter { id, period, count_channel: None, count: 0, next: None });
///         Ok(())
///     }
///
///     fn configure_instance(
///         &mut self,
///         id: InstanceId,
///         key: &str,
///         value: &str,
///         _: &mut ConfigCtx<'_>,
///     ) -> Result<(), OptionError> {
///         let Some(c) = self.counter(id) else {
///             return Err(OptionError::Unknown { key: key.into(), known: &["period"] });
///         };
///         match (key, value.parse::<u64>()) {
///             ("period", Ok(ms @ 1..=60_000)) => c.period = Duration::from_millis(ms),
///             ("period", _) => {
///                 return Err(OptionError::Invalid {
///                     key: key.into(),
///                     value: value.into(),
///                     expected: "milliseconds in 1..60000".into(),
///                 });
///             }
///             _ => return Err(OptionError::Unknown { key: key.into(), known: &["period"] }),
///         }
///         Ok(())
///     }
///
///     fn channel(
///         &mut self,
///         id: InstanceId,
///         name: &str,
///         direction: Direction,
///         ctx: &mut ChannelCtx<'_>,
///     ) -> Result<ChannelId, ChannelError> {
///         let key = match (name, direction) {
///             ("count", Direction::Input) => COUNT,
///             ("reset", Direction::Output) => RESET,
///             _ => {
///                 let message = format!(
///                     "no {direction:?} channel '{name}' (count is an input, reset an output)"
///                 );
///                 return Err(ChannelError { message });
///             }
///         };
///         let channel = ctx.ids.resolve(id, key);
///         if let (COUNT, Some(c)) = (key, self.counter(id)) {
///             c.count_channel = Some(channel);
///         }
///         Ok(channel)
///     }
///
///     fn start(&mut self, now: Instant, _io: &mut Io<'_>) -> Result<(), StartError> {
///         for c in &mut self.counters {
///             c.next = c.count_channel.map(|_| now + c.period);
///         }
///         Ok(())
///     }
///
///     fn poll_timeout(&self) -> Option<Instant> {
///         self.counters.iter().filter_map(|c| c.next).min()
///     }
///
///     fn process(
///         &mut self,
///         now: Instant,
///         _ready: &[Ready],
///         _io: &mut Io<'_>,
///         sink: &mut Sink<'_>,
///     ) -> Result<(), FatalError> {
///         for c in &mut self.counters {
///             if let (Some(next), Some(channel)) = (c.next, c.count_channel)
///                 && now >= next
///             {
///                 c.count = (c.count + 1) % 256;
///                 sink.push(channel, Value::from_raw(c.count, 8));
///                 c.next = Some(next + c.period);
///             }
///         }
///         Ok(())
///     }
///
///     fn handle(&mut self, _: Instant, id: InstanceId, ds: &[Delivery], _: &mut Sink<'_>) {
///         if let Some(c) = self.counter(id) {
///             for d in ds.iter().filter(|d| d.key == RESET) {
///                 c.count = d.value.to_raw(8);
///             }
///         }
///     }
///
///     fn shutdown(&mut self, _: Instant, _: &mut Io<'_>) {}
///
///     fn stats(&self, out: &mut Vec<Stat>) {
///         for c in &self.counters {
///             out.push(Stat::instance(c.id, "count", c.count));
///         }
///     }
/// }
///
/// // Run it: the rig's manual clock decides when the ticker ticks.
/// use patchbay_core::testing::Rig;
///
/// let mut rig = Rig::new(Ticker::default());
/// let t = rig.add_instance("t").unwrap();
/// assert!(rig.configure_instance(t, "period", "0").is_err());
/// rig.configure_instance(t, "period", "100").unwrap();
/// let count = rig.input(t, "count").unwrap();
/// let reset = rig.output(t, "reset").unwrap();
/// assert!(rig.input(t, "reset").is_err());
/// rig.start().unwrap();
/// rig.advance(Duration::from_millis(100));
/// rig.turn(Duration::ZERO).unwrap();
/// rig.set(reset, Value::from_raw(41, 8));
/// rig.turn(Duration::ZERO).unwrap(); // delivered, no tick yet
/// rig.advance(Duration::from_millis(100));
/// rig.turn(Duration::ZERO).unwrap();
/// let events = rig.take_events();
/// let counts: Vec<_> = events.iter().map(|e| (e.channel, e.value.raw())).collect();
/// assert_eq!(counts, [(count, Some((1, 8))), (count, Some((42, 8)))]);
/// assert_eq!(rig.stat("t", "count"), Some(42));
/// ```
///
/// [`configure`]: Backend::configure
/// [`create_instance`]: Backend::create_instance
/// [`configure_instance`]: Backend::configure_instance
/// [`channel`]: Backend::channel
/// [`validate`]: Backend::validate
/// [`plan`]: Backend::plan
/// [`start`]: Backend::start
/// [`process`]: Backend::process
/// [`handle`]: Backend::handle
/// [`handle_frames`]: Backend::handle_frames
/// [`flush`]: Backend::flush
/// [`shutdown`]: Backend::shutdown
/// [`shutdown_complete`]: Backend::shutdown_complete
/// [`poll_timeout`]: Backend::poll_timeout
pub trait Backend: Any {
    /// The name used in `[backend NAME]` and `[NAME instance]`.
    fn name(&self) -> &'static str;

    /// Whether values delivered to this backend can come straight back as events in the same
    /// iteration (loopback, scripts); used to warn about mapping cycles at config time.
    fn reemits(&self) -> bool {
        false
    }

    /// One `[backend NAME]` option line or `-b` override.
    fn configure(
        &mut self,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError>;

    /// An instance section was opened; allocate defaults.
    fn create_instance(&mut self, instance: InstanceId, name: &str) -> Result<(), OptionError>;

    /// One option line of an instance section or `-i` override.
    fn configure_instance(
        &mut self,
        instance: InstanceId,
        key: &str,
        value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError>;

    /// Resolves a (glob-expanded) channel name for one use as `direction`.
    fn channel(
        &mut self,
        instance: InstanceId,
        name: &str,
        direction: Direction,
        ctx: &mut ChannelCtx<'_>,
    ) -> Result<ChannelId, ChannelError>;

    /// Checks that need the whole configuration (required options, collisions between
    /// instances, option combinations), after every option line and mapping was read and
    /// before anything is opened. `--check` runs it too. Every problem is returned.
    fn validate(&self) -> Vec<StartError> {
        Vec::new()
    }

    /// The frozen routing, given once before [`Backend::start`] (and only then): which of the
    /// backend's source channels still need events and which instances' frames are routed.
    /// Only backends that declare lanes ([`ChannelIds::set_lane`]) need it.
    fn plan(&mut self, _plan: &RoutePlan<'_>) {}

    /// Called once after the whole configuration was read, if the backend has instances.
    /// Opens sockets and registers them with `io`.
    fn start(&mut self, now: Instant, io: &mut Io<'_>) -> Result<(), StartError>;

    /// The next moment the backend wants `process` to be called even without readiness.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Called every iteration with what became ready among the backend's sources (possibly
    /// nothing; one [`Ready`] per source, with its tag): drain input, push events, do timer
    /// work. Writing what waited for a writable socket is best left to [`Backend::flush`],
    /// which follows in the same iteration.
    fn process(
        &mut self,
        now: Instant,
        ready: &[Ready],
        io: &mut Io<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), FatalError>;

    /// Values routed to one instance in one round, in the order they were produced.
    /// Backends that re-emit push events to `sink` (routed in the next round).
    fn handle(
        &mut self,
        now: Instant,
        instance: InstanceId,
        deliveries: &[Delivery],
        sink: &mut Sink<'_>,
    );

    /// Frame copies routed to one instance in one round, in the order the frames were
    /// reported (see [`FrameCopies`]). Only instances with lanes get them; the default
    /// ignores them because a backend without lanes never does.
    fn handle_frames(
        &mut self,
        _now: Instant,
        _instance: InstanceId,
        _copies: FrameCopies<'_>,
        _sink: &mut Sink<'_>,
    ) {
    }

    /// End of the loop turn: send what `handle` changed (one packet per universe per turn).
    fn flush(&mut self, _now: Instant, _io: &mut Io<'_>) {}

    /// Orderly goodbye (e.g. sACN stream termination). Called once for every backend, started
    /// or not. The loop keeps calling `process` until [`Backend::shutdown_complete`] or the
    /// shutdown deadline.
    fn shutdown(&mut self, now: Instant, io: &mut Io<'_>);

    /// Whether the goodbye started by [`Backend::shutdown`] is done (e.g. every termination
    /// packet sent); the default has nothing to finish.
    fn shutdown_complete(&self) -> bool {
        true
    }

    /// Configuration reload ([`Core::reload`](crate::Core::reload)): `self` was configured
    /// from the new configuration (validated and planned, not started) and takes over from
    /// `handover.running`, this backend's object running the old one (the same type: downcast
    /// it with `(handover.running as &mut dyn Any).downcast_mut::<Self>()`, after copying
    /// `handover.changes` out). Instances and
    /// channels both configurations have carry the same ids in both objects, so the running
    /// state (sockets, which stay registered under the same tags; sequence numbers; output
    /// buffers) moves over as it is. Per [`InstanceChange`]: a `Kept` instance goes on without
    /// a break, a `Replaced` or `Removed` one ends as at shutdown (sACN stream termination), an
    /// `Added` or `Replaced` one starts. Sockets of the running object that are not taken
    /// close when it is dropped, right after this call.
    ///
    /// `Ok(false)` (the default) declines and leaves `running` untouched: the core then keeps
    /// the running object if nothing of this backend changed (same options, instances and
    /// channels; only [`Backend::plan`] is given again), else restarts the backend (`shutdown`
    /// and one `flush` of the old object, `start` of the new). An `Err` stops the backend.
    fn take_over(
        &mut self,
        _now: Instant,
        _handover: Handover<'_>,
        _io: &mut Io<'_>,
    ) -> Result<bool, StartError> {
        Ok(false)
    }

    /// Appends the backend's counters (totals since start, per instance or per shared scope).
    /// Called every `--stats` interval and on SIGUSR1, never per packet; the default has none.
    fn stats(&self, _out: &mut Vec<Stat>) {}

    /// Describes one running instance for a live monitor: its state and settings as
    /// properties, its frames (what it receives and sends, when the sink wants them) and the
    /// sources feeding it. Called by an observer a few times a second, never per packet, and
    /// only after `start`; must not allocate per call. The default shows nothing.
    fn monitor(&self, _instance: InstanceId, _out: &mut dyn crate::monitor::MonitorSink) {}
}
