//! Receive-buffer sizing from queueing delay: a large buffer for bursts, a small one while the
//! reader cannot keep up.
//!
//! Why: a receive buffer holds the datagrams a reader has not read yet. 4 MiB
//! ([`crate::RECV_BUFFER`]) is what a burst of 1,000 universes sent in one millisecond
//! needs. But when the reader falls behind for good (a CPU quota, a machine too slow for the
//! input), the kernel keeps that buffer full and drops the *newest* datagrams, and the reader
//! works through a queue of old ones: held to 5 % of a core and offered 10x what it could read,
//! patchbay's output was 200–430 ms stale. Show control wants the latest values (issue 9), so a
//! queue that never empties should be short.
//!
//! How (the idea of CoDel, RFC 8289, applied to the buffer size instead of to drops): time is cut
//! into intervals of [`INTERVAL`], each judged by the shortest and longest time a datagram read
//! in it had waited in the kernel, by whether a read found the queue empty, and by whether the
//! kernel dropped any:
//!
//! - **Standing queue** (the queue never ran dry, and even the shortest wait exceeded
//!   [`TARGET`]): the buffer shrinks in proportion to that wait, down to [`FLOOR`]. Both are
//!   needed: a sparse stream read late by a busy process has long waits but no queue.
//! - **Keeping up** (every wait within `TARGET`, or nothing dropped): the buffer doubles back
//!   towards its maximum. A burst is read from its first datagram on, so bursts never shrink
//!   the buffer, and after an overload the buffer is back at its maximum within a few
//!   intervals, whether or not bursts overflow it meanwhile.
//! - **Otherwise** (the queue empties, but only after holding input longer than `TARGET`, and
//!   overflows meanwhile: a reader frozen by a CPU quota, say) the size stays. A larger buffer
//!   would only hold older input; measured under a quota, growing there made the queue stand
//!   again every few intervals.
//!
//! Shrinking stops the queue from growing stale, but what it held when the overload began is
//! still in it. So while the buffer is below its maximum, datagrams that waited longer than
//! [`STALE`] are marked stale, and the protocol may skip their payload.
//!
//! Sans-IO: [`RcvBuf::observe`] takes the times and returns the size to set; the
//! [`crate::UdpEndpoint`] owns one per socket, makes the system call and marks stale datagrams.

use std::time::Duration;

/// Length of the intervals judged. Long enough to span several stalls of a busy or CPU-limited
/// reader (bench-e2e's quota freezes patchbay for 19 ms of every 20), short enough to react within
/// a fraction of a second.
pub const INTERVAL: Duration = Duration::from_millis(100);

/// Queueing delay above which the queue is standing when no datagram of an interval waited less.
/// Above the scheduling stalls a busy machine has anyway (the sACN input tolerates 8 ms before
/// it coalesces), well below what an operator notices.
pub const TARGET: Duration = Duration::from_millis(10);

/// Age beyond which a datagram read while the buffer is below its maximum is marked stale
/// ([`crate::RecvMeta::stale`]): when an overload begins, the buffer is full of input that
/// waited a long time (up to seconds for a reader held to a few % of a core), and working
/// through all of it would keep the output that old for as long. Newer input is queued behind
/// it, so the protocol may skip its payload cheaply (dropping at the head of the queue is
/// CoDel's remedy). Ten times [`TARGET`], far above what a reader that keeps up ever sees.
pub const STALE: Duration = Duration::from_millis(100);

/// Smallest size asked for, in bytes (the kernel doubles it for its bookkeeping): about 110 sACN
/// datagrams on `lo`, the kernel's default order of magnitude.
pub const FLOOR: usize = 256 << 10;

/// Largest factor the buffer shrinks by in one interval.
const MAX_SHRINK: u128 = 16;

/// Sizing state of one socket's receive buffer.
#[derive(Clone, Debug)]
pub struct RcvBuf {
    max: usize,
    size: usize,
    /// Start of the current interval (`None` before the first datagram).
    start: Option<Duration>,
    /// Shortest and longest wait of a datagram read in the current interval.
    min_wait: Duration,
    max_wait: Duration,
    /// The socket's kernel drop count when the current interval started.
    drops_at_start: u32,
    /// A read found the queue empty in the current interval.
    ran_dry: bool,
    shrinks: u64,
}

/// What an interval's judgement changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resize {
    /// Bytes to ask for with `SO_RCVBUF`.
    pub size: usize,
    /// Bytes asked for until now.
    pub from: usize,
    /// The shortest wait of the interval judged (why it changed).
    pub waited: Duration,
}

impl RcvBuf {
    /// Sizing for a socket whose buffer is `max` bytes (as asked for, not as the kernel reports
    /// it). A `max` at or below [`FLOOR`] is never changed.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            size: max,
            start: None,
            min_wait: Duration::ZERO,
            max_wait: Duration::ZERO,
            drops_at_start: 0,
            ran_dry: false,
            shrinks: 0,
        }
    }

    /// The size asked for now.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The size asked for when no queue stands.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Times the buffer was made smaller.
    pub fn shrinks(&self) -> u64 {
        self.shrinks
    }

    /// Datagrams queued before this time (same clock as [`RcvBuf::observe`]) are stale at `now`
    /// ([`STALE`]); `None` while the buffer is at its maximum, i.e. no queue has stood since it
    /// last kept up.
    pub fn stale_before(&self, now: Duration) -> Option<Duration> {
        (self.size < self.max).then(|| now.saturating_sub(STALE))
    }

    /// Notes that a read found the socket's queue empty: no queue stood in this interval.
    pub fn ran_dry(&mut self) {
        self.ran_dry = true;
    }

    /// Notes that a datagram read at `now` had waited `waited` in the kernel (both from the clock
    /// the kernel stamps datagrams with), when the kernel had dropped `drops` datagrams on the
    /// socket so far. Returns the new size when an interval ended and its judgement changes it.
    pub fn observe(&mut self, now: Duration, waited: Duration, drops: u32) -> Option<Resize> {
        let start = match self.start {
            Some(s) if now >= s => s,
            // The first datagram, or the clock stepped back: start afresh.
            _ => {
                self.begin(now, waited, drops);
                return None;
            }
        };
        let elapsed = now - start;
        if elapsed < INTERVAL {
            self.min_wait = self.min_wait.min(waited);
            self.max_wait = self.max_wait.max(waited);
            return None;
        }
        let (shortest, longest) = (self.min_wait, self.max_wait);
        let standing = shortest > TARGET && !self.ran_dry;
        let dropped = drops != self.drops_at_start;
        self.begin(now, waited, drops);
        if self.max <= FLOOR {
            return None;
        }
        let size = if standing {
            let factor = (shortest.as_nanos() / TARGET.as_nanos()).clamp(2, MAX_SHRINK);
            // `factor` ≤ 16, so the conversion cannot fail.
            (self.size / usize::try_from(factor).unwrap_or(2)).max(FLOOR)
        } else if longest <= TARGET || !dropped {
            // Every interval without a read since the last one kept up too.
            let quiet = elapsed.as_nanos() / INTERVAL.as_nanos();
            let doublings = u32::try_from(quiet.min(8)).unwrap_or(8);
            self.size.saturating_mul(1 << doublings).min(self.max)
        } else {
            self.size
        };
        if size == self.size {
            return None;
        }
        if size < self.size {
            self.shrinks += 1;
        }
        let from = std::mem::replace(&mut self.size, size);
        Some(Resize {
            size,
            from,
            waited: shortest,
        })
    }

    fn begin(&mut self, now: Duration, waited: Duration, drops: u32) {
        self.start = Some(now);
        self.min_wait = waited;
        self.max_wait = waited;
        self.drops_at_start = drops;
        self.ran_dry = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: usize = 4 << 20;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn millis(t: Duration) -> u64 {
        u64::try_from(t.as_millis()).unwrap_or(u64::MAX)
    }

    /// Feeds one datagram per millisecond from `from` for `len`; `at(t)` gives its wait and the
    /// socket's drop count so far. Returns the last resize.
    fn feed(
        r: &mut RcvBuf,
        from: Duration,
        len: Duration,
        at: impl Fn(Duration) -> (Duration, u32),
    ) -> Option<Resize> {
        let mut last = None;
        let mut t = from;
        while t < from + len {
            let (wait, drops) = at(t);
            if let Some(x) = r.observe(t, wait, drops) {
                last = Some(x);
            }
            t += ms(1);
        }
        last
    }

    /// A burst every 23 ms, read from its first datagram on, its last one after `spread` ms.
    fn bursts(spread: u64) -> impl Fn(Duration) -> Duration {
        move |t| ms(millis(t) % 23 * spread / 23)
    }

    #[test]
    fn bursts_that_are_read_at_once_never_shrink_the_buffer() {
        let mut r = RcvBuf::new(MAX);
        let wait = bursts(20);
        let last = feed(&mut r, ms(1_000), ms(5_000), |t| (wait(t), 0));
        assert_eq!(last, None);
        assert_eq!(r.size(), MAX);
        assert_eq!(r.shrinks(), 0);
    }

    #[test]
    fn a_standing_queue_shrinks_the_buffer_in_proportion_to_its_delay() {
        let mut r = RcvBuf::new(MAX);
        let last = feed(&mut r, ms(0), ms(101), |_| (ms(300), 0));
        assert_eq!(
            last,
            Some(Resize {
                size: MAX / 16,
                from: MAX,
                waited: ms(300)
            })
        );
        let mut r = RcvBuf::new(MAX);
        feed(&mut r, ms(0), ms(101), |_| (ms(25), 0));
        assert_eq!(r.size(), MAX / 2, "25 ms is 2.5x the target");
        feed(&mut r, ms(101), ms(1_000), |_| (ms(300), 0));
        assert_eq!(r.size(), FLOOR, "never below the floor");
    }

    #[test]
    fn after_an_overload_the_buffer_returns_to_its_maximum_within_half_a_second() {
        let mut r = RcvBuf::new(MAX);
        feed(&mut r, ms(0), ms(2_000), |t| {
            (ms(300), u32::try_from(millis(t)).unwrap_or(0))
        });
        assert_eq!(r.size(), FLOOR);
        // Normal input again, bursts of 1,000 universes that overflow the small buffer.
        let wait = bursts(4);
        feed(&mut r, ms(2_000), ms(500), |t| {
            (wait(t), u32::try_from(millis(t) / 23 * 500).unwrap_or(0))
        });
        assert_eq!(r.size(), MAX);
    }

    #[test]
    fn a_quiet_socket_grows_back_by_the_intervals_it_was_quiet() {
        let mut r = RcvBuf::new(MAX);
        feed(&mut r, ms(0), ms(1_000), |_| (ms(300), 7));
        assert_eq!(r.size(), FLOOR);
        // The queue drained in the interval after, then nothing arrived for 2 s.
        feed(&mut r, ms(1_000), ms(50), |_| (ms(0), 7));
        let grown = r.observe(ms(3_050), ms(0), 7);
        assert_eq!(grown.map(|x| x.size), Some(MAX));
    }

    /// Frozen 19 ms of every 20 (a CPU quota): what queued meanwhile waited up to 19 ms, and
    /// whether the queue empties in the 1 ms of running depends on its size when the input
    /// fills any buffer (`overloaded`). Model: the reader empties a queue of up to 300 KiB per
    /// run; when it does not, even the freshest datagram read waited a whole period more.
    /// `drops(period)` is the socket's drop count.
    fn frozen_reader(
        r: &mut RcvBuf,
        periods: std::ops::Range<u64>,
        overloaded: bool,
        drops: impl Fn(u64) -> u32,
    ) {
        for period in periods {
            let t = ms(period * 20 + 19);
            r.observe(t, ms(19), drops(period));
            let empties = !overloaded || r.size() <= 300 << 10;
            let freshest = if empties { ms(0) } else { ms(25) };
            r.observe(t + Duration::from_micros(900), freshest, drops(period));
            if empties {
                r.ran_dry();
            }
        }
    }

    #[test]
    fn a_frozen_reader_under_overload_keeps_the_size_it_can_empty() {
        let mut r = RcvBuf::new(MAX);
        let overflowing = |period: u64| u32::try_from(period * 2_000).unwrap_or(u32::MAX);
        frozen_reader(&mut r, 0..50, true, overflowing);
        assert_eq!(r.size(), FLOOR);
        let shrinks = r.shrinks();
        frozen_reader(&mut r, 50..500, true, overflowing);
        assert_eq!(
            r.size(),
            FLOOR,
            "a larger buffer would only hold older input"
        );
        assert_eq!(
            r.shrinks(),
            shrinks,
            "it never grew, so it never shrank again"
        );
        // The overload ends, the quota stays: nothing overflows, so the buffer grows back.
        let last = overflowing(499);
        frozen_reader(&mut r, 500..530, false, |_| last);
        assert_eq!(r.size(), MAX);
    }

    #[test]
    fn input_is_stale_only_while_the_buffer_is_below_its_maximum() {
        let mut r = RcvBuf::new(MAX);
        assert_eq!(
            r.stale_before(ms(5_000)),
            None,
            "keeping up: nothing is stale"
        );
        feed(&mut r, ms(5_000), ms(101), |_| (ms(300), 0));
        assert!(r.size() < MAX);
        assert_eq!(r.stale_before(ms(6_000)), Some(ms(6_000) - STALE));
        feed(&mut r, ms(6_000), ms(1_000), |_| (ms(0), 0));
        assert_eq!(r.size(), MAX);
        assert_eq!(r.stale_before(ms(7_000)), None);
    }

    #[test]
    fn a_sparse_stream_read_late_is_no_standing_queue() {
        // One datagram every 50 ms, each read 30 ms late by a busy process: the queue runs dry
        // after each.
        let mut r = RcvBuf::new(MAX);
        for k in 0..100u64 {
            assert_eq!(r.observe(ms(k * 50), ms(30), 0), None);
            r.ran_dry();
        }
        assert_eq!(r.size(), MAX);
        assert_eq!(r.stale_before(ms(5_000)), None);
    }

    #[test]
    fn a_maximum_at_the_floor_is_left_alone() {
        let mut r = RcvBuf::new(FLOOR);
        assert_eq!(feed(&mut r, ms(0), ms(1_000), |_| (ms(300), 0)), None);
        assert_eq!(r.size(), FLOOR);
    }

    #[test]
    fn a_clock_step_back_starts_a_new_interval() {
        let mut r = RcvBuf::new(MAX);
        feed(&mut r, ms(10_000), ms(90), |_| (ms(300), 0));
        // Stepped back by 5 s: no interval is judged on the mixed readings.
        assert_eq!(r.observe(ms(5_000), ms(0), 0), None);
        assert_eq!(r.observe(ms(5_050), ms(300), 0), None);
        assert_eq!(r.size(), MAX);
    }

    proptest! {
        /// Whatever the readings: the size stays within [FLOOR, max], changes only when an
        /// interval ends, shrinks only after an interval whose every wait exceeded TARGET, and
        /// grows only after one with a wait within it.
        #[test]
        fn size_stays_in_bounds_and_shrinks_only_on_a_standing_queue(
            steps in proptest::collection::vec((0u64..150_000, 0u64..400_000, 0u32..50), 1..400),
            max in (FLOOR / 2)..(8 << 20),
        ) {
            let mut r = RcvBuf::new(max);
            let mut now = Duration::from_secs(1);
            let mut drops = 0u32;
            for (dt, wait, new_drops) in steps {
                now += Duration::from_micros(dt);
                drops += new_drops;
                let before = r.size();
                let wait = Duration::from_micros(wait);
                match r.observe(now, wait, drops) {
                    Some(x) => {
                        prop_assert_eq!(x.size, r.size());
                        prop_assert_eq!(x.from, before);
                        prop_assert!(x.size != before);
                        if x.size < before {
                            prop_assert!(x.waited > TARGET);
                        } else {
                            prop_assert!(x.waited <= TARGET);
                        }
                    }
                    None => prop_assert_eq!(r.size(), before),
                }
                prop_assert!(r.size() <= max);
                prop_assert!(r.size() >= FLOOR.min(max));
            }
        }
    }
}
