//! Log output: `tracing` with one target per area (`core`, `config`, `sacn`, `loopback`, ...).
//!
//! `RUST_LOG` (e.g. `sacn=debug,info`) wins over `-q` / `--verbose`. Colours only on a
//! terminal, so journald and pipes get clean lines.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// Verbosity chosen on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// The filter for a `RUST_LOG` value, or the default for `verbosity` when it is unset or
/// cannot be parsed (a typo in `RUST_LOG` must not silence the daemon).
pub fn filter(rust_log: Option<&str>, verbosity: Verbosity) -> Targets {
    if let Some(spec) = rust_log.filter(|s| !s.trim().is_empty()) {
        if let Ok(targets) = Targets::from_str(spec) {
            return targets;
        }
        eprintln!("patchbay: ignoring unparsable RUST_LOG={spec:?}");
    }
    let level = match verbosity {
        Verbosity::Quiet => LevelFilter::WARN,
        Verbosity::Normal => LevelFilter::INFO,
        Verbosity::Verbose => LevelFilter::DEBUG,
    };
    Targets::new().with_default(level)
}

/// Installs the global subscriber (stderr).
pub fn init(verbosity: Verbosity) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true);
    tracing_subscriber::registry()
        .with(layer.with_filter(filter(rust_log.as_deref(), verbosity)))
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn rust_log_wins_over_verbosity() {
        let f = filter(Some("sacn=debug,warn"), Verbosity::Verbose);
        assert!(f.would_enable("sacn", &Level::DEBUG));
        assert!(!f.would_enable("core", &Level::INFO));
    }

    #[test]
    fn verbosity_levels() {
        assert!(!filter(None, Verbosity::Quiet).would_enable("core", &Level::INFO));
        assert!(filter(None, Verbosity::Normal).would_enable("core", &Level::INFO));
        assert!(!filter(None, Verbosity::Normal).would_enable("core", &Level::DEBUG));
        assert!(filter(Some(""), Verbosity::Verbose).would_enable("sacn", &Level::DEBUG));
    }
}
