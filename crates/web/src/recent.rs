//! The last warnings and errors the daemon logged, for the monitor's "recent warnings": a
//! `tracing` layer feeding a bounded ring.
//!
//! Why a layer of the process's one subscriber: every part of patchbay logs through `tracing`
//! (backends, the core, side threads), so the monitor sees exactly what the log shows, with no
//! hook in any of them. Only `WARN` and `ERROR` events are kept, whatever the log filter, and
//! problems the network can cause are already rate-limited where they are logged, so this costs
//! one formatted line per warning. The ring is behind a mutex because side threads log too; the
//! loop holds it only to copy out what is new.

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// Lines kept.
pub const CAPACITY: usize = 100;
/// Longest line kept (longer ones are cut).
pub const MAX_LINE: usize = 1024;

/// One logged warning or error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Counts every line since start, so a reader can ask for what is newer than it saw.
    pub seq: u64,
    /// Wall-clock time, milliseconds since the Unix epoch.
    pub unix_ms: u64,
    pub level: Level,
    pub target: String,
    pub message: String,
}

#[derive(Debug, Default)]
struct Ring {
    lines: VecDeque<Line>,
    next: u64,
}

/// The ring, shared between the layer (any thread) and the monitor (the loop).
#[derive(Clone, Debug, Default)]
pub struct RecentLog {
    ring: Arc<Mutex<Ring>>,
}

impl RecentLog {
    /// The process's log (the one the daemon's subscriber feeds).
    pub fn global() -> &'static RecentLog {
        static LOG: std::sync::OnceLock<RecentLog> = std::sync::OnceLock::new();
        LOG.get_or_init(RecentLog::default)
    }

    /// A `tracing` layer that feeds this log with every warning and error.
    pub fn layer(&self) -> RecentLayer {
        RecentLayer { log: self.clone() }
    }

    /// Adds a line (what the layer does; tests call it directly), cut at [`MAX_LINE`].
    pub fn push(&self, level: Level, target: &str, mut message: String) {
        if message.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let seq = ring.next;
        ring.next += 1;
        if ring.lines.len() >= CAPACITY {
            ring.lines.pop_front();
        }
        ring.lines.push_back(Line {
            seq,
            unix_ms,
            level,
            target: target.to_string(),
            message,
        });
    }

    /// The sequence number the next line will get (a reader that saw everything before it
    /// has nothing new).
    pub fn next_seq(&self) -> u64 {
        self.ring
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next
    }

    /// Calls `f` with every kept line numbered `since` or later, oldest first.
    pub fn each_since(&self, since: u64, mut f: impl FnMut(&Line)) {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        for line in ring.lines.iter().filter(|l| l.seq >= since) {
            f(line);
        }
    }
}

/// The layer of [`RecentLog::layer`].
pub struct RecentLayer {
    log: RecentLog,
}

impl<S: Subscriber> Layer<S> for RecentLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() > Level::WARN {
            return;
        }
        let mut v = Message(String::new());
        event.record(&mut v);
        self.log.push(*meta.level(), meta.target(), v.0);
    }
}

/// The event's message, then its other fields as `name=value`, as the log line shows them.
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if self.0.len() > MAX_LINE {
            return;
        }
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}");
            if !rest.is_empty() {
                self.0.push(' ');
                self.0.push_str(&rest);
            }
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::prelude::*;

    #[test]
    fn the_layer_keeps_warnings_and_errors_only_and_the_ring_is_bounded() {
        let log = RecentLog::default();
        let subscriber = tracing_subscriber::registry().with(log.layer());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: "sacn", "not kept");
            tracing::warn!(target: "sacn", universe = 5, "source {} lost", "desk");
            tracing::error!(target: "core", "backend failed");
        });
        let mut got = Vec::new();
        log.each_since(0, |l| {
            got.push((l.seq, l.level, l.target.clone(), l.message.clone()))
        });
        assert_eq!(
            got,
            [
                (
                    0,
                    Level::WARN,
                    "sacn".to_string(),
                    "source desk lost universe=5".to_string()
                ),
                (
                    1,
                    Level::ERROR,
                    "core".to_string(),
                    "backend failed".to_string()
                ),
            ]
        );
        for i in 0..CAPACITY + 5 {
            log.push(Level::WARN, "t", format!("line {i}"));
        }
        let mut n = 0;
        let mut first = None;
        log.each_since(0, |l| {
            n += 1;
            first.get_or_insert(l.seq);
        });
        assert_eq!((n, first), (CAPACITY, Some(7)));
        assert_eq!(log.next_seq(), 2 + CAPACITY as u64 + 5);
        let mut newer = 0;
        log.each_since(log.next_seq() - 2, |_| newer += 1);
        assert_eq!(newer, 2);
        log.push(Level::WARN, "t", "é".repeat(MAX_LINE));
        let mut len = 0;
        log.each_since(log.next_seq() - 1, |l| len = l.message.len());
        assert!(len <= MAX_LINE + 3, "{len}");
    }
}
