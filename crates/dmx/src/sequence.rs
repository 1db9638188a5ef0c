//! Per-stream sequence tracking. Every DMX-over-IP protocol numbers its packets with one byte
//! and lets a receiver drop the ones that arrive late; the protocols differ only in the rule
//! (window, wrap, whether 0 means "not numbered"), which a [`SequenceRule`] supplies.

use core::marker::PhantomData;

/// A protocol's sequence-number rule.
pub trait SequenceRule {
    /// Whether a packet numbered `new` may follow the last accepted number `last`.
    fn accepts(last: u8, new: u8) -> bool;

    /// Numbers outside the rule: always accepted and never remembered (Art-Net's 0, "not
    /// numbered"). None by default.
    #[inline]
    fn is_unnumbered(_seq: u8) -> bool {
        false
    }
}

/// Sequence state of one stream; the first numbered packet is always accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequenceTracker<R> {
    last: Option<u8>,
    rule: PhantomData<R>,
}

impl<R> Default for SequenceTracker<R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R> SequenceTracker<R> {
    /// A tracker that has seen no numbered packet.
    pub const fn new() -> Self {
        SequenceTracker {
            last: None,
            rule: PhantomData,
        }
    }

    /// Last accepted (numbered) number, if any.
    pub const fn last(&self) -> Option<u8> {
        self.last
    }
}

impl<R: SequenceRule> SequenceTracker<R> {
    /// Whether [`accept`](Self::accept) would take `seq` now.
    #[inline]
    pub fn would_accept(&self, seq: u8) -> bool {
        R::is_unnumbered(seq) || self.last.is_none_or(|last| R::accepts(last, seq))
    }

    /// Applies the rule and, if accepted, remembers a numbered `seq` as the last one.
    #[inline]
    pub fn accept(&mut self, seq: u8) -> bool {
        let ok = self.would_accept(seq);
        if ok && !R::is_unnumbered(seq) {
            self.last = Some(seq);
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts only increasing numbers; 0 is unnumbered.
    struct Up;
    impl SequenceRule for Up {
        fn accepts(last: u8, new: u8) -> bool {
            new > last
        }
        fn is_unnumbered(seq: u8) -> bool {
            seq == 0
        }
    }

    #[test]
    fn first_is_taken_unnumbered_are_not_remembered() {
        let mut t = SequenceTracker::<Up>::new();
        assert!(t.accept(5) && !t.accept(4) && t.accept(0));
        assert_eq!(t.last(), Some(5));
        assert!(t.would_accept(6) && !t.would_accept(5));
    }
}
