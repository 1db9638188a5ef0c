//! Sans-IO sACN source: decides when each data, sync and discovery packet goes out.
//!
//! The caller owns sockets and clocks (quinn-proto style): it feeds changes with an
//! [`Instant`], drains [`Source::poll_transmit`] into a buffer after every batch and on every
//! wake-up, maps [`TransmitKind`] to a destination, and sleeps until [`Source::poll_timeout`].
//!
//! Per universe there are up to two streams, levels (start code 0x00) and optional per-address
//! priorities (0xDD); they share the universe's sequence counter but keep their own timing:
//! nothing before the first change, then the change at once or, before its rate-limit slot
//! allows, one deferred packet that carries the latest values; `repeats` repeats; then
//! keep-alives.
//!
//! The timing of each stream (rate limit, repeats, keep-alive) is a [`Pacer`] from
//! `patchbay-dmx`. Rate-limited universes use a strict limit ([`patchbay_dmx::Limit::Strict`]):
//! polled on time, no two packets of a stream closer than [`SourceConfig::min_gap`] (1/44 s), so
//! never more than 44 in any second; the final state always goes out, within one gap of the last
//! change. Lateness of the caller up to [`SourceConfig::late_allowance`] is not charged to the
//! schedule, and a 44 fps input whose frames have all waited for their slots for a second gives
//! up one frame to get back onto its phase ([`SourceConfig::catch_up`]). Realtime universes use a burst limit of
//! [`SourceConfig::realtime_min_gap`] slots with [`SourceConfig::realtime_tolerance`]. The first
//! repeat after a change waits a gap plus [`SourceConfig::jitter_tolerance`], so a frame of a
//! 44 fps stream that comes a little late does not find its slot taken by a repeat.
//! Termination packets are not paced: all of them go out at once. Each stream has at most one
//! live deadline in a [`Deadlines`] heap (generation-based lazy invalidation), so every
//! operation is O(log n) in the number of universes.

mod config;

use std::collections::HashMap;
use std::time::Instant;

use patchbay_dmx::{Deadlines, Pacer, PacerConfig};

pub use config::{SourceConfig, UniverseConfig};

use crate::Cid;
use crate::wire::{
    DATA_UNIVERSES, DataHeader, MAX_PRIORITY, MAX_SLOTS, Options, START_CODE_LEVELS,
    START_CODE_PER_ADDRESS_PRIORITY, UNIVERSES_PER_PAGE, write_data, write_discovery, write_sync,
};

/// What a transmitted packet is, so the caller can pick its destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransmitKind {
    /// A data packet (levels, per-address priority or termination) for `universe`'s group.
    Data {
        /// Universe of the packet.
        universe: u16,
    },
    /// A synchronization packet for `sync_address`'s group.
    Sync {
        /// The sync universe.
        sync_address: u16,
    },
    /// A universe discovery page for the group of universe 64214.
    Discovery {
        /// Page number.
        page: u8,
    },
}

/// One packet written into the caller's buffer by [`Source::poll_transmit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Where it goes.
    pub kind: TransmitKind,
    /// Bytes written at the start of the buffer.
    pub len: usize,
}

/// Why a source operation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The universe was never added (or has been removed).
    #[error("universe {0} is not transmitted by this source")]
    UnknownUniverse(u16),
    /// The universe is already transmitted (or still sending its termination packets).
    #[error("universe {0} is already transmitted by this source")]
    UniverseExists(u16),
    /// The universe is stopping; it takes no more data.
    #[error("universe {0} is being terminated")]
    Terminating(u16),
    /// Universe outside 1..=63999.
    #[error("universe {0} outside 1..63999")]
    UniverseOutOfRange(u16),
    /// Priority above 200.
    #[error("priority {0} above 200")]
    PriorityOutOfRange(u8),
    /// Sync address above 63999.
    #[error("synchronization address {0} outside 0..63999")]
    BadSyncAddress(u16),
    /// More than 512 slot values.
    #[error("{0} slot values given, a universe has 512")]
    TooManySlots(usize),
}

const LEVELS: usize = 0;
const PAP: usize = 1;

#[derive(Debug, Default, Clone)]
struct Stream {
    /// Sends packets (after its first change, until termination).
    active: bool,
    pacer: Pacer,
}

#[derive(Debug)]
struct Universe {
    number: u16,
    occupied: bool,
    cfg: UniverseConfig,
    levels: [u8; MAX_SLOTS],
    sequence: u8,
    terminations_left: u8,
    streams: [Stream; 2],
}

/// A sans-IO E1.31 source for any number of universes.
pub struct Source {
    cid: Cid,
    name: String,
    cfg: SourceConfig,
    /// Timing of rate-limited and of realtime streams.
    limited: PacerConfig,
    realtime: PacerConfig,
    slab: Vec<Universe>,
    free: Vec<usize>,
    index: HashMap<u16, usize>,
    /// One deadline per stream, keyed by slab index × 2 + stream.
    heap: Deadlines,
    /// Universes announced by discovery, ascending: those whose stream is active (started by
    /// a first change, not terminating).
    listed: Vec<u16>,
    discovery_next: Option<Instant>,
    /// Next page of the discovery round in progress.
    discovery_page: Option<u8>,
    sync_sequence: HashMap<u16, u8>,
    /// Sync addresses owed a sync packet after the current flush, ascending.
    pending_syncs: Vec<u16>,
    sync_due: Option<Instant>,
}

impl std::fmt::Debug for Source {
    /// Summary only: the slot buffers of a thousand universes do not belong in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("cid", &self.cid)
            .field("name", &self.name)
            .field("universes", &self.index.len())
            .field("queued_deadlines", &self.heap.len())
            .field("discovery_next", &self.discovery_next)
            .finish_non_exhaustive()
    }
}

/// Cuts `name` to at most 63 bytes at a character boundary (what fits the 64-byte field).
fn truncate_name(name: &str) -> &str {
    let mut n = name.len().min(63);
    while !name.is_char_boundary(n) {
        n -= 1;
    }
    &name[..n]
}

impl Source {
    /// A source named `name` (cut to 63 bytes) with identity `cid`.
    pub fn new(cid: Cid, name: &str, cfg: SourceConfig) -> Source {
        Source {
            cid,
            name: truncate_name(name).to_owned(),
            cfg,
            limited: cfg.limited_pacing(),
            realtime: cfg.realtime_pacing(),
            slab: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            heap: Deadlines::new(),
            listed: Vec::new(),
            discovery_next: None,
            discovery_page: None,
            sync_sequence: HashMap::new(),
            pending_syncs: Vec::new(),
            sync_due: None,
        }
    }

    /// The source's CID.
    pub fn cid(&self) -> Cid {
        self.cid
    }

    /// The source name as sent.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The timing configuration.
    pub fn config(&self) -> &SourceConfig {
        &self.cfg
    }

    /// Starts transmitting `universe`. Nothing is sent for it before its first change
    /// (the sACN backend README, patchbay rule), and discovery lists it only from then on (until its
    /// termination begins): a receiver should not look for a universe nobody sends.
    pub fn add_universe(&mut self, universe: u16, cfg: UniverseConfig) -> Result<(), SourceError> {
        if !DATA_UNIVERSES.contains(&universe) {
            return Err(SourceError::UniverseOutOfRange(universe));
        }
        if cfg.priority > MAX_PRIORITY {
            return Err(SourceError::PriorityOutOfRange(cfg.priority));
        }
        if cfg.sync_address > *DATA_UNIVERSES.end() {
            return Err(SourceError::BadSyncAddress(cfg.sync_address));
        }
        if self.index.contains_key(&universe) {
            return Err(SourceError::UniverseExists(universe));
        }
        if cfg.sync_address != 0 {
            self.sync_sequence.entry(cfg.sync_address).or_insert(0);
            // Reserve now so that flushing never allocates.
            let distinct = self.sync_sequence.len();
            self.pending_syncs
                .reserve(distinct.saturating_sub(self.pending_syncs.len()));
        }
        let fresh = Universe {
            number: universe,
            occupied: true,
            cfg,
            levels: [0; MAX_SLOTS],
            sequence: 0,
            terminations_left: 0,
            streams: Default::default(),
        };
        let idx = match self.free.pop() {
            Some(idx) => {
                // The old occupant's deadlines were disarmed when it was released.
                self.slab[idx] = fresh;
                idx
            }
            None => {
                self.slab.push(fresh);
                self.slab.len() - 1
            }
        };
        self.index.insert(universe, idx);
        // Room to list every universe, so starting one never allocates.
        self.listed
            .reserve(self.index.len().saturating_sub(self.listed.len()));
        self.heap.reserve_keys(2 * self.slab.len());
        Ok(())
    }

    /// Stops `universe`: if it has sent anything, `terminations` Stream_Terminated packets with
    /// its last data go out at once (consecutive sequence numbers); then it is forgotten.
    pub fn remove_universe(&mut self, now: Instant, universe: u16) -> Result<(), SourceError> {
        let idx = self.lookup(universe)?;
        self.begin_termination(now, idx);
        Ok(())
    }

    /// Stops every universe as [`remove_universe`](Self::remove_universe) does; for shutdown.
    /// Keep draining [`poll_transmit`](Self::poll_transmit) until [`is_idle`](Self::is_idle).
    pub fn terminate_all(&mut self, now: Instant) {
        for idx in 0..self.slab.len() {
            if self.slab[idx].occupied && self.slab[idx].terminations_left == 0 {
                self.begin_termination(now, idx);
            }
        }
    }

    /// True when no universe is left and nothing is waiting to be sent.
    pub fn is_idle(&self) -> bool {
        self.index.is_empty() && self.pending_syncs.is_empty()
    }

    /// Number of universes added and not yet fully terminated.
    pub fn universe_count(&self) -> usize {
        self.index.len()
    }

    /// The slot buffer of `universe`, for writing in place; call
    /// [`mark_changed`](Self::mark_changed) afterwards.
    pub fn slots_mut(&mut self, universe: u16) -> Result<&mut [u8; MAX_SLOTS], SourceError> {
        let idx = self.lookup_live(universe)?;
        Ok(&mut self.slab[idx].levels)
    }

    /// The current slot values of `universe`.
    pub fn slots(&self, universe: u16) -> Result<&[u8; MAX_SLOTS], SourceError> {
        let idx = self.lookup(universe)?;
        Ok(&self.slab[idx].levels)
    }

    /// The sequence number the next data packet of `universe` will carry.
    pub fn next_sequence(&self, universe: u16) -> Result<u8, SourceError> {
        let idx = self.lookup(universe)?;
        Ok(self.slab[idx].sequence)
    }

    /// Declares that the levels of `universe` changed (after writing through
    /// [`slots_mut`](Self::slots_mut)): schedules a packet under the rate limit.
    pub fn mark_changed(&mut self, now: Instant, universe: u16) -> Result<(), SourceError> {
        let idx = self.lookup_live(universe)?;
        self.changed(now, idx, LEVELS);
        Ok(())
    }

    /// Writes `values` into slots 1..=len and schedules a packet only if a byte differed.
    /// Returns whether anything changed.
    pub fn set_slots(
        &mut self,
        now: Instant,
        universe: u16,
        values: &[u8],
    ) -> Result<bool, SourceError> {
        self.set_slots_at(now, universe, 0, values)
    }

    /// Writes `values` starting at slot `offset + 1`; as [`set_slots`](Self::set_slots).
    pub fn set_slots_at(
        &mut self,
        now: Instant,
        universe: u16,
        offset: usize,
        values: &[u8],
    ) -> Result<bool, SourceError> {
        let idx = self.lookup_live(universe)?;
        let end = offset.saturating_add(values.len());
        let Some(dst) = self.slab[idx].levels.get_mut(offset..end) else {
            return Err(SourceError::TooManySlots(end));
        };
        if dst == values {
            return Ok(false);
        }
        dst.copy_from_slice(values);
        self.changed(now, idx, LEVELS);
        Ok(true)
    }

    /// Sets one slot (0-based `index`); returns whether it changed.
    pub fn set_slot(
        &mut self,
        now: Instant,
        universe: u16,
        index: usize,
        value: u8,
    ) -> Result<bool, SourceError> {
        self.set_slots_at(now, universe, index, &[value])
    }

    /// Sets the per-address priorities of `universe` (enabling its 0xDD stream); returns
    /// whether anything changed.
    pub fn set_per_address_priority(
        &mut self,
        now: Instant,
        universe: u16,
        priorities: &[u8; MAX_SLOTS],
    ) -> Result<bool, SourceError> {
        let idx = self.lookup_live(universe)?;
        let u = &mut self.slab[idx];
        if u.cfg.per_address_priority.as_ref() == Some(priorities) {
            return Ok(false);
        }
        u.cfg.per_address_priority = Some(*priorities);
        if u.streams[LEVELS].active {
            self.changed(now, idx, PAP);
        }
        Ok(true)
    }

    /// Records the passage of time. All timers are evaluated by
    /// [`poll_transmit`](Self::poll_transmit); this only lets a caller that has nothing to send
    /// start the discovery timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.arm_discovery(now);
    }

    /// When [`poll_transmit`](Self::poll_transmit) will next have something to send.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let data = self.heap.earliest();
        let discovery = if self.listed.is_empty() {
            None
        } else {
            self.discovery_next
        };
        [data, discovery, self.sync_due].into_iter().flatten().min()
    }

    /// Writes the next packet due at `now` into `buf` (at least
    /// [`MAX_PACKET_LEN`](crate::wire::MAX_PACKET_LEN) bytes; with a smaller buffer a packet
    /// that does not fit stays queued and `None` is returned). Call until `None`.
    ///
    /// Order within one flush: all due data packets, then one sync packet per sync address
    /// those data packets named, then due discovery pages.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        self.arm_discovery(now);
        if let Some((key, at)) = self.heap.pop_due(now) {
            let idx = (key / 2) as usize;
            let stream = (key % 2) as usize;
            let sent = self.emit(now, idx, stream, buf);
            if sent.is_none() {
                // Did not fit: stays queued.
                self.heap.set(key, Some(at));
            }
            return sent;
        }
        if let Some(&sync_address) = self.pending_syncs.first() {
            let seq = self.sync_sequence.get(&sync_address).copied().unwrap_or(0);
            let len = write_sync(buf, self.cid, seq, sync_address).ok()?;
            self.sync_sequence.insert(sync_address, seq.wrapping_add(1));
            self.pending_syncs.remove(0);
            if self.pending_syncs.is_empty() {
                self.sync_due = None;
            }
            return Some(Transmit {
                kind: TransmitKind::Sync { sync_address },
                len,
            });
        }
        self.poll_discovery(now, buf)
    }

    fn poll_discovery(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        let due = self.discovery_next.is_some_and(|at| at <= now);
        if !due {
            return None;
        }
        let pages = self.listed.len().div_ceil(UNIVERSES_PER_PAGE);
        let page = usize::from(self.discovery_page.unwrap_or(0));
        if page >= pages {
            // Round complete (or nothing to announce: an empty list is never sent).
            self.discovery_page = None;
            self.discovery_next = if self.listed.is_empty() {
                None
            } else {
                now.checked_add(self.cfg.discovery_interval)
            };
            return None;
        }
        // More than 256 pages would need more than 131072 universes; u16 has 63999.
        let last_page = u8::try_from(pages - 1).unwrap_or(u8::MAX);
        let page_u8 = u8::try_from(page).unwrap_or(u8::MAX);
        let start = page * UNIVERSES_PER_PAGE;
        let end = (start + UNIVERSES_PER_PAGE).min(self.listed.len());
        let list = &self.listed[start..end];
        let len = write_discovery(buf, self.cid, &self.name, page_u8, last_page, list).ok()?;
        if page + 1 >= pages {
            self.discovery_page = None;
            self.discovery_next = now.checked_add(self.cfg.discovery_interval);
        } else {
            self.discovery_page = Some(page_u8.saturating_add(1));
        }
        Some(Transmit {
            kind: TransmitKind::Discovery { page: page_u8 },
            len,
        })
    }

    fn arm_discovery(&mut self, now: Instant) {
        if self.discovery_next.is_none() && !self.listed.is_empty() {
            self.discovery_next = Some(now);
        }
    }

    fn lookup(&self, universe: u16) -> Result<usize, SourceError> {
        self.index
            .get(&universe)
            .copied()
            .ok_or(SourceError::UnknownUniverse(universe))
    }

    fn lookup_live(&self, universe: u16) -> Result<usize, SourceError> {
        let idx = self.lookup(universe)?;
        if self.slab[idx].terminations_left > 0 {
            return Err(SourceError::Terminating(universe));
        }
        Ok(idx)
    }

    /// A change on `stream` of slab entry `idx`: the first one activates the universe, which
    /// discovery lists from now on.
    fn changed(&mut self, now: Instant, idx: usize, stream: usize) {
        let u = &mut self.slab[idx];
        let pacing = if u.cfg.realtime {
            &self.realtime
        } else {
            &self.limited
        };
        if !u.streams[LEVELS].active {
            if let Err(pos) = self.listed.binary_search(&u.number) {
                self.listed.insert(pos, u.number);
            }
            u.streams[LEVELS].active = true;
            u.streams[LEVELS].pacer.change(now, pacing);
            if u.cfg.per_address_priority.is_some() {
                u.streams[PAP].active = true;
                u.streams[PAP].pacer.change(now, pacing);
            }
            self.reschedule(now, idx, LEVELS);
            self.reschedule(now, idx, PAP);
        } else {
            u.streams[stream].active = true;
            u.streams[stream].pacer.change(now, pacing);
            self.reschedule(now, idx, stream);
        }
        self.arm_discovery(now);
    }

    fn begin_termination(&mut self, now: Instant, idx: usize) {
        let u = &mut self.slab[idx];
        if let Ok(pos) = self.listed.binary_search(&u.number) {
            self.listed.remove(pos);
        }
        if u.terminations_left > 0 {
            return;
        }
        u.streams[PAP].active = false;
        if u.streams[LEVELS].active && self.cfg.terminations > 0 {
            u.terminations_left = self.cfg.terminations;
            self.reschedule(now, idx, PAP);
            self.reschedule(now, idx, LEVELS);
        } else {
            self.release(idx);
        }
    }

    fn release(&mut self, idx: usize) {
        let u = &mut self.slab[idx];
        u.occupied = false;
        u.terminations_left = 0;
        for s in &mut u.streams {
            s.active = false;
        }
        self.index.remove(&u.number);
        self.free.push(idx);
        for stream in [LEVELS, PAP] {
            self.heap.set(Self::key(idx, stream), None);
        }
    }

    fn deadline(&self, now: Instant, idx: usize, stream: usize) -> Option<Instant> {
        let u = &self.slab[idx];
        let s = &u.streams[stream];
        if !u.occupied || !s.active {
            return None;
        }
        if stream == LEVELS && u.terminations_left > 0 {
            return Some(now);
        }
        s.pacer.deadline(self.pacing(u.cfg.realtime))
    }

    fn pacing(&self, realtime: bool) -> &PacerConfig {
        if realtime {
            &self.realtime
        } else {
            &self.limited
        }
    }

    /// The deadline key of `stream` of slab entry `idx` (the slab never holds more than 64000
    /// universes, so this fits).
    fn key(idx: usize, stream: usize) -> u32 {
        (idx * 2 + stream) as u32
    }

    fn reschedule(&mut self, now: Instant, idx: usize, stream: usize) {
        let at = self.deadline(now, idx, stream);
        self.heap.set(Self::key(idx, stream), at);
    }

    fn emit(
        &mut self,
        now: Instant,
        idx: usize,
        stream: usize,
        buf: &mut [u8],
    ) -> Option<Transmit> {
        let u = &mut self.slab[idx];
        let terminating = stream == LEVELS && u.terminations_left > 0;
        let (start_code, data): (u8, &[u8]) = if stream == LEVELS {
            (START_CODE_LEVELS, &u.levels)
        } else {
            (
                START_CODE_PER_ADDRESS_PRIORITY,
                u.cfg.per_address_priority.as_ref()?,
            )
        };
        let header = DataHeader {
            cid: self.cid,
            source_name: &self.name,
            priority: u.cfg.priority,
            sync_address: u.cfg.sync_address,
            sequence: u.sequence,
            options: Options::NONE
                .with_preview(u.cfg.preview)
                .with_force_synchronization(u.cfg.force_synchronization)
                .with_stream_terminated(terminating),
            universe: u.number,
            start_code,
        };
        let len = write_data(buf, &header, data).ok()?;
        u.sequence = u.sequence.wrapping_add(1);
        let universe = u.number;
        let sync_address = u.cfg.sync_address;
        if terminating {
            u.terminations_left -= 1;
            if u.terminations_left == 0 {
                self.release(idx);
                return Some(Transmit {
                    kind: TransmitKind::Data { universe },
                    len,
                });
            }
        } else {
            let pacing = if u.cfg.realtime {
                &self.realtime
            } else {
                &self.limited
            };
            u.streams[stream].pacer.sent(now, pacing);
        }
        if sync_address != 0 && !terminating {
            if let Err(pos) = self.pending_syncs.binary_search(&sync_address) {
                self.pending_syncs.insert(pos, sync_address);
            }
            self.sync_due.get_or_insert(now);
        }
        self.reschedule(now, idx, stream);
        Some(Transmit {
            kind: TransmitKind::Data { universe },
            len,
        })
    }
}

#[cfg(test)]
mod tests;
