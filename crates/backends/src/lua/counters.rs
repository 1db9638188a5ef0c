//! What an instance counts (reported through `Backend::stats`; the names are stable and listed
//! in the backend's README) and the rate-limited logs of script problems.

use patchbay_core::{InstanceId, Stat};
use patchbay_kit::throttle::Throttle;

/// Per-instance totals since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Values delivered to the instance's channels.
    pub events_in: u64,
    /// Handler calls (per-channel functions or the default handler).
    pub handler_calls: u64,
    /// Delivered values whose channel has no handler (the value is only stored).
    pub unhandled: u64,
    /// `output` calls on channels the configuration uses.
    pub outputs: u64,
    /// `output`, `input_value` and `output_value` calls naming a channel no mapping uses.
    pub unknown_channel: u64,
    /// API calls ignored because of their arguments, as MIDIMonster ignores them (a missing
    /// value, a channel name that is neither a string nor a number).
    pub api_misuse: u64,
    /// `interval` functions called.
    pub timer_calls: u64,
    /// Turns of `thread` functions (the first run and every wake-up).
    pub thread_resumes: u64,
    /// Calls (handlers, intervals, threads, cleanup) that failed with a script error; each is
    /// skipped, the instance keeps running.
    pub script_errors: u64,
    /// Calls stopped by the instruction limit.
    pub instruction_limit: u64,
    /// Calls stopped by the memory limit.
    pub memory_limit: u64,
}

impl Counters {
    /// Named totals, plus the interpreter's memory in use now.
    pub fn stats(&self, id: InstanceId, memory: usize, out: &mut Vec<Stat>) {
        let named: [(&'static str, u64); 12] = [
            ("events_in", self.events_in),
            ("handler_calls", self.handler_calls),
            ("unhandled", self.unhandled),
            ("outputs", self.outputs),
            ("unknown_channel", self.unknown_channel),
            ("api_misuse", self.api_misuse),
            ("timer_calls", self.timer_calls),
            ("thread_resumes", self.thread_resumes),
            ("errors.script", self.script_errors),
            ("errors.instruction_limit", self.instruction_limit),
            ("errors.memory_limit", self.memory_limit),
            ("memory_bytes", memory as u64),
        ];
        for (name, value) in named {
            out.push(Stat::instance(id, name, value));
        }
    }
}

/// One throttle per kind of problem a script can cause at any rate (so an endless loop is
/// reported even while a handler fails on every event).
#[derive(Clone, Copy, Debug, Default)]
pub struct Logs {
    pub script_errors: Throttle,
    pub instruction_limit: Throttle,
    pub memory_limit: Throttle,
    pub unknown_channel: Throttle,
    pub api_misuse: Throttle,
}
