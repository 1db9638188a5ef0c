//! The ArtDmx sequence rule as a pure function, so it can be checked against a reference model.
//!
//! Art-Net 4: "0x00 disables this feature"; otherwise senders count 1..=255 and wrap to 1, so
//! the receiver can put packets back in order. The specification sets no window; a packet up
//! to [`SEQUENCE_WINDOW`]` - 1` steps behind the last one is late (re-ordered on the way) and
//! dropped, anything further behind is a sender that restarted. A repeated number is
//! accepted: a duplicated datagram carries the same levels, and a sender that never counts
//! up must not freeze. Distances are measured on the ring 1..=255 that senders count on.

use super::config::SEQUENCE_WINDOW;

/// Signed distance from `last` to `new` on the ring 1..=255, in −127..=127.
#[inline]
const fn ring_distance(last: u8, new: u8) -> i16 {
    let d = (new as i16 - last as i16).rem_euclid(255);
    if d > 127 { d - 255 } else { d }
}

/// Whether a packet numbered `new` may follow the last accepted number `last` (both nonzero).
#[inline]
pub const fn sequence_accepts(last: u8, new: u8) -> bool {
    let d = ring_distance(last, new);
    d >= 0 || d <= -(SEQUENCE_WINDOW as i16)
}

/// [`sequence_accepts`], with 0 as "not numbered".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArtDmxSequence;

impl patchbay_dmx::SequenceRule for ArtDmxSequence {
    #[inline]
    fn accepts(last: u8, new: u8) -> bool {
        sequence_accepts(last, new)
    }

    #[inline]
    fn is_unnumbered(seq: u8) -> bool {
        seq == 0
    }
}

/// Sequence state of one source in one universe.
pub type SequenceTracker = patchbay_dmx::SequenceTracker<ArtDmxSequence>;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reference model from the rule's words: walk back from `last` on 1..=255 and see
    /// whether `new` is met within 19 steps.
    fn model(last: u8, new: u8) -> bool {
        let mut x = last;
        for _ in 0..19 {
            x = if x == 1 { 255 } else { x - 1 };
            if x == new {
                return false;
            }
        }
        true
    }

    #[test]
    fn window_edges() {
        assert!(sequence_accepts(10, 10), "repeat");
        assert!(sequence_accepts(10, 11));
        assert!(!sequence_accepts(10, 9));
        assert!(!sequence_accepts(30, 11), "19 behind: late");
        assert!(sequence_accepts(30, 10), "20 behind: restart");
        assert!(sequence_accepts(255, 1), "wrap skips 0");
        assert!(!sequence_accepts(1, 255), "one behind across the wrap");
        assert!(!sequence_accepts(5, 241), "19 behind across the wrap");
        assert!(sequence_accepts(5, 240), "20 behind across the wrap");
    }

    #[test]
    fn zero_is_never_checked_and_never_remembered() {
        let mut t = SequenceTracker::new();
        assert!(t.accept(50));
        assert!(t.accept(0));
        assert_eq!(t.last(), Some(50));
        assert!(!t.accept(49));
        // MIDIMonster counts 0..=255 (0 once per cycle): 255, 0, 1 passes.
        let mut t = SequenceTracker::new();
        assert!(t.accept(255) && t.accept(0) && t.accept(1));
    }

    proptest! {
        #[test]
        fn matches_reference_model(last in 1u8..=255, new in 1u8..=255) {
            prop_assert_eq!(sequence_accepts(last, new), model(last, new));
        }
    }
}
