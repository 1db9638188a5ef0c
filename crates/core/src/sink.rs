//! Where backends report events.

use crate::backend::{ChannelId, InstanceId};
use crate::frames::FrameBuf;
use crate::value::Value;

/// An event: a value reported on a channel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Event {
    /// The channel it was reported on.
    pub channel: ChannelId,
    /// The value.
    pub value: Value,
}

/// Collects the events a backend reports during `process` or `handle`; the core routes them
/// after the call. Backed by a vector the core reuses, so pushing does not allocate once the
/// loop is warm.
pub struct Sink<'a> {
    events: &'a mut Vec<Event>,
    frames: Option<&'a mut FrameBuf>,
}

impl<'a> Sink<'a> {
    /// A sink appending to `events`. Frames reported to it are discarded: the core only plans
    /// frame routes for sinks made with [`Sink::with_frames`].
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn new(events: &'a mut Vec<Event>) -> Self {
        Sink {
            events,
            frames: None,
        }
    }

    /// A sink that also collects frames (see [`crate::frames`]).
    pub(crate) fn with_frames(events: &'a mut Vec<Event>, frames: &'a mut FrameBuf) -> Self {
        Sink {
            events,
            frames: Some(frames),
        }
    }

    /// Reports the current bytes of `instance`'s frame (every lane, changed or not), once per
    /// change; [`crate::Backend::plan`] says which instances' frames are routed. The bytes are
    /// copied, so `frame` may be a buffer the backend keeps changing.
    #[inline]
    pub fn push_frame(&mut self, instance: InstanceId, frame: &[u8]) {
        if let Some(frames) = self.frames.as_deref_mut() {
            frames.push(instance, frame);
        }
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

    /// Whether no event was collected.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}
