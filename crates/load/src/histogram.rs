//! Latency histogram: log-linear buckets (exact below 128 ns, then 128 buckets per power of two,
//! under 0.8 % relative error), fixed size, so recording never allocates and long overload runs
//! keep bounded memory.

const SUB_BITS: u32 = 7;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * SUB as usize;

/// Counts of latency samples in nanoseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64; BUCKETS]>,
    n: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("n", &self.n)
            .field("min", &self.min)
            .field("max", &self.max)
            .finish()
    }
}

#[inline]
fn index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - SUB_BITS;
    let mantissa = v >> shift; // in SUB..2*SUB
    ((shift as u64 + 1) * SUB + (mantissa - SUB)) as usize
}

/// Highest value that falls into bucket `i`.
#[inline]
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let shift = i / SUB - 1;
    let mantissa = SUB + i % SUB;
    ((mantissa + 1) << shift).wrapping_sub(1)
}

impl Histogram {
    /// An empty histogram (one allocation of about 60 KB).
    pub fn new() -> Self {
        let counts: Box<[u64; BUCKETS]> = match vec![0u64; BUCKETS].into_boxed_slice().try_into() {
            Ok(b) => b,
            Err(_) => unreachable!("vec has BUCKETS elements"),
        };
        Self {
            counts,
            n: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Adds one sample.
    #[inline]
    pub fn record(&mut self, v: u64) {
        if let Some(c) = self.counts.get_mut(index(v)) {
            *c += 1;
        }
        self.n += 1;
        self.sum += u128::from(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    /// Number of samples.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// No samples.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Largest sample (exact); 0 when empty.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Smallest sample (exact); 0 when empty.
    pub fn min(&self) -> u64 {
        if self.n == 0 { 0 } else { self.min }
    }

    /// Mean (exact); 0 when empty.
    pub fn mean(&self) -> u64 {
        if self.n == 0 {
            0
        } else {
            (self.sum / u128::from(self.n)) as u64
        }
    }

    /// The `p`-th percentile (0..=100) by the nearest-rank rule: the smallest recorded value such
    /// that at least p % of the samples are at or below it, reported as its bucket's upper bound
    /// (never above the true maximum), so the figure errs high, never low. 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let rank = ((p.clamp(0.0, 100.0) / 100.0) * self.n as f64)
            .ceil()
            .max(1.0) as u64;
        let mut seen = 0u64;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// p50, p99 and max of nanosecond samples as three markdown table cells in milliseconds
    /// (`0.19 ms | 1.27 ms | 4.20 ms`), for the tools' result tables.
    pub fn latency_cells(&self) -> String {
        let ms = |ns: u64| ns as f64 / 1e6;
        format!(
            "{:.2} ms | {:.2} ms | {:.2} ms",
            ms(self.percentile(50.0)),
            ms(self.percentile(99.0)),
            ms(self.max())
        )
    }

    /// Adds all samples of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.n += other.n;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn buckets_are_contiguous_and_ordered() {
        let mut prev = None;
        for v in (0..5000u64).chain([u64::MAX / 2, u64::MAX]) {
            let i = index(v);
            assert!(i < BUCKETS, "{v}");
            assert!(upper(i) >= v, "{v}: bucket {i} upper {}", upper(i));
            if let Some((pv, pi)) = prev
                && v == pv + 1
            {
                assert!(i == pi || i == pi + 1, "{v}");
            }
            prev = Some((v, i));
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        assert_eq!(upper(BUCKETS - 1), u64::MAX);
    }

    #[test]
    fn exact_nearest_rank_for_small_values() {
        let mut h = Histogram::new();
        for v in 1..=100 {
            h.record(v);
        }
        assert_eq!(h.len(), 100);
        assert_eq!(h.percentile(50.0), 50);
        assert_eq!(h.percentile(99.0), 99);
        assert_eq!(h.percentile(100.0), 100);
        assert_eq!(h.percentile(0.0), 1);
        assert_eq!(h.min(), 1);
        assert_eq!(h.max(), 100);
        assert_eq!(h.mean(), 50);
    }

    #[test]
    fn outlier_shows_in_max_not_p99() {
        let mut h = Histogram::new();
        for _ in 0..999 {
            h.record(70_000);
        }
        h.record(5_000_000);
        let p99 = h.percentile(99.0);
        assert!((70_000..=70_000 * 1008 / 1000).contains(&p99), "{p99}");
        assert_eq!(h.max(), 5_000_000);
        assert_eq!(h.percentile(100.0), 5_000_000);
    }

    #[test]
    fn empty_reports_zero() {
        let h = Histogram::new();
        assert!(h.is_empty());
        assert_eq!(
            (h.percentile(50.0), h.max(), h.min(), h.mean()),
            (0, 0, 0, 0)
        );
    }

    #[test]
    fn merge_adds() {
        let (mut a, mut b) = (Histogram::new(), Histogram::new());
        a.record(10);
        b.record(1_000_000);
        a.merge(&b);
        assert_eq!((a.len(), a.min(), a.max()), (2, 10, 1_000_000));
    }

    proptest! {
        /// Against the exact nearest-rank percentile of the sorted samples: never below, at most
        /// 0.8 % above.
        #[test]
        fn percentile_within_bucket_error(mut v in proptest::collection::vec(0u64..10_000_000_000, 1..300), p in 0.0f64..=100.0) {
            let mut h = Histogram::new();
            for &x in &v { h.record(x); }
            v.sort_unstable();
            let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
            let exact = v[rank - 1];
            let got = h.percentile(p);
            prop_assert!(got >= exact, "{} < {}", got, exact);
            prop_assert!(got as f64 <= exact as f64 * 1.008 + 1.0, "{} vs {}", got, exact);
        }
    }
}
