//! What the live monitor shows of an sACN instance (`Backend::monitor`): its settings and state,
//! the merged input universe and the output universe as frames, and the sources on its
//! universe with priority, per-address priority and traffic counts, the same facts
//! `patchbay sacn watch --json` reports.
//!
//! Why a [`SourceLog`] beside the receiver: the receiver forgets a source when it is lost or
//! terminates, but a technician chasing a flicker wants to see that a source went away and how
//! often. The log is fed by the receiver's events (rare: a source appearing or going), never per
//! packet, and is bounded.

use std::time::Instant;

use patchbay_core::Direction;
use patchbay_core::monitor::{MonitorSink, Source, SourceState};
use patchbay_sacn::Cid;
use patchbay_sacn::receiver::SourceName;

use super::{Instance, Sacn};

/// Sources remembered per instance: more than a receiver tracks at once (64 by default), so
/// that the departed ones stay visible for a while; beyond it the oldest departed go first.
const LOG_CAPACITY: usize = 96;

/// One source that appeared on an instance's universe.
#[derive(Clone, Copy, Debug)]
struct Entry {
    cid: Cid,
    name: SourceName,
    priority: u8,
    state: SourceState,
    /// Times it was lost since start.
    losses: u64,
    /// Order of the last change, to find the oldest departed entry.
    stamp: u64,
}

/// The sources an instance has seen, in order of first appearance (see the module docs).
#[derive(Debug, Default)]
pub(super) struct SourceLog {
    entries: Vec<Entry>,
    stamp: u64,
}

impl SourceLog {
    fn find(&mut self, cid: Cid) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.cid == cid)
    }

    fn next_stamp(&mut self) -> u64 {
        self.stamp += 1;
        self.stamp
    }

    /// A source appeared (or came back).
    pub fn appeared(&mut self, cid: Cid, name: SourceName, priority: u8) {
        let stamp = self.next_stamp();
        if let Some(e) = self.find(cid) {
            e.name = name;
            e.priority = priority;
            e.state = SourceState::Active;
            e.stamp = stamp;
            return;
        }
        if self.entries.len() >= LOG_CAPACITY {
            let oldest = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.state != SourceState::Active)
                .min_by_key(|(_, e)| e.stamp)
                .map(|(i, _)| i);
            match oldest {
                Some(i) => {
                    self.entries.remove(i);
                }
                // Every entry is a live source: the receiver's own limit was raised past the
                // log's; the receiver still shows it, the log does not.
                None => return,
            }
        }
        self.entries.push(Entry {
            cid,
            name,
            priority,
            state: SourceState::Active,
            losses: 0,
            stamp,
        });
    }

    /// A source was not heard for the loss timeout.
    pub fn lost(&mut self, cid: Cid) {
        let stamp = self.next_stamp();
        if let Some(e) = self.find(cid) {
            e.state = SourceState::Lost;
            e.losses += 1;
            e.stamp = stamp;
        }
    }

    /// A source sent Stream_Terminated.
    pub fn terminated(&mut self, cid: Cid) {
        let stamp = self.next_stamp();
        if let Some(e) = self.find(cid) {
            e.state = SourceState::Terminated;
            e.stamp = stamp;
        }
    }
}

impl Sacn {
    /// `Backend::monitor` of one instance.
    pub(super) fn describe(&self, inst: &Instance, out: &mut dyn MonitorSink) {
        let o = &inst.opts;
        if let Some(u) = o.universe {
            out.property("universe", &u);
        }
        out.property("bind", &o.interface);
        if let Some(addr) = self.bind_addr(o.interface) {
            out.property("address", &addr);
        }
        let Some(rt) = self.rt.as_ref() else {
            return;
        };
        let bind = o.universe.zip(rt.binds.get(o.interface));
        if inst.transmits() {
            out.property("priority", &o.priority);
            if let Some(d) = o.destination {
                out.property("destination", &d);
            }
            if o.sync != 0 {
                out.property("sync", &o.sync);
            }
            if let Some((u, bind)) = bind
                && let Some(levels) = bind.source.as_ref().and_then(|s| s.slots(u).ok())
                && out.wants_frames()
            {
                out.frame(Direction::Output, levels);
            }
        }
        if !inst.has_inputs() {
            out.property("state", &if inst.transmits() { "sending" } else { "idle" });
            return;
        }
        let Some(ur) = bind.and_then(|(u, bind)| {
            bind.input_of(u)
                .and_then(|(g, _)| bind.groups.get(g))
                .and_then(|g| g.rx.universe(u))
        }) else {
            return;
        };
        let state = if ur.is_sampling() {
            "sampling"
        } else if ur.source_count() == 0 {
            "no source"
        } else {
            "receiving"
        };
        out.property("state", &state);
        out.property("sources", &ur.source_count());
        if out.wants_frames() {
            out.frame(Direction::Input, ur.slots());
        }
        let losses = |cid: Cid| {
            inst.sources
                .entries
                .iter()
                .find(|e| e.cid == cid)
                .map_or(0, |e| e.losses)
        };
        // Live sources first (the receiver knows their traffic), then those that went away.
        for s in ur.sources() {
            out.source(&Source {
                id: &s.cid,
                name: s.name,
                state: SourceState::Active,
                priority: Some(s.priority),
                per_address_priority: s.per_address_priority,
                packets: Some(s.traffic.packets),
                sequence_errors: Some(s.traffic.sequence_errors),
                missed: Some(s.traffic.missed),
                losses: losses(s.cid),
                last_seen: Some(s.last_heard),
            });
        }
        for e in &inst.sources.entries {
            if ur.source(e.cid).is_some() {
                continue;
            }
            // Lost while its levels settle, or an event the log missed: it is gone either way.
            let state = match e.state {
                SourceState::Active => SourceState::Lost,
                s => s,
            };
            out.source(&Source {
                id: &e.cid,
                name: e.name.as_str(),
                state,
                priority: Some(e.priority),
                per_address_priority: false,
                packets: None,
                sequence_errors: None,
                missed: None,
                losses: e.losses,
                last_seen: None::<Instant>,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cid(n: u8) -> Cid {
        Cid([n; 16])
    }

    #[test]
    fn log_counts_losses_and_keeps_live_sources_over_departed_ones() {
        let mut log = SourceLog::default();
        let name = SourceName::from_wire(b"desk");
        log.appeared(cid(1), name, 100);
        log.lost(cid(1));
        log.appeared(cid(1), name, 120);
        log.lost(cid(1));
        log.terminated(cid(9)); // never appeared: nothing to note
        let e = log.entries[0];
        assert_eq!((e.losses, e.state, e.priority), (2, SourceState::Lost, 120));
        assert_eq!(log.entries.len(), 1);
        // Full: the oldest departed entry makes room, live ones stay.
        for n in 2..=LOG_CAPACITY as u8 {
            log.appeared(cid(n), name, 100);
        }
        assert_eq!(log.entries.len(), LOG_CAPACITY);
        log.appeared(cid(200), name, 100);
        assert_eq!(log.entries.len(), LOG_CAPACITY);
        assert!(
            log.entries.iter().all(|e| e.cid != cid(1)),
            "the departed one went"
        );
        // All live: a newcomer is not logged rather than evicting a live source.
        log.appeared(cid(201), name, 100);
        assert!(log.entries.iter().all(|e| e.cid != cid(201)));
        assert!(log.entries.iter().all(|e| e.state == SourceState::Active));
    }
}
