//! The `loopback` backend (spec: loopback.md): named junction points. Whatever is delivered
//! to a loopback channel is reported again, unchanged and in order, as an event on the same
//! channel, and the core routes it in the next round of the same iteration.
//!
//! It has no descriptors, timers or wire effects. Options are accepted for MIDIMonster
//! compatibility but warned about, since they do nothing.

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
    /// Channel name → key, per instance (names are per-instance name spaces). Config time only.
    /// Per instance: channel name → key. Looked up by `&str`, so a repeated lookup allocates nothing.
    keys: FxHashMap<InstanceId, FxHashMap<Box<str>, u64>>,
    next_key: u64,
}

impl Loopback {
    pub fn new() -> Self {
        Self::default()
    }
}

impl Backend for Loopback {
    fn name(&self) -> &'static str {
        "loopback"
    }

    fn reemits(&self) -> bool {
        true
    }

    fn configure(
        &mut self,
        _key: &str,
        _value: &str,
        ctx: &mut ConfigCtx<'_>,
    ) -> Result<(), OptionError> {
        ctx.warn(Part::Key, NO_OPTIONS);
        Ok(())
    }

    fn create_instance(&mut self, _instance: InstanceId, _name: &str) -> Result<(), OptionError> {
        Ok(())
    }

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

    fn start(&mut self, _now: Instant, _io: &mut Io<'_>) -> Result<(), StartError> {
        // Names are only needed while mappings are read.
        self.keys = FxHashMap::default();
        Ok(())
    }

    fn process(
        &mut self,
        _: Instant,
        _: &[Ready],
        _: &mut Io<'_>,
        _: &mut Sink<'_>,
    ) -> Result<(), FatalError> {
        Ok(())
    }

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

    fn shutdown(&mut self, _now: Instant, _io: &mut Io<'_>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_core::{ChannelIds, ChannelRegistry, Core, Event, Value};
    use std::cell::RefCell;
    use std::path::Path;
    use std::rc::Rc;
    use std::time::Duration;

    fn lookup(
        lb: &mut Loopback,
        reg: &mut ChannelRegistry,
        inst: u32,
        name: &str,
    ) -> Result<ChannelId, ChannelError> {
        let mut warnings = Vec::new();
        let mut ctx = ChannelCtx {
            ids: reg,
            warnings: &mut warnings,
        };
        let r = lb.channel(InstanceId(inst), name, Direction::Input, &mut ctx);
        assert!(warnings.is_empty());
        r
    }

    #[test]
    fn options_are_accepted_with_a_warning() {
        let mut lb = Loopback::new();
        let mut warnings = Vec::new();
        let mut ctx = ConfigCtx {
            config_path: Path::new("test.cfg"),
            base_dir: Path::new("."),
            warnings: &mut warnings,
        };
        assert_eq!(lb.configure("foo", "bar", &mut ctx), Ok(()));
        assert_eq!(
            lb.configure_instance(InstanceId(0), "x", "1", &mut ctx),
            Ok(())
        );
        assert_eq!(
            warnings,
            vec![
                (Part::Key, NO_OPTIONS.to_string()),
                (Part::Key, NO_OPTIONS.to_string())
            ]
        );
        assert!(lb.reemits());
    }

    #[test]
    fn any_non_empty_name_is_a_channel_with_a_stable_id_per_instance() {
        let mut lb = Loopback::new();
        let mut reg = ChannelRegistry::new();
        let a = lookup(&mut lb, &mut reg, 0, "a").expect("a");
        let dotted = lookup(&mut lb, &mut reg, 0, "level1.r").expect("dotted");
        let slashed = lookup(&mut lb, &mut reg, 0, "x/y").expect("slashed");
        let other = lookup(&mut lb, &mut reg, 1, "a").expect("other instance");
        assert_eq!(lookup(&mut lb, &mut reg, 0, "a"), Ok(a));
        assert_eq!(lookup(&mut lb, &mut reg, 1, "a"), Ok(other));
        let all = [a, dotted, slashed, other];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(x, y);
            }
        }
        assert!(lookup(&mut lb, &mut reg, 0, "").is_err());
        assert_eq!(reg.len(), 4);
    }

    #[test]
    fn handle_reemits_every_value_unchanged_in_order() {
        let mut lb = Loopback::new();
        let mut reg = ChannelRegistry::new();
        let a = reg.resolve(InstanceId(0), 0);
        let b = reg.resolve(InstanceId(0), 1);
        let deliveries = [
            Delivery {
                channel: a,
                key: 0,
                value: Value::from_raw(40000, 16),
            },
            Delivery {
                channel: b,
                key: 1,
                value: Value::from_normalised(0.25),
            },
            Delivery {
                channel: a,
                key: 0,
                value: Value::from_raw(7, 8),
            },
        ];
        let mut out = Vec::new();
        lb.handle(
            Instant::now(),
            InstanceId(0),
            &deliveries,
            &mut Sink::new(&mut out),
        );
        let expected: Vec<Event> = deliveries
            .iter()
            .map(|d| Event {
                channel: d.channel,
                value: d.value,
            })
            .collect();
        assert_eq!(out, expected);
        assert_eq!(out[0].value.raw(), Some((40000, 16)));
    }

    /// Pushes queued values on its channel `0` every `process`, and records what it is sent.
    struct Probe {
        inbox: Rc<RefCell<Vec<(ChannelId, Value)>>>,
        seen: Rc<RefCell<Vec<(ChannelId, u64)>>>,
    }

    impl Backend for Probe {
        fn name(&self) -> &'static str {
            "probe"
        }
        fn configure(
            &mut self,
            _: &str,
            _: &str,
            _: &mut ConfigCtx<'_>,
        ) -> Result<(), OptionError> {
            Ok(())
        }
        fn create_instance(&mut self, _: InstanceId, _: &str) -> Result<(), OptionError> {
            Ok(())
        }
        fn configure_instance(
            &mut self,
            _: InstanceId,
            _: &str,
            _: &str,
            _: &mut ConfigCtx<'_>,
        ) -> Result<(), OptionError> {
            Ok(())
        }
        fn channel(
            &mut self,
            i: InstanceId,
            name: &str,
            _: Direction,
            ctx: &mut ChannelCtx<'_>,
        ) -> Result<ChannelId, ChannelError> {
            let key = name.parse().map_err(|_| ChannelError {
                message: name.into(),
            })?;
            Ok(ctx.ids.resolve(i, key))
        }
        fn start(&mut self, _: Instant, _: &mut Io<'_>) -> Result<(), StartError> {
            Ok(())
        }
        fn process(
            &mut self,
            _: Instant,
            _: &[Ready],
            _: &mut Io<'_>,
            sink: &mut Sink<'_>,
        ) -> Result<(), FatalError> {
            for (c, v) in self.inbox.borrow_mut().drain(..) {
                sink.push(c, v);
            }
            Ok(())
        }
        fn handle(&mut self, _: Instant, _: InstanceId, d: &[Delivery], _: &mut Sink<'_>) {
            self.seen
                .borrow_mut()
                .extend(d.iter().map(|d| (d.channel, d.value.to_raw(16))));
        }
        fn shutdown(&mut self, _: Instant, _: &mut Io<'_>) {}
    }

    struct Setup {
        core: Core,
        inbox: Rc<RefCell<Vec<(ChannelId, Value)>>>,
        seen: Rc<RefCell<Vec<(ChannelId, u64)>>>,
    }

    /// `probe` instance `p` and loopback instance `loop`; `map` lists (source, target)
    /// written as `inst.name`.
    fn setup(map: &[(&str, &str)]) -> Setup {
        let inbox = Rc::default();
        let seen = Rc::default();
        let probe = Probe {
            inbox: Rc::clone(&inbox),
            seen: Rc::clone(&seen),
        };
        let mut core = Core::new(vec![Box::new(Loopback::new()), Box::new(probe)]).expect("core");
        let lp = core.add_instance(0, "loop").expect("loop");
        let p = core.add_instance(1, "p").expect("p");
        let resolve = |core: &mut Core, side: &str, dir| {
            let (inst, name) = side.split_once('.').expect("inst.name");
            let id = if inst == "loop" { lp } else { p };
            core.channel(id, name, dir, &mut Vec::new())
                .expect("channel")
        };
        for (s, t) in map {
            let s = resolve(&mut core, s, Direction::Input);
            let t = resolve(&mut core, t, Direction::Output);
            core.add_mapping(s, t);
        }
        core.start().expect("start");
        Setup { core, inbox, seen }
    }

    fn id(core: &Core, label: &str) -> ChannelId {
        (0..core.registry().len() as u32)
            .map(ChannelId)
            .find(|&c| core.channel_label(c) == label)
            .expect("label")
    }

    #[test]
    fn a_chain_through_loopback_completes_in_one_iteration() {
        let mut s = setup(&[
            ("p.1", "loop.a"),
            ("loop.a", "loop.b"),
            ("loop.b", "p.2"),
            ("loop.a", "p.3"),
        ]);
        let src = id(&s.core, "p.1");
        s.inbox.borrow_mut().extend([
            (src, Value::from_raw(100, 16)),
            (src, Value::from_raw(200, 16)),
        ]);
        s.core.turn(Some(Duration::ZERO)).expect("turn");
        let (p2, p3) = (id(&s.core, "p.2"), id(&s.core, "p.3"));
        // Round 2 delivers loop.a's re-emission to p.3, round 3 loop.b's to p.2.
        assert_eq!(
            *s.seen.borrow(),
            vec![(p3, 100), (p3, 200), (p2, 100), (p2, 200)]
        );
        assert!(s.core.cycles().is_empty());
    }

    #[test]
    fn loops_are_found_and_cut_at_run_time() {
        let mut s = setup(&[
            ("p.1", "loop.a"),
            ("loop.a", "loop.a"),
            ("loop.b", "loop.c"),
            ("loop.c", "loop.b"),
        ]);
        let cycles: Vec<Vec<String>> = s
            .core
            .cycles()
            .iter()
            .map(|c| c.iter().map(|&id| s.core.channel_label(id)).collect())
            .collect();
        assert_eq!(
            cycles,
            vec![
                vec!["loop.a".to_string()],
                vec!["loop.b".to_string(), "loop.c".to_string()]
            ]
        );
        let src = id(&s.core, "p.1");
        s.inbox.borrow_mut().push((src, Value::from_raw(1, 8)));
        s.core.turn(Some(Duration::ZERO)).expect("turn");
        assert_eq!(s.core.counters().dropped_by_round_limit, 1);
        s.core.turn(Some(Duration::ZERO)).expect("turn");
        assert_eq!(s.core.counters().dropped_by_round_limit, 1);
    }

    #[test]
    fn midimonster_default_config_is_idle() {
        // loop.a > loop.b ; loop.b < loop.c
        let mut s = setup(&[("loop.a", "loop.b"), ("loop.c", "loop.b")]);
        s.core.turn(Some(Duration::ZERO)).expect("turn");
        assert_eq!(s.core.counters().events, 0);
        assert!(s.core.cycles().is_empty());
    }
}
