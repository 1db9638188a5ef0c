//! One received datagram (or stream frame) of an instance, to events: parse, walk bundles,
//! hold messages of bundles whose time tag lies ahead, match addresses against the configured
//! paths and map the arguments.

use std::time::{Duration, Instant};

use patchbay_core::{Sink, Value};
use patchbay_kit::throttle::{LOG_PERIOD, Throttle};
use patchbay_osc::address::{PatternCache, is_pattern};
use patchbay_osc::channel::Root;
use patchbay_osc::value::{Level, message_levels};
use patchbay_osc::wire::{DropReason, Message, Packet, TimeTag};

use super::counters::InstanceCounters;
use super::paths::Paths;

/// Most messages of future bundles held per instance; more are dropped (`schedule_full`), so a
/// peer cannot make the instance hold memory without bound.
pub const MAX_HELD: usize = 4096;

/// A message of a bundle whose time tag lies ahead.
#[derive(Debug)]
pub struct Held {
    pub due: Instant,
    pub bytes: Box<[u8]>,
}

/// The wall clock at one instant of the loop's clock: OSC time tags are wall-clock (NTP) times,
/// the loop runs on a monotonic clock.
#[derive(Debug, Clone, Copy)]
pub struct Wall {
    pub at: Instant,
    /// Time since the Unix epoch at `at`.
    pub unix: Duration,
}

impl Wall {
    /// When a message tagged `t` is due: `None` for "immediately" and for times already past.
    pub fn due(&self, t: TimeTag, now: Instant) -> Option<Instant> {
        if t.is_immediate() {
            return None;
        }
        let tag = t.to_unix()?;
        let wall_now = self.unix + now.saturating_duration_since(self.at);
        tag.checked_sub(wall_now)
            .filter(|ahead| !ahead.is_zero())
            .map(|ahead| now + ahead)
    }
}

/// The parts of an instance input needs.
pub struct Input<'a> {
    pub name: &'a str,
    pub root: &'a Root,
    pub paths: &'a Paths,
    pub cache: &'a mut PatternCache,
    pub k: &'a mut InstanceCounters,
    pub held: &'a mut Vec<Held>,
    pub throttle: &'a mut Throttle,
    pub detect: bool,
}

#[inline]
fn value(level: Level) -> Value {
    match level.raw {
        Some((raw, bits)) => Value::from_raw(raw, bits),
        None => Value::from_normalised(level.normalised),
    }
}

impl Input<'_> {
    fn dropped(&mut self, now: Instant, reason: DropReason) {
        self.k.malformed[reason.index()] += 1;
        if let Some(n) = self.throttle.hit(now, LOG_PERIOD) {
            tracing::warn!(target: "osc",
                "instance '{}': dropped a malformed packet ({}: {reason}); {n} malformed since the last such line",
                self.name, reason.as_str());
        }
    }

    /// One datagram or frame.
    pub fn packet(&mut self, bytes: &[u8], now: Instant, wall: Wall, sink: &mut Sink<'_>) {
        self.k.datagrams_in += 1;
        let p = match Packet::parse(bytes) {
            Ok(p) => p,
            Err(r) => return self.dropped(now, r),
        };
        if matches!(p, Packet::Bundle(_)) {
            self.k.bundles_in += 1;
        }
        p.for_each_message(|m| match m {
            Err(r) => self.dropped(now, r),
            Ok((t, m)) => match wall.due(t, now) {
                None => self.message(&m, sink),
                Some(due) => self.hold(due, &m),
            },
        });
    }

    fn hold(&mut self, due: Instant, m: &Message<'_>) {
        if self.held.len() >= MAX_HELD {
            self.k.schedule_full += 1;
            return;
        }
        self.k.scheduled += 1;
        // Ordered by due time, equal times in arrival order.
        let at = self.held.partition_point(|h| h.due <= due);
        self.held.insert(
            at,
            Held {
                due,
                bytes: m.as_bytes().into(),
            },
        );
    }

    /// Messages held until `now` or earlier.
    pub fn due(&mut self, now: Instant, sink: &mut Sink<'_>) {
        let n = self.held.partition_point(|h| h.due <= now);
        if n == 0 {
            return;
        }
        let due: Vec<Held> = self.held.drain(..n).collect();
        for h in due {
            if let Ok(m) = Message::parse(&h.bytes) {
                self.message(&m, sink);
            }
        }
    }

    /// One message: find the configured paths it names and report its arguments.
    pub fn message(&mut self, m: &Message<'_>, sink: &mut Sink<'_>) {
        self.k.messages_in += 1;
        let address = m.address();
        if self.detect {
            let local = self.root.strip(address).unwrap_or(address);
            tracing::info!(target: "osc", "incoming: {}.{local} ,{}", self.name, m.type_tags());
        }
        let paths = self.paths;
        let k = &mut *self.k;
        let count = m.value_count();
        let found = self.cache.lookup(&paths.space, address, |pid| {
            let e = &paths.entries[pid.index()];
            if e.inputs.is_empty() {
                return;
            }
            // MIDIMonster ignores a message whose arguments differ from the preconfigured
            // types; a message without arguments is a trigger whatever the types.
            if !e.params.is_empty() && count != 0 && count != e.params.len() {
                k.wrong_arguments += 1;
                return;
            }
            message_levels(m, &e.params, |index, level| {
                if let Some(Some(ch)) = e.inputs.get(index) {
                    sink.push(*ch, value(level));
                    k.events_in += 1;
                }
            });
        });
        match found {
            Ok(0) => {
                if !self.root.as_str().is_empty()
                    && !is_pattern(address)
                    && self.root.strip(address).is_none()
                {
                    k.outside_root += 1;
                } else {
                    k.unmatched += 1;
                }
            }
            Ok(_) => {}
            Err(_) => k.bad_pattern += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_tags_become_instants() {
        let at = Instant::now();
        let wall = Wall {
            at,
            unix: Duration::from_secs(1_700_000_000),
        };
        let now = at + Duration::from_secs(10);
        assert_eq!(wall.due(TimeTag::IMMEDIATELY, now), None);
        let past = TimeTag::from_unix(Duration::from_secs(1_700_000_005));
        assert_eq!(wall.due(past, now), None);
        let ahead = TimeTag::from_unix(Duration::from_secs(1_700_000_012));
        let due = wall.due(ahead, now).expect("ahead");
        let d = due.duration_since(now);
        assert!(
            d > Duration::from_millis(1999) && d <= Duration::from_secs(2),
            "{d:?}"
        );
    }
}
