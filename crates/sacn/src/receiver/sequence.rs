//! The E1.31 6.7.2 sequence-number window, as a pure function so it can be checked against a
//! reference model independently of any receiver state.

/// Packets whose signed distance to the last accepted one is at or below this are taken as a
/// sender restart (or a long gap) rather than as stale duplicates.
pub const RESTART_THRESHOLD: i8 = -20;

/// Whether a packet numbered `new` may follow the last accepted `last`.
///
/// The standard's rule uses the 8-bit wrapping difference read as signed: accept if it is
/// positive or at most −20. ETC's reference library subtracts without wrapping, which rejects
/// valid packets around the 255→0 wrap; OLA and the standard agree with this version.
#[inline]
pub const fn sequence_accepts(last: u8, new: u8) -> bool {
    let d = new.wrapping_sub(last) as i8;
    d > 0 || d <= RESTART_THRESHOLD
}

/// The E1.31 window, [`sequence_accepts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct E131Sequence;

impl patchbay_dmx::SequenceRule for E131Sequence {
    #[inline]
    fn accepts(last: u8, new: u8) -> bool {
        sequence_accepts(last, new)
    }
}

/// Sequence state of one stream (data per (source, universe) or sync per (source, sync
/// universe)); `None` until the first packet, which is always accepted.
pub type SequenceTracker = patchbay_dmx::SequenceTracker<E131Sequence>;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reference model written from the standard's text with wide integers, no bit tricks.
    fn model(last: u8, new: u8) -> bool {
        let mut d = i16::from(new) - i16::from(last);
        if d > 127 {
            d -= 256;
        } else if d < -128 {
            d += 256;
        }
        d > 0 || d <= -20
    }

    #[test]
    fn window_edges() {
        assert!(!sequence_accepts(10, 10), "duplicate");
        assert!(sequence_accepts(10, 11));
        assert!(!sequence_accepts(10, 9));
        assert!(!sequence_accepts(30, 11), "-19 is stale");
        assert!(sequence_accepts(30, 10), "-20 is a restart");
        assert!(sequence_accepts(255, 0), "wrap is +1");
        assert!(!sequence_accepts(0, 255), "-1 across the wrap");
        assert!(sequence_accepts(5, 241), "-20 across the wrap");
        assert!(!sequence_accepts(5, 242), "-19 across the wrap");
        assert!(sequence_accepts(0, 127));
        assert!(sequence_accepts(0, 128), "-128 is a restart");
    }

    #[test]
    fn first_packet_always_accepted() {
        for s in 0..=255u8 {
            let mut t = SequenceTracker::new();
            assert!(t.accept(s));
            assert_eq!(t.last(), Some(s));
        }
    }

    proptest! {
        #[test]
        fn matches_reference_model(last: u8, new: u8) {
            prop_assert_eq!(sequence_accepts(last, new), model(last, new));
        }

        #[test]
        fn tracker_matches_model_over_streams(seqs in proptest::collection::vec(any::<u8>(), 1..200)) {
            let mut t = SequenceTracker::new();
            let mut last: Option<u8> = None;
            for s in seqs {
                let expect = last.is_none_or(|l| model(l, s));
                prop_assert_eq!(t.accept(s), expect);
                if expect { last = Some(s); }
                prop_assert_eq!(t.last(), last);
            }
        }
    }
}
