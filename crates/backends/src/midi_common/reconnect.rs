//! When to try a device or server again, and which attempts to log.
//!
//! Why log only the first failure and the return: a controller unplugged for an hour would
//! otherwise write a line per retry. The counters (`reconnects`) say how often it came back.

use std::time::{Duration, Instant};

/// Time between two attempts to reach a device or server that is not there.
pub const RETRY_PERIOD: Duration = Duration::from_secs(1);

/// The connection state of one device or server, driven by the loop's `now`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reconnect {
    state: State,
    /// An outage was logged and its end has not been yet.
    outage_logged: bool,
    /// Connections made after a loss or a failed attempt.
    reconnects: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Not tried yet, or due again at this instant.
    Due(Instant),
    /// An attempt is under way (a side thread opens the connection).
    Trying,
    /// Connected.
    Up,
}

/// What the caller should log after [`Reconnect::failed`] or [`Reconnect::lost`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outage {
    /// The first failure of this outage: log it, saying that it will be retried.
    Began,
    /// Already logged.
    Continues,
}

impl Reconnect {
    /// Due at once.
    pub fn new(now: Instant) -> Reconnect {
        Reconnect {
            state: State::Due(now),
            outage_logged: false,
            reconnects: 0,
        }
    }

    /// Whether an attempt should start now.
    pub fn due(&self, now: Instant) -> bool {
        matches!(self.state, State::Due(t) if now >= t)
    }

    /// The next attempt, for `poll_timeout`.
    pub fn deadline(&self) -> Option<Instant> {
        match self.state {
            State::Due(t) => Some(t),
            State::Trying | State::Up => None,
        }
    }

    /// Whether connected.
    pub fn is_up(&self) -> bool {
        self.state == State::Up
    }

    /// Something suggests the device is back (a new port appeared): a waiting attempt is due
    /// at once instead of at the end of the retry period.
    pub fn hurry(&mut self, now: Instant) {
        if let State::Due(t) = &mut self.state {
            *t = (*t).min(now);
        }
    }

    /// An attempt started (it may finish later, on another thread).
    pub fn trying(&mut self) {
        self.state = State::Trying;
    }

    /// The attempt failed: try again after [`RETRY_PERIOD`].
    pub fn failed(&mut self, now: Instant) -> Outage {
        self.state = State::Due(now + RETRY_PERIOD);
        self.begin_outage()
    }

    /// The connection went away: try again at once (a server that restarts is usually back
    /// within the retry period, and a device's port may already be there again).
    pub fn lost(&mut self, now: Instant) -> Outage {
        self.state = State::Due(now);
        self.begin_outage()
    }

    fn begin_outage(&mut self) -> Outage {
        if self.outage_logged {
            Outage::Continues
        } else {
            self.outage_logged = true;
            Outage::Began
        }
    }

    /// Connected; true when an outage was logged, so the caller logs the return.
    pub fn connected(&mut self) -> bool {
        self.state = State::Up;
        let was_out = std::mem::take(&mut self.outage_logged);
        if was_out {
            self.reconnects += 1;
        }
        was_out
    }

    /// Connections made after an outage, for the `reconnects` counter.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_log_line_per_outage_and_a_retry_every_period() {
        let t0 = Instant::now();
        let mut r = Reconnect::new(t0);
        assert!(r.due(t0));
        r.trying();
        assert!(!r.due(t0) && r.deadline().is_none());
        assert_eq!(r.failed(t0), Outage::Began);
        assert_eq!(r.deadline(), Some(t0 + RETRY_PERIOD));
        assert!(!r.due(t0 + RETRY_PERIOD / 2));
        assert!(r.due(t0 + RETRY_PERIOD));
        r.trying();
        assert_eq!(r.failed(t0 + RETRY_PERIOD), Outage::Continues);
        r.trying();
        assert!(r.connected(), "the outage was logged, so is its end");
        assert!(r.is_up() && r.deadline().is_none());
        assert_eq!(r.reconnects(), 1);
        let t1 = t0 + 10 * RETRY_PERIOD;
        assert_eq!(r.lost(t1), Outage::Began);
        assert!(r.due(t1), "a lost connection is tried again at once");
        r.trying();
        assert!(r.connected());
        assert_eq!(r.reconnects(), 2);
    }

    #[test]
    fn a_first_attempt_that_works_is_no_reconnect() {
        let t0 = Instant::now();
        let mut r = Reconnect::new(t0);
        r.trying();
        assert!(!r.connected());
        assert_eq!(r.reconnects(), 0);
    }
}
