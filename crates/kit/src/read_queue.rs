//! Budgeted reads of edge-triggered sources.
//!
//! The loop (mio, edge-triggered) reports a source once when it becomes readable; the backend
//! must then read it until it would block, or it will not hear of it again. Why not always read
//! to the end: a flooded socket would keep one turn going for as long as the flood lasts,
//! starving the other sockets, the routing and the output. So each source gets a budget of
//! reads per turn, a source whose budget ran out is read again next turn (before it would be
//! reported again, which it will not be), and the backend asks for that turn at once: its
//! `poll_timeout` is "now" while [`ReadQueue::is_waiting`].
//!
//! ```
//! use patchbay_core::Ready;
//! use patchbay_kit::read_queue::{Drained, ReadQueue};
//!
//! let mut queue = ReadQueue::new(64);
//! let ready = [Ready { tag: 7, readable: true, ..Ready::default() }];
//! let mut queued = 100; // datagrams waiting in socket 7
//! queue.run(&ready, |tag, budget| {
//!     assert_eq!(tag, 7);
//!     let n = queued.min(budget); // read up to `budget` datagrams
//!     queued -= n;
//!     if n < budget { Drained::Dry } else { Drained::More }
//! });
//! assert!(queue.is_waiting(), "36 left: read again next turn, at once");
//! ```
//!
//! The sACN backend keeps its own variant of this, since its turns also end early at a repeated
//! universe (see its `input` module).

use patchbay_core::Ready;

/// What reading one source did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drained {
    /// It would block now (or reported an error a read does not clear): done until the loop
    /// reports it again.
    Dry,
    /// The budget ran out first: data may be left, read it again next turn.
    More,
}

/// The per-turn read budget and the sources left over from earlier turns.
#[derive(Clone, Debug)]
pub struct ReadQueue {
    budget: usize,
    /// Tags read until the budget ran out, read first next turn.
    backlog: Vec<u32>,
    /// The previous backlog's vector, kept so a warm queue does not allocate.
    spare: Vec<u32>,
}

impl ReadQueue {
    /// A queue giving each source `budget` reads per turn (at least 1).
    pub fn new(budget: usize) -> Self {
        ReadQueue {
            budget: budget.max(1),
            backlog: Vec::with_capacity(16),
            spare: Vec::with_capacity(16),
        }
    }

    /// Reads per source per turn.
    pub fn budget(&self) -> usize {
        self.budget
    }

    /// Changes the reads per source per turn (at least 1).
    pub fn set_budget(&mut self, budget: usize) {
        self.budget = budget.max(1);
    }

    /// One turn's reads: `read(tag, budget)` for every ready source a read makes progress on
    /// ([`Ready::should_read`]) and every source left over from earlier turns, each once.
    /// Sources that return [`Drained::More`] are read again next turn.
    pub fn run(&mut self, ready: &[Ready], mut read: impl FnMut(u32, usize) -> Drained) {
        let left = std::mem::replace(&mut self.backlog, std::mem::take(&mut self.spare));
        let fresh = ready.iter().filter(|r| r.should_read()).map(|r| r.tag);
        let carried = left
            .iter()
            .copied()
            .filter(|t| !ready.iter().any(|r| r.tag == *t && r.should_read()));
        for tag in fresh.chain(carried) {
            if read(tag, self.budget) == Drained::More && !self.backlog.contains(&tag) {
                self.backlog.push(tag);
            }
        }
        let mut left = left;
        left.clear();
        self.spare = left;
    }

    /// Whether sources wait with data left: the backend's `poll_timeout` should be now.
    pub fn is_waiting(&self) -> bool {
        !self.backlog.is_empty()
    }

    /// Forgets a source (deregistered or closed) that may be left over.
    pub fn forget(&mut self, tag: u32) {
        self.backlog.retain(|&t| t != tag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(tag: u32) -> Ready {
        Ready {
            tag,
            readable: true,
            ..Ready::default()
        }
    }

    /// Sources with `queued[tag]` items; records (tag, items read) per call.
    fn reader<'a>(
        queued: &'a mut [usize],
        log: &'a mut Vec<(u32, usize)>,
    ) -> impl FnMut(u32, usize) -> Drained + 'a {
        move |tag, budget| {
            let q = &mut queued[tag as usize];
            let n = (*q).min(budget);
            *q -= n;
            log.push((tag, n));
            if n < budget {
                Drained::Dry
            } else {
                Drained::More
            }
        }
    }

    #[test]
    fn a_flooded_source_is_read_a_budget_per_turn_without_starving_others() {
        let mut q = ReadQueue::new(10);
        let mut queued = vec![25, 3];
        let mut log = Vec::new();
        q.run(&[readable(0), readable(1)], reader(&mut queued, &mut log));
        assert_eq!(log, vec![(0, 10), (1, 3)]);
        assert!(q.is_waiting());
        // Not reported again (edge-triggered), read anyway.
        log.clear();
        q.run(&[], reader(&mut queued, &mut log));
        assert_eq!(log, vec![(0, 10)]);
        log.clear();
        q.run(&[], reader(&mut queued, &mut log));
        assert_eq!(log, vec![(0, 5)]);
        assert!(!q.is_waiting());
        log.clear();
        q.run(&[], reader(&mut queued, &mut log));
        assert!(log.is_empty(), "dry sources wait for the loop");
        assert_eq!(queued, vec![0, 0]);
    }

    #[test]
    fn each_source_is_read_once_per_turn_and_writable_alone_is_not_read() {
        let mut q = ReadQueue::new(2);
        let mut queued = vec![5, 5, 5];
        let mut log = Vec::new();
        q.run(&[readable(0)], reader(&mut queued, &mut log));
        log.clear();
        let writable = Ready {
            tag: 2,
            writable: true,
            ..Ready::default()
        };
        let hung_up = Ready {
            tag: 1,
            hangup: true,
            ..Ready::default()
        };
        // 0 is left over and ready again: once. 1 hung up: read (to its end). 2: not.
        q.run(
            &[readable(0), hung_up, writable],
            reader(&mut queued, &mut log),
        );
        assert_eq!(log, vec![(0, 2), (1, 2)]);
        q.forget(0);
        q.forget(1);
        assert!(!q.is_waiting());
        assert_eq!(ReadQueue::new(0).budget(), 1);
    }
}
