//! Sync streams per (CID, sync universe): their sequence numbers and whether they are alive.

use std::time::{Duration, Instant};

use crate::cid::Cid;

use super::outcome::Discard;
use super::sequence::SequenceTracker;
use super::universe::SyncStatus;

#[derive(Debug, Clone, Copy)]
struct Stream {
    cid: Cid,
    address: u16,
    seq: SequenceTracker,
    last_heard: Instant,
}

/// Bounded table of sync streams. Entries stay after the stream is lost, because a lost stream
/// (unlike one never seen) keeps Force_Synchronization = 0 data held; a full table evicts the
/// longest-lost stream, and refuses new ones if all are alive.
#[derive(Debug, Clone)]
pub(crate) struct SyncTable {
    streams: Vec<Stream>,
    max: usize,
    timeout: Duration,
}

impl SyncTable {
    pub(crate) fn new(max: usize, timeout: Duration) -> Self {
        SyncTable {
            streams: Vec::new(),
            max: max.max(1),
            timeout,
        }
    }

    #[inline]
    fn find(&self, cid: Cid, address: u16) -> Option<usize> {
        self.streams
            .iter()
            .position(|s| s.address == address && s.cid == cid)
    }

    #[inline]
    fn alive(&self, s: &Stream, now: Instant) -> bool {
        now.saturating_duration_since(s.last_heard) < self.timeout
    }

    pub(crate) fn status(&self, now: Instant, cid: Cid, address: u16) -> SyncStatus {
        match self.find(cid, address) {
            None => SyncStatus::NotSynchronized,
            Some(i) if self.alive(&self.streams[i], now) => SyncStatus::Active,
            Some(_) => SyncStatus::Lost,
        }
    }

    /// Sequence check and refresh for one sync packet.
    pub(crate) fn accept(
        &mut self,
        now: Instant,
        cid: Cid,
        seq: u8,
        address: u16,
    ) -> Result<(), Discard> {
        if let Some(i) = self.find(cid, address) {
            let s = &mut self.streams[i];
            if !s.seq.accept(seq) {
                return Err(Discard::OutOfSequence);
            }
            s.last_heard = now;
            return Ok(());
        }
        let mut tracker = SequenceTracker::new();
        tracker.accept(seq);
        let fresh = Stream {
            cid,
            address,
            seq: tracker,
            last_heard: now,
        };
        if self.streams.len() < self.max {
            self.streams.push(fresh);
            return Ok(());
        }
        let victim = self
            .streams
            .iter()
            .enumerate()
            .filter(|(_, s)| !self.alive(s, now))
            .min_by_key(|(_, s)| s.last_heard)
            .map(|(i, _)| i);
        match victim {
            Some(i) => {
                self.streams[i] = fresh;
                Ok(())
            }
            None => Err(Discard::TooManySources),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.streams.len()
    }
}
