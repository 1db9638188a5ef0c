//! Where backends report events.

use crate::backend::ChannelId;
use crate::value::Value;

/// An event: a value reported on a channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event {
    pub channel: ChannelId,
    pub value: Value,
}

/// Collects the events a backend reports during `process` or `handle`; the core routes them
/// after the call. Backed by a vector the core reuses, so pushing does not allocate once the
/// loop is warm.
pub struct Sink<'a> {
    events: &'a mut Vec<Event>,
}

impl<'a> Sink<'a> {
    /// A sink appending to `events` (public so backend tests can collect what they report).
    pub fn new(events: &'a mut Vec<Event>) -> Self {
        Sink { events }
    }

    /// Reports `value` on `channel`. Channels that are not mapping sources are discarded by
    /// the router, so a backend need not know the routing.
    #[inline]
    pub fn push(&mut self, channel: ChannelId, value: Value) {
        self.events.push(Event { channel, value });
    }

    /// Number of events collected so far (including those of earlier calls in the same turn).
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}
