//! A receiver's merged universe: the output levels, which source drives each slot, and the
//! slots that changed since the caller last asked. Protocols differ in how they rank sources
//! (sACN priorities and per-address priority, Art-Net's two-source HTP/LTP) but not in what they
//! do with the ranking, which is written once here.

use crate::{MAX_SLOTS, MergeMode, SlotSet, copy_and_diff, copy_and_diff2, merge_source};

/// Owner of a slot that no source drives.
pub const NO_OWNER: u8 = u8::MAX;

/// What a slot that no source drives shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Undriven {
    /// Its last merged value (hold last look).
    #[default]
    Hold,
    /// Zero.
    Zero,
}

impl Undriven {
    /// The mask a held value is and-ed with: all ones to hold, zero to drop.
    #[inline]
    fn hold_mask(self) -> u8 {
        match self {
            Undriven::Hold => 0xFF,
            Undriven::Zero => 0,
        }
    }
}

/// Merged output of one universe.
#[derive(Debug, Clone)]
pub struct MergedOutput {
    levels: [u8; MAX_SLOTS],
    owners: [u8; MAX_SLOTS],
    changes: SlotSet,
}

impl Default for MergedOutput {
    fn default() -> Self {
        Self::new()
    }
}

impl MergedOutput {
    /// All slots 0, driven by nobody, nothing changed.
    pub const fn new() -> Self {
        MergedOutput {
            levels: [0; MAX_SLOTS],
            owners: [NO_OWNER; MAX_SLOTS],
            changes: SlotSet::EMPTY,
        }
    }

    /// The merged levels; index 0 is DMX slot 1.
    #[inline]
    pub fn levels(&self) -> &[u8; MAX_SLOTS] {
        &self.levels
    }

    /// Per slot, the index of the source that drives it, or [`NO_OWNER`].
    #[inline]
    pub fn owners(&self) -> &[u8; MAX_SLOTS] {
        &self.owners
    }

    /// The source that drives slot index `slot` (0-based), if any.
    #[inline]
    pub fn owner(&self, slot: usize) -> Option<u8> {
        self.owners.get(slot).copied().filter(|&o| o != NO_OWNER)
    }

    /// Slots whose merged level changed since the last [`take_changes`](Self::take_changes).
    #[inline]
    pub fn changes(&self) -> &SlotSet {
        &self.changes
    }

    /// Returns and clears the accumulated change set.
    #[inline]
    pub fn take_changes(&mut self) -> SlotSet {
        core::mem::take(&mut self.changes)
    }

    /// Marks the slots source `gone` drove as driven by nobody (their levels stay until the
    /// next merge).
    pub fn forget_owner(&mut self, gone: u8) {
        for o in self.owners.iter_mut().filter(|o| **o == gone) {
            *o = NO_OWNER;
        }
    }

    /// The lone source's fast path: `slots` become both the source's stored levels and the
    /// output, in one pass; owners are unchanged (they already name the lone source). Returns
    /// whether the output changed.
    #[inline]
    pub fn mirror(&mut self, source_levels: &mut [u8; MAX_SLOTS], slots: &[u8]) -> bool {
        copy_and_diff2(source_levels, &mut self.levels, slots, &mut self.changes)
    }

    /// The output is one source's `levels` (its first `levels.len()` slots, all driven by
    /// `owner`); the slots beyond are undriven. Returns whether the output changed.
    pub fn set_single(&mut self, levels: &[u8], owner: u8, undriven: Undriven) -> bool {
        let n = levels.len().min(MAX_SLOTS);
        self.owners[..n].fill(owner);
        self.owners[n..].fill(NO_OWNER);
        let mut changed = copy_and_diff(&mut self.levels, &levels[..n], &mut self.changes);
        if undriven == Undriven::Zero {
            for (i, v) in self.levels.iter_mut().enumerate().skip(n) {
                if *v != 0 {
                    *v = 0;
                    self.changes.insert(i);
                    changed = true;
                }
            }
        }
        changed
    }

    /// Recomputes the output from the sources `add` feeds to the round (in the order ties are
    /// settled: with [`MergeMode::Ltp`] the later source wins a tie). Returns whether the
    /// output changed.
    pub fn merge(
        &mut self,
        mode: MergeMode,
        undriven: Undriven,
        add: impl FnOnce(&mut MergeRound),
    ) -> bool {
        let mut round = MergeRound {
            best_key: [0; MAX_SLOTS],
            best_lvl: [0; MAX_SLOTS],
            owners: [NO_OWNER; MAX_SLOTS],
            mode,
        };
        add(&mut round);
        // Undriven slots keep their value or drop to 0; masks keep it branch-free.
        let hold = undriven.hold_mask();
        let mut out = [0u8; MAX_SLOTS];
        for ((v, &k), (&l, &old)) in out
            .iter_mut()
            .zip(round.best_key.iter())
            .zip(round.best_lvl.iter().zip(self.levels.iter()))
        {
            let driven = 0u8.wrapping_sub(u8::from(k != 0));
            *v = (l & driven) | (old & hold & !driven);
        }
        self.owners = round.owners;
        copy_and_diff(&mut self.levels, &out, &mut self.changes)
    }
}

/// One merge in progress (see [`MergedOutput::merge`]).
pub struct MergeRound {
    best_key: [u8; MAX_SLOTS],
    best_lvl: [u8; MAX_SLOTS],
    owners: [u8; MAX_SLOTS],
    mode: MergeMode,
}

impl MergeRound {
    /// Folds in source `source`: per slot its key (0 = does not drive; higher wins) and level.
    #[inline]
    pub fn add(&mut self, keys: &[u8; MAX_SLOTS], levels: &[u8; MAX_SLOTS], source: u8) {
        merge_source(
            &mut self.best_key,
            &mut self.best_lvl,
            &mut self.owners,
            keys,
            levels,
            source,
            self.mode,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_holds_or_zeroes_undriven_slots_and_tracks_owners() {
        let mut out = MergedOutput::new();
        let mut a = [0u8; MAX_SLOTS];
        a[..4].copy_from_slice(&[10, 20, 30, 40]);
        let mut keys = [0u8; MAX_SLOTS];
        keys[..4].fill(1);
        assert!(out.merge(MergeMode::Htp, Undriven::Hold, |r| r.add(&keys, &a, 3)));
        assert_eq!(out.levels()[..5], [10, 20, 30, 40, 0]);
        assert_eq!((out.owner(0), out.owner(4)), (Some(3), None));
        assert_eq!(out.take_changes().iter().collect::<Vec<_>>(), [0, 1, 2, 3]);

        // The source now drives only two slots: held, then zeroed.
        keys[2..].fill(0);
        assert!(!out.merge(MergeMode::Htp, Undriven::Hold, |r| r.add(&keys, &a, 3)));
        assert_eq!((out.levels()[3], out.owner(3)), (40, None));
        assert!(out.merge(MergeMode::Htp, Undriven::Zero, |r| r.add(&keys, &a, 3)));
        assert_eq!(out.levels()[..4], [10, 20, 0, 0]);

        assert!(out.set_single(&[1, 2, 3], 0, Undriven::Zero));
        assert_eq!(out.levels()[..4], [1, 2, 3, 0]);
        assert_eq!(out.owner(2), Some(0));
        out.forget_owner(0);
        assert_eq!(out.owner(2), None);
        let mut stored = [0u8; MAX_SLOTS];
        assert!(out.mirror(&mut stored, &[9]));
        assert_eq!((stored[0], out.levels()[0]), (9, 9));
    }
}
