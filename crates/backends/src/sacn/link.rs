//! Link watch: notices when a bind's interface goes down, loses its address, disappears or comes
//! back, logs it, and re-joins the bind's multicast groups when it returns (issue 7; MIDIMonster
//! needed a restart after a cable was pulled).
//!
//! Why a timer and not an rtnetlink socket: one `getifaddrs` per bind every
//! [`LINK_CHECK_PERIOD`] costs microseconds, needs no new dependency, no netlink message parsing
//! and no resynchronisation after a netlink overrun (which needs the same full dump anyway),
//! and nothing is lost by noticing up to half a second late: while the link is down nothing
//! arrives, and the kernel keeps memberships of an interface that only went down. The re-join
//! matters when the interface was re-created (new index) or the memberships were dropped; it is
//! idempotent otherwise.

use std::time::{Duration, Instant};

use super::start::Runtime;

/// How often every bind's interface is checked (well inside the 2 s recovery requirement).
pub const LINK_CHECK_PERIOD: Duration = Duration::from_millis(500);

impl Runtime {
    /// Checks every bind's interface if due.
    pub fn watch_links(&mut self, now: Instant) {
        if now < self.next_link_check {
            return;
        }
        self.next_link_check = now + self.link_check_period;
        for (b, bind) in self.binds.iter_mut().enumerate() {
            let Some(state) = bind.ep.link_state() else {
                continue;
            };
            let state = match state {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(target: "sacn", "bind {b}: cannot read the interface state: {e}");
                    continue;
                }
            };
            let Ok(iface) = bind.ep.interface() else {
                continue;
            };
            let (name, addr, old_index) = (iface.name.clone(), iface.addr, iface.index);
            let was = bind.link.replace(state);
            let was_usable = was.is_none_or(|w| w.usable());
            match (was_usable, state.usable()) {
                (true, false) => {
                    bind.counters.link_down += 1;
                    tracing::warn!(target: "sacn",
                        "bind {b}: interface {name} went down ({}); input and output resume when it returns",
                        state.problems(addr));
                }
                (false, false) if was != Some(state) => {
                    tracing::info!(target: "sacn", "bind {b}: interface {name} still unusable ({})",
                        state.problems(addr));
                }
                (false, true) => {
                    let index = state.index.unwrap_or(old_index);
                    let (joined, errors) = bind.ep.rejoin();
                    bind.counters.rejoins += 1;
                    let renumbered = if index != old_index {
                        format!(", new index {index}")
                    } else {
                        String::new()
                    };
                    tracing::info!(target: "sacn",
                        "bind {b}: interface {name} is up again{renumbered}; rejoined {joined} multicast group(s)");
                    for e in errors {
                        tracing::warn!(target: "sacn", "bind {b}: {e}");
                    }
                }
                (true, true) => {
                    // Re-created between two checks: same state, different index.
                    if let Some(index) = state.index.filter(|&i| i != old_index) {
                        let (joined, errors) = bind.ep.rejoin();
                        bind.counters.rejoins += 1;
                        tracing::info!(target: "sacn",
                            "bind {b}: interface {name} was re-created (index {old_index} -> {index}); rejoined {joined} multicast group(s)");
                        for e in errors {
                            tracing::warn!(target: "sacn", "bind {b}: {e}");
                        }
                    }
                }
                (false, false) => {}
            }
        }
    }
}
