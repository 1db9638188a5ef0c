//! One Port-Address: at most two sources, their merge into 512 slots with a change set, and
//! the data they hold for ArtSync.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use patchbay_dmx::{MergeMode, MergedOutput, NO_OWNER, SlotSet, Undriven, copy_and_diff};

use super::Events;
use super::config::MAX_SOURCES;
use super::outcome::{Discard, Event};
use super::sequence::SequenceTracker;
use crate::PortAddress;
use crate::wire::{DmxPacket, MAX_SLOTS};

/// What an ArtDmx did to its universe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UniverseOutcome {
    /// Taken in; `changed`: the merged output changed.
    Applied { changed: bool },
    /// Held for the source's next ArtSync.
    Held,
}

#[derive(Clone)]
struct Source {
    ip: Ipv4Addr,
    seq: SequenceTracker,
    last_heard: Instant,
    /// Slots its last applied packet carried: it drives slots `0..len` and no others.
    len: u16,
    /// Arrival order of its last applied packet (LTP).
    stamp: u64,
    /// Slots held for ArtSync (`None`: nothing held).
    held: Option<u16>,
    levels: [u8; MAX_SLOTS],
    held_levels: [u8; MAX_SLOTS],
}

/// Read-only view of one source of a universe.
#[derive(Debug, Clone, Copy)]
pub struct SourceView<'a> {
    /// Its IP address (Art-Net 4 tells sources apart by IP address).
    pub ip: Ipv4Addr,
    /// When its last ArtDmx arrived.
    pub last_heard: Instant,
    /// How many slots it drives: those its last applied packet carried.
    pub len: usize,
    /// Last accepted nonzero sequence number.
    pub last_sequence: Option<u8>,
    /// It has data held for ArtSync.
    pub holding: bool,
    /// Its levels (only `levels[..len]` are driven).
    pub levels: &'a [u8; MAX_SLOTS],
}

/// One Port-Address universe of a [`Receiver`](super::Receiver).
///
/// # Rules
///
/// * **Sources** are IP addresses (the ArtDmx `Physical` byte, which the specification
///   offers to tell apart two input ports of one node, is not part of the identity, as in
///   OLA: such a node shows as one source). Art-Net 4 merges at most two; a third is refused
///   ([`Discard::TooManySources`], [`Event::SourceRefused`] once until a source leaves) until
///   one of the two has not been heard for the source timeout (10 s), when it leaves the merge.
/// * **Merge**: HTP (highest level per slot) or LTP (the source whose packet arrived last wins
///   every slot it drives), through `patchbay_dmx::merge_source`, the kernel sACN uses.
/// * **Short packets**: a source drives exactly the slots its last packet carried (key 0
///   beyond its length), as OLA merges `DmxBuffer`s of different sizes. A slot no source
///   drives keeps its last merged value (MIDIMonster and sACN's default hold last look).
/// * **Sequence**: see [`sequence_accepts`](super::sequence_accepts); per source.
/// * **ArtSync**: the [`Receiver`](super::Receiver) says whether a packet's controller is in
///   synchronous mode; if so, and the universe is not merging, its data is held (superseding
///   earlier held data) until that controller's next ArtSync. While merging, ArtSync is
///   ignored (Art-Net 4) and data applies on arrival; data held when the second source
///   appears is applied at once.
#[derive(Clone)]
pub struct UniverseReceiver {
    address: PortAddress,
    merge: MergeMode,
    source_timeout: Duration,
    sources: [Option<Source>; MAX_SOURCES],
    out: MergedOutput,
    /// The lone source, right after a merge made the output's `[..len]` equal its levels: its next
    /// packets of the same length update both in one pass.
    fast: Option<u8>,
    next_stamp: u64,
    refused_reported: bool,
}

impl UniverseReceiver {
    pub(crate) fn new(address: PortAddress, merge: MergeMode, source_timeout: Duration) -> Self {
        UniverseReceiver {
            address,
            merge,
            source_timeout,
            sources: [None, None],
            out: MergedOutput::new(),
            fast: None,
            next_stamp: 0,
            refused_reported: false,
        }
    }

    /// Port-Address.
    pub fn address(&self) -> PortAddress {
        self.address
    }

    /// Merged output; index 0 is DMX slot 1.
    #[inline]
    pub fn slots(&self) -> &[u8; MAX_SLOTS] {
        self.out.levels()
    }

    /// Slots whose merged value changed and were not reported yet.
    #[inline]
    pub fn changes(&self) -> &SlotSet {
        self.out.changes()
    }

    pub(crate) fn take_changes(&mut self) -> SlotSet {
        self.out.take_changes()
    }

    /// Number of sources (0..=2).
    pub fn source_count(&self) -> usize {
        self.sources.iter().flatten().count()
    }

    /// Whether two sources are merged (ArtPollReply `GoodOutputA` bit 3).
    pub fn is_merging(&self) -> bool {
        self.source_count() == MAX_SOURCES
    }

    /// The sources.
    pub fn sources(&self) -> impl Iterator<Item = SourceView<'_>> {
        self.sources.iter().flatten().map(|s| SourceView {
            ip: s.ip,
            last_heard: s.last_heard,
            len: usize::from(s.len),
            last_sequence: s.seq.last(),
            holding: s.held.is_some(),
            levels: &s.levels,
        })
    }

    /// The source whose level slot index `i` (0-based) shows, if any drives it.
    pub fn winner(&self, i: usize) -> Option<Ipv4Addr> {
        let o = self.out.owner(i)?;
        self.sources
            .get(usize::from(o))
            .and_then(|s| s.as_ref())
            .map(|s| s.ip)
    }

    /// Whether a source holds data for ArtSync.
    pub fn holds_sync_data(&self) -> bool {
        self.sources.iter().flatten().any(|s| s.held.is_some())
    }

    #[inline]
    fn find(&self, ip: Ipv4Addr) -> Option<usize> {
        self.sources
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.ip == ip))
    }

    /// Earliest instant a source times out.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.sources
            .iter()
            .flatten()
            .filter_map(|s| s.last_heard.checked_add(self.source_timeout))
            .min()
    }

    /// Whether `pkt` from `ip` passes the source and sequence checks; the index of its source
    /// (`None`: it would be new).
    fn screen(&self, ip: Ipv4Addr, pkt: &DmxPacket<'_>) -> Result<Option<usize>, Discard> {
        match self.find(ip) {
            Some(i) => {
                let s = self.sources[i].as_ref().ok_or(Discard::TooManySources)?;
                if s.seq.would_accept(pkt.sequence()) {
                    Ok(Some(i))
                } else {
                    Err(Discard::OutOfSequence)
                }
            }
            None if self.source_count() >= MAX_SOURCES => Err(Discard::TooManySources),
            None => Ok(None),
        }
    }

    /// Takes a packet whose levels are skipped (the reader is far behind): its known source's
    /// timeout restarts and its sequence number counts. False, with nothing changed, when the
    /// packet needs [`handle_dmx`](Self::handle_dmx) (an unknown source, or one it would drop).
    pub(crate) fn keep_alive(&mut self, now: Instant, ip: Ipv4Addr, pkt: &DmxPacket<'_>) -> bool {
        let Ok(Some(i)) = self.screen(ip, pkt) else {
            return false;
        };
        let Some(s) = self.sources[i].as_mut() else {
            return false;
        };
        s.seq.accept(pkt.sequence());
        s.last_heard = now;
        true
    }

    /// Takes in one ArtDmx of this universe from `ip`. `sync_active`: `ip` is a controller in
    /// synchronous mode.
    pub(crate) fn handle_dmx(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        pkt: &DmxPacket<'_>,
        sync_active: bool,
        events: &mut Events,
    ) -> Result<UniverseOutcome, Discard> {
        let mut changed = false;
        let i = match self.screen(ip, pkt) {
            Ok(Some(i)) => i,
            Ok(None) => {
                let i = self.add_source(now, ip, events);
                if self.is_merging() {
                    // Merging ignores ArtSync: what the other source held goes out now.
                    changed |= self.release_all_held();
                }
                i
            }
            Err(Discard::TooManySources) => {
                if !self.refused_reported {
                    self.refused_reported = true;
                    events.push(Event::SourceRefused {
                        address: self.address,
                        ip,
                    });
                }
                return Err(Discard::TooManySources);
            }
            Err(d) => return Err(d),
        };
        let merging = self.is_merging();
        let Some(s) = self.sources[i].as_mut() else {
            return Err(Discard::TooManySources);
        };
        s.seq.accept(pkt.sequence());
        s.last_heard = now;
        let slots = pkt.slots();
        if sync_active && !merging {
            let n = slots.len().min(MAX_SLOTS);
            s.held_levels[..n].copy_from_slice(&slots[..n]);
            // n ≤ 512.
            s.held = Some(n as u16);
            return Ok(UniverseOutcome::Held);
        }
        s.held = None;
        changed |= self.apply_levels(i, slots);
        Ok(UniverseOutcome::Applied { changed })
    }

    /// Outputs the data `ip` holds for ArtSync; returns whether the merged output changed.
    pub(crate) fn release_held(&mut self, ip: Ipv4Addr) -> bool {
        match self.find(ip) {
            Some(i) => self.release(i),
            None => false,
        }
    }

    fn release_all_held(&mut self) -> bool {
        let mut changed = false;
        for i in 0..MAX_SOURCES {
            changed |= self.release(i);
        }
        changed
    }

    fn release(&mut self, i: usize) -> bool {
        let Some(s) = self.sources[i].as_mut() else {
            return false;
        };
        let Some(len) = s.held.take() else {
            return false;
        };
        let n = usize::from(len).min(MAX_SLOTS);
        let held = s.held_levels;
        self.apply_levels(i, &held[..n])
    }

    /// Drops sources not heard for the source timeout; returns whether the output changed.
    pub(crate) fn handle_timeout(&mut self, now: Instant, events: &mut Events) -> bool {
        let mut lost = false;
        for slot in self.sources.iter_mut() {
            let Some(s) = slot.as_ref() else {
                continue;
            };
            if now.saturating_duration_since(s.last_heard) >= self.source_timeout {
                events.push(Event::SourceLost {
                    address: self.address,
                    ip: s.ip,
                });
                *slot = None;
                lost = true;
            }
        }
        if !lost {
            return false;
        }
        self.refused_reported = false;
        self.full_merge()
    }

    fn add_source(&mut self, now: Instant, ip: Ipv4Addr, events: &mut Events) -> usize {
        let fresh = Source {
            ip,
            seq: SequenceTracker::new(),
            last_heard: now,
            len: 0,
            stamp: 0,
            held: None,
            levels: [0; MAX_SLOTS],
            held_levels: [0; MAX_SLOTS],
        };
        let i = self.sources.iter().position(Option::is_none).unwrap_or(0);
        self.sources[i] = Some(fresh);
        self.fast = None;
        events.push(Event::SourceAdded {
            address: self.address,
            ip,
            sources: self.source_count(),
        });
        i
    }

    fn apply_levels(&mut self, i: usize, slots: &[u8]) -> bool {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        let fast = self.fast == Some(i as u8);
        let merge = self.merge;
        let UniverseReceiver { sources, out, .. } = self;
        let Some(s) = sources[i].as_mut() else {
            return false;
        };
        s.stamp = stamp;
        // ≤ 512 slots.
        let len = slots.len().min(MAX_SLOTS) as u16;
        let len_changed = s.len != len;
        s.len = len;
        if fast && !len_changed {
            // The lone source: its levels are the output, slot for slot.
            return out.mirror(&mut s.levels, slots);
        }
        let mut scratch = SlotSet::EMPTY;
        let levels_changed = copy_and_diff(&mut s.levels, slots, &mut scratch);
        // With HTP an unchanged packet changes nothing; LTP ranks by arrival, so any packet
        // of a merging source can change owners.
        if !levels_changed && !len_changed && (merge == MergeMode::Htp || !self.is_merging()) {
            return false;
        }
        self.full_merge()
    }

    /// Recomputes the merged output from every source; returns whether it changed.
    fn full_merge(&mut self) -> bool {
        let mut order = [0u8; MAX_SOURCES];
        let mut n = 0;
        for (i, s) in self.sources.iter().enumerate() {
            if s.is_some() {
                order[n] = i as u8;
                n += 1;
            }
        }
        let order = &mut order[..n];
        if self.merge == MergeMode::Ltp {
            // Later arrivals win ties in the kernel.
            order.sort_unstable_by_key(|&i| {
                self.sources[usize::from(i)].as_ref().map_or(0, |s| s.stamp)
            });
        }
        let mut keys = [0u8; MAX_SLOTS];
        let sources = &self.sources;
        let changed = self.out.merge(self.merge, Undriven::Hold, |round| {
            for &si in order.iter() {
                let Some(s) = sources[usize::from(si)].as_ref() else {
                    continue;
                };
                let len = usize::from(s.len);
                keys[..len].fill(1);
                keys[len..].fill(0);
                round.add(&keys, &s.levels, si);
            }
        });
        self.fast = match *order {
            [only] => Some(only),
            _ => None,
        };
        changed
    }

    /// Recomputes every driven slot the slow obvious way and compares it with the
    /// incremental result (fuzzing and tests only).
    pub(crate) fn verify_merge(&self) -> Result<(), String> {
        for slot in 0..MAX_SLOTS {
            // (level, stamp, index) of each source driving the slot.
            let mut drivers = [None; MAX_SOURCES];
            for (i, s) in self.sources.iter().enumerate() {
                if let Some(s) = s.as_ref().filter(|s| slot < usize::from(s.len)) {
                    drivers[i] = Some((s.levels[slot], s.stamp, i));
                }
            }
            let drivers = drivers.iter().flatten();
            let owner = self.out.owners()[slot];
            let best = match self.merge {
                MergeMode::Htp => drivers.clone().map(|d| d.0).max(),
                MergeMode::Ltp => drivers.clone().max_by_key(|d| d.1).map(|d| d.0),
            };
            let Some(best) = best else {
                if owner != NO_OWNER {
                    return Err(format!("slot {slot}: undriven but owned by {owner}"));
                }
                continue;
            };
            let owner_ok = drivers
                .clone()
                .any(|d| d.2 == usize::from(owner) && d.0 == best);
            if self.out.levels()[slot] != best || !owner_ok {
                let all: Vec<_> = drivers.collect();
                return Err(format!(
                    "slot {slot}: merged {} owner {owner}, expected {best} from {all:?}",
                    self.out.levels()[slot]
                ));
            }
        }
        Ok(())
    }
}

impl core::fmt::Debug for UniverseReceiver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UniverseReceiver")
            .field("address", &self.address)
            .field("sources", &self.source_count())
            .finish_non_exhaustive()
    }
}
