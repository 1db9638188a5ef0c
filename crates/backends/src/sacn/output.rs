//! Output path (the sACN backend README): delivered values into the bind's `Source` slot buffers, and every
//! packet the `Source` schedules out of the bind's socket.
//!
//! Why sending only happens in `flush`: `handle` may run several times per turn (one
//! call per routing round); the source coalesces all of them into one packet per universe that
//! goes out at the end of the turn. A packet the kernel has no room for is kept and sent before
//! anything newer, so the final state after a burst is never lost.
//!
//! Why a full send buffer is waited out by writability: while packets wait, the bind's socket is
//! watched for room ([`Io::watch_for_room`]) and the loop sleeps until the kernel has drained
//! it; the flush of that turn sends what waited. Polling for room instead (every 2 ms, as
//! before) woke the loop 500 times a second for nothing while a slow link drained, and sent
//! up to 2 ms late once it had. The watch is dropped as soon as nothing waits: an edge-triggered
//! writable socket reports every datagram the kernel frees.

use std::net::SocketAddr;
use std::time::Instant;

use patchbay_core::{Delivery, FrameCopies, Io};
use patchbay_net::{SendBatch, SendError, SocketId};
use patchbay_sacn::wire::MAX_PACKET_LEN;
use patchbay_sacn::{DISCOVERY_UNIVERSE, MAX_SLOTS, TransmitKind};

use patchbay_kit::dmx_channels::write_value;

use super::counters::{LOG_PERIOD, summarize};
use super::start::{BindRt, Runtime, tag};
use super::{Instance, InstanceOptions};

/// Destination number `i` of a packet: a unicast `destination`, else the universe's group in
/// each family the bind carries (two for a dual-stack bind); sync packets go to their list.
fn dest_at(
    bind: &BindRt,
    instances: &[Instance],
    kind: TransmitKind,
    i: usize,
) -> Option<SocketAddr> {
    match kind {
        TransmitKind::Data { universe } => match bind
            .output_of(universe)
            .and_then(|x| instances.get(x))
            .and_then(|inst| inst.opts.destination)
        {
            Some(d) => (i == 0).then_some(d),
            None => bind.group_dest(universe, i),
        },
        TransmitKind::Sync { sync_address } => {
            match bind.sync_dests.iter().find(|(s, _)| *s == sync_address) {
                Some((_, d)) => d.get(i).copied(),
                None => bind.group_dest(sync_address, i),
            }
        }
        TransmitKind::Discovery { .. } => bind.group_dest(DISCOVERY_UNIVERSE, i),
    }
}

/// Data packets per `sendmmsg`.
pub(super) const TX_BATCH: usize = 32;

/// The send batch of one bind.
pub(super) type TxBatch = SendBatch<TX_BATCH, MAX_PACKET_LEN>;

/// Notes a change no packet carries yet; one on top of another is coalesced (latest wins).
fn note_unsent_change(inst: &mut Instance) {
    if std::mem::replace(&mut inst.unsent_change, true) {
        inst.counters.coalesced += 1;
    }
}

/// Whether packets of the bind wait for room in its socket's send buffer.
fn waits_for_room(bind: &BindRt) -> bool {
    bind.pending.kind.is_some() || !bind.out.is_empty()
}

/// Watches the bind's socket for room while packets wait for it (`waiting`), or for input only
/// once they are sent. Sends go out of the main socket, which input reads too.
fn watch_for_room(bind: &mut BindRt, b: usize, now: Instant, io: &mut Io<'_>, waiting: bool) {
    let Some(sock) = bind.ep.socket_mut(SocketId::Main) else {
        return;
    };
    if let Err(e) = io.watch_for_room(sock, tag(b, SocketId::Main), waiting)
        && let Some(n) = bind.error_log.hit(now, LOG_PERIOD)
    {
        tracing::warn!(target: "sacn", "bind {b}: cannot watch the socket for room to send: {e} ({n} time(s))");
    }
}

/// Counts one packet that left.
fn count_sent(bind: &mut BindRt, instances: &mut [Instance], inst: Option<usize>) {
    bind.counters.packets_out += 1;
    if let Some(inst) = inst.and_then(|x| instances.get_mut(x)) {
        inst.counters.frames_out += 1;
        // Every data packet carries the whole current buffer.
        inst.unsent_change = false;
    }
}

/// Counts and logs (throttled) one packet the kernel refused.
fn count_error(
    bind: &mut BindRt,
    b: usize,
    now: Instant,
    instances: &mut [Instance],
    inst: Option<usize>,
    e: &SendError,
) {
    bind.counters.send_errors += 1;
    match inst.and_then(|x| instances.get_mut(x)) {
        Some(inst) => {
            inst.counters.send_errors += 1;
            if let Some(n) = inst.send_error_log.hit(now, LOG_PERIOD) {
                tracing::warn!(target: "sacn", "instance '{}': {e} ({n} time(s))", inst.name);
            }
        }
        None => {
            if let Some(n) = bind.error_log.hit(now, LOG_PERIOD) {
                tracing::warn!(target: "sacn", "bind {b}: {e} ({n} time(s))");
            }
        }
    }
}

/// Sends `bytes` to destinations `from..` of `kind`. `Err(i)`: the buffer was full at
/// destination `i`.
fn send_all(
    bind: &mut BindRt,
    b: usize,
    now: Instant,
    instances: &mut [Instance],
    kind: TransmitKind,
    bytes: &[u8],
    from: usize,
) -> Result<(), usize> {
    let mut i = from;
    while let Some(dst) = dest_at(bind, instances, kind, i) {
        let inst = match kind {
            TransmitKind::Data { universe } => bind.output_of(universe),
            _ => None,
        };
        match bind.ep.send_to(bytes, dst) {
            Ok(_) => count_sent(bind, instances, inst),
            Err(SendError::WouldBlock) => {
                bind.counters.send_would_block += 1;
                return Err(i);
            }
            Err(e) => count_error(bind, b, now, instances, inst, &e),
        }
        i += 1;
    }
    Ok(())
}

/// Sends the bind's batched data packets (tag = universe), as many `sendmmsg` as needed. Returns
/// whether the batch is empty; what is left waits for a full buffer to drain.
fn send_batch(bind: &mut BindRt, b: usize, now: Instant, instances: &mut [Instance]) -> bool {
    let mut i = 0;
    while i < bind.out.len() {
        match bind.ep.send_batch(&mut bind.out, i) {
            Ok(0) => break,
            Ok(n) => {
                for k in i..i + n {
                    let inst = bind
                        .out
                        .get(k)
                        .and_then(|(_, _, u)| bind.output_of(u as u16));
                    count_sent(bind, instances, inst);
                }
                i += n;
            }
            Err(SendError::WouldBlock) => {
                bind.counters.send_would_block += 1;
                break;
            }
            Err(e) => {
                let inst = bind
                    .out
                    .get(i)
                    .and_then(|(_, _, u)| bind.output_of(u as u16));
                count_error(bind, b, now, instances, inst, &e);
                i += 1;
            }
        }
    }
    bind.out.consume(i);
    bind.out.is_empty()
}

impl Runtime {
    /// Writes one routing round's values into the instance's universe; a packet is scheduled only
    /// if a byte changed (D15).
    pub fn apply(&mut self, now: Instant, inst: &mut Instance, deliveries: &[Delivery]) {
        let Some(map) = inst.map.as_deref() else {
            return;
        };
        let changed = self.write_slots(now, &inst.opts, |slots| {
            let mut changed = false;
            for d in deliveries {
                if let Some(spec) = map.spec_of_key(d.key) {
                    changed |= write_value(slots, spec, d.value);
                }
            }
            changed
        });
        if changed {
            note_unsent_change(inst);
        }
    }

    /// Copies one routing round's frames into the instance's universe, as [`Runtime::apply`].
    pub fn apply_frames(&mut self, now: Instant, inst: &mut Instance, copies: FrameCopies<'_>) {
        let changed = self.write_slots(now, &inst.opts, |slots| {
            let mut changed = false;
            for copy in copies.iter() {
                changed |= copy.apply(&mut slots[..]);
            }
            changed
        });
        if changed {
            note_unsent_change(inst);
        }
    }

    /// Lets `write` change the output slots of the instance with `opts` and schedules a packet
    /// if it did; returns whether it did.
    fn write_slots(
        &mut self,
        now: Instant,
        opts: &InstanceOptions,
        write: impl FnOnce(&mut [u8; MAX_SLOTS]) -> bool,
    ) -> bool {
        let Some(u) = opts.universe else {
            return false;
        };
        let Some(source) = self
            .binds
            .get_mut(opts.interface)
            .and_then(|b| b.source.as_mut())
        else {
            return false;
        };
        let Ok(slots) = source.slots_mut(u) else {
            return false; // terminating
        };
        if !write(slots) {
            return false;
        }
        let _ = source.mark_changed(now, u);
        true
    }

    /// Sends everything due: first what a full buffer left over (batched data, then a single
    /// packet), then what the sources schedule. Data packets are built straight into the bind's
    /// send batch and leave together (`sendmmsg`); sync and discovery packets go alone, after the
    /// data polled before them. A bind whose packets start or stop waiting for room is watched
    /// for it or no longer ([`watch_for_room`]).
    pub fn transmit(&mut self, now: Instant, instances: &mut [Instance], io: &mut Io<'_>) {
        self.last_now = now;
        for (b, bind) in self.binds.iter_mut().enumerate() {
            let was_waiting = waits_for_room(bind);
            transmit_bind(bind, b, now, instances, &mut self.tx_buf);
            let waiting = waits_for_room(bind);
            if waiting != was_waiting {
                watch_for_room(bind, b, now, io, waiting);
            }
        }
    }
}

/// [`Runtime::transmit`] for bind `b`; `tx_buf` is the runtime's spare packet buffer.
fn transmit_bind(
    bind: &mut BindRt,
    b: usize,
    now: Instant,
    instances: &mut [Instance],
    tx_buf: &mut Box<[u8; MAX_PACKET_LEN]>,
) {
    if !send_batch(bind, b, now, instances) {
        return;
    }
    if let Some(kind) = bind.pending.kind {
        // Swap the boxes instead of copying, so the bind can be borrowed while sending.
        std::mem::swap(&mut bind.pending.buf, tx_buf);
        let len = bind.pending.len;
        let next = bind.pending.next;
        let r = send_all(bind, b, now, instances, kind, &tx_buf[..len], next);
        std::mem::swap(&mut bind.pending.buf, tx_buf);
        match r {
            Ok(()) => bind.pending.kind = None,
            Err(i) => {
                bind.pending.next = i;
                return;
            }
        }
    }
    // Room for a data packet to each of its destinations (two on a dual-stack bind).
    let room = bind.families.len();
    while let Some(source) = bind.source.as_mut() {
        let fits = bind.out.free() >= room;
        let Some(slot) = bind.out.slot().filter(|_| fits) else {
            if send_batch(bind, b, now, instances) {
                continue;
            }
            break;
        };
        let Some(t) = source.poll_transmit(now, &mut slot[..]) else {
            break;
        };
        if let TransmitKind::Data { universe } = t.kind
            && let Some(dst) = dest_at(bind, instances, t.kind, 0)
        {
            bind.out.commit(t.len, dst, u32::from(universe));
            let mut i = 1;
            while let Some(dst) = dest_at(bind, instances, t.kind, i) {
                bind.out.repeat_last(dst, u32::from(universe));
                i += 1;
            }
            continue;
        }
        // The packet was built in the batch's free slot; move it out before sending.
        if let Some(slot) = bind.out.slot() {
            tx_buf[..t.len].copy_from_slice(&slot[..t.len]);
        }
        let bytes = &tx_buf[..t.len];
        let r = if send_batch(bind, b, now, instances) {
            send_all(bind, b, now, instances, t.kind, bytes, 0)
        } else {
            Err(0)
        };
        if let Err(i) = r {
            bind.pending.buf[..t.len].copy_from_slice(bytes);
            bind.pending.len = t.len;
            bind.pending.kind = Some(t.kind);
            bind.pending.next = i;
            break;
        }
    }
    send_batch(bind, b, now, instances);
}

impl Runtime {
    /// Starts Stream_Terminated for every output universe that has sent anything.
    pub fn terminate(&mut self, now: Instant) {
        for bind in &mut self.binds {
            if let Some(s) = bind.source.as_mut() {
                s.terminate_all(now);
            }
        }
    }

    /// Everything sent, terminations included.
    pub fn idle(&self) -> bool {
        self.binds.iter().all(|b| {
            b.pending.kind.is_none()
                && b.out.is_empty()
                && b.source.as_ref().is_none_or(|s| s.is_idle())
        })
    }

    /// Earliest moment `process` has work: source and receiver timers, a backlog. A bind whose
    /// packets wait for room has no timer: its socket's writability wakes the loop.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for bind in &mut self.binds {
            if !waits_for_room(bind)
                && let Some(s) = bind.source.as_mut()
            {
                at(s.poll_timeout());
            }
            for g in &bind.groups {
                at(g.rx.poll_timeout());
            }
        }
        if !self.backlog.is_empty() {
            at(Some(self.last_now));
        }
        if self.binds.iter().any(|b| b.ep.interface().is_ok()) {
            at(Some(self.next_link_check));
        }
        t
    }

    /// The shutdown summary: traffic and drops per bind.
    pub fn log_summary(&self, instances: &[Instance]) {
        for (b, bind) in self.binds.iter().enumerate() {
            let c = &bind.counters;
            let drops = summarize(&c.malformed, &c.discarded);
            let frames_in: u64 = bind
                .inputs
                .iter()
                .filter_map(|(_, _, i)| instances.get(*i as usize))
                .map(|i| i.counters.frames_in)
                .sum();
            tracing::info!(target: "sacn",
                "bind {b} ({}): {} datagram(s) in, {frames_in} data packet(s) used, {} packet(s) out, {} send error(s); dropped {}{}{}",
                bind.ep.local_addr(), c.datagrams, c.packets_out, c.send_errors, c.dropped_total(),
                if drops.is_empty() { "" } else { ": " }, drops);
        }
    }
}
