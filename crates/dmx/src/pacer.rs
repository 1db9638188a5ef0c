//! When a DMX-over-IP sender sends the next packet of one stream: the rate limit, the repeats
//! after a change, the keep-alives.
//!
//! See [`Pacer`].

use std::time::{Duration, Instant};

/// How long every change of a stream must have waited at least the catch-up lag before it
/// catches up with its input ([`Limit::Strict`]); so also how often at most it gives a frame up.
pub const CATCH_UP_AFTER: Duration = Duration::from_secs(1);

/// The rate limit of a stream; see [`Pacer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// No two packets closer than `min_gap` when polled on time.
    Strict {
        /// Minimum distance between slots.
        min_gap: Duration,
        /// How late a caller may send a packet without the schedule moving back by as much.
        late_allowance: Duration,
        /// When every change for [`CATCH_UP_AFTER`] has waited at least this long for its slot,
        /// the next change of a steady input is held so that the input's next frame can take
        /// its place on the input's phase (one frame given up); `None`: never.
        catch_up: Option<Duration>,
    },
    /// At most one packet per `min_gap` in the long run; a change may go up to `burst` early.
    Burst {
        /// Period of the schedule.
        min_gap: Duration,
        /// How much earlier than its slot a change may go out. Up to one `min_gap` of schedule
        /// the stream did not use (it was quiet, or polled late) is kept as well, so after a
        /// pause up to `1 + (burst + min_gap) / min_gap` packets may go out at once.
        burst: Duration,
    },
}

impl Limit {
    /// Distance between slots.
    pub fn min_gap(&self) -> Duration {
        match *self {
            Limit::Strict { min_gap, .. } | Limit::Burst { min_gap, .. } => min_gap,
        }
    }
}

/// Timing of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacerConfig {
    /// The rate limit.
    pub limit: Limit,
    /// Packets of unchanged data sent after each change.
    pub repeats: u8,
    /// Spacing of the repeats (they also respect the limit).
    pub repeat_gap: Duration,
    /// Extra wait before the first repeat.
    pub repeat_delay: Duration,
    /// Gap after which an unchanged stream is sent again (at least 1 ms is used, so a zero
    /// cannot make a caller send keep-alives forever at one instant).
    pub keep_alive: Duration,
}

/// Why a packet is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendReason {
    /// It carries a change not sent yet.
    Change,
    /// It repeats the last change.
    Repeat,
    /// It keeps an unchanged stream alive.
    KeepAlive,
}

/// The send timing of one stream.
///
/// ```
/// use std::time::{Duration, Instant};
/// use patchbay_dmx::{Limit, Pacer, PacerConfig, SendReason};
///
/// // Art-Net as MIDIMonster sends it: a frame per 20 ms at most, no repeats, 1 s refresh.
/// let cfg = PacerConfig {
///     limit: Limit::Strict {
///         min_gap: Duration::from_millis(20),
///         late_allowance: Duration::from_millis(1),
///         catch_up: Some(Duration::from_millis(2)),
///     },
///     repeats: 0,
///     repeat_gap: Duration::ZERO,
///     repeat_delay: Duration::ZERO,
///     keep_alive: Duration::from_secs(1),
/// };
/// let t0 = Instant::now();
/// let mut pacer = Pacer::new();
/// pacer.change(t0, &cfg);
/// assert_eq!(pacer.poll(t0, &cfg), Some(SendReason::Change)); // build and send the frame
/// // A change 5 ms later waits for its slot; sleep until the deadline, then send.
/// pacer.change(t0 + Duration::from_millis(5), &cfg);
/// assert_eq!(pacer.poll(t0 + Duration::from_millis(5), &cfg), None);
/// let at = pacer.deadline(&cfg).expect("due");
/// assert_eq!(at, t0 + Duration::from_millis(20));
/// assert_eq!(pacer.poll(at, &cfg), Some(SendReason::Change));
/// // Unchanged: refreshed a second after the last frame.
/// assert_eq!(pacer.deadline(&cfg), Some(at + Duration::from_secs(1)));
/// ```
///
/// Sans-IO: the caller notes each change with [`Pacer::change`], sleeps until
/// [`Pacer::deadline`], and books every packet it builds with [`Pacer::sent`] (or asks
/// [`Pacer::poll`], which does both), always passing the current [`Instant`]. One `Pacer` per
/// stream (sACN keeps one for levels and one for per-address priorities of each universe); the
/// [`PacerConfig`] is passed in on each call, so thousands of streams share one.
///
/// A stream sends nothing before its first change; then each change at once or, if the limit
/// does not allow it yet, one deferred packet with the latest values; then `repeats` repeats;
/// then a keep-alive whenever it has been quiet for `keep_alive`.
///
/// # The limit
///
/// Every packet takes a *slot* on the stream's schedule, and no packet goes out before its
/// slot. [`Limit::Strict`] (DMX rates) spaces slots at least `min_gap` apart, so a caller that
/// polls on time (at [`Pacer::deadline`]) sends no two packets closer than `min_gap`: with the
/// 1/44 s of E1.31 no 1 s window holds more than 44. [`Limit::Burst`] (sACN's realtime mode, a
/// guard against feedback loops rather than a DMX limit) keeps the long-run rate at one packet
/// per `min_gap` but lets a change go up to `burst` before its slot.
///
/// A strict limit at exactly the rate of its input (a 44 fps console through a 44/s limit) has
/// no spare slot: every frame arrives about one gap after the previous one, so a frame that had
/// to wait leaves the next one as little room, and a lag, once there, lasts as long as the
/// input keeps its rate. Two things keep that lag small:
///
/// * **The schedule, not the wake-up, sets the gap.** A deferred packet is sent when the
///   caller's timer fires, a little after its slot. Charging that lateness to the schedule
///   would defer the next frame by as much, and the next by that again: the lag would grow by
///   one wake-up per frame until frames are coalesced away (an earlier limiter here did exactly
///   that: 11–13 ms median latency, 3–8 % of frames lost at 44 fps). Up to `late_allowance` of
///   lateness is therefore not charged: the packet keeps its slot. The price is that a packet
///   polled late by `w` may be followed by the next one after `min_gap − w`.
/// * **Catching up by giving one frame up.** A stall (one frame delayed on its way in) puts the
///   schedule behind the input's phase, and every later frame waits as long as the stalled one
///   was late. Sending early would bring the schedule back (the earlier limiter kept credit for
///   that), but no packet may go before its slot. With `catch_up` set, once every change for
///   [`CATCH_UP_AFTER`] has waited at least that long, the next change that would wait too and
///   came one gap after the one before it (the input is steady, so its next frame will come one
///   period later) is held until `min_gap` after it was made instead of leaving at its slot;
///   if the input's next frame comes meanwhile, it replaces the held one and goes out at once,
///   on the input's phase again. One frame is lost that way, at most one per
///   [`CATCH_UP_AFTER`]. If no frame comes in time (jitter), the held one goes out `min_gap`
///   after it was made, nothing is lost, and the next change of the input is held the same way
///   (it now waits about a gap, so the stream stays behind until a hold succeeds).
///
/// Input jitter alone is not caught up with: a frame that comes early waits for its slot, and
/// the schedule keeps the phase of the latest frames, so frames wait at most the jitter's range
/// and, as the latest frames do not wait, the lag does not stand: none is lost.
///
/// Whatever the input does, a caller that polls on time never sends two packets closer than
/// `min_gap`, and the newest values go out no later than `min_gap` after the last change.
///
/// # Repeats and keep-alives
///
/// The first repeat waits `repeat_gap + repeat_delay`: with `repeat_delay` about the input's
/// jitter, a frame of a stream at the limit rate that comes a little late is not preceded by a
/// repeat that takes its slot. Later repeats follow `repeat_gap` apart, keep-alives
/// `keep_alive` after the last packet. Repeats and keep-alives take slots like changes.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    /// Earliest slot of the next packet (the last packet's slot + `min_gap`); `None` before the
    /// first packet.
    next_slot: Option<Instant>,
    /// When the last packet was sent (as polled).
    last_sent: Option<Instant>,
    /// A change waits to be sent.
    dirty: bool,
    /// When the oldest change not sent yet was made.
    dirty_since: Option<Instant>,
    /// When the newest change was made.
    changed_at: Option<Instant>,
    /// When the change before it was made.
    previous_change_at: Option<Instant>,
    repeats_left: u8,
    /// Since when (the change time) every change sent has waited at least the catch-up lag:
    /// the schedule is behind the input's phase, not just jittery. Reset by a change that did
    /// not wait that long, by a pause (repeat or keep-alive) and when a held change is given
    /// up.
    behind_since: Option<Instant>,
}

impl Pacer {
    /// A stream that has sent nothing and sends nothing before its first change.
    pub fn new() -> Pacer {
        Pacer::default()
    }

    /// Notes a change made at `now`; the next packet carries it (and any later one).
    pub fn change(&mut self, now: Instant, cfg: &PacerConfig) {
        if self.dirty {
            // A change held to catch up, replaced after it could have gone: given up.
            if let Some(slot) = self.slot_of_change(cfg)
                && self.holds(slot, cfg)
                && now >= slot
            {
                // The held change is dropped: this one is now the oldest unsent, and due now.
                self.behind_since = None;
                self.dirty_since = Some(now);
            }
        } else {
            self.dirty = true;
            self.dirty_since = Some(now);
        }
        self.previous_change_at = self.changed_at;
        self.changed_at = Some(now);
    }

    /// Whether a change waits to be sent.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// When the next packet is due (possibly in the past: send it at the next poll); `None`
    /// before the first change.
    pub fn deadline(&self, cfg: &PacerConfig) -> Option<Instant> {
        let Some(last) = self.last_sent else {
            return if self.dirty { self.dirty_since } else { None };
        };
        let slot = self.next_slot.unwrap_or(last);
        if self.dirty {
            let at = self.slot_of_change(cfg)?;
            if self.holds(at, cfg) {
                let latest = self.changed_at.unwrap_or(at);
                return Some(at.max(latest.checked_add(cfg.limit.min_gap()).unwrap_or(latest)));
            }
            return Some(at);
        }
        let after = if self.repeats_left > 0 {
            let gap = if self.repeats_left == cfg.repeats {
                cfg.repeat_gap.saturating_add(cfg.repeat_delay)
            } else {
                cfg.repeat_gap
            };
            last.checked_add(gap)
        } else {
            last.checked_add(cfg.keep_alive.max(Duration::from_millis(1)))
        };
        after.map(|t| t.max(slot))
    }

    /// Books a packet sent at `now` (normally at or after [`deadline`](Self::deadline)) and
    /// says what it was: a change if one was waiting, else a repeat or a keep-alive.
    pub fn sent(&mut self, now: Instant, cfg: &PacerConfig) -> SendReason {
        let due = self.deadline(cfg).unwrap_or(now);
        self.next_slot = Some(match cfg.limit {
            Limit::Strict {
                min_gap,
                late_allowance,
                ..
            } => {
                // The packet keeps its slot if the caller was at most `late_allowance` late.
                let slot = due.max(now.checked_sub(late_allowance).unwrap_or(now));
                slot.checked_add(min_gap).unwrap_or(slot)
            }
            Limit::Burst { min_gap, .. } => match self.next_slot {
                // Up to one gap of unused schedule is kept.
                Some(slot) => slot.checked_add(min_gap).unwrap_or(slot).max(now),
                None => now,
            },
        });
        self.last_sent = Some(now);
        if self.dirty {
            self.behind_since = match (cfg.limit, self.changed_at) {
                (
                    Limit::Strict {
                        catch_up: Some(lag),
                        ..
                    },
                    Some(at),
                ) if due.saturating_duration_since(at) >= lag => self.behind_since.or(Some(at)),
                _ => None,
            };
            self.dirty = false;
            self.repeats_left = cfg.repeats;
            SendReason::Change
        } else {
            // The input paused: its next change starts a new phase.
            self.behind_since = None;
            if self.repeats_left > 0 {
                self.repeats_left -= 1;
                SendReason::Repeat
            } else {
                SendReason::KeepAlive
            }
        }
    }

    /// If a packet is due at `now`, books it ([`sent`](Self::sent)) and says why.
    pub fn poll(&mut self, now: Instant, cfg: &PacerConfig) -> Option<SendReason> {
        let due = self.deadline(cfg)?;
        (due <= now).then(|| self.sent(now, cfg))
    }

    /// The slot a waiting change may take (before any catch-up hold).
    fn slot_of_change(&self, cfg: &PacerConfig) -> Option<Instant> {
        let since = self.dirty_since?;
        let Some(slot) = self.next_slot else {
            return Some(since);
        };
        Some(match cfg.limit {
            Limit::Strict { .. } => slot.max(since),
            Limit::Burst { burst, .. } => slot.checked_sub(burst).unwrap_or(slot),
        })
    }

    /// Whether the waiting change is held past its slot `at` to catch up with the input: every
    /// change for [`CATCH_UP_AFTER`] waited at least the catch-up lag (the schedule stands
    /// behind the input's phase: a lag that input jitter explains comes and goes), this one
    /// would too, and it came one gap after the change before it, within a quarter of that lag
    /// (the input is steady at the limit rate, so its next frame should come a period later).
    fn holds(&self, at: Instant, cfg: &PacerConfig) -> bool {
        let Limit::Strict {
            min_gap,
            catch_up: Some(lag),
            ..
        } = cfg.limit
        else {
            return false;
        };
        let (Some(latest), Some(previous), Some(behind)) =
            (self.changed_at, self.previous_change_at, self.behind_since)
        else {
            return false;
        };
        let period = latest.saturating_duration_since(previous);
        period.abs_diff(min_gap) <= lag / 4
            && at.saturating_duration_since(latest) >= lag
            && latest.saturating_duration_since(behind) >= CATCH_UP_AFTER
    }
}

#[cfg(test)]
mod tests;
