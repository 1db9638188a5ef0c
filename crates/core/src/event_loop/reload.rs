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
use crate::monitor::InstanceInfo;

/// What the configuration said, as far as a reload compares it: option lines per backend and
/// per instance (text as written, in order) and how each channel is used.
#[derive(Debug, Default, Clone)]
pub(crate) struct Records {
    backend_options: Vec<Vec<(String, String)>>,
    instance_options: Vec<Vec<(String, String)>>,
    /// Per channel: bit 0 used as an input, bit 1 as an output.
    channel_uses: Vec<u8>,
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

    fn uses(&self, c: usize) -> u8 {
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
    /// Configures on for about `budget`; `Some` once done: the successor, or why it cannot be
    /// used.
    fn step(&mut self, budget: Duration) -> Option<Result<Core, String>>;
}

/// How long one turn's slice of configuring a successor may take: under the 8 ms after which
/// sACN input that waited coalesces, with the other work of the turn.
pub const RELOAD_SLICE: Duration = Duration::from_millis(2);

/// A successor built in one go.
struct Built(Option<Result<Core, String>>);

impl ReloadTask for Built {
    fn step(&mut self, _: Duration) -> Option<Result<Core, String>> {
        self.0.take()
    }
}

/// The reload in progress.
pub(super) struct Pending {
    task: Box<dyn ReloadTask>,
    seq: u64,
    /// Wall clock (how long the loop stood still; the core's clock may be a manual one).
    began: Instant,
    turns: u32,
    longest: Duration,
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
        let (old, new) = (&running.routes, &next.routes);
        for (e, &(s, t)) in new.edges().iter().enumerate() {
            let same = old
                .edge_index(s, t)
                .is_some_and(|o| old.chain_of(o) == new.chain_of(e));
            if !same {
                d.added.push((s, t));
            }
        }
        for (e, &(s, t)) in old.edges().iter().enumerate() {
            let same = new
                .edge_index(s, t)
                .is_some_and(|o| new.chain_of(o) == old.chain_of(e));
            if !same {
                d.removed.push((s, t));
            }
        }
        d
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
        Err(crate::OptionError::Unknown {
            key: key.into(),
            known: &[],
        })
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
        Err(crate::OptionError::Unknown {
            key: key.into(),
            known: &[],
        })
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

    /// How the last reload went.
    pub fn last_reload(&self) -> Option<&ReloadOutcome> {
        self.last_reload.as_ref()
    }

    /// Replaces the running configuration by `next` (a configured [`Core::successor`] of this
    /// core), between two turns: see the [module docs](self). `Err` (nothing changed) if this
    /// core does not run or `next` is not a successor; backends that fail to start with the new
    /// configuration are listed in [`Reloaded::failures`] and stopped, the rest runs.
    pub fn reload(&mut self, mut next: Core) -> Result<Reloaded, CoreError> {
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
        let diff = ReloadDiff::between(self, &next);
        let lines = diff.render(self, &next, RENDER_LIMIT);
        let now = self.clock.now();
        let (table, frame_routes) = next.routes.freeze(&next.registry);
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
        self.instances = std::mem::take(&mut next.instances);
        self.instance_backend = std::mem::take(&mut next.instance_backend);
        self.registry = std::mem::take(&mut next.registry);
        self.routes = std::mem::take(&mut next.routes);
        self.records = std::mem::take(&mut next.records);
        self.table = table;
        self.frame_routes = frame_routes;
        self.router
            .reconfigure(&self.table, self.instances.len(), self.registry.len());
        self.generation += 1;
        // What `next` holds now are objects that were stopped, handed over or never started.
        next.shutdown_called = true;
        drop(next);
        Ok(Reloaded {
            diff,
            lines,
            failures,
        })
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
            self.last_reload = Some(ReloadOutcome {
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
                    task,
                    seq,
                    began,
                    turns: 1,
                    longest: began.elapsed(),
                });
            }
            Err(message) => self.refused(seq, message),
        }
    }

    /// One slice of the reload in progress; once the successor is configured, applies it.
    pub(super) fn continue_reload(&mut self) {
        let Some(mut p) = self.reload_task.take() else {
            return;
        };
        let t = Instant::now();
        let done = p.task.step(RELOAD_SLICE);
        p.longest = p.longest.max(t.elapsed());
        let Some(built) = done else {
            p.turns += 1;
            self.reload_task = Some(p);
            return;
        };
        let next = match built {
            Ok(next) => next,
            Err(message) => return self.refused(p.seq, message),
        };
        let t = Instant::now();
        let outcome = match self.reload(next) {
            Ok(r) => {
                let applied = t.elapsed();
                let ms = |d: Duration| d.as_secs_f64() * 1e3;
                let mut message = format!(
                    "reloaded in {:.1} ms over {} turn(s), the loop standing still at most \
                     {:.1} ms (reading {:.1}, applying {:.1}): {}\n{}",
                    ms(p.began.elapsed()),
                    p.turns,
                    ms(p.longest.max(applied)),
                    ms(p.longest),
                    ms(applied),
                    r.diff.summary(),
                    r.lines
                );
                for (backend, e) in &r.failures {
                    let _ = writeln!(message, "backend '{backend}' failed to start: {e}");
                    error!(target: "core", "reload: backend '{backend}' failed to start: {e}");
                }
                info!(target: "core", "{}", message.trim_end());
                ReloadOutcome {
                    seq: p.seq,
                    ok: r.failures.is_empty(),
                    message,
                }
            }
            Err(e) => {
                error!(target: "core", "reload failed: {e}");
                ReloadOutcome {
                    seq: p.seq,
                    ok: false,
                    message: e.to_string(),
                }
            }
        };
        self.last_reload = Some(outcome);
    }

    fn refused(&mut self, seq: u64, message: String) {
        error!(target: "core", "reload refused, the running configuration stays:\n{}", message.trim_end());
        self.last_reload = Some(ReloadOutcome {
            seq,
            ok: false,
            message,
        });
    }
}

#[cfg(test)]
mod tests {
    use std::any::Any;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::time::Duration;

    use super::*;
    use crate::backend::{ChannelCtx, ChannelError, ConfigCtx, Delivery, FatalError, OptionError};
    use crate::clock::ManualClock;
    use crate::reactor::{Io, Ready};
    use crate::sink::Sink;
    use crate::transform::{Chain, Transform};
    use crate::value::Value;

    /// What the nodes did, across objects: calls, deliveries, events to report.
    #[derive(Default)]
    struct World {
        calls: Vec<String>,
        handled: Vec<(u32, u64, u64)>,
        pending: Vec<(ChannelId, u64)>,
    }

    type Shared = Rc<RefCell<World>>;

    /// A backend whose instances each count deliveries (the state a reload must keep), and
    /// which takes over when `takes_over` says so.
    struct Node {
        world: Shared,
        takes_over: bool,
        /// (instance, option lines seen, deliveries counted).
        instances: Vec<(InstanceId, usize, u64)>,
    }

    impl Node {
        fn new(world: &Shared, takes_over: bool) -> Self {
            Node {
                world: Rc::clone(world),
                takes_over,
                instances: Vec::new(),
            }
        }
        fn note(&self, s: String) {
            self.world.borrow_mut().calls.push(s);
        }
    }

    impl Backend for Node {
        fn name(&self) -> &'static str {
            "node"
        }
        fn configure(
            &mut self,
            _: &str,
            _: &str,
            _: &mut ConfigCtx<'_>,
        ) -> Result<(), OptionError> {
            Ok(())
        }
        fn create_instance(&mut self, id: InstanceId, _: &str) -> Result<(), OptionError> {
            self.instances.push((id, 0, 0));
            Ok(())
        }
        fn configure_instance(
            &mut self,
            id: InstanceId,
            _: &str,
            _: &str,
            _: &mut ConfigCtx<'_>,
        ) -> Result<(), OptionError> {
            if let Some(i) = self.instances.iter_mut().find(|i| i.0 == id) {
                i.1 += 1;
            }
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
                message: format!("bad channel {name}"),
            })?;
            Ok(ctx.ids.resolve(instance, key))
        }
        fn start(&mut self, _: Instant, _: &mut Io<'_>) -> Result<(), StartError> {
            let ids: Vec<u32> = self.instances.iter().map(|i| i.0.0).collect();
            self.note(format!("start {ids:?}"));
            Ok(())
        }
        fn take_over(
            &mut self,
            _: Instant,
            handover: Handover<'_>,
            _: &mut Io<'_>,
        ) -> Result<bool, StartError> {
            if !self.takes_over {
                return Ok(false);
            }
            let changes = handover.changes;
            let running: &mut dyn Any = handover.running;
            let Some(old) = running.downcast_mut::<Node>() else {
                return Ok(false);
            };
            for mine in &mut self.instances {
                if changes.of(mine.0) == Some(InstanceChange::Kept)
                    && let Some(theirs) = old.instances.iter().find(|i| i.0 == mine.0)
                {
                    mine.2 = theirs.2;
                }
            }
            let changes: Vec<String> = changes
                .iter()
                .map(|(id, c)| format!("{}:{c:?}", id.0))
                .collect();
            self.note(format!("take_over {}", changes.join(" ")));
            Ok(true)
        }
        fn process(
            &mut self,
            _: Instant,
            _: &[Ready],
            _: &mut Io<'_>,
            sink: &mut Sink<'_>,
        ) -> Result<(), FatalError> {
            for (c, v) in std::mem::take(&mut self.world.borrow_mut().pending) {
                sink.push(c, Value::from_raw(v, 8));
            }
            Ok(())
        }
        fn handle(&mut self, _: Instant, id: InstanceId, ds: &[Delivery], _: &mut Sink<'_>) {
            let Some(i) = self.instances.iter_mut().find(|i| i.0 == id) else {
                return;
            };
            i.2 += ds.len() as u64;
            let count = i.2;
            for d in ds {
                self.world
                    .borrow_mut()
                    .handled
                    .push((id.0, d.key, d.value.to_raw(8)));
            }
            let _ = count;
        }
        fn shutdown(&mut self, _: Instant, _: &mut Io<'_>) {
            self.note("shutdown".into());
        }
        fn stats(&self, out: &mut Vec<crate::stats::Stat>) {
            for i in &self.instances {
                out.push(crate::stats::Stat::instance(i.0, "delivered", i.2));
            }
        }
    }

    /// A configuration: instances with option counts, mappings `inst.key > inst.key`.
    struct Cfg<'a> {
        instances: &'a [(&'a str, usize)],
        maps: &'a [(&'a str, u64, &'a str, u64)],
    }

    fn configure(core: &mut Core, cfg: &Cfg<'_>) {
        for &(name, options) in cfg.instances {
            let id = core.add_instance(0, name).expect("instance");
            for o in 0..options {
                let mut w = Vec::new();
                let mut ctx = ConfigCtx {
                    base_dir: std::path::Path::new("."),
                    config_path: std::path::Path::new("x.cfg"),
                    warnings: &mut w,
                };
                core.configure_instance(id, "opt", &o.to_string(), &mut ctx)
                    .expect("option");
            }
        }
        for &(a, k, b, l) in cfg.maps {
            let (a, b) = (core.instance(a).expect("a"), core.instance(b).expect("b"));
            let s = core
                .channel(a, &k.to_string(), Direction::Input, &mut Vec::new())
                .expect("source");
            let t = core
                .channel(b, &l.to_string(), Direction::Output, &mut Vec::new())
                .expect("target");
            core.add_mapping(s, t);
        }
    }

    fn running(world: &Shared, takes_over: bool, cfg: &Cfg<'_>) -> Core {
        let clock = ManualClock::new(Instant::now());
        let mut core = Core::new(vec![Box::new(Node::new(world, takes_over))])
            .expect("core")
            .with_clock(clock);
        configure(&mut core, cfg);
        core.start().expect("start");
        core
    }

    fn successor(core: &Core, world: &Shared, takes_over: bool, cfg: &Cfg<'_>) -> Core {
        let mut next = core
            .successor(vec![Box::new(Node::new(world, takes_over))])
            .expect("successor");
        configure(&mut next, cfg);
        next
    }

    fn send(
        core: &mut Core,
        world: &Shared,
        inst: &str,
        key: u64,
        value: u64,
    ) -> Vec<(u32, u64, u64)> {
        let id = core.instance(inst).expect("instance");
        let c = core.registry().get(id, key).expect("channel");
        world.borrow_mut().pending.push((c, value));
        core.turn(Some(Duration::ZERO)).expect("turn");
        std::mem::take(&mut world.borrow_mut().handled)
    }

    const OLD: Cfg<'static> = Cfg {
        instances: &[("a", 1), ("b", 1), ("c", 0)],
        maps: &[("a", 1, "b", 1), ("a", 2, "c", 2)],
    };
    const NEW: Cfg<'static> = Cfg {
        instances: &[("a", 1), ("d", 0), ("b", 2)],
        maps: &[("a", 1, "b", 1), ("a", 3, "d", 3)],
    };

    #[test]
    fn the_successor_keeps_ids_of_what_both_configurations_have() {
        let world = Shared::default();
        let core = running(&world, true, &OLD);
        let next = successor(&core, &world, true, &NEW);
        for name in ["a", "b"] {
            assert_eq!(core.instance(name), next.instance(name), "{name}");
        }
        assert_eq!(next.instance("c"), None);
        // A new instance gets an id no running instance has.
        assert_eq!(next.instance("d"), Some(InstanceId(3)));
        assert!(!next.is_live(InstanceId(2)));
        let a = next.instance("a").expect("a");
        assert_eq!(core.registry().get(a, 1), next.registry().get(a, 1));
        // New channels come after every running one.
        let new = next.registry().get(a, 3).expect("a.3");
        assert!(new.0 as usize >= core.registry().len());
        // Another backend list is refused.
        assert!(core.successor(Vec::new()).is_err());
    }

    #[test]
    fn the_diff_lists_instances_and_mappings() {
        let world = Shared::default();
        let core = running(&world, true, &OLD);
        let next = successor(&core, &world, true, &NEW);
        let d = ReloadDiff::between(&core, &next);
        assert_eq!(
            d.instances,
            vec![
                (InstanceId(1), 0, InstanceChange::Replaced),
                (InstanceId(2), 0, InstanceChange::Removed),
                (InstanceId(3), 0, InstanceChange::Added),
            ]
        );
        assert!(d.backends.is_empty());
        assert_eq!(d.changes_of(0).len(), 4);
        assert_eq!(d.changes_of(0)[0], (InstanceId(0), InstanceChange::Kept));
        assert!(!d.untouched(0));
        let label = |c: &Core, (s, t): (ChannelId, ChannelId)| {
            format!("{} > {}", c.channel_label(s), c.channel_label(t))
        };
        assert_eq!(d.removed.len(), 1);
        assert_eq!(label(&core, d.removed[0]), "a.2 > c.2");
        assert_eq!(d.added.len(), 1);
        assert_eq!(label(&next, d.added[0]), "a.3 > d.3");
        assert_eq!(
            d.summary(),
            "instances: 1 added, 1 removed, 1 replaced, 1 kept; mappings: 1 added, 1 removed"
        );
        assert_eq!(
            d.render(&core, &next, 50),
            "~ instance node 'b' (options changed: replaced)\n- instance node 'c'\n\
             + instance node 'd'\n- mapping a.2 > c.2\n+ mapping a.3 > d.3\n"
        );
        assert_eq!(
            d.render(&core, &next, 2).lines().last(),
            Some("... and 3 more")
        );
        // The same configuration again: nothing changes.
        let same = successor(&core, &world, true, &OLD);
        let d = ReloadDiff::between(&core, &same);
        assert!(d.is_empty(), "{d:?}");
        assert!(d.untouched(0));
    }

    #[test]
    fn a_changed_chain_or_direction_is_a_change() {
        let world = Shared::default();
        let cfg = Cfg {
            instances: &[("a", 0), ("b", 0)],
            maps: &[("a", 1, "b", 1)],
        };
        let core = running(&world, false, &cfg);
        let mut next = successor(
            &core,
            &world,
            false,
            &Cfg {
                instances: cfg.instances,
                maps: &[],
            },
        );
        let (a, b) = (
            next.instance("a").expect("a"),
            next.instance("b").expect("b"),
        );
        let s = next
            .channel(a, "1", Direction::Input, &mut Vec::new())
            .expect("s");
        let t = next
            .channel(b, "1", Direction::Output, &mut Vec::new())
            .expect("t");
        let invert = Chain::new(vec![Transform::Invert]).expect("chain");
        next.add_mapping_with(s, t, &invert);
        let d = ReloadDiff::between(&core, &next);
        assert_eq!((d.added.len(), d.removed.len()), (1, 1));
        assert!(
            d.render(&core, &next, 9)
                .contains("+ mapping a.1 > b.1 | invert")
        );
        // Only the mappings changed: a backend that cannot take over keeps running.
        assert!(d.untouched(0));
        // b.1 now read as an input too: its backend's channels changed.
        next.channel(b, "1", Direction::Input, &mut Vec::new())
            .expect("in");
        assert!(!ReloadDiff::between(&core, &next).untouched(0));
    }

    #[test]
    fn reload_keeps_state_of_kept_instances_and_swaps_the_mappings() {
        let world = Shared::default();
        let mut core = running(&world, true, &OLD);
        assert_eq!(send(&mut core, &world, "a", 1, 7), vec![(1, 1, 7)]);
        assert_eq!(send(&mut core, &world, "a", 2, 8), vec![(2, 2, 8)]);
        world.borrow_mut().calls.clear();
        let next = successor(&core, &world, true, &NEW);
        let r = core.reload(next).expect("reload");
        assert!(r.failures.is_empty());
        assert_eq!(
            world.borrow_mut().calls.drain(..).collect::<Vec<_>>(),
            ["take_over 0:Kept 1:Replaced 2:Removed 3:Added"]
        );
        // The new mapping routes, the removed one not, the kept one still does.
        assert_eq!(send(&mut core, &world, "a", 3, 9), vec![(3, 3, 9)]);
        let a = core.instance("a").expect("a");
        let gone = core.registry().get(a, 2).expect("a.2");
        world.borrow_mut().pending.push((gone, 1));
        core.turn(Some(Duration::ZERO)).expect("turn");
        assert!(world.borrow().handled.is_empty());
        // b is replaced: its count starts again (state of a kept one would be carried).
        assert_eq!(send(&mut core, &world, "a", 1, 5), vec![(1, 1, 5)]);
        let stats = core.stats();
        let count = |name: &str| {
            stats
                .iter()
                .find(|g| g.scope == name)
                .and_then(|g| g.counters.iter().find(|s| s.0 == "delivered"))
                .map(|s| s.1)
        };
        assert_eq!(count("b"), Some(1));
        assert_eq!(count("d"), Some(1));
        assert_eq!(count("c"), None);
        assert_eq!(core.generation, 1);
    }

    #[test]
    fn a_backend_that_cannot_take_over_is_kept_when_untouched_and_else_restarted() {
        let world = Shared::default();
        let cfg = Cfg {
            instances: &[("a", 0), ("b", 0)],
            maps: &[("a", 1, "b", 1)],
        };
        let mut core = running(&world, false, &cfg);
        send(&mut core, &world, "a", 1, 1);
        world.borrow_mut().calls.clear();
        // Only a mapping changes, on channels both had: the running object goes on.
        let mut next = successor(
            &core,
            &world,
            false,
            &Cfg {
                instances: cfg.instances,
                maps: &[],
            },
        );
        let (a, b) = (
            next.instance("a").expect("a"),
            next.instance("b").expect("b"),
        );
        let a1 = next
            .channel(a, "1", Direction::Input, &mut Vec::new())
            .expect("a1");
        let b1 = next
            .channel(b, "1", Direction::Output, &mut Vec::new())
            .expect("b1");
        let invert = Chain::new(vec![Transform::Invert]).expect("chain");
        next.add_mapping_with(a1, b1, &invert);
        core.reload(next).expect("reload");
        assert!(
            world.borrow().calls.is_empty(),
            "{:?}",
            world.borrow().calls
        );
        assert_eq!(send(&mut core, &world, "a", 1, 3), vec![(1, 1, 252)]);
        // A new instance: the backend restarts (shutdown, then start with every instance).
        let grown = Cfg {
            instances: &[("a", 0), ("b", 0), ("e", 0)],
            maps: &[("a", 1, "e", 1)],
        };
        let next = successor(&core, &world, false, &grown);
        core.reload(next).expect("reload");
        assert_eq!(
            world.borrow_mut().calls.drain(..).collect::<Vec<_>>(),
            ["shutdown", "start [0, 1, 2]"]
        );
        assert_eq!(send(&mut core, &world, "a", 1, 4), vec![(2, 1, 4)]);
    }

    #[test]
    fn an_instance_removed_and_added_again_gets_its_id_back() {
        let world = Shared::default();
        let mut core = running(&world, true, &OLD);
        let c = core.instance("c");
        core.reload(successor(&core, &world, true, &NEW))
            .expect("reload");
        assert_eq!(core.instance("c"), None);
        assert_eq!(core.instance_name(InstanceId(2)), Some("c"));
        assert!(!core.is_live(InstanceId(2)));
        core.reload(successor(&core, &world, true, &OLD))
            .expect("reload");
        assert_eq!(core.instance("c"), c);
        assert_eq!(core.instance("d"), None);
        assert_eq!(send(&mut core, &world, "a", 2, 6), vec![(2, 2, 6)]);
    }

    /// A successor configured over three turns: the old mappings route meanwhile, the loop does
    /// not wait between slices, and the new ones take over once it is applied.
    #[test]
    fn a_reload_in_slices_keeps_routing_between_them() {
        struct Slow {
            next: Option<Core>,
            steps: u32,
        }
        impl ReloadTask for Slow {
            fn step(&mut self, budget: Duration) -> Option<Result<Core, String>> {
                assert_eq!(budget, RELOAD_SLICE);
                self.steps += 1;
                if self.steps < 3 {
                    return None;
                }
                self.next.take().map(Ok)
            }
        }
        let world = Shared::default();
        let mut core = running(&world, true, &OLD);
        let w = Rc::clone(&world);
        core.on_reload_steps(move |c| {
            Ok(Box::new(Slow {
                next: Some(successor(c, &w, true, &NEW)),
                steps: 0,
            }))
        });
        core.request_reload();
        core.turn(Some(Duration::ZERO)).expect("turn");
        assert!(core.is_reloading());
        assert_eq!(core.wait_timeout(core.clock.now(), None), Duration::ZERO);
        // Still the old configuration: a.2 > c.2 routes.
        assert_eq!(send(&mut core, &world, "a", 2, 8), vec![(2, 2, 8)]);
        assert!(core.is_reloading());
        core.turn(Some(Duration::ZERO)).expect("turn");
        assert!(
            !core.is_reloading(),
            "applied at the end of the third slice"
        );
        assert_eq!(core.last_reload().map(|r| r.ok), Some(true));
        assert!(
            core.last_reload()
                .is_some_and(|r| r.message.contains("over 3 turn(s)")),
            "{:?}",
            core.last_reload()
        );
        assert_eq!(send(&mut core, &world, "a", 3, 9), vec![(3, 3, 9)]);
    }

    #[test]
    fn a_refused_reload_changes_nothing_and_says_why() {
        let world = Shared::default();
        let mut core = running(&world, true, &OLD);
        core.on_reload(|_| Err("x.cfg:3:1: unknown option".to_string()));
        core.request_reload();
        core.turn(Some(Duration::ZERO)).expect("turn");
        let outcome = core.last_reload().expect("outcome");
        assert_eq!((outcome.seq, outcome.ok), (1, false));
        assert!(outcome.message.contains("x.cfg:3:1"));
        assert_eq!(core.generation, 0);
        assert_eq!(send(&mut core, &world, "a", 2, 8), vec![(2, 2, 8)]);
        // A hook that builds a successor applies it at the end of the turn.
        let w = Rc::clone(&world);
        core.on_reload(move |c| Ok(successor(c, &w, true, &NEW)));
        core.reload_handle().request();
        core.turn(Some(Duration::ZERO)).expect("turn");
        let outcome = core.last_reload().expect("outcome");
        assert_eq!((outcome.seq, outcome.ok), (2, true));
        assert!(
            outcome.message.contains("): instances: 1 added"),
            "{}",
            outcome.message
        );
        assert!(outcome.message.contains("+ mapping a.3 > d.3"));
        assert_eq!(core.generation, 1);
    }
}
