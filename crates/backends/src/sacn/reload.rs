//! Configuration reload ([`Backend::take_over`](patchbay_core::Backend::take_over)): the newly
//! configured `Sacn` takes the running one's binds, sockets, sources and receivers, so a kept
//! universe goes on with its sequence numbers, levels, merge state and group membership, and
//! no receiver downstream sees a termination or a gap.
//!
//! Order: first what ends (the universes of removed and replaced instances are terminated and
//! their terminations sent at once, so a replaced instance may add the same universe again;
//! their receivers are dropped), then every instance of the new configuration is set up on the
//! taken runtime (a kept universe is found in place), then groups no instance listens to any
//! more are left and new group sockets registered. A change of `[backend sacn]` (binds, CID,
//! name) is declined: the core restarts the backend.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Instant;

use patchbay_core::{Changes, Handover, InstanceChange, Interest, Io, StartError};
use patchbay_net::SocketId;

use super::start::{group_ip, setup_instance, tag};
use super::{Instance, Sacn};

impl Sacn {
    pub(super) fn take_over_from(
        &mut self,
        now: Instant,
        handover: Handover<'_>,
        io: &mut Io<'_>,
    ) -> Result<bool, StartError> {
        let changes = handover.changes;
        if handover.options_changed {
            return Ok(false);
        }
        let running: &mut dyn std::any::Any = handover.running;
        let Some(old) = running.downcast_mut::<Sacn>() else {
            return Ok(false);
        };
        if old.rt.is_none() || old.shutting_down {
            return Ok(false);
        }
        // The same option lines: the binds as the running object resolved them, and the
        // destinations of kept instances too (no name is looked up again on the loop).
        self.binds.clone_from(&old.binds);
        for inst in &mut self.instances {
            if changes.of(inst.id) == Some(InstanceChange::Kept)
                && let Some(i) = old.index_of(inst.id)
            {
                inst.opts.destination = old.instances[i].opts.destination;
                inst.opts.destination_name = None;
            }
        }
        self.look_up_hosts()?;
        let Some(mut rt) = old.rt.take() else {
            return Ok(false);
        };
        end_instances(&mut rt, now, old, changes, io);
        for bind in &mut rt.binds {
            bind.inputs.clear();
            bind.outputs.clear();
            bind.sync_dests.clear();
        }
        let mirror_own = self.binds.iter().any(|bo| bo.local);
        let mut result = Ok(());
        for (idx, inst) in self.instances.iter_mut().enumerate() {
            let kept = changes.of(inst.id) == Some(InstanceChange::Kept);
            if kept && let Some(i) = old.index_of(inst.id) {
                carry(&mut old.instances[i], inst);
            }
            if let Err(e) = setup_instance(
                &mut rt.binds,
                rt.cid,
                &self.name,
                mirror_own,
                now,
                idx,
                inst,
                kept,
            ) {
                result = Err(e);
                break;
            }
        }
        for bind in &mut rt.binds {
            bind.inputs.sort_unstable_by_key(|e| e.0);
            bind.outputs.sort_unstable_by_key(|e| e.0);
        }
        leave_unused(&mut rt, &self.instances, io);
        for (i, bind) in rt.binds.iter_mut().enumerate() {
            let ids: Vec<SocketId> = bind.ep.socket_ids().collect();
            for id in ids {
                if let Some(sock) = bind.ep.socket_mut(id) {
                    match io.register(sock, tag(i, id), Interest::READABLE) {
                        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                            tracing::warn!(target: "sacn", "bind {i}: cannot register a socket: {e}");
                        }
                        _ => {}
                    }
                }
            }
        }
        self.cid_claim = old.cid_claim.take();
        // Kept in this object also on an error: its shutdown then terminates what runs.
        self.rt = Some(rt);
        self.refresh_deadline();
        result.map(|()| true)
    }
}

/// Terminates the universes of the running object's instances that do not go on, sends the
/// terminations now, and drops their receivers.
fn end_instances(
    rt: &mut super::start::Runtime,
    now: Instant,
    old: &mut Sacn,
    changes: Changes<'_>,
    io: &mut Io<'_>,
) {
    let mut ended = false;
    for inst in &old.instances {
        if changes.of(inst.id) == Some(InstanceChange::Kept) {
            continue;
        }
        let (Some(u), Some(bind)) = (inst.opts.universe, rt.binds.get_mut(inst.opts.interface))
        else {
            continue;
        };
        if inst.transmits()
            && let Some(source) = bind.source.as_mut()
            && source.remove_universe(now, u).is_ok()
        {
            ended = true;
            tracing::info!(target: "sacn", "instance '{}' ends: universe {u} terminated", inst.name);
        }
        if let Some((g, _)) = bind.input_of(u) {
            bind.groups[g].rx.remove_universe(u);
        }
    }
    if ended {
        // With the old index tables, which still name these universes.
        rt.transmit(now, &mut old.instances, io);
    }
}

/// Leaves every group no instance of the new configuration listens on (deregistering its
/// socket first, as the endpoint asks).
fn leave_unused(rt: &mut super::start::Runtime, instances: &[Instance], io: &mut Io<'_>) {
    let mut needed: HashSet<(usize, IpAddr)> = HashSet::new();
    for inst in instances {
        let o = &inst.opts;
        let (Some(u), Some(bind)) = (o.universe, rt.binds.get(o.interface)) else {
            continue;
        };
        if !inst.has_inputs() || o.unicast {
            continue;
        }
        for universe in [u, o.sync].into_iter().filter(|&x| x != 0) {
            for &v6 in bind.families {
                needed.insert((o.interface, group_ip(v6, universe)));
            }
        }
    }
    for (i, bind) in rt.binds.iter_mut().enumerate() {
        let joined: Vec<(usize, IpAddr)> = bind
            .ep
            .memberships()
            .open_sockets()
            .filter_map(|s| bind.ep.memberships().group_of(s).map(|g| (s, g)))
            .collect();
        for (s, group) in joined {
            if needed.contains(&(i, group)) {
                continue;
            }
            let id = SocketId::Receiver(s);
            if let Some(sock) = bind.ep.socket_mut(id) {
                let _ = io.deregister(sock, tag(i, id));
            }
            if let Err(e) = bind.ep.leave(group) {
                tracing::warn!(target: "sacn", "bind {i}: cannot leave {group}: {e}");
            }
        }
    }
}

/// What a kept instance's running state is besides the runtime: its counters, log throttles,
/// unsent change and the sources seen.
fn carry(was: &mut Instance, now: &mut Instance) {
    now.counters = std::mem::take(&mut was.counters);
    now.no_priority_log = was.no_priority_log;
    now.send_error_log = was.send_error_log;
    now.unsent_change = was.unsent_change;
    now.sources = std::mem::take(&mut was.sources);
}
