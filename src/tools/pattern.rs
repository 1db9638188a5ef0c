//! Test patterns of `patchbay sacn send`: what the slots hold at frame N, with no clock or socket,
//! so the values a test expects can be computed from the frame number alone.

use std::fmt;
use std::str::FromStr;

use patchbay_sacn::MAX_SLOTS;

/// A test pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// Slot `i` (0-based) holds `(frame + i) mod 256`: every slot moves every frame, and
    /// neighbouring slots differ by one, so offsets and lost frames are easy to read.
    Ramp,
    /// One slot at 255 walking along the sent slots, all others 0.
    Chase,
    /// Fixed values for slots 1..=len; the stream then only carries keep-alives.
    Static(Vec<u8>),
}

/// Why a `--pattern` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("unknown pattern '{0}' (expected ramp, chase or static:V1,V2,...)")]
    Unknown(String),
    #[error("static pattern needs at least one value (static:V1,V2,...)")]
    Empty,
    #[error("static value '{0}' is not a number 0..=255")]
    BadValue(String),
    #[error("static pattern has {0} values; a universe has at most 512 slots")]
    TooMany(usize),
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ramp" => return Ok(Pattern::Ramp),
            "chase" => return Ok(Pattern::Chase),
            _ => {}
        }
        let Some(list) = s.strip_prefix("static:") else {
            return Err(PatternError::Unknown(s.to_string()));
        };
        if list.trim().is_empty() {
            return Err(PatternError::Empty);
        }
        let values = list
            .split(',')
            .map(|v| {
                v.trim()
                    .parse::<u8>()
                    .map_err(|_| PatternError::BadValue(v.to_string()))
            })
            .collect::<Result<Vec<u8>, _>>()?;
        if values.len() > MAX_SLOTS {
            return Err(PatternError::TooMany(values.len()));
        }
        Ok(Pattern::Static(values))
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Ramp => f.write_str("ramp"),
            Pattern::Chase => f.write_str("chase"),
            Pattern::Static(v) => {
                f.write_str("static:")?;
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{x}")?;
                }
                Ok(())
            }
        }
    }
}

impl Pattern {
    /// Number of slots the pattern sends when the user did not say (`--slots`).
    pub fn default_slots(&self) -> usize {
        match self {
            Pattern::Static(v) => v.len(),
            Pattern::Ramp | Pattern::Chase => MAX_SLOTS,
        }
    }

    /// Writes frame `frame` into `out` (the slots sent; 1..=512 of them).
    pub fn fill(&self, frame: u64, out: &mut [u8]) {
        match self {
            Pattern::Ramp => {
                for (i, v) in out.iter_mut().enumerate() {
                    *v = (frame.wrapping_add(i as u64) & 0xff) as u8;
                }
            }
            Pattern::Chase => {
                let n = out.len().max(1) as u64;
                let lit = (frame % n) as usize;
                for (i, v) in out.iter_mut().enumerate() {
                    *v = if i == lit { 255 } else { 0 };
                }
            }
            Pattern::Static(values) => {
                for (i, v) in out.iter_mut().enumerate() {
                    *v = values.get(i).copied().unwrap_or(0);
                }
            }
        }
    }

    /// Whether frames after the first can differ (a static pattern is set once).
    pub fn moves(&self) -> bool {
        !matches!(self, Pattern::Static(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for text in ["ramp", "chase", "static:1,2,255"] {
            let p: Pattern = text.parse().unwrap();
            assert_eq!(p.to_string(), text);
        }
        assert_eq!(
            "static:1, 2".parse::<Pattern>(),
            Ok(Pattern::Static(vec![1, 2]))
        );
    }

    #[test]
    fn refuses_bad_patterns() {
        assert_eq!(
            "wave".parse::<Pattern>(),
            Err(PatternError::Unknown("wave".into()))
        );
        assert_eq!("static:".parse::<Pattern>(), Err(PatternError::Empty));
        assert_eq!(
            "static:1,256".parse::<Pattern>(),
            Err(PatternError::BadValue("256".into()))
        );
        let long = format!("static:{}", vec!["1"; 513].join(","));
        assert_eq!(long.parse::<Pattern>(), Err(PatternError::TooMany(513)));
    }

    #[test]
    fn ramp_moves_every_slot_and_wraps() {
        let mut out = [0u8; 4];
        Pattern::Ramp.fill(254, &mut out);
        assert_eq!(out, [254, 255, 0, 1]);
        Pattern::Ramp.fill(255, &mut out);
        assert_eq!(out, [255, 0, 1, 2]);
    }

    #[test]
    fn chase_walks_one_lit_slot() {
        let mut out = [9u8; 3];
        Pattern::Chase.fill(4, &mut out);
        assert_eq!(out, [0, 255, 0]);
        Pattern::Chase.fill(5, &mut out);
        assert_eq!(out, [0, 0, 255]);
    }

    #[test]
    fn static_pads_with_zero() {
        let mut out = [9u8; 4];
        Pattern::Static(vec![10, 20]).fill(99, &mut out);
        assert_eq!(out, [10, 20, 0, 0]);
        assert_eq!(Pattern::Static(vec![10, 20]).default_slots(), 2);
        assert!(!Pattern::Static(vec![1]).moves());
    }
}
