//! patchbay: routes and translates show-control signals between protocols.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use patchbay_config::{Diagnostic, Override, OverrideKind, Severity, Sources};
use patchbay_core::{CoreError, Exit};
use tracing::{error, info};

use patchbay::cli::{Args, Command, DumpFormat, StatsFormat};
use patchbay::logging::{self, Verbosity};
use patchbay::{report, service, setup};

/// Exit status for usage and configuration errors (MIDIMonster uses 1 for everything).
const EXIT_CONFIG: u8 = 2;
/// Exit status for failures at run time.
const EXIT_RUNTIME: u8 = 1;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_CONFIG)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let verbosity = if args.quiet {
        Verbosity::Quiet
    } else if args.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    logging::init(verbosity);
    #[cfg(feature = "artnet")]
    if let Some(Command::Artnet { tool }) = &args.command {
        if args.config.is_some() || args.check || args.dump.is_some() || args.demo {
            eprintln!("patchbay: 'patchbay artnet' takes no CONFIG, --check, --dump or --demo");
            return ExitCode::from(EXIT_CONFIG);
        }
        return patchbay::tools::artnet::run(tool);
    }
    if let Some(Command::Sacn { tool }) = &args.command {
        if args.config.is_some() || args.check || args.dump.is_some() || args.demo {
            eprintln!("patchbay: 'patchbay sacn' takes no CONFIG, --check, --dump or --demo");
            return ExitCode::from(EXIT_CONFIG);
        }
        return patchbay::tools::run(tool);
    }
    if let Some(Command::Osc { tool }) = &args.command {
        if args.config.is_some() || args.check || args.dump.is_some() || args.demo {
            eprintln!("patchbay: 'patchbay osc' takes no CONFIG, --check, --dump or --demo");
            return ExitCode::from(EXIT_CONFIG);
        }
        return patchbay::tools::osc::run(tool);
    }
    if args.demo {
        return patchbay::demo::run(args.web.as_deref());
    }
    run(&args, verbosity)
}

fn run(args: &Args, verbosity: Verbosity) -> ExitCode {
    let color = std::io::stderr().is_terminal();
    let backends = patchbay_backends::registry();

    let mut scratch = Sources::new();
    let mut overrides = Vec::new();
    let mut bad = Vec::new();
    let given = args
        .instance_overrides
        .iter()
        .map(|t| (OverrideKind::Instance, t))
        .chain(
            args.backend_overrides
                .iter()
                .map(|t| (OverrideKind::Backend, t)),
        );
    for (kind, text) in given {
        match Override::parse(kind, text, &mut scratch) {
            Ok(o) => overrides.push(o),
            Err(d) => bad.push(d),
        }
    }
    if !bad.is_empty() {
        print_diagnostics(&scratch, &bad, color, true);
        return ExitCode::from(EXIT_CONFIG);
    }

    let reload_overrides = overrides.clone();
    let opts = setup::load_options(&backends, overrides);
    let path = args.config_path();
    let (config, diagnostics) = patchbay_config::load(&path, &opts);
    let core = match patchbay_core::Core::new(backends) {
        Ok(core) => core,
        Err(e) => {
            error!(target: "core", "cannot create the event loop: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let mut setup = setup::build(core, &path, config, diagnostics);
    let show_notes = args.check || verbosity == Verbosity::Verbose;
    print_diagnostics(&setup.config.sources, &setup.diagnostics, color, show_notes);
    if setup.has_errors() {
        let n = setup.diagnostics.iter().filter(|d| d.is_error()).count();
        eprintln!(
            "patchbay: {} in {}; nothing was started",
            count(n, "error"),
            path.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    }

    let web = match patchbay::web::options(setup.web.clone(), args.web.as_deref()) {
        Ok(web) => web,
        Err(e) => {
            eprintln!("patchbay: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };

    if args.check
        && let Some(running) = &args.against
    {
        return check_against(&path, running, &reload_overrides, color);
    }
    if args.check {
        let list = report::mapping_list(
            &setup.core,
            &setup.config.sources,
            &setup.edges,
            &setup.lines,
        );
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(list.as_bytes());
        let _ = writeln!(
            out,
            "configuration OK: {}, {}",
            count(setup.instance_spans.len(), "instance"),
            count(setup.edges.len(), "mapping")
        );
        return ExitCode::SUCCESS;
    }
    if let Some(format) = args.dump {
        let text = match format {
            DumpFormat::Text => report::dump_text(&setup.core, &setup.edges),
            DumpFormat::Dot => report::dump_dot(&setup.core, &setup.edges),
        };
        let _ = std::io::stdout().lock().write_all(text.as_bytes());
        return ExitCode::SUCCESS;
    }

    info!(target: "core", "patchbay {} starting with {}", env!("CARGO_PKG_VERSION"), path.display());
    setup
        .core
        .set_stats_interval(args.stats.map(std::time::Duration::from_secs));
    if args.stats_format == StatsFormat::Text {
        setup.core.set_stats_reporter(Box::new(|trigger, groups| {
            // Drop reasons are many and mostly zero: only non-zero ones, plus the headline.
            const ALWAYS: &[&str] = &["frames_in", "frames_out", "sources", "datagrams", "dropped"];
            for g in groups {
                // SIGUSR1 asks for everything; the periodic line stays short.
                let line = if trigger == patchbay_core::StatsTrigger::Signal {
                    patchbay_core::stats::format_text_full(g)
                } else {
                    patchbay_core::stats::format_text(g, ALWAYS)
                };
                if g.is_instance {
                    info!(target: "stats", "{} instance '{}': {line}", g.backend, g.scope);
                } else {
                    info!(target: "stats", "{} {}: {line}", g.backend, g.scope);
                }
            }
        }));
    }
    if args.stats_format == StatsFormat::Json {
        setup.core.set_stats_reporter(Box::new(|trigger, groups| {
            // One write per line, so lines never interleave with log output.
            let mut err = std::io::stderr().lock();
            for g in groups {
                let mut line = patchbay_core::stats::format_json(trigger, g);
                line.push('\n');
                let _ = err.write_all(line.as_bytes());
            }
        }));
    }
    if let Err(e) = setup.core.listen_signals() {
        error!(target: "core", "cannot install signal handlers: {e}");
        return ExitCode::from(EXIT_RUNTIME);
    }
    if let Some(web) = web
        && let Err(e) = patchbay::web::attach(&mut setup.core, web)
    {
        error!(target: "web", "{e}");
        return ExitCode::from(EXIT_RUNTIME);
    }
    setup.core.on_reload_steps(patchbay::reload::hook(
        path.clone(),
        reload_overrides,
        setup.web.clone(),
    ));
    if let Err(e) = setup.core.start() {
        service::status(&format!("failed to start: {e}"));
        report_core_error(&setup, &e, color);
        return ExitCode::from(EXIT_RUNTIME);
    }
    let status = format!(
        "{}, {}",
        count(setup.instance_spans.len(), "instance"),
        count(setup.edges.len(), "mapping")
    );
    service::attach(&mut setup.core, &status);
    match setup.core.run() {
        Ok(Exit::Clean) => {
            info!(target: "core", "shut down cleanly");
            ExitCode::SUCCESS
        }
        Ok(exit) => {
            info!(target: "core", "shut down ({exit:?})");
            ExitCode::SUCCESS
        }
        Err(e) => {
            service::status(&format!("failed: {e}"));
            report_core_error(&setup, &e, color);
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

/// `--check NEW --against RUNNING` once NEW passed the check: RUNNING is read as the running
/// configuration and NEW again as its successor, so ids line up as on a reload.
fn check_against(
    path: &std::path::Path,
    running_path: &std::path::Path,
    overrides: &[Override],
    color: bool,
) -> ExitCode {
    let backends = patchbay_backends::registry();
    let opts = setup::load_options(&backends, overrides.to_vec());
    let (config, diagnostics) = patchbay_config::load(running_path, &opts);
    let core = match patchbay_core::Core::new(backends) {
        Ok(core) => core,
        Err(e) => {
            error!(target: "core", "cannot create the event loop: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let running = setup::build(core, running_path, config, diagnostics);
    if running.has_errors() {
        print_diagnostics(&running.config.sources, &running.diagnostics, color, false);
        let n = running.diagnostics.iter().filter(|d| d.is_error()).count();
        eprintln!(
            "patchbay: {} in {}",
            count(n, "error"),
            running_path.display()
        );
        return ExitCode::from(EXIT_CONFIG);
    }
    match patchbay::reload::successor(&running.core, path, overrides) {
        Ok(next) => {
            let text = patchbay::reload::describe(&running, &next);
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(text) => {
            eprint!("{text}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}

/// A start or run-time failure; one that names a global option line (a `bind`) or an instance
/// points at that line.
fn report_core_error(setup: &setup::Setup, e: &CoreError, color: bool) {
    if let CoreError::Start { backend, source } = e
        && let Some(index) = setup.core.backend_index(backend)
        && let Some(span) = setup.problem_span(index, source)
    {
        let what = match source.instance.and_then(|i| setup.core.instance_name(i)) {
            Some(name) if source.option.is_none() => format!("{backend} instance '{name}'"),
            _ => format!("backend {backend}"),
        };
        let d = Diagnostic::error(span, format!("{what} failed to start: {}", source.message));
        print_diagnostics(&setup.config.sources, &[d], color, false);
        return;
    }
    error!(target: "core", "{e}");
}

/// "1 instance", "3 instances".
fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn print_diagnostics(sources: &Sources, diagnostics: &[Diagnostic], color: bool, notes: bool) {
    let mut err = std::io::stderr().lock();
    for d in patchbay_config::fold_repeats(sources, diagnostics) {
        if d.severity == Severity::Note && !notes {
            continue;
        }
        let _ = err.write_all(patchbay_config::render(sources, &d, color).as_bytes());
    }
}
