//! Log output: `tracing` with one target per area (`core`, `config`, `sacn`, `loopback`, ...).
//!
//! `RUST_LOG` (e.g. `sacn=debug,info`) wins over `-q` / `--verbose`. Colours only on a
//! terminal, so journald and pipes get clean lines. When stderr is the journal (systemd's
//! `JOURNAL_STREAM` names it), lines carry no timestamp (journald stamps them itself) and start
//! with a syslog priority prefix such as `<4>`, which journald strips and stores, so
//! `journalctl -p warning` works.

use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::str::FromStr;

use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::{DefaultFields, Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

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
    let layer = if stderr_is_journal() {
        layer
            .event_format(SyslogPrefix(Format::default().without_time()))
            .boxed()
    } else {
        layer.boxed()
    };
    // The web monitor's "recent warnings" (kept whatever the filter says; see patchbay_web::recent).
    tracing_subscriber::registry()
        .with(layer.with_filter(filter(rust_log.as_deref(), verbosity)))
        .with(patchbay_web::RecentLog::global().layer())
        .init();
}

/// Whether stderr is the stream systemd connected to the journal. `JOURNAL_STREAM` alone is not
/// enough: it is inherited, e.g. by a patchbay started from a shell inside a service, whose
/// stderr is a terminal or pipe.
pub fn stderr_is_journal() -> bool {
    let Ok(var) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() else {
        return false;
    };
    let Ok(meta) = std::fs::File::from(fd).metadata() else {
        return false;
    };
    journal_stream_is(&var, meta.dev(), meta.ino())
}

/// Whether a `JOURNAL_STREAM` value (`DEVICE:INODE`, decimal) names this file.
pub fn journal_stream_is(var: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = var.trim().split_once(':') else {
        return false;
    };
    d.parse() == Ok(dev) && i.parse() == Ok(ino)
}

/// The syslog priority journald reads from a `<N>` line prefix (sd-daemon(3)).
pub fn syslog_priority(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Puts `<N>` in front of each line of the wrapped format.
struct SyslogPrefix<F>(F);

impl<S, F> FormatEvent<S, DefaultFields> for SyslogPrefix<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    F: FormatEvent<S, DefaultFields>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, DefaultFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        write!(writer, "<{}>", syslog_priority(*event.metadata().level()))?;
        self.0.format_event(ctx, writer, event)
    }
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
    fn journal_stream_must_name_this_file() {
        assert!(journal_stream_is("8:12345", 8, 12345));
        assert!(journal_stream_is("8:12345\n", 8, 12345));
        assert!(!journal_stream_is("8:12346", 8, 12345));
        assert!(!journal_stream_is("9:12345", 8, 12345));
        assert!(!journal_stream_is("", 8, 12345));
        assert!(!journal_stream_is("8", 8, 12345));
    }

    #[test]
    fn syslog_priorities() {
        let p: Vec<u8> = [
            Level::ERROR,
            Level::WARN,
            Level::INFO,
            Level::DEBUG,
            Level::TRACE,
        ]
        .into_iter()
        .map(syslog_priority)
        .collect();
        assert_eq!(p, [3, 4, 6, 7, 7]);
    }

    #[test]
    fn verbosity_levels() {
        assert!(!filter(None, Verbosity::Quiet).would_enable("core", &Level::INFO));
        assert!(filter(None, Verbosity::Normal).would_enable("core", &Level::INFO));
        assert!(!filter(None, Verbosity::Normal).would_enable("core", &Level::DEBUG));
        assert!(filter(Some(""), Verbosity::Verbose).would_enable("sacn", &Level::DEBUG));
    }
}
