//! Receive path (the sACN backend README): drain ready sockets with a per-turn budget, hand each datagram to
//! the receiver of its universe, then report events for changed mapped slots.
//!
//! Why a budget: one flooded socket must not starve the others or the output side; sockets that
//! still have data are remembered and drained first next turn (mio is edge-triggered, so they
//! would not be reported again), and `poll_timeout` asks for an immediate turn meanwhile.
//!
//! Why turns end at a repeated universe: the core routes once per turn and the output sends one
//! packet per universe per turn, so two frames of one universe read in the same turn (after a
//! scheduling stall of a frame period or more) would merge and the earlier one would never be
//! forwarded. When a data packet would merge into a change of its universe that this turn has
//! not reported yet, reading stops there; the rest of that `recvmmsg` batch is kept
//! ([`TurnSplit`]) and fed first next turn, which follows at once (the socket is in the
//! backlog). Only when the input falls behind, i.e. a datagram waited in the kernel longer than
//! [`COALESCE_AFTER`] (real overload, where fresh output beats completeness), do repeated
//! universes coalesce, latest values winning, until datagrams wait less than [`SPLIT_BELOW`].

use std::time::{Duration, Instant};

use patchbay_core::{Interest, Io, Ready, Sink};
use patchbay_net::SocketId;
use patchbay_sacn::receiver::{Discard, DropCause, Dropped, Event, Handled};
use patchbay_sacn::{Cid, DropReason, Packet};

use super::Instance;
use super::counters::{LOG_PERIOD, Throttle};
use super::options::Detect;
use super::start::{BindRt, RX_BUF, Runtime, group_ip, tag, untag};

/// Datagrams read from one socket per turn at most.
pub(super) const RECV_BUDGET: usize = 256;

/// Datagrams per `recvmmsg`. One system call per datagram cost a context switch's worth of
/// kernel time each at 20,000 frames/s; 32 divides the budget and keeps the batch (64 KiB of
/// buffers per address family) small.
pub(super) const RX_BATCH: usize = 32;

/// The receive batch: buffers larger than any valid packet, so oversize datagrams show as
/// truncated.
pub(super) type RxBatch = patchbay_net::RecvBatch<RX_BATCH, RX_BUF>;

/// Universes remembered for the verbose "nobody listens" log.
const UNKNOWN_LOG_LIMIT: usize = 1024;

/// How long a datagram may have waited in the kernel before repeated universes coalesce instead
/// of ending turns. Why the wait and not "data still queued at the end of a turn": at high rates
/// with split turns there is always data queued, although the loop keeps up; the wait says how
/// far behind the input the loop really is. Why 8 ms: on a loaded 2-core machine the loop is
/// descheduled for several ms now and then, and such a stall is caught up by forwarding every
/// frame; input older than this is load the loop cannot keep up with, where forwarding every
/// frame would only make all output later (issue 9: latest values win). Measured with W2
/// (100 universes, highest rate with < 0.1 % loss and p99 < 10 ms): 139,000 frames/s with 5 ms,
/// 171,000 with 8 ms.
pub(super) const COALESCE_AFTER: Duration = Duration::from_millis(8);

/// Wait below which coalesce mode ends: the loop has caught up. Lower than [`COALESCE_AFTER`]
/// so that the mode does not flip at every datagram near the threshold.
pub(super) const SPLIT_BELOW: Duration = Duration::from_millis(1);

/// Sockets to read again next turn, in order, each once. Why a set beside the list: a bind has a
/// socket per joined group, so a turn that ends early can leave a thousand ready sockets, and
/// checking each against the list would cost a million comparisons.
#[derive(Debug, Default)]
pub(super) struct Backlog {
    order: Vec<u32>,
    queued: rustc_hash::FxHashSet<u32>,
}

impl Backlog {
    /// Adds socket `tag` unless it is queued already.
    pub(super) fn push(&mut self, tag: u32) {
        if self.queued.insert(tag) {
            self.order.push(tag);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = &u32> {
        self.order.iter()
    }

    /// Empties it, keeping the storage.
    fn clear(&mut self) {
        self.order.clear();
        self.queued.clear();
    }
}

/// State of turns that end early (see the module docs).
#[derive(Debug, Default)]
pub(super) struct TurnSplit {
    /// The receive batch still holds datagrams not fed yet.
    carry: Option<Carry>,
    /// Repeated universes coalesce instead of ending the turn.
    coalescing: bool,
    mode_log: Throttle,
}

impl TurnSplit {
    /// Notes that a datagram waited `waited` in the kernel before being handled at `now`;
    /// returns whether repeated universes coalesce from here on.
    fn observe(&mut self, now: Instant, waited: Duration) -> bool {
        if !self.coalescing && waited > COALESCE_AFTER {
            self.coalescing = true;
            if let Some(n) = self.mode_log.hit(now, LOG_PERIOD) {
                tracing::debug!(target: "sacn",
                    "input {waited:?} behind: frames of one universe read in one turn are coalesced ({n} time(s))");
            }
        } else if self.coalescing && waited < SPLIT_BELOW {
            self.coalescing = false;
        }
        self.coalescing
    }
}

/// Where the rest of a receive batch starts.
#[derive(Clone, Copy, Debug)]
struct Carry {
    /// Socket the batch was read from.
    tag: u32,
    /// Which batch (one per address family).
    v6: bool,
    /// First datagram not fed yet.
    next: usize,
}

/// What one turn's reads share.
struct Turn {
    now: Instant,
    cid: Cid,
    detect: Detect,
    /// Datagrams handled this turn: a turn never ends before its first one, so every turn
    /// makes progress even if a timer left a change pending.
    fed: usize,
}

enum Target {
    Universe(u16),
    AllGroups,
    FirstGroup,
}

impl Runtime {
    pub fn receive(
        &mut self,
        now: Instant,
        ready: &[Ready],
        io: &mut Io<'_>,
        instances: &mut [Instance],
        detect: Detect,
        sink: &mut Sink<'_>,
    ) {
        self.last_now = now;
        let mut turn = Turn {
            now,
            cid: self.cid,
            detect,
            fed: 0,
        };
        let mut todo = std::mem::replace(&mut self.backlog, std::mem::take(&mut self.spare));
        // Only sockets with something to read: a socket reported writable alone (output waiting
        // for room) is the output side's business, in `flush`.
        let readable = ready.iter().filter(|r| r.should_read()).map(|r| r.tag);
        let mut rest = readable.chain(todo.iter().copied());
        if !self.resume(&mut turn, io, instances) {
            for t in rest.by_ref() {
                if self.drain(t, &mut turn, io, instances) {
                    break;
                }
            }
        }
        // Sockets this turn did not reach: mio is edge-triggered, they would not be reported again.
        for t in rest {
            self.backlog.push(t);
        }
        todo.clear();
        self.spare = todo;
        for b in 0..self.binds.len() {
            collect(&mut self.binds[b], b, now, io, instances, detect, sink);
        }
    }

    /// Feeds what a turn that ended early left in a receive batch. Returns whether this turn
    /// ends early too (the carry then stays, further on).
    fn resume(&mut self, turn: &mut Turn, io: &mut Io<'_>, instances: &mut [Instance]) -> bool {
        let Some(c) = self.split.carry.take() else {
            return false;
        };
        let batch = if c.v6 {
            match self.rx_v6.as_deref() {
                Some(b) => b,
                None => return false,
            }
        } else {
            &*self.rx_v4
        };
        let (b, _) = untag(c.tag);
        if b >= self.binds.len() {
            return false;
        }
        match feed_batch(
            batch,
            c.next,
            b,
            &mut self.binds[b],
            turn,
            &mut self.split,
            io,
            instances,
        ) {
            Some(next) => {
                self.split.carry = Some(Carry { next, ..c });
                self.backlog.push(c.tag);
                true
            }
            None => false,
        }
    }

    /// Reads socket `t` in `recvmmsg` batches until its queue is empty or the budget is spent.
    /// Returns whether the turn ends early (at a repeated universe; the batch's rest is kept).
    fn drain(
        &mut self,
        t: u32,
        turn: &mut Turn,
        io: &mut Io<'_>,
        instances: &mut [Instance],
    ) -> bool {
        let (b, sid) = untag(t);
        let Some(v6) = self.binds.get(b).map(|x| x.ep.is_ipv6(sid)) else {
            return false;
        };
        // One batch per address family of the socket (a dual-stack bind has both): a batch's
        // headers are sized for its family.
        let batch = if v6 {
            self.rx_v6.get_or_insert_with(Box::default)
        } else {
            &mut self.rx_v4
        };
        let mut left = self.recv_budget;
        while left > 0 {
            let asked = left.min(RX_BATCH);
            let n = match self.binds[b].ep.recv_batch_max(sid, batch, asked) {
                Ok(0) => return false,
                Ok(n) => n,
                Err(e) => {
                    let bind = &mut self.binds[b];
                    if let Some(n) = bind.error_log.hit(turn.now, LOG_PERIOD) {
                        tracing::warn!(target: "sacn", "bind {b}: {e} ({n} time(s))");
                    }
                    return false;
                }
            };
            left = left.saturating_sub(n);
            if let Some(next) = feed_batch(
                batch,
                0,
                b,
                &mut self.binds[b],
                turn,
                &mut self.split,
                io,
                instances,
            ) {
                self.split.carry = Some(Carry { tag: t, v6, next });
                self.backlog.push(t);
                return true;
            }
            if n < asked {
                // The queue ran dry inside this call. Linux wakes epoll (edge-triggered) for every
                // datagram queued after it, so the read that would return EAGAIN is skipped.
                return false;
            }
        }
        self.backlog.push(t);
        false
    }
}

/// Feeds datagrams `from..` of a batch read from a socket of bind `b`, in order. A socket's
/// datagrams are its bind's: unicast reaches the socket bound to its destination (or a wildcard
/// one), multicast the socket bound to its group. Returns the index of the datagram the turn
/// ends at (not fed), if any.
#[allow(clippy::too_many_arguments)] // the disjoint parts of `Runtime` it needs, borrowed apart
fn feed_batch(
    batch: &RxBatch,
    from: usize,
    b: usize,
    bind: &mut BindRt,
    turn: &mut Turn,
    split: &mut TurnSplit,
    io: &mut Io<'_>,
    instances: &mut [Instance],
) -> Option<usize> {
    for i in from..batch.len() {
        let Some((meta, bytes)) = batch.get(i) else {
            continue;
        };
        if meta.truncated {
            turn.fed += 1;
            bind.counters.datagrams += 1;
            count_malformed(bind, b, turn.now, DropReason::Oversize);
            continue;
        }
        if let Some(waited) = meta.waited {
            split.observe(turn.now, waited);
        }
        let packet = Packet::parse(bytes);
        if meta.stale && skip_stale(bind, turn.now, &packet) {
            turn.fed += 1;
            bind.counters.datagrams += 1;
            bind.counters.stale_skipped += 1;
            count_irregular(bind, b, &packet);
            continue;
        }
        if would_coalesce(bind, &packet) {
            if !split.coalescing && turn.fed > 0 {
                bind.counters.turns_split += 1;
                return Some(i);
            }
            bind.counters.coalesced_in += 1;
        }
        turn.fed += 1;
        if split.coalescing {
            bind.counters.coalesce_mode_datagrams += 1;
        }
        feed(bind, b, turn, bytes, packet, io, instances);
    }
    None
}

/// Takes a stale data packet (it waited long in a queue that stood, and newer input is queued
/// behind it) the cheap way: its known source stays alive and its sequence number counts, its
/// levels are skipped, so the loop catches up with the input instead of working through old
/// frames, and no source is lost because its packets came late. Returns false when the packet
/// needs full handling (not data, an unknown universe or source, 0xDD, a termination, ...).
fn skip_stale(bind: &mut BindRt, now: Instant, packet: &Result<Packet<'_>, DropReason>) -> bool {
    let Ok(Packet::Data(p)) = packet else {
        return false;
    };
    let Some((g, _)) = bind.input_of(p.universe()) else {
        return false;
    };
    bind.groups
        .get_mut(g)
        .is_some_and(|group| group.rx.keep_alive(now, p))
}

/// Whether `packet` is data that would merge into a change of its universe not reported yet
/// (so the earlier frame would never be seen on its own). Sync, discovery, malformed packets,
/// universes nobody listens to and packets that change nothing never do.
fn would_coalesce(bind: &BindRt, packet: &Result<Packet<'_>, DropReason>) -> bool {
    let Ok(Packet::Data(p)) = packet else {
        return false;
    };
    let u = p.universe();
    let Some(rx) = bind
        .input_of(u)
        .and_then(|(g, _)| bind.groups.get(g))
        .map(|g| &g.rx)
    else {
        return false;
    };
    rx.has_pending_change(u) && rx.universe(u).is_some_and(|r| !r.changes_nothing(p))
}

/// Counts what a data packet deviates from E1.31 in and was accepted anyway, once per datagram
/// taken (fed, or skipped as stale). The first of each kind on a bind is logged, so a user
/// learns that a source is off without a line per packet.
fn count_irregular(bind: &mut BindRt, b: usize, packet: &Result<Packet<'_>, DropReason>) {
    let Ok(Packet::Data(p)) = packet else {
        return;
    };
    let set = p.irregularities();
    if set.is_empty() {
        return;
    }
    for i in set.iter() {
        let n = &mut bind.counters.irregular[i.index()];
        *n += 1;
        if *n == 1 {
            tracing::info!(target: "sacn",
                "bind {b}: accepting data packets that deviate from E1.31, first from {} on universe {}: {} (counted as irregular.{})",
                p.cid(), p.universe(), i.description(), i.as_str());
        }
    }
}

fn count_malformed(bind: &mut BindRt, b: usize, now: Instant, r: DropReason) {
    bind.counters.malformed[r.index()] += 1;
    if let Some(n) = bind.malformed_log[r.index()].hit(now, LOG_PERIOD) {
        tracing::debug!(target: "sacn", "bind {b}: dropped {n} malformed datagram(s): {r}");
    }
}

fn count_discard(
    bind: &mut BindRt,
    b: usize,
    now: Instant,
    d: &Dropped,
    instances: &mut [Instance],
    detect: Detect,
) {
    let reason = match d.cause {
        DropCause::Malformed(r) => return count_malformed(bind, b, now, r),
        DropCause::Discarded(x) => x,
    };
    bind.counters.discarded[reason.index()] += 1;
    let inst = d
        .universe
        .and_then(|u| bind.input_of(u))
        .and_then(|(_, i)| instances.get_mut(i));
    if let Some(inst) = &inst
        && detect == Detect::Verbose
    {
        tracing::info!(target: "sacn", "instance '{}': discarded a packet from {}: {reason}",
            inst.name, d.cid.map(|c| c.to_string()).unwrap_or_default());
    }
    if let Some(inst) = inst {
        inst.counters.discarded[reason.index()] += 1;
    }
    if detect == Detect::Verbose
        && reason == Discard::UnknownUniverse
        && let Some(u) = d.universe
        && !bind.unknown_seen.contains(&u)
        && bind.unknown_seen.len() < UNKNOWN_LOG_LIMIT
    {
        bind.unknown_seen.push(u);
        tracing::info!(target: "sacn", "bind {b}: data for universe {u} from {}, which no instance listens to",
            d.cid.map(|c| c.to_string()).unwrap_or_default());
    }
    if let Some(n) = bind.discard_log[reason.index()].hit(now, LOG_PERIOD) {
        tracing::debug!(target: "sacn", "bind {b}: discarded {n} packet(s): {reason}");
    }
}

/// One datagram for bind `b`, parsed as `packet`. Receiver events are handled right away so
/// that a burst of new sources cannot overflow the receiver's bounded event queue before the end
/// of the turn.
fn feed(
    bind: &mut BindRt,
    b: usize,
    turn: &Turn,
    bytes: &[u8],
    packet: Result<Packet<'_>, DropReason>,
    io: &mut Io<'_>,
    instances: &mut [Instance],
) {
    let (now, cid, detect) = (turn.now, turn.cid, turn.detect);
    bind.counters.datagrams += 1;
    if bytes.is_empty() {
        // D8: an empty datagram is not a closed socket; anyone can send one.
        bind.counters.empty += 1;
        return;
    }
    count_irregular(bind, b, &packet);
    let (target, pcid, universe) = match packet {
        Err(r) => return count_malformed(bind, b, now, r),
        Ok(Packet::Data(p)) => (Target::Universe(p.universe()), p.cid(), Some(p.universe())),
        Ok(Packet::Sync(p)) => (Target::AllGroups, p.cid(), Some(p.sync_address())),
        Ok(Packet::Discovery(p)) => (Target::FirstGroup, p.cid(), None),
    };
    let unused = |why| Dropped {
        cause: DropCause::Discarded(if pcid == cid { Discard::OwnCid } else { why }),
        universe,
        cid: Some(pcid),
    };
    let mut used = 0..0;
    let res = match target {
        Target::Universe(u) => match bind.input_of(u) {
            Some((g, _)) => {
                used = g..g + 1;
                bind.groups[g].rx.handle_datagram(now, bytes)
            }
            None => Err(unused(Discard::UnknownUniverse)),
        },
        Target::AllGroups => {
            used = 0..bind.groups.len();
            let mut first = None;
            for g in &mut bind.groups {
                let r = g.rx.handle_datagram(now, bytes);
                first.get_or_insert(r);
            }
            first.unwrap_or_else(|| Err(unused(Discard::UnknownUniverse)))
        }
        Target::FirstGroup => match bind.groups.first_mut() {
            Some(g) => {
                used = 0..1;
                g.rx.handle_datagram(now, bytes)
            }
            None if pcid == cid => Err(unused(Discard::OwnCid)),
            None => Ok(Handled::Discovery {
                cid: pcid,
                complete: false,
            }),
        },
    };
    match res {
        Ok(Handled::Data { universe, .. } | Handled::Held { universe }) => {
            if let Some(inst) = bind
                .input_of(universe)
                .and_then(|(_, i)| instances.get_mut(i))
            {
                inst.counters.frames_in += 1;
            }
        }
        Ok(Handled::Sync { .. }) => bind.counters.sync += 1,
        Ok(Handled::Discovery { .. }) => bind.counters.discovery += 1,
        Err(d) => count_discard(bind, b, now, &d, instances, detect),
    }
    for g in used {
        while let Some(ev) = bind.groups[g].rx.poll_event() {
            on_event(bind, b, io, instances, detect, ev);
        }
    }
}

/// Timers, changed universes (events) and receiver events of one bind.
fn collect(
    bind: &mut BindRt,
    b: usize,
    now: Instant,
    io: &mut Io<'_>,
    instances: &mut [Instance],
    detect: Detect,
    sink: &mut Sink<'_>,
) {
    for g in 0..bind.groups.len() {
        let rx = &mut bind.groups[g].rx;
        if rx.poll_timeout().is_some_and(|t| t <= now) {
            rx.handle_timeout(now);
        }
        while let Some((u, changes)) = bind.groups[g].rx.poll_changed() {
            let Some((_, i)) = bind.input_of(u) else {
                continue;
            };
            let Some(inst) = instances.get_mut(i) else {
                continue;
            };
            if let (Some(map), Some(ur)) = (inst.map.as_ref(), bind.groups[g].rx.universe(u)) {
                let n = map.report(inst.id, &changes, ur.slots(), sink);
                inst.counters.events_in += n as u64;
            }
        }
        while let Some(ev) = bind.groups[g].rx.poll_event() {
            on_event(bind, b, io, instances, detect, ev);
        }
    }
}

fn on_event(
    bind: &mut BindRt,
    b: usize,
    io: &mut Io<'_>,
    instances: &mut [Instance],
    detect: Detect,
    ev: Event,
) {
    let inst_of = |bind: &BindRt, u: u16| bind.input_of(u).map(|(_, i)| i);
    match ev {
        Event::SourceAdded {
            universe,
            cid,
            name,
            priority,
        } => {
            if let Some(inst) = inst_of(bind, universe).and_then(|i| instances.get_mut(i)) {
                inst.counters.sources_added += 1;
                inst.sources.appeared(cid, name, priority);
                if detect == Detect::Off {
                    tracing::debug!(target: "sacn",
                        "instance '{}' (universe {universe}): new source '{name}' (CID {cid}, priority {priority})",
                        inst.name);
                } else {
                    tracing::info!(target: "sacn",
                        "instance '{}' (universe {universe}): new source '{name}' (CID {cid}, priority {priority})",
                        inst.name);
                }
            }
        }
        Event::SourceLost { universe, cid } => {
            if let Some(inst) = inst_of(bind, universe).and_then(|i| instances.get_mut(i)) {
                inst.counters.sources_lost += 1;
                inst.sources.lost(cid);
                tracing::info!(target: "sacn",
                    "instance '{}' (universe {universe}): source {cid} lost (nothing for 2.5 s)", inst.name);
            }
        }
        Event::SourceTerminated { universe, cid } => {
            if let Some(inst) = inst_of(bind, universe).and_then(|i| instances.get_mut(i)) {
                inst.counters.sources_terminated += 1;
                inst.sources.terminated(cid);
                tracing::debug!(target: "sacn",
                    "instance '{}' (universe {universe}): source {cid} terminated its stream", inst.name);
            }
        }
        Event::SyncAddressSeen {
            universe,
            cid,
            sync_address,
        } => {
            let Some(inst) = inst_of(bind, universe).and_then(|i| instances.get(i)) else {
                return;
            };
            if inst.opts.unicast {
                return;
            }
            for &v6 in bind.families {
                let group = group_ip(v6, sync_address);
                match bind.ep.join(group) {
                    Ok(j) if j.already => {}
                    Ok(j) => {
                        tracing::info!(target: "sacn",
                            "instance '{}': source {cid} synchronizes on universe {sync_address}; joined {group}",
                            inst.name);
                        if j.new_socket {
                            let id = SocketId::Receiver(j.socket);
                            if let Some(sock) = bind.ep.socket_mut(id)
                                && let Err(e) = io.register(sock, tag(b, id), Interest::READABLE)
                            {
                                tracing::warn!(target: "sacn", "bind {b}: cannot watch a new receive socket: {e}");
                            }
                        }
                    }
                    Err(e) => tracing::warn!(target: "sacn",
                        "instance '{}': cannot join sync universe {sync_address}: {e}", inst.name),
                }
            }
        }
        Event::SourceLimitExceeded { universe } => {
            tracing::warn!(target: "sacn", "bind {b}: universe {universe}: too many sources, new ones are ignored");
        }
        Event::SamplingEnded { universe } => {
            tracing::debug!(target: "sacn", "bind {b}: universe {universe}: sampling period over");
        }
        Event::PerAddressPriorityLost { universe, cid } => {
            tracing::debug!(target: "sacn", "bind {b}: universe {universe}: source {cid} stopped sending per-address priorities");
        }
        Event::DiscoveryUpdated { cid } | Event::DiscoveryExpired { cid } => {
            if detect != Detect::Off {
                let list: Vec<String> = bind
                    .groups
                    .first()
                    .and_then(|g| g.rx.discovery().get(cid))
                    .map(|s| s.universes.iter().map(u16::to_string).collect())
                    .unwrap_or_default();
                tracing::info!(target: "sacn", "bind {b}: discovery from {cid}: universes [{}]", list.join(", "));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Coalescing from a wait over `COALESCE_AFTER`, splitting again from a wait under
    /// `SPLIT_BELOW`; waits in between keep the mode.
    #[test]
    fn coalesce_mode_follows_how_long_input_waited() {
        let now = Instant::now();
        let mut s = TurnSplit::default();
        let over = COALESCE_AFTER + Duration::from_micros(1);
        assert!(
            !s.observe(now, ms(3)),
            "a short stall is caught up frame by frame"
        );
        assert!(!s.observe(now, COALESCE_AFTER));
        assert!(s.observe(now, over), "behind by more than COALESCE_AFTER");
        assert!(s.observe(now, ms(2)), "still behind");
        assert!(s.observe(now, SPLIT_BELOW));
        assert!(!s.observe(now, Duration::from_micros(900)), "caught up");
        assert!(!s.observe(now, COALESCE_AFTER));
    }
}
