//! Timers and threads, run from the loop: `process` calls the functions whose interval is due
//! and resumes the threads whose sleep is over (the instance's deadline tells the loop when).
//! No thread of the operating system is involved; coroutines are Lua's.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use mlua::thread::ThreadStatus;
use patchbay_core::Sink;

use super::api::MIN_SLEEP;
use super::errors::Failure;
use super::guard::Budget;
use super::shared::Shared;

/// Hands the values the script output to the core, in order.
pub fn drain(shared: &RefCell<Shared>, sink: &mut Sink<'_>) {
    let mut s = shared.borrow_mut();
    for (channel, value) in s.pending.drain(..) {
        sink.push(channel, value);
    }
}

/// The next run of a timer that was due at `next`: a whole number of periods later, and after
/// `now` (periods missed during a stall are skipped, the phase is kept, as MIDIMonster's
/// `delta %= interval` does).
pub fn following(next: Instant, every: Duration, now: Instant) -> Instant {
    let behind = now.saturating_duration_since(next).as_nanos();
    let every_ns = every.as_nanos().max(1);
    // `behind % every` is below `every`, which is at most a year: it fits in u64 nanoseconds.
    let into = Duration::from_nanos(u64::try_from(behind % every_ns).unwrap_or(0));
    now + (every - into)
}

/// Calls every timer that is due at `now`, once each, and resumes every thread whose wake-up
/// time has come. Values they output go to `sink` after each call.
pub fn run_due(shared: &RefCell<Shared>, budget: &Budget, now: Instant, sink: &mut Sink<'_>) {
    // Timers registered or changed by a timer are visited by index; new ones are not due yet.
    let mut i = 0;
    loop {
        let due = {
            let mut s = shared.borrow_mut();
            let Some(t) = s.timers.get_mut(i) else { break };
            if t.every.is_zero() || t.next > now {
                None
            } else {
                t.next = following(t.next, t.every, now);
                let f = t.func.clone();
                s.counters.timer_calls += 1;
                Some(f)
            }
        };
        if let Some(f) = due {
            budget.arm();
            if let Err(e) = f.call::<()>(()) {
                let what = match f.info() {
                    mlua::function::FunctionInfo {
                        short_src: Some(src),
                        line_defined: Some(line),
                        ..
                    } => format!("interval function of {src}:{line}"),
                    _ => "interval function".to_string(),
                };
                shared
                    .borrow_mut()
                    .failed(&what, Failure::of(&e, budget), &e);
            }
            drain(shared, sink);
        }
        i += 1;
    }
    shared.borrow_mut().timers.retain(|t| !t.every.is_zero());

    let mut i = 0;
    loop {
        let due = {
            let s = shared.borrow();
            let Some(t) = s.threads.get(i) else { break };
            !t.done && t.wake.is_some_and(|w| w <= now)
        };
        if due {
            budget.arm();
            resume(shared, budget, i);
            drain(shared, sink);
        }
        i += 1;
    }
    shared.borrow_mut().threads.retain(|t| !t.done);
}

/// Gives thread `index` its turn, until it sleeps, yields, ends or fails. Called by the loop
/// and by `thread()` (a thread started by a thread runs inside its starter's turn and budget).
pub fn resume(shared: &RefCell<Shared>, budget: &Budget, index: usize) {
    let (thread, starter) = {
        let mut s = shared.borrow_mut();
        let Some(slot) = s.threads.get_mut(index) else {
            return;
        };
        slot.wake = None;
        let thread = slot.thread.clone();
        s.counters.thread_resumes += 1;
        (thread, s.current_thread.replace(index))
    };
    let result = thread.resume::<()>(());
    let mut s = shared.borrow_mut();
    s.current_thread = starter;
    let now = s.now;
    match result {
        Ok(()) if thread.status() == ThreadStatus::Resumable => {
            // A bare coroutine.yield(): the thread goes on in the next millisecond.
            if let Some(slot) = s.threads.get_mut(index) {
                slot.wake.get_or_insert(now + MIN_SLEEP);
            }
        }
        Ok(()) => {
            if let Some(slot) = s.threads.get_mut(index) {
                slot.done = true;
            }
            tracing::debug!(target: "lua", "instance {}: thread {index} finished", s.instance);
        }
        Err(e) => {
            if let Some(slot) = s.threads.get_mut(index) {
                slot.done = true;
            }
            s.failed("thread", Failure::of(&e, budget), &e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_timer_skips_missed_periods_and_keeps_its_phase() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(following(t0, ms(100), t0), t0 + ms(100));
        assert_eq!(following(t0, ms(100), t0 + ms(30)), t0 + ms(100));
        assert_eq!(following(t0, ms(100), t0 + ms(100)), t0 + ms(200));
        assert_eq!(following(t0, ms(100), t0 + ms(1050)), t0 + ms(1100));
    }
}
