//! The reload's diff and apply with a small backend whose instances count deliveries.
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
    /// Names that are not numbers get keys from 1000 on, in lookup order (as loopback does).
    names: Vec<String>,
}

impl Node {
    fn new(world: &Shared, takes_over: bool) -> Self {
        Node {
            world: Rc::clone(world),
            takes_over,
            instances: Vec::new(),
            names: Vec::new(),
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
    fn configure(&mut self, _: &str, _: &str, _: &mut ConfigCtx<'_>) -> Result<(), OptionError> {
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
        let key = match name.parse() {
            Ok(key) => key,
            Err(_) => {
                let i = match self.names.iter().position(|n| n == name) {
                    Some(i) => i,
                    None => {
                        self.names.push(name.to_string());
                        self.names.len() - 1
                    }
                };
                1000 + i as u64
            }
        };
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

fn send(core: &mut Core, world: &Shared, inst: &str, key: u64, value: u64) -> Vec<(u32, u64, u64)> {
    let id = core.instance(inst).expect("instance");
    let c = core.registry().get(id, key).expect("channel");
    world.borrow_mut().pending.push((c, value));
    core.turn(Some(Duration::ZERO)).expect("turn");
    std::mem::take(&mut world.borrow_mut().handled)
}

/// A successor of `core` with `instances` and the one mapping `a.1 > b.1 | invert`.
fn inverted(core: &Core, world: &Shared, instances: &[(&str, usize)]) -> Core {
    let mut next = successor(
        core,
        world,
        false,
        &Cfg {
            instances,
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
    next
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
    let mut next = inverted(&core, &world, cfg.instances);
    let b = next.instance("b").expect("b");
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
    let next = inverted(&core, &world, cfg.instances);
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

/// Keys handed out in lookup order mean other channels in the successor when the file looks
/// names up in another order: the channel is renamed, and a backend that cannot take over is
/// restarted rather than kept with its old meaning of the keys.
#[test]
fn keys_given_in_lookup_order_restart_a_backend_instead_of_keeping_it() {
    let world = Shared::default();
    let mut core = Core::new(vec![Box::new(Node::new(&world, false))])
        .expect("core")
        .with_clock(ManualClock::new(Instant::now()));
    let map = |core: &mut Core, names: [&str; 2]| {
        let a = core.add_instance(0, "a").expect("a");
        let b = core.add_instance(0, "b").expect("b");
        for (i, name) in names.iter().enumerate() {
            let s = core
                .channel(a, name, Direction::Input, &mut Vec::new())
                .expect("s");
            let t = core
                .channel(b, &(i + 1).to_string(), Direction::Output, &mut Vec::new())
                .expect("t");
            core.add_mapping(s, t);
        }
    };
    map(&mut core, ["x", "y"]);
    core.start().expect("start");
    let x = core.registry().get(InstanceId(0), 1000).expect("a.x");
    assert_eq!(core.channel_label(x), "a.x");
    world.borrow_mut().calls.clear();
    // The same file: kept as it runs.
    let mut same = core
        .successor(vec![Box::new(Node::new(&world, false))])
        .expect("successor");
    map(&mut same, ["x", "y"]);
    assert!(ReloadDiff::between(&core, &same).untouched(0));
    // y looked up first: key 1000 is y now.
    let mut next = core
        .successor(vec![Box::new(Node::new(&world, false))])
        .expect("successor");
    map(&mut next, ["y", "x"]);
    assert_eq!(next.channel_label(x), "a.y");
    assert!(!ReloadDiff::between(&core, &next).untouched(0));
    core.reload(next).expect("reload");
    assert_eq!(
        world.borrow_mut().calls.drain(..).collect::<Vec<_>>(),
        ["shutdown", "start [0, 1]"]
    );
    // Once running, the new names are its own: the same file again changes nothing.
    let mut again = core
        .successor(vec![Box::new(Node::new(&world, false))])
        .expect("successor");
    map(&mut again, ["y", "x"]);
    assert!(ReloadDiff::between(&core, &again).is_empty());
    assert!(ReloadDiff::between(&core, &again).untouched(0));
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
        fn step(&mut self, _: &Core, budget: Duration) -> Option<Result<Core, String>> {
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
    // Reading the file.
    core.turn(Some(Duration::ZERO)).expect("turn");
    // Three slices, comparing (instances, mappings added, mappings removed), freezing (frame
    // routes, table), switching: the old configuration routes in each of these turns (a.2 >
    // c.2; the stage runs after the turn's routing), and the loop does not wait between them.
    for turn in 2..=10 {
        assert!(core.is_reloading(), "turn {turn}");
        assert_eq!(core.wait_timeout(core.clock.now(), None), Duration::ZERO);
        assert_eq!(
            send(&mut core, &world, "a", 2, 8),
            vec![(2, 2, 8)],
            "turn {turn}"
        );
    }
    // Switched at the end of the tenth turn; the eleventh drops the old objects and reports.
    assert!(core.is_reloading());
    assert_eq!(send(&mut core, &world, "a", 3, 9), vec![(3, 3, 9)]);
    assert!(
        !core.is_reloading(),
        "reported at the end of the eleventh turn"
    );
    assert_eq!(core.last_reload().map(|r| r.ok), Some(true));
    assert!(
        core.last_reload()
            .is_some_and(|r| r.message.contains("over 11 turn(s)")),
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
    // A hook that builds a successor in one go.
    let w = Rc::clone(&world);
    core.on_reload(move |c| Ok(successor(c, &w, true, &NEW)));
    core.reload_handle().request();
    // Reading, configuring, comparing (three turns), freezing (two), switching, retiring.
    for _ in 0..9 {
        core.turn(Some(Duration::ZERO)).expect("turn");
    }
    assert!(!core.is_reloading());
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
