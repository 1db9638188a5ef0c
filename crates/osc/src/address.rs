//! OSC 1.0 address patterns, and the configured paths compiled for matching them.
//!
//! Syntax, within one `/`-separated segment: `?` one character, `*` any run of characters
//! (never a `/`), `[abc]` `[a-z]` one character of a set (`!` first negates; `-` first or
//! last is literal; a range may be written either way round, as MIDIMonster allows),
//! `{foo,bar}` one of the listed strings (literal; empty alternatives allowed); everything
//! else, `#` included, matches itself. A pattern matches a path when both have the same
//! number of segments and each segment matches. OSC 1.1's `//` (match across segments) is
//! not supported: it is an empty segment and matches nothing.
//!
//! Matching one segment simulates the pattern as a nondeterministic automaton over the
//! positions of the name (a bitset), so its cost is O(pattern length × name length) whatever
//! the pattern; backtracking matchers can be made exponential by a hostile `*a*a*a…b`.
//!
//! [`AddressSpace`] holds the configured paths. A literal address (the common case) is one
//! hash lookup of the whole string. A pattern walks a trie of path segments: literal
//! segments descend by lookup, pattern segments test the children of the current node only,
//! so the cost is bounded by the branches the pattern can reach, not by the number of paths.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::channel::{PathError, validate_path};

/// Longest configured path segment (the matcher's bitset covers this many positions).
pub const MAX_SEGMENT_LEN: usize = 511;
const WORDS: usize = (MAX_SEGMENT_LEN + 1).div_ceil(64);

/// Why an address pattern is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum PatternError {
    /// `[` without `]` in the same segment.
    #[error("'[' at byte {0} is not closed by ']' in the same path segment")]
    UnclosedBracket(usize),
    /// `{` without `}` in the same segment.
    #[error("'{{' at byte {0} is not closed by '}}' in the same path segment")]
    UnclosedBrace(usize),
    /// `[` or `{` inside `[...]` or `{...}`.
    #[error("'[' or '{{' at byte {0} inside another '[...]' or '{{...}}'")]
    NestedGroup(usize),
}

impl PatternError {
    /// Stable snake_case counter name for a dropped message ("bad_pattern" for all kinds).
    pub const fn as_str(self) -> &'static str {
        "bad_pattern"
    }
}

/// True if `address` contains pattern syntax (`*`, `?`, `[` or `{`) and so needs matching
/// rather than a lookup.
#[inline]
pub fn is_pattern(address: &str) -> bool {
    address
        .bytes()
        .any(|c| matches!(c, b'*' | b'?' | b'[' | b'{'))
}

/// Checks that every `[` and `{` is closed in its segment and that groups do not nest.
pub fn validate_pattern(pattern: &str) -> Result<(), PatternError> {
    let b = pattern.as_bytes();
    let mut open: Option<(u8, usize)> = None;
    for (i, &c) in b.iter().enumerate() {
        match (open, c) {
            (None, b'[' | b'{') => open = Some((c, i)),
            (Some(_), b'[' | b'{') => return Err(PatternError::NestedGroup(i)),
            (Some((b'[', _)), b']') | (Some((b'{', _)), b'}') => open = None,
            (Some((kind, at)), b'/') => return Err(unclosed(kind, at)),
            _ => {}
        }
    }
    match open {
        Some((kind, at)) => Err(unclosed(kind, at)),
        None => Ok(()),
    }
}

fn unclosed(kind: u8, at: usize) -> PatternError {
    if kind == b'[' {
        PatternError::UnclosedBracket(at)
    } else {
        PatternError::UnclosedBrace(at)
    }
}

/// Does the (complete) `pattern` match the literal `path`? A malformed pattern matches
/// nothing. Used at configuration time, e.g. for `/PATTERN = ...` preconfiguration; incoming
/// messages go through [`AddressSpace`].
pub fn matches(pattern: &str, path: &str) -> bool {
    if validate_pattern(pattern).is_err() {
        return false;
    }
    let mut p = pattern.split('/');
    let mut s = path.split('/');
    loop {
        match (p.next(), s.next()) {
            (None, None) => return true,
            (Some(ps), Some(ss)) => {
                if !segment_matches(ps.as_bytes(), ss.as_bytes()) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// A set of positions 0..=len in a segment name: the automaton's state.
trait Reach: Copy {
    fn new(len: usize) -> Self;
    fn set(&mut self, i: usize);
    fn contains(&self, i: usize) -> bool;
    fn is_empty(&self) -> bool;
    /// Calls `f` for each position, ascending.
    fn for_each(&self, f: impl FnMut(usize));
    /// Every position from the lowest one in the set up to `len` (what `*` reaches).
    fn lowest_onwards(&self, len: usize) -> Self;
}

/// Names shorter than 64 bytes (nearly all): one word.
impl Reach for u64 {
    #[inline]
    fn new(_: usize) -> u64 {
        0
    }
    #[inline]
    fn set(&mut self, i: usize) {
        *self |= 1 << i;
    }
    #[inline]
    fn contains(&self, i: usize) -> bool {
        *self & (1 << i) != 0
    }
    #[inline]
    fn is_empty(&self) -> bool {
        *self == 0
    }
    #[inline]
    fn for_each(&self, mut f: impl FnMut(usize)) {
        let mut w = *self;
        while w != 0 {
            f(w.trailing_zeros() as usize);
            w &= w - 1;
        }
    }
    #[inline]
    fn lowest_onwards(&self, len: usize) -> u64 {
        if *self == 0 {
            return 0;
        }
        (u64::MAX >> (63 - len)) & (u64::MAX << self.trailing_zeros())
    }
}

/// Longer names, up to [`MAX_SEGMENT_LEN`].
#[derive(Clone, Copy)]
struct Positions {
    bits: [u64; WORDS],
    words: usize,
}

impl Reach for Positions {
    #[inline]
    fn new(len: usize) -> Positions {
        Positions {
            bits: [0; WORDS],
            words: (len + 1).div_ceil(64),
        }
    }
    #[inline]
    fn set(&mut self, i: usize) {
        self.bits[i / 64] |= 1 << (i % 64);
    }
    #[inline]
    fn contains(&self, i: usize) -> bool {
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }
    #[inline]
    fn is_empty(&self) -> bool {
        self.bits[..self.words].iter().all(|&w| w == 0)
    }
    #[inline]
    fn for_each(&self, mut f: impl FnMut(usize)) {
        for (wi, &w) in self.bits[..self.words].iter().enumerate() {
            let mut w = w;
            while w != 0 {
                f(wi * 64 + w.trailing_zeros() as usize);
                w &= w - 1;
            }
        }
    }
    fn lowest_onwards(&self, len: usize) -> Positions {
        let mut out = Positions::new(len);
        let mut lo = None;
        self.for_each(|i| {
            lo.get_or_insert(i);
        });
        if let Some(lo) = lo {
            for i in lo..=len {
                out.set(i);
            }
        }
        out
    }
}

/// Is `c` in the bracket expression body `class` (between `[` and `]`)?
#[inline]
fn class_contains(class: &[u8], c: u8) -> bool {
    let (negate, set) = match class.split_first() {
        Some((b'!', rest)) => (true, rest),
        _ => (false, class),
    };
    let mut found = false;
    let mut i = 0;
    while i < set.len() {
        if i + 2 < set.len() && set[i + 1] == b'-' {
            let (a, b) = (set[i].min(set[i + 2]), set[i].max(set[i + 2]));
            found |= (a..=b).contains(&c);
            i += 3;
        } else {
            found |= set[i] == c;
            i += 1;
        }
    }
    found != negate
}

/// End of the token at `p` if it is pattern syntax (`*` runs, `?`, `[...]`, `{...}`),
/// `Some(None)` for a literal byte, `None` for an unclosed group.
#[inline]
fn special_token_end(pat: &[u8], p: usize) -> Option<Option<usize>> {
    let close = |c: u8| pat[p + 1..].iter().position(|&x| x == c).map(|i| p + i + 2);
    Some(match pat[p] {
        b'*' => Some(p + pat[p..].iter().take_while(|&&c| c == b'*').count()),
        b'?' => Some(p + 1),
        b'[' => Some(close(b']')?),
        b'{' => Some(close(b'}')?),
        _ => None,
    })
}

/// Does one pattern segment match one name segment? (Neither contains `/`.) A malformed
/// group matches nothing. Names longer than [`MAX_SEGMENT_LEN`] match nothing.
pub fn segment_matches(pat: &[u8], name: &[u8]) -> bool {
    SegmentPattern::new(pat).is_some_and(|p| p.matches(name))
}

/// One pattern segment split once into literal head, pattern middle and literal tail, so that
/// testing many names compares the literal parts directly (rejecting most names at once) and
/// runs the automaton on the middle only.
#[derive(Clone, Copy)]
struct SegmentPattern<'p> {
    head: &'p [u8],
    middle: &'p [u8],
    tail: &'p [u8],
}

impl<'p> SegmentPattern<'p> {
    /// `None` for an unclosed group.
    fn new(pat: &'p [u8]) -> Option<SegmentPattern<'p>> {
        let mut first = None;
        let mut last_end = 0;
        let mut p = 0;
        while p < pat.len() {
            match special_token_end(pat, p)? {
                Some(end) => {
                    first.get_or_insert(p);
                    last_end = end;
                    p = end;
                }
                None => p += 1,
            }
        }
        let first = first.unwrap_or(pat.len());
        let last_end = last_end.max(first);
        Some(SegmentPattern {
            head: &pat[..first],
            middle: &pat[first..last_end],
            tail: &pat[last_end..],
        })
    }

    #[inline]
    fn matches(&self, name: &[u8]) -> bool {
        if name.len() > MAX_SEGMENT_LEN
            || name.len() < self.head.len() + self.tail.len()
            || !name.starts_with(self.head)
            || !name.ends_with(self.tail)
        {
            return false;
        }
        let name = &name[self.head.len()..name.len() - self.tail.len()];
        if self.middle.is_empty() {
            name.is_empty()
        } else if name.len() < 64 {
            run::<u64>(self.middle, name)
        } else {
            run::<Positions>(self.middle, name)
        }
    }
}

/// The automaton over a well-formed pattern (groups closed).
fn run<R: Reach>(pat: &[u8], name: &[u8]) -> bool {
    let n = name.len();
    let mut reach = R::new(n);
    reach.set(0);
    let mut p = 0;
    while p < pat.len() {
        let mut next = R::new(n);
        let end = match special_token_end(pat, p) {
            None => return false,
            Some(end) => end.unwrap_or(p + 1),
        };
        match pat[p] {
            b'*' => next = reach.lowest_onwards(n),
            b'?' => reach.for_each(|i| {
                if i < n {
                    next.set(i + 1);
                }
            }),
            b'[' => {
                let class = &pat[p + 1..end - 1];
                reach.for_each(|i| {
                    if i < n && class_contains(class, name[i]) {
                        next.set(i + 1);
                    }
                });
            }
            b'{' => {
                let alternatives = &pat[p + 1..end - 1];
                reach.for_each(|i| {
                    for alt in alternatives.split(|&c| c == b',') {
                        if name[i..].starts_with(alt) {
                            next.set(i + alt.len());
                        }
                    }
                });
            }
            c => reach.for_each(|i| {
                if i < n && name[i] == c {
                    next.set(i + 1);
                }
            }),
        }
        if next.is_empty() {
            return false;
        }
        reach = next;
        p = end;
    }
    reach.contains(n)
}

/// Dense id of a configured path, in insertion order (0, 1, 2, ...): index per-path tables
/// with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathId(u32);

impl PathId {
    /// The id as an index.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Debug, Default)]
struct Node {
    /// Ordered, so pattern matches come out in a stable order.
    children: BTreeMap<Box<str>, u32>,
    path: Option<PathId>,
}

/// The set of configured paths, compiled for matching incoming addresses (see the module
/// documentation for the costs).
///
/// Paths are full addresses as they appear on the wire, i.e. with the instance root already
/// prepended ([`Root::join`](crate::channel::Root::join)), so that a pattern may also match
/// the root's segments.
#[derive(Debug)]
pub struct AddressSpace {
    exact: FxHashMap<Box<str>, PathId>,
    paths: Vec<Box<str>>,
    nodes: Vec<Node>,
}

impl Default for AddressSpace {
    fn default() -> Self {
        Self::new()
    }
}

impl AddressSpace {
    /// An empty set.
    pub fn new() -> AddressSpace {
        AddressSpace {
            exact: FxHashMap::default(),
            paths: Vec::new(),
            nodes: vec![Node::default()],
        }
    }

    /// Adds a literal path (checked with [`validate_path`]) and returns its id; a path added
    /// before gets its old id.
    pub fn insert(&mut self, path: &str) -> Result<PathId, PathError> {
        if let Some(&id) = self.exact.get(path) {
            return Ok(id);
        }
        validate_path(path)?;
        // 2^32 configured paths cannot be written down; refuse rather than wrap.
        let id = PathId(u32::try_from(self.paths.len()).map_err(|_| PathError::TooManySegments)?);
        let mut node = 0usize;
        for segment in path[1..].split('/') {
            let next = self.nodes.len() as u32;
            let child = *self.nodes[node]
                .children
                .entry(segment.into())
                .or_insert(next);
            if child == next {
                self.nodes.push(Node::default());
            }
            node = child as usize;
        }
        self.nodes[node].path = Some(id);
        self.exact.insert(path.into(), id);
        self.paths.push(path.into());
        Ok(id)
    }

    /// Number of paths.
    #[inline]
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// True when no path was added.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The path with id `id`.
    #[inline]
    pub fn path(&self, id: PathId) -> &str {
        &self.paths[id.index()]
    }

    /// Every path with its id, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (PathId, &str)> {
        self.paths
            .iter()
            .enumerate()
            .map(|(i, p)| (PathId(i as u32), &**p))
    }

    /// The id of a literal address, if configured (no pattern interpretation).
    #[inline]
    pub fn get(&self, address: &str) -> Option<PathId> {
        self.exact.get(address).copied()
    }

    /// Calls `f` for every configured path that `address` names: itself when it is literal,
    /// every match when it is a pattern (in trie order: segment names ascending). Returns the
    /// number of calls, or the reason a malformed pattern matches nothing.
    #[inline]
    pub fn lookup(&self, address: &str, mut f: impl FnMut(PathId)) -> Result<usize, PatternError> {
        if !is_pattern(address) {
            return Ok(match self.get(address) {
                Some(id) => {
                    f(id);
                    1
                }
                None => 0,
            });
        }
        validate_pattern(address)?;
        let Some(rest) = address.strip_prefix('/') else {
            return Ok(0);
        };
        let mut count = 0;
        self.walk(0, rest, &mut f, &mut count);
        Ok(count)
    }

    /// Matches the segments of `rest` below `node`. Recursion follows existing trie nodes
    /// only, so its depth is bounded by [`MAX_SEGMENTS`](crate::channel::MAX_SEGMENTS).
    fn walk(&self, node: usize, rest: &str, f: &mut impl FnMut(PathId), count: &mut usize) {
        let (segment, tail) = match rest.split_once('/') {
            Some((s, t)) => (s, Some(t)),
            None => (rest, None),
        };
        let children = &self.nodes[node].children;
        let mut visit = |child: u32| match tail {
            None => {
                if let Some(id) = self.nodes[child as usize].path {
                    f(id);
                    *count += 1;
                }
            }
            Some(t) => self.walk(child as usize, t, f, count),
        };
        if is_pattern(segment) {
            let Some(pattern) = SegmentPattern::new(segment.as_bytes()) else {
                return;
            };
            for (name, &child) in children {
                if pattern.matches(name.as_bytes()) {
                    visit(child);
                }
            }
        } else if let Some(&child) = children.get(segment) {
            visit(child);
        }
    }
}

/// The matches of address patterns seen before, so that a device that keeps sending the same
/// pattern (`/mixer/ch[1-8]/mute`) costs one hash lookup per message, like a literal address,
/// instead of a trie walk. Bounded: when [`PatternCache::CAPACITY`] patterns are held, the
/// cache starts over, so a peer that sends ever new patterns costs walks, never memory.
/// Allocates only for a pattern it has not seen (or after starting over).
#[derive(Debug, Default)]
pub struct PatternCache {
    matches: FxHashMap<Box<str>, Box<[PathId]>>,
    scratch: Vec<PathId>,
}

impl PatternCache {
    /// Most patterns held.
    pub const CAPACITY: usize = 1024;

    /// An empty cache.
    pub fn new() -> PatternCache {
        PatternCache::default()
    }

    /// Patterns held.
    pub fn len(&self) -> usize {
        self.matches.len()
    }

    /// True when no pattern is held.
    pub fn is_empty(&self) -> bool {
        self.matches.is_empty()
    }

    /// [`AddressSpace::lookup`] through the cache (the same calls in the same order). The
    /// cache belongs to one `space`: it must not outlive changes to it.
    #[inline]
    pub fn lookup(
        &mut self,
        space: &AddressSpace,
        address: &str,
        mut f: impl FnMut(PathId),
    ) -> Result<usize, PatternError> {
        if !is_pattern(address) {
            return space.lookup(address, f);
        }
        if let Some(ids) = self.matches.get(address) {
            ids.iter().for_each(|&id| f(id));
            return Ok(ids.len());
        }
        self.scratch.clear();
        let scratch = &mut self.scratch;
        let n = space.lookup(address, |id| {
            scratch.push(id);
            f(id);
        })?;
        if self.matches.len() >= Self::CAPACITY {
            self.matches.clear();
        }
        self.matches
            .insert(address.into(), self.scratch.as_slice().into());
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
