//! Value transforms on mapping edges: `invert`, `scale`, `toggle`, `deadband`, `slew` and `fade`
//! (doc/config.md section 4.4 is the user's reference; MIDIMonster has none of them).
//!
//! Why in the core and not in a script: they are what MIDIMonster users write Lua for most
//! often, and as edge operations they cost nothing where they are not used. A chain is resolved
//! at config time into a [`Chain`] of [`Transform`]s (no strings, no allocation at run time);
//! the routing table marks the edges that have one (see [`crate::routing`]) and the router runs
//! the chain with the edge's own state ([`state`]) when an event crosses it.
//!
//! Exactness: a value with a raw integer keeps its width through `invert` and `scale`, and both
//! are computed in integers, so `invert` on 8 bits is 255 − v and on 16 bits 65535 − v, and
//! `scale` rounds the exact result half away from zero (the rounding of [`Value::to_raw`]).
//! Levels are parts per billion, so every decimal with up to nine digits after the point (and
//! every percentage with up to seven) is held exactly.

use std::fmt;
use std::time::Duration;

use crate::value::{Value, max_raw};

pub(crate) mod state;

/// A level as a fraction of full scale, held exactly as parts per billion (0..=1,000,000,000).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Level(u32);

/// Parts per billion in full scale.
const BILLION: u32 = 1_000_000_000;

impl Level {
    /// No level.
    pub const ZERO: Level = Level(0);
    /// Full scale.
    pub const FULL: Level = Level(BILLION);

    /// `ppb` parts per billion of full scale; `None` above full scale.
    pub const fn from_ppb(ppb: u32) -> Option<Level> {
        if ppb <= BILLION {
            Some(Level(ppb))
        } else {
            None
        }
    }

    /// Parts per billion of full scale.
    pub fn ppb(self) -> u32 {
        self.0
    }

    /// The level as a normalised number (0..=1).
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / f64::from(BILLION)
    }
}

/// The shortest decimal that reads back as the same level: `0`, `1`, `0.2`, `0.125`.
impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / BILLION, self.0 % BILLION);
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:09}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// One step of a transform chain. What each does, exactly, is documented on its variant and in
/// doc/config.md section 4.4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transform {
    /// 1 − x. A raw value keeps its width: `max − raw` (8 bit: 255 − v).
    Invert,
    /// Maps 0..1 onto `min..max` linearly (`min > max` runs the range backwards): `min` at 0,
    /// `max` at full, exactly. A raw value keeps its width and is rounded half away from zero.
    /// Values outside 0..1 (from scripts) are extrapolated; backends clamp on output.
    Scale {
        /// The output at 0.
        min: Level,
        /// The output at full scale.
        max: Level,
    },
    /// A press (a value above 0 after a value of 0, or a first value above 0) flips the output
    /// between 0 and full scale and passes it on; every other value is dropped.
    Toggle,
    /// Drops a value that differs from the last value passed on by less than the level, unless
    /// it is 0 or full scale (so a fader always reaches its ends). The first value passes.
    Deadband(Level),
    /// Moves the output towards each new value at a rate of full scale per duration (a smaller
    /// change takes proportionally less time), in steps of at most [`MOTION_STEP`]; the last step
    /// is the new value, exactly. The first value passes at once (there is nothing to move
    /// from); a value equal to the one the output is moving to is ignored (a source repeating
    /// itself does not restart the motion). Only as the last transform of a chain.
    Slew(Duration),
    /// As [`Transform::Slew`], but every change takes the whole duration, however large.
    Fade(Duration),
}

/// Longest time between two values a moving `slew` or `fade` emits (100 per second), and
/// between the last of them and its end.
pub const MOTION_STEP: Duration = Duration::from_millis(10);

impl Transform {
    /// Whether the transform produces values over time (`slew`, `fade`).
    pub fn is_motion(&self) -> bool {
        matches!(self, Transform::Slew(_) | Transform::Fade(_))
    }

    /// The transform's word in a configuration.
    pub fn name(&self) -> &'static str {
        match self {
            Transform::Invert => "invert",
            Transform::Scale { .. } => "scale",
            Transform::Toggle => "toggle",
            Transform::Deadband(_) => "deadband",
            Transform::Slew(_) => "slew",
            Transform::Fade(_) => "fade",
        }
    }
}

/// As written in a configuration: `invert`, `scale 0.2 0.8`, `deadband 0.02`, `slew 500ms`.
impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transform::Invert | Transform::Toggle => f.write_str(self.name()),
            Transform::Scale { min, max } => write!(f, "scale {min} {max}"),
            Transform::Deadband(d) => write!(f, "deadband {d}"),
            Transform::Slew(t) | Transform::Fade(t) => {
                write!(f, "{} ", self.name())?;
                write_duration(f, *t)
            }
        }
    }
}

fn write_duration(f: &mut fmt::Formatter<'_>, t: Duration) -> fmt::Result {
    if t.subsec_nanos() == 0 {
        write!(f, "{}s", t.as_secs())
    } else if t.subsec_nanos().is_multiple_of(1_000_000) {
        write!(f, "{}ms", t.as_millis())
    } else {
        write!(f, "{t:?}")
    }
}

/// Why a list of transforms is not a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A `slew` or `fade` is followed by another transform.
    #[error(
        "'{0}' must be the last transform of a chain (it produces values over time; put the other transforms before it)"
    )]
    MotionNotLast(&'static str),
}

/// The transforms of one mapping edge, applied in order from the edge's source to its target.
/// At most one `slew` or `fade`, and only last.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Chain(Box<[Transform]>);

impl Chain {
    /// Checks `ops` (see [`ChainError`]).
    pub fn new(ops: Vec<Transform>) -> Result<Chain, ChainError> {
        if let Some(m) = ops.iter().rev().skip(1).find(|t| t.is_motion()) {
            return Err(ChainError::MotionNotLast(m.name()));
        }
        Ok(Chain(ops.into_boxed_slice()))
    }

    /// The transforms in order.
    pub fn ops(&self) -> &[Transform] {
        &self.0
    }

    /// Whether the chain has no transform (a plain edge).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The transforms joined as written: `scale 0.2 0.8 | slew 500ms`.
impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{t}")?;
        }
        Ok(())
    }
}

/// `invert`: `max − raw` at the value's own width, else 1 − x.
#[inline]
pub(crate) fn invert(v: Value) -> Value {
    match v.raw() {
        Some((raw, bits)) => Value::from_raw(max_raw(bits) - raw, bits),
        None => Value::from_normalised(1.0 - v.normalised()),
    }
}

/// `scale min max`. For a raw value r of width b (M = 2^b − 1) the result is
/// round-half-away((min·(M − r) + max·r)), computed in integers from the exact levels; else
/// min·(1 − x) + max·x, which is exact at both ends.
#[inline]
pub(crate) fn scale(v: Value, min: Level, max: Level) -> Value {
    match v.raw() {
        Some((raw, bits)) => {
            let m = max_raw(bits);
            // num ≤ 10^9 · M, so the quotient is at most M and fits the width. Up to 32 bits
            // (every real protocol) it fits a u64, whose division is several times faster.
            let out = if bits <= 32 {
                let num = u64::from(min.0) * (m - raw) + u64::from(max.0) * raw;
                (num + u64::from(BILLION / 2)) / u64::from(BILLION)
            } else {
                let num =
                    u128::from(min.0) * u128::from(m - raw) + u128::from(max.0) * u128::from(raw);
                let out = (num + u128::from(BILLION / 2)) / u128::from(BILLION);
                u64::try_from(out).unwrap_or(u64::MAX)
            };
            Value::from_raw(out, bits)
        }
        None => {
            let x = v.normalised();
            Value::from_normalised(min.as_f64() * (1.0 - x) + max.as_f64() * x)
        }
    }
}

/// 0 or full scale, at the width of `like` when it has one.
#[inline]
pub(crate) fn on_off(on: bool, like: Value) -> Value {
    match like.raw() {
        Some((_, bits)) => Value::from_raw(if on { max_raw(bits) } else { 0 }, bits),
        None => Value::from_normalised(if on { 1.0 } else { 0.0 }),
    }
}

/// Whether `v` is 0 or full scale (or beyond).
#[inline]
pub(crate) fn is_end(v: Value) -> bool {
    match v.raw() {
        Some((raw, bits)) => raw == 0 || raw == max_raw(bits),
        None => v.normalised() <= 0.0 || v.normalised() >= 1.0,
    }
}

/// Whether `v` differs from `last` by at least `band`: in integers when both have the same
/// width (exact), else in normalised levels.
#[inline]
pub(crate) fn differs_by(last: Value, v: Value, band: Level) -> bool {
    match (last.raw(), v.raw()) {
        (Some((a, wa)), Some((b, wb))) if wa == wb => {
            let diff = u128::from(a.abs_diff(b));
            diff * u128::from(BILLION) >= u128::from(band.0) * u128::from(max_raw(wa))
        }
        _ => (v.normalised() - last.normalised()).abs() >= band.as_f64(),
    }
}

#[cfg(test)]
mod tests;
