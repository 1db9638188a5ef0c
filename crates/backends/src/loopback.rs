//! The `loopback` backend: named junction points. Whatever is delivered to a loopback channel
//! is reported again, unchanged and in order, as an event on the same channel, and the core
//! routes it in the next round of the same iteration.
//!
//! It has no descriptors, timers or wire effects. Options are accepted for MIDIMonster
//! compatibility but warned about, since they do nothing.
//!
//! # The template for a new backend
//! This is the smallest complete backend; copy it to start one (`doc/backends.md` is the
//! guide, the `Backend` trait's docs hold a whole example with a timer):
//!
//! 1. Copy this file to `src/NAME.rs` (a directory `src/NAME/` once it grows: `options`,
//!    `channels`, `input`, `output`, `counters`, `tests`, as `sacn/` has), rename the type and
//!    [`Backend::name`].
//! 2. Register it in `registry()` (`lib.rs`) behind a cargo feature `NAME` in `Cargo.toml`: a
//!    pure-Rust backend joins `default`, one that links a C library stays opt-in (and gets a
//!    line in `scripts/test`'s table); add it to `COMPILED_OUT` under `cfg(not(feature))`,
//!    remove it from `UNSUPPORTED`, forward the feature in the root `Cargo.toml`.
//! 3. Fill in the methods below in the order the core calls them; each says what a backend with
//!    sockets does there.
//! 4. Test through `patchbay_core::testing::Rig`, as the tests at the end of this file do.

use rustc_hash::FxHashMap;
use std::time::Instant;

use patchbay_core::{
    Backend, ChannelCtx, ChannelError, ChannelId, ConfigCtx, Delivery, Direction, FatalError,
    InstanceId, Io, OptionError, Part, Ready, Sink, StartError,
};

const NO_OPTIONS: &str = "loopback takes no options";

/// The loopback backend; one value serves all `[loopback NAME]` instances.
#[derive(Debug, Default)]
pub struct Loopback {
    /// Per instance: channel name → key (names are per-instance name spaces). Config time only;
    /// looked up by `&str`, so a repeated lookup allocates nothing.
    keys: FxHashMap<InstanceId, FxHashMap<Box<str>, u64>>,
    next_key: u64,
}

impl Loopback {
    /// The backend, with no instances yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Backend for Loopback {
    fn name(&self) -> &'static str {
        "loopback"
    }

    /// Loopback hands values straight back, so mapping cycles through it can loop: the core
    /// warns about them at config time. Backends that talk to the outside world keep `false`.
    fn reemits(&self) -> bool {
        true
    }

    /// One `[backend loopback]` line. A real backend parses `value` here and returns
    /// `OptionError::Unknown` (listing its options) or `OptionError::Invalid` (saying what is
    /// allowed); nothing may be opened yet.
    fn configure(
        &mut self,
        _key: &str,
        _value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        ctx.warn(Part::Key, NO_OPTIONS);
        Ok(())
    }

    /// A `[loopback NAME]` section. A real backend keeps a record per instance, indexed by
    /// `InstanceId` (dense, so a `Vec` lookup).
    fn create_instance(&mut self, _instance: InstanceId, _name: &str) -> Result<(), OptionError> {
        Ok(())
    }

    /// One line of an instance section; checks that need every line (required options,
    /// collisions) belong in `validate`.
    fn configure_instance(
        &mut self,
        _instance: InstanceId,
        _key: &str,
        _value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        ctx.warn(Part::Key, NO_OPTIONS);
        Ok(())
    }

    /// One mapping endpoint: the name becomes the backend's key, the key a `ChannelId`. A real
    /// backend stores the id where its receive path finds it (per slot, per address) so that
    /// reporting an event is `sink.push(id, value)`.
    fn channel(
        &mut self,
        instance: InstanceId,
        name: &str,
        _direction: Direction,
        ctx: &mut ChannelCtx<'_>,
    ) -> Result<ChannelId, ChannelError> {
        if name.is_empty() {
            return Err(ChannelError {
                message: "loopback channel name is empty".into(),
            });
        }
        let names = self.keys.entry(instance).or_default();
        let key = match names.get(name) {
            Some(&key) => key,
            None => {
                let key = self.next_key;
                self.next_key += 1;
                names.insert(name.into(), key);
                key
            }
        };
        Ok(ctx.ids.resolve(instance, key))
    }

    /// A real backend opens its sockets here and registers them with `io`; a failure names the
    /// instance or option line at fault (`StartError::instance`, `StartError::option`).
    fn start(&mut self, _now: Instant, _io: &mut Io<'_>) -> Result<(), StartError> {
        // Names are only needed while mappings are read.
        self.keys = FxHashMap::default();
        Ok(())
    }

    /// A real backend reads every source whose `Ready::should_read` until it would block
    /// (within a budget, `patchbay_kit::ReadQueue`), pushes events for what changed and does
    /// its timer work (`poll_timeout` says when).
    fn process(
        &mut self,
        _: Instant,
        _: &[Ready],
        _: &mut Io<'_>,
        _: &mut Sink<'_>,
    ) -> Result<(), FatalError> {
        Ok(())
    }

    /// Values routed to one instance in one round. A real backend stores them (by
    /// `Delivery::key`) and sends in `flush`, once per turn; loopback re-reports them.
    fn handle(
        &mut self,
        _now: Instant,
        _instance: InstanceId,
        deliveries: &[Delivery],
        sink: &mut Sink<'_>,
    ) {
        for d in deliveries {
            sink.push(d.channel, d.value);
        }
    }

    /// A real backend sends an orderly goodbye (termination packets, a close) and reports
    /// `shutdown_complete` once it is out.
    fn shutdown(&mut self, _now: Instant, _io: &mut Io<'_>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_core::Value;
    use patchbay_core::testing::Rig;
    use std::time::Duration;

    #[test]
    fn options_are_accepted_with_a_warning() {
        let mut rig = Rig::new(Loopback::new());
        assert_eq!(
            rig.configure("foo", "bar"),
            Ok(vec![(Part::Key, NO_OPTIONS.to_string())])
        );
        let a = rig.add_instance("a").expect("instance");
        assert_eq!(
            rig.configure_instance(a, "x", "1"),
            Ok(vec![(Part::Key, NO_OPTIONS.to_string())])
        );
        assert!(rig.backend().reemits());
    }

    #[test]
    fn any_non_empty_name_is_a_channel_with_a_stable_id_per_instance() {
        let mut rig = Rig::new(Loopback::new());
        let (i0, i1) = (
            rig.add_instance("i0").unwrap(),
            rig.add_instance("i1").unwrap(),
        );
        let mut lookup = |inst, name: &str| {
            rig.channel(inst, name, Direction::Input)
                .map(|(id, warnings)| {
                    assert!(warnings.is_empty());
                    id
                })
        };
        let a = lookup(i0, "a").expect("a");
        let dotted = lookup(i0, "level1.r").expect("dotted");
        let slashed = lookup(i0, "x/y").expect("slashed");
        let other = lookup(i1, "a").expect("other instance");
        assert_eq!(lookup(i0, "a"), Ok(a));
        assert_eq!(lookup(i1, "a"), Ok(other));
        let all = [a, dotted, slashed, other];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(x, y);
            }
        }
        assert!(lookup(i0, "").is_err());
        assert_eq!(rig.core().registry().len(), 4);
    }

    #[test]
    fn handle_reemits_every_value_unchanged_in_order() {
        let mut rig = Rig::new(Loopback::new());
        let inst = rig.add_instance("l").unwrap();
        let (a, b) = (
            rig.output(inst, "a").unwrap(),
            rig.output(inst, "b").unwrap(),
        );
        assert_eq!(rig.input(inst, "a"), Ok(a));
        assert_eq!(rig.input(inst, "b"), Ok(b));
        rig.start().unwrap();
        let sent = [
            (a, Value::from_raw(40000, 16)),
            (b, Value::from_normalised(0.25)),
            (a, Value::from_raw(7, 8)),
        ];
        for (c, v) in sent {
            rig.set(c, v);
        }
        rig.turn(Duration::ZERO).unwrap();
        let got: Vec<(ChannelId, Value)> = rig
            .take_events()
            .iter()
            .map(|e| (e.channel, e.value))
            .collect();
        assert_eq!(got, sent);
        assert_eq!(got[0].1.raw(), Some((40000, 16)));
    }

    /// `loop` instance `loop` with `map` lists of (source, target) written as `loop.name`,
    /// plus the channels `sources` fed by the rig and `recorded` whose events the rig keeps.
    fn setup(
        map: &[(&str, &str)],
        sources: &[&str],
        recorded: &[&str],
    ) -> (Rig<Loopback>, Vec<ChannelId>) {
        let mut rig = Rig::new(Loopback::new());
        let lp = rig.add_instance("loop").expect("loop");
        let name = |side: &str| side.strip_prefix("loop.").expect("loop.name").to_string();
        for (s, t) in map {
            let s = rig
                .channel(lp, &name(s), Direction::Input)
                .expect("source")
                .0;
            let t = rig
                .channel(lp, &name(t), Direction::Output)
                .expect("target")
                .0;
            rig.map(s, t);
        }
        let mut ids = Vec::new();
        for s in sources {
            ids.push(rig.output(lp, &name(s)).expect("fed"));
        }
        for r in recorded {
            ids.push(rig.input(lp, &name(r)).expect("recorded"));
        }
        rig.start().expect("start");
        (rig, ids)
    }

    #[test]
    fn a_chain_through_loopback_completes_in_one_iteration() {
        // probe > loop.a (fed), loop.a > loop.b, loop.b > probe, loop.a > probe (recorded)
        let (mut rig, ids) = setup(&[("loop.a", "loop.b")], &["loop.a"], &["loop.b", "loop.a"]);
        let [a, b, a_again] = ids[..] else {
            panic!("three ids")
        };
        assert_eq!(a, a_again);
        rig.set(a, Value::from_raw(100, 16));
        rig.set(a, Value::from_raw(200, 16));
        rig.turn(Duration::ZERO).expect("turn");
        // Round 2 delivers loop.a's re-emission (to the probe and to loop.b), round 3 loop.b's.
        let got: Vec<(ChannelId, u64)> = rig
            .take_events()
            .iter()
            .map(|e| (e.channel, e.value.to_raw(16)))
            .collect();
        assert_eq!(got, vec![(a, 100), (a, 200), (b, 100), (b, 200)]);
        assert!(rig.core().cycles().is_empty());
    }

    #[test]
    fn loops_are_found_and_cut_at_run_time() {
        let (mut rig, ids) = setup(
            &[
                ("loop.a", "loop.a"),
                ("loop.b", "loop.c"),
                ("loop.c", "loop.b"),
            ],
            &["loop.a"],
            &[],
        );
        let cycles: Vec<Vec<String>> = rig
            .core()
            .cycles()
            .iter()
            .map(|c| c.iter().map(|&id| rig.core().channel_label(id)).collect())
            .collect();
        assert_eq!(
            cycles,
            vec![
                vec!["loop.a".to_string()],
                vec!["loop.b".to_string(), "loop.c".to_string()]
            ]
        );
        rig.set(ids[0], Value::from_raw(1, 8));
        rig.turn(Duration::ZERO).expect("turn");
        assert_eq!(rig.core().counters().dropped_by_round_limit, 1);
        rig.turn(Duration::ZERO).expect("turn");
        assert_eq!(rig.core().counters().dropped_by_round_limit, 1);
    }

    #[test]
    fn midimonster_default_config_is_idle() {
        // loop.a > loop.b ; loop.b < loop.c
        let (mut rig, _) = setup(&[("loop.a", "loop.b"), ("loop.c", "loop.b")], &[], &[]);
        rig.turn(Duration::ZERO).expect("turn");
        assert_eq!(rig.core().counters().events, 0);
        assert!(rig.core().cycles().is_empty());
    }
}
