//! Rate-limited logging: at most one line per period for one kind of problem, with the count of
//! what happened in between.
//!
//! Why: malformed packets, send errors and the like come from the network and can arrive by
//! the thousand per second; a line each would flood the log and cost more than handling them.
//! The counters say how many there were, the throttled line that there were any.

use std::time::{Duration, Instant};

/// A period that suits most problem logs: frequent enough to notice, rare enough not to flood.
pub const LOG_PERIOD: Duration = Duration::from_secs(10);

/// At most one log line per period; counts what happened in between. One per kind of problem
/// (per reason, per instance, ...), `Copy` so arrays of them are cheap.
#[derive(Clone, Copy, Debug, Default)]
pub struct Throttle {
    last: Option<Instant>,
    pending: u64,
}

impl Throttle {
    /// Records one occurrence; returns how many occurred since the last line when a line may be
    /// written now.
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use patchbay_kit::throttle::{LOG_PERIOD, Throttle};
    /// let mut log = Throttle::default();
    /// if let Some(n) = log.hit(Instant::now(), LOG_PERIOD) {
    ///     eprintln!("dropped {n} malformed packet(s)");
    /// }
    /// ```
    #[inline]
    pub fn hit(&mut self, now: Instant, period: Duration) -> Option<u64> {
        self.pending += 1;
        let due = self
            .last
            .is_none_or(|t| now.saturating_duration_since(t) >= period);
        if due {
            self.last = Some(now);
            let n = self.pending;
            self.pending = 0;
            Some(n)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_allows_one_line_per_period_with_the_count() {
        let t0 = Instant::now();
        let mut t = Throttle::default();
        assert_eq!(t.hit(t0, LOG_PERIOD), Some(1));
        assert_eq!(t.hit(t0 + Duration::from_secs(1), LOG_PERIOD), None);
        assert_eq!(t.hit(t0 + Duration::from_secs(9), LOG_PERIOD), None);
        assert_eq!(t.hit(t0 + Duration::from_secs(10), LOG_PERIOD), Some(3));
        assert_eq!(t.hit(t0 + Duration::from_secs(11), LOG_PERIOD), None);
    }
}
