//! The run-time side of transform chains: each transformed edge's state (one slot per
//! transform of its chain) and the `slew`/`fade` outputs that are moving.
//!
//! Why slots per transform rather than a struct per edge: a chain may hold any transforms in
//! any order (`toggle | toggle` is silly but legal), so state is laid out by the routing table
//! at freeze time, one slot per op, and nothing is allocated when an event crosses the edge.
//! Moving outputs are a short list with a back-reference from their slot, so a step visits only
//! the edges that move and a retarget updates its motion in place.

use std::time::{Duration, Instant};

use crate::routing::RoutingTable;
use crate::transform::{MOTION_STEP, Transform, differs_by, invert, is_end, on_off, scale};
use crate::value::Value;

/// Marks "not moving" in [`Slot::Motion`].
const STILL: u32 = u32::MAX;

/// The state one transform of one edge keeps.
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// `invert`, `scale`: none.
    Stateless,
    Toggle {
        /// The output: full scale when on.
        on: bool,
        /// Whether the last input was above 0 (a press needs a release before it).
        pressed: bool,
    },
    Deadband {
        /// The last value passed on.
        last: Option<Value>,
    },
    Motion {
        /// The value the output rests at (the last one emitted) while not moving.
        current: Option<Value>,
        /// Index in [`Transforms::motions`], or [`STILL`].
        active: u32,
    },
}

impl Slot {
    fn for_op(op: &Transform) -> Slot {
        match op {
            Transform::Invert | Transform::Scale { .. } => Slot::Stateless,
            Transform::Toggle => Slot::Toggle {
                on: false,
                pressed: false,
            },
            Transform::Deadband(_) => Slot::Deadband { last: None },
            Transform::Slew(_) | Transform::Fade(_) => Slot::Motion {
                current: None,
                active: STILL,
            },
        }
    }
}

/// An output moving from `from` to `to` between `start` and `end`.
#[derive(Clone, Copy, Debug)]
struct Motion {
    /// The transformed edge (index in the routing table's chained edges).
    edge: u32,
    /// Its slot.
    slot: u32,
    from: f64,
    to: Value,
    start: Instant,
    end: Instant,
}

impl Motion {
    /// The output at `now`: linear from `from` to `to`, never beyond either (f64 rounding could
    /// otherwise step past `to` by an ulp and back), so the steps are monotonic.
    fn position(&self, now: Instant) -> f64 {
        let to = self.to.normalised();
        let total = self.end.saturating_duration_since(self.start).as_secs_f64();
        let done = now.saturating_duration_since(self.start).as_secs_f64();
        let t = if total > 0.0 {
            (done / total).clamp(0.0, 1.0)
        } else {
            1.0
        };
        let p = self.from + (to - self.from) * t;
        p.clamp(self.from.min(to), self.from.max(to))
    }
}

/// The states of every transformed edge of one routing table, and its moving outputs.
#[derive(Debug, Default)]
pub(crate) struct Transforms {
    slots: Vec<Slot>,
    motions: Vec<Motion>,
    /// When the moving outputs next emit a value.
    next: Option<Instant>,
    /// Scratch for [`Transforms::step`]; capacity for every motion edge, so stepping does not
    /// allocate.
    emitted: Vec<(u32, Value)>,
}

impl Transforms {
    /// Fresh state for `table`'s transformed edges: outputs at rest, toggles off, nothing passed
    /// yet. Everything is allocated here, so running the chains allocates nothing.
    pub(crate) fn for_table(table: &RoutingTable) -> Transforms {
        let mut slots = Vec::with_capacity(table.transform_slots());
        let mut motion_edges = 0;
        for e in 0..table.transformed_edges() {
            let ops = table.chain_ops(e as u32);
            slots.extend(ops.iter().map(Slot::for_op));
            motion_edges += usize::from(ops.iter().any(Transform::is_motion));
        }
        Transforms {
            slots,
            motions: Vec::with_capacity(motion_edges),
            next: None,
            emitted: Vec::with_capacity(motion_edges),
        }
    }

    /// Whether this state was made for `table` (a router may be handed a table after it was
    /// created).
    pub(crate) fn fits(&self, table: &RoutingTable) -> bool {
        self.slots.len() == table.transform_slots()
    }

    /// When the moving outputs next emit (for the loop's wait).
    pub(crate) fn next_step(&self) -> Option<Instant> {
        self.next
    }

    /// Runs `ops` (the chain of transformed edge `edge`, whose slots start at `base`) on `v`.
    /// Returns the value to deliver now, or `None` when a transform drops it or a motion takes
    /// it over (its values come from [`Transforms::step`]).
    pub(crate) fn apply(
        &mut self,
        edge: u32,
        base: u32,
        ops: &[Transform],
        mut v: Value,
        now: Instant,
    ) -> Option<Value> {
        for (i, op) in ops.iter().enumerate() {
            let slot = base + i as u32;
            v = match *op {
                Transform::Invert => invert(v),
                Transform::Scale { min, max } => scale(v, min, max),
                Transform::Toggle => self.toggle(slot, v)?,
                Transform::Deadband(band) => self.deadband(slot, v, band)?,
                Transform::Slew(t) => return self.retarget(edge, slot, v, now, t, true),
                Transform::Fade(t) => return self.retarget(edge, slot, v, now, t, false),
            };
        }
        Some(v)
    }

    fn toggle(&mut self, slot: u32, v: Value) -> Option<Value> {
        let Some(Slot::Toggle { on, pressed }) = self.slots.get_mut(slot as usize) else {
            return Some(v);
        };
        let press = v.normalised() > 0.0;
        let rising = press && !*pressed;
        *pressed = press;
        if !rising {
            return None;
        }
        *on = !*on;
        Some(on_off(*on, v))
    }

    fn deadband(&mut self, slot: u32, v: Value, band: crate::Level) -> Option<Value> {
        let Some(Slot::Deadband { last }) = self.slots.get_mut(slot as usize) else {
            return Some(v);
        };
        let passes = match *last {
            None => true,
            Some(l) => is_end(v) || differs_by(l, v, band),
        };
        if !passes {
            return None;
        }
        *last = Some(v);
        Some(v)
    }

    /// A new value for a `slew` (rate: full scale per `time`) or `fade` (every change takes
    /// `time`). Moves from where the output is now, also when it was moving.
    fn retarget(
        &mut self,
        edge: u32,
        slot: u32,
        v: Value,
        now: Instant,
        time: Duration,
        rate: bool,
    ) -> Option<Value> {
        let Some(&Slot::Motion { current, active }) = self.slots.get(slot as usize) else {
            return Some(v);
        };
        let to = v.normalised();
        let here = match self.motions.get(active as usize) {
            // A source repeating the target it is moving to (a keep-alive) must not restart
            // the motion, or a fade would never end under a source that repeats faster.
            Some(m) if m.to.normalised() == to => return None,
            Some(m) => Some(m.position(now)),
            None => current.map(|c| c.normalised()),
        };
        let duration = match here {
            None => Duration::ZERO,
            Some(h) if rate => {
                let distance = (to.clamp(0.0, 1.0) - h.clamp(0.0, 1.0)).abs();
                Duration::try_from_secs_f64(time.as_secs_f64() * distance).unwrap_or(time)
            }
            Some(h) if h == to => Duration::ZERO,
            Some(_) => time,
        };
        let end = now.checked_add(duration).filter(|_| !duration.is_zero());
        let (Some(from), Some(end)) = (here, end) else {
            // The first value, no distance, or a time the clock cannot represent: at once.
            self.settle(slot, active, v);
            return Some(v);
        };
        let motion = Motion {
            edge,
            slot,
            from,
            to: v,
            start: now,
            end,
        };
        match self.motions.get_mut(active as usize) {
            Some(m) => *m = motion,
            None => {
                let index = self.motions.len() as u32;
                self.motions.push(motion);
                if let Some(Slot::Motion { active, .. }) = self.slots.get_mut(slot as usize) {
                    *active = index;
                }
            }
        }
        let first = now + MOTION_STEP;
        self.next = Some(self.next.map_or(first, |n| n.min(first)).min(end));
        None
    }

    /// Puts the output of `slot` at rest at `v`, ending its motion (index `active`) if any.
    fn settle(&mut self, slot: u32, active: u32, v: Value) {
        if let Some(Slot::Motion { current, active }) = self.slots.get_mut(slot as usize) {
            *current = Some(v);
            *active = STILL;
        }
        if (active as usize) < self.motions.len() {
            self.remove_motion(active as usize);
        }
    }

    fn remove_motion(&mut self, i: usize) {
        self.motions.swap_remove(i);
        if let Some(moved) = self.motions.get(i)
            && let Some(Slot::Motion { active, .. }) = self.slots.get_mut(moved.slot as usize)
        {
            *active = i as u32;
        }
        if self.motions.is_empty() {
            self.next = None;
        }
    }

    /// If a step is due at `now`: every moving output's value at `now`, as (edge, value); a
    /// motion that reached its end yields its target exactly and comes to rest. Steps follow
    /// each other by at most [`MOTION_STEP`], and a motion's end is a step of its own.
    pub(crate) fn step(&mut self, now: Instant) -> &[(u32, Value)] {
        self.emitted.clear();
        if self.next.is_none_or(|n| now < n) {
            return &self.emitted;
        }
        let mut next = now + MOTION_STEP;
        let mut i = 0;
        while let Some(&m) = self.motions.get(i) {
            if now >= m.end {
                self.emitted.push((m.edge, m.to));
                if let Some(Slot::Motion { current, active }) = self.slots.get_mut(m.slot as usize)
                {
                    *current = Some(m.to);
                    *active = STILL;
                }
                self.remove_motion(i);
                continue;
            }
            self.emitted
                .push((m.edge, Value::from_normalised(m.position(now))));
            next = next.min(m.end);
            i += 1;
        }
        self.next = (!self.motions.is_empty()).then_some(next);
        &self.emitted
    }
}
