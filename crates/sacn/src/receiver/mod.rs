//! Receive side of ANSI E1.31-2018 as a sans-IO state machine (E1.31-2018 and the sACN backend README).
//!
//! No sockets, threads or clock reads: the caller passes every datagram with the `Instant` it
//! arrived, calls [`Receiver::handle_timeout`] when [`Receiver::poll_timeout`] says so, and reads
//! results with [`Receiver::poll_changed`] (merged output per universe + which slots changed) and
//! [`Receiver::poll_event`] (sources appearing, lost, terminated, ...), the shape of quinn-proto.
//!
//! Layers: [`UniverseReceiver`] holds one universe (sources, merge, 0xDD, sampling, sync hold);
//! [`Receiver`] owns many of them, looks universes up by binary search, routes sync packets to
//! the universes that hold data, feeds discovery pages to a
//! [`DiscoveryTracker`] and keeps one deadline heap so that
//! `poll_timeout` is O(1) with thousands of universes. After warm-up nothing allocates per packet.
//!
//! Choices worth knowing (details on [`UniverseReceiver`]):
//!
//! * Order of checks per data packet (the sACN backend README): universe known → own CID → `from` filter →
//!   start code (0x00 levels, 0xDD priorities, others counted as
//!   [`Discard::UnsupportedStartCode`]) → preview → sequence (per CID and universe; sync
//!   packets per CID and sync universe) → termination → 0xDD / levels / sync hold. A packet
//!   with Stream_Terminated skips the start code and preview checks: it ends the source's
//!   stream whatever its start code and even as a preview (E1.31-2018 6.2.6), once it has
//!   passed the sequence check.
//! * Sampling period and the 1.5 s wait for 0xDD follow ETC's receiver; levels stored during the
//!   wait are merged as soon as the 0xDD packet (or the end of the wait) arrives.
//! * Loss is exact (heard at `t`, lost at `t + 2.5 s`); the takeover by remaining sources waits,
//!   at most 1 s, until they have been heard again (ETC's data loss behaviour), so a failing
//!   link never shows or holds a lower-priority look. `loss_settle = 0` turns this off.
//! * Force_Synchronization follows the text of E1.31-2018 6.2.6: bit **clear** = keep holding
//!   while the sync stream is lost, bit **set** = revert to applying data on arrival (some summaries of the
//!   standard state it the other way round). Data is only ever held once
//!   a sync packet of the same CID for that address has been seen (E1.31 6.2.4.1).
//! * Universe discovery entries expire after 25 s (two 10 s intervals plus margin).
//! * Bounds: sources per universe (default 64), sync streams, discovery sources and list
//!   lengths, queued events; everything beyond is dropped and counted.

mod config;
mod fuzz;
mod name;
mod outcome;
mod sequence;
mod sync;
mod universe;

#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

use crate::discovery::DiscoveryTracker;
use crate::wire::{DATA_UNIVERSES, DataPacket, DiscoveryPacket, Packet, SyncPacket};

pub use config::{
    DEFAULT_MAX_SOURCES_PER_UNIVERSE, LOSS_SETTLE, LossBehavior, MAX_SOURCES_PER_UNIVERSE,
    MergeMode, NETWORK_DATA_LOSS_TIMEOUT, PER_ADDRESS_PRIORITY_WAIT, ReceiverConfig,
    SAMPLING_PERIOD, UniverseConfig,
};
pub use fuzz::fuzz_receiver;
pub use name::SourceName;
pub use outcome::{Counters, Discard, DropCause, Dropped, Event, EventQueue, Handled};
pub use patchbay_dmx::{SlotSet, SlotSetIter};
pub use sequence::{SequenceTracker, sequence_accepts};
pub use universe::{SourceView, SyncStatus, Traffic, UniverseOutcome, UniverseReceiver};

use sync::SyncTable;

/// Why a universe could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReceiverError {
    /// Data universes are 1..=63999.
    #[error("universe {0} is outside 1..=63999")]
    InvalidUniverse(u16),
    /// The universe is already being received.
    #[error("universe {0} is already being received")]
    AlreadyListening(u16),
}

struct Slot {
    rx: UniverseReceiver,
    scheduled: Option<Instant>,
    dirty: bool,
    sync_registered: bool,
}

/// Multi-universe receiver. See the [module docs](self).
pub struct Receiver {
    cfg: ReceiverConfig,
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    /// (universe, slot index), sorted by universe.
    index: Vec<(u16, u32)>,
    heap: BinaryHeap<Reverse<(Instant, u32)>>,
    dirty: VecDeque<u32>,
    /// Slots with at least one source holding data for a sync packet.
    sync_waiting: Vec<u32>,
    sync: SyncTable,
    discovery: DiscoveryTracker,
    discovery_deadline: Option<Instant>,
    events: EventQueue,
    counters: Counters,
}

impl Receiver {
    /// A receiver that listens to no universe yet (discovery pages are always tracked).
    pub fn new(cfg: ReceiverConfig) -> Self {
        Receiver {
            slots: Vec::new(),
            free: Vec::new(),
            index: Vec::new(),
            heap: BinaryHeap::new(),
            dirty: VecDeque::new(),
            sync_waiting: Vec::new(),
            sync: SyncTable::new(cfg.max_sync_streams, cfg.sync_timeout),
            discovery: DiscoveryTracker::new(cfg.discovery),
            discovery_deadline: None,
            events: EventQueue::new(cfg.event_capacity),
            counters: Counters::default(),
            cfg,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &ReceiverConfig {
        &self.cfg
    }

    /// Starts receiving `universe` at `now`; its sampling period begins.
    pub fn add_universe(
        &mut self,
        now: Instant,
        universe: u16,
        ucfg: UniverseConfig,
    ) -> Result<(), ReceiverError> {
        if !DATA_UNIVERSES.contains(&universe) {
            return Err(ReceiverError::InvalidUniverse(universe));
        }
        let pos = match self.index.binary_search_by_key(&universe, |e| e.0) {
            Ok(_) => return Err(ReceiverError::AlreadyListening(universe)),
            Err(pos) => pos,
        };
        let rx = UniverseReceiver::new(universe, now, &self.cfg, ucfg);
        let slot = Slot {
            rx,
            scheduled: None,
            dirty: false,
            sync_registered: false,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(pos, (universe, idx));
        // Room for every universe once, so marking dirty never allocates later.
        self.dirty
            .reserve(self.index.len().saturating_sub(self.dirty.len()));
        self.sync_waiting
            .reserve(self.index.len().saturating_sub(self.sync_waiting.len()));
        // The heap is compacted above 2 × slots + 64 entries, so this much room is never outgrown.
        let heap_room = 2 * self.slots.len() + 65;
        self.heap.reserve(heap_room.saturating_sub(self.heap.len()));
        self.schedule_new(idx);
        Ok(())
    }

    /// Stops receiving `universe`; returns whether it was received.
    pub fn remove_universe(&mut self, universe: u16) -> bool {
        let Ok(pos) = self.index.binary_search_by_key(&universe, |e| e.0) else {
            return false;
        };
        let (_, idx) = self.index.remove(pos);
        self.slots[idx as usize] = None;
        self.free.push(idx);
        true
    }

    /// The state of one universe.
    pub fn universe(&self, universe: u16) -> Option<&UniverseReceiver> {
        let idx = self.lookup(universe)?;
        self.slots[idx as usize].as_ref().map(|s| &s.rx)
    }

    /// Whether [`poll_changed`](Self::poll_changed) will return `universe`: its merged output
    /// changed since it was last returned. A caller that reads datagrams in batches asks this
    /// before handing over another packet of the same universe, which would otherwise merge
    /// into the unreported change (and the earlier frame would never be seen on its own).
    /// Binary search over the universes; no allocation.
    pub fn has_pending_change(&self, universe: u16) -> bool {
        self.lookup(universe)
            .and_then(|idx| self.slots.get(idx as usize))
            .and_then(|s| s.as_ref())
            .is_some_and(|s| s.dirty)
    }

    /// Universes received, ascending.
    pub fn universes(&self) -> impl Iterator<Item = u16> + '_ {
        self.index.iter().map(|e| e.0)
    }

    /// Discovery state.
    pub fn discovery(&self) -> &DiscoveryTracker {
        &self.discovery
    }

    /// Counters by outcome and reason.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Events lost because the event queue was full.
    pub fn events_dropped(&self) -> u64 {
        self.events.dropped()
    }

    /// Number of (CID, sync universe) streams tracked.
    pub fn sync_stream_count(&self) -> usize {
        self.sync.len()
    }

    #[inline]
    fn lookup(&self, universe: u16) -> Option<u32> {
        self.index
            .binary_search_by_key(&universe, |e| e.0)
            .ok()
            .map(|p| self.index[p].1)
    }

    /// Takes a data packet whose levels the caller skips because it is stale (it waited long in
    /// a queue that stood; newer input follows): a known source stays alive and its sequence
    /// number counts ([`UniverseReceiver::keep_alive`]). Returns false when the packet needs
    /// [`handle_datagram`](Self::handle_datagram) instead. Timers are not run.
    pub fn keep_alive(&mut self, now: Instant, p: &DataPacket<'_>) -> bool {
        self.lookup(p.universe())
            .and_then(|idx| self.slots.get_mut(idx as usize))
            .and_then(|s| s.as_mut())
            .is_some_and(|s| s.rx.keep_alive(now, p))
    }

    /// Processes one received datagram.
    ///
    /// Timers due at `now` run first, so a source silent for longer than the loss timeout comes
    /// back as a new source even if the caller was late with [`handle_timeout`](Self::handle_timeout).
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8]) -> Result<Handled, Dropped> {
        if self.poll_timeout().is_some_and(|t| now >= t) {
            self.handle_timeout(now);
        }
        let res = match Packet::parse(bytes) {
            Err(r) => Err(Dropped::malformed(r)),
            Ok(Packet::Data(p)) => {
                self.counters.count_irregular(p.irregularities());
                self.on_data(now, &p)
            }
            Ok(Packet::Sync(p)) => self.on_sync(now, &p),
            Ok(Packet::Discovery(p)) => self.on_discovery(now, &p),
        };
        match &res {
            Err(d) => self.counters.count_drop(d),
            Ok(Handled::Data { .. } | Handled::Held { .. }) => self.counters.data += 1,
            Ok(Handled::Sync { .. }) => self.counters.sync += 1,
            Ok(Handled::Discovery { .. }) => self.counters.discovery += 1,
        }
        res
    }

    fn on_data(&mut self, now: Instant, p: &DataPacket<'_>) -> Result<Handled, Dropped> {
        let universe = p.universe();
        let cid = p.cid();
        if self.cfg.own_cid == Some(cid) {
            return Err(Dropped::discarded(Discard::OwnCid, Some(universe), cid));
        }
        let Some(idx) = self.lookup(universe) else {
            return Err(Dropped::discarded(
                Discard::UnknownUniverse,
                Some(universe),
                cid,
            ));
        };
        let sync_address = p.sync_address();
        let sync = if sync_address == 0 {
            SyncStatus::NotSynchronized
        } else {
            self.sync.status(now, cid, sync_address)
        };
        let Some(slot) = self.slots[idx as usize].as_mut() else {
            return Err(Dropped::discarded(
                Discard::UnknownUniverse,
                Some(universe),
                cid,
            ));
        };
        let out = slot.rx.handle_data(now, p, sync, &mut self.events);
        let new_deadline = slot.rx.take_new_deadline();
        let res = match out {
            Err(d) => Err(Dropped::discarded(d, Some(universe), cid)),
            Ok(UniverseOutcome::Applied { changed }) => {
                if changed {
                    mark_dirty(slot, &mut self.dirty, idx);
                }
                Ok(Handled::Data { universe, changed })
            }
            Ok(UniverseOutcome::Held) => {
                if !slot.sync_registered {
                    slot.sync_registered = true;
                    self.sync_waiting.push(idx);
                }
                Ok(Handled::Held { universe })
            }
        };
        if let Some(t) = new_deadline {
            self.schedule(idx, t);
        }
        res
    }

    fn on_sync(&mut self, now: Instant, p: &SyncPacket<'_>) -> Result<Handled, Dropped> {
        let cid = p.cid();
        let address = p.sync_address();
        if self.cfg.own_cid == Some(cid) {
            return Err(Dropped::discarded(Discard::OwnCid, Some(address), cid));
        }
        self.sync
            .accept(now, cid, p.sequence(), address)
            .map_err(|d| Dropped::discarded(d, Some(address), cid))?;
        let mut changed_universes = 0;
        let mut k = 0;
        while k < self.sync_waiting.len() {
            let idx = self.sync_waiting[k];
            let Some(slot) = self.slots.get_mut(idx as usize).and_then(|s| s.as_mut()) else {
                self.sync_waiting.swap_remove(k);
                continue;
            };
            if slot.rx.release_sync(cid, address) {
                changed_universes += 1;
                mark_dirty(slot, &mut self.dirty, idx);
            }
            if slot.rx.holds_sync_data() {
                k += 1;
            } else {
                slot.sync_registered = false;
                self.sync_waiting.swap_remove(k);
            }
        }
        Ok(Handled::Sync {
            address,
            changed_universes,
        })
    }

    fn on_discovery(&mut self, now: Instant, p: &DiscoveryPacket<'_>) -> Result<Handled, Dropped> {
        let cid = p.cid();
        if self.cfg.own_cid == Some(cid) {
            return Err(Dropped::discarded(Discard::OwnCid, None, cid));
        }
        let complete = self
            .discovery
            .handle_page(now, p, &mut self.events)
            .map_err(|d| Dropped::discarded(d, None, cid))?;
        if let Some(t) = self.discovery.deadline_for(now) {
            self.discovery_deadline = Some(self.discovery_deadline.map_or(t, |d| d.min(t)));
        }
        Ok(Handled::Discovery { cid, complete })
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work. O(1); may be early (then
    /// the call does nothing but reschedule), never late.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let heap = self.heap.peek().map(|Reverse((t, _))| *t);
        match (heap, self.discovery_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, None) => a,
            (None, b) => b,
        }
    }

    /// Runs every timer due at `now`: sampling ends, source loss, 0xDD wait/loss, discovery
    /// expiry. Changed universes are then reported by [`poll_changed`](Self::poll_changed).
    pub fn handle_timeout(&mut self, now: Instant) {
        // Bounded so that a misbehaving deadline can never spin forever.
        let mut budget = self.heap.len() + self.slots.len() + 8;
        while let Some(&Reverse((t, idx))) = self.heap.peek() {
            if t > now || budget == 0 {
                break;
            }
            budget -= 1;
            self.heap.pop();
            let Some(slot) = self.slots.get_mut(idx as usize).and_then(|s| s.as_mut()) else {
                continue;
            };
            if slot.scheduled != Some(t) {
                continue;
            }
            slot.scheduled = None;
            if slot.rx.handle_timeout(now, &mut self.events) {
                mark_dirty(slot, &mut self.dirty, idx);
            }
            slot.rx.take_new_deadline();
            if let Some(next) = slot.rx.next_deadline() {
                slot.scheduled = Some(next);
                self.heap.push(Reverse((next, idx)));
            }
        }
        if self.discovery_deadline.is_some_and(|t| now >= t) {
            self.discovery.handle_timeout(now, &mut self.events);
            self.discovery_deadline = self.discovery.next_deadline();
        }
        self.compact_heap();
    }

    /// Oldest pending event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// A universe whose merged output changed since it was last returned, with the slots that
    /// changed; read the values with [`universe`](Self::universe)`(u).slots()`.
    pub fn poll_changed(&mut self) -> Option<(u16, SlotSet)> {
        while let Some(idx) = self.dirty.pop_front() {
            let Some(slot) = self.slots.get_mut(idx as usize).and_then(|s| s.as_mut()) else {
                continue;
            };
            if !slot.dirty {
                continue;
            }
            slot.dirty = false;
            return Some((slot.rx.universe(), slot.rx.take_changes()));
        }
        None
    }

    fn schedule_new(&mut self, idx: u32) {
        if let Some(slot) = self.slots[idx as usize].as_mut()
            && let Some(t) = slot.rx.take_new_deadline()
        {
            self.schedule(idx, t);
        }
    }

    /// Makes sure slot `idx` is woken no later than `t`.
    fn schedule(&mut self, idx: u32, t: Instant) {
        let Some(slot) = self.slots.get_mut(idx as usize).and_then(|s| s.as_mut()) else {
            return;
        };
        if slot.scheduled.is_some_and(|s| s <= t) {
            return;
        }
        slot.scheduled = Some(t);
        self.compact_heap();
        self.heap.push(Reverse((t, idx)));
    }

    /// Drops superseded heap entries once they outnumber live ones, bounding the heap.
    fn compact_heap(&mut self) {
        if self.heap.len() > 2 * self.slots.len() + 64 {
            let slots = &self.slots;
            self.heap.retain(|Reverse((t, idx))| {
                slots
                    .get(*idx as usize)
                    .and_then(|s| s.as_ref())
                    .is_some_and(|s| s.scheduled == Some(*t))
            });
        }
    }
}

fn mark_dirty(slot: &mut Slot, dirty: &mut VecDeque<u32>, idx: u32) {
    if !slot.dirty {
        slot.dirty = true;
        dirty.push_back(idx);
    }
}

impl core::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Receiver")
            .field("universes", &self.index.len())
            .field("sync_streams", &self.sync.len())
            .field("discovery_sources", &self.discovery.len())
            .finish_non_exhaustive()
    }
}
