//! Work the embedding program asks the loop itself to do: periodic tasks and a shutdown
//! notice. Running them from the loop (not a thread or timer of their own) ties them to the
//! loop's health: a service manager's watchdog ping stops when an iteration hangs, which is
//! the point of a watchdog.

use std::time::{Duration, Instant};

/// Shortest period a task may ask for, so a zero period cannot make the loop spin.
pub(super) const MIN_PERIOD: Duration = Duration::from_millis(1);

struct Periodic {
    period: Duration,
    next: Instant,
    task: Box<dyn FnMut(Instant)>,
}

/// Periodic tasks and shutdown notices of one [`crate::Core`].
#[derive(Default)]
pub(super) struct Hooks {
    periodic: Vec<Periodic>,
    on_shutdown: Vec<Box<dyn FnOnce(Instant)>>,
}

impl Hooks {
    /// Adds a task first due one `period` after `now`.
    pub(super) fn every(&mut self, now: Instant, period: Duration, task: Box<dyn FnMut(Instant)>) {
        let period = period.max(MIN_PERIOD);
        self.periodic.push(Periodic {
            period,
            next: now + period,
            task,
        });
    }

    pub(super) fn on_shutdown(&mut self, task: Box<dyn FnOnce(Instant)>) {
        self.on_shutdown.push(task);
    }

    /// The earliest instant a periodic task is due (bounds the loop's wait).
    pub(super) fn next_due(&self) -> Option<Instant> {
        self.periodic.iter().map(|p| p.next).min()
    }

    /// Runs every task that is due at `now`, once each. After a stall (the loop did not turn
    /// for several periods) a task runs once and its schedule restarts from `now`, instead of
    /// catching up with a burst.
    pub(super) fn run_due(&mut self, now: Instant) {
        for p in &mut self.periodic {
            if now < p.next {
                continue;
            }
            (p.task)(now);
            p.next += p.period;
            if p.next <= now {
                p.next = now + p.period;
            }
        }
    }

    /// Runs the shutdown notices (once: they are consumed).
    pub(super) fn shutting_down(&mut self, now: Instant) {
        for task in self.on_shutdown.drain(..) {
            task(now);
        }
    }
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("periodic", &self.periodic.len())
            .field("on_shutdown", &self.on_shutdown.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn due_tasks_run_once_and_keep_their_phase() {
        let t0 = Instant::now();
        let runs = Rc::new(RefCell::new(Vec::new()));
        let mut hooks = Hooks::default();
        let r = Rc::clone(&runs);
        hooks.every(t0, 100 * MS, Box::new(move |now| r.borrow_mut().push(now)));
        assert_eq!(hooks.next_due(), Some(t0 + 100 * MS));
        hooks.run_due(t0 + 99 * MS);
        assert!(runs.borrow().is_empty());
        // A late turn runs the task once; the next one stays on the 100 ms grid.
        hooks.run_due(t0 + 130 * MS);
        assert_eq!(*runs.borrow(), [t0 + 130 * MS]);
        assert_eq!(hooks.next_due(), Some(t0 + 200 * MS));
        // A stall of several periods: one run, then a schedule from now.
        hooks.run_due(t0 + 750 * MS);
        assert_eq!(runs.borrow().len(), 2);
        assert_eq!(hooks.next_due(), Some(t0 + 850 * MS));
    }

    #[test]
    fn zero_period_is_clamped_and_shutdown_notices_run_once() {
        let t0 = Instant::now();
        let mut hooks = Hooks::default();
        hooks.every(t0, Duration::ZERO, Box::new(|_| {}));
        assert_eq!(hooks.next_due(), Some(t0 + MIN_PERIOD));
        let count = Rc::new(RefCell::new(0));
        let c = Rc::clone(&count);
        hooks.on_shutdown(Box::new(move |_| *c.borrow_mut() += 1));
        hooks.shutting_down(t0);
        hooks.shutting_down(t0);
        assert_eq!(*count.borrow(), 1);
    }
}
