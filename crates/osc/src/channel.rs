//! Channel names (`/path`, `/path:N`), OSC path validation and the instance `root` prefix.
//!
//! Paths are what a configuration names: printable ASCII without the pattern characters,
//! split into non-empty segments by `/`. Unlike MIDIMonster, `#` is allowed (it is an
//! ordinary character in an OSC address, and devices use it; cbdevnet/midimonster issue 149).

use crate::address::{MAX_SEGMENT_LEN, PatternError, validate_pattern};

/// Most segments a configured path may have (keeps the matcher's recursion shallow).
pub const MAX_SEGMENTS: usize = 64;

/// Why a configured path, root or channel name was refused. Offsets are byte offsets into the
/// text that was checked, for pointing at the column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Empty, or the first character is not `/`.
    #[error("an OSC path starts with '/'")]
    NoLeadingSlash,
    /// `//` or a trailing `/`.
    #[error(
        "empty path segment at byte {at} ('//' or a trailing '/'); segments are separated by single '/'"
    )]
    EmptySegment {
        /// Offset of the second `/`, or of the end.
        at: usize,
    },
    /// A character an OSC path cannot contain.
    #[error(
        "{found:?} at byte {at} is not allowed in an OSC path (printable ASCII except space , * ? [ ] {{ }})"
    )]
    BadChar {
        /// Offset of the character.
        at: usize,
        /// The character.
        found: char,
    },
    /// A segment longer than [`MAX_SEGMENT_LEN`].
    #[error("path segment at byte {at} is longer than {MAX_SEGMENT_LEN} bytes")]
    SegmentTooLong {
        /// Offset of the segment.
        at: usize,
    },
    /// More than [`MAX_SEGMENTS`] segments.
    #[error("more than {MAX_SEGMENTS} path segments")]
    TooManySegments,
    /// A malformed pattern group (only where patterns are allowed).
    #[error("{0}")]
    BadPattern(#[from] PatternError),
    /// `:N` whose N is not a decimal number 0..=4294967295.
    #[error(
        "argument index at byte {at} is not a number: write /path:N with N = 0 for the first argument"
    )]
    BadIndex {
        /// Offset of the text after `:`.
        at: usize,
    },
}

/// True for characters that make an address a pattern (`*`, `?`, `[`, `{`) or belong to
/// pattern syntax (`]`, `}`), which a configured path must not contain.
#[inline]
fn is_pattern_char(c: u8) -> bool {
    matches!(c, b'*' | b'?' | b'[' | b']' | b'{' | b'}')
}

/// Checks a literal OSC path as a configuration may name it: `/`, then segments of printable
/// ASCII other than space, `,` and pattern characters, separated by single `/`.
pub fn validate_path(path: &str) -> Result<(), PathError> {
    check_path(path, false)
}

/// Checks a path pattern as `/PATTERN = ...` preconfiguration names it: like
/// [`validate_path`], but pattern syntax is allowed (`,` only inside `{...}`) and groups must
/// be closed within their segment.
pub fn validate_pattern_path(pattern: &str) -> Result<(), PathError> {
    check_path(pattern, true)?;
    validate_pattern(pattern)?;
    Ok(())
}

fn check_path(path: &str, patterns: bool) -> Result<(), PathError> {
    let b = path.as_bytes();
    if b.first() != Some(&b'/') {
        return Err(PathError::NoLeadingSlash);
    }
    let mut segments = 0;
    let mut seg_start = 1;
    let mut in_braces = false;
    for i in 1..=b.len() {
        let end = i == b.len();
        if end || b[i] == b'/' {
            if i == seg_start {
                return Err(PathError::EmptySegment { at: i });
            }
            if i - seg_start > MAX_SEGMENT_LEN {
                return Err(PathError::SegmentTooLong { at: seg_start });
            }
            segments += 1;
            if segments > MAX_SEGMENTS {
                return Err(PathError::TooManySegments);
            }
            seg_start = i + 1;
            continue;
        }
        let c = b[i];
        match c {
            b'{' => in_braces = true,
            b'}' => in_braces = false,
            _ => {}
        }
        let allowed = c.is_ascii_graphic()
            && if patterns {
                c != b',' || in_braces
            } else {
                c != b',' && !is_pattern_char(c)
            };
        if !allowed {
            let found = path[i..].chars().next().unwrap_or('\u{fffd}');
            return Err(PathError::BadChar { at: i, found });
        }
    }
    Ok(())
}

/// A channel name as written after `instance.` in a mapping: an OSC path and the argument it
/// stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelName<'a> {
    /// The local path (without the instance root).
    pub path: &'a str,
    /// Which value argument (0-based, array markers not counted); 0 when not given.
    pub index: u32,
}

impl<'a> ChannelName<'a> {
    /// Parses `/path` or `/path:N`. The index follows the last `:`, as in MIDIMonster; unlike
    /// MIDIMonster (`strtoul`), text that is not a number is an error rather than index 0.
    pub fn parse(spec: &'a str) -> Result<ChannelName<'a>, PathError> {
        let (path, index) = match spec.rfind(':') {
            Some(colon) => {
                let digits = &spec[colon + 1..];
                let index = (!digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()))
                    .then(|| digits.parse::<u32>().ok())
                    .flatten()
                    .ok_or(PathError::BadIndex { at: colon + 1 })?;
                (&spec[..colon], index)
            }
            None => (spec, 0),
        };
        validate_path(path)?;
        Ok(ChannelName { path, index })
    }
}

/// The instance `root`: prepended to every channel path on output, required and stripped on
/// input.
///
/// Unlike MIDIMonster, which compares the first `strlen(root)` characters, the root must end
/// at a segment boundary: root `/a` accepts `/a/x` but not `/ab/x`. A trailing `/` in the
/// option is dropped (MIDIMonster would send `/a//x`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Root {
    prefix: String,
}

impl Root {
    /// No root: paths are used as they are.
    pub const NONE: Root = Root {
        prefix: String::new(),
    };

    /// Parses the `root` option value.
    pub fn parse(value: &str) -> Result<Root, PathError> {
        let prefix = value.strip_suffix('/').unwrap_or(value);
        if prefix.is_empty() {
            return if value == "/" {
                Ok(Root::NONE)
            } else {
                Err(PathError::NoLeadingSlash)
            };
        }
        validate_path(prefix)?;
        Ok(Root {
            prefix: prefix.to_string(),
        })
    }

    /// The prefix without a trailing `/` (empty when there is no root).
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.prefix
    }

    /// The address of a local path on the wire: root followed by `local`.
    pub fn join(&self, local: &str) -> String {
        let mut s = String::with_capacity(self.prefix.len() + local.len());
        s.push_str(&self.prefix);
        s.push_str(local);
        s
    }

    /// The local part of an incoming address, or `None` when it is outside the root. Literal:
    /// a pattern that could match the root (e.g. `/*/x`) is not expanded here; the address
    /// matcher works on full paths and handles that.
    pub fn strip<'a>(&self, address: &'a str) -> Option<&'a str> {
        let local = address.strip_prefix(self.prefix.as_str())?;
        local.starts_with('/').then_some(local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(validate_path("/1/fader1"), Ok(()));
        assert_eq!(validate_path("/ch/#01/mix"), Ok(()));
        assert_eq!(validate_path("/a:b"), Ok(()));
        assert_eq!(validate_path(""), Err(PathError::NoLeadingSlash));
        assert_eq!(validate_path("a"), Err(PathError::NoLeadingSlash));
        assert_eq!(validate_path("/"), Err(PathError::EmptySegment { at: 1 }));
        assert_eq!(
            validate_path("/a//b"),
            Err(PathError::EmptySegment { at: 3 })
        );
        assert_eq!(validate_path("/a/"), Err(PathError::EmptySegment { at: 3 }));
        for (p, at, found) in [
            ("/a b", 2, ' '),
            ("/a,b", 2, ','),
            ("/fader*", 6, '*'),
            ("/x/[ab]", 3, '['),
            ("/é", 1, 'é'),
        ] {
            assert_eq!(
                validate_path(p),
                Err(PathError::BadChar { at, found }),
                "{p}"
            );
        }
        let long = format!("/{}", "x".repeat(MAX_SEGMENT_LEN));
        assert_eq!(validate_path(&long), Ok(()));
        let long = format!("/{}", "x".repeat(MAX_SEGMENT_LEN + 1));
        assert_eq!(
            validate_path(&long),
            Err(PathError::SegmentTooLong { at: 1 })
        );
        let deep = "/x".repeat(MAX_SEGMENTS);
        assert_eq!(validate_path(&deep), Ok(()));
        assert_eq!(
            validate_path(&format!("{deep}/x")),
            Err(PathError::TooManySegments)
        );
    }

    #[test]
    fn pattern_paths() {
        assert_eq!(validate_pattern_path("/*/fader*"), Ok(()));
        assert_eq!(validate_pattern_path("/{a,b}/[!x-z]?"), Ok(()));
        assert_eq!(validate_pattern_path("/#/x"), Ok(()));
        assert_eq!(
            validate_pattern_path("/a,b"),
            Err(PathError::BadChar { at: 2, found: ',' })
        );
        assert_eq!(
            validate_pattern_path("/a b"),
            Err(PathError::BadChar { at: 2, found: ' ' })
        );
        assert_eq!(
            validate_pattern_path("/[a/b]"),
            Err(PathError::BadPattern(PatternError::UnclosedBracket(1)))
        );
        assert_eq!(
            validate_pattern_path("/a//b"),
            Err(PathError::EmptySegment { at: 3 })
        );
    }

    #[test]
    fn channel_names() {
        let c = ChannelName::parse("/1/xy1").expect("plain");
        assert_eq!((c.path, c.index), ("/1/xy1", 0));
        let c = ChannelName::parse("/1/xy1:1").expect("indexed");
        assert_eq!((c.path, c.index), ("/1/xy1", 1));
        let c = ChannelName::parse("/a:b:2").expect("last colon");
        assert_eq!((c.path, c.index), ("/a:b", 2));
        assert_eq!(
            ChannelName::parse("/a:b"),
            Err(PathError::BadIndex { at: 3 })
        );
        assert_eq!(
            ChannelName::parse("/a:"),
            Err(PathError::BadIndex { at: 3 })
        );
        assert_eq!(
            ChannelName::parse("/a:-1"),
            Err(PathError::BadIndex { at: 3 })
        );
        assert_eq!(
            ChannelName::parse("/a:4294967296"),
            Err(PathError::BadIndex { at: 3 })
        );
        assert_eq!(
            ChannelName::parse("fader:1"),
            Err(PathError::NoLeadingSlash)
        );
    }

    #[test]
    fn roots() {
        let r = Root::parse("/4").expect("root");
        assert_eq!(r.join("/fader1"), "/4/fader1");
        assert_eq!(r.strip("/4/fader1"), Some("/fader1"));
        assert_eq!(r.strip("/40/fader1"), None);
        assert_eq!(r.strip("/4"), None);
        assert_eq!(r.strip("/5/fader1"), None);
        assert_eq!(Root::parse("/my/osc/").expect("slash").as_str(), "/my/osc");
        assert_eq!(Root::parse("/"), Ok(Root::NONE));
        assert_eq!(Root::NONE.join("/x"), "/x");
        assert_eq!(Root::NONE.strip("/x"), Some("/x"));
        assert_eq!(Root::parse(""), Err(PathError::NoLeadingSlash));
        assert_eq!(
            Root::parse("/a*"),
            Err(PathError::BadChar { at: 2, found: '*' })
        );
    }
}
