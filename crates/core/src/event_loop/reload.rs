//! Configuration reload: the successor core, the difference between two configurations, and
//! applying it to a running core between two turns.
//!
//! Why a successor core: the new configuration is read and checked completely (every option,
//! channel lookup and [`Backend::validate`]) by fresh backend objects in a core that never
//! starts, so an error leaves the running configuration untouched. The successor starts from a
//! copy of the running channel registry and gets back the id of every instance it has again
//! (same name, same backend), so instances and channels both configurations have carry the same
//! ids in both: the routing table is rebuilt from the successor's edges without touching
//! anything a backend indexes by id, and the difference is a comparison of ids. Ids of removed
//! instances and channels are never handed out again (a backend may still hold them).
//!
//! Configuring the successor may take longer than a turn should stand still (a 1,000-universe
//! file takes tens of milliseconds), so the daemon's hook returns a [`ReloadTask`] that the loop
//! runs a slice of [`RELOAD_SLICE`] per turn, routing as usual in between; what follows, each
//! O(mappings), takes a turn each as well ([`Stage`]): comparing, freezing the new table,
//! switching over, dropping the old objects. Why: a frame of a 44 fps input read late by the
//! sum of them is sent late, and with a strict 44/s output every later frame too, until the
//! pacer gives one up (issue 19's measurements in BENCHMARKS.md).
//!
//! Applying ([`Core::reload`]), per backend: the successor's object is planned and asked to take
//! over from the running one ([`Backend::take_over`]: kept instances go on, removed ones end as
//! at shutdown, new ones start); a backend that declines keeps its running object when nothing
//! of it changed, else it is restarted. Then instances, registry and edges are swapped and the
//! table frozen anew. It all happens after a turn's flush and before the next wait, so every
//! event is routed wholly by the old or wholly by the new mappings.

use std::fmt::Write as _;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mio::Waker;
use tracing::{error, info, warn};

use super::{Core, CoreError, Phase};
use crate::backend::{
    Backend, Changes, ChannelId, Direction, Handover, InstanceChange, InstanceId, RoutePlan,
    StartError,
};
use crate::frames::FrameRoutes;
use crate::monitor::InstanceInfo;
use crate::routing::RoutingTable;

/// What the configuration said, as far as a reload compares it: option lines per backend and
/// per instance (text as written, in order) and how each channel is used.
#[derive(Debug, Default, Clone)]
pub(crate) struct Records {
    backend_options: Vec<Vec<(String, String)>>,
    instance_options: Vec<Vec<(String, String)>>,
    /// Per channel: bit 0 used as an input, bit 1 as an output, bit 2 renamed (see
    /// [`Core::channel`]).
    channel_uses: Vec<u8>,
    /// Channels `0..inherited` come from the predecessor's registry (a successor's).
    inherited: usize,
}

impl Records {
    pub(crate) fn backend_option(&mut self, backend: usize, key: &str, value: &str) {
        if self.backend_options.len() <= backend {
            self.backend_options.resize_with(backend + 1, Vec::new);
        }
        self.backend_options[backend].push((key.to_string(), value.to_string()));
    }

    pub(crate) fn instance_option(&mut self, id: InstanceId, key: &str, value: &str) {
        let i = id.0 as usize;
        if self.instance_options.len() <= i {
            self.instance_options.resize_with(i + 1, Vec::new);
        }
        self.instance_options[i].push((key.to_string(), value.to_string()));
    }

    pub(crate) fn channel_use(&mut self, channel: ChannelId, direction: Direction) {
        let c = channel.0 as usize;
        if self.channel_uses.len() <= c {
            self.channel_uses.resize(c + 1, 0);
        }
        self.channel_uses[c] |= match direction {
            Direction::Input => 1,
            Direction::Output => 2,
        };
    }

    fn backend_options(&self, b: usize) -> &[(String, String)] {
        self.backend_options.get(b).map_or(&[], Vec::as_slice)
    }

    fn instance_options(&self, id: InstanceId) -> &[(String, String)] {
        self.instance_options
            .get(id.0 as usize)
            .map_or(&[], Vec::as_slice)
    }

    pub(crate) fn is_inherited(&self, channel: ChannelId) -> bool {
        (channel.0 as usize) < self.inherited
    }

    /// The configuration runs now: what it inherited and renamed is its own.
    fn settle(&mut self) {
        self.inherited = 0;
        for u in &mut self.channel_uses {
            *u &= !4;
        }
    }

    pub(crate) fn renamed(&mut self, channel: ChannelId) {
        let c = channel.0 as usize;
        if self.channel_uses.len() <= c {
            self.channel_uses.resize(c + 1, 0);
        }
        self.channel_uses[c] |= 4;
    }

    pub(crate) fn uses(&self, c: usize) -> u8 {
        self.channel_uses.get(c).copied().unwrap_or(0)
    }
}

/// Starts the next configuration when a reload is asked for: reads the file again and
/// returns the task that configures a [`Core::successor`] of the running core from it. `Err`
/// holds why it cannot be used (every error, with its position); the running configuration
/// then stays.
pub type ReloadHook = Box<dyn FnMut(&Core) -> Result<Box<dyn ReloadTask>, String>>;

/// A successor core being configured a slice at a time, one slice per loop turn, so the loop
/// goes on routing while a large file is read (a slice is [`RELOAD_SLICE`]; the loop does not
/// wait between slices). The running core does not change meanwhile: a reload asked for during
/// one starts after it.
pub trait ReloadTask {
    /// Configures on for about `budget`; `Some` once done: the successor (of `running`, the
    /// core that runs: [`Core::successor`]), or why it cannot be used.
    fn step(&mut self, running: &Core, budget: Duration) -> Option<Result<Core, String>>;

    /// Whether the task waits for work done on another thread (reading the file): the loop
    /// then waits as usual instead of turning at once, and the thread wakes it
    /// ([`Core::reload_waker`]). `step` is still called every turn.
    fn waiting(&self) -> bool {
        false
    }
}

/// Wakes the loop from the thread a [`ReloadTask`] waits for.
#[derive(Clone, Debug)]
pub struct ReloadWaker(Arc<Waker>);

impl ReloadWaker {
    /// Wakes the loop (a turn follows, which steps the task).
    pub fn wake(&self) {
        if let Err(e) = self.0.wake() {
            warn!(target: "core", "cannot wake the event loop: {e}");
        }
    }
}

/// How long one turn's slice of configuring a successor may take. Why 1 ms: a frame read late
/// by a slice is sent late, and a strict 44/s output whose input comes at that rate sends every
/// later frame as late until it gives one up to catch up, once every frame for a second has
/// waited 2 ms (`patchbay_sacn::SourceConfig::catch_up`); a slice, an item's overshoot and the
/// turn's own work stay under that in a release build.
pub const RELOAD_SLICE: Duration = Duration::from_millis(1);

/// A successor built in one go.
struct Built(Option<Result<Core, String>>);

impl ReloadTask for Built {
    fn step(&mut self, _: &Core, _: Duration) -> Option<Result<Core, String>> {
        self.0.take()
    }
}

/// What [`Core::on_reloaded`] runs.
pub(super) type ReloadedHook = Box<dyn FnMut(&ReloadOutcome)>;

/// The reload in progress: a stage per turn, so that no turn stands still for more than one
/// of them (with 100 universes and 51,200 mappings, configuring the successor, comparing and
/// freezing its table, switching over and dropping the old objects each take milliseconds,
/// tens in a debug build; a frame of a 44 fps input that waits out all of them in one turn
/// is late by their sum, and every later frame with it: see `patchbay_dmx::Pacer`'s
/// catch-up).
pub(super) struct Pending {
    stage: Option<Stage>,
    seq: u64,
    /// Wall clock (how long the loop stood still; the core's clock may be a manual one).
    began: Instant,
    turns: u32,
    /// The longest turn of each stage: reading the file (the hook), configuring, comparing,
    /// freezing, switching, retiring.
    longest: [Duration; 6],
}

/// What the next turn of a [`Pending`] reload does.
enum Stage {
    /// Configure a slice of the successor.
    Configuring(Box<dyn ReloadTask>),
    /// Compare its instances with the running core's ([`Core::compare`]).
    Configured(Box<Core>),
    /// The next part of comparing its mappings and freezing its routing table
    /// ([`Prepared::step`]).
    Preparing(Box<Prepared>),
    /// Drop what the running configuration left (its registry, routes, table and the backend
    /// objects that were handed over from), then report.
    Retiring(Box<Core>, Reloaded),
}

/// A configured successor with everything applying it needs that does not change the running
/// core: the difference and (once frozen) the routing table.
pub(super) struct Prepared {
    next: Core,
    diff: ReloadDiff,
    lines: String,
    table: RoutingTable,
    frame_routes: FrameRoutes,
    /// Per edge of `next`, whether it is a frame route (the first half of freezing).
    copied: Vec<bool>,
    /// Parts done of [`Prepared::step`].
    parts: u8,
}

/// How a reload went ([`CoreView::last_reload`](crate::monitor::CoreView::last_reload)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReloadOutcome {
    /// Counts reloads from 1.
    pub seq: u64,
    /// Whether the new configuration runs whole (false: refused, or a backend failed to start).
    pub ok: bool,
    /// What changed, or why nothing did (lines).
    pub message: String,
}

/// Asks a running loop to reload its configuration, from any thread (the web monitor). Requests
/// arriving before the loop gets to them make one reload.
#[derive(Clone, Debug)]
pub struct ReloadHandle {
    requests: Arc<AtomicUsize>,
    waker: Arc<Waker>,
}

impl ReloadHandle {
    /// Requests the reload and wakes the loop.
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = self.waker.wake() {
            warn!(target: "core", "cannot wake the event loop: {e}");
        }
    }
}

/// The difference between a running configuration and its successor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadDiff {
    /// Instances that are not kept, by id: (id, backend index, what happens to it).
    pub instances: Vec<(InstanceId, usize, InstanceChange)>,
    /// Backends whose `[backend NAME]` option lines differ.
    pub backends: Vec<usize>,
    /// Mappings only the successor has (an edge whose transform chain changed is removed and
    /// added).
    pub added: Vec<(ChannelId, ChannelId)>,
    /// Mappings only the running configuration has.
    pub removed: Vec<(ChannelId, ChannelId)>,
    /// Per backend: every instance of either configuration with its change, by id.
    changes: Vec<Vec<(InstanceId, InstanceChange)>>,
    /// Per backend: a channel of its instances is looked up anew or used in another direction.
    channels_changed: Vec<bool>,
}

impl ReloadDiff {
    /// What changes from `running` to `next` (a [`Core::successor`] of it, configured).
    pub fn between(running: &Core, next: &Core) -> ReloadDiff {
        let mut d = ReloadDiff::between_instances(running, next);
        d.add_edges(running, next);
        d.remove_edges(running, next);
        d
    }

    /// What changes from `running` to `next` but the mappings (the first part of
    /// [`ReloadDiff::between`]).
    fn between_instances(running: &Core, next: &Core) -> ReloadDiff {
        let n = running.backends.len().max(next.backends.len());
        let mut d = ReloadDiff {
            changes: vec![Vec::new(); n],
            channels_changed: vec![false; n],
            ..ReloadDiff::default()
        };
        d.backends = (0..n)
            .filter(|&b| running.records.backend_options(b) != next.records.backend_options(b))
            .collect();
        let live = |core: &Core, i: usize| {
            core.instances
                .get(i)
                .filter(|x| !x.retired)
                .map(|x| x.backend)
        };
        for i in 0..running.instances.len().max(next.instances.len()) {
            let id = InstanceId(u32::try_from(i).unwrap_or(u32::MAX));
            let (backend, change) = match (live(running, i), live(next, i)) {
                (Some(old), Some(_)) => {
                    let same =
                        running.records.instance_options(id) == next.records.instance_options(id);
                    let change = if same {
                        InstanceChange::Kept
                    } else {
                        InstanceChange::Replaced
                    };
                    (old, change)
                }
                (Some(old), None) => (old, InstanceChange::Removed),
                (None, Some(new)) => (new, InstanceChange::Added),
                (None, None) => continue,
            };
            if let Some(list) = d.changes.get_mut(backend) {
                list.push((id, change));
            }
            if change != InstanceChange::Kept {
                d.instances.push((id, backend, change));
            }
        }
        for c in 0..running.registry.len().max(next.registry.len()) {
            if running.records.uses(c) == next.records.uses(c) {
                continue;
            }
            // The successor's registry holds every channel the running one does.
            let backend = next
                .registry
                .instance_of(ChannelId(c as u32))
                .and_then(|i| next.instance_backend.get(i.0 as usize));
            if let Some(flag) = backend.and_then(|&b| d.channels_changed.get_mut(b)) {
                *flag = true;
            }
        }
        d
    }

    /// Mappings only `next` has (or with another transform chain).
    fn add_edges(&mut self, running: &Core, next: &Core) {
        let (old, new) = (&running.routes, &next.routes);
        for (e, &(s, t)) in new.edges().iter().enumerate() {
            let same = old
                .edge_index(s, t)
                .is_some_and(|o| old.chain_of(o) == new.chain_of(e));
            if !same {
                self.added.push((s, t));
            }
        }
    }

    /// Mappings only `running` has (or with another transform chain).
    fn remove_edges(&mut self, running: &Core, next: &Core) {
        let (old, new) = (&running.routes, &next.routes);
        for (e, &(s, t)) in old.edges().iter().enumerate() {
            let same = new
                .edge_index(s, t)
                .is_some_and(|o| new.chain_of(o) == old.chain_of(e));
            if !same {
                self.removed.push((s, t));
            }
        }
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty()
            && self.backends.is_empty()
            && self.added.is_empty()
            && self.removed.is_empty()
    }

    /// Every instance of backend `b` in either configuration with its change, by id.
    pub fn changes_of(&self, b: usize) -> &[(InstanceId, InstanceChange)] {
        self.changes.get(b).map_or(&[], Vec::as_slice)
    }

    /// Whether nothing of backend `b` changes: its options, its instances and how their
    /// channels are used are the same (its mappings may differ).
    pub fn untouched(&self, b: usize) -> bool {
        !self.backends.contains(&b)
            && !self.channels_changed.get(b).copied().unwrap_or(false)
            && self
                .changes_of(b)
                .iter()
                .all(|&(_, c)| c == InstanceChange::Kept)
    }

    /// Counts of what changes, one line: `instances: 1 added, 1 removed, 0 replaced, 99 kept;
    /// mappings: 2 added, 0 removed`.
    pub fn summary(&self) -> String {
        let count = |c| self.instances.iter().filter(|x| x.2 == c).count();
        let kept: usize = self
            .changes
            .iter()
            .map(|l| l.iter().filter(|x| x.1 == InstanceChange::Kept).count())
            .sum();
        let mut s = format!(
            "instances: {} added, {} removed, {} replaced, {kept} kept; mappings: {} added, {} removed",
            count(InstanceChange::Added),
            count(InstanceChange::Removed),
            count(InstanceChange::Replaced),
            self.added.len(),
            self.removed.len()
        );
        if !self.backends.is_empty() {
            let _ = write!(s, "; backend options changed: {}", self.backends.len());
        }
        s
    }

    /// One line per change (`+ instance sacn 'u3'`, `- mapping in.1 > out.1`, `~ instance ...`
    /// for a replaced one, `~ [backend sacn]`), names from `running` for what it loses and
    /// from `next` for the rest. At most `limit` lines, then how many more.
    pub fn render(&self, running: &Core, next: &Core, limit: usize) -> String {
        let mut lines: Vec<String> = Vec::new();
        let backend_name = |b: usize| next.backend(b).map_or("?", |x| x.name());
        for &b in &self.backends {
            lines.push(format!("~ [backend {}] options changed", backend_name(b)));
        }
        for &(id, b, change) in &self.instances {
            let (sign, core) = match change {
                InstanceChange::Added => ('+', next),
                InstanceChange::Removed => ('-', running),
                InstanceChange::Replaced | InstanceChange::Kept => ('~', next),
            };
            let name = core.instance_name(id).unwrap_or("?");
            let what = if change == InstanceChange::Replaced {
                " (options changed: replaced)"
            } else {
                ""
            };
            lines.push(format!(
                "{sign} instance {} '{name}'{what}",
                backend_name(b)
            ));
        }
        for (sign, core, edges) in [('-', running, &self.removed), ('+', next, &self.added)] {
            for &(s, t) in edges {
                let chain = core
                    .routes
                    .edge_index(s, t)
                    .and_then(|e| core.routes.chain_of(e))
                    .map_or_else(String::new, |c| format!(" | {c}"));
                lines.push(format!(
                    "{sign} mapping {} > {}{chain}",
                    core.channel_label(s),
                    core.channel_label(t)
                ));
            }
        }
        let more = lines.len().saturating_sub(limit);
        lines.truncate(limit);
        if more > 0 {
            lines.push(format!("... and {more} more"));
        }
        let mut out = String::new();
        for l in lines {
            out.push_str(&l);
            out.push('\n');
        }
        out
    }
}

/// What stands in a successor core for a backend object moved out of it.
struct Vacant(&'static str);

/// A [`Vacant`] has no options (it is never configured: the successor is not used again).
fn vacant(key: &str) -> crate::OptionError {
    crate::OptionError::Unknown {
        key: key.into(),
        known: &[],
    }
}

impl Backend for Vacant {
    fn name(&self) -> &'static str {
        self.0
    }
    fn configure(
        &mut self,
        key: &str,
        _: &str,
        _: &mut crate::ConfigCtx<'_>,
    ) -> Result<(), crate::OptionError> {
        Err(vacant(key))
    }
    fn create_instance(&mut self, _: InstanceId, _: &str) -> Result<(), crate::OptionError> {
        Ok(())
    }
    fn configure_instance(
        &mut self,
        _: InstanceId,
        key: &str,
        _: &str,
        _: &mut crate::ConfigCtx<'_>,
    ) -> Result<(), crate::OptionError> {
        Err(vacant(key))
    }
    fn channel(
        &mut self,
        _: InstanceId,
        name: &str,
        _: Direction,
        _: &mut crate::ChannelCtx<'_>,
    ) -> Result<ChannelId, crate::ChannelError> {
        Err(crate::ChannelError {
            message: format!("no channel {name}"),
        })
    }
    fn start(&mut self, _: Instant, _: &mut crate::Io<'_>) -> Result<(), StartError> {
        Ok(())
    }
    fn process(
        &mut self,
        _: Instant,
        _: &[crate::Ready],
        _: &mut crate::Io<'_>,
        _: &mut crate::Sink<'_>,
    ) -> Result<(), crate::FatalError> {
        Ok(())
    }
    fn handle(
        &mut self,
        _: Instant,
        _: InstanceId,
        _: &[crate::Delivery],
        _: &mut crate::Sink<'_>,
    ) {
    }
    fn shutdown(&mut self, _: Instant, _: &mut crate::Io<'_>) {}
}

/// What [`Core::reload`] did.
#[derive(Debug)]
pub struct Reloaded {
    /// What changed.
    pub diff: ReloadDiff,
    /// [`ReloadDiff::render`] of it (at most 50 lines).
    pub lines: String,
    /// Backends that failed to start (or to take over) with the new configuration; they are
    /// stopped, everything else runs.
    pub failures: Vec<(&'static str, StartError)>,
}

impl Prepared {
    /// The next part of preparing (each O(mappings), a turn each in the loop): the mappings
    /// added, the ones removed and the lines describing the change, the frame routes, the
    /// table. Returns the stage it belonged to (2 comparing, 3 freezing; [`Pending::longest`]),
    /// `None` when all are done.
    fn step(&mut self, running: &Core) -> Option<usize> {
        let next = &self.next;
        let stage = match self.parts {
            0 => {
                self.diff.add_edges(running, next);
                2
            }
            1 => {
                self.diff.remove_edges(running, next);
                self.lines = self.diff.render(running, next, RENDER_LIMIT);
                2
            }
            2 => {
                (self.frame_routes, self.copied) = next.routes.freeze_frames(&next.registry);
                3
            }
            3 => {
                self.table = next.routes.freeze_table(&next.registry, &self.copied);
                self.copied = Vec::new();
                3
            }
            _ => return None,
        };
        self.parts += 1;
        Some(stage)
    }
}

/// Lines of a reload's log message and monitor answer listing changes.
const RENDER_LIMIT: usize = 50;

impl Core {
    /// An empty core over `backends` (fresh objects of the same backends in the same order)
    /// that configures a successor of this one: it starts from this core's channels and gives
    /// an instance added with a name and backend this core has that instance's id. Configure it
    /// like a new core, then hand it to [`Core::reload`]; it is never started itself.
    pub fn successor(&self, backends: Vec<Box<dyn Backend>>) -> io::Result<Core> {
        let same = backends.len() == self.backends.len()
            && backends
                .iter()
                .zip(&self.backends)
                .all(|(a, b)| a.name() == b.name());
        if !same {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a successor core needs the same backends in the same order",
            ));
        }
        let mut next = Core::new(backends)?;
        next.registry = self.registry.clone();
        next.records.inherited = self.registry.len();
        next.instances = self
            .instances
            .iter()
            .map(|i| InstanceInfo {
                backend: i.backend,
                name: i.name.clone(),
                retired: true,
            })
            .collect();
        next.instance_backend = self.instance_backend.clone();
        next.generation = self.generation;
        Ok(next)
    }

    /// What wakes the loop when a [`ReloadTask`]'s thread is done.
    pub fn reload_waker(&self) -> ReloadWaker {
        ReloadWaker(self.reactor.waker())
    }

    /// Whether the reload in progress has work for the next turn (the loop then does not wait).
    pub(super) fn reload_has_work(&self) -> bool {
        self.reload_task.as_ref().is_some_and(|p| match &p.stage {
            Some(Stage::Configuring(task)) => !task.waiting(),
            _ => true,
        })
    }

    /// A handle that asks the loop to reload from another thread ([`Core::on_reload`]).
    pub fn reload_handle(&self) -> ReloadHandle {
        ReloadHandle {
            requests: Arc::clone(&self.reload_requests),
            waker: self.reactor.waker(),
        }
    }

    /// What a reload runs at the end of the turn SIGHUP or a [`ReloadHandle`] request arrived
    /// in: `hook` builds the successor in one go, [`Core::reload`] applies it. Without a hook a
    /// request is logged and ignored.
    pub fn on_reload(&mut self, mut hook: impl FnMut(&Core) -> Result<Core, String> + 'static) {
        self.reload_hook = Some(Box::new(move |core| {
            hook(core).map(|next| Box::new(Built(Some(Ok(next)))) as Box<dyn ReloadTask>)
        }));
    }

    /// As [`Core::on_reload`], with a hook that starts a [`ReloadTask`]: the successor is then
    /// configured over several turns, a slice each.
    pub fn on_reload_steps(
        &mut self,
        hook: impl FnMut(&Core) -> Result<Box<dyn ReloadTask>, String> + 'static,
    ) {
        self.reload_hook = Some(Box::new(hook));
    }

    /// Whether a reload is being prepared (the loop then does not wait between turns).
    pub fn is_reloading(&self) -> bool {
        self.reload_task.is_some()
    }

    /// Asks for a reload at the end of the next turn (as SIGHUP does).
    pub fn request_reload(&mut self) {
        self.reload_requested = true;
    }

    /// Runs `task` whenever a reload ends, applied or refused (the daemon tells systemd).
    pub fn on_reloaded(&mut self, task: impl FnMut(&ReloadOutcome) + 'static) {
        self.reloaded_hook = Some(Box::new(task));
    }

    /// How the last reload went.
    pub fn last_reload(&self) -> Option<&ReloadOutcome> {
        self.last_reload.as_ref()
    }

    /// Replaces the running configuration by `next` (a configured [`Core::successor`] of this
    /// core) at once (the loop does it over several turns), backend by backend as [`Backend::take_over`] describes. `Err` (nothing changed) if this
    /// core does not run or `next` is not a successor; backends that fail to start with the new
    /// configuration are listed in [`Reloaded::failures`] and stopped, the rest runs.
    pub fn reload(&mut self, next: Core) -> Result<Reloaded, CoreError> {
        let prepared = self.prepare_reload(next)?;
        let (reloaded, old) = self.switch_to(prepared);
        drop(old);
        Ok(reloaded)
    }

    /// The part of [`Core::reload`] that only reads the running core: checks `next`, compares
    /// it with this core and freezes its routing table (each O(mappings)).
    fn prepare_reload(&self, next: Core) -> Result<Prepared, CoreError> {
        let mut prepared = self.compare(next)?;
        while prepared.step(self).is_some() {}
        Ok(prepared)
    }

    /// Checks `next` and compares it with this core.
    fn compare(&self, next: Core) -> Result<Prepared, CoreError> {
        if self.phase != Phase::Running {
            return Err(CoreError::NotStarted);
        }
        if next.phase != Phase::Configuring {
            return Err(CoreError::AlreadyStarted);
        }
        let same = next.backends.len() == self.backends.len()
            && next
                .backends
                .iter()
                .zip(&self.backends)
                .all(|(a, b)| a.name() == b.name());
        if !same {
            return Err(CoreError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "reload: the new core has other backends",
            )));
        }
        let diff = ReloadDiff::between_instances(self, &next);
        Ok(Prepared {
            next,
            diff,
            lines: String::new(),
            table: RoutingTable::default(),
            frame_routes: FrameRoutes::default(),
            copied: Vec::new(),
            parts: 0,
        })
    }

    /// The part of [`Core::reload`] that changes the running core: backends take over, the
    /// successor's instances, registry, edges and table are swapped in. Returns the successor
    /// holding what the running configuration had, to be dropped when the loop has time.
    fn switch_to(&mut self, prepared: Prepared) -> (Reloaded, Core) {
        let Prepared {
            mut next,
            diff,
            lines,
            table,
            frame_routes,
            ..
        } = prepared;
        let now = self.clock.now();
        let mut failures = Vec::new();
        for b in 0..self.backends.len() {
            let plan = RoutePlan::new(&table, &frame_routes);
            match (self.started[b], next.has_instances(b)) {
                (false, false) => std::mem::swap(&mut self.backends[b], &mut next.backends[b]),
                (true, false) => {
                    self.stop_backend(b, now);
                    self.replace_stopped(b, &mut next);
                }
                (false, true) => {
                    std::mem::swap(&mut self.backends[b], &mut next.backends[b]);
                    self.backends[b].plan(&plan);
                    self.start_backend(b, now, &mut failures);
                }
                (true, true) => {
                    next.backends[b].plan(&plan);
                    let handover = Handover {
                        running: &mut *self.backends[b],
                        changes: Changes(diff.changes_of(b)),
                        options_changed: diff.backends.contains(&b),
                    };
                    let mut io = self.reactor.io(b);
                    match next.backends[b].take_over(now, handover, &mut io) {
                        Ok(true) => std::mem::swap(&mut self.backends[b], &mut next.backends[b]),
                        Ok(false) if diff.untouched(b) => self.backends[b].plan(&plan),
                        Ok(false) => {
                            info!(target: "core", "backend '{}' restarts with the new configuration (it cannot take over its running instances)", self.backends[b].name());
                            self.stop_backend(b, now);
                            self.replace_stopped(b, &mut next);
                            self.start_backend(b, now, &mut failures);
                        }
                        Err(e) => {
                            self.stop_backend(b, now);
                            self.replace_stopped(b, &mut next);
                            let mut io = self.reactor.io(b);
                            self.backends[b].shutdown(now, &mut io);
                            failures.push((self.backends[b].name(), e));
                        }
                    }
                }
            }
        }
        // Swapped, not assigned: the old values are dropped with `next`, in a later turn.
        std::mem::swap(&mut self.instances, &mut next.instances);
        std::mem::swap(&mut self.instance_backend, &mut next.instance_backend);
        std::mem::swap(&mut self.registry, &mut next.registry);
        std::mem::swap(&mut self.routes, &mut next.routes);
        std::mem::swap(&mut self.records, &mut next.records);
        self.records.settle();
        next.table = std::mem::replace(&mut self.table, table);
        next.frame_routes = std::mem::replace(&mut self.frame_routes, frame_routes);
        self.router
            .reconfigure(&self.table, self.instances.len(), self.registry.len());
        self.generation += 1;
        // What `next` holds now are objects that were stopped, handed over or never started.
        next.shutdown_called = true;
        (
            Reloaded {
                diff,
                lines,
                failures,
            },
            next,
        )
    }

    /// Ends backend `b` as at shutdown, with one flush for its goodbye.
    fn stop_backend(&mut self, b: usize, now: Instant) {
        let mut io = self.reactor.io(b);
        self.backends[b].shutdown(now, &mut io);
        self.backends[b].flush(now, &mut io);
        if !self.backends[b].shutdown_complete() {
            warn!(target: "core", "backend '{}' restarted before its goodbye was complete", self.backends[b].name());
        }
        self.started[b] = false;
    }

    /// Installs `next`'s object for backend `b` and drops the stopped one now, closing its
    /// sockets (and devices) before the new object opens its own, which may be the same ports.
    fn replace_stopped(&mut self, b: usize, next: &mut Core) {
        let vacant: Box<dyn Backend> = Box::new(Vacant(self.backends[b].name()));
        let new = std::mem::replace(&mut next.backends[b], vacant);
        drop(std::mem::replace(&mut self.backends[b], new));
        self.reactor.forget(b);
    }

    fn start_backend(
        &mut self,
        b: usize,
        now: Instant,
        failures: &mut Vec<(&'static str, StartError)>,
    ) {
        let mut io = self.reactor.io(b);
        match self.backends[b].start(now, &mut io) {
            Ok(()) => self.started[b] = true,
            Err(e) => {
                self.backends[b].shutdown(now, &mut io);
                self.started[b] = false;
                failures.push((self.backends[b].name(), e));
            }
        }
    }

    /// Starts a requested reload: runs the hook, which reads the file and returns the task
    /// that configures the successor.
    pub(super) fn begin_reload(&mut self) {
        let seq = self.last_reload.as_ref().map_or(1, |r| r.seq + 1);
        let Some(mut hook) = self.reload_hook.take() else {
            warn!(target: "core", "reload requested, but this loop has no configuration to read again");
            self.finish_reload(ReloadOutcome {
                seq,
                ok: false,
                message: "no configuration to reload".into(),
            });
            return;
        };
        info!(target: "core", "reloading the configuration");
        let began = Instant::now();
        let started = hook(self);
        self.reload_hook = Some(hook);
        match started {
            Ok(task) => {
                self.reload_task = Some(Pending {
                    stage: Some(Stage::Configuring(task)),
                    seq,
                    began,
                    turns: 1,
                    longest: [
                        began.elapsed(),
                        Duration::ZERO,
                        Duration::ZERO,
                        Duration::ZERO,
                        Duration::ZERO,
                        Duration::ZERO,
                    ],
                });
            }
            Err(message) => self.refused(seq, message),
        }
    }

    /// The next stage of the reload in progress ([`Stage`]), one per turn.
    pub(super) fn continue_reload(&mut self) {
        let Some(mut p) = self.reload_task.take() else {
            return;
        };
        let Some(stage) = p.stage.take() else {
            return;
        };
        p.turns += 1;
        let t = Instant::now();
        let (which, next) = match stage {
            Stage::Configuring(mut task) => match task.step(self, RELOAD_SLICE) {
                None => (1, Some(Stage::Configuring(task))),
                Some(Ok(next)) => (1, Some(Stage::Configured(Box::new(next)))),
                Some(Err(message)) => return self.refused(p.seq, message),
            },
            Stage::Configured(next) => match self.compare(*next) {
                Ok(prepared) => (2, Some(Stage::Preparing(Box::new(prepared)))),
                Err(e) => {
                    error!(target: "core", "reload failed: {e}");
                    return self.finish_reload(ReloadOutcome {
                        seq: p.seq,
                        ok: false,
                        message: e.to_string(),
                    });
                }
            },
            Stage::Preparing(mut prepared) => match prepared.step(self) {
                Some(stage) => (stage, Some(Stage::Preparing(prepared))),
                None => {
                    // All parts done: switch over in this turn.
                    let (reloaded, old) = self.switch_to(*prepared);
                    (4, Some(Stage::Retiring(Box::new(old), reloaded)))
                }
            },
            Stage::Retiring(old, reloaded) => {
                drop(old);
                p.longest[5] = p.longest[5].max(t.elapsed());
                return self.report(&p, reloaded);
            }
        };
        p.longest[which] = p.longest[which].max(t.elapsed());
        p.stage = next;
        self.reload_task = Some(p);
    }

    /// Logs and records how the applied reload `p` went.
    fn report(&mut self, p: &Pending, r: Reloaded) {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let [
            reading,
            configuring,
            comparing,
            freezing,
            switching,
            retiring,
        ] = p.longest.map(ms);
        let longest = p.longest.iter().copied().max().unwrap_or_default();
        let mut message = format!(
            "reloaded in {:.1} ms over {} turn(s), the loop standing still at most {:.1} ms \
             (reading {reading:.1}, configuring {configuring:.1}, comparing {comparing:.1}, \
             freezing {freezing:.1}, switching {switching:.1}, retiring {retiring:.1}): {}\n{}",
            ms(p.began.elapsed()),
            p.turns,
            ms(longest),
            r.diff.summary(),
            r.lines
        );
        for (backend, e) in &r.failures {
            let _ = writeln!(message, "backend '{backend}' failed to start: {e}");
            error!(target: "core", "reload: backend '{backend}' failed to start: {e}");
        }
        info!(target: "core", "{}", message.trim_end());
        self.finish_reload(ReloadOutcome {
            seq: p.seq,
            ok: r.failures.is_empty(),
            message,
        });
    }

    fn refused(&mut self, seq: u64, message: String) {
        error!(target: "core", "reload refused, the running configuration stays:\n{}", message.trim_end());
        self.finish_reload(ReloadOutcome {
            seq,
            ok: false,
            message,
        });
    }

    /// Records how a reload went and tells [`Core::on_reloaded`]'s task.
    fn finish_reload(&mut self, outcome: ReloadOutcome) {
        if let Some(f) = self.reloaded_hook.as_mut() {
            f(&outcome);
        }
        self.last_reload = Some(outcome);
    }
}

#[cfg(test)]
mod tests;
