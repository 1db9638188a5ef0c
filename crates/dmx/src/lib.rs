//! Protocol-neutral, sans-IO parts shared by patchbay's DMX-over-IP backends (sACN, Art-Net).
//!
//! A DMX universe is 512 slots of one byte each. Every DMX protocol patchbay speaks receives
//! universes from one or more sources, merges them, reports which slots changed, and sends
//! universes under a rate limit; the protocol crates keep their wire formats and source
//! bookkeeping and share what is here, so each rule is written once:
//!
//! * [`SlotSet`]: a fixed 512-bit set of slot indices (e.g. the slots whose merged value changed),
//!   and [`copy_and_diff`], the word-at-a-time copy that fills it.
//! * [`merge_source`]: the merge kernel. Each source contributes a per-slot *key* (0 = does not
//!   drive the slot; higher keys win, e.g. sACN priority + 1) and a level; [`MergeMode`] settles
//!   ties (highest level, or latest source); [`MergedOutput`] keeps a universe's merged levels,
//!   slot owners and changes, and runs the kernel over the sources a protocol ranks.
//! * [`Pacer`]: when a sender sends a stream's next packet (rate limit, repeats, keep-alives),
//!   and [`Deadlines`], one such timer per stream of many universes in one heap.
//! * [`counted_enum!`] and [`CountedSet`]: drop reasons, discards and tolerated deviations with a
//!   dense index for counter arrays and a stable name for counters and logs.
//!
//! No sockets, threads or clock reads here.

pub mod bytes;
mod counted;
mod deadlines;
mod merged;
mod pacer;
mod sequence;
mod slot_set;

pub use counted::{Counted, CountedSet, check_names};
pub use deadlines::Deadlines;
pub use merged::{MergeRound, MergedOutput, NO_OWNER, Undriven};
pub use pacer::{CATCH_UP_AFTER, Limit, Pacer, PacerConfig, SendReason};
pub use sequence::{SequenceRule, SequenceTracker};
pub use slot_set::{SlotSet, SlotSetIter, copy_and_diff, copy_and_diff2};

/// Slots in a DMX universe.
pub const MAX_SLOTS: usize = 512;

/// How sources of equal (highest) priority combine on a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MergeMode {
    /// Highest level wins (E1.31 common practice, OLA, ETC).
    #[default]
    Htp,
    /// The source whose levels packet arrived most recently wins ("newest source wins").
    Ltp,
}

/// Folds one source into the running per-slot best (key 0 = does not drive). Written as
/// branch-free selects over fixed-size arrays so it compiles to SIMD.
#[inline]
pub fn merge_source(
    best_key: &mut [u8; MAX_SLOTS],
    best_lvl: &mut [u8; MAX_SLOTS],
    owners: &mut [u8; MAX_SLOTS],
    keys: &[u8; MAX_SLOTS],
    levels: &[u8; MAX_SLOTS],
    si: u8,
    mode: MergeMode,
) {
    let ltp = mode == MergeMode::Ltp;
    for ((bk, bl), (o, (&k, &l))) in best_key
        .iter_mut()
        .zip(best_lvl.iter_mut())
        .zip(owners.iter_mut().zip(keys.iter().zip(levels.iter())))
    {
        // LTP: sources come in arrival order, so a tie goes to the later one.
        let take = (k != 0) & ((k > *bk) | ((k == *bk) & (ltp | (l > *bl))));
        let m = 0u8.wrapping_sub(u8::from(take));
        *bk = (k & m) | (*bk & !m);
        *bl = (l & m) | (*bl & !m);
        *o = (si & m) | (*o & !m);
    }
}
