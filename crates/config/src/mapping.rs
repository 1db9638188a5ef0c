//! A parsed `[map]` line and the edges it creates (doc/config.md 4, 4.2).

use crate::names::Names;
use crate::source::{Span, Spanned};
use crate::transform::Transform;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arrow {
    /// `LEFT > RIGHT`: events of LEFT go to RIGHT.
    LeftToRight,
    /// `LEFT < RIGHT`: events of RIGHT go to LEFT.
    RightToLeft,
    /// `LEFT <> RIGHT` (or `><`): both, left-to-right edges first.
    Both,
}

/// One side of a mapping, `INSTANCE.CHANNEL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    pub instance: Spanned<String>,
    /// Raw text after the first `.`, globs included, as the user wrote it.
    pub channel: Spanned<String>,
    /// Glob-expanded channel names in odometer order; never empty.
    pub expansions: Names,
}

impl Side {
    /// Span of the whole side text, `INSTANCE.CHANNEL`.
    pub fn span(&self) -> Span {
        Span {
            file: self.instance.span.file,
            start: self.instance.span.start,
            end: self.channel.span.end,
        }
    }

    /// `INSTANCE.CHANNEL` as written, for messages such as
    /// "expansion 3 of 'out.{511..514}'".
    pub fn spec(&self) -> String {
        format!("{}.{}", self.instance.value, self.channel.value)
    }

    pub fn len(&self) -> usize {
        self.expansions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.expansions.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The whole trimmed line.
    pub span: Span,
    pub arrow: Arrow,
    pub arrow_span: Span,
    pub left: Side,
    pub right: Side,
    /// The transform chain after the right side (`| invert | slew 500ms`), applied to every
    /// edge of the line in the direction of its arrow; empty for a MIDIMonster mapping, and
    /// always empty for `<>` (doc/config.md section 4.4).
    pub transforms: Vec<Spanned<Transform>>,
}

/// One directed edge created by a mapping line. Indexes are 0-based positions
/// in the sides' `expansions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge<'a> {
    pub source: &'a Side,
    pub source_index: usize,
    pub target: &'a Side,
    pub target_index: usize,
}

impl<'a> Edge<'a> {
    pub fn source_channel(&self) -> &'a str {
        self.source
            .expansions
            .get(self.source_index)
            .unwrap_or_default()
    }

    pub fn target_channel(&self) -> &'a str {
        self.target
            .expansions
            .get(self.target_index)
            .unwrap_or_default()
    }
}

impl Mapping {
    /// (source, target) pairs in creation order.
    fn directions(&self) -> impl Iterator<Item = (&Side, &Side)> {
        let (first, second) = match self.arrow {
            Arrow::LeftToRight => ((&self.left, &self.right), None),
            Arrow::RightToLeft => ((&self.right, &self.left), None),
            Arrow::Both => ((&self.left, &self.right), Some((&self.right, &self.left))),
        };
        std::iter::once(first).chain(second)
    }

    pub fn source(&self) -> &Side {
        match self.arrow {
            Arrow::LeftToRight | Arrow::Both => &self.left,
            Arrow::RightToLeft => &self.right,
        }
    }

    pub fn target(&self) -> &Side {
        match self.arrow {
            Arrow::LeftToRight | Arrow::Both => &self.right,
            Arrow::RightToLeft => &self.left,
        }
    }

    /// The edges in MIDIMonster's creation order: for `<>` all left-to-right
    /// edges first; within a direction k = 0..max, pairing by position, or
    /// the single channel of a one-channel side with every channel of the
    /// other. Sizes that break the rule (only possible for hand-built
    /// mappings) yield the pairs that exist instead of panicking.
    pub fn edges(&self) -> impl Iterator<Item = Edge<'_>> {
        self.directions().flat_map(|(source, target)| {
            let (s, t) = (source.len(), target.len());
            let n = if s == 0 || t == 0 {
                0
            } else if s == 1 || t == 1 {
                s.max(t)
            } else {
                s.min(t)
            };
            (0..n).map(move |k| Edge {
                source,
                source_index: if s == 1 { 0 } else { k },
                target,
                target_index: if t == 1 { 0 } else { k },
            })
        })
    }

    pub fn edge_count(&self) -> usize {
        self.edges().count()
    }
}
