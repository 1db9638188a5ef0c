//! The lua backend through the test rig: options, every API function with the values it gives
//! and takes, timers and threads on the rig's manual clock, errors and limits, and
//! MIDIMonster's own example scripts (tests/configs/midimonster) run unchanged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use patchbay_core::testing::Rig;
use patchbay_core::{Backend, ChannelId, Direction, InstanceId, OptionError, Part, Value};
use proptest::prelude::*;

use super::LuaBackend;

const MS: fn(u64) -> Duration = Duration::from_millis;

/// A rig with one instance `l` running the scripts `scripts` (name, text) written to a fresh
/// directory, after the instance `options`.
struct Lua {
    rig: Rig<LuaBackend>,
    inst: InstanceId,
    dir: tempfile::TempDir,
}

impl Lua {
    fn new(scripts: &[(&str, &str)], options: &[(&str, &str)]) -> Lua {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut rig = Rig::new(LuaBackend::new());
        let inst = rig.add_instance("l").expect("instance");
        for (k, v) in options {
            rig.configure_instance(inst, k, v).expect("option");
        }
        let mut lua = Lua { rig, inst, dir };
        for (name, text) in scripts {
            let path = lua.write(name, text);
            lua.rig
                .configure_instance(inst, "script", &path)
                .unwrap_or_else(|e| panic!("script {name}: {e}"));
        }
        lua
    }

    /// With one script, `s.lua`.
    fn script(text: &str) -> Lua {
        Lua::new(&[("s.lua", text)], &[])
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write script");
        path.to_string_lossy().into_owned()
    }

    /// A channel the rig feeds (its values go to the handler).
    fn to(&mut self, name: &str) -> ChannelId {
        self.rig.output(self.inst, name).expect("target channel")
    }

    /// A channel whose events the rig records (the script outputs on it).
    fn from(&mut self, name: &str) -> ChannelId {
        self.rig.input(self.inst, name).expect("source channel")
    }

    fn start(&mut self) {
        self.rig.start().expect("start");
    }

    fn turn(&mut self) {
        self.rig.turn(Duration::ZERO).expect("turn");
    }

    fn send(&mut self, channel: ChannelId, value: Value) {
        self.rig.set(channel, value);
        self.turn();
    }

    fn advance(&mut self, by: Duration) {
        self.rig.advance(by);
        self.turn();
    }

    /// Recorded (channel, level) pairs since the last call.
    fn levels(&mut self) -> Vec<(ChannelId, f64)> {
        self.rig
            .take_events()
            .iter()
            .map(|e| (e.channel, e.value.normalised()))
            .collect()
    }

    fn stat(&self, name: &str) -> u64 {
        self.rig
            .stat("l", name)
            .unwrap_or_else(|| panic!("no counter {name}"))
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

// ----- options --------------------------------------------------------------------------------

#[test]
fn global_options_are_refused_and_instance_options_are_listed() {
    let mut rig = Rig::new(LuaBackend::new());
    let e = rig
        .configure("script", "x.lua")
        .expect_err("no global options");
    assert_eq!(e.part(), Part::Key);
    assert!(e.to_string().contains("per instance"), "{e}");
    let inst = rig.add_instance("l").expect("instance");
    let e = rig
        .configure_instance(inst, "scirpt", "x.lua")
        .expect_err("unknown");
    assert!(matches!(e, OptionError::Unknown { .. }));
    assert!(
        e.to_string().contains("script, source, default-handler"),
        "{e}"
    );
    for (k, v) in [
        ("default-handler", ""),
        ("memory-limit", "0"),
        ("instruction-limit", "10"),
        ("script", " "),
    ] {
        let e = rig.configure_instance(inst, k, v).expect_err(k);
        assert_eq!(e.part(), Part::Value, "{k}");
    }
}

#[test]
fn a_missing_script_and_a_syntax_error_are_configuration_errors_at_the_value() {
    let lua = Lua::new(&[], &[]);
    let mut rig = lua.rig;
    let missing = lua.dir.path().join("nope.lua");
    let e = rig
        .configure_instance(lua.inst, "script", &missing.to_string_lossy())
        .expect_err("missing file");
    assert_eq!(e.part(), Part::Value);
    assert!(e.to_string().contains("cannot read Lua script"), "{e}");
    assert!(e.to_string().contains("nope.lua"), "{e}");
    let e = rig
        .configure_instance(lua.inst, "script", "/dev/zero")
        .expect_err("endless file");
    assert!(e.to_string().contains("larger than 16 MiB"), "{e}");

    let bad = lua.dir.path().join("bad.lua");
    std::fs::write(&bad, "x = 1\nfunction f(v)\n  output('a', = v)\nend\n").expect("write");
    let shown = bad.to_string_lossy().into_owned();
    let e = rig
        .configure_instance(lua.inst, "source", &shown)
        .expect_err("syntax error");
    assert_eq!(e.part(), Part::Value);
    assert_eq!(
        e.to_string(),
        format!("Lua script does not compile: {shown}:3:15: unexpected symbol near '='")
    );
}

#[test]
fn scripts_run_at_start_in_order_and_their_outputs_are_reported_in_the_first_turn() {
    let mut l = Lua::new(
        &[
            ("a.lua", "order = 'a'\noutput('level', 0.5)"),
            ("b.lua", "order = order .. 'b'\noutput('order', #order / 4)"),
        ],
        &[],
    );
    let level = l.from("level");
    let order = l.from("order");
    // Compiled at configuration time, not run: nothing of it exists yet.
    let ran = |l: &Lua| {
        let b = l.rig.backend();
        let inst = b.get(l.inst).expect("instance");
        inst.lua()
            .globals()
            .get::<Option<String>>("order")
            .expect("get")
    };
    assert_eq!(ran(&l), None);
    l.start();
    assert_eq!(ran(&l).as_deref(), Some("ab"));
    l.turn();
    assert_eq!(l.levels(), [(level, 0.5), (order, 0.5)]);
}

// ----- the API ----------------------------------------------------------------------------------

#[test]
fn a_handler_gets_the_normalised_value_and_its_outputs_are_clamped() {
    let mut l = Lua::script(
        "function fader(v)\n output('half', v / 2)\n output('over', v * 3)\n output('under', -v)\nend",
    );
    let fader = l.to("fader");
    let (half, over, under) = (l.from("half"), l.from("over"), l.from("under"));
    l.start();
    l.send(fader, Value::from_raw(128, 8));
    assert_eq!(
        l.levels(),
        [(half, 128.0 / 255.0 / 2.0), (over, 1.0), (under, 0.0)]
    );
    assert_eq!(l.stat("handler_calls"), 1);
    assert_eq!(l.stat("outputs"), 3);
}

#[test]
fn a_value_output_is_not_fed_back_to_its_own_handler_unless_mapped_back() {
    let mut l = Lua::script(
        "calls = 0\nfunction a(v)\n calls = calls + 1\n output('a', v / 2)\n output('b', v / 4)\nend\n\
         function b(v) output('c', v) end",
    );
    let a = l.to("a");
    let a_out = l.from("a");
    let c = l.from("c");
    // lua.b > lua.b: the script's output on b comes back to b's handler.
    let b_src = l.rig.channel(l.inst, "b", Direction::Input).expect("b").0;
    let b_dst = l.rig.channel(l.inst, "b", Direction::Output).expect("b").0;
    assert!(l.rig.map(b_src, b_dst));
    l.start();
    l.send(a, Value::from_normalised(0.8));
    assert_eq!(l.levels(), [(a_out, 0.4), (c, 0.2)]);
    assert_eq!(l.stat("handler_calls"), 2, "a once, b once");
}

#[test]
fn input_value_is_the_previous_value_inside_the_handler_and_output_value_the_last_output() {
    let mut l = Lua::script(
        "function a(v)\n output('prev', input_value('a'))\n output('x', v / 2)\n\
         output('lastx', output_value('x'))\nend\n\
         function b(v) output('a_now', input_value('a')) end",
    );
    let (a, b) = (l.to("a"), l.to("b"));
    let (prev, lastx, a_now) = (l.from("prev"), l.from("lastx"), l.from("a_now"));
    let x = l.from("x");
    l.start();
    l.send(a, Value::from_normalised(0.5));
    assert_eq!(l.levels(), [(prev, 0.0), (x, 0.25), (lastx, 0.25)]);
    l.send(a, Value::from_normalised(0.75));
    assert_eq!(l.levels(), [(prev, 0.5), (x, 0.375), (lastx, 0.375)]);
    l.send(b, Value::from_normalised(1.0));
    assert_eq!(l.levels(), [(a_now, 0.75)]);
    assert_eq!(l.stat("unknown_channel"), 0);
}

#[test]
fn unknown_channels_are_counted_and_read_as_nil() {
    let mut l = Lua::script(
        "function a(v)\n output('nobody', v)\n output('isnil', input_value('nobody') == nil and 1 or 0)\nend",
    );
    let a = l.to("a");
    let isnil = l.from("isnil");
    l.start();
    l.send(a, Value::from_normalised(0.5));
    assert_eq!(l.levels(), [(isnil, 1.0)]);
    assert_eq!(l.stat("unknown_channel"), 2);
}

#[test]
fn api_misuse_is_ignored_and_counted_as_midimonster_ignores_it() {
    let mut l = Lua::script(
        "function a(v)\n output('x')\n output({}, 1)\n cleanup_handler(5)\n output('ok', v)\nend",
    );
    let a = l.to("a");
    let (x, ok) = (l.from("x"), l.from("ok"));
    l.start();
    l.send(a, Value::from_normalised(0.5));
    assert_eq!(l.levels(), [(ok, 0.5)]);
    let _ = x;
    assert_eq!(l.stat("api_misuse"), 3);
    assert_eq!(l.stat("errors.script"), 0);
}

#[test]
fn non_numbers_are_errors_as_midimonster_makes_them() {
    let mut l = Lua::script(
        "function a(v)\n output('x', 'half')\nend\nfunction b(v) output('x', '0.25') end",
    );
    let (a, b) = (l.to("a"), l.to("b"));
    let x = l.from("x");
    l.start();
    l.send(a, Value::from_normalised(0.5));
    l.send(b, Value::from_normalised(0.5));
    assert_eq!(l.levels(), [(x, 0.25)], "numeric strings are numbers");
    assert_eq!(l.stat("errors.script"), 1);
}

#[test]
fn input_channel_names_the_running_handler_and_is_nil_elsewhere() {
    let mut l = Lua::new(
        &[(
            "s.lua",
            "function h(v) output(input_channel() .. '.seen', v) end\n\
             function tick() output('tick_nil', input_channel() == nil and 1 or 0) end\n\
             output('load_nil', input_channel() == nil and 1 or 0)\ninterval(tick, 10)",
        )],
        &[("default-handler", "h")],
    );
    let (x, y) = (l.to("x.1"), l.to("y"));
    let (x_seen, y_seen) = (l.from("x.1.seen"), l.from("y.seen"));
    let (tick_nil, load_nil) = (l.from("tick_nil"), l.from("load_nil"));
    l.start();
    l.turn();
    assert_eq!(l.levels(), [(load_nil, 1.0)]);
    l.send(x, Value::from_normalised(0.5));
    l.send(y, Value::from_normalised(0.25));
    assert_eq!(l.levels(), [(x_seen, 0.5), (y_seen, 0.25)]);
    l.advance(MS(10));
    assert_eq!(l.levels(), [(tick_nil, 1.0)]);
}

#[test]
fn timestamp_is_milliseconds_of_the_loop_clock() {
    let mut l = Lua::script(
        "base = timestamp()\nfunction t(v) output('elapsed', (timestamp() - base) / 1000) end",
    );
    let t = l.to("t");
    let elapsed = l.from("elapsed");
    l.start();
    l.rig.advance(MS(250));
    l.send(t, Value::from_normalised(1.0));
    assert_eq!(l.levels(), [(elapsed, 0.25)]);
    let base: f64 = {
        let b = l.rig.backend();
        b.get(l.inst)
            .expect("inst")
            .lua()
            .globals()
            .get("base")
            .expect("base")
    };
    assert!(
        base > 0.0 && base.fract() == 0.0,
        "monotonic milliseconds, {base}"
    );
}

#[test]
fn intervals_run_from_the_loop_every_rounded_period_and_zero_stops_them() {
    let mut l = Lua::script(
        "n = 0\nfunction tick()\n n = n + 1\n output('n', n / 10)\n if n == 3 then interval(tick, 0) end\nend\n\
         interval(tick, 104)",
    );
    let n = l.from("n");
    l.start();
    let t0 = l.rig.now();
    assert_eq!(
        l.rig.backend().poll_timeout(),
        Some(t0 + MS(100)),
        "104 rounds to 100"
    );
    l.advance(MS(99));
    assert_eq!(l.levels(), []);
    l.advance(MS(1));
    assert_eq!(l.levels(), [(n, 0.1)]);
    // A stall: missed periods are skipped, the phase is kept.
    l.advance(MS(250));
    assert_eq!(l.levels(), [(n, 0.2)]);
    assert_eq!(l.rig.backend().poll_timeout(), Some(t0 + MS(400)));
    l.advance(MS(50));
    assert_eq!(l.levels(), [(n, 0.3)]);
    assert_eq!(l.rig.backend().poll_timeout(), None, "stopped");
    l.advance(MS(1000));
    assert_eq!(l.levels(), []);
    assert_eq!(l.stat("timer_calls"), 3);
}

#[test]
fn calling_interval_again_changes_the_period_from_now() {
    let mut l = Lua::script(
        "function tick() output('t', 1) end\nfunction fast(v) interval(tick, 20) end\ninterval(tick, 1000)",
    );
    let fast = l.to("fast");
    let t = l.from("t");
    l.start();
    l.rig.advance(MS(500));
    l.send(fast, Value::from_normalised(1.0));
    let now = l.rig.now();
    assert_eq!(l.rig.backend().poll_timeout(), Some(now + MS(20)));
    l.advance(MS(20));
    assert_eq!(l.levels(), [(t, 1.0)]);
}

#[test]
fn threads_run_until_their_first_sleep_and_wake_on_the_loop_clock() {
    let mut l = Lua::script(
        "thread(function()\n output('t', 0.1)\n sleep(1000)\n output('t', 0.2)\n sleep(500)\n\
         output('t', 0.3)\nend)",
    );
    let t = l.from("t");
    l.start();
    let t0 = l.rig.now();
    l.turn();
    assert_eq!(l.levels(), [(t, 0.1)]);
    assert_eq!(l.rig.backend().poll_timeout(), Some(t0 + MS(1000)));
    l.advance(MS(999));
    assert_eq!(l.levels(), []);
    l.advance(MS(1));
    assert_eq!(l.levels(), [(t, 0.2)]);
    l.advance(MS(500));
    assert_eq!(l.levels(), [(t, 0.3)]);
    assert_eq!(l.rig.backend().poll_timeout(), None, "the thread ended");
    assert!(
        l.rig
            .backend()
            .get(l.inst)
            .expect("inst")
            .shared()
            .threads
            .is_empty()
    );
    assert_eq!(l.stat("thread_resumes"), 3);
}

#[test]
fn a_thread_started_by_a_handler_runs_at_once_and_threads_interleave() {
    let mut l = Lua::script(
        "function go(v)\n thread(function()\n  for i = 1, 3 do output('a', i / 10) sleep(100) end\n end)\n\
         thread(function()\n  for i = 1, 3 do output('b', i / 10) sleep(150) end\n end)\nend",
    );
    let go = l.to("go");
    let (a, b) = (l.from("a"), l.from("b"));
    l.start();
    l.send(go, Value::from_normalised(1.0));
    assert_eq!(l.levels(), [(a, 0.1), (b, 0.1)]);
    l.advance(MS(100));
    assert_eq!(l.levels(), [(a, 0.2)]);
    l.advance(MS(50));
    assert_eq!(l.levels(), [(b, 0.2)]);
    l.advance(MS(50));
    assert_eq!(l.levels(), [(a, 0.3)]);
    l.advance(MS(100));
    assert_eq!(l.levels(), [(b, 0.3)]);
}

#[test]
fn sleep_outside_a_thread_is_an_error_and_a_bare_yield_waits_a_millisecond() {
    let mut l = Lua::script(
        "function s(v) sleep(10) output('after', 1) end\n\
         thread(function() for i = 1, 3 do output('y', i / 10) coroutine.yield() end end)",
    );
    let s = l.to("s");
    let (after, y) = (l.from("after"), l.from("y"));
    l.start();
    l.turn();
    assert_eq!(l.levels(), [(y, 0.1)]);
    l.advance(MS(1));
    assert_eq!(l.levels(), [(y, 0.2)]);
    l.send(s, Value::from_normalised(1.0));
    assert!(!l.levels().contains(&(after, 1.0)));
    assert_eq!(l.stat("errors.script"), 1);
}

#[test]
fn channels_lists_every_channel_of_the_instance() {
    let mut l = Lua::script(
        "function list(v) output('count', #channels() / 10) output(channels()[3], 1) end",
    );
    let list = l.to("list");
    let count = l.from("count");
    let third = l.from("third");
    l.start();
    l.send(list, Value::from_normalised(1.0));
    assert_eq!(l.levels(), [(count, 0.3), (third, 1.0)]);
}

#[test]
fn the_cleanup_handler_runs_at_shutdown_and_replacing_it_returns_the_old_one() {
    let lua = Lua::new(&[], &[]);
    let flag = lua.dir.path().join("cleaned");
    let text = format!(
        "function a() end\nfunction b() local f = io.open({:?}, 'w') f:write('bye') f:close() end\n\
         first = cleanup_handler(a)\nsecond = cleanup_handler(b)\n\
         output('was_a', (first == nil and second == a) and 1 or 0)",
        flag.to_string_lossy()
    );
    let path = lua.write("s.lua", &text);
    let mut l = lua;
    l.rig
        .configure_instance(l.inst, "script", &path)
        .expect("script");
    let was_a = l.from("was_a");
    l.start();
    l.turn();
    assert_eq!(l.levels(), [(was_a, 1.0)]);
    assert!(!flag.exists());
    l.rig.shutdown();
    assert_eq!(std::fs::read_to_string(&flag).expect("cleanup ran"), "bye");
    assert!(
        l.rig.turn(Duration::ZERO).expect("turn").is_some(),
        "nothing to wait for"
    );
}

#[test]
fn api_names_as_channels_get_no_handler_but_the_default_handler_gets_everything() {
    let mut l = Lua::script("function a(v) output('r', v) end");
    let out = l.to("output");
    let a = l.to("a");
    let r = l.from("r");
    l.start();
    l.send(out, Value::from_normalised(0.5));
    l.send(a, Value::from_normalised(0.25));
    assert_eq!(l.levels(), [(r, 0.25)]);
    assert_eq!((l.stat("unhandled"), l.stat("handler_calls")), (1, 1));

    let mut l = Lua::new(
        &[(
            "s.lua",
            "function a(v) output('wrong', 1) end\nfunction h(v) output('r', v) end",
        )],
        &[("default-handler", "h")],
    );
    let out = l.to("output");
    let a = l.to("a");
    let r = l.from("r");
    l.start();
    l.send(out, Value::from_normalised(0.5));
    l.send(a, Value::from_normalised(0.25));
    assert_eq!(l.levels(), [(r, 0.5), (r, 0.25)]);
}

#[test]
fn handlers_are_found_once_at_start_as_midimonster_finds_them() {
    // The handler reassigns its own name (MIDIMonster's trackpad.lua does); it stays the handler.
    let mut l = Lua::script("function x(v) x = v output('seen', v) end");
    let x = l.to("x");
    let seen = l.from("seen");
    l.start();
    l.send(x, Value::from_normalised(0.5));
    l.send(x, Value::from_normalised(0.25));
    assert_eq!(l.levels(), [(seen, 0.5), (seen, 0.25)]);
}

// ----- values -----------------------------------------------------------------------------------

fn passthrough() -> (Lua, ChannelId, ChannelId, ChannelId) {
    let mut l =
        Lua::script("function a(v)\n output('b', v)\n output('prev', input_value('a'))\nend");
    let a = l.to("a");
    let (b, prev) = (l.from("b"), l.from("prev"));
    l.start();
    (l, a, b, prev)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A value the script passes on unchanged keeps its raw integer and width: every 8-bit and
    /// 16-bit value leaves as it came, and so does one read back with input_value.
    #[test]
    fn values_passed_through_keep_their_raw_integer(
        values in prop::collection::vec(
            prop_oneof![(0u64..=255).prop_map(|v| (v, 8u8)), (0u64..=65535).prop_map(|v| (v, 16u8))],
            1..16,
        )
    ) {
        let (mut l, a, b, prev) = passthrough();
        let mut last: Option<(u64, u8)> = None;
        for (raw, bits) in values {
            l.send(a, Value::from_raw(raw, bits));
            let events = l.rig.take_events();
            prop_assert_eq!(events.len(), 2);
            prop_assert_eq!(events[0].channel, b);
            prop_assert_eq!(events[0].value.raw(), Some((raw, bits)));
            prop_assert_eq!(events[1].channel, prev);
            match last {
                Some((r, w)) => prop_assert_eq!(events[1].value.to_raw(w), r),
                None => prop_assert_eq!(events[1].value.normalised(), 0.0),
            }
            last = Some((raw, bits));
        }
    }
}

#[test]
fn every_8_and_16_bit_value_passes_a_script_unchanged() {
    let (mut l, a, b, _) = passthrough();
    for (max, bits) in [(255u64, 8u8), (65535, 16)] {
        for raw in 0..=max {
            l.rig.set(a, Value::from_raw(raw, bits));
        }
        l.turn();
        let got: Vec<u64> = l
            .rig
            .take_events()
            .iter()
            .filter(|e| e.channel == b)
            .map(|e| {
                assert_eq!(e.value.raw().map(|r| r.1), Some(bits));
                e.value.to_raw(bits)
            })
            .collect();
        assert_eq!(got, (0..=max).collect::<Vec<_>>());
    }
}

#[test]
fn computed_values_have_no_raw_integer() {
    let mut l = Lua::script("function a(v) output('b', v * 0.5) end");
    let a = l.to("a");
    let b = l.from("b");
    l.start();
    l.send(a, Value::from_raw(200, 8));
    let e = l.rig.take_events();
    assert_eq!((e[0].channel, e[0].value.raw()), (b, None));
    assert!(close(e[0].value.normalised(), 100.0 / 255.0));
}

// ----- errors and limits ------------------------------------------------------------------------

#[test]
fn a_failing_handler_is_skipped_and_counted_and_the_instance_keeps_running() {
    let mut l = Lua::script(
        "function a(v)\n if v > 0.5 then error('too high') end\n output('ok', v)\nend\n\
         function b(v) local t = nil; output('never', t.x) end",
    );
    let (a, b) = (l.to("a"), l.to("b"));
    let ok = l.from("ok");
    l.start();
    l.send(a, Value::from_normalised(1.0));
    l.send(b, Value::from_normalised(1.0));
    l.send(a, Value::from_normalised(0.25));
    assert_eq!(l.levels(), [(ok, 0.25)]);
    assert_eq!(l.stat("errors.script"), 2);
    // The failed handlers still stored their values.
    let inputs: Vec<f64> = {
        let b = l.rig.backend();
        let s = b.get(l.inst).expect("inst").shared();
        s.channels.iter().map(|c| c.input.normalised()).collect()
    };
    assert_eq!(&inputs[..2], &[0.25, 1.0]);
}

#[test]
fn an_endless_loop_in_a_handler_is_stopped_and_the_next_value_is_handled() {
    let mut l = Lua::new(
        &[(
            "s.lua",
            "function a(v)\n if v > 0.5 then\n  while true do end\n end\n output('ok', v)\nend",
        )],
        &[("instruction-limit", "100000")],
    );
    let a = l.to("a");
    let ok = l.from("ok");
    l.start();
    l.send(a, Value::from_normalised(1.0));
    l.send(a, Value::from_normalised(0.25));
    assert_eq!(l.levels(), [(ok, 0.25)]);
    assert_eq!(l.stat("errors.instruction_limit"), 1);
    assert_eq!(l.stat("errors.script"), 0);
}

#[test]
fn endless_loops_in_intervals_and_threads_are_stopped() {
    let mut l = Lua::new(
        &[(
            "s.lua",
            "function spin() while true do end end\ninterval(spin, 10)\n\
             thread(function() sleep(10) pcall(spin) output('never', 1) end)\n\
             function tick() output('alive', 1) end\ninterval(tick, 10)",
        )],
        &[("instruction-limit", "50000")],
    );
    let alive = l.from("alive");
    l.start();
    l.advance(MS(10));
    l.advance(MS(10));
    assert_eq!(l.levels(), [(alive, 1.0), (alive, 1.0)]);
    assert_eq!(
        l.stat("errors.instruction_limit"),
        3,
        "spin twice, the thread once"
    );
}

#[test]
fn an_endless_loop_or_an_error_at_start_fails_the_start_with_the_place() {
    let mut l = Lua::new(
        &[("spin.lua", "x = 1\nwhile x > 0 do\n x = x + 1\nend")],
        &[("instruction-limit", "50000")],
    );
    let e = l.rig.start().expect_err("stopped");
    let text = e.to_string();
    assert!(text.contains("spin.lua failed: stopped at "), "{text}");
    assert!(
        text.contains("spin.lua:3") || text.contains("spin.lua:2"),
        "{text}"
    );
    assert!(text.contains("instruction-limit"), "{text}");

    let mut l = Lua::new(&[("err.lua", "local t\n\nprint(t.field)")], &[]);
    let text = l.rig.start().expect_err("error").to_string();
    assert!(
        text.contains("err.lua:3: attempt to index a nil value"),
        "{text}"
    );
}

#[test]
fn the_memory_limit_stops_a_call_and_the_instance_goes_on() {
    let mut l = Lua::new(
        &[(
            "s.lua",
            "function grow(v)\n local t = {}\n for i = 1, 1e8 do t[i] = i end\nend\n\
             function a(v) output('ok', v) end",
        )],
        &[("memory-limit", "4"), ("instruction-limit", "100000000000")],
    );
    let (grow, a) = (l.to("grow"), l.to("a"));
    let ok = l.from("ok");
    l.start();
    l.send(grow, Value::from_normalised(1.0));
    l.send(a, Value::from_normalised(0.5));
    assert_eq!(l.levels(), [(ok, 0.5)]);
    assert_eq!(l.stat("errors.memory_limit"), 1);
    assert!(l.stat("memory_bytes") < 4 << 20);
}

#[test]
fn the_debug_library_and_c_modules_are_not_available() {
    let mut l = Lua::script(
        "function a(v)\n output('debug', debug == nil and 1 or 0)\n\
         output('cmod', pcall(require, 'socket') and 0 or 1)\nend",
    );
    let a = l.to("a");
    let (d, c) = (l.from("debug"), l.from("cmod"));
    l.start();
    l.send(a, Value::from_normalised(1.0));
    assert_eq!(l.levels(), [(d, 1.0), (c, 1.0)]);
}

// ----- MIDIMonster's example scripts --------------------------------------------------------------

fn midimonster(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/configs/midimonster")
        .join(name)
}

/// An instance running one of MIDIMonster's scripts as it is.
fn example(name: &str, options: &[(&str, &str)]) -> Lua {
    let mut l = Lua::new(&[], options);
    let path = midimonster(name);
    l.rig
        .configure_instance(l.inst, "script", &path.to_string_lossy())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    l
}

#[test]
fn midimonster_demo_lua_spreads_one_channel_and_runs_its_chase() {
    // configs/lua.cfg: mouse/xbox > lua.click, lua.offset, lua.width; art < lua.out{0..10}, lua.dim
    let mut l = example("demo.lua", &[]);
    let (offset, width) = (l.to("offset"), l.to("width"));
    let outs: Vec<ChannelId> = (0..=10).map(|n| l.from(&format!("out{n}"))).collect();
    let dim = l.from("dim");
    l.start();
    // Inside a handler input_value gives the channel's previous value (MIDIMonster's rule), so
    // each event shows the one before it.
    l.send(width, Value::from_normalised(0.5));
    l.take_and_check_polynomial(&outs, 0.0, 0.0);
    l.send(offset, Value::from_normalised(0.5));
    l.take_and_check_polynomial(&outs, 0.5, 0.0);
    l.send(width, Value::from_normalised(0.25));
    l.take_and_check_polynomial(&outs, 0.5, 0.5);
    l.advance(MS(1000));
    assert_eq!(l.levels(), [(dim, 1.0)]);
    l.advance(MS(1000));
    assert_eq!(l.levels(), [(dim, 0.0)]);
}

impl Lua {
    /// demo.lua's outputs after an event: out{n} = exp(-40 w (n/10 - o)²).
    fn take_and_check_polynomial(&mut self, outs: &[ChannelId], w: f64, o: f64) {
        let got = self.levels();
        assert_eq!(got.len(), outs.len());
        for (n, ((c, v), want_c)) in got.iter().zip(outs).enumerate() {
            let x = n as f64 / 10.0;
            assert_eq!(c, want_c);
            assert!(
                close(*v, (-40.0 * w * (x - o).powi(2)).exp()),
                "out{n} = {v}"
            );
        }
    }
}

#[test]
fn midimonster_flying_faders_lua_moves_its_wave_every_100_ms() {
    // configs/flying-faders.cfg maps generator.wave{1..24}; here six of them, as the maweb one.
    let mut l = example("flying-faders.lua", &[]);
    let waves: Vec<ChannelId> = (1..=6).map(|n| l.from(&format!("wave{n}"))).collect();
    l.start();
    l.advance(MS(100));
    let wave = |step: f64, chan: f64| {
        ((((step + chan * 360.0 / 24.0) % 360.0).to_radians()).sin() + 1.0) / 2.0
    };
    let got = l.levels();
    assert_eq!(got.len(), 6, "outputs on unmapped wave7..24 are dropped");
    for (n, (c, v)) in got.iter().enumerate() {
        assert_eq!(*c, waves[n]);
        assert!(close(*v, wave(0.0, (n + 1) as f64)), "wave{} = {v}", n + 1);
    }
    l.advance(MS(100));
    let got = l.levels();
    assert!(close(got[0].1, wave(5.0, 1.0)));
    assert_eq!(l.stat("unknown_channel"), 2 * 18);
}

#[test]
fn midimonster_layering_lua_moves_sixteen_inputs_by_layer() {
    // configs/layering.cfg: in.ch1.cc{0..15} > layers.{0..15}; layers.out{0..511} > out.{1..512}
    let mut l = example("layering.lua", &[("default-handler", "handler")]);
    let inputs: Vec<ChannelId> = (0..16).map(|n| l.to(&n.to_string())).collect();
    let control = l.to("control");
    let out3 = l.from("out3");
    let out51 = l.from("out51");
    l.start();
    l.send(inputs[3], Value::from_raw(100, 7));
    assert_eq!(l.levels(), [(out3, 100.0 / 127.0)]);
    l.send(control, Value::from_normalised(0.1)); // layer floor(3.199) = 3
    l.send(inputs[3], Value::from_raw(27, 7));
    assert_eq!(l.levels(), [(out51, 27.0 / 127.0)]);
    assert_eq!(l.stat("errors.script"), 0);
}

#[test]
fn midimonster_latch_lua_forwards_the_slave_once_it_meets_the_master() {
    let mut l = example("latch.lua", &[("default-handler", "latch")]);
    let (master, slave) = (l.to("0.master"), l.to("0.slave"));
    let latched = l.from("0.latched");
    l.start();
    l.send(master, Value::from_normalised(0.5));
    l.send(slave, Value::from_normalised(0.9));
    assert_eq!(l.levels(), []);
    l.send(slave, Value::from_normalised(0.52));
    l.send(slave, Value::from_normalised(0.6));
    assert_eq!(l.levels(), [(latched, 0.52)]);
}

#[test]
fn midimonster_return_scripts_turn_any_level_into_on_or_off() {
    for (script, zero_too) in [
        ("returnone.lua", true),
        ("returnbool.lua", true),
        ("returnjustone.lua", false),
    ] {
        let handler = script.trim_end_matches(".lua");
        let mut l = example(script, &[("default-handler", handler)]);
        let pad = l.to("one1");
        let out = l.from("outone1");
        l.start();
        l.send(pad, Value::from_raw(30, 7));
        l.send(pad, Value::from_raw(0, 7));
        let want: &[(ChannelId, f64)] = if zero_too {
            &[(out, 1.0), (out, 0.0)]
        } else {
            &[(out, 1.0)]
        };
        assert_eq!(l.levels(), want, "{script}");
    }
}

#[test]
fn midimonster_trackpad_lua_turns_a_touch_into_gesture_channels() {
    let mut l = example("trackpad.lua", &[]);
    let (x, y, touch) = (l.to("x"), l.to("y"), l.to("touch"));
    let (on1, gesture) = (l.from("on1"), l.from("gesture12"));
    l.start();
    // Top left, then top middle: positions 1 and 2; the touch ends.
    for (xv, yv) in [(0.0, 1.0), (0.5, 1.0)] {
        l.send(x, Value::from_normalised(xv));
        l.send(y, Value::from_normalised(yv));
    }
    l.send(touch, Value::from_normalised(1.0));
    l.send(touch, Value::from_normalised(0.0));
    let got = l.levels();
    assert!(
        got.contains(&(gesture, 1.0)) && got.contains(&(gesture, 0.0)),
        "{got:?}"
    );
    assert!(!got.iter().any(|&(c, _)| c == on1), "the touch ended at 2");
    assert_eq!(l.stat("errors.script"), 0);
}

#[test]
fn midimonster_print_and_i3msg_scripts_load_and_handle_events() {
    let mut l = example("print.lua", &[("default-handler", "printchannel")]);
    let a = l.to("lua-input");
    l.start();
    l.send(a, Value::from_normalised(0.5));
    assert_eq!((l.stat("handler_calls"), l.stat("errors.script")), (1, 0));

    // i3msg.lua runs shell commands for its known channels; a release (0) returns early and an
    // unknown channel only prints.
    let mut l = example("i3msg.lua", &[("default-handler", "i3msg")]);
    let (ws, other) = (l.to("workspace.1"), l.to("nothing.here"));
    l.start();
    l.send(ws, Value::from_normalised(0.0));
    l.send(other, Value::from_normalised(1.0));
    assert_eq!((l.stat("handler_calls"), l.stat("errors.script")), (2, 0));
}

#[test]
fn counters_are_reported_by_name() {
    let mut l = Lua::script("function a(v) output('b', v) end");
    let a = l.to("a");
    l.start();
    l.send(a, Value::from_normalised(0.5));
    for name in [
        "events_in",
        "handler_calls",
        "unhandled",
        "outputs",
        "unknown_channel",
        "api_misuse",
        "timer_calls",
        "thread_resumes",
        "errors.script",
        "errors.instruction_limit",
        "errors.memory_limit",
        "memory_bytes",
    ] {
        assert!(l.rig.stat("l", name).is_some(), "{name}");
    }
    assert_eq!(l.stat("events_in"), 1);
    assert_eq!(l.stat("unknown_channel"), 1, "b is not mapped");
    assert!(l.stat("memory_bytes") > 10_000);
}

/// The example in the backend's README does what it says.
#[test]
fn the_readme_example_toggles_and_fades() {
    let readme = include_str!("README.md");
    let start = readme.find("```lua\n").expect("lua block") + "```lua\n".len();
    let script = &readme[start..start + readme[start..].find("```").expect("end")];
    let mut l = Lua::script(script);
    let (toggle, fade) = (l.to("toggle"), l.to("fade"));
    let lamp = l.from("lamp");
    l.start();
    l.send(toggle, Value::from_normalised(1.0));
    l.send(toggle, Value::from_normalised(0.0));
    l.send(toggle, Value::from_normalised(1.0));
    assert_eq!(l.levels(), [(lamp, 1.0), (lamp, 0.0)]);
    l.send(fade, Value::from_normalised(1.0));
    assert_eq!(l.levels(), [(lamp, 0.01)]);
    for _ in 0..99 {
        l.advance(MS(20));
    }
    let got = l.levels();
    assert_eq!(got.len(), 99);
    assert_eq!(got.last(), Some(&(lamp, 1.0)));
}
