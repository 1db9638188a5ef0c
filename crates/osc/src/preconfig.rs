//! MIDIMonster's channel preconfiguration: an instance option `/PATTERN = FMT MIN MAX ...`
//! gives every channel whose local path matches PATTERN its argument types and ranges; the
//! first configured pattern that matches wins.
//!
//! FMT is one letter per argument: MIDIMonster's `i` `f` `h` `d` (each followed by MIN MAX)
//! and patchbay's `s` (MIN MAX: a number sent as text), `m` (STATUS DATA1: a MIDI channel
//! message, e.g. `m 0xB0 7` = controller 7 on MIDI channel 1), and `T`/`F`, `N`, `I`, `t`
//! (no words). Integers take C notation (`0x10`, `010` octal) as MIDIMonster's `strtol`
//! does; floats take decimal notation (`0.5`, `-1`, `2e3`).
//!
//! Stricter than MIDIMonster, which reads numbers with unchecked `strtol`/`strtod` (a typo
//! becomes 0) and ignores words left over: every word must be a number of the right kind, no
//! word may be left over, and MIN must differ from MAX (MIDIMonster divides by zero).

use std::ops::Range;

use crate::address::matches;
use crate::channel::{PathError, validate_pattern_path};
use crate::value::Param;

/// Why the value of a `/PATTERN = ...` line was refused. `at` is the byte offset in the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// Nothing after `=`.
    #[error(
        "no argument types: write one letter per argument, then MIN MAX for each number, e.g. `ff 0.0 1.0 0.0 2.0`"
    )]
    Empty,
    /// A letter that is not a supported type.
    #[error(
        "{letter:?} is not an argument type here; allowed: i (int32), f (float32), h (int64), d (double), s (number as string), T or F (true/false), N (nil), I (impulse), m (MIDI), t (time tag)"
    )]
    UnknownType {
        /// Offset of the letter.
        at: usize,
        /// The letter.
        letter: char,
    },
    /// The words run out.
    #[error("argument {index} ({letter}) needs its {what} after the types")]
    Missing {
        /// End of the value.
        at: usize,
        /// Argument number, 0-based.
        index: usize,
        /// Its type letter.
        letter: char,
        /// "minimum", "maximum", "status byte" or "data byte".
        what: &'static str,
    },
    /// A word that is not what its position needs.
    #[error("{word:?} is not {expected}")]
    BadNumber {
        /// Offset of the word.
        at: usize,
        /// The word.
        word: String,
        /// What would have been accepted.
        expected: &'static str,
    },
    /// MIN equals MAX.
    #[error(
        "argument {index} ({letter}) has the same minimum and maximum; a range needs two different ends"
    )]
    EmptyRange {
        /// Offset of MAX.
        at: usize,
        /// Argument number, 0-based.
        index: usize,
        /// Its type letter.
        letter: char,
    },
    /// Words after the last one the types need.
    #[error("{word:?} is one word too many: the types {types:?} take {words} words after them")]
    Extra {
        /// Offset of the first extra word.
        at: usize,
        /// The word.
        word: String,
        /// The type string.
        types: String,
        /// Words the types take.
        words: usize,
    },
}

impl SpecError {
    /// Byte offset in the value where the problem is.
    pub fn at(&self) -> usize {
        match self {
            SpecError::Empty => 0,
            SpecError::UnknownType { at, .. }
            | SpecError::Missing { at, .. }
            | SpecError::BadNumber { at, .. }
            | SpecError::EmptyRange { at, .. }
            | SpecError::Extra { at, .. } => *at,
        }
    }
}

/// Why a `/PATTERN = ...` line was refused: the key (pattern) or the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreconfigError {
    /// The pattern is not a valid OSC path pattern.
    #[error("{0}")]
    Pattern(#[from] PathError),
    /// The type string or a range is wrong.
    #[error("{0}")]
    Spec(#[from] SpecError),
}

/// Whitespace-separated words with their byte offsets.
fn words(value: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = value;
    let mut base = 0;
    std::iter::from_fn(move || {
        let start = rest.find(|c: char| !c.is_ascii_whitespace())?;
        let len = rest[start..]
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + len];
        let at = base + start;
        rest = &rest[start + len..];
        base = at + len;
        Some((at, word))
    })
}

/// An integer in C `strtol(.., 0)` notation: optional sign, then `0x` hex, `0` octal or
/// decimal; the whole word.
fn c_integer(word: &str) -> Option<i128> {
    let (negative, digits) = match word.as_bytes().first() {
        Some(b'-') => (true, &word[1..]),
        Some(b'+') => (false, &word[1..]),
        _ => (false, word),
    };
    let (digits, radix) = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        (h, 16)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (&digits[1..], 8)
    } else {
        (digits, 10)
    };
    if digits.is_empty() || digits.len() > 30 || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    Some(if negative { -v } else { v })
}

fn finite(word: &str) -> Option<f64> {
    word.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// How many words a type letter takes.
fn arity(letter: u8) -> usize {
    match letter {
        b'i' | b'f' | b'h' | b'd' | b's' | b'm' => 2,
        _ => 0,
    }
}

/// Parses the value of a `/PATTERN = FMT MIN MAX ...` line into one [`Param`] per letter.
pub fn parse_params(value: &str) -> Result<Vec<Param>, SpecError> {
    let mut w = words(value);
    let (types_at, types) = w.next().ok_or(SpecError::Empty)?;
    if let Some((i, c)) = types.char_indices().find(|&(_, c)| {
        !matches!(
            c,
            'i' | 'f' | 'h' | 'd' | 's' | 'T' | 'F' | 'N' | 'I' | 'm' | 't'
        )
    }) {
        return Err(SpecError::UnknownType {
            at: types_at + i,
            letter: c,
        });
    }
    let mut params = Vec::with_capacity(types.len());
    for (index, letter) in types.bytes().enumerate() {
        let lc = char::from(letter);
        let mut take = |what: &'static str| {
            w.next().ok_or(SpecError::Missing {
                at: value.len(),
                index,
                letter: lc,
                what,
            })
        };
        let param = match letter {
            b'i' | b'h' => {
                let expected = if letter == b'i' {
                    "an integer in -2147483648..2147483647 (decimal, 0x hex or 0 octal)"
                } else {
                    "an integer in -9223372036854775808..9223372036854775807 (decimal, 0x hex or 0 octal)"
                };
                let (lo, hi) = if letter == b'i' {
                    (i128::from(i32::MIN), i128::from(i32::MAX))
                } else {
                    (i128::from(i64::MIN), i128::from(i64::MAX))
                };
                let mut int = |what| {
                    let (at, word) = take(what)?;
                    let v = c_integer(word)
                        .filter(|v| (lo..=hi).contains(v))
                        .ok_or_else(|| SpecError::BadNumber {
                            at,
                            word: word.to_string(),
                            expected,
                        })?;
                    Ok::<_, SpecError>((at, v))
                };
                let (_, min) = int("minimum")?;
                let (at, max) = int("maximum")?;
                if min == max {
                    return Err(SpecError::EmptyRange {
                        at,
                        index,
                        letter: lc,
                    });
                }
                // In range by the filter above.
                if letter == b'i' {
                    Param::Int32 {
                        min: min as i32,
                        max: max as i32,
                    }
                } else {
                    Param::Int64 {
                        min: min as i64,
                        max: max as i64,
                    }
                }
            }
            b'f' | b'd' | b's' => {
                let mut float = |what| {
                    let (at, word) = take(what)?;
                    let v = finite(word)
                        .filter(|v| letter != b'f' || (*v as f32).is_finite())
                        .ok_or_else(|| SpecError::BadNumber {
                            at,
                            word: word.to_string(),
                            expected: "a finite number (e.g. 0.5, -1, 2e3)",
                        })?;
                    Ok::<_, SpecError>((at, v))
                };
                let (_, min) = float("minimum")?;
                let (at, max) = float("maximum")?;
                let same = if letter == b'f' {
                    min as f32 == max as f32
                } else {
                    min == max
                };
                if same {
                    return Err(SpecError::EmptyRange {
                        at,
                        index,
                        letter: lc,
                    });
                }
                match letter {
                    b'f' => Param::Float32 {
                        min: min as f32,
                        max: max as f32,
                    },
                    b'd' => Param::Double { min, max },
                    _ => Param::Str { min, max },
                }
            }
            b'm' => {
                let (at, word) = take("status byte")?;
                let status = c_integer(word)
                    .filter(|v| (0x80..=0xef).contains(v))
                    .ok_or_else(|| SpecError::BadNumber {
                        at,
                        word: word.to_string(),
                        expected: "a MIDI channel message status byte 0x80..0xEF (e.g. 0x90 note on, 0xB0 control change, 0xE0 pitch bend; low nibble = MIDI channel - 1)",
                    })? as u8;
                let (at, word) = take("data byte")?;
                let data1 = c_integer(word)
                    .filter(|v| (0..=127).contains(v))
                    .ok_or_else(|| SpecError::BadNumber {
                        at,
                        word: word.to_string(),
                        expected: "a MIDI data byte 0..127 (note or controller number)",
                    })? as u8;
                Param::Midi { status, data1 }
            }
            b'T' | b'F' => Param::Bool,
            b'N' => Param::Nil,
            b'I' => Param::Impulse,
            _ => Param::Time,
        };
        params.push(param);
    }
    if let Some((at, word)) = w.next() {
        return Err(SpecError::Extra {
            at,
            word: word.to_string(),
            types: types.to_string(),
            words: types.bytes().map(arity).sum(),
        });
    }
    Ok(params)
}

/// One `/PATTERN = FMT ...` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Preconfig {
    pattern: String,
    params: Vec<Param>,
}

impl Preconfig {
    /// Parses an instance option whose key starts with `/`.
    pub fn parse(key: &str, value: &str) -> Result<Preconfig, PreconfigError> {
        validate_pattern_path(key)?;
        Ok(Preconfig {
            pattern: key.to_string(),
            params: parse_params(value)?,
        })
    }

    /// The pattern (matched against local paths, i.e. without the instance root).
    #[inline]
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// One entry per argument.
    #[inline]
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Does this line apply to the local path `path`?
    #[inline]
    pub fn matches(&self, path: &str) -> bool {
        matches(&self.pattern, path)
    }
}

/// The preconfiguration lines of one instance, in configuration order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Preconfigs {
    lines: Vec<Preconfig>,
}

impl Preconfigs {
    /// Appends a line (later lines lose to earlier ones).
    pub fn push(&mut self, p: Preconfig) {
        self.lines.push(p);
    }

    /// The first line whose pattern matches the local path, as in MIDIMonster. Called once
    /// per channel at configuration time (a linear scan over the lines).
    pub fn find(&self, path: &str) -> Option<&Preconfig> {
        self.lines.iter().find(|p| p.matches(path))
    }

    /// The lines in order.
    pub fn iter(&self) -> impl Iterator<Item = &Preconfig> {
        self.lines.iter()
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
}

/// Byte range of the word at `at` in `value`, for pointing at a column.
pub fn word_range(value: &str, at: usize) -> Range<usize> {
    let at = at.min(value.len());
    let len = value[at..]
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(value.len() - at);
    at..at + len
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::PatternError;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_text_parses_or_points_inside_the_value(v in "[ifhdsTFNImtx 0-9.eE+\\-]{0,24}|\\PC{0,16}") {
            match parse_params(&v) {
                Ok(params) => prop_assert!(!params.is_empty()),
                Err(e) => {
                    prop_assert!(e.at() <= v.len());
                    prop_assert!(v.is_char_boundary(e.at()));
                    let _ = word_range(&v, e.at());
                }
            }
        }
    }

    #[test]
    fn midimonster_example_lines() {
        let p = Preconfig::parse("/1/xy1", "ff 0.0 2.0 0.0 2.0").expect("xy");
        assert_eq!(
            p.params(),
            &[
                Param::Float32 { min: 0.0, max: 2.0 },
                Param::Float32 { min: 0.0, max: 2.0 }
            ]
        );
        let p = Preconfig::parse("/*/fader*", "f 0.0 1.0").expect("faders");
        assert!(p.matches("/1/fader3"));
        assert!(!p.matches("/1/toggle3"));
        let p = Preconfig::parse("/*/multifader*/*", "f 0.0 1.0").expect("multi");
        assert!(p.matches("/4/multifader1/12"));
        assert!(Preconfig::parse("/*/xy", "ff 0.0 1.0 0.0 1.0").is_ok());
    }

    #[test]
    fn every_type_and_notation() {
        let p = parse_params("ihdsTFNImt 0x10 -010 -1 1024 -0.5 0.5 0 100 0xB0 7").expect("all");
        assert_eq!(
            p,
            vec![
                Param::Int32 { min: 16, max: -8 },
                Param::Int64 { min: -1, max: 1024 },
                Param::Double {
                    min: -0.5,
                    max: 0.5
                },
                Param::Str {
                    min: 0.0,
                    max: 100.0
                },
                Param::Bool,
                Param::Bool,
                Param::Nil,
                Param::Impulse,
                Param::Midi {
                    status: 0xb0,
                    data1: 7
                },
                Param::Time,
            ]
        );
        assert_eq!(
            parse_params("h -9223372036854775808 9223372036854775807"),
            Ok(vec![Param::Int64 {
                min: i64::MIN,
                max: i64::MAX
            }])
        );
        assert_eq!(
            parse_params(" \tf   1 0 "),
            Ok(vec![Param::Float32 { min: 1.0, max: 0.0 }])
        );
    }

    #[test]
    fn errors_point_at_the_word() {
        let e = |v: &str| parse_params(v).expect_err(v);
        assert_eq!(e(""), SpecError::Empty);
        assert_eq!(e("  "), SpecError::Empty);
        assert_eq!(e("fx 0 1"), SpecError::UnknownType { at: 1, letter: 'x' });
        assert_eq!(e("fb 0 1"), SpecError::UnknownType { at: 1, letter: 'b' });
        assert_eq!(
            e("ff 0 1 0"),
            SpecError::Missing {
                at: 8,
                index: 1,
                letter: 'f',
                what: "maximum"
            }
        );
        let err = e("i 0 2147483648");
        assert_eq!(err.at(), 4);
        assert!(matches!(err, SpecError::BadNumber { ref word, .. } if word == "2147483648"));
        assert!(matches!(e("i 0 1.5"), SpecError::BadNumber { at: 4, .. }));
        assert!(
            matches!(e("i 0 08"), SpecError::BadNumber { at: 4, .. }),
            "octal digits"
        );
        assert!(matches!(e("f 0 inf"), SpecError::BadNumber { at: 4, .. }));
        assert!(
            matches!(e("f 0 1e39"), SpecError::BadNumber { at: 4, .. }),
            "beyond float32"
        );
        assert!(matches!(e("d 0 x"), SpecError::BadNumber { at: 4, .. }));
        assert!(matches!(e("m 0x70 7"), SpecError::BadNumber { at: 2, .. }));
        assert!(matches!(
            e("m 0xB0 128"),
            SpecError::BadNumber { at: 7, .. }
        ));
        assert_eq!(
            e("f 1 1.0"),
            SpecError::EmptyRange {
                at: 4,
                index: 0,
                letter: 'f'
            }
        );
        assert_eq!(
            e("i 0x10 16"),
            SpecError::EmptyRange {
                at: 7,
                index: 0,
                letter: 'i'
            }
        );
        assert_eq!(
            e("fT 0 1 0 1"),
            SpecError::Extra {
                at: 7,
                word: "0".into(),
                types: "fT".into(),
                words: 2
            }
        );
        let msg = e("fx 0 1").to_string();
        assert!(msg.contains("allowed: i (int32)"), "{msg}");
        assert_eq!(word_range("f 0 abc", 4), 4..7);
        assert_eq!(word_range("f 0", 3), 3..3);
    }

    #[test]
    fn pattern_keys() {
        assert!(Preconfig::parse("/{a,b}/[!x]?", "f 0 1").is_ok());
        assert!(Preconfig::parse("/#/x", "f 0 1").is_ok());
        assert_eq!(
            Preconfig::parse("fader", "f 0 1"),
            Err(PreconfigError::Pattern(PathError::NoLeadingSlash))
        );
        assert_eq!(
            Preconfig::parse("/a[b", "f 0 1"),
            Err(PreconfigError::Pattern(PathError::BadPattern(
                PatternError::UnclosedBracket(2)
            )))
        );
    }

    #[test]
    fn first_configured_match_wins() {
        let mut all = Preconfigs::default();
        all.push(Preconfig::parse("/1/fader1", "i 0 127").expect("a"));
        all.push(Preconfig::parse("/1/fader*", "f 0 2").expect("b"));
        all.push(Preconfig::parse("/*/*", "d 0 1").expect("c"));
        assert_eq!(
            all.find("/1/fader1").map(|p| p.pattern()),
            Some("/1/fader1")
        );
        assert_eq!(
            all.find("/1/fader2").map(|p| p.pattern()),
            Some("/1/fader*")
        );
        assert_eq!(all.find("/2/fader2").map(|p| p.pattern()), Some("/*/*"));
        assert_eq!(all.find("/2"), None);
        assert_eq!(all.len(), 3);
    }
}
