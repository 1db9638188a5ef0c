//! A fixed 512-bit set of slot indices, and the word-at-a-time compare used to fill it.

use crate::MAX_SLOTS;

const WORDS: usize = MAX_SLOTS / 64;

/// Set of slot indices 0..512 (index 0 = DMX slot 1), e.g. the slots whose merged value changed.
///
/// Fixed size and `Copy` so it can be handed out per packet without allocating.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SlotSet {
    words: [u64; WORDS],
}

impl SlotSet {
    /// The empty set.
    pub const EMPTY: SlotSet = SlotSet { words: [0; WORDS] };
    /// All 512 slots.
    pub const ALL: SlotSet = SlotSet {
        words: [u64::MAX; WORDS],
    };

    /// Whether no slot is in the set.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Number of slots in the set.
    #[inline]
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether slot index `i` (0-based) is in the set; out-of-range indices are never members.
    #[inline]
    pub fn contains(&self, i: usize) -> bool {
        i < MAX_SLOTS && self.words[i / 64] & (1 << (i % 64)) != 0
    }

    /// Adds slot index `i`; indices ≥ 512 are ignored.
    #[inline]
    pub fn insert(&mut self, i: usize) {
        if i < MAX_SLOTS {
            self.words[i / 64] |= 1 << (i % 64);
        }
    }

    /// Removes every slot.
    #[inline]
    pub fn clear(&mut self) {
        self.words = [0; WORDS];
    }

    /// Adds every member of `other`.
    #[inline]
    pub fn union_with(&mut self, other: &SlotSet) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter()) {
            *a |= *b;
        }
    }

    /// The raw 64-bit words, slot `i` at bit `i % 64` of word `i / 64`.
    #[inline]
    pub fn words(&self) -> &[u64; WORDS] {
        &self.words
    }

    /// Members in ascending order.
    pub fn iter(&self) -> SlotSetIter {
        SlotSetIter {
            words: self.words,
            word: 0,
        }
    }

    /// ORs eight change bits (bit k = slot `8 * chunk + k`) into the set.
    #[inline]
    pub(crate) fn or_chunk(&mut self, chunk: usize, bits: u8) {
        if let Some(w) = self.words.get_mut(chunk / 8) {
            *w |= u64::from(bits) << ((chunk % 8) * 8);
        }
    }
}

impl core::fmt::Debug for SlotSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl IntoIterator for &SlotSet {
    type Item = usize;
    type IntoIter = SlotSetIter;
    fn into_iter(self) -> SlotSetIter {
        self.iter()
    }
}

/// Ascending iterator over a [`SlotSet`] (works on a copy, so the set may be changed meanwhile).
#[derive(Debug, Clone)]
pub struct SlotSetIter {
    words: [u64; WORDS],
    word: usize,
}

impl Iterator for SlotSetIter {
    type Item = usize;
    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.word < WORDS {
            let w = self.words[self.word];
            if w != 0 {
                let bit = w.trailing_zeros() as usize;
                self.words[self.word] = w & (w - 1);
                return Some(self.word * 64 + bit);
            }
            self.word += 1;
        }
        None
    }
}

/// Bit k set iff byte k (little-endian order) of `x` is non-zero.
#[inline]
pub(crate) fn nonzero_byte_mask(x: u64) -> u8 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte = byte != 0, without carries between bytes.
    let y = (((x & LOW7) + LOW7) | x) & HIGH;
    // Gathers the eight high bits into the top byte: byte k's bit lands at bit 56 + k.
    ((y >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

#[inline]
fn load(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_le_bytes(a)
}

/// Writes `src` over `dst[..src.len()]` and records which bytes differed in `changes`.
///
/// Compares eight bytes at a time, so an unchanged 512-slot packet costs 64 word compares.
#[inline]
pub fn copy_and_diff(dst: &mut [u8; MAX_SLOTS], src: &[u8], changes: &mut SlotSet) -> bool {
    let n = src.len().min(MAX_SLOTS);
    let full = n / 8;
    let mut any = 0u64;
    for (c, (d, s)) in dst[..full * 8]
        .chunks_exact_mut(8)
        .zip(src[..full * 8].chunks_exact(8))
        .enumerate()
    {
        let x = load(d) ^ load(s);
        if x != 0 {
            d.copy_from_slice(s);
            changes.or_chunk(c, nonzero_byte_mask(x));
            any |= x;
        }
    }
    for i in full * 8..n {
        if dst[i] != src[i] {
            dst[i] = src[i];
            changes.insert(i);
            any |= 1;
        }
    }
    any != 0
}

/// Like [`copy_and_diff`], but keeps a second buffer (`mirror`) equal to `dst`: the
/// single-source fast path stores a packet in the source's levels and the merged output at once.
#[inline]
pub fn copy_and_diff2(
    dst: &mut [u8; MAX_SLOTS],
    mirror: &mut [u8; MAX_SLOTS],
    src: &[u8],
    changes: &mut SlotSet,
) -> bool {
    let n = src.len().min(MAX_SLOTS);
    let full = n / 8;
    let mut any = 0u64;
    for (c, ((d, m), s)) in dst[..full * 8]
        .chunks_exact_mut(8)
        .zip(mirror[..full * 8].chunks_exact_mut(8))
        .zip(src[..full * 8].chunks_exact(8))
        .enumerate()
    {
        let x = load(d) ^ load(s);
        if x != 0 {
            d.copy_from_slice(s);
            m.copy_from_slice(s);
            changes.or_chunk(c, nonzero_byte_mask(x));
            any |= x;
        }
    }
    for i in full * 8..n {
        if dst[i] != src[i] {
            dst[i] = src[i];
            mirror[i] = src[i];
            changes.insert(i);
            any |= 1;
        }
    }
    any != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mask_gathers_nonzero_bytes() {
        assert_eq!(nonzero_byte_mask(0), 0);
        assert_eq!(nonzero_byte_mask(0x01), 0b1);
        assert_eq!(nonzero_byte_mask(0x80), 0b1);
        assert_eq!(nonzero_byte_mask(0xff00), 0b10);
        assert_eq!(nonzero_byte_mask(0x0100_0000_0000_0000), 0b1000_0000);
        assert_eq!(nonzero_byte_mask(u64::MAX), 0xff);
    }

    #[test]
    fn set_basics() {
        let mut s = SlotSet::EMPTY;
        assert!(s.is_empty());
        s.insert(0);
        s.insert(63);
        s.insert(64);
        s.insert(511);
        s.insert(512);
        assert_eq!(s.len(), 4);
        assert!(s.contains(511) && !s.contains(512) && !s.contains(1));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 63, 64, 511]);
        assert_eq!(SlotSet::ALL.len(), 512);
    }

    proptest! {
        #[test]
        fn mask_matches_bytewise(x: u64) {
            let bytes = x.to_le_bytes();
            let mut expect = 0u8;
            for (k, b) in bytes.iter().enumerate() {
                if *b != 0 { expect |= 1 << k; }
            }
            prop_assert_eq!(nonzero_byte_mask(x), expect);
        }

        #[test]
        fn copy_and_diff_matches_bytewise(
            old in proptest::collection::vec(0u8..4, 512),
            new in proptest::collection::vec(0u8..4, 0..=512),
        ) {
            let mut dst = [0u8; 512];
            dst.copy_from_slice(&old);
            let mut mirror = dst;
            let mut ch = SlotSet::EMPTY;
            let mut ch2 = SlotSet::EMPTY;
            let mut dst2 = dst;
            let any = copy_and_diff(&mut dst, &new, &mut ch);
            let any2 = copy_and_diff2(&mut dst2, &mut mirror, &new, &mut ch2);
            let mut expect = SlotSet::EMPTY;
            for i in 0..new.len() {
                if old[i] != new[i] { expect.insert(i); }
            }
            prop_assert_eq!(ch, expect);
            prop_assert_eq!(ch2, expect);
            prop_assert_eq!(any, !expect.is_empty());
            prop_assert_eq!(any2, any);
            prop_assert_eq!(&dst[..new.len()], &new[..]);
            prop_assert_eq!(&dst[new.len()..], &old[new.len()..]);
            prop_assert_eq!(dst, dst2);
            prop_assert_eq!(mirror, dst);
        }
    }
}
