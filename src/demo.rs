//! `patchbay --demo`: patchbay doing its job with no lighting hardware and no network.
//!
//! The daemon path runs unchanged (configuration text → setup → core with the sACN backend) on
//! the embedded [`DEMO_CONFIG`] (also shipped as `examples/demo.cfg`): universe 1 in on
//! 127.0.0.1:5568, slots 1-16 mapped to slots 11-26 of universe 2, sent to 127.0.0.1:5569. Two
//! threads play the outside world: a `sacn send` test source (ramp on universe 1, unicast to
//! patchbay and to the watcher) and a `sacn watch` receiver on 127.0.0.1:5569 that prints one
//! line per second with what goes in and what comes out. Ctrl-C stops the core (which sends its
//! termination packets for universe 2), then the source (termination for universe 1), and the
//! watcher reports both terminations before the demo exits.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use patchbay_sacn::Cid;
use patchbay_sacn::receiver::ReceiverConfig;
use tracing::{error, info};

use crate::setup;
use crate::tools::monitor::{Monitor, Report};
use crate::tools::pattern::Pattern;
use crate::tools::{send, watch};

/// The demo configuration (the same text as `examples/demo.cfg`).
pub const DEMO_CONFIG: &str = include_str!("../examples/demo.cfg");
/// Name under which the embedded configuration appears in messages.
pub const DEMO_CONFIG_NAME: &str = "examples/demo.cfg";

/// Where patchbay listens (the config's `bind`).
const PATCHBAY_IN: &str = "127.0.0.1:5568";
/// Where the watcher listens (the config's `destination`).
const WATCH_AT: &str = "127.0.0.1:5569";
/// Input universe and output universe of the config.
const IN_UNIVERSE: u16 = 1;
const OUT_UNIVERSE: u16 = 2;
/// Slots shown per side: input 1..=8 and output 11..=18, where the config puts them.
const SHOWN: usize = 8;
const OUT_OFFSET: usize = 10;
/// Time the watcher gets after the source stopped, to see the termination packets.
const DRAIN: Duration = Duration::from_millis(400);

fn addr(text: &str) -> SocketAddr {
    // Constant literals; a failure is a programming error caught by the unit test.
    text.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// The test source: a ramp on universe 1, to patchbay and to the watcher.
pub fn source_config() -> send::SendConfig {
    send::SendConfig {
        universe: IN_UNIVERSE,
        priority: 100,
        rate: 10.0,
        pattern: Pattern::Ramp,
        slots: 16,
        destinations: vec![addr(PATCHBAY_IN), addr(WATCH_AT)],
        bind: addr("127.0.0.1:0"),
        name: "patchbay demo source".to_string(),
        cid: Cid(*uuid::Uuid::new_v4().as_bytes()),
        terminate_after: None,
        count: None,
    }
}

/// The in-process watcher: universes 1 and 2 on the watcher's port, unicast only.
pub fn watch_config() -> watch::WatchConfig {
    watch::WatchConfig {
        universes: vec![IN_UNIVERSE, OUT_UNIVERSE],
        bind: addr(WATCH_AT),
        multicast: false,
        period: Duration::from_secs(1),
        duration: None,
        // Show levels as soon as they arrive: the demo has one source per universe, so there is
        // no merge for the sampling period or the 0xDD wait to protect.
        receiver: ReceiverConfig {
            sampling_period: Duration::ZERO,
            pap_wait: Duration::ZERO,
            ..ReceiverConfig::default()
        },
    }
}

/// One line of the live view: the first slots of universe 1 and where they land in universe 2.
pub fn view_line(m: &Monitor, t: f64) -> String {
    let slots = |u: u16, from: usize| -> String {
        match m.levels(u) {
            Some(l) => l[from..from + SHOWN]
                .iter()
                .map(|v| format!("{v:>3}"))
                .collect::<Vec<_>>()
                .join(" "),
            None => "-".to_string(),
        }
    };
    format!(
        "{t:>6.1}s   in u{IN_UNIVERSE} 1-{SHOWN}: {}   out u{OUT_UNIVERSE} {}-{}: {}",
        slots(IN_UNIVERSE, 0),
        OUT_OFFSET + 1,
        OUT_OFFSET + SHOWN,
        slots(OUT_UNIVERSE, OUT_OFFSET)
    )
}

fn event_line(r: &Report) -> Option<String> {
    let (t, universe, name, what) = match r {
        Report::SourceNew {
            t, universe, name, ..
        } => (t, universe, name, "appeared"),
        Report::SourceTerminated {
            t, universe, name, ..
        } => (t, universe, name, "terminated its stream"),
        Report::SourceLost {
            t, universe, name, ..
        } => (t, universe, name, "was LOST"),
        _ => return None,
    };
    Some(format!("{t:>6.1}s   universe {universe}: '{name}' {what}"))
}

/// Runs the demo until SIGINT/SIGTERM, with the web monitor when `web` (`--web`) asks for it.
/// Exit 0 after a clean shutdown.
pub fn run(web: Option<&str>) -> ExitCode {
    let backends = patchbay_backends::registry();
    let opts = setup::load_options(&backends, Vec::new());
    let (config, diagnostics) = patchbay_config::load_str(DEMO_CONFIG_NAME, DEMO_CONFIG, &opts);
    let core = match patchbay_core::Core::new(backends) {
        Ok(core) => core,
        Err(e) => {
            error!(target: "core", "cannot create the event loop: {e}");
            return ExitCode::from(1);
        }
    };
    let mut setup = setup::build(
        core,
        std::path::Path::new(DEMO_CONFIG_NAME),
        config,
        diagnostics,
    );
    if setup.has_errors() {
        for d in setup.diagnostics.iter().filter(|d| d.is_error()) {
            eprint!(
                "{}",
                patchbay_config::render(&setup.config.sources, d, false)
            );
        }
        return ExitCode::from(2);
    }
    if let Err(e) = setup.core.listen_signals() {
        error!(target: "core", "cannot install signal handlers: {e}");
        return ExitCode::from(1);
    }
    let monitor_url = match crate::web::options(setup.web.clone(), web) {
        Ok(Some(opts)) => match crate::web::attach(&mut setup.core, opts) {
            Ok(url) => Some(url),
            Err(e) => {
                error!(target: "web", "{e}");
                return ExitCode::from(1);
            }
        },
        Ok(None) => None,
        Err(e) => {
            eprintln!("patchbay: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = setup.core.start() {
        error!(target: "core", "{e}");
        return ExitCode::from(1);
    }
    info!(target: "core", "patchbay demo: embedded {DEMO_CONFIG_NAME}; Ctrl-C stops");
    println!(
        "patchbay demo: test source -> {PATCHBAY_IN} universe {IN_UNIVERSE} -> patchbay \
(in.{{1..16}} > out.{{11..26}}) -> universe {OUT_UNIVERSE} -> {WATCH_AT}. Ctrl-C stops."
    );
    if let Some(url) = monitor_url {
        let sep = if url.contains('?') { '&' } else { '?' };
        println!("patchbay demo: live web monitor at {url}{sep}universe=in");
    }

    let watch_stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = Arc::clone(&watch_stop);
        thread::spawn(move || {
            let cfg = watch_config();
            let mut on_open = |_: &patchbay_net::UdpEndpoint, _: &[String]| {};
            let mut on_wake = |m: &mut Monitor, now, wake| {
                let mut out = std::io::stdout().lock();
                while let Some(r) = m.poll_report() {
                    if let Some(line) = event_line(&r) {
                        let _ = writeln!(out, "{line}");
                    }
                }
                if wake == watch::Wake::Period {
                    let _ = writeln!(out, "{}", view_line(m, m.elapsed(now)));
                }
                let _ = out.flush();
            };
            watch::run(&cfg, &stop, &mut on_open, &mut on_wake)
        })
    };
    let source_stop = Arc::new(AtomicBool::new(false));
    let source = {
        let stop = Arc::clone(&source_stop);
        thread::spawn(move || send::run(&source_config(), &stop))
    };

    let result = setup.core.run();
    source_stop.store(true, Ordering::Relaxed);
    let mut ok = true;
    match source.join() {
        Ok(Ok(s)) => info!(target: "sacn",
            "demo source: {} frames in {} packets, stream terminated: {}", s.frames, s.packets, s.terminated),
        Ok(Err(e)) => {
            error!(target: "sacn", "demo source: {e}");
            ok = false;
        }
        Err(_) => {
            error!(target: "sacn", "demo source thread panicked");
            ok = false;
        }
    }
    thread::sleep(DRAIN);
    watch_stop.store(true, Ordering::Relaxed);
    match watcher.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            error!(target: "sacn", "demo watcher: {e}");
            ok = false;
        }
        Err(_) => {
            error!(target: "sacn", "demo watcher thread panicked");
            ok = false;
        }
    }
    match result {
        Ok(exit) => info!(target: "core", "shut down ({exit:?})"),
        Err(e) => {
            error!(target: "core", "{e}");
            ok = false;
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_config_is_valid_and_matches_the_constants() {
        let opts = setup::load_options(&patchbay_backends::registry(), Vec::new());
        let (_, diags) = patchbay_config::load_str(DEMO_CONFIG_NAME, DEMO_CONFIG, &opts);
        assert!(!patchbay_config::has_errors(&diags), "{diags:?}");
        assert!(DEMO_CONFIG.contains("bind = 127.0.0.1 5568"));
        assert!(DEMO_CONFIG.contains("destination = 127.0.0.1 5569"));
        assert!(DEMO_CONFIG.contains("in.{1..16} > out.{11..26}"));
        assert_eq!(addr(PATCHBAY_IN).port(), 5568);
        assert_eq!(addr(WATCH_AT).port(), 5569);
    }

    #[test]
    fn view_line_shows_input_and_shifted_output() {
        let m = Monitor::new(std::time::Instant::now(), &[1, 2]);
        assert_eq!(
            view_line(&m, 1.0),
            "   1.0s   in u1 1-8:   0   0   0   0   0   0   0   0   out u2 11-18:   0   0   0   0   0   0   0   0"
        );
    }
}
