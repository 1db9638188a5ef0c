//! Transform chains after a mapping (doc/config.md section 4.4), a patchbay extension:
//! `desk.{1..8} > dim.{1..8} | scale 0.2 0.8 | slew 500ms`.
//!
//! # Why ` |` cannot be confused with a MIDIMonster mapping
//! MIDIMonster cuts a mapping line at its first `<` or `>` and hands everything after the arrow,
//! trimmed, to the target's backend as one channel specification (core/config.c,
//! `config_line` and `config_map`). So text after the right-hand channel is part of that
//! channel's name: the sACN and Art-Net backends read the number with `strtoul` and ignore the
//! rest (`out.1 | invert` is slot 1 there), while loopback, Lua and MQTT take the whole text as
//! the name. A chain therefore starts at the first `|` after the arrow that follows white space:
//! no channel name patchbay's backends accept contains that, none of MIDIMonster's example
//! configurations does (the tests check every one), and a name with a `|` and no space before
//! it stays a name. Chains are refused on `<>` lines, the only place where "the direction of the
//! arrow" would be ambiguous.

use std::time::Duration;

/// One transform as written, levels in parts per billion of full scale (exact for decimals
/// with up to nine digits after the point), times in whole milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transform {
    /// `invert`
    Invert,
    /// `scale MIN MAX`
    Scale { min: u32, max: u32 },
    /// `toggle`
    Toggle,
    /// `deadband D` (D > 0)
    Deadband(u32),
    /// `slew TIME`: full scale per TIME.
    Slew(Duration),
    /// `fade TIME`: every change over TIME.
    Fade(Duration),
}

impl Transform {
    /// Whether it produces values over time (and so must end the chain).
    pub fn is_motion(&self) -> bool {
        matches!(self, Transform::Slew(_) | Transform::Fade(_))
    }
}

/// Parts per billion of full scale.
const FULL: u32 = 1_000_000_000;

/// Longest `slew`/`fade` time, in milliseconds (one hour).
const MAX_MS: u64 = 3_600_000;

/// What the unknown-transform error lists.
const KNOWN: &str = "invert, scale MIN MAX, toggle, deadband D, slew TIME, fade TIME";

const LEVEL: &str = "expected a number in 0..1 or a percentage in 0%..100% (e.g. 0.25 or 25%)";

const TIME: &str = "expected a number and a unit, ms or s, from 1ms to 3600s (e.g. 500ms or 1.5s)";

/// A problem in a chain, at bytes `start..end` of the chain text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ChainError {
    pub start: usize,
    pub end: usize,
    pub message: String,
}

fn error(start: usize, end: usize, message: String) -> ChainError {
    ChainError {
        start,
        end,
        message,
    }
}

/// Byte offset of the `|` that starts a chain in `right` (the text after the arrow), if any:
/// the first `|` that follows white space.
pub(crate) fn chain_start(right: &str) -> Option<usize> {
    right
        .char_indices()
        .zip(right.chars().skip(1))
        .find(|&((_, c), next)| crate::parse::is_ws(c) && next == '|')
        .map(|((i, c), _)| i + c.len_utf8())
}

/// Parses `chain` (starting at its first `|`) into transforms with their byte ranges, or every
/// problem in it.
#[allow(clippy::type_complexity)]
pub(crate) fn parse_chain(chain: &str) -> Result<Vec<(Transform, usize, usize)>, Vec<ChainError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let mut at = 0;
    // Every segment follows a '|'.
    for segment in chain.split('|').skip(1) {
        let seg_start = at + 1;
        at = seg_start + segment.len();
        let words: Vec<(usize, &str)> = words(segment).map(|(i, w)| (seg_start + i, w)).collect();
        let Some(&(name_at, name)) = words.first() else {
            errors.push(error(
                seg_start - 1,
                at,
                format!("empty transform after '|' (transforms: {KNOWN})"),
            ));
            continue;
        };
        match transform(name_at, name, &words[1..]) {
            Ok(t) => {
                let end = words.last().map_or(name_at, |&(i, w)| i + w.len());
                out.push((t, name_at, end));
            }
            Err(e) => errors.push(e),
        }
    }
    // A motion must be last: the values it makes over time are the edge's output.
    if let Some(pos) = out.iter().position(|(t, _, _)| t.is_motion())
        && pos + 1 < out.len()
    {
        let (t, s, e) = out[pos];
        let name = if matches!(t, Transform::Slew(_)) {
            "slew"
        } else {
            "fade"
        };
        errors.push(error(
            s,
            e,
            format!(
                "'{name}' must be the last transform of a chain (it produces values over time; put the other transforms before it)"
            ),
        ));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The white-space separated words of `s` with their byte offsets.
fn words(s: &str) -> impl Iterator<Item = (usize, &str)> {
    s.split(crate::parse::is_ws)
        .scan(0usize, |pos, w| {
            let start = *pos;
            *pos += w.len() + 1;
            Some((start, w))
        })
        .filter(|(_, w)| !w.is_empty())
}

/// One transform from its name (at byte `name_at`) and its arguments.
fn transform(name_at: usize, name: &str, args: &[(usize, &str)]) -> Result<Transform, ChainError> {
    let name_span = (name_at, name_at + name.len());
    // The wrong number of arguments: at the surplus ones, or at the name when some are missing.
    let arity = |n: usize, what: &str| -> Result<(), ChainError> {
        if args.len() == n {
            return Ok(());
        }
        let (s, e) = match (args.get(n), args.last()) {
            (Some(&(s, _)), Some(&(ls, lw))) => (s, ls + lw.len()),
            _ => name_span,
        };
        Err(error(s, e, format!("'{name}' takes {what}")))
    };
    match name {
        "invert" => arity(0, "no argument").map(|_| Transform::Invert),
        "toggle" => arity(0, "no argument").map(|_| Transform::Toggle),
        "scale" => {
            arity(
                2,
                "two levels, MIN and MAX (e.g. scale 0.2 0.8 or scale 20% 80%)",
            )?;
            Ok(Transform::Scale {
                min: level(name, args[0])?,
                max: level(name, args[1])?,
            })
        }
        "deadband" => {
            arity(
                1,
                "one level, the smallest change passed on (e.g. deadband 0.02 or deadband 2%)",
            )?;
            let d = level(name, args[0])?;
            if d == 0 {
                let (s, w) = args[0];
                return Err(error(
                    s,
                    s + w.len(),
                    "a dead band of 0 passes every value: expected a level above 0 (e.g. 0.02 or 2%)"
                        .into(),
                ));
            }
            Ok(Transform::Deadband(d))
        }
        "slew" => {
            arity(
                1,
                "one time, for a change over the full range (e.g. slew 500ms or slew 2s)",
            )?;
            Ok(Transform::Slew(time(name, args[0])?))
        }
        "fade" => {
            arity(1, "one time, for every change (e.g. fade 500ms or fade 2s)")?;
            Ok(Transform::Fade(time(name, args[0])?))
        }
        _ => Err(error(
            name_span.0,
            name_span.1,
            format!("unknown transform '{name}' (transforms: {KNOWN})"),
        )),
    }
}

/// A decimal `D`, `D.DDD` or `.DDD` (no sign, no exponent) as (integer part, fraction digits).
fn decimal(s: &str) -> Option<(u64, &str)> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    // More than 19 digits cannot be in range anyway: saturate instead of failing to parse.
    let int = if int.is_empty() {
        0
    } else {
        int.parse::<u64>().unwrap_or(u64::MAX)
    };
    Some((int, frac))
}

/// `digits` (fraction digits) scaled to `places` places, or `None` if it has more significant
/// digits than that.
fn fraction(digits: &str, places: usize) -> Option<u64> {
    let trimmed = digits.trim_end_matches('0');
    if trimmed.len() > places {
        return None;
    }
    let mut v = 0u64;
    for b in trimmed.bytes().chain(std::iter::repeat(b'0')).take(places) {
        v = v * 10 + u64::from(b - b'0');
    }
    Some(v)
}

/// A level: `0.25` or `25%`, in 0..1, in parts per billion.
fn level(of: &str, (at, word): (usize, &str)) -> Result<u32, ChainError> {
    let bad = |why: String| error(at, at + word.len(), why);
    let (number, percent) = match word.strip_suffix('%') {
        Some(n) => (n, true),
        None => (word, false),
    };
    let Some((int, frac)) = decimal(number) else {
        return Err(bad(format!("invalid level '{word}' in '{of}': {LEVEL}")));
    };
    // A percentage has two places fewer after the point.
    let (places, unit) = if percent {
        (7, 10_000_000u64)
    } else {
        (9, 1_000_000_000u64)
    };
    let Some(f) = fraction(frac, places) else {
        return Err(bad(format!(
            "level '{word}' in '{of}' has more than {places} digits after the point (levels are held to a billionth of full scale)"
        )));
    };
    let ppb = int.saturating_mul(unit).saturating_add(f);
    match u32::try_from(ppb) {
        Ok(v) if v <= FULL => Ok(v),
        _ => Err(bad(format!(
            "level '{word}' in '{of}' is above full scale: {LEVEL}"
        ))),
    }
}

/// A time: `500ms`, `1.5s`, in 1 ms ..= 1 h, whole milliseconds.
fn time(of: &str, (at, word): (usize, &str)) -> Result<Duration, ChainError> {
    let bad = |why: String| error(at, at + word.len(), why);
    let (number, places) = if let Some(n) = word.strip_suffix("ms") {
        (n, 0)
    } else if let Some(n) = word.strip_suffix('s') {
        (n, 3)
    } else {
        return Err(bad(format!("invalid time '{word}' in '{of}': {TIME}")));
    };
    let Some((int, frac)) = decimal(number) else {
        return Err(bad(format!("invalid time '{word}' in '{of}': {TIME}")));
    };
    let Some(f) = fraction(frac, places) else {
        return Err(bad(format!(
            "time '{word}' in '{of}' is not a whole number of milliseconds: {TIME}"
        )));
    };
    let ms = int
        .saturating_mul(10u64.pow(places as u32))
        .saturating_add(f);
    if !(1..=MAX_MS).contains(&ms) {
        return Err(bad(format!(
            "time '{word}' in '{of}' is out of range: {TIME}"
        )));
    }
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lvl(w: &str) -> Result<u32, String> {
        level("scale", (0, w)).map_err(|e| e.message)
    }

    #[test]
    fn levels_and_times() {
        assert_eq!(lvl("0"), Ok(0));
        assert_eq!(lvl("1"), Ok(FULL));
        assert_eq!(lvl("1.000"), Ok(FULL));
        assert_eq!(lvl(".5"), Ok(500_000_000));
        assert_eq!(lvl("1."), Ok(FULL));
        assert_eq!(lvl("100%"), Ok(FULL));
        assert_eq!(lvl("0.0000001%"), Ok(1));
        assert!(lvl("0.00000001%").is_err());
        assert!(lvl("1.0000001").is_err());
        assert!(lvl("101%").is_err());
        assert!(lvl("").is_err());
        assert!(lvl(".").is_err());
        assert!(lvl("%").is_err());
        assert!(lvl("1e-2").is_err());
        assert!(lvl("+0.5").is_err());
        assert!(lvl("99999999999999999999999").is_err());
        let t = |w: &str| time("slew", (0, w)).map_err(|e| e.message);
        assert_eq!(t("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(t("0.001s"), Ok(Duration::from_millis(1)));
        assert_eq!(t("3600s"), Ok(Duration::from_secs(3600)));
        assert_eq!(t("2.50s"), Ok(Duration::from_millis(2500)));
        assert!(t("0.0001s").is_err());
        assert!(t("3600001ms").is_err());
        assert!(t("5 ms").is_err());
        assert!(t("ms").is_err());
    }

    #[test]
    fn chain_start_needs_white_space_before_the_bar() {
        assert_eq!(chain_start(" b.1 | invert"), Some(5));
        assert_eq!(chain_start(" b.1\t|invert"), Some(5));
        assert_eq!(chain_start(" b.1|invert"), None);
        assert_eq!(chain_start(" b.é | x"), Some(6));
        assert_eq!(chain_start(""), None);
    }

    proptest! {
        /// Every level written as a decimal or a percentage reads back exactly.
        #[test]
        fn every_level_reads_back(ppb in 0u32..=FULL) {
            let (whole, frac) = (ppb / FULL, ppb % FULL);
            let text = format!("{whole}.{frac:09}");
            prop_assert_eq!(lvl(&text), Ok(ppb));
            let pct = u64::from(ppb) * 100;
            let percent = format!("{}.{:09}%", pct / u64::from(FULL), pct % u64::from(FULL));
            // Digits beyond the seventh place of a percentage are refused, not rounded.
            let ok = (pct % u64::from(FULL)).is_multiple_of(100);
            prop_assert_eq!(lvl(&percent).is_ok(), ok);
            if ok {
                prop_assert_eq!(lvl(&percent), Ok(ppb));
            }
        }

        /// Any text after a `|` parses or fails without panicking, and errors point inside it.
        #[test]
        fn chains_never_panic(text in "\\|[ a-z0-9.%|éms\t]{0,40}") {
            if let Err(errors) = parse_chain(&text) {
                for e in errors {
                    prop_assert!(e.start <= e.end && e.end <= text.len());
                    prop_assert!(text.is_char_boundary(e.start) && text.is_char_boundary(e.end));
                }
            }
        }
    }
}
