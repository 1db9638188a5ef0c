//! The measurements the load tool runs: a fixed-rate run (with optional extra phases, e.g. an
//! overload followed by normal rate), the ceiling search, startup time and idle CPU.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::procfs;
use crate::report::{Json, PhaseReport, array};
use crate::session::{Mode, Session, SessionError, Setup};
use crate::target::Target;

/// Why a workload failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// The session could not start.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The target could not be started or died.
    #[error("target: {0}")]
    Target(std::io::Error),
    /// The receiver failed.
    #[error("receiver: {0}")]
    Receiver(std::io::Error),
    /// The phase hook could not run or failed.
    #[error("phase hook: {0}")]
    Hook(String),
}

/// How the target comes to be.
#[derive(Debug, Clone, Default)]
pub struct TargetSpec {
    /// Command to spawn (argv), or empty.
    pub argv: Vec<String>,
    /// Existing process.
    pub pid: Option<u32>,
    /// Where the spawned target's output goes.
    pub log: Option<PathBuf>,
}

impl TargetSpec {
    fn spawn(&self) -> Result<Option<Target>, WorkloadError> {
        if self.argv.is_empty() {
            return Ok(None);
        }
        Target::spawn(&self.argv, self.log.as_deref())
            .map(Some)
            .map_err(WorkloadError::Target)
    }
}

/// Waits until `pid` has at least one UDP socket (it has bound), up to `limit`; then `settle`.
fn wait_bound(t: &mut Target, limit: Duration, settle: Duration) -> Result<(), WorkloadError> {
    let deadline = Instant::now() + limit;
    while procfs::udp_state(t.pid()).sockets == 0 {
        if !t.alive() {
            return Err(WorkloadError::Target(std::io::Error::other(
                "target exited during startup (see --target-log)",
            )));
        }
        if Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(settle);
    Ok(())
}

/// A fixed-rate run: a warm-up phase (reported, not judged), then the listed phases.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// Warm-up length (patchbay withholds output for 1.5 s after it starts listening, E1.31
    /// sampling period).
    pub warmup: Duration,
    /// Phases after the warm-up: (name, frames/s per universe, length).
    pub phases: Vec<(String, f64, Duration)>,
    /// Time left for in-flight frames after the last phase.
    pub drain: Duration,
    /// Shell command run (and waited for) as each phase after the warm-up begins, with the
    /// phase's name in `PHASE`: e.g. to change the target's CPU quota exactly at a phase boundary.
    pub hook: Option<String>,
}

/// Result of a run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// One report per phase (the first is the warm-up when it was non-zero).
    pub phases: Vec<PhaseReport>,
    /// Terminated, other and foreign-universe datagrams received.
    pub strays: (u64, u64, u64),
    /// Universes whose last output frame was the last input frame, of all universes.
    pub final_exact: (usize, usize),
}

impl RunOutcome {
    /// JSON object.
    pub fn to_json(&self) -> String {
        let mut o = Json::default();
        o.raw(
            "phases",
            &array(self.phases.iter().map(PhaseReport::to_json)),
        );
        o.int("terminated", self.strays.0);
        o.int("other", self.strays.1);
        o.int("foreign", self.strays.2);
        o.int("final_exact", self.final_exact.0 as u64);
        o.int("universes", self.final_exact.1 as u64);
        o.finish()
    }

    /// Human text.
    pub fn to_text(&self) -> String {
        let mut s: String = self.phases.iter().map(PhaseReport::to_text).collect();
        s.push_str(&format!(
            "strays: {} terminated, {} other, {} foreign-universe datagrams\n",
            self.strays.0, self.strays.1, self.strays.2
        ));
        s.push_str(&format!(
            "final state: {} of {} universes ended on the last frame sent\n",
            self.final_exact.0, self.final_exact.1
        ));
        s
    }
}

fn start(setup: &Setup, target: &TargetSpec) -> Result<(Session, Option<Target>), WorkloadError> {
    let mut session = Session::start(setup.clone())?;
    let mut t = target.spawn()?;
    if let Some(t) = t.as_mut() {
        session.set_pid(t.pid());
        wait_bound(t, Duration::from_secs(10), Duration::from_millis(200))?;
    } else if let Some(pid) = target.pid {
        session.set_pid(pid);
    }
    Ok((session, t))
}

/// Runs the plan against the target.
pub fn run(
    setup: &Setup,
    target: &TargetSpec,
    plan: &RunPlan,
) -> Result<RunOutcome, WorkloadError> {
    let (mut s, _t) = start(setup, target)?;
    let first_rate = plan.phases.first().map_or(44.0, |p| p.1);
    if !plan.warmup.is_zero() {
        s.phase("warmup", first_rate, plan.warmup);
    }
    for (name, rate, d) in &plan.phases {
        if let Some(hook) = &plan.hook {
            run_hook(hook, name)?;
        }
        s.phase(name, *rate, *d);
    }
    s.drain(plan.drain);
    let phases = s.reports();
    let strays = s.strays();
    let final_exact = s.final_state();
    s.stop().map_err(WorkloadError::Receiver)?;
    Ok(RunOutcome {
        phases,
        strays,
        final_exact,
    })
}

fn run_hook(hook: &str, phase: &str) -> Result<(), WorkloadError> {
    let status = std::process::Command::new("sh")
        .args(["-c", hook])
        .env("PHASE", phase)
        .status()
        .map_err(|e| WorkloadError::Hook(format!("cannot run '{hook}': {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(WorkloadError::Hook(format!(
            "'{hook}' failed ({status}) at phase {phase}"
        )))
    }
}

/// The ceiling search.
#[derive(Debug, Clone)]
pub struct CeilingPlan {
    /// First rate tried, frames/s per universe.
    pub start: f64,
    /// Upper bound, frames/s per universe.
    pub max: f64,
    /// Growth factor while steps pass.
    pub factor: f64,
    /// Length of each step.
    pub step: Duration,
    /// Pause after each step so a backlog drains before the next one.
    pub drain: Duration,
    /// Warm-up at the start rate before the first step.
    pub warmup: Duration,
    /// Stop when fail/pass is below this ratio.
    pub precision: f64,
    /// At most this many steps.
    pub max_steps: usize,
    /// A step only counts as sustained if its p99 added latency stays below this: above it, queues
    /// are growing and socket buffers merely postpone the loss past the end of a short step.
    pub max_p99: Duration,
}

/// Result of the ceiling search.
#[derive(Debug, Clone)]
pub struct CeilingOutcome {
    /// Every step, in order.
    pub steps: Vec<PhaseReport>,
    /// Highest clean step (< 0.1 % loss, no torn frame, p99 below the plan's bound).
    pub best: Option<PhaseReport>,
    /// The search stopped because the sender could not reach the requested rate.
    pub sender_limited: bool,
}

impl CeilingOutcome {
    /// JSON object.
    pub fn to_json(&self) -> String {
        let mut o = Json::default();
        o.raw(
            "best",
            &self
                .best
                .as_ref()
                .map_or("null".into(), PhaseReport::to_json),
        );
        o.str(
            "sender_limited",
            if self.sender_limited { "yes" } else { "no" },
        );
        o.raw("steps", &array(self.steps.iter().map(PhaseReport::to_json)));
        o.finish()
    }

    /// Human text.
    pub fn to_text(&self) -> String {
        let mut s: String = self.steps.iter().map(PhaseReport::to_text).collect();
        match &self.best {
            Some(b) => s.push_str(&format!(
                "ceiling: {:.0} frames/s received ({} universes x {:.1} fps) with {:.3} % loss, {} torn; latency p99 {:.0} us\n",
                b.recv_fps, b.universes, b.rate_hz, b.loss_pct, b.torn, b.lat_p99_us
            )),
            None => s.push_str("ceiling: no clean step\n"),
        }
        if self.sender_limited {
            s.push_str("note: stopped because the sender could not reach the requested rate (tool-limited)\n");
        }
        s
    }
}

/// Next rate of the search: grow by `factor` until a step fails, then bisect.
pub fn next_rate(best: Option<f64>, fail: Option<f64>, factor: f64, start: f64) -> f64 {
    match (best, fail) {
        (None, None) => start,
        (Some(b), None) => b * factor,
        (Some(b), Some(f)) => (b + f) / 2.0,
        (None, Some(f)) => f / factor,
    }
}

/// Steps the rate up until loss ≥ 0.1 % or a torn frame, then bisects.
pub fn ceiling(
    setup: &Setup,
    target: &TargetSpec,
    plan: &CeilingPlan,
) -> Result<CeilingOutcome, WorkloadError> {
    let (mut s, _t) = start(setup, target)?;
    let mut offset = 0;
    if !plan.warmup.is_zero() {
        s.phase("warmup", plan.start, plan.warmup);
        s.drain(plan.drain);
        offset = 1;
    }
    let (mut best, mut fail): (Option<f64>, Option<f64>) = (None, None);
    let mut out = CeilingOutcome {
        steps: Vec::new(),
        best: None,
        sender_limited: false,
    };
    for i in 0..plan.max_steps {
        let rate = next_rate(best, fail, plan.factor, plan.start).min(plan.max);
        if best.is_some_and(|b| rate <= b) {
            break;
        }
        s.phase(&format!("step{}", i + 1), rate, plan.step);
        s.drain(plan.drain);
        let Some(r) = s.report(i + offset) else {
            break;
        };
        let wanted = rate * f64::from(setup.universes);
        let limited = r.sent_fps < wanted * 0.97;
        let clean = r.clean() && r.lat_p99_us < plan.max_p99.as_secs_f64() * 1e6;
        out.steps.push(r.clone());
        if limited {
            out.sender_limited = true;
            if clean {
                out.best = Some(r);
            }
            break;
        }
        if clean {
            best = Some(rate);
            out.best = Some(r);
        } else {
            fail = Some(rate);
        }
        match (best, fail) {
            (Some(b), Some(f)) if f / b < plan.precision => break,
            (Some(b), None) if b >= plan.max => break,
            (None, Some(f)) if f < 1.0 => break,
            _ => {}
        }
    }
    s.stop().map_err(WorkloadError::Receiver)?;
    Ok(out)
}

/// Startup: from exec to bound, to reading, to first forwarded frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StartupOutcome {
    /// First probe not refused (socket bound), ms after spawn. Unicast only.
    pub bound_ms: Option<f64>,
    /// First probe consumed from the socket by the target (its event loop runs), ms after spawn.
    /// Unicast only; resolution about 0.5 ms.
    pub reading_ms: Option<f64>,
    /// First verified output frame, ms after spawn (patchbay withholds output for the 1.5 s
    /// E1.31 sampling period, so this includes it).
    pub first_output_ms: Option<f64>,
    /// Target CPU time spent until it was reading, ms.
    pub cpu_to_reading_ms: Option<f64>,
    /// Target RSS at the end, kB.
    pub rss_kb: Option<u64>,
}

impl StartupOutcome {
    /// JSON object.
    pub fn to_json(&self) -> String {
        let mut o = Json::default();
        o.opt("bound_ms", self.bound_ms);
        o.opt("reading_ms", self.reading_ms);
        o.opt("first_output_ms", self.first_output_ms);
        o.opt("cpu_to_reading_ms", self.cpu_to_reading_ms);
        o.opt("rss_kb", self.rss_kb.map(|v| v as f64));
        o.finish()
    }

    /// Human text.
    pub fn to_text(&self) -> String {
        let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} ms"));
        format!(
            "startup: bound {}, reading {}, first output {}; CPU until reading {}, RSS {} kB\n",
            f(self.bound_ms),
            f(self.reading_ms),
            f(self.first_output_ms),
            f(self.cpu_to_reading_ms),
            self.rss_kb.unwrap_or(0)
        )
    }
}

/// Spawns the target and probes it every `period` until it forwards or `timeout` passes.
pub fn startup(
    setup: &Setup,
    target: &TargetSpec,
    period: Duration,
    timeout: Duration,
) -> Result<StartupOutcome, WorkloadError> {
    let mut s = Session::start(setup.clone())?;
    let probe = if setup.mode == Mode::Unicast {
        let p = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
            .and_then(|p| p.connect(setup.target).map(|()| p))
            .map_err(|e| SessionError::Io {
                what: "open the probe socket",
                source: e,
            })?;
        Some(p)
    } else {
        None
    };
    let phase = s.begin_phase();
    let t0 = s.now_ns();
    let mut t = target
        .spawn()?
        .ok_or_else(|| WorkloadError::Target(std::io::Error::other("startup needs --spawn")))?;
    let pid = t.pid();
    s.set_pid(pid);
    let ms = |ns: u64| ns.saturating_sub(t0) as f64 / 1e6;
    let mut out = StartupOutcome::default();
    let universes = usize::from(setup.universes);
    let mut k = 0usize;
    let deadline = t0 + timeout.as_nanos() as u64;
    while s.now_ns() < deadline {
        if !t.alive() {
            return Err(WorkloadError::Target(std::io::Error::other(
                "target exited during startup",
            )));
        }
        let sent_at = s.now_ns();
        k += 1;
        // Alternate between the first and the last universe: both must be configured.
        let idx = if k.is_multiple_of(2) {
            universes - 1
        } else {
            0
        };
        let _ = s.probe(idx, probe.as_ref());
        std::thread::sleep(period);
        if let Some(p) = &probe {
            let refused = p.take_error().ok().flatten().is_some();
            if out.bound_ms.is_none() && !refused {
                out.bound_ms = Some(ms(sent_at));
            }
            if out.bound_ms.is_some() && out.reading_ms.is_none() {
                let u = procfs::udp_state(pid);
                if u.sockets > 0 && u.rx_queue == 0 {
                    out.reading_ms = Some(ms(s.now_ns()));
                    out.cpu_to_reading_ms = procfs::sample(pid).map(|p| p.cpu_ns as f64 / 1e6);
                }
            }
        }
        if out.first_output_ms.is_none()
            && let Some(first) = s.counts(phase).and_then(|c| c.first_ns)
        {
            out.first_output_ms = Some(ms(first));
        }
        if out.first_output_ms.is_some() && (probe.is_none() || out.reading_ms.is_some()) {
            break;
        }
    }
    out.rss_kb = procfs::sample(pid).map(|p| p.rss_kb);
    s.stop().map_err(WorkloadError::Receiver)?;
    t.stop();
    Ok(out)
}

/// Idle CPU of a target with no traffic.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IdleOutcome {
    /// CPU over the window, % of one core.
    pub cpu_pct: f64,
    /// Context switches per second.
    pub wakeups_per_s: f64,
    /// RSS at the end, kB.
    pub rss_kb: u64,
    /// Window, s.
    pub seconds: f64,
}

impl IdleOutcome {
    /// JSON object.
    pub fn to_json(&self) -> String {
        let mut o = Json::default();
        o.num("cpu_pct", self.cpu_pct);
        o.num("wakeups_per_s", self.wakeups_per_s);
        o.int("rss_kb", self.rss_kb);
        o.num("seconds", self.seconds);
        o.finish()
    }

    /// Human text.
    pub fn to_text(&self) -> String {
        format!(
            "idle: CPU {:.3} % of a core over {:.1} s, {:.1} wake-ups/s, RSS {} kB\n",
            self.cpu_pct, self.seconds, self.wakeups_per_s, self.rss_kb
        )
    }
}

/// Spawns (or takes) the target, lets it settle, then samples CPU over `window`.
pub fn idle(
    target: &TargetSpec,
    settle: Duration,
    window: Duration,
) -> Result<IdleOutcome, WorkloadError> {
    let mut t = target.spawn()?;
    let pid = match (t.as_mut(), target.pid) {
        (Some(t), _) => {
            wait_bound(t, Duration::from_secs(10), Duration::ZERO)?;
            t.pid()
        }
        (None, Some(pid)) => pid,
        (None, None) => {
            return Err(WorkloadError::Target(std::io::Error::other(
                "idle needs --spawn or --pid",
            )));
        }
    };
    std::thread::sleep(settle);
    let gone = || WorkloadError::Target(std::io::Error::other("target exited"));
    let (t0, a) = (Instant::now(), procfs::sample(pid).ok_or_else(gone)?);
    std::thread::sleep(window);
    let (wall, b) = (t0.elapsed(), procfs::sample(pid).ok_or_else(gone)?);
    let secs = wall.as_secs_f64();
    Ok(IdleOutcome {
        cpu_pct: b.cpu_ns.saturating_sub(a.cpu_ns) as f64 / 1e9 / secs * 100.0,
        wakeups_per_s: b.switches.saturating_sub(a.switches) as f64 / secs,
        rss_kb: b.rss_kb,
        seconds: secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_grows_then_bisects() {
        assert_eq!(next_rate(None, None, 1.5, 100.0), 100.0);
        assert_eq!(next_rate(Some(100.0), None, 1.5, 100.0), 150.0);
        assert_eq!(next_rate(Some(100.0), Some(150.0), 1.5, 100.0), 125.0);
        assert_eq!(next_rate(None, Some(150.0), 1.5, 150.0), 100.0);
    }
}
