//! Send schedule: tick k of a phase is due at `start + k / rate`, computed from the phase start
//! rather than by adding periods, so rounding never accumulates into drift.

use std::time::{Duration, Instant};

/// The ticks of one phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Phase start, ns since the epoch.
    pub start_ns: u64,
    /// Ticks per second (> 0).
    pub rate_hz: f64,
    /// Phase length in ns.
    pub duration_ns: u64,
}

impl Schedule {
    /// When tick `k` is due, ns since the epoch.
    pub fn deadline(&self, k: u64) -> u64 {
        self.start_ns + (k as f64 * 1e9 / self.rate_hz).round() as u64
    }

    /// Number of ticks due within the phase: those with deadline < start + duration.
    pub fn ticks(&self) -> u64 {
        if self.rate_hz <= 0.0 {
            return 0;
        }
        let n = (self.duration_ns as f64 * self.rate_hz / 1e9).ceil() as u64;
        // Guard against rounding at the boundary.
        (n.saturating_sub(1)..=n + 1)
            .take_while(|&k| self.deadline(k) < self.start_ns + self.duration_ns)
            .last()
            .map_or(0, |k| k + 1)
    }
}

/// Ns since `epoch`.
#[inline]
pub fn now_ns(epoch: Instant) -> u64 {
    epoch.elapsed().as_nanos() as u64
}

/// Sleeps until `deadline_ns` (since `epoch`); spins for the last `spin_ns`. Returns how late the
/// wake-up was, in ns (0 if the deadline had not passed).
pub fn wait_until(epoch: Instant, deadline_ns: u64, spin_ns: u64) -> u64 {
    loop {
        let now = now_ns(epoch);
        if now >= deadline_ns {
            return now - deadline_ns;
        }
        let left = deadline_ns - now;
        if left > spin_ns {
            std::thread::sleep(Duration::from_nanos(left - spin_ns));
        } else {
            std::hint::spin_loop();
        }
    }
}

/// Asks the kernel to wake sleeping threads of this process within 1 µs of the requested time
/// (the default slack is 50 µs), so pacing is precise without spinning on a shared machine.
pub fn tighten_timer_slack() {
    let _ = nix::sys::prctl::set_timerslack(1_000);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_44_hz() {
        let s = Schedule {
            start_ns: 1_000,
            rate_hz: 44.0,
            duration_ns: 1_000_000_000,
        };
        assert_eq!(s.deadline(0), 1_000);
        assert_eq!(s.deadline(1), 1_000 + 22_727_273);
        assert_eq!(s.deadline(44), 1_000 + 1_000_000_000);
        assert_eq!(s.ticks(), 44);
    }

    #[test]
    fn no_drift_over_a_million_ticks() {
        let s = Schedule {
            start_ns: 0,
            rate_hz: 3.0,
            duration_ns: 0,
        };
        assert_eq!(s.deadline(3_000_000), 1_000_000_000_000_000);
        assert_eq!(s.deadline(3_000_001), 1_000_000_333_333_333);
        assert_eq!(s.deadline(1), 333_333_333);
        assert_eq!(s.deadline(2), 666_666_667);
    }

    #[test]
    fn tick_counts() {
        let mk = |rate_hz, duration_ns| Schedule {
            start_ns: 5,
            rate_hz,
            duration_ns,
        };
        assert_eq!(mk(1000.0, 1_000_000_000).ticks(), 1000);
        assert_eq!(mk(1000.0, 1_000_000_001).ticks(), 1001);
        assert_eq!(mk(1000.0, 999_999_999).ticks(), 1000);
        assert_eq!(mk(1000.0, 1).ticks(), 1);
        assert_eq!(mk(1000.0, 0).ticks(), 0);
        assert_eq!(mk(0.0, 1_000_000_000).ticks(), 0);
        assert_eq!(mk(2.5, 2_000_000_000).ticks(), 5);
    }

    #[test]
    fn wait_until_past_deadline_returns_lateness() {
        let epoch = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        let late = wait_until(epoch, 1_000, 0);
        assert!(late >= 1_999_000 - 1_000, "{late}");
    }

    #[test]
    fn wait_until_waits() {
        let epoch = Instant::now();
        let target = now_ns(epoch) + 3_000_000;
        wait_until(epoch, target, 100_000);
        assert!(now_ns(epoch) >= target);
    }
}
