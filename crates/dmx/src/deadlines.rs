//! Deadlines of many timers (one per stream of every universe) in one binary heap.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    at: Instant,
    key: u32,
    generation: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct Armed {
    at: Option<Instant>,
    /// Bumped whenever `at` changes; heap entries with another value are stale.
    generation: u32,
}

/// One optional deadline per dense `u32` key (e.g. slab index × streams + stream), earliest
/// first.
///
/// A sender with a thousand universes re-arms a stream's timer on every packet and every
/// change. Removing the old heap entry each time would cost a search; instead each key holds
/// its one live deadline and a generation number, a re-arm pushes a new entry with the next
/// generation, and entries whose generation or time no longer match are skipped when they
/// reach the top (lazy invalidation). Stale entries are compacted away in place once the heap
/// holds twice as many entries as keys, so every operation is O(log n) amortised and the heap
/// never grows past the capacity reserved by [`Deadlines::reserve_keys`] (no allocation in the
/// steady state).
#[derive(Debug, Default)]
pub struct Deadlines {
    heap: BinaryHeap<Reverse<Entry>>,
    keys: Vec<Armed>,
}

impl Deadlines {
    /// An empty queue; [`reserve_keys`](Self::reserve_keys) before use avoids later allocation.
    pub fn new() -> Deadlines {
        Deadlines::default()
    }

    /// Makes room for keys `0..keys` and for the heap entries they can have outstanding, so
    /// that [`set`](Self::set) on those keys never allocates.
    pub fn reserve_keys(&mut self, keys: usize) {
        if self.keys.len() < keys {
            self.keys.resize(keys, Armed::default());
        }
        let want = Self::bound(self.keys.len());
        self.heap.reserve(want.saturating_sub(self.heap.len()));
    }

    /// Heap length at which stale entries are compacted away: every key's live entry plus as
    /// many stale ones, so compaction is amortised O(1) per push.
    const fn bound(keys: usize) -> usize {
        2 * keys + 64
    }

    /// The deadline of `key`, if armed.
    pub fn get(&self, key: u32) -> Option<Instant> {
        self.keys.get(key as usize).and_then(|a| a.at)
    }

    /// Arms `key` for `at` (replacing its previous deadline), or disarms it with `None`. Keys
    /// beyond [`reserve_keys`](Self::reserve_keys) are added (this allocates).
    pub fn set(&mut self, key: u32, at: Option<Instant>) {
        let i = key as usize;
        if i >= self.keys.len() {
            if at.is_none() {
                return;
            }
            self.reserve_keys(i + 1);
        }
        let armed = &mut self.keys[i];
        if armed.at == at {
            return;
        }
        armed.at = at;
        armed.generation = armed.generation.wrapping_add(1);
        let Some(at) = at else {
            return;
        };
        let generation = armed.generation;
        // Compact before the push so the heap never outgrows the reserved capacity.
        if self.heap.len() >= Self::bound(self.keys.len()) {
            self.compact();
        }
        self.heap.push(Reverse(Entry {
            at,
            key,
            generation,
        }));
    }

    /// The earliest armed deadline.
    pub fn earliest(&mut self) -> Option<Instant> {
        self.drop_stale();
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// Disarms and returns the key with the earliest deadline if that is at or before `now`,
    /// with its deadline. Call until `None`; re-arm keys with [`set`](Self::set).
    pub fn pop_due(&mut self, now: Instant) -> Option<(u32, Instant)> {
        self.drop_stale();
        let &Reverse(top) = self.heap.peek()?;
        if top.at > now {
            return None;
        }
        self.heap.pop();
        // Disarmed without a new generation: no other entry of this key can be live, since a
        // key has at most one entry with its current generation.
        self.keys[top.key as usize].at = None;
        Some((top.key, top.at))
    }

    /// Entries in the heap, stale ones included (bounded by twice the keys, plus 64).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether the heap holds no entry at all.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    fn is_live(&self, e: &Entry) -> bool {
        self.keys
            .get(e.key as usize)
            .is_some_and(|a| a.generation == e.generation && a.at == Some(e.at))
    }

    fn drop_stale(&mut self) {
        while let Some(Reverse(top)) = self.heap.peek() {
            if self.is_live(top) {
                break;
            }
            self.heap.pop();
        }
    }

    /// Drops stale entries in place (no allocation).
    fn compact(&mut self) {
        let keys = &self.keys;
        self.heap.retain(|Reverse(e)| {
            keys.get(e.key as usize)
                .is_some_and(|a| a.generation == e.generation && a.at == Some(e.at))
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    #[test]
    fn earliest_first_and_rearm_replaces() {
        let t0 = Instant::now();
        let mut d = Deadlines::new();
        d.reserve_keys(4);
        d.set(0, Some(at(t0, 30)));
        d.set(1, Some(at(t0, 10)));
        d.set(2, Some(at(t0, 20)));
        // Re-armed later: its old entry (10 ms) is stale.
        d.set(1, Some(at(t0, 40)));
        assert_eq!(d.earliest(), Some(at(t0, 20)));
        assert_eq!(d.pop_due(at(t0, 19)), None);
        assert_eq!(d.pop_due(at(t0, 35)), Some((2, at(t0, 20))));
        assert_eq!(d.pop_due(at(t0, 35)), Some((0, at(t0, 30))));
        assert_eq!(d.pop_due(at(t0, 35)), None);
        assert_eq!(d.get(1), Some(at(t0, 40)));
        d.set(1, None);
        assert_eq!(d.earliest(), None);
        assert_eq!(d.pop_due(at(t0, 1000)), None);
    }

    #[test]
    fn setting_the_same_deadline_pushes_nothing() {
        let t0 = Instant::now();
        let mut d = Deadlines::new();
        d.set(3, Some(t0));
        d.set(3, Some(t0));
        assert_eq!(d.len(), 1);
        // Disarming an unknown key allocates nothing and changes nothing.
        d.set(1000, None);
        assert_eq!(d.get(1000), None);
    }

    #[test]
    fn a_popped_key_rearmed_for_the_same_time_is_live() {
        let t0 = Instant::now();
        let mut d = Deadlines::new();
        d.set(0, Some(t0));
        assert_eq!(d.pop_due(t0), Some((0, t0)));
        d.set(0, Some(t0));
        assert_eq!(d.pop_due(t0), Some((0, t0)));
    }

    #[test]
    fn the_heap_stays_bounded_by_the_keys() {
        let t0 = Instant::now();
        let mut d = Deadlines::new();
        d.reserve_keys(10);
        let cap = d.heap.capacity();
        for i in 0..100_000u64 {
            d.set((i % 10) as u32, Some(at(t0, i % 977)));
            assert!(d.len() <= Deadlines::bound(10) + 1);
        }
        assert_eq!(d.heap.capacity(), cap, "grew");
        // Exactly one live deadline per key remains.
        let mut n = 0;
        while d.pop_due(at(t0, 10_000)).is_some() {
            n += 1;
        }
        assert_eq!(n, 10);
    }
}
