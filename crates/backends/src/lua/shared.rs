//! The state of one instance that its script reaches through the API functions: channels and
//! their last values, values waiting to be reported, timers, threads, the cleanup handler,
//! the turn's time, counters.
//!
//! The API functions are closures owned by the interpreter, so this state is shared
//! (`Rc<RefCell<Shared>>`) between them and the backend. Borrows are short: nothing holds one
//! while Lua runs, so a function called from a handler the backend is running can borrow it.

use std::time::{Duration, Instant};

use mlua::{Function, Thread};
use patchbay_core::{ChannelId, Value};
use patchbay_kit::LOG_PERIOD;
use rustc_hash::FxHashMap;

use super::counters::{Counters, Logs};
use super::errors::{Failure, describe};

/// One channel of the instance (its key is its index).
#[derive(Debug)]
pub struct Chan {
    pub name: Box<str>,
    pub id: ChannelId,
    /// A mapping reads it: `output` reports events on it.
    pub source: bool,
    /// A mapping writes it: its handler is looked for at start.
    pub target: bool,
    /// The last value delivered (stored after its handler returned).
    pub input: Value,
    /// The last value the script output.
    pub output: Value,
}

/// A function called every `every` (`interval`); `every` zero is a stopped timer.
#[derive(Debug)]
pub struct Timer {
    pub func: Function,
    pub every: Duration,
    pub next: Instant,
}

/// A coroutine started by `thread`, waiting until `wake` (set by `sleep` or a bare yield).
#[derive(Debug)]
pub struct ThreadSlot {
    pub thread: Thread,
    pub wake: Option<Instant>,
    /// Finished or failed: removed after the turn (never while Lua runs).
    pub done: bool,
}

/// Recently handed-to-Lua values, so that a number the script passes on unchanged (`output(n,
/// v)` in the handler that got `v`) keeps its raw integer and width. A collision (another
/// value with the same level but a different raw width) is harmless: for every width up to
/// 52 bits the raw integer of a value is exactly what its level converts to.
#[derive(Debug, Default)]
pub struct Recent {
    values: [Value; 8],
    next: usize,
}

impl Recent {
    pub fn remember(&mut self, value: Value) {
        if value.raw().is_some() {
            self.values[self.next] = value;
            self.next = (self.next + 1) % self.values.len();
        }
    }

    /// The remembered value whose level is exactly `level`, bit for bit.
    pub fn find(&self, level: f64) -> Option<Value> {
        let bits = level.to_bits();
        self.values
            .iter()
            .find(|v| v.raw().is_some() && v.normalised().to_bits() == bits)
            .copied()
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct Shared {
    /// The instance's name, for log lines.
    pub instance: Box<str>,
    pub channels: Vec<Chan>,
    /// Channel name → key; the API looks names up with the bytes of a Lua string.
    pub names: FxHashMap<Box<[u8]>, u32>,
    /// Values output since the backend last handed them to the core (in order).
    pub pending: Vec<(ChannelId, Value)>,
    /// The channel whose handler is running (`input_channel`).
    pub current_channel: Option<u32>,
    pub recent: Recent,
    pub timers: Vec<Timer>,
    pub threads: Vec<ThreadSlot>,
    /// The thread whose turn it is (`sleep` applies to it).
    pub current_thread: Option<usize>,
    pub cleanup: Option<Function>,
    /// The time of this turn.
    pub now: Instant,
    /// `timestamp()` is `clock.1 + (now - clock.0)` in milliseconds: the monotonic clock as
    /// MIDIMonster reads it, moved by the loop's time (so a test clock moves it too).
    pub clock: (Instant, u64),
    pub counters: Counters,
    pub logs: Logs,
}

impl Shared {
    pub fn new(instance: &str, now: Instant) -> Self {
        Shared {
            instance: instance.into(),
            channels: Vec::new(),
            names: FxHashMap::default(),
            pending: Vec::new(),
            current_channel: None,
            recent: Recent::default(),
            timers: Vec::new(),
            threads: Vec::new(),
            current_thread: None,
            cleanup: None,
            now,
            clock: (now, 0),
            counters: Counters::default(),
            logs: Logs::default(),
        }
    }

    pub fn key_of(&self, name: &[u8]) -> Option<usize> {
        self.names.get(name).map(|&k| k as usize)
    }

    /// `output(name, level)`: clamped to 0..1 as MIDIMonster does, stored, and reported if a
    /// mapping reads the channel.
    pub fn output(&mut self, name: &[u8], level: f64) {
        let level = level.clamp(0.0, 1.0);
        let value = self
            .recent
            .find(level)
            .unwrap_or_else(|| Value::from_normalised(level));
        match self.key_of(name) {
            Some(key) => self.set_output(key, value),
            None => self.unknown_channel("output", name),
        }
    }

    /// `output` on the channel with key `key` (found by the script API's name table).
    pub fn output_key(&mut self, key: usize, level: f64) {
        let level = level.clamp(0.0, 1.0);
        let value = self
            .recent
            .find(level)
            .unwrap_or_else(|| Value::from_normalised(level));
        if key < self.channels.len() {
            self.set_output(key, value);
        }
    }

    fn set_output(&mut self, key: usize, value: Value) {
        let chan = &mut self.channels[key];
        chan.output = value;
        self.counters.outputs += 1;
        if chan.source {
            self.pending.push((chan.id, value));
        }
    }

    /// Milliseconds for `timestamp()`.
    pub fn timestamp(&self) -> u64 {
        let (at, ms) = self.clock;
        let since = self.now.saturating_duration_since(at).as_millis();
        ms.saturating_add(u64::try_from(since).unwrap_or(u64::MAX))
    }

    pub fn unknown_channel(&mut self, function: &str, name: &[u8]) {
        self.counters.unknown_channel += 1;
        if let Some(n) = self.logs.unknown_channel.hit(self.now, LOG_PERIOD) {
            tracing::info!(target: "lua",
                "instance {}: {function}() on '{}', a channel no mapping uses{}",
                self.instance, String::from_utf8_lossy(name), since(n));
        }
    }

    /// An API call ignored for its arguments, as MIDIMonster ignores it. `place` is where the
    /// script called it.
    pub fn misuse(&mut self, place: &str, what: &str) {
        self.counters.api_misuse += 1;
        if let Some(n) = self.logs.api_misuse.hit(self.now, LOG_PERIOD) {
            tracing::warn!(target: "lua", "instance {}: {place}{what}, ignored{}",
                self.instance, since(n));
        }
    }

    /// A call into Lua (`what`: "handler 'fader'", "interval", ...) failed: count it by why and
    /// log it (rate-limited). The instance keeps running.
    pub fn failed(&mut self, what: &str, failure: Failure, err: &mlua::Error) {
        let (count, log) = match failure {
            Failure::Script => (
                &mut self.counters.script_errors,
                &mut self.logs.script_errors,
            ),
            Failure::InstructionLimit => (
                &mut self.counters.instruction_limit,
                &mut self.logs.instruction_limit,
            ),
            Failure::MemoryLimit => (&mut self.counters.memory_limit, &mut self.logs.memory_limit),
        };
        *count += 1;
        if let Some(n) = log.hit(self.now, LOG_PERIOD) {
            tracing::error!(target: "lua", "instance {}: {what} failed: {}{}",
                self.instance, describe(err), since(n));
        }
    }

    /// The earliest instant a timer or thread wants to run, or now while values wait.
    pub fn deadline(&self) -> Option<Instant> {
        let timers = self
            .timers
            .iter()
            .filter(|t| !t.every.is_zero())
            .map(|t| t.next);
        let threads = self
            .threads
            .iter()
            .filter(|t| !t.done)
            .filter_map(|t| t.wake);
        let waiting = (!self.pending.is_empty()).then_some(self.now);
        timers.chain(threads).chain(waiting).min()
    }
}

/// How many times a throttled problem happened since its last log line, when more than once.
fn since(n: u64) -> String {
    if n > 1 {
        format!(" ({n} times since the last report)")
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_finds_only_exact_levels_of_raw_values() {
        let mut r = Recent::default();
        r.remember(Value::from_raw(40000, 16));
        r.remember(Value::from_normalised(0.25));
        let v = Value::from_raw(40000, 16).normalised();
        assert_eq!(r.find(v).and_then(|v| v.raw()), Some((40000, 16)));
        assert_eq!(r.find(0.25), None);
        assert_eq!(r.find(v / 2.0), None);
        // Eight newer values push it out.
        for n in 0..8 {
            r.remember(Value::from_raw(n, 8));
        }
        assert_eq!(r.find(v), None);
    }
}
