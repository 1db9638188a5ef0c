//! Receive side of Art-Net 4 as a sans-IO state machine.
//!
//! No sockets, threads or clock reads: the caller passes every datagram with its sender's
//! address and the `Instant` it arrived, calls [`Receiver::handle_timeout`] when
//! [`Receiver::poll_timeout`] says so, and reads results with [`Receiver::poll_changed`]
//! (merged output per universe + which slots changed) and [`Receiver::poll_event`] (sources
//! appearing, lost, refused; controllers entering and leaving synchronous mode).
//!
//! Layers: [`UniverseReceiver`] holds one Port-Address (two sources, the merge, held ArtSync
//! data; its rules are listed there); [`Receiver`] owns many, finds them by binary search,
//! keeps the table of controllers in synchronous mode and routes ArtSync to the universes
//! that hold data. After warm-up nothing allocates per packet.
//!
//! Choices worth knowing:
//!
//! * Order of checks per datagram: own address → wire rules ([`Packet::parse`]) → OpCode.
//!   ArtDmx: universe known → source (a third is refused) → sequence → hold or apply.
//! * **ArtSync** (Art-Net 4): a node enters synchronous mode when it receives ArtSync, holds
//!   ArtDmx until the next ArtSync, and returns to immediate output 4 s after the last
//!   ArtSync; an ArtSync applies to a port only if it comes from the IP address that sent
//!   the port's ArtDmx, and is ignored while the port merges. Synchronous mode is kept per
//!   controller here, not per node: with one node-wide mode, a second controller that does
//!   not use ArtSync would have its data held and never released (its universes' ArtDmx
//!   comes from an address no ArtSync matches). When a controller's ArtSync times out, the
//!   data it held is output at once.
//! * **Timers** are all "not heard for T", so deadlines only move later as packets arrive:
//!   one conservative "next sweep" instant is kept, [`Receiver::poll_timeout`] is O(1), and a
//!   sweep visits every universe (about once per source timeout while sources keep sending).

mod config;
mod fuzz;
mod outcome;
mod sequence;
mod universe;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use crate::PortAddress;
use crate::wire::{DmxPacket, Packet};

pub use config::{
    MAX_SOURCES, MergeMode, ReceiverConfig, SEQUENCE_WINDOW, SOURCE_TIMEOUT, SYNC_TIMEOUT,
};
pub use fuzz::fuzz_receiver;
pub use outcome::{Counters, Discard, DropCause, Dropped, Event, Handled};
pub use patchbay_dmx::{SlotSet, SlotSetIter};
pub use sequence::{SequenceTracker, sequence_accepts};
pub use universe::{SourceView, UniverseReceiver};

use outcome::Discard as D;
use universe::UniverseOutcome;

/// Why a universe could not be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReceiverError {
    /// The Port-Address is already being received.
    #[error("Port-Address {0} is already being received")]
    AlreadyListening(PortAddress),
}

/// Bounded event queue: a flood cannot grow memory; overflow drops the oldest event.
#[derive(Debug, Clone)]
pub(crate) struct Events {
    queue: VecDeque<Event>,
    capacity: usize,
    dropped: u64,
}

impl Events {
    fn new(capacity: usize) -> Events {
        let capacity = capacity.max(1);
        Events {
            queue: VecDeque::with_capacity(capacity),
            capacity,
            dropped: 0,
        }
    }

    pub(crate) fn push(&mut self, e: Event) {
        if self.queue.len() >= self.capacity {
            self.queue.pop_front();
            self.dropped += 1;
        }
        self.queue.push_back(e);
    }
}

struct Entry {
    rx: UniverseReceiver,
    /// Changed since last reported by `poll_changed` (and queued in `dirty`).
    dirty: bool,
    /// Listed in `holding`.
    holding: bool,
}

/// A controller in synchronous mode.
#[derive(Debug, Clone, Copy)]
struct SyncController {
    ip: Ipv4Addr,
    last_sync: Instant,
}

/// Multi-universe Art-Net receiver. See the [module docs](self).
pub struct Receiver {
    cfg: ReceiverConfig,
    /// Sorted by Port-Address.
    universes: Vec<Entry>,
    /// Universes with unreported changes, in the order they changed.
    dirty: VecDeque<PortAddress>,
    /// Universes where a source holds data for ArtSync.
    holding: Vec<PortAddress>,
    sync: Vec<SyncController>,
    /// No timer is due before this (it may be early, never late).
    sweep_at: Option<Instant>,
    events: Events,
    counters: Counters,
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl Receiver {
    /// A receiver that listens to no universe yet.
    pub fn new(cfg: ReceiverConfig) -> Self {
        Receiver {
            universes: Vec::new(),
            dirty: VecDeque::new(),
            holding: Vec::new(),
            sync: Vec::with_capacity(cfg.max_sync_controllers.max(1)),
            sweep_at: None,
            events: Events::new(cfg.event_capacity),
            counters: Counters::default(),
            cfg,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &ReceiverConfig {
        &self.cfg
    }

    /// Drops datagrams from `address` from now on, as our own output looped back (a backend
    /// learns the address its broadcasts leave from only after binding).
    pub fn add_own_address(&mut self, address: SocketAddrV4) {
        if !self.cfg.own_addresses.contains(&address) {
            self.cfg.own_addresses.push(address);
        }
    }

    /// Starts receiving `address`.
    pub fn add_universe(&mut self, address: PortAddress) -> Result<(), ReceiverError> {
        let pos = match self.position(address) {
            Ok(_) => return Err(ReceiverError::AlreadyListening(address)),
            Err(pos) => pos,
        };
        let rx = UniverseReceiver::new(address, self.cfg.merge, self.cfg.source_timeout);
        self.universes.insert(
            pos,
            Entry {
                rx,
                dirty: false,
                holding: false,
            },
        );
        // Room for every universe once, so queueing never allocates later.
        let n = self.universes.len();
        self.dirty.reserve(n.saturating_sub(self.dirty.len()));
        self.holding.reserve(n.saturating_sub(self.holding.len()));
        Ok(())
    }

    /// Stops receiving `address`; returns whether it was received.
    pub fn remove_universe(&mut self, address: PortAddress) -> bool {
        match self.position(address) {
            Ok(pos) => {
                self.universes.remove(pos);
                self.holding.retain(|a| *a != address);
                true
            }
            Err(_) => false,
        }
    }

    #[inline]
    fn position(&self, address: PortAddress) -> Result<usize, usize> {
        self.universes
            .binary_search_by_key(&address, |e| e.rx.address())
    }

    #[inline]
    fn entry_mut(&mut self, address: PortAddress) -> Option<&mut Entry> {
        let pos = self.position(address).ok()?;
        self.universes.get_mut(pos)
    }

    /// The state of one universe.
    pub fn universe(&self, address: PortAddress) -> Option<&UniverseReceiver> {
        let pos = self.position(address).ok()?;
        self.universes.get(pos).map(|e| &e.rx)
    }

    /// Universes received, ascending.
    pub fn universes(&self) -> impl Iterator<Item = PortAddress> + '_ {
        self.universes.iter().map(|e| e.rx.address())
    }

    /// Whether [`poll_changed`](Self::poll_changed) will return `address`: a caller that reads
    /// datagrams in batches asks this before handing over another packet of the same
    /// universe, which would otherwise merge into the unreported change.
    pub fn has_pending_change(&self, address: PortAddress) -> bool {
        self.position(address)
            .ok()
            .and_then(|p| self.universes.get(p))
            .is_some_and(|e| e.dirty)
    }

    /// Controllers in synchronous mode at `now`.
    pub fn sync_controllers(&self, now: Instant) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.sync
            .iter()
            .filter(move |c| self.sync_alive(c, now))
            .map(|c| c.ip)
    }

    /// Counters by outcome and reason.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    #[inline]
    fn sync_alive(&self, c: &SyncController, now: Instant) -> bool {
        now.saturating_duration_since(c.last_sync) < self.cfg.sync_timeout
    }

    #[inline]
    fn sync_active(&self, now: Instant, ip: Ipv4Addr) -> bool {
        self.sync
            .iter()
            .any(|c| c.ip == ip && self.sync_alive(c, now))
    }

    fn note_deadline(&mut self, t: Option<Instant>) {
        self.sweep_at = earliest(self.sweep_at, t);
    }

    /// Takes an ArtDmx whose levels the caller skips because it is stale (it waited long in a
    /// queue that stood; newer input follows): a known source stays alive and its sequence
    /// number counts. Returns false when the packet needs
    /// [`handle_datagram`](Self::handle_datagram) instead. Timers are not run.
    pub fn keep_alive(&mut self, now: Instant, from: SocketAddrV4, p: &DmxPacket<'_>) -> bool {
        self.entry_mut(p.port_address())
            .is_some_and(|e| e.rx.keep_alive(now, *from.ip(), p))
    }

    /// Processes one received datagram from `from`.
    ///
    /// Timers due at `now` run first, so a source silent for longer than the timeout comes
    /// back as a new source even if the caller was late with
    /// [`handle_timeout`](Self::handle_timeout).
    pub fn handle_datagram<'a>(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        bytes: &'a [u8],
    ) -> Result<Handled<'a>, Dropped> {
        if self.sweep_at.is_some_and(|t| now >= t) {
            self.handle_timeout(now);
        }
        let res = self.dispatch(now, from, bytes);
        match &res {
            Err(d) => self.counters.count_drop(d),
            Ok(Handled::Dmx { .. } | Handled::Held { .. }) => self.counters.dmx += 1,
            Ok(Handled::Sync { .. }) => self.counters.sync += 1,
            Ok(Handled::Poll(_)) => self.counters.poll += 1,
            Ok(Handled::PollReply(_)) => self.counters.poll_reply += 1,
            Ok(Handled::Ignored(class)) => self.counters.ignored[class.index()] += 1,
        }
        res
    }

    fn dispatch<'a>(
        &mut self,
        now: Instant,
        from: SocketAddrV4,
        bytes: &'a [u8],
    ) -> Result<Handled<'a>, Dropped> {
        let dropped = |d: D, address| Dropped {
            cause: DropCause::Discarded(d),
            address,
            from,
        };
        if self.cfg.own_addresses.contains(&from) {
            return Err(dropped(D::OwnPacket, None));
        }
        let packet = Packet::parse(bytes).map_err(|r| Dropped {
            cause: DropCause::Malformed(r),
            address: None,
            from,
        })?;
        self.counters.count_quirks(packet.quirks());
        match packet {
            Packet::Dmx(p) => self
                .on_dmx(now, *from.ip(), &p)
                .map_err(|d| dropped(d, Some(p.port_address()))),
            Packet::Sync(_) => self.on_sync(now, *from.ip()).map_err(|d| dropped(d, None)),
            Packet::Poll(p) => Ok(Handled::Poll(p)),
            Packet::PollReply(p) => Ok(Handled::PollReply(p)),
            Packet::Other(p) => Ok(Handled::Ignored(p.class())),
        }
    }

    fn on_dmx(
        &mut self,
        now: Instant,
        ip: Ipv4Addr,
        p: &DmxPacket<'_>,
    ) -> Result<Handled<'static>, Discard> {
        let address = p.port_address();
        let sync_active = self.sync_active(now, ip);
        let Receiver {
            universes,
            dirty,
            holding,
            events,
            ..
        } = self;
        let pos = universes
            .binary_search_by_key(&address, |e| e.rx.address())
            .map_err(|_| D::UnknownUniverse)?;
        let e = &mut universes[pos];
        let before = e.rx.source_count();
        let out = e.rx.handle_dmx(now, ip, p, sync_active, events)?;
        let new_source = e.rx.source_count() > before;
        let handled = match out {
            UniverseOutcome::Applied { changed } => {
                if changed {
                    mark_dirty(e, dirty);
                }
                Handled::Dmx { address, changed }
            }
            UniverseOutcome::Held => {
                if !e.holding {
                    e.holding = true;
                    holding.push(address);
                }
                Handled::Held { address }
            }
        };
        if new_source {
            self.note_deadline(now.checked_add(self.cfg.source_timeout));
        }
        Ok(handled)
    }

    fn on_sync(&mut self, now: Instant, ip: Ipv4Addr) -> Result<Handled<'static>, Discard> {
        match self.sync.iter().position(|c| c.ip == ip) {
            Some(k) => {
                if !self.sync_alive(&self.sync[k], now) {
                    self.events.push(Event::SyncStarted { controller: ip });
                }
                self.sync[k].last_sync = now;
            }
            None => {
                if self.sync.len() >= self.cfg.max_sync_controllers.max(1) {
                    self.expire_sync(now);
                }
                if self.sync.len() >= self.cfg.max_sync_controllers.max(1) {
                    return Err(D::TooManySyncControllers);
                }
                self.sync.push(SyncController { ip, last_sync: now });
                self.events.push(Event::SyncStarted { controller: ip });
            }
        }
        self.note_deadline(now.checked_add(self.cfg.sync_timeout));
        let changed_universes = self.release_held(ip);
        Ok(Handled::Sync {
            controller: ip,
            changed_universes,
        })
    }

    /// Outputs the data `ip` holds in every universe; returns how many changed.
    fn release_held(&mut self, ip: Ipv4Addr) -> usize {
        let mut changed = 0;
        let mut k = 0;
        while k < self.holding.len() {
            let address = self.holding[k];
            let Some(pos) = self.position(address).ok() else {
                self.holding.swap_remove(k);
                continue;
            };
            let e = &mut self.universes[pos];
            if e.rx.release_held(ip) {
                changed += 1;
                mark_dirty(e, &mut self.dirty);
            }
            if e.rx.holds_sync_data() {
                k += 1;
            } else {
                e.holding = false;
                self.holding.swap_remove(k);
            }
        }
        changed
    }

    /// Drops the controllers whose ArtSync timed out, outputting what they held.
    fn expire_sync(&mut self, now: Instant) {
        let mut k = 0;
        while k < self.sync.len() {
            if self.sync_alive(&self.sync[k], now) {
                k += 1;
                continue;
            }
            let ip = self.sync.swap_remove(k).ip;
            self.events.push(Event::SyncLost { controller: ip });
            self.release_held(ip);
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work. O(1); may be early (then
    /// the call does nothing but reschedule), never late.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sweep_at
    }

    /// Runs every timer due at `now`: source timeouts and ArtSync timeouts. Changed universes
    /// are then reported by [`poll_changed`](Self::poll_changed).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.sweep_at.is_none_or(|t| now < t) {
            return;
        }
        self.expire_sync(now);
        let mut next = self
            .sync
            .iter()
            .filter_map(|c| c.last_sync.checked_add(self.cfg.sync_timeout))
            .min();
        let Receiver {
            universes,
            dirty,
            events,
            ..
        } = self;
        for e in universes.iter_mut() {
            if e.rx.next_deadline().is_some_and(|t| now >= t) && e.rx.handle_timeout(now, events) {
                mark_dirty(e, dirty);
            }
            next = earliest(next, e.rx.next_deadline());
        }
        self.sweep_at = next;
    }

    /// Oldest pending event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.queue.pop_front()
    }

    /// Events lost because the event queue was full.
    pub fn events_dropped(&self) -> u64 {
        self.events.dropped
    }

    /// A universe whose merged output changed since it was last returned, with the slots that
    /// changed; read the values with [`universe`](Self::universe)`(address).slots()`.
    pub fn poll_changed(&mut self) -> Option<(PortAddress, SlotSet)> {
        while let Some(address) = self.dirty.pop_front() {
            let Some(e) = self.entry_mut(address) else {
                continue;
            };
            if !e.dirty {
                continue;
            }
            e.dirty = false;
            return Some((address, e.rx.take_changes()));
        }
        None
    }
}

fn mark_dirty(e: &mut Entry, dirty: &mut VecDeque<PortAddress>) {
    if !e.dirty {
        e.dirty = true;
        dirty.push_back(e.rx.address());
    }
}

impl core::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Receiver")
            .field("universes", &self.universes.len())
            .field("sync_controllers", &self.sync.len())
            .finish_non_exhaustive()
    }
}
