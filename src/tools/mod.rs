//! `patchbay sacn send` and `patchbay sacn watch`: a test source and a diagnostic receiver built
//! from the same protocol crate and socket setup as the backend, so what they show is what
//! patchbay itself would send and see.
//!
//! * [`send`]: [`send::run`] drives a [`patchbay_sacn::Source`] with a [`pattern::Pattern`].
//! * [`monitor`]: [`monitor::Monitor`] (sans-IO) adds per-source statistics and a flicker
//!   diagnosis to the [`patchbay_sacn::receiver::Receiver`]; [`watch::run`] feeds it from sockets.
//! * [`view`]: the text view; `--json` prints [`monitor::Report`]s as JSON lines.
//! * [`args`]: the command line.

pub mod addr;
pub mod args;
pub mod monitor;
pub mod osc;
pub mod pattern;
pub mod send;
pub mod view;
pub mod watch;

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub use args::{SacnCommand, SendArgs, UsageError, WatchArgs, compact_list, parse_universes};
use monitor::Report;

/// Exit status for usage errors (as the daemon's).
const EXIT_USAGE: u8 = 2;
/// Exit status for failures at run time.
const EXIT_RUNTIME: u8 = 1;

/// A flag set by SIGINT and SIGTERM.
fn stop_on_signals() -> std::io::Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))?;
    }
    Ok(stop)
}

/// Runs a `patchbay sacn ...` command.
pub fn run(cmd: &SacnCommand) -> ExitCode {
    match cmd {
        SacnCommand::Send(a) => run_send(a),
        SacnCommand::Watch(a) => run_watch(a),
    }
}

fn usage(e: &UsageError) -> ExitCode {
    eprintln!("patchbay: {e}");
    ExitCode::from(EXIT_USAGE)
}

fn run_send(a: &SendArgs) -> ExitCode {
    let cfg = match a.config() {
        Ok(c) => c,
        Err(e) => return usage(&e),
    };
    let stop = match stop_on_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("patchbay: cannot install signal handlers: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let to = if cfg.destinations.is_empty() {
        "its multicast group".to_string()
    } else {
        let list: Vec<String> = cfg.destinations.iter().map(|d| d.to_string()).collect();
        list.join(", ")
    };
    tracing::info!(target: "sacn",
        "sending universe {} ({}, priority {}, {} Hz) as '{}' {} to {to}",
        cfg.universe, cfg.pattern, cfg.priority, cfg.rate, cfg.name, cfg.cid);
    match send::run(&cfg, &stop) {
        Ok(s) => {
            tracing::info!(target: "sacn",
                "sent {} frames in {} packets ({} failed); stream terminated: {}",
                s.frames, s.packets, s.send_errors, s.terminated);
            ExitCode::SUCCESS
        }
        Err(send::SendToolError::BadRate) => usage(&UsageError::Rate),
        Err(e) => {
            eprintln!("patchbay: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// Events shown under the text view.
const RECENT_EVENTS: usize = 8;

fn event_line(r: &Report) -> Option<String> {
    Some(match r {
        Report::SourceNew {
            t,
            universe,
            cid,
            name,
            priority,
        } => {
            format!("{t:>8.1}s universe {universe}: new source '{name}' {cid} priority {priority}")
        }
        Report::SourceLost {
            t,
            universe,
            cid,
            name,
        } => format!("{t:>8.1}s universe {universe}: source '{name}' {cid} LOST"),
        Report::SourceTerminated {
            t,
            universe,
            cid,
            name,
        } => format!("{t:>8.1}s universe {universe}: source '{name}' {cid} terminated"),
        Report::PerAddressPriorityLost {
            t,
            universe,
            cid,
            name,
        } => format!(
            "{t:>8.1}s universe {universe}: source '{name}' {cid} stopped per-address priority"
        ),
        Report::SequenceErrors {
            t,
            universe,
            name,
            count,
            total,
            ..
        } => format!(
            "{t:>8.1}s universe {universe}: '{name}' {count} packets out of sequence ({total} total)"
        ),
        Report::Discovery {
            t, name, universes, ..
        } => format!("{t:>8.1}s discovery: '{name}' sends universes {universes:?}"),
        Report::DiscoveryExpired { t, cid } => {
            format!("{t:>8.1}s discovery: {cid} expired")
        }
        Report::Stats(_) | Report::Universe(_) => return None,
    })
}

fn run_watch(a: &WatchArgs) -> ExitCode {
    let cfg = match a.config() {
        Ok(c) => c,
        Err(e) => return usage(&e),
    };
    let stop = match stop_on_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("patchbay: cannot install signal handlers: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let tty = std::io::stdout().is_terminal();
    let header = std::cell::RefCell::new(String::new());
    let mut recent: VecDeque<String> = VecDeque::new();
    let json = a.json;
    let on_open = |ep: &patchbay_net::UdpEndpoint, warnings: &[String]| {
        let what = if cfg.universes.is_empty() {
            "discovery and unicast".to_string()
        } else {
            format!("universes {}", compact_list(&cfg.universes))
        };
        *header.borrow_mut() = format!("patchbay sacn watch: {what} on {ep}");
        for w in warnings {
            tracing::warn!(target: "sacn", "{w}");
        }
    };
    let mut failed = false;
    let mut on_wake = |m: &mut monitor::Monitor, now, wake| {
        let mut out = std::io::stdout().lock();
        while let Some(r) = m.poll_report() {
            if json {
                match serde_json::to_string(&r) {
                    Ok(line) => failed |= writeln!(out, "{line}").is_err(),
                    Err(e) => tracing::warn!(target: "sacn", "cannot encode a report: {e}"),
                }
            } else if let Some(line) = event_line(&r) {
                if recent.len() == RECENT_EVENTS {
                    recent.pop_front();
                }
                recent.push_back(line);
            }
        }
        if !json && wake == watch::Wake::Period {
            let mut text = view::render(m, now, &header.borrow(), a.universe, a.slots);
            if !recent.is_empty() {
                text.push_str("Recent events:\n");
                for l in &recent {
                    text.push_str(l);
                    text.push('\n');
                }
            }
            let res = if tty {
                write!(out, "\x1b[H\x1b[2J{text}")
            } else {
                writeln!(out, "{text}")
            };
            failed |= res.is_err();
        }
        failed |= out.flush().is_err();
        if failed {
            // stdout closed (e.g. `| head`): nothing left to show.
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    };
    match watch::run(&cfg, &stop, &mut { on_open }, &mut on_wake) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("patchbay: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}
