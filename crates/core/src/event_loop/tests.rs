//! Loop tests with a scriptable probe backend; IO through mio pipes and the waker only.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::unix::pipe;

use super::*;
use crate::clock::ManualClock;
use crate::routing::NewEdge;
use crate::value::Value;
use crate::{Delivery, Io, Ready};

/// One handle call: backend, instance, (channel, 8-bit value) per delivery.
type Handled = (&'static str, u32, Vec<(ChannelId, u64)>);

/// What happened to the probes, in order, across all of them.
#[derive(Default, Debug)]
struct Log {
    calls: Vec<String>,
    handled: Vec<Handled>,
    process_nows: Vec<(&'static str, Instant)>,
}

type Shared = Rc<RefCell<Log>>;

/// A backend whose behaviour tests set up field by field.
struct Probe {
    name: &'static str,
    log: Shared,
    echo: bool,
    /// Read end of a pipe registered at start; every byte read becomes an event on `emit_on`.
    rx: Option<pipe::Receiver>,
    emit_on: Option<ChannelId>,
    deadline: Option<Instant>,
    fail_start: bool,
    fail_process: bool,
    /// Process calls needed after shutdown until shutdown is complete (None = never).
    drain_turns: Option<usize>,
    shut: bool,
    /// Events pushed from every process call once shut down (must not be delivered).
    emit_while_shutting: Option<ChannelId>,
}

impl Probe {
    fn new(name: &'static str, log: &Shared) -> Self {
        Probe {
            name,
            log: Rc::clone(log),
            echo: false,
            rx: None,
            emit_on: None,
            deadline: None,
            fail_start: false,
            fail_process: false,
            drain_turns: Some(0),
            shut: false,
            emit_while_shutting: None,
        }
    }

    fn note(&self, what: &str) {
        self.log
            .borrow_mut()
            .calls
            .push(format!("{}:{what}", self.name));
    }
}

impl Backend for Probe {
    fn name(&self) -> &'static str {
        self.name
    }
    fn reemits(&self) -> bool {
        self.echo
    }
    fn configure(&mut self, _: &str, _: &str, _: &mut ConfigCtx<'_>) -> Result<(), OptionError> {
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
    fn start(&mut self, _: Instant, io: &mut Io<'_>) -> Result<(), StartError> {
        self.note("start");
        if self.fail_start {
            return Err(StartError::backend("cannot bind"));
        }
        if let Some(rx) = self.rx.as_mut() {
            io.register(rx, 5, crate::Interest::READABLE)
                .map_err(|e| StartError::backend(e.to_string()))?;
        }
        Ok(())
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }
    fn process(
        &mut self,
        now: Instant,
        ready: &[Ready],
        _: &mut Io<'_>,
        sink: &mut Sink<'_>,
    ) -> Result<(), FatalError> {
        let tags: Vec<u32> = ready.iter().map(|r| r.tag).collect();
        self.note(&format!("process{tags:?}"));
        self.log.borrow_mut().process_nows.push((self.name, now));
        if self.fail_process {
            return Err(FatalError {
                message: "device gone".into(),
            });
        }
        if ready.iter().any(|r| r.tag == 5 && r.should_read())
            && let Some(rx) = self.rx.as_mut()
        {
            let mut buf = [0u8; 64];
            // Edge-triggered: drain until WouldBlock.
            while let Ok(n @ 1..) = rx.read(&mut buf) {
                if let Some(c) = self.emit_on {
                    for &b in &buf[..n] {
                        sink.push(c, Value::from_raw(b.into(), 8));
                    }
                }
            }
        }
        if let Some(d) = self.deadline
            && now >= d
        {
            self.note("timer");
            self.deadline = None;
        }
        if self.shut {
            if let Some(c) = self.emit_while_shutting {
                sink.push(c, Value::from_raw(1, 8));
            }
            if let Some(n) = self.drain_turns.as_mut() {
                *n = n.saturating_sub(1);
            }
        }
        Ok(())
    }
    fn handle(
        &mut self,
        _: Instant,
        instance: InstanceId,
        deliveries: &[Delivery],
        sink: &mut Sink<'_>,
    ) {
        self.log.borrow_mut().handled.push((
            self.name,
            instance.0,
            deliveries
                .iter()
                .map(|d| (d.channel, d.value.to_raw(8)))
                .collect(),
        ));
        if self.echo {
            for d in deliveries {
                sink.push(d.channel, d.value);
            }
        }
    }
    fn flush(&mut self, _: Instant, _: &mut Io<'_>) {
        self.note("flush");
    }
    fn shutdown(&mut self, _: Instant, _: &mut Io<'_>) {
        self.note("shutdown");
        self.shut = true;
    }
    fn stats(&self, out: &mut Vec<crate::stats::Stat>) {
        let n = self.log.borrow().process_nows.len() as u64;
        out.push(crate::stats::Stat::instance(
            InstanceId(0),
            "process_calls",
            n,
        ));
        out.push(crate::stats::Stat::backend("shared", "constant", 7));
    }

    fn shutdown_complete(&self) -> bool {
        self.drain_turns == Some(0)
    }
}

fn log() -> Shared {
    Rc::new(RefCell::new(Log::default()))
}

fn calls(log: &Shared) -> Vec<String> {
    std::mem::take(&mut log.borrow_mut().calls)
}

fn channel(core: &mut Core, inst: InstanceId, name: &str, dir: Direction) -> ChannelId {
    core.channel(inst, name, dir, &mut Vec::new())
        .expect("channel")
}

#[test]
fn pipe_event_is_routed_and_each_turn_is_process_route_flush() {
    let log = log();
    let (mut tx, rx) = pipe::new().expect("pipe");
    // Channel ids are dense in lookup order, so the source is #0.
    let s = ChannelId(0);
    let mut src = Probe::new("src", &log);
    src.rx = Some(rx);
    src.emit_on = Some(s);
    let dst = Probe::new("dst", &log);
    let idle = Probe::new("idle", &log);
    let mut core = Core::new(vec![Box::new(src), Box::new(dst), Box::new(idle)]).expect("core");
    let a = core.add_instance(0, "a").expect("instance");
    let b = core.add_instance(1, "b").expect("instance");
    assert_eq!(channel(&mut core, a, "1", Direction::Input), s);
    let t1 = channel(&mut core, b, "1", Direction::Output);
    let t2 = channel(&mut core, b, "2", Direction::Output);
    assert!(core.add_mapping(s, t1));
    assert!(core.add_mapping(s, t2));
    assert!(!core.add_mapping(s, t1));
    assert_eq!(core.channel_label(t2), "b.2");
    core.start().expect("start");
    // The instance-less backend is not started.
    assert_eq!(calls(&log), vec!["src:start", "dst:start"]);

    tx.write_all(&[10, 20]).expect("write");
    assert_eq!(core.turn(Some(Duration::from_secs(5))).expect("turn"), None);
    assert_eq!(
        calls(&log),
        vec!["src:process[5]", "dst:process[]", "src:flush", "dst:flush"]
    );
    let handled = std::mem::take(&mut log.borrow_mut().handled);
    assert_eq!(
        handled,
        vec![("dst", b.0, vec![(t1, 10), (t2, 10), (t1, 20), (t2, 20)])]
    );
    let c = core.counters();
    assert_eq!((c.events, c.deliveries), (2, 4));
}

#[test]
fn timer_fires_at_poll_timeout_with_a_manual_clock() {
    let log = log();
    let t0 = Instant::now();
    let clock = ManualClock::new(t0);
    let mut p = Probe::new("timer", &log);
    p.deadline = Some(t0 + Duration::from_millis(100));
    let mut core = Core::new(vec![Box::new(p)])
        .expect("core")
        .with_clock(clock.clone());
    core.add_instance(0, "t").expect("instance");
    core.start().expect("start");
    assert_eq!(core.wait_timeout(t0, None), Duration::from_millis(100));
    assert_eq!(
        core.wait_timeout(t0, Some(Duration::from_millis(30))),
        Duration::from_millis(30)
    );

    core.turn(Some(Duration::ZERO)).expect("turn");
    assert!(!calls(&log).contains(&"timer:timer".to_string()));
    clock.advance(Duration::from_millis(100));
    assert_eq!(core.wait_timeout(clock.now(), None), Duration::ZERO);
    core.turn(Some(Duration::ZERO)).expect("turn");
    assert!(calls(&log).contains(&"timer:timer".to_string()));
    // Nothing due any more: the wait is the 1 s cap.
    assert_eq!(core.wait_timeout(clock.now(), None), MAX_WAIT);
    // Every backend saw the clock value of its iteration.
    let nows: Vec<_> = log.borrow().process_nows.iter().map(|(_, n)| *n).collect();
    assert_eq!(nows, vec![t0, t0 + Duration::from_millis(100)]);
}

#[test]
fn timer_wakes_the_real_loop() {
    let log = log();
    let mut p = Probe::new("timer", &log);
    let deadline = Instant::now() + Duration::from_millis(30);
    p.deadline = Some(deadline);
    let mut core = Core::new(vec![Box::new(p)]).expect("core");
    core.add_instance(0, "t").expect("instance");
    core.start().expect("start");
    // The wait ends at the deadline, not at the 1 s cap; allow an early wake-up or two.
    let mut turns = 0;
    while !log.borrow().calls.contains(&"timer:timer".to_string()) {
        core.turn(None).expect("turn");
        turns += 1;
        assert!(turns <= 3, "timer did not fire");
    }
    let fired_at = log
        .borrow()
        .process_nows
        .last()
        .map(|(_, n)| *n)
        .expect("process");
    assert!(fired_at >= deadline);
}

#[test]
fn periodic_task_runs_from_turns_and_bounds_the_wait() {
    let log = log();
    let t0 = Instant::now();
    let clock = ManualClock::new(t0);
    let mut p = Probe::new("p", &log);
    p.drain_turns = Some(2);
    let mut core = Core::new(vec![Box::new(p)])
        .expect("core")
        .with_clock(clock.clone());
    core.add_instance(0, "p").expect("instance");
    let ticks = Rc::new(RefCell::new(Vec::new()));
    let t = Rc::clone(&ticks);
    core.every(Duration::from_millis(300), move |now| {
        t.borrow_mut().push(now)
    });
    core.start().expect("start");
    assert_eq!(core.wait_timeout(t0, None), Duration::from_millis(300));

    core.turn(Some(Duration::ZERO)).expect("turn");
    assert!(ticks.borrow().is_empty(), "not due yet");
    clock.advance(Duration::from_millis(300));
    core.turn(Some(Duration::ZERO)).expect("turn");
    assert_eq!(*ticks.borrow(), [t0 + Duration::from_millis(300)]);
    // It runs after the iteration's flush, with the iteration's timestamp.
    assert_eq!(calls(&log).last().map(String::as_str), Some("p:flush"));
    assert_eq!(
        core.wait_timeout(clock.now(), None),
        Duration::from_millis(300)
    );
    // Without turns (a hung loop) it never runs, however much time passes.
    clock.advance(Duration::from_secs(10));
    assert_eq!(ticks.borrow().len(), 1);
    // It keeps running while the backends drain after a shutdown request.
    core.request_shutdown();
    assert_eq!(core.turn(Some(Duration::ZERO)).expect("turn"), None);
    assert_eq!(ticks.borrow().len(), 2);
}

#[test]
fn shutdown_notice_runs_once_before_the_backends_shut_down() {
    for fatal in [false, true] {
        let log = log();
        let mut p = Probe::new("p", &log);
        p.fail_process = fatal;
        let mut core = Core::new(vec![Box::new(p)]).expect("core");
        core.add_instance(0, "p").expect("instance");
        let l = Rc::clone(&log);
        core.on_shutdown(move |_| l.borrow_mut().calls.push("notice".into()));
        core.start().expect("start");
        let _ = calls(&log);
        if fatal {
            assert!(core.turn(Some(Duration::ZERO)).is_err());
            assert_eq!(
                calls(&log),
                ["p:process[]", "notice", "p:shutdown", "p:flush"]
            );
        } else {
            core.request_shutdown();
            core.request_shutdown();
            assert_eq!(calls(&log), ["notice", "p:shutdown"]);
        }
    }
}

#[test]
fn idle_loop_blocks_until_woken() {
    let log = log();
    let mut core = Core::new(vec![Box::new(Probe::new("idle", &log))]).expect("core");
    core.add_instance(0, "i").expect("instance");
    core.start().expect("start");
    let handle = core.shutdown_handle();
    let waker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        handle.request();
    });
    assert_eq!(core.run().expect("run"), Exit::Clean);
    waker.join().expect("thread");
    // A spinning loop would have run thousands of iterations in 300 ms; a blocking one
    // runs one (the wake-up), maybe two if the 1 s cap were hit on a very slow machine.
    assert!(core.turns() <= 2, "{} iterations while idle", core.turns());
    let calls = calls(&log);
    assert_eq!(calls.iter().filter(|c| c.ends_with("shutdown")).count(), 1);
}

#[test]
fn graceful_shutdown_reaches_every_backend_and_waits_for_completion() {
    let log = log();
    let t0 = Instant::now();
    let clock = ManualClock::new(t0);
    let mut slow = Probe::new("slow", &log);
    slow.drain_turns = Some(2);
    let unused = Probe::new("unused", &log);
    let mut core = Core::new(vec![Box::new(slow), Box::new(unused)])
        .expect("core")
        .with_clock(clock.clone())
        .with_shutdown_grace(Duration::from_secs(2));
    core.add_instance(0, "s").expect("instance");
    core.start().expect("start");
    let _ = calls(&log);
    core.request_shutdown();
    assert!(core.is_shutting_down());
    // shutdown for every backend, started or not
    assert_eq!(calls(&log), vec!["slow:shutdown", "unused:shutdown"]);
    assert_eq!(core.turn(Some(Duration::ZERO)).expect("turn"), None);
    assert_eq!(
        core.turn(Some(Duration::ZERO)).expect("turn"),
        Some(Exit::Clean)
    );
    assert_eq!(
        calls(&log),
        vec![
            "slow:process[]",
            "slow:flush",
            "slow:process[]",
            "slow:flush"
        ]
    );
    // Finished: further turns do nothing.
    assert_eq!(
        core.turn(Some(Duration::ZERO)).expect("turn"),
        Some(Exit::Clean)
    );
    assert!(calls(&log).is_empty());
    drop(core);
    // Dropping does not call shutdown a second time.
    assert!(calls(&log).is_empty());
}

#[test]
fn shutdown_ends_at_the_grace_deadline_or_on_a_second_request() {
    for second_request in [false, true] {
        let log = log();
        let clock = ManualClock::new(Instant::now());
        let mut stuck = Probe::new("stuck", &log);
        stuck.drain_turns = None;
        let mut core = Core::new(vec![Box::new(stuck)])
            .expect("core")
            .with_clock(clock.clone())
            .with_shutdown_grace(Duration::from_millis(500));
        core.add_instance(0, "s").expect("instance");
        core.start().expect("start");
        core.request_shutdown();
        assert_eq!(
            core.wait_timeout(clock.now(), None),
            Duration::from_millis(500)
        );
        assert_eq!(core.turn(Some(Duration::ZERO)).expect("turn"), None);
        if second_request {
            core.shutdown_handle().request();
            core.shutdown_handle().request();
            assert_eq!(
                core.turn(Some(Duration::ZERO)).expect("turn"),
                Some(Exit::Forced)
            );
        } else {
            clock.advance(Duration::from_millis(499));
            assert_eq!(core.turn(Some(Duration::ZERO)).expect("turn"), None);
            clock.advance(Duration::from_millis(1));
            assert_eq!(
                core.turn(Some(Duration::ZERO)).expect("turn"),
                Some(Exit::GraceExpired)
            );
        }
    }
}

#[test]
fn events_during_shutdown_are_not_delivered() {
    let log = log();
    let s = ChannelId(0);
    let mut src = Probe::new("src", &log);
    src.drain_turns = Some(3);
    src.emit_while_shutting = Some(s);
    let mut core = Core::new(vec![Box::new(src), Box::new(Probe::new("dst", &log))]).expect("core");
    let a = core.add_instance(0, "a").expect("instance");
    let b = core.add_instance(1, "b").expect("instance");
    assert_eq!(channel(&mut core, a, "1", Direction::Input), s);
    let t = channel(&mut core, b, "1", Direction::Output);
    core.add_mapping(s, t);
    core.start().expect("start");
    core.request_shutdown();
    while core.turn(Some(Duration::ZERO)).expect("turn").is_none() {}
    assert!(log.borrow().handled.is_empty());
    assert_eq!(core.counters().deliveries, 0);
}

#[test]
fn start_failure_shuts_every_backend_down() {
    let log = log();
    let mut bad = Probe::new("bad", &log);
    bad.fail_start = true;
    let mut core = Core::new(vec![
        Box::new(Probe::new("ok", &log)),
        Box::new(bad),
        Box::new(Probe::new("later", &log)),
    ])
    .expect("core");
    core.add_instance(0, "o").expect("instance");
    core.add_instance(1, "b").expect("instance");
    core.add_instance(2, "l").expect("instance");
    match core.start() {
        Err(CoreError::Start {
            backend: "bad",
            source,
        }) => assert_eq!(source.message, "cannot bind"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        calls(&log),
        vec![
            "ok:start",
            "bad:start",
            "ok:shutdown",
            "bad:shutdown",
            "later:shutdown"
        ]
    );
    drop(core);
    assert!(calls(&log).is_empty());
}

#[test]
fn fatal_process_error_shuts_down_and_is_returned() {
    let log = log();
    let mut bad = Probe::new("bad", &log);
    bad.fail_process = true;
    let mut core = Core::new(vec![Box::new(Probe::new("ok", &log)), Box::new(bad)]).expect("core");
    core.add_instance(0, "o").expect("instance");
    core.add_instance(1, "b").expect("instance");
    core.start().expect("start");
    match core.run() {
        Err(CoreError::Fatal { backend: "bad", .. }) => {}
        other => panic!("unexpected {other:?}"),
    }
    let calls = calls(&log);
    assert!(calls.contains(&"ok:shutdown".to_string()));
    assert!(calls.contains(&"bad:shutdown".to_string()));
}

#[test]
fn feedback_loop_is_cut_each_iteration_without_spinning() {
    let log = log();
    let (mut tx, rx) = pipe::new().expect("pipe");
    // Channel ids are dense in lookup order: src.1 = #0, loop.a = #1.
    let s = ChannelId(0);
    let mut src = Probe::new("src", &log);
    src.rx = Some(rx);
    src.emit_on = Some(s);
    let mut echo = Probe::new("loop", &log);
    echo.echo = true;
    let mut core = Core::new(vec![Box::new(src), Box::new(echo)]).expect("core");
    let a = core.add_instance(0, "src").expect("instance");
    let l = core.add_instance(1, "loop").expect("instance");
    assert_eq!(channel(&mut core, a, "1", Direction::Input), s);
    let la = channel(&mut core, l, "7", Direction::Output);
    core.add_mapping(s, la);
    core.add_mapping(la, la); // loop.a > loop.a
    assert_eq!(core.cycles(), vec![vec![la]]);
    core.start().expect("start");

    tx.write_all(&[1]).expect("write");
    core.turn(Some(Duration::from_secs(5))).expect("turn");
    let c = core.counters();
    assert_eq!(c.dropped_by_round_limit, 1);
    assert_eq!(log.borrow().handled.len(), crate::router::MAX_ROUNDS);
    // The next idle turn does nothing more: the loop is not spinning.
    core.turn(Some(Duration::ZERO)).expect("turn");
    assert_eq!(core.counters(), c);
    tx.write_all(&[2]).expect("write");
    core.turn(Some(Duration::from_secs(5))).expect("turn");
    assert_eq!(core.counters().dropped_by_round_limit, 2);
}

#[test]
fn a_moving_output_bounds_the_wait_and_steps_from_idle_turns() {
    let log = log();
    let (mut tx, rx) = pipe::new().expect("pipe");
    let s = ChannelId(0);
    let mut src = Probe::new("src", &log);
    src.rx = Some(rx);
    src.emit_on = Some(s);
    let dst = Probe::new("dst", &log);
    let t0 = Instant::now();
    let clock = ManualClock::new(t0);
    let mut core = Core::new(vec![Box::new(src), Box::new(dst)])
        .expect("core")
        .with_clock(clock.clone());
    let a = core.add_instance(0, "a").expect("instance");
    let b = core.add_instance(1, "b").expect("instance");
    assert_eq!(channel(&mut core, a, "1", Direction::Input), s);
    let t = channel(&mut core, b, "1", Direction::Output);
    let fade = Chain::new(vec![crate::Transform::Fade(Duration::from_millis(20))]).expect("chain");
    assert_eq!(core.add_mapping_with(s, t, &fade), NewEdge::Added);
    assert_eq!(core.add_mapping_with(s, t, &fade), NewEdge::Duplicate);
    assert_eq!(
        core.add_mapping_with(s, t, &Chain::default()),
        NewEdge::Conflict
    );
    core.start().expect("start");

    // The first value passes at once; nothing moves, so the wait is the 1 s cap.
    tx.write_all(&[0]).expect("write");
    core.turn(Some(Duration::from_secs(5))).expect("turn");
    assert_eq!(core.wait_timeout(clock.now(), None), MAX_WAIT);
    tx.write_all(&[200]).expect("write");
    core.turn(Some(Duration::from_secs(5))).expect("turn");
    // Moving: the next step is 10 ms away, and it comes from turns without any event.
    assert_eq!(
        core.wait_timeout(clock.now(), None),
        Duration::from_millis(10)
    );
    for _ in 0..3 {
        clock.advance(Duration::from_millis(10));
        core.turn(Some(Duration::ZERO)).expect("turn");
    }
    let values: Vec<u64> = log
        .borrow()
        .handled
        .iter()
        .flat_map(|(_, _, d)| d.iter().map(|&(_, v)| v))
        .collect();
    assert_eq!(values, vec![0, 100, 200]);
    assert_eq!(core.wait_timeout(clock.now(), None), MAX_WAIT);
}

#[test]
fn instance_names_are_unique_and_start_only_once() {
    let log = log();
    let mut core = Core::new(vec![Box::new(Probe::new("p", &log))]).expect("core");
    assert_eq!(core.add_instance(0, "x").expect("instance"), InstanceId(0));
    assert_eq!(
        core.add_instance(0, "x"),
        Err(InstanceError::Duplicate("x".into()))
    );
    assert_eq!(
        core.add_instance(3, "y"),
        Err(InstanceError::UnknownBackend(3))
    );
    assert_eq!(core.instance("x"), Some(InstanceId(0)));
    assert_eq!(core.backend_index("p"), Some(0));
    assert!(matches!(core.turn(None), Err(CoreError::NotStarted)));
    core.start().expect("start");
    assert!(matches!(core.start(), Err(CoreError::AlreadyStarted)));
    assert_eq!(
        core.add_instance(0, "z"),
        Err(InstanceError::AlreadyStarted)
    );
}

/// Reports collected by a test reporter: (trigger, scope, counters).
type Reports = Rc<RefCell<Vec<(StatsTrigger, String, Vec<(String, u64)>)>>>;

fn recording_reporter(reports: &Reports) -> crate::stats::StatsReporter {
    let reports = Rc::clone(reports);
    Box::new(move |trigger, groups| {
        for g in groups {
            let counters = g
                .counters
                .iter()
                .map(|(n, v)| (n.to_string(), *v))
                .collect();
            reports
                .borrow_mut()
                .push((trigger, g.scope.clone(), counters));
        }
    })
}

#[test]
fn stats_are_reported_every_interval_with_instance_names() {
    let log = log();
    let t0 = Instant::now();
    let clock = ManualClock::new(t0);
    let reports: Reports = Rc::default();
    let mut core = Core::new(vec![Box::new(Probe::new("p", &log))])
        .expect("core")
        .with_clock(clock.clone())
        .with_stats_interval(Some(Duration::from_secs(5)))
        .with_stats_reporter(recording_reporter(&reports));
    core.add_instance(0, "first").expect("instance");
    core.start().expect("start");
    // The interval bounds the wait like a backend deadline.
    assert_eq!(core.wait_timeout(t0, None), MAX_WAIT);
    clock.advance(Duration::from_millis(4500));
    assert_eq!(
        core.wait_timeout(clock.now(), None),
        Duration::from_millis(500)
    );
    core.turn(Some(Duration::ZERO)).expect("turn");
    assert!(reports.borrow().is_empty());
    clock.advance(Duration::from_millis(500));
    core.turn(Some(Duration::ZERO)).expect("turn");
    {
        let r = reports.borrow();
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].0, StatsTrigger::Interval);
        assert_eq!(r[0].1, "first");
        // Counted after this turn's process call.
        assert_eq!(r[0].2, vec![("process_calls".to_string(), 2)]);
        assert_eq!(r[1].1, "shared");
    }
    // A stall of three periods gives one report, not three.
    clock.advance(Duration::from_secs(16));
    core.turn(Some(Duration::ZERO)).expect("turn");
    assert_eq!(reports.borrow().len(), 4);
    core.report_stats(StatsTrigger::Signal);
    assert_eq!(reports.borrow()[4].0, StatsTrigger::Signal);
}

#[test]
fn sigusr1_reports_stats_and_the_loop_keeps_running() {
    let log = log();
    let reports: Reports = Rc::default();
    let mut core = Core::new(vec![Box::new(Probe::new("p", &log))])
        .expect("core")
        .with_stats_reporter(recording_reporter(&reports));
    core.add_instance(0, "first").expect("instance");
    core.listen_signals().expect("signals");
    core.start().expect("start");
    signal_hook::low_level::raise(signal_hook::consts::SIGUSR1).expect("raise");
    for _ in 0..50 {
        if !reports.borrow().is_empty() {
            break;
        }
        assert_eq!(
            core.turn(Some(Duration::from_millis(100))).expect("turn"),
            None
        );
    }
    let r = reports.borrow();
    assert_eq!(r.first().map(|x| x.0), Some(StatsTrigger::Signal), "{r:?}");
    assert!(!core.is_shutting_down());
}

/// What the test observer saw at each call.
#[derive(Default, Debug)]
struct Seen {
    ready: Vec<Vec<u32>>,
    values: Vec<Option<u64>>,
    labels: Vec<String>,
    properties: Vec<String>,
    stats: usize,
}

/// An observer with a pipe of its own, recording what the view shows.
struct Watcher {
    seen: Rc<RefCell<Seen>>,
    rx: Option<pipe::Receiver>,
    watch: ChannelId,
    fail: bool,
}

impl crate::monitor::MonitorSink for Seen {
    fn property(&mut self, name: &'static str, value: &dyn std::fmt::Display) {
        self.properties.push(format!("{name}={value}"));
    }
    fn wants_frames(&self) -> bool {
        false
    }
    fn frame(&mut self, _: Direction, _: &[u8]) {}
    fn source(&mut self, _: &crate::monitor::Source<'_>) {}
}

impl crate::monitor::Observer for Watcher {
    fn name(&self) -> &'static str {
        "watcher"
    }
    fn start(&mut self, _: Instant, io: &mut Io<'_>) -> Result<(), StartError> {
        if self.fail {
            return Err(StartError::backend("port in use"));
        }
        if let Some(rx) = self.rx.as_mut() {
            io.register(rx, 9, crate::Interest::READABLE)
                .map_err(|e| StartError::backend(e.to_string()))?;
        }
        Ok(())
    }
    fn observe(
        &mut self,
        _: Instant,
        ready: &[Ready],
        _: &mut Io<'_>,
        core: &crate::monitor::CoreView<'_>,
    ) {
        if let Some(rx) = self.rx.as_mut() {
            let mut buf = [0u8; 16];
            while let Ok(1..) = rx.read(&mut buf) {}
        }
        let mut seen = self.seen.borrow_mut();
        seen.ready.push(ready.iter().map(|r| r.tag).collect());
        seen.values
            .push(core.value(self.watch).map(|v| v.to_raw(8)));
        let mut label = String::new();
        core.write_channel_label(self.watch, &mut label)
            .expect("label");
        seen.labels.push(label);
        seen.stats = core.stats().len();
        seen.properties.clear();
        if let Some(a) = core.instance("a") {
            core.monitor(a, &mut *seen);
        }
    }
}

/// The observer gets its own readiness at the end of every turn, and the view shows the
/// values the turn routed (source and target), labels, counters and what backends describe.
#[test]
fn observer_sees_its_readiness_and_the_routed_values() {
    let log = log();
    let (mut tx, rx) = pipe::new().expect("pipe");
    let (mut obs_tx, obs_rx) = pipe::new().expect("pipe");
    let s = ChannelId(0);
    let mut src = Probe::new("src", &log);
    src.rx = Some(rx);
    src.emit_on = Some(s);
    let mut core = Core::new(vec![Box::new(src), Box::new(Probe::new("dst", &log))]).expect("core");
    let a = core.add_instance(0, "a").expect("instance");
    let b = core.add_instance(1, "b").expect("instance");
    assert_eq!(channel(&mut core, a, "1", Direction::Input), s);
    let t = channel(&mut core, b, "7", Direction::Output);
    core.add_mapping(s, t);
    let seen = Rc::new(RefCell::new(Seen::default()));
    core.set_observer(Box::new(Watcher {
        seen: Rc::clone(&seen),
        rx: Some(obs_rx),
        watch: t,
        fail: false,
    }));
    core.start().expect("start");
    core.turn(Some(Duration::ZERO)).expect("turn");
    assert_eq!(seen.borrow().values, [None], "nothing routed yet");
    tx.write_all(&[42]).expect("write");
    core.turn(Some(Duration::from_secs(5))).expect("turn");
    obs_tx.write_all(b"x").expect("write");
    core.turn(Some(Duration::from_secs(5))).expect("turn");
    let seen = seen.borrow();
    assert_eq!(seen.values, [None, Some(42), Some(42)]);
    assert_eq!(seen.ready, [vec![], vec![], vec![9]], "only its own tags");
    assert_eq!(seen.labels[0], "b.7");
    assert!(seen.stats > 0);
    assert!(seen.properties.is_empty(), "the probe shows nothing");
    assert_eq!(core.counters().deliveries, 1);
}

#[test]
fn observer_start_failure_stops_the_start() {
    let log = log();
    let mut core = Core::new(vec![Box::new(Probe::new("p", &log))]).expect("core");
    core.add_instance(0, "a").expect("instance");
    core.set_observer(Box::new(Watcher {
        seen: Rc::default(),
        rx: None,
        watch: ChannelId(0),
        fail: true,
    }));
    match core.start() {
        Err(CoreError::Start {
            backend: "watcher",
            source,
        }) => assert_eq!(source.message, "port in use"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(calls(&log), ["p:start", "p:shutdown"]);
}
