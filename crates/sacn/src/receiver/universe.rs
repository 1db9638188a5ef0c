//! One universe: per-source state, the 0xDD and sampling rules, synchronization hold, and the
//! merge into one 512-slot output with a change set.

use std::time::{Duration, Instant};

use crate::cid::Cid;
use crate::wire::{
    DataPacket, MAX_PRIORITY, MAX_SLOTS, START_CODE_LEVELS, START_CODE_PER_ADDRESS_PRIORITY,
};

use super::config::{
    LossBehavior, MAX_SOURCES_PER_UNIVERSE, MergeMode, ReceiverConfig, UniverseConfig,
};
use super::name::SourceName;
use super::outcome::{Discard, Event, EventQueue};
use super::sequence::SequenceTracker;
use patchbay_dmx::{MergedOutput, NO_OWNER, SlotSet, copy_and_diff};

/// State of the sync stream a data packet names, as the caller (normally
/// [`Receiver`](super::Receiver)) knows it from sync packets of the same CID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// No sync packet for this (CID, sync address) seen: E1.31 6.2.4.1 says not to synchronize
    /// before the first one, so the data applies on arrival.
    NotSynchronized,
    /// Sync packets are arriving: hold the data until the next one.
    Active,
    /// Sync packets stopped for the sync timeout. E1.31-2018 6.2.6: with Force_Synchronization
    /// 0 the receiver "shall not update with any new packets until synchronization resumes"
    /// (keep holding); with 1 it may revert to applying data on arrival.
    Lost,
}

/// What a data packet did to the universe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniverseOutcome {
    /// Taken in; `changed`: the merged output changed.
    Applied {
        /// Merged output changed.
        changed: bool,
    },
    /// Levels held for synchronization.
    Held,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pap {
    /// Packet priority applies to every slot.
    Off,
    /// New source after sampling: levels wait for 0xDD until `until`.
    Waiting { until: Instant },
    /// 0xDD keys apply; falls back at `expires`.
    Active { expires: Instant },
}

#[derive(Debug, Clone, Copy)]
struct Held {
    sync_address: u16,
    priority: u8,
    len: u16,
}

#[derive(Clone)]
struct Source {
    in_use: bool,
    /// Lost by timeout but still merged until the loss settles (see `Settle`).
    zombie: bool,
    cid: Cid,
    name: SourceName,
    priority: u8,
    seq: SequenceTracker,
    traffic: Traffic,
    last_levels: Instant,
    has_levels: bool,
    pap: Pap,
    /// Arrival order of the last applied levels packet (LTP).
    stamp: u64,
    sync_address: u16,
    held: Option<Held>,
    /// Slots its last applied levels packet carried: it drives `levels[..slot_count]` only.
    slot_count: u16,
    levels: [u8; MAX_SLOTS],
    pap_keys: [u8; MAX_SLOTS],
    held_levels: [u8; MAX_SLOTS],
}

impl Source {
    /// Applies the sequence window to an accepted packet and counts it.
    #[inline]
    fn take_sequence(&mut self, seq: u8) {
        let last = self.seq.last();
        self.seq.accept(seq);
        self.traffic.accepted(last, seq);
    }

    #[inline]
    fn eligible(&self) -> bool {
        self.in_use && self.has_levels && !matches!(self.pap, Pap::Waiting { .. })
    }
}

/// Read-only view of one tracked source.
#[derive(Debug, Clone, Copy)]
pub struct SourceView<'a> {
    /// CID.
    pub cid: Cid,
    /// Name from its first packet.
    pub name: &'a str,
    /// Packet priority of its last applied levels packet (or first packet).
    pub priority: u8,
    /// Per-address priorities (0xDD) are in force for it.
    pub per_address_priority: bool,
    /// Its levels still wait for a 0xDD packet (new source after sampling).
    pub waiting_for_priority: bool,
    /// It has levels held for synchronization.
    pub holding: bool,
    /// When its last levels packet arrived (creation time before that).
    pub last_heard: Instant,
    /// Its current levels; only the first [`slot_count`](Self::slot_count) are meaningful.
    pub levels: &'a [u8; MAX_SLOTS],
    /// Slots its last applied levels packet carried (0..=512): the slots it drives.
    pub slot_count: usize,
    /// What arrived from it since it (last) appeared.
    pub traffic: Traffic,
}

/// Packets of one source on one universe since it (last) appeared: what a monitor shows to tell
/// a flaky sender or network (`patchbay sacn watch` counts the same).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Data packets taken in (levels and 0xDD, applied, held or skipped as stale).
    pub packets: u64,
    /// Data packets discarded as out of sequence (duplicates, reordering).
    pub sequence_errors: u64,
    /// Packets never seen: forward gaps in the sequence numbers (a jump of 128 or more is a
    /// restart, not a gap).
    pub missed: u64,
}

impl Traffic {
    /// Counts a packet numbered `seq` that the sequence window accepted after `last`.
    #[inline]
    fn accepted(&mut self, last: Option<u8>, seq: u8) {
        self.packets += 1;
        if let Some(last) = last {
            let step = seq.wrapping_sub(last);
            if (2..128).contains(&step) {
                self.missed += u64::from(step - 1);
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    merge: MergeMode,
    loss: LossBehavior,
    accept_preview: bool,
    own_cid: Option<Cid>,
    from: Option<Cid>,
    source_timeout: Duration,
    pap_wait: Duration,
    pap_timeout: Duration,
    loss_settle: Duration,
    max_sources: usize,
}

/// ETC's data loss behaviour: when a source times out, its last levels stay in the merge until
/// every other contributing source has been heard since (or is lost too), at most
/// `loss_settle`. Without it, a receiver whose own link fails loses the top source a few
/// milliseconds before the others, briefly shows (and with hold-last-look keeps!) the look of
/// a lower-priority source.
#[derive(Debug, Clone, Copy)]
struct Settle {
    since: Instant,
    until: Instant,
}

/// One universe: per-source state, the 0xDD and sampling rules, synchronization hold, and the
/// merge into one 512-slot output with a change set.
///
/// # Design choices
///
/// * **Sampling period** (ETC): for `sampling_period` after the universe is created no merged
///   output is produced; every source heard meanwhile counts at once (no 0xDD wait), and when the
///   period ends the merge of everything heard is output in one step.
/// * **Waiting for 0xDD** (ETC per-address-priority rule 13): a source that appears after the
///   sampling period with a levels packet first has its levels stored but not merged until its
///   first 0xDD packet arrives or `pap_wait` passes, whichever is first. ETC's receiver drops the
///   levels received during the wait and merges only the next levels packet after the 0xDD one;
///   here the stored levels are merged as soon as the 0xDD arrives (or the wait times out, without
///   waiting for another packet), which reaches the same final state one packet earlier. A source
///   whose first packet is 0xDD merges from its first levels packet.
/// * **Per-address priority** keys: universe priority `p` ranks as `p + 1`, a 0xDD value `v > 0`
///   as `min(v, 200) + 1`, and 0xDD value 0 means "does not drive this slot" (so universe priority
///   0 still drives, as in ETC's merger). Missing trailing 0xDD values are 0. 0xDD data never
///   touches levels. 0xDD unseen for `pap_timeout` while levels continue: back to packet priority.
/// * **Loss**: only levels packets refresh a source (ETC rule 15); creation starts the timer.
///   Heard at `t` means lost at exactly `t + source_timeout` (event, source count). Its last
///   levels then stay in the merge until every other contributing source has been heard since
///   (or is lost too), at most `loss_settle` (ETC's data loss behaviour, default 1 s): when the
///   receiver's own link fails, all sources time out within a frame of each other, and without
///   this the lower-priority look would flash and, with hold-last-look, stay. A lone source's
///   loss takes effect at once. Stream_Terminated is never delayed.
/// * **Fewer than 512 slots**: a source drives only the slots its last levels packet carried;
///   the slots beyond go to the next source in the merge (ETC's merger), or, driven by nobody,
///   follow the loss behaviour (hold or zero). Likewise a 0xDD packet drives nothing beyond its
///   last value. Both are the merge key 0 ("does not drive"), so one mechanism covers them.
/// * **Synchronization** (E1.31 6.2.4, 6.2.6, 11): see [`SyncStatus`]. Held data is superseded by
///   newer held data and applied by the matching sync packet; a levels packet without sync address
///   discards held data.
#[derive(Clone)]
pub struct UniverseReceiver {
    universe: u16,
    set: Settings,
    sources: Vec<Source>,
    active: usize,
    sampling_until: Option<Instant>,
    out: MergedOutput,
    /// Single eligible source without 0xDD: the output mirrors its levels, owners all point to it.
    fast: Option<u8>,
    next_stamp: u64,
    limit_reported: bool,
    settle: Option<Settle>,
    /// Sources counted in `active` that are zombies.
    zombies: usize,
    /// Earliest timer created since the owner last asked (see `take_new_deadline`).
    new_deadline: Option<Instant>,
}

fn after(t: Instant, d: Duration) -> Option<Instant> {
    t.checked_add(d)
}

fn min_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

impl UniverseReceiver {
    /// Starts listening on `universe` at `now`; the sampling period begins.
    pub fn new(universe: u16, now: Instant, config: &ReceiverConfig, ucfg: UniverseConfig) -> Self {
        let sampling_until = if config.sampling_period.is_zero() {
            None
        } else {
            after(now, config.sampling_period)
        };
        UniverseReceiver {
            universe,
            set: Settings {
                merge: config.merge,
                loss: config.loss,
                accept_preview: config.accept_preview,
                own_cid: config.own_cid,
                from: ucfg.from,
                source_timeout: config.source_timeout,
                pap_wait: config.pap_wait,
                pap_timeout: config.pap_timeout,
                loss_settle: config.loss_settle,
                max_sources: config
                    .max_sources_per_universe
                    .clamp(1, MAX_SOURCES_PER_UNIVERSE),
            },
            sources: Vec::new(),
            active: 0,
            sampling_until,
            out: MergedOutput::new(),
            fast: None,
            next_stamp: 0,
            limit_reported: false,
            settle: None,
            zombies: 0,
            new_deadline: sampling_until,
        }
    }

    /// Universe number.
    pub fn universe(&self) -> u16 {
        self.universe
    }

    /// Merged output; index 0 is DMX slot 1. All zero until the sampling period ends.
    #[inline]
    pub fn slots(&self) -> &[u8; MAX_SLOTS] {
        self.out.levels()
    }

    /// Slots whose merged value changed since the last [`take_changes`](Self::take_changes).
    #[inline]
    pub fn changes(&self) -> &SlotSet {
        self.out.changes()
    }

    /// Returns and clears the accumulated change set.
    #[inline]
    pub fn take_changes(&mut self) -> SlotSet {
        self.out.take_changes()
    }

    /// Whether the sampling period is still running.
    pub fn is_sampling(&self) -> bool {
        self.sampling_until.is_some()
    }

    /// Whether a timed-out source's levels are still merged while the loss settles (its CID
    /// may then still be a [`winner`](Self::winner) though it is no longer in
    /// [`sources`](Self::sources)).
    pub fn is_settling_loss(&self) -> bool {
        self.zombies > 0
    }

    /// Number of tracked sources.
    pub fn source_count(&self) -> usize {
        self.active - self.zombies
    }

    /// CID of the source that drives slot index `i` (0-based), if any.
    pub fn winner(&self, i: usize) -> Option<Cid> {
        let o = self.out.owner(i)?;
        self.sources
            .get(usize::from(o))
            .filter(|s| s.in_use)
            .map(|s| s.cid)
    }

    /// Tracked sources.
    pub fn sources(&self) -> impl Iterator<Item = SourceView<'_>> {
        self.sources
            .iter()
            .filter(|s| s.in_use && !s.zombie)
            .map(|s| SourceView {
                cid: s.cid,
                name: s.name.as_str(),
                priority: s.priority,
                per_address_priority: matches!(s.pap, Pap::Active { .. }),
                waiting_for_priority: matches!(s.pap, Pap::Waiting { .. }),
                holding: s.held.is_some(),
                last_heard: s.last_levels,
                levels: &s.levels,
                slot_count: usize::from(s.slot_count),
                traffic: s.traffic,
            })
    }

    /// The source with `cid`, if tracked.
    pub fn source(&self, cid: Cid) -> Option<SourceView<'_>> {
        self.sources().find(|s| s.cid == cid)
    }

    /// Source table entries allocated (free ones are reused): bounded by the source limit.
    pub fn source_capacity(&self) -> usize {
        self.sources.len()
    }

    /// Whether any source holds data for synchronization.
    pub fn holds_sync_data(&self) -> bool {
        self.sources.iter().any(|s| s.in_use && s.held.is_some())
    }

    #[inline]
    fn find(&self, cid: Cid) -> Option<usize> {
        self.sources
            .iter()
            .position(|s| s.in_use && !s.zombie && s.cid == cid)
    }

    /// The lost source with `cid` whose levels stay merged while the loss settles.
    #[inline]
    fn zombie(&self, cid: Cid) -> Option<usize> {
        self.sources
            .iter()
            .position(|s| s.in_use && s.zombie && s.cid == cid)
    }

    fn note_deadline(&mut self, t: Option<Instant>) {
        self.new_deadline = min_opt(self.new_deadline, t);
    }

    /// The earliest timer created since the last call. Timers only ever move later on their own
    /// (a refreshed loss timer), so an owner that schedules these and re-reads
    /// [`next_deadline`](Self::next_deadline) after each [`handle_timeout`](Self::handle_timeout)
    /// never misses one, without scanning the sources per packet.
    pub fn take_new_deadline(&mut self) -> Option<Instant> {
        self.new_deadline.take()
    }

    /// Earliest instant at which [`handle_timeout`](Self::handle_timeout) has work (O(sources)).
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut d = min_opt(self.sampling_until, self.settle.map(|s| s.until));
        for s in self.sources.iter().filter(|s| s.in_use && !s.zombie) {
            d = min_opt(d, after(s.last_levels, self.set.source_timeout));
            d = min_opt(
                d,
                match s.pap {
                    Pap::Off => None,
                    Pap::Waiting { until } => Some(until),
                    Pap::Active { expires } => Some(expires),
                },
            );
        }
        d
    }

    /// Whether `pkt` (a data packet of this universe) certainly leaves the merged output as it
    /// is: it would be dropped (own or filtered CID, unsupported start code, preview, out of
    /// sequence, a termination from a source neither tracked nor settling its loss), the
    /// sampling period is running, or it repeats its source's levels (same slot count) where
    /// neither priority nor arrival order matters. `false`
    /// when unsure (new sources, 0xDD, sync, terminations, LTP with several sources, a loss
    /// settling). Timers due before the packet are not considered. Reads at most one source's
    /// levels; no allocation.
    ///
    /// Why: a reader that ends its turn when a packet would merge into an unreported change
    /// (so the earlier frame is reported on its own) need not end it for a packet that changes
    /// nothing.
    pub fn changes_nothing(&self, pkt: &DataPacket<'_>) -> bool {
        let opts = pkt.options();
        let start_code = pkt.start_code();
        let Ok(found) = self.screen(pkt) else {
            return true;
        };
        let Some(i) = found else {
            if opts.stream_terminated() {
                // Ends a source whose loss is settling (its levels leave the merge).
                return self.zombie(pkt.cid()).is_none();
            }
            return self.is_sampling();
        };
        let s = &self.sources[i];
        if self.is_sampling() && !opts.stream_terminated() {
            return true;
        }
        if start_code != START_CODE_LEVELS
            || opts.stream_terminated()
            || pkt.sync_address() != 0
            || self.settle.is_some()
            || !s.eligible()
        {
            return false;
        }
        let slots = pkt.slots();
        let n = slots.len().min(MAX_SLOTS);
        // Another slot count moves the boundary of what the source drives.
        if n != usize::from(s.slot_count) || s.levels[..n] != slots[..n] {
            return false;
        }
        self.fast == Some(i as u8)
            || (self.set.merge == MergeMode::Htp && s.priority == pkt.priority())
    }

    /// Takes a levels packet whose levels are skipped (the reader is far behind): its known
    /// source's loss timer restarts and its sequence number counts. False, with nothing
    /// changed, when the packet needs [`UniverseReceiver::handle_data`]: unknown or lost
    /// source, termination, 0xDD, or anything that would be discarded (counted there).
    pub fn keep_alive(&mut self, now: Instant, pkt: &DataPacket<'_>) -> bool {
        let Ok(Some(i)) = self.screen(pkt) else {
            return false;
        };
        if pkt.start_code() != START_CODE_LEVELS || pkt.options().stream_terminated() {
            return false;
        }
        let s = &mut self.sources[i];
        s.take_sequence(pkt.sequence());
        s.last_levels = now;
        true
    }

    /// The checks a data packet passes before it may touch any state, shared by
    /// [`UniverseReceiver::handle_data`] and [`UniverseReceiver::changes_nothing`] so the two
    /// cannot drift apart: why it is discarded, or the index of its known source (`None`: new).
    fn screen(&self, pkt: &DataPacket<'_>) -> Result<Option<usize>, Discard> {
        let cid = pkt.cid();
        if self.set.own_cid == Some(cid) {
            return Err(Discard::OwnCid);
        }
        if self.set.from.is_some_and(|f| f != cid) {
            return Err(Discard::FilteredCid);
        }
        // A termination ends the stream whatever its start code and even as a preview (E1.31-2018
        // 6.2.6: the source stops; its data is ignored anyway), so those two screens only apply
        // to packets whose data would be used. It still passes the sequence check: an old
        // termination arriving late must not end a live stream.
        if !pkt.options().stream_terminated() {
            let start_code = pkt.start_code();
            if start_code != START_CODE_LEVELS && start_code != START_CODE_PER_ADDRESS_PRIORITY {
                return Err(Discard::UnsupportedStartCode);
            }
            if pkt.options().preview() && !self.set.accept_preview {
                return Err(Discard::Preview);
            }
        }
        match self.find(cid) {
            Some(i) if !self.sources[i].seq.would_accept(pkt.sequence()) => {
                Err(Discard::OutOfSequence)
            }
            found => Ok(found),
        }
    }

    /// Takes in one data packet of this universe (the caller has checked the universe number).
    ///
    /// `sync` is the state of the (CID, sync address) stream the packet names; it is ignored
    /// when the sync address is 0.
    pub fn handle_data(
        &mut self,
        now: Instant,
        pkt: &DataPacket<'_>,
        sync: SyncStatus,
        events: &mut EventQueue,
    ) -> Result<UniverseOutcome, Discard> {
        let out = self.take_data(now, pkt, sync, events);
        if self.settle.is_some() && self.finish_settle(now) {
            return Ok(match out? {
                UniverseOutcome::Applied { .. } => UniverseOutcome::Applied { changed: true },
                UniverseOutcome::Held => UniverseOutcome::Held,
            });
        }
        out
    }

    fn take_data(
        &mut self,
        now: Instant,
        pkt: &DataPacket<'_>,
        sync: SyncStatus,
        events: &mut EventQueue,
    ) -> Result<UniverseOutcome, Discard> {
        let cid = pkt.cid();
        let start_code = pkt.start_code();
        let opts = pkt.options();
        let screened = self.screen(pkt);
        if screened == Err(Discard::OutOfSequence)
            && let Some(i) = self.find(cid)
        {
            self.sources[i].traffic.sequence_errors += 1;
        }
        let i = match screened? {
            Some(i) => {
                self.sources[i].take_sequence(pkt.sequence());
                i
            }
            None => {
                if opts.stream_terminated() {
                    // A source lost while its loss settles still has levels in the merge; its
                    // termination takes them out now (Stream_Terminated is never delayed).
                    let Some(z) = self.zombie(cid) else {
                        return Err(Discard::Terminated);
                    };
                    self.remove_source(z);
                    let changed = !self.is_sampling() && self.full_merge();
                    return Ok(UniverseOutcome::Applied { changed });
                }
                // Back while its loss settles: it was reported lost, so it is new again, but it
                // keeps its place and levels in the merge, so the output does not jump.
                if let Some(z) = self.zombie(cid) {
                    self.revive(now, z, pkt, events);
                    z
                } else {
                    self.new_source(now, pkt, events)?
                }
            }
        };
        if opts.stream_terminated() {
            self.remove_source(i);
            events.push(Event::SourceTerminated {
                universe: self.universe,
                cid,
            });
            let changed = !self.is_sampling() && self.full_merge();
            return Ok(UniverseOutcome::Applied { changed });
        }
        if start_code == START_CODE_PER_ADDRESS_PRIORITY {
            let changed = self.apply_pap(now, i, pkt.slots());
            return Ok(UniverseOutcome::Applied { changed });
        }

        let src = &mut self.sources[i];
        src.last_levels = now;
        let sync_address = pkt.sync_address();
        if sync_address != src.sync_address {
            src.sync_address = sync_address;
            if sync_address != 0 {
                events.push(Event::SyncAddressSeen {
                    universe: self.universe,
                    cid,
                    sync_address,
                });
            }
        }
        if sync_address != 0 {
            let hold = match sync {
                SyncStatus::NotSynchronized => false,
                SyncStatus::Active => true,
                SyncStatus::Lost => !opts.force_synchronization(),
            };
            if hold {
                let slots = pkt.slots();
                let n = slots.len().min(MAX_SLOTS);
                src.held_levels[..n].copy_from_slice(&slots[..n]);
                src.held = Some(Held {
                    sync_address,
                    priority: pkt.priority(),
                    // n ≤ 512 fits.
                    len: n as u16,
                });
                return Ok(UniverseOutcome::Held);
            }
        }
        src.held = None;
        let changed = self.apply_levels(i, pkt.priority(), pkt.slots());
        Ok(UniverseOutcome::Applied { changed })
    }

    /// Applies the data `cid` holds for `sync_address`; returns whether the output changed.
    pub fn release_sync(&mut self, cid: Cid, sync_address: u16) -> bool {
        let Some(i) = self.find(cid) else {
            return false;
        };
        let Some(h) = self.sources[i].held else {
            return false;
        };
        if h.sync_address != sync_address {
            return false;
        }
        self.sources[i].held = None;
        let n = usize::from(h.len).min(MAX_SLOTS);
        let mut tmp = [0u8; MAX_SLOTS];
        tmp[..n].copy_from_slice(&self.sources[i].held_levels[..n]);
        self.apply_levels(i, h.priority, &tmp[..n])
    }

    /// Runs every timer due at `now` (sampling end, source loss, 0xDD wait and loss); returns
    /// whether the merged output changed.
    pub fn handle_timeout(&mut self, now: Instant, events: &mut EventQueue) -> bool {
        let mut remerge = false;
        if self.sampling_until.is_some_and(|t| now >= t) {
            self.sampling_until = None;
            events.push(Event::SamplingEnded {
                universe: self.universe,
            });
            remerge = true;
        }
        for i in 0..self.sources.len() {
            let s = &mut self.sources[i];
            if !s.in_use || s.zombie {
                continue;
            }
            if now.saturating_duration_since(s.last_levels) >= self.set.source_timeout {
                let cid = s.cid;
                let lost_at = after(s.last_levels, self.set.source_timeout).unwrap_or(now);
                if s.eligible() && !self.set.loss_settle.is_zero() {
                    s.zombie = true;
                    s.held = None;
                    self.zombies += 1;
                    self.fast = None;
                    let until = after(lost_at, self.set.loss_settle).unwrap_or(now);
                    self.settle = Some(match self.settle {
                        None => Settle {
                            since: lost_at,
                            until,
                        },
                        Some(z) => Settle {
                            since: z.since.min(lost_at),
                            until: z.until.max(until),
                        },
                    });
                } else {
                    self.remove_source(i);
                    remerge = true;
                }
                events.push(Event::SourceLost {
                    universe: self.universe,
                    cid,
                });
                continue;
            }
            match s.pap {
                Pap::Waiting { until } if now >= until => {
                    s.pap = Pap::Off;
                    remerge |= s.has_levels;
                }
                Pap::Active { expires } if now >= expires => {
                    s.pap = Pap::Off;
                    events.push(Event::PerAddressPriorityLost {
                        universe: self.universe,
                        cid: s.cid,
                    });
                    remerge |= s.has_levels;
                }
                _ => {}
            }
        }
        if self.settle.is_some() && self.finish_settle(now) {
            return true;
        }
        remerge && !self.is_sampling() && self.full_merge()
    }

    /// Ends the loss settling once every contributing live source has been heard since the first
    /// loss, or at the settle deadline; then drops the lost sources and re-merges.
    fn finish_settle(&mut self, now: Instant) -> bool {
        let Some(z) = self.settle else {
            return false;
        };
        let verified = now >= z.until
            || self
                .sources
                .iter()
                .filter(|s| s.eligible() && !s.zombie)
                .all(|s| s.last_levels >= z.since);
        if !verified {
            return false;
        }
        self.settle = None;
        for i in 0..self.sources.len() {
            if self.sources[i].in_use && self.sources[i].zombie {
                self.remove_source(i);
            }
        }
        !self.is_sampling() && self.full_merge()
    }

    fn new_source(
        &mut self,
        now: Instant,
        pkt: &DataPacket<'_>,
        events: &mut EventQueue,
    ) -> Result<usize, Discard> {
        if self.active >= self.set.max_sources {
            if !self.limit_reported {
                self.limit_reported = true;
                events.push(Event::SourceLimitExceeded {
                    universe: self.universe,
                });
            }
            return Err(Discard::TooManySources);
        }
        Ok(self.add_source(now, pkt, events))
    }

    fn revive(&mut self, now: Instant, i: usize, pkt: &DataPacket<'_>, events: &mut EventQueue) {
        let s = &mut self.sources[i];
        s.zombie = false;
        s.seq = SequenceTracker::new();
        // Reported lost, so it appears anew: its counts start again.
        s.traffic = Traffic::default();
        s.take_sequence(pkt.sequence());
        s.last_levels = now;
        s.sync_address = 0;
        self.zombies -= 1;
        let (cid, name) = (s.cid, s.name);
        // Its merge inputs (levels, priority, 0xDD state) are unchanged, so the output is too;
        // only its timers need scheduling again.
        let pap_deadline = match s.pap {
            Pap::Off => None,
            Pap::Waiting { until } => Some(until),
            Pap::Active { expires } => Some(expires),
        };
        self.note_deadline(pap_deadline);
        self.note_deadline(after(now, self.set.source_timeout));
        events.push(Event::SourceAdded {
            universe: self.universe,
            cid,
            name,
            priority: pkt.priority(),
        });
    }

    fn add_source(&mut self, now: Instant, pkt: &DataPacket<'_>, events: &mut EventQueue) -> usize {
        let cid = pkt.cid();
        let name = SourceName::from_wire(pkt.source_name_bytes());
        let pap = if self.is_sampling() || self.set.pap_wait.is_zero() {
            Pap::Off
        } else {
            match after(now, self.set.pap_wait) {
                Some(until) => Pap::Waiting { until },
                None => Pap::Off,
            }
        };
        let mut seq = SequenceTracker::new();
        seq.accept(pkt.sequence());
        let fresh = Source {
            in_use: true,
            zombie: false,
            cid,
            name,
            priority: pkt.priority(),
            seq,
            traffic: Traffic {
                packets: 1,
                ..Traffic::default()
            },
            last_levels: now,
            has_levels: false,
            pap,
            stamp: 0,
            sync_address: 0,
            held: None,
            slot_count: 0,
            levels: [0; MAX_SLOTS],
            pap_keys: [0; MAX_SLOTS],
            held_levels: [0; MAX_SLOTS],
        };
        let i = match self.sources.iter().position(|s| !s.in_use) {
            Some(i) => {
                self.sources[i] = fresh;
                i
            }
            None => {
                self.sources.push(fresh);
                self.sources.len() - 1
            }
        };
        self.active += 1;
        self.note_deadline(after(now, self.set.source_timeout));
        if let Pap::Waiting { until } = pap {
            self.note_deadline(Some(until));
        }
        events.push(Event::SourceAdded {
            universe: self.universe,
            cid,
            name,
            priority: pkt.priority(),
        });
        i
    }

    fn remove_source(&mut self, i: usize) {
        if let Some(s) = self.sources.get_mut(i)
            && s.in_use
        {
            s.in_use = false;
            s.held = None;
            if s.zombie {
                s.zombie = false;
                self.zombies -= 1;
            }
            self.active -= 1;
            self.limit_reported = false;
            self.fast = None;
            // The slot may be reused before the next merge; never report it as an owner.
            self.out.forget_owner(i as u8);
        }
    }

    fn apply_pap(&mut self, now: Instant, i: usize, slots: &[u8]) -> bool {
        let mut keys = [0u8; MAX_SLOTS];
        for (k, &v) in keys.iter_mut().zip(slots) {
            *k = if v == 0 { 0 } else { v.min(MAX_PRIORITY) + 1 };
        }
        let expires = after(now, self.set.pap_timeout);
        let sampling = self.is_sampling();
        let s = &mut self.sources[i];
        let mut scratch = SlotSet::EMPTY;
        let keys_changed = copy_and_diff(&mut s.pap_keys, &keys, &mut scratch);
        let was_active = matches!(s.pap, Pap::Active { .. });
        s.pap = match expires {
            Some(expires) => Pap::Active { expires },
            None => Pap::Off,
        };
        let relevant = s.has_levels && (keys_changed || !was_active);
        if !was_active {
            self.note_deadline(expires);
        }
        relevant && !sampling && self.full_merge()
    }

    fn apply_levels(&mut self, i: usize, priority: u8, slots: &[u8]) -> bool {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        let sampling = self.is_sampling();
        let fast = self.fast == Some(i as u8);
        let UniverseReceiver { sources, out, .. } = self;
        let s = &mut sources[i];
        let was_eligible = s.eligible();
        s.stamp = stamp;
        s.has_levels = true;
        let priority_changed = s.priority != priority;
        s.priority = priority;
        let n = slots.len().min(MAX_SLOTS);
        let count_changed = usize::from(s.slot_count) != n;
        // n ≤ 512 fits.
        s.slot_count = n as u16;
        if fast && !sampling && !count_changed {
            // A lone source: its priority does not matter, only its levels.
            return out.mirror(&mut s.levels, &slots[..n]);
        }
        let mut scratch = SlotSet::EMPTY;
        let levels_changed = copy_and_diff(&mut s.levels, &slots[..n], &mut scratch);
        let eligible = s.eligible();
        if sampling || !eligible {
            return false;
        }
        // Newly eligible sources, priority and slot count changes need a merge even if no level
        // moved; LTP ranks by arrival, so every packet of a non-lone source can change owners.
        if was_eligible
            && !levels_changed
            && !priority_changed
            && !count_changed
            && self.set.merge == MergeMode::Htp
        {
            return false;
        }
        self.full_merge()
    }

    /// Recomputes the whole merged output from every eligible source; returns whether it changed.
    fn full_merge(&mut self) -> bool {
        let mut order = [0u8; MAX_SOURCES_PER_UNIVERSE];
        let mut n = 0usize;
        for (i, s) in self.sources.iter().enumerate() {
            if s.eligible() && n < order.len() {
                order[n] = i as u8;
                n += 1;
            }
        }
        let order = &mut order[..n];
        self.fast = None;
        let undriven = self.set.loss;

        if let [only] = *order
            && !matches!(self.sources[usize::from(only)].pap, Pap::Active { .. })
        {
            let s = &self.sources[usize::from(only)];
            self.fast = Some(only);
            // Slots beyond its packets are driven by nobody: held, or zero.
            return self
                .out
                .set_single(&s.levels[..usize::from(s.slot_count)], only, undriven);
        }

        if self.set.merge == MergeMode::Ltp {
            order.sort_unstable_by_key(|&i| self.sources[usize::from(i)].stamp);
        }
        let sources = &self.sources;
        self.out.merge(self.set.merge, undriven, |round| {
            for &si in order.iter() {
                let s = &sources[usize::from(si)];
                // Key 0 beyond the slots its last levels packet carried: it does not drive them.
                // (A full packet uses its keys as they are: no copy on the common path.)
                let n = usize::from(s.slot_count);
                let mut masked;
                let keys = match s.pap {
                    Pap::Active { .. } if n == MAX_SLOTS => &s.pap_keys,
                    Pap::Active { .. } => {
                        masked = s.pap_keys;
                        masked[n..].fill(0);
                        &masked
                    }
                    _ => {
                        masked = [s.priority.min(MAX_PRIORITY) + 1; MAX_SLOTS];
                        masked[n..].fill(0);
                        &masked
                    }
                };
                round.add(keys, &s.levels, si);
            }
        })
    }
}

impl UniverseReceiver {
    /// Recomputes the merge slot by slot, the slow obvious way, and compares it with the
    /// incremental result (fuzzing and property tests only).
    pub(crate) fn verify_merge(&self) -> Result<(), String> {
        if self.is_sampling() {
            return if self.out.owners().iter().all(|&o| o == NO_OWNER) {
                Ok(())
            } else {
                Err("owners set during sampling".into())
            };
        }
        for slot in 0..MAX_SLOTS {
            let mut best: Option<(u8, u8, u64)> = None; // key, level, stamp
            let mut owners_ok = Vec::new();
            for (i, s) in self.sources.iter().enumerate() {
                if !s.eligible() {
                    continue;
                }
                let key = match s.pap {
                    _ if slot >= usize::from(s.slot_count) => 0,
                    Pap::Active { .. } => s.pap_keys[slot],
                    _ => s.priority.min(MAX_PRIORITY) + 1,
                };
                if key == 0 {
                    continue;
                }
                let cand = (key, s.levels[slot], s.stamp);
                let better = match (best, self.set.merge) {
                    (None, _) => true,
                    (Some(b), MergeMode::Htp) => (cand.0, cand.1) > (b.0, b.1),
                    (Some(b), MergeMode::Ltp) => (cand.0, cand.2) > (b.0, b.2),
                };
                let tie = match (best, self.set.merge) {
                    (Some(b), MergeMode::Htp) => (cand.0, cand.1) == (b.0, b.1),
                    _ => false,
                };
                if better {
                    best = Some(cand);
                    owners_ok.clear();
                    owners_ok.push(i as u8);
                } else if tie {
                    owners_ok.push(i as u8);
                }
            }
            let owner = self.out.owners()[slot];
            match best {
                Some((_, level, _)) => {
                    if self.out.levels()[slot] != level || !owners_ok.contains(&owner) {
                        return Err(format!(
                            "slot {slot}: merged {} owner {owner}, expected {level} from {owners_ok:?}",
                            self.out.levels()[slot]
                        ));
                    }
                }
                None => {
                    if owner != NO_OWNER {
                        return Err(format!("slot {slot}: undriven but owned by {owner}"));
                    }
                }
            }
        }
        Ok(())
    }
}

impl core::fmt::Debug for UniverseReceiver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UniverseReceiver")
            .field("universe", &self.universe)
            .field("sources", &self.active)
            .field("sampling", &self.is_sampling())
            .finish_non_exhaustive()
    }
}
