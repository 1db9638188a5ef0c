//! Receive side of E1.31 universe discovery (section 8): which sources announce which universes.
//!
//! Sources send their list every 10 s (E131_UNIVERSE_DISCOVERY_INTERVAL), split into pages of
//! at most 512 universes. Pages are assembled per CID; a list replaces the previous one only when
//! every page `0..=last_page` of one announcement has arrived. An entry expires when it has not
//! been refreshed for [`DEFAULT_EXPIRY`] (two intervals plus a margin): expiring after the 2.5 s
//! data loss timeout, as python `sacn` does, would drop every source between two announcements.

use std::time::{Duration, Instant};

use crate::cid::Cid;
use crate::receiver::{Discard, Event, EventQueue, SourceName};
use crate::wire::DiscoveryPacket;

/// E131_UNIVERSE_DISCOVERY_INTERVAL.
pub const DISCOVERY_INTERVAL: Duration = Duration::from_secs(10);
/// Two missed announcements plus 5 s for jitter before a source is forgotten.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(25);
/// Pages of one announcement arrive in a burst; a partial list older than this is restarted.
const ASSEMBLY_WINDOW: Duration = Duration::from_secs(5);

/// Bounds and timing of the discovery tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscoveryConfig {
    /// A source not heard for this long is removed.
    pub expiry: Duration,
    /// Sources tracked at most; pages of further sources are dropped and counted.
    pub max_sources: usize,
    /// Universes kept per source at most (the wire allows 256 pages × 512).
    pub max_universes_per_source: usize,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        DiscoveryConfig {
            expiry: DEFAULT_EXPIRY,
            max_sources: 256,
            max_universes_per_source: 8192,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    in_use: bool,
    cid: Cid,
    name: SourceName,
    last_seen: Instant,
    /// Whether a complete list was ever assembled.
    known: bool,
    universes: Vec<u16>,
    pending: Vec<u16>,
    pending_last: u8,
    pending_started: Instant,
    pages_seen: [u64; 4],
}

impl Entry {
    fn reset_pending(&mut self, last: u8, now: Instant) {
        self.pending.clear();
        self.pending_last = last;
        self.pending_started = now;
        self.pages_seen = [0; 4];
    }

    fn page_seen(&self, p: u8) -> bool {
        self.pages_seen[usize::from(p / 64)] & (1 << (p % 64)) != 0
    }

    fn all_pages_seen(&self) -> bool {
        (0..=self.pending_last).all(|p| self.page_seen(p))
    }
}

/// One source as seen through discovery.
#[derive(Debug, Clone, Copy)]
pub struct DiscoveredSource<'a> {
    /// CID.
    pub cid: Cid,
    /// Name from its latest page.
    pub name: &'a str,
    /// Its last complete universe list, ascending without duplicates (empty until complete).
    pub universes: &'a [u16],
    /// When its latest page arrived.
    pub last_seen: Instant,
}

/// Tracks discovery announcements; sans-IO like the receiver.
#[derive(Debug, Clone)]
pub struct DiscoveryTracker {
    cfg: DiscoveryConfig,
    entries: Vec<Entry>,
}

impl DiscoveryTracker {
    /// An empty tracker.
    pub fn new(cfg: DiscoveryConfig) -> Self {
        DiscoveryTracker {
            cfg,
            entries: Vec::new(),
        }
    }

    /// Takes in one page. Returns whether it completed the source's list.
    pub fn handle_page(
        &mut self,
        now: Instant,
        pkt: &DiscoveryPacket<'_>,
        events: &mut EventQueue,
    ) -> Result<bool, Discard> {
        let cid = pkt.cid();
        let (page, last) = (pkt.page(), pkt.last_page());
        let i = match self.entries.iter().position(|e| e.in_use && e.cid == cid) {
            Some(i) => i,
            None => {
                if self.len() >= self.cfg.max_sources {
                    return Err(Discard::TooManySources);
                }
                let fresh = Entry {
                    in_use: true,
                    cid,
                    name: SourceName::EMPTY,
                    last_seen: now,
                    known: false,
                    universes: Vec::new(),
                    pending: Vec::new(),
                    pending_last: last,
                    pending_started: now,
                    pages_seen: [0; 4],
                };
                match self.entries.iter().position(|e| !e.in_use) {
                    Some(free) => {
                        // Keep the old vectors' capacity.
                        let old = &mut self.entries[free];
                        let (mut u, mut p) = (
                            core::mem::take(&mut old.universes),
                            core::mem::take(&mut old.pending),
                        );
                        u.clear();
                        p.clear();
                        *old = Entry {
                            universes: u,
                            pending: p,
                            ..fresh
                        };
                        free
                    }
                    None => {
                        self.entries.push(fresh);
                        self.entries.len() - 1
                    }
                }
            }
        };
        let max = self.cfg.max_universes_per_source;
        let e = &mut self.entries[i];
        e.last_seen = now;
        e.name = SourceName::from_wire(pkt.source_name_bytes());
        if last != e.pending_last
            || e.page_seen(page)
            || now.saturating_duration_since(e.pending_started) > ASSEMBLY_WINDOW
        {
            e.reset_pending(last, now);
        }
        if e.pages_seen == [0; 4] {
            e.pending_started = now;
        }
        e.pages_seen[usize::from(page / 64)] |= 1 << (page % 64);
        let mut overflow = false;
        for u in pkt.universes() {
            if e.pending.len() >= max {
                overflow = true;
                break;
            }
            e.pending.push(u);
        }
        if !e.all_pages_seen() {
            return if overflow {
                Err(Discard::DiscoveryOverflow)
            } else {
                Ok(false)
            };
        }
        e.pending.sort_unstable();
        e.pending.dedup();
        if !e.known || e.pending != e.universes {
            core::mem::swap(&mut e.pending, &mut e.universes);
            events.push(Event::DiscoveryUpdated { cid });
        }
        e.known = true;
        e.reset_pending(last, now);
        e.pages_seen = [0; 4];
        if overflow {
            Err(Discard::DiscoveryOverflow)
        } else {
            Ok(true)
        }
    }

    /// Removes sources not heard for the expiry time.
    pub fn handle_timeout(&mut self, now: Instant, events: &mut EventQueue) {
        for e in self.entries.iter_mut().filter(|e| e.in_use) {
            if now.saturating_duration_since(e.last_seen) >= self.cfg.expiry {
                e.in_use = false;
                events.push(Event::DiscoveryExpired { cid: e.cid });
            }
        }
    }

    /// When the next source expires (O(sources)).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries
            .iter()
            .filter(|e| e.in_use)
            .filter_map(|e| e.last_seen.checked_add(self.cfg.expiry))
            .min()
    }

    /// Expiry deadline of a page arriving at `now`, for schedulers that keep a running minimum.
    pub fn deadline_for(&self, now: Instant) -> Option<Instant> {
        now.checked_add(self.cfg.expiry)
    }

    /// Number of tracked sources.
    pub fn len(&self) -> usize {
        self.entries.iter().filter(|e| e.in_use).count()
    }

    /// Whether no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tracked sources.
    pub fn sources(&self) -> impl Iterator<Item = DiscoveredSource<'_>> {
        self.entries
            .iter()
            .filter(|e| e.in_use)
            .map(|e| DiscoveredSource {
                cid: e.cid,
                name: e.name.as_str(),
                universes: &e.universes,
                last_seen: e.last_seen,
            })
    }

    /// One source by CID.
    pub fn get(&self, cid: Cid) -> Option<DiscoveredSource<'_>> {
        self.sources().find(|s| s.cid == cid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Packet, write_discovery};

    const CID: Cid = Cid([7; 16]);

    fn page(cid: Cid, page: u8, last: u8, list: &[u16]) -> Vec<u8> {
        let mut buf = vec![0u8; 1200];
        let n = write_discovery(&mut buf, cid, "desk", page, last, list).expect("build");
        buf.truncate(n);
        buf
    }

    fn feed(
        t: &mut DiscoveryTracker,
        now: Instant,
        bytes: &[u8],
        ev: &mut EventQueue,
    ) -> Result<bool, Discard> {
        match Packet::parse(bytes) {
            Ok(Packet::Discovery(p)) => t.handle_page(now, &p, ev),
            other => panic!("not a discovery packet: {other:?}"),
        }
    }

    #[test]
    fn thousand_universes_in_two_pages() {
        let all: Vec<u16> = (1..=1000).collect();
        let mut t = DiscoveryTracker::new(DiscoveryConfig::default());
        let mut ev = EventQueue::new(16);
        let t0 = Instant::now();
        assert_eq!(
            feed(&mut t, t0, &page(CID, 0, 1, &all[..512]), &mut ev),
            Ok(false)
        );
        assert!(
            t.get(CID).expect("tracked").universes.is_empty(),
            "incomplete list not published"
        );
        assert_eq!(
            feed(&mut t, t0, &page(CID, 1, 1, &all[512..]), &mut ev),
            Ok(true)
        );
        let s = t.get(CID).expect("tracked");
        assert_eq!(s.universes, &all[..]);
        assert_eq!(s.name, "desk");
        assert_eq!(ev.pop(), Some(Event::DiscoveryUpdated { cid: CID }));
        assert_eq!(ev.pop(), None);
        // The same announcement again (pages out of order) changes nothing and emits nothing.
        let t1 = t0 + DISCOVERY_INTERVAL;
        assert_eq!(
            feed(&mut t, t1, &page(CID, 1, 1, &all[512..]), &mut ev),
            Ok(false)
        );
        assert_eq!(
            feed(&mut t, t1, &page(CID, 0, 1, &all[..512]), &mut ev),
            Ok(true)
        );
        assert_eq!(t.get(CID).expect("tracked").universes.len(), 1000);
        assert_eq!(ev.pop(), None);
    }

    #[test]
    fn list_change_and_lost_page_restart() {
        let mut t = DiscoveryTracker::new(DiscoveryConfig::default());
        let mut ev = EventQueue::new(16);
        let t0 = Instant::now();
        assert_eq!(
            feed(&mut t, t0, &page(CID, 0, 0, &[1, 2, 10]), &mut ev),
            Ok(true)
        );
        assert_eq!(t.get(CID).expect("tracked").universes, &[1, 2, 10]);
        // Page 0 of a two-page list, then page 0 again (page 1 lost): no mix of old and new.
        let t1 = t0 + DISCOVERY_INTERVAL;
        assert_eq!(feed(&mut t, t1, &page(CID, 0, 1, &[3]), &mut ev), Ok(false));
        assert_eq!(
            feed(
                &mut t,
                t1 + DISCOVERY_INTERVAL,
                &page(CID, 0, 1, &[4]),
                &mut ev
            ),
            Ok(false)
        );
        assert_eq!(
            feed(
                &mut t,
                t1 + DISCOVERY_INTERVAL,
                &page(CID, 1, 1, &[5]),
                &mut ev
            ),
            Ok(true)
        );
        assert_eq!(t.get(CID).expect("tracked").universes, &[4, 5]);
    }

    #[test]
    fn expiry_after_two_intervals_not_data_loss_timeout() {
        let mut t = DiscoveryTracker::new(DiscoveryConfig::default());
        let mut ev = EventQueue::new(16);
        let t0 = Instant::now();
        feed(&mut t, t0, &page(CID, 0, 0, &[1]), &mut ev).expect("page");
        ev.pop();
        assert_eq!(t.next_deadline(), Some(t0 + DEFAULT_EXPIRY));
        t.handle_timeout(t0 + Duration::from_millis(2500), &mut ev);
        t.handle_timeout(t0 + Duration::from_secs(11), &mut ev);
        assert_eq!(t.len(), 1, "one missed announcement is not expiry");
        // Refreshed at 10 s: expiry moves to 35 s.
        feed(
            &mut t,
            t0 + DISCOVERY_INTERVAL,
            &page(CID, 0, 0, &[1]),
            &mut ev,
        )
        .expect("page");
        t.handle_timeout(t0 + Duration::from_millis(34_999), &mut ev);
        assert_eq!(t.len(), 1);
        assert_eq!(ev.pop(), None);
        t.handle_timeout(t0 + Duration::from_secs(35), &mut ev);
        assert_eq!(t.len(), 0);
        assert_eq!(ev.pop(), Some(Event::DiscoveryExpired { cid: CID }));
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn bounded_sources_and_lists() {
        let cfg = DiscoveryConfig {
            max_sources: 3,
            max_universes_per_source: 600,
            ..DiscoveryConfig::default()
        };
        let mut t = DiscoveryTracker::new(cfg);
        let mut ev = EventQueue::new(64);
        let t0 = Instant::now();
        for k in 0..10u8 {
            let r = feed(&mut t, t0, &page(Cid([k; 16]), 0, 0, &[1]), &mut ev);
            assert_eq!(r.is_ok(), k < 3);
        }
        assert_eq!(t.len(), 3);
        let big: Vec<u16> = (1..=1024).collect();
        let c = Cid([1; 16]);
        assert_eq!(
            feed(&mut t, t0, &page(c, 0, 1, &big[..512]), &mut ev),
            Ok(false)
        );
        assert_eq!(
            feed(&mut t, t0, &page(c, 1, 1, &big[512..]), &mut ev),
            Err(Discard::DiscoveryOverflow)
        );
        assert_eq!(t.get(c).expect("tracked").universes.len(), 600);
    }
}
