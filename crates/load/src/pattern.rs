//! What the load tool writes into the 512 slots of a frame, so that the receiver can check every
//! slot of a translated frame against the input frame it claims to be.
//!
//! Full pattern (every slot changes every frame):
//!
//! | slots (0-based) | content |
//! |---|---|
//! | 0..4 | frame id, u32 big-endian (per input universe, from 1) |
//! | 4..12 | send time, ns since the tool's epoch, u64 big-endian |
//! | 12..16 | check: 32 bits of a hash of (universe, id, send time) |
//! | 16..512 | body: `id as u8 + h(universe, id >> 8, slot)` |
//!
//! The check catches a header whose bytes come from two frames (the send time is not derivable from
//! the id). The body adds the low id byte to a per-block hash, so consecutive frames differ in every
//! body slot (the translator really gets 512 changes per frame), two frames of the same 256-frame
//! block differ in every body slot, and frames of different blocks differ in about 255 of 256 slots.
//! A frame mixing slots of two input frames therefore fails verification; a slot that happens to be
//! equal in both frames is consistent with either, so it cannot make a valid frame look torn.
//!
//! Single pattern (one slot changing, for the latency workload): slot 0 carries `1 + n % 255` for
//! frame n (never 0, the translator's initial value, so the first frame is a change), every other
//! slot stays 0. The send time lives in the sender's table indexed by that value.

/// Slots per universe.
pub const SLOTS: usize = 512;
const HEADER: usize = 16;
const BODY_WORDS: usize = (SLOTS - HEADER) / 8;

/// The input frame a packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameTag {
    /// Frame number within its input universe, from 1.
    pub id: u32,
    /// Send time in ns since the tool's epoch.
    pub sent_ns: u64,
}

/// Outcome of checking a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every slot belongs to the input frame named by the tag.
    Valid(FrameTag),
    /// Slots from more than one input frame, or bytes no input frame had.
    Torn,
}

#[inline]
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[inline]
fn check(universe: u16, tag: FrameTag) -> u32 {
    let h = splitmix64(
        splitmix64(u64::from(universe) << 32 | u64::from(tag.id)) ^ tag.sent_ns.rotate_left(17),
    );
    (h >> 32) as u32
}

#[inline]
fn write_body(universe: u16, id: u32, body: &mut [u8]) {
    let seed = splitmix64(u64::from(universe) << 40 | u64::from(id >> 8));
    let low = id as u8;
    for (w, chunk) in body.chunks_exact_mut(8).take(BODY_WORDS).enumerate() {
        let word = splitmix64(seed ^ (w as u64).wrapping_mul(0xa076_1d64_78bd_642f)).to_le_bytes();
        for (dst, b) in chunk.iter_mut().zip(word) {
            *dst = b.wrapping_add(low);
        }
    }
}

/// Writes the full pattern of frame `tag` of input universe `universe` into `slots`.
pub fn encode(universe: u16, tag: FrameTag, slots: &mut [u8; SLOTS]) {
    slots[0..4].copy_from_slice(&tag.id.to_be_bytes());
    slots[4..12].copy_from_slice(&tag.sent_ns.to_be_bytes());
    slots[12..16].copy_from_slice(&check(universe, tag).to_be_bytes());
    write_body(universe, tag.id, &mut slots[HEADER..]);
}

/// Checks a received frame of input universe `universe` against the full pattern. `scratch` is
/// caller-owned so the receive path does not allocate.
pub fn verify(universe: u16, slots: &[u8], scratch: &mut [u8; SLOTS]) -> Verdict {
    let (Some(id), Some(sent), Some(chk)) = (
        slots.get(0..4).and_then(|b| b.try_into().ok()),
        slots.get(4..12).and_then(|b| b.try_into().ok()),
        slots.get(12..16).and_then(|b| b.try_into().ok()),
    ) else {
        return Verdict::Torn;
    };
    if slots.len() != SLOTS {
        return Verdict::Torn;
    }
    let tag = FrameTag {
        id: u32::from_be_bytes(id),
        sent_ns: u64::from_be_bytes(sent),
    };
    if u32::from_be_bytes(chk) != check(universe, tag) {
        return Verdict::Torn;
    }
    write_body(universe, tag.id, &mut scratch[HEADER..]);
    if slots[HEADER..] == scratch[HEADER..] {
        Verdict::Valid(tag)
    } else {
        Verdict::Torn
    }
}

/// Slot-0 value of frame `n` in the single pattern: cycles through 1..=255.
#[inline]
pub fn single_value(n: u64) -> u8 {
    // n % 255 < 255, so the sum fits a byte.
    1 + (n % 255) as u8
}

/// Frames between two single-pattern values (1..=254), or 0 for a repeat of the same value.
/// `last` = 0 means nothing received yet: any value is new.
#[inline]
pub fn single_gap(last: u8, now: u8) -> u32 {
    if last == 0 {
        return 1;
    }
    let (a, b) = (u32::from(last) - 1, u32::from(now.max(1)) - 1);
    (b + 255 - a) % 255
}

/// Checks a received single-pattern frame: `Some(value of slot 0)` if every other slot is 0.
pub fn verify_single(slots: &[u8]) -> Option<u8> {
    let (&first, rest) = slots.split_first()?;
    (slots.len() == SLOTS && first != 0 && rest.iter().all(|&b| b == 0)).then_some(first)
}

/// A cheap fingerprint of a frame's slots, to tell a repeated torn frame from a new one.
pub fn fingerprint(slots: &[u8]) -> u64 {
    slots.chunks(8).fold(0xcbf2_9ce4_8422_2325, |h, c| {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        splitmix64(h ^ u64::from_le_bytes(w))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(universe: u16, id: u32, sent_ns: u64) -> [u8; SLOTS] {
        let mut s = [0u8; SLOTS];
        encode(universe, FrameTag { id, sent_ns }, &mut s);
        s
    }

    #[test]
    fn valid_frame_passes_and_returns_its_tag() {
        let mut scratch = [0u8; SLOTS];
        let s = frame(7, 12345, 987_654_321);
        assert_eq!(
            verify(7, &s, &mut scratch),
            Verdict::Valid(FrameTag {
                id: 12345,
                sent_ns: 987_654_321
            })
        );
    }

    #[test]
    fn wrong_universe_is_torn() {
        let mut scratch = [0u8; SLOTS];
        assert_eq!(verify(8, &frame(7, 5, 5), &mut scratch), Verdict::Torn);
    }

    /// MIDIMonster's failure: slots 1-100 from one frame, 101-512 from the next.
    #[test]
    fn split_frame_is_torn() {
        let mut scratch = [0u8; SLOTS];
        let (a, b) = (frame(1, 100, 1_000), frame(1, 101, 2_000));
        let mut mixed = b;
        mixed[100..].copy_from_slice(&a[100..]);
        assert_eq!(verify(1, &mixed, &mut scratch), Verdict::Torn);
        let mut mixed = a;
        mixed[100..].copy_from_slice(&b[100..]);
        assert_eq!(verify(1, &mixed, &mut scratch), Verdict::Torn);
    }

    #[test]
    fn header_torn_between_id_and_time_is_torn() {
        let mut scratch = [0u8; SLOTS];
        let (a, b) = (frame(1, 100, 1_000), frame(1, 100, 2_000));
        let mut mixed = a;
        mixed[4..12].copy_from_slice(&b[4..12]);
        assert_eq!(verify(1, &mixed, &mut scratch), Verdict::Torn);
    }

    #[test]
    fn every_slot_changes_between_consecutive_frames() {
        for id in [1u32, 2, 255, 256, 257, 70_000] {
            let (a, b) = (frame(3, id, 10), frame(3, id + 1, 20));
            let same = a[HEADER..]
                .iter()
                .zip(&b[HEADER..])
                .filter(|(x, y)| x == y)
                .count();
            // Within a 256-frame block every body slot changes; across a block boundary a few may
            // coincide by chance.
            if (id + 1) % 256 != 0 {
                assert_eq!(same, 0, "id {id}");
            } else {
                assert!(same < 10, "id {id}: {same}");
            }
        }
    }

    #[test]
    fn short_or_long_frames_are_torn() {
        let mut scratch = [0u8; SLOTS];
        let s = frame(1, 1, 1);
        assert_eq!(verify(1, &s[..511], &mut scratch), Verdict::Torn);
        assert_eq!(verify(1, &s[..10], &mut scratch), Verdict::Torn);
    }

    #[test]
    fn single_pattern() {
        assert_eq!(single_value(0), 1);
        assert_eq!(single_value(254), 255);
        assert_eq!(single_value(255), 1);
        assert_eq!(single_gap(1, 2), 1);
        assert_eq!(single_gap(255, 1), 1);
        assert_eq!(single_gap(250, 5), 10);
        assert_eq!(single_gap(9, 9), 0);
        assert_eq!(single_gap(0, 1), 1, "the first frame is new");
        let mut s = [0u8; SLOTS];
        s[0] = 42;
        assert_eq!(verify_single(&s), Some(42));
        s[300] = 1;
        assert_eq!(verify_single(&s), None);
        s[300] = 0;
        s[0] = 0;
        assert_eq!(verify_single(&s), None);
        assert_eq!(verify_single(&s[..100]), None);
    }

    proptest! {
        #[test]
        fn roundtrip(u in 1u16..=63999, id in 1u32.., t in any::<u64>()) {
            let mut scratch = [0u8; SLOTS];
            let s = frame(u, id, t);
            prop_assert_eq!(verify(u, &s, &mut scratch), Verdict::Valid(FrameTag { id, sent_ns: t }));
        }

        /// Any mix of two different frames of a universe is detected when at least 64 slots come
        /// from the other frame (with fewer, slots of frames in different 256-frame blocks may
        /// coincide by chance, 1/256 per slot).
        #[test]
        fn any_cut_between_two_frames_is_torn(
            u in 1u16..=63999, id in 1u32..u32::MAX - 1000, d in 1u32..1000, cut in 1usize..SLOTS - 64,
        ) {
            let mut scratch = [0u8; SLOTS];
            let (a, b) = (frame(u, id, u64::from(id) * 1000), frame(u, id + d, u64::from(id + d) * 1000));
            let mut mixed = a;
            mixed[cut..].copy_from_slice(&b[cut..]);
            // A cut inside equal leading bytes gives one of the two frames back unchanged.
            let differs = mixed != a && mixed != b;
            prop_assume!(differs);
            prop_assert_eq!(verify(u, &mixed, &mut scratch), Verdict::Torn);
        }

        /// One flipped byte anywhere is detected.
        #[test]
        fn single_corruption_is_torn(id in 1u32.., at in 0usize..SLOTS, x in 1u8..) {
            let mut scratch = [0u8; SLOTS];
            let mut s = frame(9, id, 77);
            s[at] ^= x;
            prop_assert_eq!(verify(9, &s, &mut scratch), Verdict::Torn);
        }
    }
}
