//! The delay before the next connection attempt.

use std::time::Duration;

use super::config::Backoff;

/// Attempt counter and jitter generator.
#[derive(Debug, Clone)]
pub(crate) struct Retry {
    cfg: Backoff,
    attempts: u32,
    rng: u64,
}

impl Retry {
    pub(crate) fn new(cfg: Backoff) -> Self {
        Retry {
            cfg,
            attempts: 0,
            rng: cfg.seed,
        }
    }

    /// Delay before the next attempt; each call doubles the next one up to the maximum.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let base = self
            .cfg
            .initial
            .saturating_mul(1u32 << self.attempts.min(20))
            .min(self.cfg.max);
        self.attempts = self.attempts.saturating_add(1);
        let jitter = self.cfg.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return base;
        }
        // splitmix64: a uniform value in -1..1.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        base.mul_f64(1.0 + jitter * unit)
    }

    /// A connection lasted: start again from the initial delay.
    pub(crate) fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_maximum_and_resets() {
        let mut r = Retry::new(Backoff {
            jitter: 0.0,
            ..Backoff::default()
        });
        let ms: Vec<u128> = (0..8).map(|_| r.next_delay().as_millis()).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
        r.reset();
        assert_eq!(r.next_delay().as_millis(), 500);
    }

    #[test]
    fn jitter_stays_within_its_fraction_and_is_seeded() {
        let cfg = Backoff::default();
        let mut a = Retry::new(cfg);
        let mut b = Retry::new(cfg);
        for _ in 0..50 {
            let (x, y) = (a.next_delay(), b.next_delay());
            assert_eq!(x, y, "same seed, same delays");
            let max = cfg.max.as_secs_f64();
            assert!(
                x.as_secs_f64() <= max * 1.2 + 1e-9 && x.as_secs_f64() >= 0.4,
                "{x:?}"
            );
        }
        let mut c = Retry::new(Backoff { seed: 7, ..cfg });
        let mut d = Retry::new(cfg);
        assert!((0..5).any(|_| c.next_delay() != d.next_delay()));
    }
}
