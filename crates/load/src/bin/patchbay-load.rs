//! `patchbay-load`: end-to-end sACN load against patchbay, the raw forwarder, or itself.
//! Run it only inside a private network namespace (`scripts/netns-run patchbay-load ...`).

use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use patchbay_load::config::{PatchSpec, patchbay_config};
use patchbay_load::pacing::tighten_timer_slack;
use patchbay_load::packet::Wire;
use patchbay_load::session::{Mode, PatternKind, Setup};
use patchbay_load::workloads::{self, CeilingPlan, RunPlan, TargetSpec};

/// sACN load tool: sends U universes x R frames/s with every slot changing, verifies every slot of
/// the translated output, reports loss, torn frames, added latency and the target's CPU/RSS.
#[derive(Parser)]
#[command(name = "patchbay-load", version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fixed-rate run (optionally several phases, e.g. overload then normal rate)
    Run {
        #[command(flatten)]
        common: Common,
        /// Frames/s per universe
        #[arg(long, default_value_t = 44.0)]
        rate: f64,
        /// Measured seconds
        #[arg(long, default_value_t = 3.0)]
        duration: f64,
        /// Phases instead of --rate/--duration: NAME:RATE:SECONDS (repeatable)
        #[arg(long = "phase", value_parser = parse_phase)]
        phases: Vec<(String, f64, f64)>,
        /// Shell command run as each phase after the warm-up begins, with PHASE=its name (e.g.
        /// to hold the target to a CPU quota for exactly one phase)
        #[arg(long)]
        phase_hook: Option<String>,
    },
    /// Highest frames/s with < 0.1 % loss and no torn frame (steps up, then bisects)
    Ceiling {
        #[command(flatten)]
        common: Common,
        /// First rate, frames/s per universe
        #[arg(long, default_value_t = 100.0)]
        start: f64,
        /// Highest rate tried, frames/s per universe
        #[arg(long, default_value_t = 100_000.0)]
        max: f64,
        /// Growth per clean step
        #[arg(long, default_value_t = 1.5)]
        factor: f64,
        /// Seconds per step
        #[arg(long, default_value_t = 1.0)]
        step: f64,
        /// Stop bisecting when fail/pass is below this
        #[arg(long, default_value_t = 1.05)]
        precision: f64,
        /// At most this many steps
        #[arg(long, default_value_t = 14)]
        max_steps: usize,
        /// A step is sustained only with p99 added latency below this many ms (a growing queue
        /// only postpones loss past a short step)
        #[arg(long, default_value_t = 10.0)]
        max_p99_ms: f64,
    },
    /// Time from exec to socket bound, to reading, to first forwarded frame (needs -- CMD)
    Startup {
        #[command(flatten)]
        common: Common,
        /// Probe period, µs
        #[arg(long, default_value_t = 500)]
        period_us: u64,
        /// Give up after seconds
        #[arg(long, default_value_t = 5.0)]
        timeout: f64,
    },
    /// CPU of the target with no traffic (needs -- CMD or --pid)
    Idle {
        /// Seconds after start before measuring
        #[arg(long, default_value_t = 2.0)]
        settle: f64,
        /// Measured seconds
        #[arg(long, default_value_t = 5.0)]
        duration: f64,
        #[command(flatten)]
        target: TargetArgs,
        /// JSON output
        #[arg(long)]
        json: bool,
    },
    /// Print a patchbay configuration for the run
    Config {
        #[command(flatten)]
        patch: PatchArgs,
        /// Output without rate limit (`realtime = 1`)
        #[arg(long)]
        realtime: bool,
        /// patchbay's bind address
        #[arg(long, default_value = "127.0.0.1:5568")]
        bind: SocketAddrV4,
    },
}

#[derive(Args, Clone)]
struct PatchArgs {
    /// Number of universes
    #[arg(short, long, default_value_t = 1)]
    universes: u16,
    /// First input universe
    #[arg(long, default_value_t = 1)]
    first: u16,
    /// Output universe = input + offset
    #[arg(long, default_value_t = 1000)]
    offset: u16,
    /// Unicast or multicast transport
    #[arg(long, value_enum, default_value_t = ModeArg::Unicast)]
    mode: ModeArg,
    /// The tool's receive address (unicast)
    #[arg(long, default_value = "127.0.0.1:6000")]
    listen: SocketAddrV4,
    /// Protocol the tool sends (artnet: unicast only; the universe is the Port-Address)
    #[arg(long, value_enum, default_value_t = WireArg::Sacn)]
    input: WireArg,
    /// Protocol patchbay sends back (config only: the tool recognises both)
    #[arg(long, value_enum, default_value_t = WireArg::Sacn)]
    output: WireArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum WireArg {
    Sacn,
    Artnet,
}

fn wire(w: WireArg) -> Wire {
    match w {
        WireArg::Sacn => Wire::Sacn,
        WireArg::Artnet => Wire::Artnet,
    }
}

#[derive(Args, Clone)]
struct TargetArgs {
    /// Report CPU/RSS of this process
    #[arg(long)]
    pid: Option<u32>,
    /// Append the spawned target's output here
    #[arg(long)]
    target_log: Option<PathBuf>,
    /// Command to spawn as the target (after --)
    #[arg(last = true)]
    spawn: Vec<String>,
}

#[derive(Args, Clone)]
struct Common {
    #[command(flatten)]
    patch: PatchArgs,
    /// Where input goes (unicast): the target's bind address
    #[arg(long, default_value = "127.0.0.1:5568")]
    target: SocketAddrV4,
    /// Loop to the tool's own receive socket (measures the tool's ceiling)
    #[arg(long)]
    self_test: bool,
    /// full: every slot changes; single: only slot 1 changes (latency workload)
    #[arg(long, value_enum, default_value_t = PatternArg::Full)]
    pattern: PatternArg,
    /// Spin the last µs before each send instead of sleeping (costs CPU)
    #[arg(long, default_value_t = 0)]
    spin_us: u64,
    /// Split each frame period into N evenly spaced sends of U/N universes (1: one burst)
    #[arg(long, default_value_t = 1)]
    chunks: u16,
    /// Warm-up seconds before measuring (patchbay withholds output for 1.5 s after start)
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds to wait for in-flight frames at the end of a phase
    #[arg(long, default_value_t = 0.3)]
    drain: f64,
    /// JSON output
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target_args: TargetArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum ModeArg {
    Unicast,
    Multicast,
}

#[derive(Clone, Copy, ValueEnum)]
enum PatternArg {
    Full,
    Single,
}

fn parse_phase(s: &str) -> Result<(String, f64, f64), String> {
    let mut it = s.split(':');
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(n), Some(r), Some(d), None) if !n.is_empty() => Ok((
            n.to_string(),
            r.parse().map_err(|e| format!("rate {r:?}: {e}"))?,
            d.parse().map_err(|e| format!("seconds {d:?}: {e}"))?,
        )),
        _ => Err(format!("{s:?}: expected NAME:RATE:SECONDS")),
    }
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn mode(m: ModeArg) -> Mode {
    match m {
        ModeArg::Unicast => Mode::Unicast,
        ModeArg::Multicast => Mode::Multicast,
    }
}

impl Common {
    fn setup(&self) -> Setup {
        Setup {
            universes: self.patch.universes.max(1),
            first: self.patch.first,
            offset: self.patch.offset,
            mode: mode(self.patch.mode),
            target: self.target,
            listen: self.patch.listen,
            self_test: self.self_test,
            pattern: match self.pattern {
                PatternArg::Full => PatternKind::Full,
                PatternArg::Single => PatternKind::Single,
            },
            spin_ns: self.spin_us * 1000,
            chunks: self.chunks.max(1),
            pid: self.target_args.pid,
            input: wire(self.patch.input),
        }
    }
}

impl TargetArgs {
    fn spec(&self) -> TargetSpec {
        TargetSpec {
            argv: self.spawn.clone(),
            pid: self.pid,
            log: self.target_log.clone(),
        }
    }
}

fn emit(json: bool, j: String, t: String) {
    if json {
        println!("{j}");
    } else {
        print!("{t}");
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Cmd::Config {
        patch,
        realtime,
        bind,
    } = &cli.cmd
    {
        print!(
            "{}",
            patchbay_config(&PatchSpec {
                universes: patch.universes,
                first: patch.first,
                offset: patch.offset,
                mode: mode(patch.mode),
                bind: *bind,
                listen: patch.listen,
                realtime: *realtime,
                input: wire(patch.input),
                output: wire(patch.output),
            })
        );
        return ExitCode::SUCCESS;
    }
    patchbay_net::netns::require_private_netns();
    tighten_timer_slack();
    let r = match &cli.cmd {
        Cmd::Run {
            common,
            rate,
            duration,
            phases,
            phase_hook,
        } => {
            let phases = if phases.is_empty() {
                vec![("measure".to_string(), *rate, secs(*duration))]
            } else {
                phases
                    .iter()
                    .map(|(n, r, d)| (n.clone(), *r, secs(*d)))
                    .collect()
            };
            let plan = RunPlan {
                warmup: secs(common.warmup),
                phases,
                drain: secs(common.drain),
                hook: phase_hook.clone(),
            };
            workloads::run(&common.setup(), &common.target_args.spec(), &plan)
                .map(|o| emit(common.json, o.to_json(), o.to_text()))
        }
        Cmd::Ceiling {
            common,
            start,
            max,
            factor,
            step,
            precision,
            max_steps,
            max_p99_ms,
        } => {
            let plan = CeilingPlan {
                start: *start,
                max: *max,
                factor: factor.max(1.01),
                step: secs(*step),
                drain: secs(common.drain),
                warmup: secs(common.warmup),
                precision: *precision,
                max_steps: *max_steps,
                max_p99: secs(max_p99_ms / 1000.0),
            };
            workloads::ceiling(&common.setup(), &common.target_args.spec(), &plan)
                .map(|o| emit(common.json, o.to_json(), o.to_text()))
        }
        Cmd::Startup {
            common,
            period_us,
            timeout,
        } => workloads::startup(
            &common.setup(),
            &common.target_args.spec(),
            Duration::from_micros(*period_us),
            secs(*timeout),
        )
        .map(|o| emit(common.json, o.to_json(), o.to_text())),
        Cmd::Idle {
            settle,
            duration,
            target,
            json,
        } => workloads::idle(&target.spec(), secs(*settle), secs(*duration))
            .map(|o| emit(*json, o.to_json(), o.to_text())),
        Cmd::Config { .. } => Ok(()),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("patchbay-load: {e}");
            ExitCode::FAILURE
        }
    }
}
