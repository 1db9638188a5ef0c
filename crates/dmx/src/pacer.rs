//! When a DMX sender sends the next packet of one stream: the rate limit, repeats after a
//! change, keep-alives.
//!
//! Sans-IO: the caller notes changes with [`Pacer::change`], asks for the next
//! [`deadline`](Pacer::deadline), and books each packet it builds with
//! [`sent`](Pacer::sent), always passing the current [`Instant`].
//!
//! The rate limit is a virtual schedule (GCRA, a token bucket with a small burst): each packet
//! takes the slot `min_gap` after the previous packet's slot (or its own send time if that is
//! later), and a changed packet may go out up to `jitter_tolerance` before its slot. Slot time
//! lost while the schedule was behind is kept as up to one `min_gap` of credit; with
//! `phase_shift`, a change that had to wait although nothing newer arrived earns its wait as
//! credit, at most once per [`PHASE_SHIFT_EVERY`].

use std::time::{Duration, Instant};

/// How often at most a stream's schedule moves onto its input's phase.
pub const PHASE_SHIFT_EVERY: Duration = Duration::from_secs(1);

/// Timing of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacerConfig {
    /// Period of the schedule.
    pub min_gap: Duration,
    /// How much earlier than its slot a changed packet may go out.
    pub jitter_tolerance: Duration,
    /// Never two packets closer than this.
    pub floor: Option<Duration>,
    /// Move the schedule onto the input's phase after a wait.
    pub phase_shift: bool,
    /// Packets of unchanged data after a change.
    pub repeats: u8,
    /// Spacing of the repeats.
    pub repeat_gap: Duration,
    /// The first repeat waits until this long after the next slot instead of `repeat_gap`.
    pub first_repeat_after_slot: Option<Duration>,
    /// Gap after which an unchanged stream is sent again.
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
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    dirty: bool,
    repeats_left: u8,
    last_sent: Option<Instant>,
    next_slot: Option<Instant>,
    credit: Duration,
    dirty_since: Option<Instant>,
    superseded: bool,
    phase_shift_at: Option<Instant>,
}

impl Pacer {
    /// A stream that has sent nothing.
    pub fn new() -> Pacer {
        Pacer::default()
    }

    /// Notes a change at `now`.
    pub fn change(&mut self, now: Instant) {
        if self.dirty {
            self.superseded = true;
        } else {
            self.dirty = true;
            self.dirty_since = Some(now);
            self.superseded = false;
        }
    }

    /// Whether a change waits to be sent.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// When the next packet is due (`now` for a stream's first packet).
    pub fn deadline(&self, now: Instant, cfg: &PacerConfig) -> Option<Instant> {
        let Some(last) = self.last_sent else {
            return self.dirty.then_some(now);
        };
        let slot = self.next_slot.unwrap_or(last);
        if self.dirty {
            let early = cfg.jitter_tolerance.saturating_add(self.credit);
            let by_slot = slot.checked_sub(early).unwrap_or(slot);
            return Some(match cfg.floor {
                Some(f) => by_slot.max(last.checked_add(f).unwrap_or(last)),
                None => by_slot,
            });
        }
        if self.repeats_left > 0 {
            if let Some(extra) = cfg.first_repeat_after_slot
                && self.repeats_left == cfg.repeats
            {
                return slot.checked_add(extra);
            }
            return last.checked_add(cfg.repeat_gap);
        }
        last.checked_add(cfg.keep_alive)
    }

    /// Books a packet sent at `now` and says what it was.
    pub fn sent(&mut self, now: Instant, cfg: &PacerConfig) -> SendReason {
        self.last_sent = Some(now);
        let period = cfg.min_gap;
        let tolerance = cfg.jitter_tolerance;
        let waited = (cfg.phase_shift && self.dirty)
            .then(|| self.phase_lag(now))
            .flatten();
        self.next_slot = Some(self.next_slot(now, period, tolerance));
        if let Some(waited) = waited {
            self.credit = self
                .credit
                .saturating_add(waited.min(tolerance))
                .min(period);
            self.phase_shift_at = Some(now);
        }
        if self.dirty {
            self.dirty = false;
            self.repeats_left = cfg.repeats;
            SendReason::Change
        } else if self.repeats_left > 0 {
            self.repeats_left -= 1;
            SendReason::Repeat
        } else {
            SendReason::KeepAlive
        }
    }

    fn phase_lag(&self, now: Instant) -> Option<Duration> {
        if self.superseded
            || self
                .phase_shift_at
                .is_some_and(|t| now.saturating_duration_since(t) < PHASE_SHIFT_EVERY)
        {
            return None;
        }
        let waited = now.saturating_duration_since(self.dirty_since?);
        (!waited.is_zero()).then_some(waited)
    }

    fn next_slot(&mut self, now: Instant, period: Duration, tolerance: Duration) -> Instant {
        let mut slot = match self.next_slot {
            Some(t) => t,
            None => {
                self.credit = period;
                now
            }
        };
        let window = slot.checked_sub(tolerance).unwrap_or(slot);
        let used = window.saturating_duration_since(now).min(self.credit);
        self.credit -= used;
        slot = slot.checked_sub(used).unwrap_or(slot);
        if now > slot {
            self.credit = self.credit.saturating_add(now - slot).min(period);
            slot = now;
        }
        slot.checked_add(period).unwrap_or(slot)
    }
}
