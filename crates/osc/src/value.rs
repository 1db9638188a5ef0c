//! Mapping OSC arguments to normalised channel values and back, as MIDIMonster does for its
//! types `i f h d`, with patchbay's extensions for `s T F N I m t`.
//!
//! # Input (argument → level)
//!
//! Numbers: `normalised = (v − min) / (max − min)`, clipped to 0..=1, with the range of the
//! channel's preconfigured [`Param`] or the type's default (`i` 0..255, `f` 0..1, `h`
//! 0..1024, `d` 0..1; patchbay also reads `c` as its code point with 0..255 and numeric
//! strings with 0..1). Inverted ranges (`min > max`) invert. When an integer meets an
//! integer range whose width is 2ⁿ − 1 (0..255, 0..65535, 255..0, ...) the level also
//! carries the exact n-bit integer ([`Level::raw`]), so an 8-bit `i` value reaches an 8-bit
//! DMX slot unchanged; the default `i` range is such a range.
//!
//! | argument | level |
//! |---|---|
//! | `i h f d c` | range mapping as above; NaN is ignored |
//! | `s S` | a finite decimal number (`"0.5"`, `"128"`) is mapped like `d` (or like `i` with an integer range); any other string is a trigger (1.0) |
//! | `T` / `F` | 1.0 / 0.0 (1-bit raw) |
//! | `N` `I` `t` | trigger: 1.0 |
//! | `m` | note on: velocity; note off: 0; poly/channel pressure, control change, program: the 7-bit value; pitch bend: the 14-bit value. With a preconfigured `m STATUS DATA1` only that status (note on and off count as one) and, for notes, controllers and poly pressure, that data byte |
//! | `b r [ ]` | none |
//!
//! A message without arguments is a trigger on its channel `/path` (index 0): the backend
//! reports [`Level::TRIGGER`].
//!
//! # Output (level → argument)
//!
//! The level is clamped to 0..=1 first (patchbay's rule for every backend; MIDIMonster
//! extrapolates). Integers: `min + round(n × (max − min))`, half away from zero; with an
//! exact raw value `min + round(raw × (max − min) / (2^bits − 1))` in integer arithmetic, so
//! 8- and 16-bit values pass `i 0 255` / `i 0 65535` unchanged and 8 ↔ 16 bits is exact at
//! the ends. Floats: `min + n × (max − min)` in double precision, ends exact. `s` sends that
//! number as text, `T`/`F` sends `T` from 0.5 up (the core's rounding) and `F` below, `N` `I`
//! send themselves, `t` sends "immediately", `m` sends the configured status and data byte
//! with the value as velocity/controller value (7 bits) or bend (14 bits).
//!
//! # Where patchbay differs from MIDIMonster (`backends/osc.c`)
//!
//! * Integer input: MIDIMonster divides two integers (`u64 / u32`), so every `i`/`h` value
//!   becomes 0 or 1 (only `max` and above give 1), and values below `min` wrap around to 1.
//!   patchbay divides as the documented formula says.
//! * Integer output: MIDIMonster truncates toward zero (C conversion), which turns e.g. 8-bit
//!   values into their neighbour when `n × 255` comes out a hair below the integer, and
//!   inverted integer ranges wrap (the range is unsigned). patchbay rounds and handles
//!   inverted ranges.
//! * Floats: MIDIMonster subtracts in single precision; patchbay computes in double and
//!   returns `min` and `max` exactly at the ends (results differ by at most one float step).
//! * `min == max` divides by zero in MIDIMonster (a crash for integers); patchbay refuses it
//!   in the configuration ([`crate::preconfig`]).
//! * An argument whose type differs from the preconfigured one: MIDIMonster reads the range's
//!   bits as the other type; patchbay converts numbers (an `f` argument on an `i 0 127`
//!   channel maps with 0..127).

use std::fmt;

use crate::wire::{Arg, Message, Midi, TimeTag};

/// Largest integer of a width (1..=64 bits).
#[inline]
pub const fn max_raw(bits: u8) -> u64 {
    match bits {
        0 => 0,
        64.. => u64::MAX,
        b => (1u64 << b) - 1,
    }
}

/// A channel value: normalised level plus, when exact, an integer and its width.
///
/// The same shape as `patchbay_core::Value` (this crate does not depend on the core): the
/// backend converts with `Value::from_raw(raw, bits)` when `raw` is set, else
/// `Value::from_normalised(normalised)`, and back with `Value::normalised()` / `Value::raw()`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Nominally 0..=1.
    pub normalised: f64,
    /// The exact integer and its width in bits (1..=64), when there is one.
    pub raw: Option<(u64, u8)>,
}

impl Level {
    /// 0 without an integer.
    pub const ZERO: Level = Level {
        normalised: 0.0,
        raw: None,
    };
    /// 1.0 as a 1-bit value: what triggers (`N`, `I`, messages without arguments) and `T`
    /// report.
    pub const TRIGGER: Level = Level {
        normalised: 1.0,
        raw: Some((1, 1)),
    };
    /// 0.0 as a 1-bit value (`F`).
    pub const OFF: Level = Level {
        normalised: 0.0,
        raw: Some((0, 1)),
    };

    /// A `bits`-wide integer (bits clamped into 1..=64, raw to the width's maximum), as
    /// `patchbay_core::Value::from_raw` makes it.
    #[inline]
    pub fn from_raw(raw: u64, bits: u8) -> Level {
        let bits = bits.clamp(1, 64);
        let max = max_raw(bits);
        let raw = raw.min(max);
        Level {
            normalised: raw as f64 / max as f64,
            raw: Some((raw, bits)),
        }
    }

    /// A level without an integer.
    #[inline]
    pub fn from_normalised(normalised: f64) -> Level {
        Level {
            normalised,
            raw: None,
        }
    }

    /// The normalised level clamped to 0..=1 (NaN counts as 0).
    #[inline]
    pub fn clamped(&self) -> f64 {
        if self.normalised.is_nan() {
            0.0
        } else {
            self.normalised.clamp(0.0, 1.0)
        }
    }

    /// The level as a `bits`-wide integer, by the core's rule (`Value::to_raw`): the integer
    /// itself at its own width, else round-half-away-from-zero(clamped × (2^bits − 1)).
    #[inline]
    pub fn to_raw(&self, bits: u8) -> u64 {
        let bits = bits.clamp(1, 64);
        if let Some((raw, b)) = self.raw
            && b == bits
        {
            return raw.min(max_raw(bits));
        }
        let max = max_raw(bits);
        ((self.clamped() * max as f64).round() as u64).min(max)
    }

    /// The level as a fraction: exact integer ratio when there is an integer.
    #[inline]
    fn fraction(&self) -> f64 {
        match self.raw {
            Some((raw, bits)) => {
                let max = max_raw(bits.clamp(1, 64));
                raw.min(max) as f64 / max as f64
            }
            None => self.clamped(),
        }
    }
}

/// How one argument of a preconfigured message is typed and scaled: one letter of the
/// `/PATTERN = FMT MIN MAX ...` type string with its words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Param {
    /// `i MIN MAX`.
    Int32 {
        /// Value of level 0.
        min: i32,
        /// Value of level 1.
        max: i32,
    },
    /// `f MIN MAX`.
    Float32 {
        /// Value of level 0.
        min: f32,
        /// Value of level 1.
        max: f32,
    },
    /// `h MIN MAX`.
    Int64 {
        /// Value of level 0.
        min: i64,
        /// Value of level 1.
        max: i64,
    },
    /// `d MIN MAX`.
    Double {
        /// Value of level 0.
        min: f64,
        /// Value of level 1.
        max: f64,
    },
    /// `s MIN MAX`: a number carried as text.
    Str {
        /// Value of level 0.
        min: f64,
        /// Value of level 1.
        max: f64,
    },
    /// `T` or `F`: true from 0.5 up.
    Bool,
    /// `N`: nil, a trigger.
    Nil,
    /// `I`: impulse, a trigger.
    Impulse,
    /// `m STATUS DATA1`: a MIDI channel message; the level is its value.
    Midi {
        /// Status byte 0x80..=0xEF (type and MIDI channel).
        status: u8,
        /// Note or controller number (ignored for program, channel pressure and bend).
        data1: u8,
    },
    /// `t`: a time tag, a trigger ("immediately" on output).
    Time,
}

/// A numeric range in the arithmetic it is mapped in.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Range {
    Int(i64, i64),
    Float(f64, f64),
}

impl Param {
    /// `i` with MIDIMonster's default range.
    pub const INT32_DEFAULT: Param = Param::Int32 { min: 0, max: 255 };
    /// `f` with MIDIMonster's default range.
    pub const FLOAT32_DEFAULT: Param = Param::Float32 { min: 0.0, max: 1.0 };
    /// `h` with MIDIMonster's default range.
    pub const INT64_DEFAULT: Param = Param::Int64 { min: 0, max: 1024 };
    /// `d` with MIDIMonster's default range.
    pub const DOUBLE_DEFAULT: Param = Param::Double { min: 0.0, max: 1.0 };

    /// The type letter (`T` for [`Param::Bool`]).
    pub const fn letter(&self) -> char {
        match self {
            Param::Int32 { .. } => 'i',
            Param::Float32 { .. } => 'f',
            Param::Int64 { .. } => 'h',
            Param::Double { .. } => 'd',
            Param::Str { .. } => 's',
            Param::Bool => 'T',
            Param::Nil => 'N',
            Param::Impulse => 'I',
            Param::Midi { .. } => 'm',
            Param::Time => 't',
        }
    }

    fn range(&self) -> Option<Range> {
        match *self {
            Param::Int32 { min, max } => Some(Range::Int(min.into(), max.into())),
            Param::Int64 { min, max } => Some(Range::Int(min, max)),
            Param::Float32 { min, max } => Some(Range::Float(min.into(), max.into())),
            Param::Double { min, max } | Param::Str { min, max } => Some(Range::Float(min, max)),
            _ => None,
        }
    }

    /// What a message carries in this argument before anything was set: the argument for
    /// level 0 (MIDIMonster sends zero bits, i.e. 0 or 0.0 whatever the range; patchbay sends
    /// the range's level-0 end, so an inverted range does not start at full).
    pub fn initial(&self) -> OutArg {
        denormalise(self, Level::ZERO)
    }
}

/// Reads a string argument as a number: a finite decimal like `0.5`, `-3`, `1e2`.
fn string_number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// The level of one argument, mapped by the channel's preconfigured `param` (or the
/// argument type's default range when `None`); `None` when the argument carries no level
/// (blob, colour, array marker, NaN, a MIDI message the param filters out). See the module
/// documentation for the table.
pub fn normalise(arg: &Arg<'_>, param: Option<&Param>) -> Option<Level> {
    let range = |default: Range| param.and_then(Param::range).unwrap_or(default);
    match *arg {
        Arg::Int(x) => map_int(x.into(), range(Range::Int(0, 255))),
        Arg::Int64(x) => map_int(x, range(Range::Int(0, 1024))),
        Arg::Char(c) => map_int(u32::from(c).into(), range(Range::Int(0, 255))),
        Arg::Float(x) => map_float(x.into(), range(Range::Float(0.0, 1.0))),
        Arg::Double(x) => map_float(x, range(Range::Float(0.0, 1.0))),
        Arg::Str(s) | Arg::Symbol(s) => match string_number(s) {
            Some(x) => map_float(x, range(Range::Float(0.0, 1.0))),
            None => Some(Level::TRIGGER),
        },
        Arg::True | Arg::Nil | Arg::Impulse | Arg::Time(_) => Some(Level::TRIGGER),
        Arg::False => Some(Level::OFF),
        Arg::Midi(m) => midi_level(m, param),
        Arg::Blob(_) | Arg::Rgba(_) | Arg::ArrayBegin | Arg::ArrayEnd => None,
    }
}

/// Calls `f(index, level)` for every value argument of `m` that has a level, `index`
/// counting value arguments from 0 (array markers not counted), which is the `N` of channel
/// `/path:N`. Argument `index` is mapped with `params[index]` when the path was
/// preconfigured with that many arguments, else with its type's default range. A message
/// without arguments reports a trigger on index 0.
///
/// Lenient where MIDIMonster is strict: MIDIMonster ignores a whole message whose argument
/// count differs from the preconfigured type string; here every argument that is present is
/// mapped. A backend that wants MIDIMonster's rule compares `m.value_count()` with
/// `params.len()` first.
pub fn message_levels(m: &Message<'_>, params: &[Param], mut f: impl FnMut(usize, Level)) {
    if m.value_count() == 0 {
        f(0, Level::TRIGGER);
        return;
    }
    for (index, arg) in m.args().values().enumerate() {
        if let Some(level) = normalise(&arg, params.get(index)) {
            f(index, level);
        }
    }
}

fn map_int(x: i64, range: Range) -> Option<Level> {
    let (min, max) = match range {
        Range::Int(min, max) => (min, max),
        Range::Float(..) => return map_float(x as f64, range),
    };
    let d = i128::from(max) - i128::from(min);
    if d == 0 {
        return None;
    }
    let span = d.unsigned_abs();
    let along = (i128::from(x) - i128::from(min)) * d.signum();
    let clipped = along.clamp(0, span as i128) as u128;
    if (span + 1).is_power_of_two() {
        // span = 2^n - 1 with 1 <= n <= 64 (span <= 2^64 - 1).
        let bits = (span + 1).trailing_zeros() as u8;
        return Some(Level::from_raw(clipped as u64, bits));
    }
    Some(Level::from_normalised(clipped as f64 / span as f64))
}

fn map_float(x: f64, range: Range) -> Option<Level> {
    let (min, max) = match range {
        Range::Float(min, max) => (min, max),
        // An integral value on an integer range keeps the exact path ("128", 128.0).
        Range::Int(..) if x.fract() == 0.0 && x.abs() < 9.0e18 => return map_int(x as i64, range),
        Range::Int(min, max) => (min as f64, max as f64),
    };
    if min == max {
        return None;
    }
    let n = (x - min) / (max - min);
    if n.is_nan() {
        return None;
    }
    Some(Level::from_normalised(n.clamp(0.0, 1.0)))
}

/// Bytes of a MIDI message that carry its level, and their width.
fn midi_value(m: Midi) -> Option<(u64, u8)> {
    let (d1, d2) = (u64::from(m.data1 & 0x7f), u64::from(m.data2 & 0x7f));
    match m.status & 0xf0 {
        0x80 => Some((0, 7)),
        0x90 | 0xa0 | 0xb0 => Some((d2, 7)),
        0xc0 | 0xd0 => Some((d1, 7)),
        0xe0 => Some((d2 << 7 | d1, 14)),
        _ => None,
    }
}

fn midi_level(m: Midi, param: Option<&Param>) -> Option<Level> {
    if let Some(&Param::Midi { status, data1 }) = param {
        let (kind, want) = (m.status & 0xf0, status & 0xf0);
        let same_kind = kind == want || matches!((kind, want), (0x80, 0x90) | (0x90, 0x80));
        if !same_kind || m.status & 0x0f != status & 0x0f {
            return None;
        }
        if matches!(want, 0x80..=0xb0) && m.data1 != data1 {
            return None;
        }
    }
    midi_value(m).map(|(v, bits)| Level::from_raw(v, bits))
}

/// An argument to send, owned (numbers sent as text carry their own buffer).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutArg {
    /// `i`.
    Int(i32),
    /// `f`.
    Float(f32),
    /// `h`.
    Int64(i64),
    /// `d`.
    Double(f64),
    /// `s`: a number as text.
    Str(NumText),
    /// `T`.
    True,
    /// `F`.
    False,
    /// `N`.
    Nil,
    /// `I`.
    Impulse,
    /// `m`.
    Midi(Midi),
    /// `t`.
    Time(TimeTag),
}

impl OutArg {
    /// The argument for [`write_message`](crate::wire::write_message).
    #[inline]
    pub fn arg(&self) -> Arg<'_> {
        match self {
            OutArg::Int(v) => Arg::Int(*v),
            OutArg::Float(v) => Arg::Float(*v),
            OutArg::Int64(v) => Arg::Int64(*v),
            OutArg::Double(v) => Arg::Double(*v),
            OutArg::Str(t) => Arg::Str(t.as_str()),
            OutArg::True => Arg::True,
            OutArg::False => Arg::False,
            OutArg::Nil => Arg::Nil,
            OutArg::Impulse => Arg::Impulse,
            OutArg::Midi(m) => Arg::Midi(*m),
            OutArg::Time(t) => Arg::Time(*t),
        }
    }
}

/// A number formatted as short text, stored inline (no allocation per message).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NumText {
    buf: [u8; 32],
    len: u8,
}

impl NumText {
    /// `v` as text: integers without a decimal point (`128`), other values in Rust's shortest
    /// round-trip form (`0.5`), exponent form when that would be long.
    pub fn new(v: f64) -> NumText {
        let mut t = NumText {
            buf: [0; 32],
            len: 0,
        };
        let ok = if v.fract() == 0.0 && v.abs() < 1e15 {
            fmt::write(&mut t, format_args!("{}", v as i64))
        } else {
            fmt::write(&mut t, format_args!("{v}"))
        };
        if ok.is_err() {
            t.len = 0;
            // At most 24 bytes ("-1.2345678901234567e-308").
            let _ = fmt::write(&mut t, format_args!("{v:e}"));
        }
        t
    }

    /// The text.
    #[inline]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

impl fmt::Write for NumText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let at = usize::from(self.len);
        let end = at + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[at..end].copy_from_slice(s.as_bytes());
        self.len = end as u8;
        Ok(())
    }
}

impl fmt::Debug for NumText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

fn int_out(level: Level, min: i64, max: i64) -> i64 {
    let d = i128::from(max) - i128::from(min);
    let span = d.unsigned_abs();
    let steps: u128 = match level.raw {
        Some((raw, bits)) => {
            let m = u128::from(max_raw(bits.clamp(1, 64)));
            let p = u128::from(raw).min(m) * span;
            let (q, rem) = (p / m, p % m);
            if 2 * rem >= m { q + 1 } else { q }
        }
        None => ((level.clamped() * span as f64).round() as u128).min(span),
    };
    let v = if d >= 0 {
        i128::from(min) + steps as i128
    } else {
        i128::from(min) - steps as i128
    };
    v as i64
}

fn float_out(level: Level, min: f64, max: f64) -> f64 {
    let n = level.fraction();
    if n <= 0.0 {
        min
    } else if n >= 1.0 {
        max
    } else {
        min + n * (max - min)
    }
}

/// The argument that sends `level` on a channel preconfigured as `param` (see the module
/// documentation).
pub fn denormalise(param: &Param, level: Level) -> OutArg {
    match *param {
        Param::Int32 { min, max } => OutArg::Int(int_out(level, min.into(), max.into()) as i32),
        Param::Int64 { min, max } => OutArg::Int64(int_out(level, min, max)),
        Param::Float32 { min, max } => {
            OutArg::Float(float_out(level, min.into(), max.into()) as f32)
        }
        Param::Double { min, max } => OutArg::Double(float_out(level, min, max)),
        Param::Str { min, max } => OutArg::Str(NumText::new(float_out(level, min, max))),
        Param::Bool => {
            if level.to_raw(1) == 1 {
                OutArg::True
            } else {
                OutArg::False
            }
        }
        Param::Nil => OutArg::Nil,
        Param::Impulse => OutArg::Impulse,
        Param::Time => OutArg::Time(TimeTag::IMMEDIATELY),
        Param::Midi { status, data1 } => {
            let (data1, data2) = match status & 0xf0 {
                0xc0 | 0xd0 => (level.to_raw(7) as u8, 0),
                0xe0 => {
                    let v = level.to_raw(14);
                    ((v & 0x7f) as u8, (v >> 7) as u8)
                }
                _ => (data1, level.to_raw(7) as u8),
            };
            OutArg::Midi(Midi {
                port: 0,
                status,
                data1,
                data2,
            })
        }
    }
}

#[cfg(test)]
mod tests;
