//! Frame routes: whole byte ranges copied from one instance to another instead of one event per
//! channel.
//!
//! Why: a typical show-control patch maps a DMX universe slot for slot onto another
//! (`in.{1..512} > out.{1..512}`). As events that is 512 reports, 512 table lookups and 512
//! deliveries per input packet, about 11 ns each: at 1,000 universes × 44 fps it was more than
//! the kernel's whole share of the work. A backend whose 8-bit channels are bytes of one buffer
//! per instance (a *frame*: a DMX universe) declares them as *lanes*
//! ([`ChannelIds::set_lane`](crate::ChannelIds::set_lane)); when the routing is frozen, every
//! edge from a lane to a lane whose target has no other source becomes part of a *frame route*:
//! a list of runs (source offset, target offset, length) between two instances. The backend
//! then reports a changed frame once ([`Sink::push_frame`](crate::Sink::push_frame)) and the
//! target backend copies the runs ([`Backend::handle_frames`](crate::Backend::handle_frames)).
//!
//! Why only targets with a single source: a frame carries every lane, changed or not, and
//! writing an unchanged value is only invisible when nothing else writes the target. With one
//! source, the target always holds the value that source last had, so copying the whole frame
//! gives exactly the values routing each changed lane as an event would. Edges into targets
//! with several sources (fan-in, where the order of events decides) stay events; so do wide
//! (16-bit) channels and every channel of backends that declare no lanes.

use crate::backend::InstanceId;

/// Copies `len` bytes from offset `from` of the source frame to offset `to` of the target's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// First byte in the source frame.
    pub from: u16,
    /// First byte in the target frame.
    pub to: u16,
    /// Bytes copied.
    pub len: u16,
}

impl Run {
    /// Copies the run from `source` into `target`, clamped to both lengths (a frame may be
    /// shorter than the lanes mapped on it: a DMX packet with fewer slots). Returns whether a
    /// byte of `target` changed.
    #[inline]
    pub fn apply(&self, source: &[u8], target: &mut [u8]) -> bool {
        let (from, to) = (usize::from(self.from), usize::from(self.to));
        let len = usize::from(self.len)
            .min(source.len().saturating_sub(from))
            .min(target.len().saturating_sub(to));
        let (Some(src), Some(dst)) = (source.get(from..from + len), target.get_mut(to..to + len))
        else {
            return false;
        };
        if src == dst {
            return false;
        }
        dst.copy_from_slice(src);
        true
    }
}

/// One frame route: the runs copied from a source instance's frame to `target`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Route {
    target: InstanceId,
    runs: (u32, u32),
}

/// The frame routes of a frozen routing, indexed by source instance.
#[derive(Debug, Default, Clone)]
pub struct FrameRoutes {
    /// Per source instance: its routes, `routes[a..b]`.
    by_source: Vec<(u32, u32)>,
    routes: Vec<Route>,
    runs: Vec<Run>,
}

impl FrameRoutes {
    /// Builds the routes from lane-to-lane copies (source instance, target instance, source
    /// offset, target offset), already checked to have single-source targets. Runs are merged
    /// where both offsets continue.
    pub(crate) fn build(mut copies: Vec<(InstanceId, InstanceId, u16, u16)>) -> Self {
        // Glob mappings add a universe's edges in order, so this is usually sorted already, or
        // a few sorted runs (a mapping added at the end of a file of globs): a stable sort
        // merges runs in O(n), where an unstable one sorts 50,000 edges from scratch (50 ms
        // of a reload in a debug build).
        if !copies.is_sorted() {
            copies.sort();
        }
        copies.dedup();
        let mut out = FrameRoutes::default();
        for (source, target, from, to) in copies {
            let i = source.0 as usize;
            if out.by_source.len() <= i {
                let end = out.routes.len() as u32;
                out.by_source.resize(i + 1, (end, end));
            }
            let same_route = out
                .routes
                .last()
                .is_some_and(|r| r.target == target && out.by_source[i].1 > out.by_source[i].0);
            if !same_route {
                let start = out.runs.len() as u32;
                out.routes.push(Route {
                    target,
                    runs: (start, start),
                });
                out.by_source[i].1 = out.routes.len() as u32;
            }
            let route = out.routes.len() - 1;
            let extends = out.runs.last_mut().filter(|_| same_route).filter(|r| {
                u32::from(r.from) + u32::from(r.len) == u32::from(from)
                    && u32::from(r.to) + u32::from(r.len) == u32::from(to)
                    && r.len < u16::MAX
            });
            match extends {
                Some(run) => run.len += 1,
                None => {
                    out.runs.push(Run { from, to, len: 1 });
                    out.routes[route].runs.1 = out.runs.len() as u32;
                }
            }
        }
        out
    }

    /// Whether any frame route leaves `instance` (then its backend reports its frame).
    pub fn has_source(&self, instance: InstanceId) -> bool {
        self.by_source
            .get(instance.0 as usize)
            .is_some_and(|&(a, b)| b > a)
    }

    /// Number of routes (pairs of instances).
    #[cfg(any(test, feature = "testing"))]
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// Whether there are none.
    #[cfg(any(test, feature = "testing"))]
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Indices of the routes leaving `instance`.
    pub(crate) fn routes_of(&self, instance: InstanceId) -> std::ops::Range<usize> {
        match self.by_source.get(instance.0 as usize) {
            Some(&(a, b)) => a as usize..b as usize,
            None => 0..0,
        }
    }

    pub(crate) fn target_of(&self, route: usize) -> Option<InstanceId> {
        self.routes.get(route).map(|r| r.target)
    }

    /// The runs of route `route`.
    pub fn runs(&self, route: usize) -> &[Run] {
        self.routes
            .get(route)
            .and_then(|r| self.runs.get(r.runs.0 as usize..r.runs.1 as usize))
            .unwrap_or(&[])
    }
}

/// Frames reported in one routing round: their bytes, back to back, and who reported them.
/// Cleared, never freed, so a warm loop does not allocate.
#[derive(Debug, Default)]
pub struct FrameBuf {
    data: Vec<u8>,
    records: Vec<(InstanceId, u32, u32)>,
}

impl FrameBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&mut self, instance: InstanceId, frame: &[u8]) {
        let start = self.data.len();
        let (Ok(a), Ok(b)) = (u32::try_from(start), u32::try_from(start + frame.len())) else {
            return; // 4 GiB of frames in one round cannot be reported by any backend
        };
        self.data.extend_from_slice(frame);
        self.records.push((instance, a, b));
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no frame was reported.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Forgets every frame, keeping the capacity.
    pub fn clear(&mut self) {
        self.data.clear();
        self.records.clear();
    }

    /// Frame `i`: who reported it and its bytes.
    pub fn get(&self, i: usize) -> Option<(InstanceId, &[u8])> {
        let &(instance, a, b) = self.records.get(i)?;
        Some((instance, self.data.get(a as usize..b as usize)?))
    }

    /// The frames in the order they were reported.
    #[cfg(any(test, feature = "testing"))]
    pub fn iter(&self) -> impl Iterator<Item = (InstanceId, &[u8])> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

/// One copy for a target instance: the runs to apply from a source's frame.
#[derive(Clone, Copy, Debug)]
pub struct FrameCopy<'a> {
    /// The instance that reported the frame.
    pub source: InstanceId,
    /// The frame's bytes as reported.
    pub frame: &'a [u8],
    /// What to copy from it into the target's frame.
    pub runs: &'a [Run],
}

impl FrameCopy<'_> {
    /// Applies every run to `target`; returns whether a byte changed.
    pub fn apply(&self, target: &mut [u8]) -> bool {
        let mut changed = false;
        for run in self.runs {
            changed |= run.apply(self.frame, target);
        }
        changed
    }
}

/// The frame copies routed to one instance in one round, in the order the frames were reported.
#[derive(Clone, Copy)]
pub struct FrameCopies<'a> {
    pub(crate) items: &'a [(u32, u32)],
    pub(crate) frames: &'a FrameBuf,
    pub(crate) routes: &'a FrameRoutes,
}

impl<'a> FrameCopies<'a> {
    /// Number of copies.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The copies in the order the frames were reported; apply each with [`FrameCopy::apply`].
    pub fn iter(&self) -> impl Iterator<Item = FrameCopy<'a>> + 'a {
        let (frames, routes) = (self.frames, self.routes);
        self.items.iter().filter_map(move |&(f, r)| {
            let (source, frame) = frames.get(f as usize)?;
            Some(FrameCopy {
                source,
                frame,
                runs: routes.runs(r as usize),
            })
        })
    }
}

impl std::fmt::Debug for FrameCopies<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ChannelIds;
    use crate::registry::ChannelRegistry;

    #[test]
    fn run_copies_clamped_and_reports_change() {
        let run = Run {
            from: 2,
            to: 0,
            len: 4,
        };
        let mut target = [9u8; 3];
        assert!(run.apply(&[1, 2, 3, 4, 5, 6], &mut target));
        assert_eq!(target, [3, 4, 5]);
        assert!(!run.apply(&[1, 2, 3, 4, 5, 6], &mut target));
        // A short source copies what it has.
        let mut target = [0u8; 8];
        assert!(run.apply(&[1, 2, 7], &mut target));
        assert_eq!(target, [7, 0, 0, 0, 0, 0, 0, 0]);
        // Offsets past either end copy nothing.
        assert!(
            !Run {
                from: 10,
                to: 0,
                len: 2
            }
            .apply(&[1; 4], &mut target)
        );
    }

    #[test]
    fn consecutive_lanes_merge_into_runs() {
        let mut reg = ChannelRegistry::new();
        let mut edges = Vec::new();
        // in (instance 0) lanes 0..4 → out (instance 1) lanes 10..14, then lane 7 → 3.
        for k in 0..4u16 {
            let s = reg.resolve(InstanceId(0), u64::from(k));
            let t = reg.resolve(InstanceId(1), u64::from(k) + 10);
            reg.set_lane(s, k);
            reg.set_lane(t, k + 10);
            edges.push((s, t));
        }
        let s = reg.resolve(InstanceId(0), 7);
        let t = reg.resolve(InstanceId(1), 3);
        reg.set_lane(s, 7);
        reg.set_lane(t, 3);
        edges.push((s, t));
        let copies = edges
            .iter()
            .map(|&(s, t)| {
                let lanes = (reg.lane_of(s).unwrap(), reg.lane_of(t).unwrap());
                let inst = (reg.instance_of(s).unwrap(), reg.instance_of(t).unwrap());
                (inst.0, inst.1, lanes.0, lanes.1)
            })
            .collect();
        let f = FrameRoutes::build(copies);
        assert!(f.has_source(InstanceId(0)));
        assert!(!f.has_source(InstanceId(1)));
        assert_eq!(f.len(), 1);
        assert_eq!(f.target_of(0), Some(InstanceId(1)));
        assert_eq!(
            f.runs(0),
            &[
                Run {
                    from: 0,
                    to: 10,
                    len: 4
                },
                Run {
                    from: 7,
                    to: 3,
                    len: 1
                }
            ]
        );
    }
}
