//! What `patchbay sacn watch` knows: the [`Receiver`] (merge, loss, termination, discovery) plus
//! per-source statistics the receiver does not keep (frame rate, sequence errors, missed packets,
//! losses). Sans-IO like the receiver: the caller passes datagrams and the time, and drains
//! [`Report`]s, so the whole diagnosis is testable without a socket.

use std::collections::VecDeque;
use std::time::Instant;

use patchbay_sacn::receiver::{
    Discard, Event, Handled, Receiver, ReceiverConfig, UniverseConfig as RxUniverseConfig,
};
use patchbay_sacn::{Cid, MAX_SLOTS, Packet, START_CODE_LEVELS, START_CODE_PER_ADDRESS_PRIORITY};
use serde::Serialize;

/// Reports kept for the caller before the oldest are dropped (a flood of new sources cannot
/// grow memory when nobody drains).
const REPORT_CAPACITY: usize = 4096;

/// One line of `watch --json`, and the events the text view lists. `t` is seconds since the
/// watch started.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Report {
    /// A source started sending on a universe.
    SourceNew {
        t: f64,
        universe: u16,
        cid: String,
        name: String,
        priority: u8,
    },
    /// A source was not heard for the loss timeout (2.5 s).
    SourceLost {
        t: f64,
        universe: u16,
        cid: String,
        name: String,
    },
    /// A source sent Stream_Terminated.
    SourceTerminated {
        t: f64,
        universe: u16,
        cid: String,
        name: String,
    },
    /// A source's per-address priority (0xDD) stream stopped while its levels continue.
    PerAddressPriorityLost {
        t: f64,
        universe: u16,
        cid: String,
        name: String,
    },
    /// Packets of a source were discarded as out of sequence since the last report.
    SequenceErrors {
        t: f64,
        universe: u16,
        cid: String,
        name: String,
        count: u64,
        total: u64,
    },
    /// A discovery source's universe list is new or changed.
    Discovery {
        t: f64,
        cid: String,
        name: String,
        universes: Vec<u16>,
    },
    /// A discovery source was not heard for the discovery expiry time.
    DiscoveryExpired { t: f64, cid: String },
    /// Periodic statistics of one source on one universe.
    Stats(SourceStatsReport),
    /// Periodic state of one universe: its sources, the priority contest, the merged levels.
    Universe(UniverseReport),
}

/// Periodic statistics of one source on one universe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceStatsReport {
    pub t: f64,
    pub universe: u16,
    pub cid: String,
    pub name: String,
    pub priority: u8,
    /// The source sends per-address priorities (start code 0xDD).
    pub per_address_priority: bool,
    /// Packets per second over the last period (levels and 0xDD).
    pub fps: f64,
    pub packets: u64,
    /// Packets discarded as out of sequence (duplicates, reordering).
    pub sequence_errors: u64,
    /// Packets never seen, from gaps in the sequence numbers.
    pub missed: u64,
    /// Times the source was lost (loss timeout).
    pub losses: u64,
    /// "active", "lost" or "terminated".
    pub state: &'static str,
    /// Seconds since the last packet.
    pub last_seen: f64,
}

/// Periodic state of one universe.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UniverseReport {
    pub t: f64,
    pub universe: u16,
    /// Active sources.
    pub sources: usize,
    /// Highest packet priority among active sources.
    pub top_priority: Option<u8>,
    /// Active sources at that priority: more than one means their levels are merged (HTP),
    /// the classic cause of flicker.
    pub sources_at_top_priority: usize,
    /// Still in the 1.5 s sampling period: levels not yet merged.
    pub sampling: bool,
    /// Human-readable diagnoses (equal-priority contest, sequence errors, losses).
    pub warnings: Vec<String>,
    /// The 512 merged levels.
    pub levels: Vec<u8>,
}

/// Per-(universe, source) statistics.
#[derive(Debug, Clone)]
pub struct SourceStats {
    pub universe: u16,
    pub cid: Cid,
    pub name: String,
    pub priority: u8,
    pub per_address_priority: bool,
    pub packets: u64,
    pub fps: f64,
    pub sequence_errors: u64,
    pub missed: u64,
    pub losses: u64,
    pub state: SourceState,
    pub last_seen: Instant,
    last_sequence: Option<u8>,
    packets_at_tick: u64,
    sequence_errors_at_tick: u64,
}

/// Whether a source is still sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceState {
    Active,
    Lost,
    Terminated,
}

impl SourceState {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceState::Active => "active",
            SourceState::Lost => "lost",
            SourceState::Terminated => "terminated",
        }
    }
}

/// The watcher's state. See the [module docs](self).
pub struct Monitor {
    rx: Receiver,
    /// No universe list was given: any universe that arrives (unicast) is added.
    auto_add: bool,
    sources: Vec<SourceStats>,
    /// Universes discovery announced that were added in auto mode; the caller joins their groups.
    to_join: Vec<u16>,
    reports: VecDeque<Report>,
    started: Instant,
    last_tick: Instant,
}

impl Monitor {
    /// Watches `universes`; with none, every data universe that arrives is added on first sight.
    /// Uses the E1.31 defaults (1.5 s sampling, 1.5 s 0xDD wait), so the grid shows what a real
    /// receiver would output, which is the point when chasing flicker.
    pub fn new(now: Instant, universes: &[u16]) -> Monitor {
        Monitor::with_config(now, universes, ReceiverConfig::default())
    }

    /// As [`new`](Self::new) with other receiver settings (the demo shows levels at once).
    pub fn with_config(now: Instant, universes: &[u16], cfg: ReceiverConfig) -> Monitor {
        let mut rx = Receiver::new(cfg);
        for &u in universes {
            // Duplicates and invalid numbers were refused by argument parsing; ignore repeats.
            let _ = rx.add_universe(now, u, RxUniverseConfig::default());
        }
        Monitor {
            rx,
            auto_add: universes.is_empty(),
            sources: Vec::new(),
            to_join: Vec::new(),
            reports: VecDeque::new(),
            started: now,
            last_tick: now,
        }
    }

    /// The receiver (merged levels, discovery).
    pub fn receiver(&self) -> &Receiver {
        &self.rx
    }

    /// Every source seen, in order of appearance.
    pub fn sources(&self) -> &[SourceStats] {
        &self.sources
    }

    /// Universes watched, ascending.
    pub fn universes(&self) -> Vec<u16> {
        self.rx.universes().collect()
    }

    /// Merged levels of `universe`.
    pub fn levels(&self, universe: u16) -> Option<&[u8; MAX_SLOTS]> {
        self.rx.universe(universe).map(|u| u.slots())
    }

    /// When [`handle_timeout`](Self::handle_timeout) has work next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.rx.poll_timeout()
    }

    /// Runs the receiver's timers (source loss, discovery expiry).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.rx.handle_timeout(now);
        self.drain_events(now);
    }

    /// Takes one received datagram.
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8]) {
        let data = match Packet::parse(bytes) {
            Ok(Packet::Data(p)) => Some((
                p.universe(),
                p.cid(),
                p.sequence(),
                p.start_code(),
                p.options().stream_terminated(),
            )),
            _ => None,
        };
        if let Some((universe, ..)) = data
            && self.auto_add
            && self.rx.universe(universe).is_none()
        {
            let _ = self
                .rx
                .add_universe(now, universe, RxUniverseConfig::default());
        }
        let res = self.rx.handle_datagram(now, bytes);
        self.drain_events(now);
        let Some((universe, cid, sequence, start_code, terminated)) = data else {
            return;
        };
        match res {
            Ok(Handled::Data { .. } | Handled::Held { .. }) => {
                let Some(i) = self.find(universe, cid) else {
                    return;
                };
                let s = &mut self.sources[i];
                s.packets += 1;
                s.last_seen = now;
                if !terminated {
                    s.state = SourceState::Active;
                }
                if let Some(last) = s.last_sequence {
                    let step = sequence.wrapping_sub(last);
                    // Forward jumps only; a jump of 128 or more is a restart, not a gap.
                    if (2..128).contains(&step) {
                        s.missed += u64::from(step - 1);
                    }
                }
                s.last_sequence = Some(sequence);
                if let Some(v) = self.rx.universe(universe).and_then(|u| u.source(cid)) {
                    // Copied only when it changed: no allocation per packet.
                    if s.name != v.name {
                        s.name.clear();
                        s.name.push_str(v.name);
                    }
                    if start_code == START_CODE_LEVELS {
                        s.priority = v.priority;
                    }
                    s.per_address_priority =
                        v.per_address_priority || start_code == START_CODE_PER_ADDRESS_PRIORITY;
                }
            }
            Err(d) if d.discard() == Some(Discard::OutOfSequence) => {
                if let Some(i) = self.find(universe, cid) {
                    self.sources[i].sequence_errors += 1;
                }
            }
            _ => {}
        }
    }

    fn find(&self, universe: u16, cid: Cid) -> Option<usize> {
        self.sources
            .iter()
            .position(|s| s.universe == universe && s.cid == cid)
    }

    fn seconds(&self, now: Instant) -> f64 {
        round3(now.saturating_duration_since(self.started).as_secs_f64())
    }

    fn push(&mut self, r: Report) {
        if self.reports.len() >= REPORT_CAPACITY {
            self.reports.pop_front();
        }
        self.reports.push_back(r);
    }

    fn name_of(&self, universe: u16, cid: Cid) -> String {
        self.find(universe, cid)
            .map(|i| self.sources[i].name.clone())
            .unwrap_or_default()
    }

    fn drain_events(&mut self, now: Instant) {
        let t = self.seconds(now);
        while let Some(e) = self.rx.poll_event() {
            match e {
                Event::SourceAdded {
                    universe,
                    cid,
                    name,
                    priority,
                } => {
                    let name = name.as_str().to_string();
                    match self.find(universe, cid) {
                        Some(i) => {
                            let s = &mut self.sources[i];
                            s.state = SourceState::Active;
                            s.name.clone_from(&name);
                            s.priority = priority;
                            s.last_sequence = None;
                        }
                        None => self.sources.push(SourceStats {
                            universe,
                            cid,
                            name: name.clone(),
                            priority,
                            per_address_priority: false,
                            packets: 0,
                            fps: 0.0,
                            sequence_errors: 0,
                            missed: 0,
                            losses: 0,
                            state: SourceState::Active,
                            last_seen: now,
                            last_sequence: None,
                            packets_at_tick: 0,
                            sequence_errors_at_tick: 0,
                        }),
                    }
                    self.push(Report::SourceNew {
                        t,
                        universe,
                        cid: cid.to_string(),
                        name,
                        priority,
                    });
                }
                Event::SourceLost { universe, cid } => {
                    if let Some(i) = self.find(universe, cid) {
                        self.sources[i].state = SourceState::Lost;
                        self.sources[i].losses += 1;
                    }
                    let name = self.name_of(universe, cid);
                    self.push(Report::SourceLost {
                        t,
                        universe,
                        cid: cid.to_string(),
                        name,
                    });
                }
                Event::SourceTerminated { universe, cid } => {
                    if let Some(i) = self.find(universe, cid) {
                        self.sources[i].state = SourceState::Terminated;
                    }
                    let name = self.name_of(universe, cid);
                    self.push(Report::SourceTerminated {
                        t,
                        universe,
                        cid: cid.to_string(),
                        name,
                    });
                }
                Event::PerAddressPriorityLost { universe, cid } => {
                    if let Some(i) = self.find(universe, cid) {
                        self.sources[i].per_address_priority = false;
                    }
                    let name = self.name_of(universe, cid);
                    self.push(Report::PerAddressPriorityLost {
                        t,
                        universe,
                        cid: cid.to_string(),
                        name,
                    });
                }
                Event::DiscoveryUpdated { cid } => {
                    if let Some(d) = self.rx.discovery().get(cid) {
                        if self.auto_add {
                            for &u in d.universes {
                                if self.rx.universe(u).is_none() && !self.to_join.contains(&u) {
                                    self.to_join.push(u);
                                }
                            }
                        }
                        let r = Report::Discovery {
                            t,
                            cid: cid.to_string(),
                            name: d.name.to_string(),
                            universes: d.universes.to_vec(),
                        };
                        self.push(r);
                    }
                }
                Event::DiscoveryExpired { cid } => self.push(Report::DiscoveryExpired {
                    t,
                    cid: cid.to_string(),
                }),
                Event::SyncAddressSeen { .. }
                | Event::SourceLimitExceeded { .. }
                | Event::SamplingEnded { .. } => {}
            }
        }
    }

    /// Ends a reporting period: computes frame rates, reports sequence-error bursts, and queues
    /// a [`Report::Stats`] per source and a [`Report::Universe`] per watched universe.
    pub fn tick(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last_tick).as_secs_f64();
        self.last_tick = now;
        let t = self.seconds(now);
        let mut bursts = Vec::new();
        for s in &mut self.sources {
            let n = s.packets - s.packets_at_tick;
            s.fps = if elapsed > 0.0 {
                round1(n as f64 / elapsed)
            } else {
                0.0
            };
            s.packets_at_tick = s.packets;
            let errors = s.sequence_errors - s.sequence_errors_at_tick;
            if errors > 0 {
                bursts.push(Report::SequenceErrors {
                    t,
                    universe: s.universe,
                    cid: s.cid.to_string(),
                    name: s.name.clone(),
                    count: errors,
                    total: s.sequence_errors,
                });
            }
            s.sequence_errors_at_tick = s.sequence_errors;
        }
        for b in bursts {
            self.push(b);
        }
        let stats: Vec<Report> = self
            .sources
            .iter()
            .map(|s| {
                Report::Stats(SourceStatsReport {
                    t,
                    universe: s.universe,
                    cid: s.cid.to_string(),
                    name: s.name.clone(),
                    priority: s.priority,
                    per_address_priority: s.per_address_priority,
                    fps: s.fps,
                    packets: s.packets,
                    sequence_errors: s.sequence_errors,
                    missed: s.missed,
                    losses: s.losses,
                    state: s.state.as_str(),
                    last_seen: round3(now.saturating_duration_since(s.last_seen).as_secs_f64()),
                })
            })
            .collect();
        for r in stats {
            self.push(r);
        }
        for u in self.universes() {
            let r = self.universe_report(now, u);
            self.push(Report::Universe(r));
        }
    }

    /// The state and diagnosis of one universe.
    pub fn universe_report(&self, now: Instant, universe: u16) -> UniverseReport {
        let t = self.seconds(now);
        let rx = self.rx.universe(universe);
        let active: Vec<&SourceStats> = self
            .sources
            .iter()
            .filter(|s| s.universe == universe && s.state == SourceState::Active)
            .collect();
        let top = active.iter().map(|s| s.priority).max();
        let at_top: Vec<&&SourceStats> =
            active.iter().filter(|s| Some(s.priority) == top).collect();
        let mut warnings = Vec::new();
        if let Some(p) = top
            && at_top.len() > 1
        {
            let names: Vec<String> = at_top
                .iter()
                .map(|s| format!("'{}' ({})", s.name, s.cid))
                .collect();
            let pap = if at_top.iter().any(|s| s.per_address_priority) {
                " (per-address priorities decide slot by slot)"
            } else {
                ""
            };
            warnings.push(format!(
                "{} sources at equal priority {p} are merged HTP{pap}: {}",
                at_top.len(),
                names.join(", ")
            ));
        }
        for s in self.sources.iter().filter(|s| s.universe == universe) {
            if s.sequence_errors > 0 {
                warnings.push(format!(
                    "'{}' ({}): {} packets out of sequence",
                    s.name, s.cid, s.sequence_errors
                ));
            }
            if s.missed > 0 {
                warnings.push(format!(
                    "'{}' ({}): {} packets missed (sequence gaps)",
                    s.name, s.cid, s.missed
                ));
            }
            if s.losses > 0 {
                warnings.push(format!(
                    "'{}' ({}): lost {} time{}",
                    s.name,
                    s.cid,
                    s.losses,
                    if s.losses == 1 { "" } else { "s" }
                ));
            }
        }
        UniverseReport {
            t,
            universe,
            sources: active.len(),
            top_priority: top,
            sources_at_top_priority: at_top.len(),
            sampling: rx.is_some_and(|u| u.is_sampling()),
            warnings,
            levels: rx.map(|u| u.slots().to_vec()).unwrap_or_default(),
        }
    }

    /// In auto mode (no universe list), the universes discovery announced since the last call,
    /// now watched: the caller joins their multicast groups.
    pub fn take_universes_to_join(&mut self, now: Instant) -> Vec<u16> {
        let list = std::mem::take(&mut self.to_join);
        for &u in &list {
            let _ = self.rx.add_universe(now, u, RxUniverseConfig::default());
        }
        list
    }

    /// Oldest queued report.
    pub fn poll_report(&mut self) -> Option<Report> {
        self.reports.pop_front()
    }

    /// Seconds since the watch started, as reports give them.
    pub fn elapsed(&self, now: Instant) -> f64 {
        self.seconds(now)
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_sacn::{DataHeader, Options, write_data};
    use std::time::Duration;

    fn packet(cid: u8, name: &str, universe: u16, priority: u8, seq: u8, slots: &[u8]) -> Vec<u8> {
        packet_opts(cid, name, universe, priority, seq, slots, Options::NONE)
    }

    fn packet_opts(
        cid: u8,
        name: &str,
        universe: u16,
        priority: u8,
        seq: u8,
        slots: &[u8],
        options: Options,
    ) -> Vec<u8> {
        let mut b = [0u8; 1144];
        let h = DataHeader {
            cid: Cid([cid; 16]),
            source_name: name,
            priority,
            sync_address: 0,
            sequence: seq,
            options,
            universe,
            start_code: 0,
        };
        let n = write_data(&mut b, &h, slots).unwrap();
        b[..n].to_vec()
    }

    fn reports(m: &mut Monitor) -> Vec<Report> {
        std::iter::from_fn(|| m.poll_report()).collect()
    }

    #[test]
    fn two_sources_at_equal_priority_are_diagnosed() {
        let t0 = Instant::now();
        let mut m = Monitor::new(t0, &[5]);
        m.handle_datagram(t0, &packet(1, "desk A", 5, 100, 0, &[10, 200]));
        m.handle_datagram(t0, &packet(2, "desk B", 5, 100, 0, &[50, 20]));
        let t1 = t0 + Duration::from_millis(1600);
        // Levels merge when the 1.5 s sampling period ends.
        m.handle_datagram(t1, &packet(1, "desk A", 5, 100, 1, &[10, 200]));
        m.handle_datagram(t1, &packet(2, "desk B", 5, 100, 1, &[50, 20]));
        m.handle_timeout(t1);
        let r = m.universe_report(t1, 5);
        assert_eq!(r.sources, 2);
        assert_eq!(r.top_priority, Some(100));
        assert_eq!(r.sources_at_top_priority, 2);
        assert_eq!(&r.levels[..3], &[50, 200, 0], "HTP merge");
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].starts_with("2 sources at equal priority 100"));
        let new: Vec<_> = reports(&mut m)
            .into_iter()
            .filter_map(|r| match r {
                Report::SourceNew { name, .. } => Some(name),
                _ => None,
            })
            .collect();
        assert_eq!(new, ["desk A", "desk B"]);
    }

    #[test]
    fn higher_priority_is_no_contest() {
        let t0 = Instant::now();
        let mut m = Monitor::new(t0, &[5]);
        m.handle_datagram(t0, &packet(1, "a", 5, 100, 0, &[10]));
        m.handle_datagram(t0, &packet(2, "b", 5, 150, 0, &[50]));
        let r = m.universe_report(t0, 5);
        assert!(r.sampling);
        assert_eq!((r.top_priority, r.sources_at_top_priority), (Some(150), 1));
        assert!(r.warnings.is_empty());
    }

    #[test]
    fn sequence_errors_and_gaps_are_counted_per_source() {
        let t0 = Instant::now();
        let mut m = Monitor::new(t0, &[1]);
        for seq in [0u8, 1, 2, 1, 2, 6, 7] {
            m.handle_datagram(t0, &packet(3, "flaky", 1, 100, seq, &[1]));
        }
        let s = &m.sources()[0];
        assert_eq!((s.packets, s.sequence_errors, s.missed), (5, 2, 3));
        m.tick(t0 + Duration::from_secs(1));
        let burst = reports(&mut m).into_iter().find_map(|r| match r {
            Report::SequenceErrors { count, total, .. } => Some((count, total)),
            _ => None,
        });
        assert_eq!(burst, Some((2, 2)));
        // No new errors: no burst report in the next period.
        m.tick(t0 + Duration::from_secs(2));
        assert!(
            !reports(&mut m)
                .iter()
                .any(|r| matches!(r, Report::SequenceErrors { .. }))
        );
    }

    #[test]
    fn termination_and_loss_are_reported() {
        let t0 = Instant::now();
        let mut m = Monitor::new(t0, &[1, 2]);
        m.handle_datagram(t0, &packet(1, "a", 1, 100, 0, &[1]));
        m.handle_datagram(t0, &packet(2, "b", 2, 100, 0, &[1]));
        let term = Options::NONE.with_stream_terminated(true);
        m.handle_datagram(t0, &packet_opts(1, "a", 1, 100, 1, &[1], term));
        m.handle_timeout(t0 + Duration::from_secs(3));
        let got: Vec<_> = reports(&mut m)
            .into_iter()
            .filter_map(|r| match r {
                Report::SourceTerminated { universe, name, .. } => {
                    Some(("terminated", universe, name))
                }
                Report::SourceLost { universe, name, .. } => Some(("lost", universe, name)),
                _ => None,
            })
            .collect();
        assert_eq!(
            got,
            [
                ("terminated", 1, "a".to_string()),
                ("lost", 2, "b".to_string())
            ]
        );
        assert_eq!(m.sources()[0].state, SourceState::Terminated);
        assert_eq!(
            (m.sources()[1].state, m.sources()[1].losses),
            (SourceState::Lost, 1)
        );
    }

    #[test]
    fn per_address_priority_is_shown_for_its_source() {
        let t0 = Instant::now();
        let mut m = Monitor::new(t0, &[3]);
        let mut b = [0u8; 1144];
        let h = DataHeader {
            cid: Cid([4; 16]),
            source_name: "pap",
            priority: 100,
            sync_address: 0,
            sequence: 0,
            options: Options::NONE,
            universe: 3,
            start_code: START_CODE_PER_ADDRESS_PRIORITY,
        };
        let n = write_data(&mut b, &h, &[200, 0]).unwrap();
        m.handle_datagram(t0, &b[..n]);
        m.handle_datagram(t0, &packet(4, "pap", 3, 100, 1, &[9, 9]));
        m.handle_datagram(t0, &packet(5, "plain", 3, 100, 0, &[9, 9]));
        let flags: Vec<(&str, bool)> = m
            .sources()
            .iter()
            .map(|s| (s.name.as_str(), s.per_address_priority))
            .collect();
        assert_eq!(flags, [("pap", true), ("plain", false)]);
        let r = m.universe_report(t0, 3);
        assert!(
            r.warnings[0].ends_with(
                "(per-address priorities decide slot by slot): 'pap' \
(04040404-0404-0404-0404-040404040404), 'plain' (05050505-0505-0505-0505-050505050505)"
            ),
            "{:?}",
            r.warnings
        );
    }

    #[test]
    fn without_a_list_every_arriving_universe_is_added() {
        let t0 = Instant::now();
        let mut m = Monitor::new(t0, &[]);
        m.handle_datagram(t0, &packet(1, "a", 7, 100, 0, &[9, 8]));
        assert_eq!(m.universes(), [7]);
        let mut b = [0u8; 200];
        let n =
            patchbay_sacn::write_discovery(&mut b, Cid([1; 16]), "a", 0, 0, &[7, 8, 9]).unwrap();
        m.handle_datagram(t0, &b[..n]);
        assert_eq!(m.take_universes_to_join(t0), [8, 9]);
        assert_eq!(m.universes(), [7, 8, 9]);
        assert!(m.take_universes_to_join(t0).is_empty());
        m.handle_timeout(t0 + Duration::from_secs(2));
        assert_eq!(&m.levels(7).unwrap()[..2], &[9, 8]);
    }

    #[test]
    fn stats_lines_serialize_with_event_tags() {
        let t0 = Instant::now();
        let mut m = Monitor::new(t0, &[1]);
        m.handle_datagram(t0, &packet(1, "a", 1, 120, 0, &[1]));
        m.handle_timeout(t0 + Duration::from_secs(2));
        m.tick(t0 + Duration::from_secs(2));
        let lines: Vec<String> = reports(&mut m)
            .iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect();
        assert!(
            lines[0].starts_with(r#"{"event":"source_new","t":0.0,"universe":1,"cid":"01010101-"#)
        );
        let stats: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(stats["event"], "stats");
        assert_eq!(stats["priority"], 120);
        assert_eq!(stats["fps"], 0.5);
        assert_eq!(stats["state"], "active");
        let uni: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
        assert_eq!(uni["event"], "universe");
        assert_eq!(uni["levels"][0], 1);
        assert_eq!(uni["levels"].as_array().unwrap().len(), 512);
    }
}
