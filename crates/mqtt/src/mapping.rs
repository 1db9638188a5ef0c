//! MIDIMonster's payload ↔ value mapping for MQTT topics, as pure functions.
//!
//! A topic is plain (the payload is the decimal text of the normalised value, 0..1), a range
//! (`TOPIC = range MIN MAX`) or a list of discrete values (`TOPIC = discrete [!]MIN [!]MAX TEXT`,
//! repeatable). This follows `backends/mqtt.c` of MIDIMonster (functions `mqtt_configure_channel`,
//! `mqtt_deserialize`, `mqtt_serialize`):
//!
//! * Numbers are read like C's `strtod`: leading white space, then the longest number prefix
//!   (decimal, hexadecimal `0x1p-3`, `inf`, `infinity`, `nan`), anything after it ignored. A
//!   payload without a number prefix is rejected (MIDIMonster logs "Failed to parse incoming
//!   data"); so is NaN, which MIDIMonster would pass on.
//! * Numbers are written like `printf("%f")`: six decimals, rounded half to even on the exact
//!   binary value (Rust's `{:.6}` gives the same text, checked against glibc in the tests).
//! * Input: plain → the number clamped to 0..1. Range → the number clamped to the range, then
//!   `(v − MIN) / |MAX − MIN|`, made positive when MAX < MIN, clamped to 0..1. Discrete → the
//!   payload equal byte for byte to an entry's TEXT yields that entry's value: the bound marked
//!   `!`, or the middle of MIN..MAX when neither is marked (the last mark wins when both are).
//! * Output: plain → `x`. Range → `x·|MAX − MIN|·(−1 if MAX < MIN) + MIN`. Discrete → the TEXT of
//!   the first entry whose MIN..MAX contains `x`; none → nothing is sent.
//!
//! Deliberate differences, each where MIDIMonster's result is undefined or useless:
//! * Output values are clamped to 0..1 first (MIDIMonster's documentation promises no output
//!   outside the configured bounds; its code does not clamp).
//! * The ends are exact: input equal to MIN or MAX gives exactly 0 or 1, and output of 0 or 1
//!   writes MIN or MAX itself, so `0.1 .. 0.7` cannot come back as 0.9999999999999998.
//! * `range X X` maps every input to 0 (MIDIMonster divides by zero and passes NaN on).
//! * Configuration is checked: MIN and MAX must be finite numbers, nothing may follow a range's
//!   MAX, and a discrete entry needs two numbers and a non-empty TEXT (MIDIMonster reads a missing
//!   number as 0 and accepts an empty TEXT that can never match).

use std::io::Write as _;

/// How a topic's payload maps to a normalised value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ValueMap {
    /// Decimal text of the normalised value.
    #[default]
    Plain,
    /// `range MIN MAX`.
    Range {
        /// Value of normalised 0.
        min: f64,
        /// Value of normalised 1 (may be below `min`).
        max: f64,
    },
    /// `discrete ...` entries, in configuration order.
    Discrete(Vec<Discrete>),
}

/// One `discrete [!]MIN [!]MAX TEXT` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Discrete {
    /// Lower bound of the normalised interval (clamped to 0..1).
    pub min: f64,
    /// Upper bound (clamped to 0..1, not below `min`).
    pub max: f64,
    /// Normalised value an input of `text` produces.
    pub value: f64,
    /// The payload.
    pub text: Box<str>,
}

/// Why a `range`/`discrete` channel pre-configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// Neither `range` nor `discrete`.
    #[error(
        "expected `range MIN MAX` or `discrete [!]MIN [!]MAX TEXT` (or one of the options host, user, password, clientid, protocol)"
    )]
    UnknownKind,
    /// A number is missing or unreadable.
    #[error("{0} is not a number")]
    BadNumber(&'static str),
    /// A bound is infinite or NaN.
    #[error("{0} must be a finite number")]
    NotFinite(&'static str),
    /// Text after a range's MAX.
    #[error("nothing may follow MAX in `range MIN MAX`")]
    TrailingText,
    /// A discrete entry without text.
    #[error("`discrete [!]MIN [!]MAX TEXT` needs the TEXT sent for the interval")]
    MissingText,
    /// Discrete MIN above MAX.
    #[error("discrete MIN must not be above MAX (both are clamped to 0..1)")]
    Order,
    /// A second range, or a range after discrete entries.
    #[error("a topic takes one `range`, and not together with `discrete` entries")]
    RangeConflict,
    /// A discrete entry after a range.
    #[error("`discrete` entries cannot be added to a topic that has a `range`")]
    DiscreteAfterRange,
}

/// Why an incoming payload produced no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// No number at the start of the payload (or NaN).
    #[error("payload is not a number")]
    NotANumber,
    /// No discrete entry has this text.
    #[error("payload matches no discrete value of the topic")]
    NoDiscreteMatch,
}

/// Why no payload was produced for a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// No discrete entry's interval contains the value.
    #[error("no discrete value of the topic covers this value")]
    NoDiscreteMatch,
}

fn clamp01(v: f64) -> f64 {
    v.clamp(0.0, 1.0)
}

impl ValueMap {
    /// Adds one channel pre-configuration (the option's value), with MIDIMonster's rules for
    /// combining them: one `range` per topic, any number of `discrete` entries, never both.
    pub fn add(&mut self, spec: &str) -> Result<(), MappingError> {
        let spec = spec.trim_start();
        if let Some(rest) = spec.strip_prefix("range").filter(|r| starts_ws(r)) {
            let mut c = Cursor(rest.as_bytes());
            let min = c.number("MIN")?;
            let max = c.number("MAX")?;
            if !c.rest_trimmed().is_empty() {
                return Err(MappingError::TrailingText);
            }
            if !matches!(self, ValueMap::Plain) {
                return Err(MappingError::RangeConflict);
            }
            *self = ValueMap::Range { min, max };
            Ok(())
        } else if let Some(rest) = spec.strip_prefix("discrete").filter(|r| starts_ws(r)) {
            let mut c = Cursor(rest.as_bytes());
            let mut mark = 0;
            if c.bang() {
                mark = 1;
            }
            let min = clamp01(c.number("MIN")?);
            if c.bang() {
                mark = 2;
            }
            let max = clamp01(c.number("MAX")?);
            if max < min {
                return Err(MappingError::Order);
            }
            let text = c.rest_trimmed();
            if text.is_empty() {
                return Err(MappingError::MissingText);
            }
            let value = match mark {
                1 => min,
                2 => max,
                _ => min + (max - min) / 2.0,
            };
            let entry = Discrete {
                min,
                max,
                value,
                text: String::from_utf8_lossy(text).into(),
            };
            match self {
                ValueMap::Plain => *self = ValueMap::Discrete(vec![entry]),
                ValueMap::Discrete(list) => list.push(entry),
                ValueMap::Range { .. } => return Err(MappingError::DiscreteAfterRange),
            }
            Ok(())
        } else {
            Err(MappingError::UnknownKind)
        }
    }

    /// The normalised value (0..=1) of an incoming payload.
    pub fn decode(&self, payload: &[u8]) -> Result<f64, DecodeError> {
        match self {
            ValueMap::Plain => Ok(clamp01(number(payload)?)),
            ValueMap::Range { min, max } => {
                let (lo, hi) = if min <= max {
                    (*min, *max)
                } else {
                    (*max, *min)
                };
                let raw = number(payload)?.clamp(lo, hi);
                let range = (max - min).abs();
                if raw == *min || range == 0.0 {
                    return Ok(0.0);
                }
                if raw == *max {
                    return Ok(1.0);
                }
                let mut v = (raw - min) / range;
                if max < min {
                    v = v.abs();
                }
                Ok(clamp01(v))
            }
            ValueMap::Discrete(list) => list
                .iter()
                .find(|d| d.text.as_bytes() == payload)
                .map(|d| clamp01(d.value))
                .ok_or(DecodeError::NoDiscreteMatch),
        }
    }

    /// Appends the payload for normalised value `x` (clamped to 0..1) to `out`.
    pub fn encode(&self, x: f64, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let x = clamp01(x);
        match self {
            ValueMap::Plain => write_f(out, x),
            ValueMap::Range { min, max } => {
                let v = if x == 0.0 {
                    *min
                } else if x == 1.0 {
                    *max
                } else {
                    let sign = if max < min { -1.0 } else { 1.0 };
                    (x * (max - min).abs()) * sign + min
                };
                write_f(out, v);
            }
            ValueMap::Discrete(list) => {
                let d = list
                    .iter()
                    .find(|d| d.min <= x && d.max >= x)
                    .ok_or(EncodeError::NoDiscreteMatch)?;
                out.extend_from_slice(d.text.as_bytes());
            }
        }
        Ok(())
    }
}

/// `printf("%f")`.
fn write_f(out: &mut Vec<u8>, v: f64) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{v:.6}");
}

fn starts_ws(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_whitespace())
}

fn number(payload: &[u8]) -> Result<f64, DecodeError> {
    match strtod(payload) {
        Some((v, _)) if !v.is_nan() => Ok(v),
        _ => Err(DecodeError::NotANumber),
    }
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn skip_ws(&mut self) {
        while let [c, rest @ ..] = self.0
            && is_c_space(*c)
        {
            self.0 = rest;
        }
    }

    fn bang(&mut self) -> bool {
        self.skip_ws();
        if let [b'!', rest @ ..] = self.0 {
            self.0 = rest;
            true
        } else {
            false
        }
    }

    fn number(&mut self, what: &'static str) -> Result<f64, MappingError> {
        let (v, used) = strtod(self.0).ok_or(MappingError::BadNumber(what))?;
        if !v.is_finite() {
            return Err(MappingError::NotFinite(what));
        }
        self.0 = &self.0[used..];
        Ok(v)
    }

    fn rest_trimmed(&mut self) -> &[u8] {
        self.skip_ws();
        self.0.trim_ascii_end()
    }
}

/// C's `isspace` in the "C" locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r')
}

/// C's `strtod` in the "C" locale: the value of the longest number prefix (after white space)
/// and the bytes it used, or `None` when there is no number.
pub fn strtod(b: &[u8]) -> Option<(f64, usize)> {
    let mut i = 0;
    while i < b.len() && is_c_space(b[i]) {
        i += 1;
    }
    let neg = match b.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let signed = |v: f64| if neg { -v } else { v };
    let rest = &b[i..];
    let word = |w: &[u8]| {
        rest.get(..w.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(w))
    };
    // inf, infinity, nan, nan(chars)
    if word(b"infinity") {
        return Some((signed(f64::INFINITY), i + 8));
    }
    if word(b"inf") {
        return Some((signed(f64::INFINITY), i + 3));
    }
    if word(b"nan") {
        let mut end = i + 3;
        if b.get(end) == Some(&b'(') {
            let mut j = end + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            if b.get(j) == Some(&b')') {
                end = j + 1;
            }
        }
        return Some((f64::NAN, end));
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        if let Some((v, used)) = hex_float(&rest[2..]) {
            return Some((signed(v), i + 2 + used));
        }
        // "0x" without hex digits: the "0" alone is the number.
        return Some((signed(0.0), i + 1));
    }
    // Decimal: digits [. digits] [e [sign] digits], at least one mantissa digit.
    let mut j = 0;
    let digits = |j: &mut usize| {
        let s = *j;
        while *j < rest.len() && rest[*j].is_ascii_digit() {
            *j += 1;
        }
        *j - s
    };
    let mut mantissa = digits(&mut j);
    if rest.get(j) == Some(&b'.') {
        j += 1;
        mantissa += digits(&mut j);
    }
    if mantissa == 0 {
        return None;
    }
    if matches!(rest.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        if matches!(rest.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        if digits(&mut k) > 0 {
            j = k;
        }
    }
    let text = std::str::from_utf8(&rest[..j]).ok()?;
    let v: f64 = text.parse().ok()?;
    Some((signed(v), i + j))
}

/// Hexadecimal significand with optional binary exponent, after "0x": value and bytes used.
fn hex_float(b: &[u8]) -> Option<(f64, usize)> {
    let mut j = 0;
    let mut mantissa = 0f64;
    let mut exp: i64 = 0;
    let mut any = false;
    while let Some(d) = b.get(j).and_then(|c| (*c as char).to_digit(16)) {
        mantissa = mantissa * 16.0 + f64::from(d);
        any = true;
        j += 1;
    }
    if b.get(j) == Some(&b'.') {
        let mut k = j + 1;
        while let Some(d) = b.get(k).and_then(|c| (*c as char).to_digit(16)) {
            mantissa = mantissa * 16.0 + f64::from(d);
            exp -= 4;
            any = true;
            k += 1;
        }
        if any {
            j = k;
        }
    }
    if !any {
        return None;
    }
    if matches!(b.get(j), Some(b'p' | b'P')) {
        let mut k = j + 1;
        let neg = match b.get(k) {
            Some(b'-') => {
                k += 1;
                true
            }
            Some(b'+') => {
                k += 1;
                false
            }
            _ => false,
        };
        let s = k;
        let mut e: i64 = 0;
        while let Some(d) = b.get(k).filter(|c| c.is_ascii_digit()) {
            e = (e * 10 + i64::from(d - b'0')).min(100_000);
            k += 1;
        }
        if k > s {
            exp += if neg { -e } else { e };
            j = k;
        }
    }
    let exp = exp.clamp(-2_000, 2_000) as i32;
    Some((mantissa * 2f64.powi(exp), j))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn map(lines: &[&str]) -> ValueMap {
        let mut m = ValueMap::default();
        for l in lines {
            m.add(l).expect(l);
        }
        m
    }

    fn enc(m: &ValueMap, x: f64) -> String {
        let mut out = Vec::new();
        m.encode(x, &mut out).expect("encode");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn midimonster_documented_examples() {
        // backends/mqtt.md: "/a/topic = range -10 10", "/another/topic = discrete ...".
        let a = map(&["range -10 10"]);
        assert_eq!(a.decode(b"5.0"), Ok(0.75));
        assert_eq!(enc(&a, 0.25), "-5.000000");
        let b = map(&["discrete !0.0 0.5 off", "discrete 0.5 !1.0 on"]);
        assert_eq!(b.decode(b"off"), Ok(0.0));
        assert_eq!(b.decode(b"on"), Ok(1.0));
        assert_eq!(enc(&b, 0.75), "on");
        // The first entry whose interval contains the value wins: 0.5 is in both.
        assert_eq!(enc(&b, 0.5), "off");
        assert_eq!(b.decode(b"of"), Err(DecodeError::NoDiscreteMatch));
        assert_eq!(b.decode(b"off "), Err(DecodeError::NoDiscreteMatch));
    }

    #[test]
    fn plain_topics_read_and_write_like_strtod_and_printf() {
        let p = ValueMap::Plain;
        assert_eq!(enc(&p, 0.5), "0.500000");
        assert_eq!(enc(&p, 1.0), "1.000000");
        assert_eq!(enc(&p, 1.0 / 3.0), "0.333333");
        // Tie on the exact binary value: glibc rounds half to even, and so does Rust.
        assert_eq!(enc(&p, 0.0078125), "0.007812");
        assert_eq!(enc(&p, 7.0), "1.000000");
        assert_eq!(enc(&p, -1.0), "0.000000");
        assert_eq!(p.decode(b"0.25"), Ok(0.25));
        assert_eq!(p.decode(b"  0.25xyz"), Ok(0.25));
        assert_eq!(p.decode(b"2"), Ok(1.0));
        assert_eq!(p.decode(b"-3"), Ok(0.0));
        assert_eq!(p.decode(b".5"), Ok(0.5));
        assert_eq!(p.decode(b"5e-1"), Ok(0.5));
        assert_eq!(p.decode(b"0x1p-1"), Ok(0.5));
        assert_eq!(p.decode(b"inf"), Ok(1.0));
        assert_eq!(p.decode(b"-Infinity"), Ok(0.0));
        assert_eq!(p.decode(b"nan"), Err(DecodeError::NotANumber));
        assert_eq!(p.decode(b"on"), Err(DecodeError::NotANumber));
        assert_eq!(p.decode(b""), Err(DecodeError::NotANumber));
        assert_eq!(p.decode(b"- 1"), Err(DecodeError::NotANumber));
        assert_eq!(p.decode(b"\xff\xfe"), Err(DecodeError::NotANumber));
    }

    #[test]
    fn strtod_prefixes_match_glibc() {
        // Expected values and lengths printed by glibc's strtod.
        assert_eq!(strtod(b"0x1p-1"), Some((0.5, 6)));
        assert_eq!(strtod(b"  .5e1x"), Some((5.0, 6)));
        assert_eq!(strtod(b"-inf"), Some((f64::NEG_INFINITY, 4)));
        assert!(matches!(strtod(b" +nan(abc)"), Some((v, 10)) if v.is_nan()));
        assert_eq!(strtod(b"1e"), Some((1.0, 1)));
        assert_eq!(strtod(b"0x"), Some((0.0, 1)));
        assert_eq!(strtod(b"infinityx"), Some((f64::INFINITY, 8)));
        assert_eq!(strtod(b"- 1"), None);
        assert_eq!(strtod(b"\t3"), Some((3.0, 2)));
        assert_eq!(strtod(b"0x1.8"), Some((1.5, 5)));
        assert_eq!(strtod(b"1.e2"), Some((100.0, 4)));
        assert_eq!(strtod(b"."), None);
    }

    #[test]
    fn ranges_scale_clamp_and_invert() {
        let r = map(&["range -10 10"]);
        assert_eq!(r.decode(b"-10"), Ok(0.0));
        assert_eq!(r.decode(b"10"), Ok(1.0));
        assert_eq!(r.decode(b"99"), Ok(1.0));
        assert_eq!(r.decode(b"-99"), Ok(0.0));
        assert_eq!(enc(&r, 0.0), "-10.000000");
        assert_eq!(enc(&r, 1.0), "10.000000");
        assert_eq!(enc(&r, 2.0), "10.000000");
        let inv = map(&["range 10 0"]);
        assert_eq!(inv.decode(b"10"), Ok(0.0));
        assert_eq!(inv.decode(b"0"), Ok(1.0));
        assert_eq!(inv.decode(b"2.5"), Ok(0.75));
        assert_eq!(enc(&inv, 0.75), "2.500000");
        let flat = map(&["range 5 5"]);
        assert_eq!(flat.decode(b"7"), Ok(0.0));
        assert_eq!(enc(&flat, 0.3), "5.000000");
        // Ends exact even where the arithmetic is not.
        let odd = map(&["range 0.1 0.7"]);
        assert_eq!(odd.decode(b"0.7"), Ok(1.0));
        assert_eq!(odd.decode(b"0.1"), Ok(0.0));
    }

    #[test]
    fn discrete_values_follow_marks_and_midpoints() {
        let d = map(&[
            "discrete 0 0.2 low",
            "discrete !0.2 !0.6 mid dle",
            "discrete 0.6 1.5 high",
        ]);
        let ValueMap::Discrete(list) = &d else {
            panic!("{d:?}")
        };
        assert_eq!(list[0].value, 0.1);
        assert_eq!(list[1].value, 0.6, "the last mark wins");
        assert_eq!(list[2].max, 1.0, "bounds are clamped to 0..1");
        assert_eq!(d.decode(b"mid dle"), Ok(0.6));
        assert_eq!(enc(&d, 0.1), "low");
        assert_eq!(enc(&d, 0.9), "high");
        let gap = map(&["discrete 0 0.2 low"]);
        assert_eq!(
            gap.encode(0.5, &mut Vec::new()),
            Err(EncodeError::NoDiscreteMatch)
        );
        assert_eq!(map(&["discrete ! 0 1 x"]).decode(b"x"), Ok(0.0));
    }

    #[test]
    fn configuration_errors_say_what_is_allowed() {
        let err = |lines: &[&str]| {
            let mut m = ValueMap::default();
            let mut last = Ok(());
            for l in lines {
                last = m.add(l);
                if last.is_err() {
                    break;
                }
            }
            last.expect_err("should fail")
        };
        assert_eq!(err(&["scale 0 1"]), MappingError::UnknownKind);
        assert_eq!(err(&["ranges 0 1"]), MappingError::UnknownKind);
        assert_eq!(err(&["range"]), MappingError::UnknownKind);
        assert_eq!(err(&["range x 1"]), MappingError::BadNumber("MIN"));
        assert_eq!(err(&["range 0"]), MappingError::BadNumber("MAX"));
        assert_eq!(err(&["range 0 inf"]), MappingError::NotFinite("MAX"));
        assert_eq!(err(&["range 0 1 2"]), MappingError::TrailingText);
        assert_eq!(
            err(&["range 0 1", "range 0 2"]),
            MappingError::RangeConflict
        );
        assert_eq!(
            err(&["discrete 0 1 a", "range 0 2"]),
            MappingError::RangeConflict
        );
        assert_eq!(
            err(&["range 0 1", "discrete 0 1 a"]),
            MappingError::DiscreteAfterRange
        );
        assert_eq!(err(&["discrete 0.5 0.2 a"]), MappingError::Order);
        assert_eq!(err(&["discrete 0 1"]), MappingError::MissingText);
        assert_eq!(err(&["discrete on"]), MappingError::BadNumber("MIN"));
        assert!(
            MappingError::UnknownKind
                .to_string()
                .contains("range MIN MAX")
        );
    }

    fn bound() -> impl Strategy<Value = f64> {
        prop_oneof![-1e6..1e6f64, (-1000i32..1000).prop_map(f64::from)]
    }

    proptest! {
        /// decode(encode(x)) returns x within what six decimals of the range can hold.
        #[test]
        fn range_round_trip_within_printed_precision(min in bound(), max in bound(), x in 0.0..=1.0f64) {
            prop_assume!((max - min).abs() > 1e-3);
            let m = ValueMap::Range { min, max };
            let mut out = Vec::new();
            m.encode(x, &mut out).unwrap();
            let back = m.decode(&out).unwrap();
            let tol = 0.5e-6 / (max - min).abs() + 1e-9;
            prop_assert!((back - x).abs() <= tol, "{} -> {:?} -> {}", x, String::from_utf8_lossy(&out), back);
        }

        /// The ends map exactly both ways, whatever the bounds.
        #[test]
        fn range_ends_are_exact(min in bound(), max in bound()) {
            prop_assume!(min != max);
            let m = ValueMap::Range { min, max };
            prop_assert_eq!(m.decode(format!("{min}").as_bytes()), Ok(0.0));
            prop_assert_eq!(m.decode(format!("{max}").as_bytes()), Ok(1.0));
            let mut out = Vec::new();
            m.encode(0.0, &mut out).unwrap();
            prop_assert_eq!(String::from_utf8(out).unwrap(), format!("{min:.6}"));
            let mut out = Vec::new();
            m.encode(1.0, &mut out).unwrap();
            prop_assert_eq!(String::from_utf8(out).unwrap(), format!("{max:.6}"));
        }

        /// Every input lands in 0..=1 and every output within the bounds.
        #[test]
        fn clamping_keeps_values_in_bounds(min in bound(), max in bound(), v in proptest::num::f64::ANY, x in proptest::num::f64::ANY) {
            let m = ValueMap::Range { min, max };
            if let Ok(n) = m.decode(format!("{v}").as_bytes()) {
                prop_assert!((0.0..=1.0).contains(&n), "{} -> {}", v, n);
            }
            prop_assume!(!x.is_nan());
            let mut out = Vec::new();
            m.encode(x, &mut out).unwrap();
            let printed: f64 = std::str::from_utf8(&out).unwrap().parse().unwrap();
            let (lo, hi) = (min.min(max), min.max(max));
            prop_assert!(printed >= lo - 1e-6 && printed <= hi + 1e-6, "{} -> {}", x, printed);
        }

        /// Plain topics: six decimals, so decode(encode(x)) is within 0.5e-6.
        #[test]
        fn plain_round_trip(x in 0.0..=1.0f64) {
            let mut out = Vec::new();
            ValueMap::Plain.encode(x, &mut out).unwrap();
            let back = ValueMap::Plain.decode(&out).unwrap();
            prop_assert!((back - x).abs() <= 0.5e-6 + 1e-12);
        }

        /// The number reader never panics and never claims more bytes than it was given.
        #[test]
        fn strtod_total(b in proptest::collection::vec(any::<u8>(), 0..24)) {
            if let Some((_, used)) = strtod(&b) {
                prop_assert!(used <= b.len() && used > 0);
            }
        }

        /// Decimal text written by Rust reads back to the same double.
        #[test]
        fn strtod_reads_rust_floats(v in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL | proptest::num::f64::ZERO) {
            let s = format!("{v:e}");
            prop_assert_eq!(strtod(s.as_bytes()), Some((v, s.len())));
        }
    }
}
