//! Channel globs (doc/config.md 4.2): `{A..B}` ranges and `{x,y}` lists, expanded
//! as a Cartesian product with the rightmost glob varying fastest.

use crate::names::Names;

/// What is wrong with a glob. Offsets in [`GlobError`] are relative to the
/// channel text that was parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobErrorKind {
    /// `{` without a following `}`.
    Unterminated,
    /// `{` inside a glob; globs cannot nest.
    Nested { glob: String },
    /// `{a,,b}`, `{,a}`.
    EmptyListItem { glob: String },
    /// Neither `..` nor `,` inside the braces, e.g. `{5}`.
    UnknownType { glob: String },
    /// A range bound that is not plain digits, e.g. `{1..5x}`, `{a..c}`.
    BadNumber { glob: String, bound: String },
    /// `{1..}`, `{..3}`.
    MissingNumber { glob: String },
    /// A range bound above `u64::MAX`.
    NumberTooLarge { glob: String, bound: String },
    /// The product of all glob sizes exceeds the per-side limit.
    TooManyChannels { count: u128, limit: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobError {
    pub start: usize,
    pub end: usize,
    pub kind: GlobErrorKind,
}

impl GlobError {
    /// The reason text; `spec` is the whole side (`INSTANCE.CHANNEL`) so the
    /// user sees which channel failed.
    pub fn message(&self, spec: &str) -> String {
        match &self.kind {
            GlobErrorKind::Unterminated => {
                format!("unterminated '{{' in channel '{spec}' (a glob ends at the next '}}')")
            }
            GlobErrorKind::Nested { glob } => format!(
                "nested '{{' in glob '{glob}' of channel '{spec}' (globs cannot be nested, and channel names cannot contain '{{')"
            ),
            GlobErrorKind::EmptyListItem { glob } => format!(
                "empty item in list glob '{glob}' of channel '{spec}' (list items must not be empty, e.g. {{a,b,c}})"
            ),
            GlobErrorKind::UnknownType { glob } => format!(
                "failed to detect glob type of '{glob}' in channel '{spec}' (expected a range {{A..B}} or a list {{x,y,...}})"
            ),
            GlobErrorKind::BadNumber { glob, bound } => {
                let hint = if !bound.bytes().any(|b| b.is_ascii_digit()) {
                    "; ranges take numbers only, use a list such as {a,b,c} for names"
                } else {
                    ""
                };
                format!(
                    "invalid range '{glob}' in channel '{spec}': '{bound}' is not a non-negative decimal number (expected {{A..B}} with digits only, e.g. {{1..16}}{hint})"
                )
            }
            GlobErrorKind::MissingNumber { glob } => format!(
                "invalid range '{glob}' in channel '{spec}': a number is missing (expected {{A..B}}, e.g. {{1..16}})"
            ),
            GlobErrorKind::NumberTooLarge { glob, bound } => format!(
                "invalid range '{glob}' in channel '{spec}': '{bound}' is too large (at most {})",
                u64::MAX
            ),
            GlobErrorKind::TooManyChannels { count, limit } => {
                let count = if *count == u128::MAX {
                    "more than 2^128".to_string()
                } else {
                    count.to_string()
                };
                format!(
                    "channel '{spec}' expands to {count} channels, more than the limit of {limit} per side"
                )
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part<'a> {
    Lit(&'a str),
    Range { from: u64, to: u64 },
    List(Vec<&'a str>),
}

impl Part<'_> {
    fn size(&self) -> u128 {
        match self {
            Part::Lit(_) => 1,
            Part::Range { from, to } => u128::from(from.abs_diff(*to)) + 1,
            Part::List(items) => items.len() as u128,
        }
    }
}

/// A parsed channel name: literal text and globs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern<'a> {
    text: &'a str,
    /// Empty when `text` has no glob (the common case, kept allocation-free).
    parts: Vec<Part<'a>>,
}

impl<'a> Pattern<'a> {
    /// Parses all globs in `text`, reporting every malformed one.
    pub fn parse(text: &'a str) -> Result<Pattern<'a>, Vec<GlobError>> {
        let mut parts = Vec::new();
        if !text.contains('{') {
            return Ok(Pattern { text, parts });
        }
        let mut errors = Vec::new();
        let mut pos = 0;
        while let Some(off) = text[pos..].find('{') {
            let open = pos + off;
            if open > pos {
                parts.push(Part::Lit(&text[pos..open]));
            }
            let Some(c) = text[open + 1..].find('}') else {
                errors.push(GlobError {
                    start: open,
                    end: text.len(),
                    kind: GlobErrorKind::Unterminated,
                });
                pos = text.len();
                break;
            };
            let close = open + 1 + c;
            let glob = &text[open..=close];
            let inner = &text[open + 1..close];
            match parse_glob(inner, glob) {
                Ok(p) => parts.push(p),
                Err(kind) => errors.push(GlobError {
                    start: open,
                    end: close + 1,
                    kind,
                }),
            }
            pos = close + 1;
        }
        if pos < text.len() {
            parts.push(Part::Lit(&text[pos..]));
        }
        if errors.is_empty() {
            Ok(Pattern { text, parts })
        } else {
            Err(errors)
        }
    }

    /// Number of channels this name stands for (saturating).
    pub fn count(&self) -> u128 {
        self.parts
            .iter()
            .try_fold(1u128, |acc, p| acc.checked_mul(p.size()))
            .unwrap_or(u128::MAX)
    }

    pub fn has_globs(&self) -> bool {
        self.parts.iter().any(|p| !matches!(p, Part::Lit(_)))
    }

    /// Appends every expansion in odometer order (rightmost glob fastest).
    /// The caller must have checked [`Pattern::count`] against its limit.
    pub fn expand_into(&self, out: &mut Names) {
        match self.parts.as_slice() {
            [] => return out.push(self.text),
            [Part::Lit(l)] => return out.push(l),
            _ => {}
        }
        if self.parts.iter().any(|p| p.size() == 0) {
            return;
        }
        let globs: Vec<usize> = self
            .parts
            .iter()
            .enumerate()
            .filter(|(_, p)| !matches!(p, Part::Lit(_)))
            .map(|(i, _)| i)
            .collect();
        let mut counters = vec![0u64; self.parts.len()];
        loop {
            let s = out.text_mut();
            for (part, &c) in self.parts.iter().zip(&counters) {
                match part {
                    Part::Lit(l) => s.push_str(l),
                    Part::Range { from, to } => {
                        let v = if from <= to { from + c } else { from - c };
                        push_decimal(s, v);
                    }
                    Part::List(items) => {
                        if let Some(item) = usize::try_from(c).ok().and_then(|c| items.get(c)) {
                            s.push_str(item);
                        }
                    }
                }
            }
            out.finish();
            // Advance the odometer from the rightmost glob.
            let mut carried = true;
            for &g in globs.iter().rev() {
                let size = self.parts[g].size();
                counters[g] += 1;
                if u128::from(counters[g]) < size {
                    carried = false;
                    break;
                }
                counters[g] = 0;
            }
            if carried {
                return;
            }
        }
    }
}

fn parse_glob<'a>(inner: &'a str, glob: &str) -> Result<Part<'a>, GlobErrorKind> {
    if inner.contains('{') {
        return Err(GlobErrorKind::Nested {
            glob: glob.to_string(),
        });
    }
    let dots = inner.find("..");
    let comma = inner.find(',');
    match (dots, comma) {
        (Some(d), c) if c.is_none_or(|c| d < c) => {
            let from = parse_bound(&inner[..d], glob)?;
            let to = parse_bound(&inner[d + 2..], glob)?;
            Ok(Part::Range { from, to })
        }
        (_, Some(_)) => {
            let items: Vec<&str> = inner.split(',').collect();
            if items.iter().any(|i| i.is_empty()) {
                return Err(GlobErrorKind::EmptyListItem {
                    glob: glob.to_string(),
                });
            }
            Ok(Part::List(items))
        }
        _ => Err(GlobErrorKind::UnknownType {
            glob: glob.to_string(),
        }),
    }
}

fn parse_bound(s: &str, glob: &str) -> Result<u64, GlobErrorKind> {
    if s.is_empty() {
        return Err(GlobErrorKind::MissingNumber {
            glob: glob.to_string(),
        });
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(GlobErrorKind::BadNumber {
            glob: glob.to_string(),
            bound: s.to_string(),
        });
    }
    s.parse().map_err(|_| GlobErrorKind::NumberTooLarge {
        glob: glob.to_string(),
        bound: s.to_string(),
    })
}

/// Appends `v` in decimal. `write!` went through the formatting machinery for each of a
/// million names (6 % of a 1,000-universe start-up).
fn push_decimal(s: &mut String, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        s.push(char::from(d));
    }
}

/// Expands `text` into its channel names, refusing more than `limit`.
pub fn expand_channel(text: &str, limit: usize) -> Result<Vec<String>, Vec<GlobError>> {
    let p = Pattern::parse(text)?;
    let count = p.count();
    if count > limit as u128 {
        return Err(vec![GlobError {
            start: 0,
            end: text.len(),
            kind: GlobErrorKind::TooManyChannels { count, limit },
        }]);
    }
    let mut out = Names::with_capacity(count as usize, 0);
    p.expand_into(&mut out);
    Ok(out.iter().map(String::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decimal_like_display(v in any::<u64>()) {
            let mut s = String::from("x");
            push_decimal(&mut s, v);
            prop_assert_eq!(s, format!("x{v}"));
        }
    }

    fn ex(s: &str) -> Vec<String> {
        expand_channel(s, 1 << 20).expect("valid glob")
    }

    fn err(s: &str) -> GlobError {
        let mut e = expand_channel(s, 1 << 20).expect_err("invalid glob");
        assert_eq!(e.len(), 1, "{e:?}");
        e.remove(0)
    }

    #[test]
    fn ranges_lists_and_products() {
        assert_eq!(ex("7"), ["7"]);
        assert_eq!(ex("{1..4}"), ["1", "2", "3", "4"]);
        assert_eq!(ex("{4..1}"), ["4", "3", "2", "1"]);
        assert_eq!(ex("{3..3}"), ["3"]);
        assert_eq!(ex("{01..03}"), ["1", "2", "3"]);
        assert_eq!(ex("x{a,b.c, d}y"), ["xay", "xb.cy", "x dy"]);
        assert_eq!(
            ex("level{1..2}.{r,g}"),
            ["level1.r", "level1.g", "level2.r", "level2.g"]
        );
        assert_eq!(ex("{1,3}+{2,4}"), ["1+2", "1+4", "3+2", "3+4"]);
        assert_eq!(ex("a}b"), ["a}b"]);
    }

    #[test]
    fn errors_with_offsets() {
        let e = err("{1..4");
        assert_eq!(
            (e.start, e.end, e.kind),
            (0, 5, GlobErrorKind::Unterminated)
        );
        let e = err("ab{5}c");
        assert_eq!((e.start, e.end), (2, 5));
        assert_eq!(
            e.message("x.ab{5}c"),
            "failed to detect glob type of '{5}' in channel 'x.ab{5}c' (expected a range {A..B} or a list {x,y,...})"
        );
        assert!(matches!(
            err("{a,,b}").kind,
            GlobErrorKind::EmptyListItem { .. }
        ));
        assert!(matches!(
            err("{a,}").kind,
            GlobErrorKind::EmptyListItem { .. }
        ));
        assert!(
            matches!(err("{1..5x}").kind, GlobErrorKind::BadNumber { ref bound, .. } if bound == "5x")
        );
        assert!(
            matches!(err("{a..c}").kind, GlobErrorKind::BadNumber { ref bound, .. } if bound == "a")
        );
        assert!(matches!(
            err("{-1..3}").kind,
            GlobErrorKind::BadNumber { .. }
        ));
        assert!(matches!(
            err("{ 1..3}").kind,
            GlobErrorKind::BadNumber { .. }
        ));
        assert!(matches!(
            err("{1..}").kind,
            GlobErrorKind::MissingNumber { .. }
        ));
        assert!(matches!(
            err("{1..2..3}").kind,
            GlobErrorKind::BadNumber { .. }
        ));
        assert!(
            matches!(err("{1..2,3}").kind, GlobErrorKind::BadNumber { ref bound, .. } if bound == "2,3")
        );
        assert!(matches!(
            err("{99999999999999999999..1}").kind,
            GlobErrorKind::NumberTooLarge { .. }
        ));
        let e = err("{a,{b,c}}");
        assert_eq!((e.start, e.end), (0, 8));
        assert!(matches!(e.kind, GlobErrorKind::Nested { .. }));
        let e = err("{0..4000000000}");
        assert_eq!(
            e.kind,
            GlobErrorKind::TooManyChannels {
                count: 4_000_000_001,
                limit: 1 << 20
            }
        );
    }

    #[test]
    fn every_bad_glob_is_reported() {
        let e = expand_channel("{5}.{a,,b}.{1..x}", 10).expect_err("invalid");
        assert_eq!(e.len(), 3);
        assert_eq!(e[1].start, 4);
    }

    #[test]
    fn huge_products_saturate() {
        let s = "{0..18446744073709551615}".repeat(3);
        let p = Pattern::parse(&s).expect("valid");
        assert_eq!(p.count(), u128::MAX);
        assert!(expand_channel(&s, 100).is_err());
    }

    /// Reference expansion: the Cartesian product with the rightmost glob
    /// fastest, computed recursively from value lists.
    fn reference(globs: &[Vec<String>], lits: &[String]) -> Vec<String> {
        let mut acc = vec![lits[0].clone()];
        for (i, g) in globs.iter().enumerate() {
            let mut next = Vec::new();
            for a in &acc {
                for v in g {
                    next.push(format!("{a}{v}{}", lits[i + 1]));
                }
            }
            acc = next;
        }
        acc
    }

    #[derive(Debug, Clone)]
    enum G {
        Range(u64, u64),
        List(Vec<String>),
    }

    fn glob_strategy() -> impl Strategy<Value = G> {
        prop_oneof![
            (0u64..30, 0u64..30).prop_map(|(a, b)| G::Range(a, b)),
            prop::collection::vec("[a-z0-9+/]{1,3}", 2..4).prop_map(G::List),
        ]
    }

    proptest! {
        #[test]
        fn expansion_is_odometer_product(
            globs in prop::collection::vec(glob_strategy(), 0..4),
            lits in prop::collection::vec("[a-z.+/]{0,3}", 5),
        ) {
            let mut text = lits[0].clone();
            let mut values = Vec::new();
            for (i, g) in globs.iter().enumerate() {
                match g {
                    G::Range(a, b) => {
                        text.push_str(&format!("{{{a}..{b}}}"));
                        let v: Vec<String> = if a <= b {
                            (*a..=*b).map(|n| n.to_string()).collect()
                        } else {
                            (*b..=*a).rev().map(|n| n.to_string()).collect()
                        };
                        values.push(v);
                    }
                    G::List(items) => {
                        text.push_str(&format!("{{{}}}", items.join(",")));
                        values.push(items.clone());
                    }
                }
                text.push_str(&lits[i + 1]);
            }
            let got = expand_channel(&text, 1 << 20).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            let product: usize = values.iter().map(Vec::len).product();
            prop_assert_eq!(got.len(), product);
            prop_assert_eq!(got, reference(&values, &lits[..=globs.len()]));
        }

        #[test]
        fn arbitrary_text_never_panics(s in "[{}.,a0-9x]{0,40}") {
            let _ = expand_channel(&s, 1000);
        }
    }
}
