//! The monitor's JSON payloads, written from a [`CoreView`] into reused buffers: the same
//! documents serve `GET /api/...` and the event stream (`doc/web-api.md` lists them).
//!
//! Names follow `patchbay sacn watch --json` where the two overlap (a source's `cid`, `priority`,
//! `per_address_priority`, `fps`, `packets`, `sequence_errors`, `missed`, `losses`, `state`,
//! `last_seen`; a universe's `sources`, `top_priority`, `sources_at_top_priority`, `sampling`,
//! `levels`) and the counters are the objects of `--stats-format json`.
//!
//! Every list is bounded (a page of a large configuration, never all of it at once), so one
//! payload costs the loop a bounded time and fits a client's output buffer.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use patchbay_core::monitor::{CoreView, MonitorSink, Source, SourceState};
use patchbay_core::{ChannelId, Direction, InstanceId};

use crate::json;
use crate::recent::RecentLog;

/// Instances in one page (and in the stream's `instances` event).
pub const INSTANCE_PAGE: usize = 128;
/// Counter groups in one page (and in the stream's `counters` event).
pub const COUNTER_PAGE: usize = 128;
/// Mapping edges in one page of the graph.
pub const EDGE_PAGE: usize = 1000;
/// Channels in one page of the channel list.
pub const CHANNEL_PAGE: usize = 1000;
/// Sources in `/api/sources`.
pub const SOURCE_LIMIT: usize = 2048;
/// Source rates kept (one per source seen recently).
const RATES: usize = 4096;
/// Frame rates are measured over at least this long.
const RATE_WINDOW: Duration = Duration::from_secs(1);
/// A rate not looked at for this long is forgotten.
const RATE_EXPIRY: Duration = Duration::from_secs(30);

/// A source's packet count at the start of its rate window.
#[derive(Debug)]
struct Rate {
    instance: InstanceId,
    id: String,
    since: Instant,
    packets: u64,
    fps: f64,
    seen: Instant,
}

/// Frame rates of the sources seen, keyed by (instance, source id).
#[derive(Debug, Default)]
struct Rates {
    rates: Vec<Rate>,
}

impl Rates {
    /// Frames per second of a source, measured over windows of at least a second (0 in the
    /// first window, as `watch` shows before its first period ends).
    fn fps(&mut self, now: Instant, instance: InstanceId, id: &str, packets: u64) -> f64 {
        if let Some(r) = self
            .rates
            .iter_mut()
            .find(|r| r.instance == instance && r.id == id)
        {
            r.seen = now;
            if packets < r.packets {
                // It went away and came back: its counts restarted.
                r.packets = packets;
                r.since = now;
                r.fps = 0.0;
            }
            let window = now.saturating_duration_since(r.since);
            if window >= RATE_WINDOW {
                r.fps = (packets - r.packets) as f64 / window.as_secs_f64();
                r.packets = packets;
                r.since = now;
            }
            return r.fps;
        }
        if self.rates.len() >= RATES {
            self.rates
                .retain(|r| now.saturating_duration_since(r.seen) < RATE_EXPIRY);
            if self.rates.len() >= RATES {
                return 0.0;
            }
        }
        self.rates.push(Rate {
            instance,
            id: id.to_string(),
            since: now,
            packets,
            fps: 0.0,
            seen: now,
        });
        0.0
    }
}

/// What one instance's backend said ([`Backend::monitor`](patchbay_core::Backend::monitor)),
/// as JSON pieces; reused from call to call.
#[derive(Debug, Default)]
pub struct Described {
    /// Properties as members (`"universe":"1",...`, no braces).
    props: Vec<u8>,
    /// Each source's members back to back (no braces); `source_ends[i]` ends source `i`.
    sources: Vec<u8>,
    source_ends: Vec<usize>,
    input: Vec<u8>,
    has_input: bool,
    output: Vec<u8>,
    has_output: bool,
    /// The `universe` property as a number, when it is one.
    universe: Option<u16>,
    /// The `state` property is `sampling`.
    sampling: bool,
    /// Active sources: (priority, per-address priority, "'name' (id)").
    active: Vec<(Option<u8>, bool, String)>,
    /// Diagnoses of single sources, as JSON strings each followed by a comma.
    notes: Vec<u8>,
}

impl Described {
    fn clear(&mut self) {
        self.props.clear();
        self.sources.clear();
        self.source_ends.clear();
        self.has_input = false;
        self.has_output = false;
        self.universe = None;
        self.sampling = false;
        self.active.clear();
        self.notes.clear();
    }

    /// The sources as a JSON array of objects.
    fn write_sources(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        let mut start = 0;
        for (i, &end) in self.source_ends.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'{');
            out.extend_from_slice(self.sources.get(start..end).unwrap_or(&[]));
            out.push(b'}');
            start = end;
        }
        out.push(b']');
    }

    /// Highest priority among active sources and how many have it.
    fn top(&self) -> (Option<u8>, usize) {
        let top = self.active.iter().filter_map(|a| a.0).max();
        let at_top = match top {
            Some(p) => self.active.iter().filter(|a| a.0 == Some(p)).count(),
            None => 0,
        };
        (top, at_top)
    }
}

/// The sink a backend describes an instance into.
struct Sink<'a> {
    d: &'a mut Described,
    rates: &'a mut Rates,
    id: &'a mut String,
    instance: InstanceId,
    now: Instant,
    frames: bool,
}

impl MonitorSink for Sink<'_> {
    fn property(&mut self, name: &'static str, value: &dyn std::fmt::Display) {
        let start = self.d.props.len();
        json::key(&mut self.d.props, name);
        let value_at = self.d.props.len();
        json::display(&mut self.d.props, value);
        self.d.props.push(b',');
        let text = self
            .d
            .props
            .get(value_at + 1..self.d.props.len() - 2)
            .unwrap_or(&[]);
        match name {
            "universe" => {
                self.d.universe = std::str::from_utf8(text).ok().and_then(|t| t.parse().ok());
            }
            "state" => self.d.sampling = text == b"sampling",
            _ => {}
        }
        debug_assert!(start < self.d.props.len());
    }

    fn wants_frames(&self) -> bool {
        self.frames
    }

    fn frame(&mut self, direction: Direction, bytes: &[u8]) {
        if !self.frames {
            return;
        }
        let (buf, has) = match direction {
            Direction::Input => (&mut self.d.input, &mut self.d.has_input),
            Direction::Output => (&mut self.d.output, &mut self.d.has_output),
        };
        buf.clear();
        buf.extend_from_slice(bytes);
        *has = true;
    }

    fn source(&mut self, s: &Source<'_>) {
        self.id.clear();
        let _ = write!(self.id, "{}", s.id);
        let fps = s
            .packets
            .map(|p| self.rates.fps(self.now, self.instance, self.id, p));
        let out = &mut self.d.sources;
        json::key(out, "cid");
        json::str(out, self.id);
        out.push(b',');
        json::key(out, "name");
        json::str(out, s.name);
        out.push(b',');
        json::key(out, "state");
        json::str(out, s.state.as_str());
        out.push(b',');
        json::key(out, "priority");
        opt_uint(out, s.priority.map(u64::from));
        out.push(b',');
        json::key(out, "per_address_priority");
        json::bool(out, s.per_address_priority);
        out.push(b',');
        json::key(out, "fps");
        match fps {
            Some(f) => json::float3(out, (f * 10.0).round() / 10.0),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b',');
        for (k, v) in [
            ("packets", s.packets),
            ("sequence_errors", s.sequence_errors),
            ("missed", s.missed),
        ] {
            json::key(out, k);
            opt_uint(out, v);
            out.push(b',');
        }
        json::key(out, "losses");
        json::uint(out, s.losses);
        out.push(b',');
        json::key(out, "last_seen");
        match s.last_seen {
            Some(t) => json::float3(out, self.now.saturating_duration_since(t).as_secs_f64()),
            None => out.extend_from_slice(b"null"),
        }
        self.d.source_ends.push(out.len());

        let who = format!("'{}' ({})", s.name, self.id);
        if s.state == SourceState::Active {
            self.d
                .active
                .push((s.priority, s.per_address_priority, who.clone()));
        }
        // The diagnoses `watch` gives per source.
        let notes = &mut self.d.notes;
        if let Some(n) = s.sequence_errors.filter(|&n| n > 0) {
            json::str(notes, &format!("{who}: {n} packets out of sequence"));
            notes.push(b',');
        }
        if let Some(n) = s.missed.filter(|&n| n > 0) {
            json::str(notes, &format!("{who}: {n} packets missed (sequence gaps)"));
            notes.push(b',');
        }
        if s.losses > 0 {
            let times = if s.losses == 1 { "" } else { "s" };
            json::str(notes, &format!("{who}: lost {} time{times}", s.losses));
            notes.push(b',');
        }
    }
}

fn opt_uint(out: &mut Vec<u8>, v: Option<u64>) {
    match v {
        Some(n) => json::uint(out, n),
        None => out.extend_from_slice(b"null"),
    }
}

/// What the payloads share between calls: the start time, source rates, scratch buffers.
#[derive(Debug)]
pub struct Api {
    started: Instant,
    rates: Rates,
    id: String,
    described: Described,
    /// Per generation: which channels are mapping targets (a lane's value is then its output
    /// frame's byte), as a bitset built once when first needed.
    targets: Option<(u64, Vec<u64>)>,
}

impl Api {
    pub fn new(started: Instant) -> Api {
        Api {
            started,
            rates: Rates::default(),
            id: String::new(),
            described: Described::default(),
            targets: None,
        }
    }

    /// Asks instance `id`'s backend about it into `self.described`.
    fn describe(&mut self, view: &CoreView<'_>, now: Instant, id: InstanceId, frames: bool) {
        self.described.clear();
        let mut sink = Sink {
            d: &mut self.described,
            rates: &mut self.rates,
            id: &mut self.id,
            instance: id,
            now,
            frames,
        };
        view.monitor(id, &mut sink);
        json::trim_comma(&mut self.described.props);
        json::trim_comma(&mut self.described.notes);
    }

    /// `"t":..,"generation":..,` after an opening brace.
    fn head(&self, view: &CoreView<'_>, now: Instant, out: &mut Vec<u8>) {
        out.push(b'{');
        json::key(out, "t");
        json::float3(
            out,
            now.saturating_duration_since(self.started).as_secs_f64(),
        );
        out.push(b',');
        json::key(out, "generation");
        json::uint(out, view.generation());
        out.push(b',');
    }

    /// `{"t","generation","total","offset","instances":[{"name","backend","running",
    /// "properties":{..},"sources":[..]}]}`: instances `offset..offset + limit`.
    pub fn instances(
        &mut self,
        view: &CoreView<'_>,
        now: Instant,
        offset: usize,
        limit: usize,
        out: &mut Vec<u8>,
    ) {
        let total = view.instance_count();
        self.head(view, now, out);
        json::key(out, "total");
        json::uint(out, total as u64);
        out.push(b',');
        json::key(out, "offset");
        json::uint(out, offset as u64);
        out.extend_from_slice(b",\"instances\":[");
        let end = total.min(offset.saturating_add(limit.min(INSTANCE_PAGE)));
        for i in offset..end {
            let id = InstanceId(i as u32);
            if view.instance_name(id).is_none() {
                continue; // removed by a reload
            }
            self.describe(view, now, id, false);
            out.push(b'{');
            json::key(out, "name");
            json::str(out, view.instance_name(id).unwrap_or("?"));
            out.push(b',');
            json::key(out, "backend");
            json::str(out, view.instance_backend(id).unwrap_or("?"));
            out.push(b',');
            json::key(out, "running");
            json::bool(out, view.instance_started(id));
            out.extend_from_slice(b",\"properties\":{");
            out.extend_from_slice(&self.described.props);
            out.extend_from_slice(b"},\"sources\":");
            self.described.write_sources(out);
            out.extend_from_slice(b"},");
        }
        json::trim_comma(out);
        out.extend_from_slice(b"]}");
    }

    /// `{"t","generation","instance","universe","sources","top_priority",
    /// "sources_at_top_priority","sampling","warnings":[..],"levels":[..],"output":[..],
    /// "source_list":[..]}`: one instance as watch's `universe` line, with `levels` what it
    /// receives (merged) and `output` what it sends (`null` when it has none). `None` for an
    /// unknown instance.
    pub fn universe(
        &mut self,
        view: &CoreView<'_>,
        now: Instant,
        id: InstanceId,
        out: &mut Vec<u8>,
    ) -> Option<()> {
        let name = view.instance_name(id)?;
        self.describe(view, now, id, true);
        let d = &self.described;
        let (top, at_top) = d.top();
        self.head(view, now, out);
        json::key(out, "instance");
        json::str(out, name);
        out.push(b',');
        json::key(out, "universe");
        opt_uint(out, d.universe.map(u64::from));
        out.push(b',');
        json::key(out, "sources");
        json::uint(out, d.active.len() as u64);
        out.push(b',');
        json::key(out, "top_priority");
        opt_uint(out, top.map(u64::from));
        out.push(b',');
        json::key(out, "sources_at_top_priority");
        json::uint(out, at_top as u64);
        out.push(b',');
        json::key(out, "sampling");
        json::bool(out, d.sampling);
        out.extend_from_slice(b",\"warnings\":[");
        if at_top > 1
            && let Some(p) = top
        {
            let at: Vec<&(Option<u8>, bool, String)> =
                d.active.iter().filter(|a| a.0 == Some(p)).collect();
            let pap = if at.iter().any(|a| a.1) {
                " (per-address priorities decide slot by slot)"
            } else {
                ""
            };
            let names: Vec<&str> = at.iter().map(|a| a.2.as_str()).collect();
            json::str(
                out,
                &format!(
                    "{at_top} sources at equal priority {p} are merged HTP{pap}: {}",
                    names.join(", ")
                ),
            );
            if !d.notes.is_empty() {
                out.push(b',');
            }
        }
        out.extend_from_slice(&d.notes);
        out.extend_from_slice(b"],\"levels\":");
        if d.has_input {
            json::bytes(out, &d.input);
        } else {
            out.extend_from_slice(b"null");
        }
        out.extend_from_slice(b",\"output\":");
        if d.has_output {
            json::bytes(out, &d.output);
        } else {
            out.extend_from_slice(b"null");
        }
        out.extend_from_slice(b",\"source_list\":");
        d.write_sources(out);
        out.push(b'}');
        Some(())
    }

    /// `{"t","generation","sources":[..]}`: every source of every instance (at most
    /// [`SOURCE_LIMIT`]), each as watch's `stats` line plus `instance` and `universe`.
    pub fn sources(&mut self, view: &CoreView<'_>, now: Instant, out: &mut Vec<u8>) {
        self.head(view, now, out);
        out.extend_from_slice(b"\"sources\":[");
        let mut n = 0;
        for i in 0..view.instance_count() {
            if n >= SOURCE_LIMIT {
                break;
            }
            let id = InstanceId(i as u32);
            self.describe(view, now, id, false);
            let d = &self.described;
            let mut start = 0;
            for &end in &d.source_ends {
                if n >= SOURCE_LIMIT {
                    break;
                }
                out.push(b'{');
                json::key(out, "instance");
                json::str(out, view.instance_name(id).unwrap_or("?"));
                out.push(b',');
                json::key(out, "universe");
                opt_uint(out, d.universe.map(u64::from));
                out.push(b',');
                out.extend_from_slice(d.sources.get(start..end).unwrap_or(&[]));
                out.extend_from_slice(b"},");
                start = end;
                n += 1;
            }
        }
        json::trim_comma(out);
        out.extend_from_slice(b"]}");
    }

    /// `{"t","generation","total","offset","routing":{..},"groups":[..]}`: counter groups as
    /// `--stats-format json` writes them (without its `"stats"` member), and the router's totals.
    pub fn counters(
        &self,
        view: &CoreView<'_>,
        now: Instant,
        offset: usize,
        limit: usize,
        out: &mut Vec<u8>,
    ) {
        let groups = view.stats();
        self.head(view, now, out);
        json::key(out, "total");
        json::uint(out, groups.len() as u64);
        out.push(b',');
        json::key(out, "offset");
        json::uint(out, offset as u64);
        out.push(b',');
        let r = view.counters();
        out.extend_from_slice(b"\"routing\":{");
        for (k, v) in [
            ("events", r.events),
            ("unrouted", r.unrouted),
            ("deliveries", r.deliveries),
            ("frames", r.frames),
            ("frame_copies", r.frame_copies),
            ("dropped_by_round_limit", r.dropped_by_round_limit),
            ("turns", view.turns()),
        ] {
            json::key(out, k);
            json::uint(out, v);
            out.push(b',');
        }
        json::trim_comma(out);
        out.extend_from_slice(b"},\"groups\":[");
        for g in groups.iter().skip(offset).take(limit.min(COUNTER_PAGE)) {
            out.push(b'{');
            json::key(out, "backend");
            json::str(out, g.backend);
            out.push(b',');
            json::key(out, if g.is_instance { "instance" } else { "scope" });
            json::str(out, &g.scope);
            out.extend_from_slice(b",\"counters\":{");
            for (name, value) in &g.counters {
                json::str(out, name);
                out.push(b':');
                json::uint(out, *value);
                out.push(b',');
            }
            json::trim_comma(out);
            out.extend_from_slice(b"}},");
        }
        json::trim_comma(out);
        out.extend_from_slice(b"]}");
    }

    /// `{"next":SEQ,"lines":[{"seq","unix_ms","level","target","message"}]}`: the kept warnings
    /// and errors numbered `since` or later.
    pub fn warnings(&self, log: &RecentLog, since: u64, out: &mut Vec<u8>) {
        out.push(b'{');
        json::key(out, "next");
        json::uint(out, log.next_seq());
        out.extend_from_slice(b",\"lines\":[");
        log.each_since(since, |l| {
            out.push(b'{');
            json::key(out, "seq");
            json::uint(out, l.seq);
            out.push(b',');
            json::key(out, "unix_ms");
            json::uint(out, l.unix_ms);
            out.push(b',');
            json::key(out, "level");
            json::str(out, l.level.as_str());
            out.push(b',');
            json::key(out, "target");
            json::str(out, &l.target);
            out.push(b',');
            json::key(out, "message");
            json::str(out, &l.message);
            out.extend_from_slice(b"},");
        });
        json::trim_comma(out);
        out.extend_from_slice(b"]}");
    }

    /// `{"generation","total","offset","edges":[{"source":CHANNEL,"target":CHANNEL}]}`: the
    /// mapping edges `offset..` in creation order (the data of `--dump`).
    pub fn graph(&self, view: &CoreView<'_>, offset: usize, limit: usize, out: &mut Vec<u8>) {
        let edges = view.edges();
        page_head(out, view.generation(), edges.len(), offset);
        out.extend_from_slice(b"\"edges\":[");
        for &(s, t) in edges.iter().skip(offset).take(limit.min(EDGE_PAGE)) {
            out.extend_from_slice(b"{\"source\":");
            channel(view, s, out);
            out.extend_from_slice(b",\"target\":");
            channel(view, t, out);
            out.extend_from_slice(b"},");
        }
        json::trim_comma(out);
        out.extend_from_slice(b"]}");
    }

    /// `{"generation","total","offset","channels":[CHANNEL]}`: channels `offset..`.
    pub fn channels(&self, view: &CoreView<'_>, offset: usize, limit: usize, out: &mut Vec<u8>) {
        let total = view.channel_count();
        page_head(out, view.generation(), total, offset);
        out.extend_from_slice(b"\"channels\":[");
        let end = total.min(offset.saturating_add(limit.min(CHANNEL_PAGE)));
        for c in offset..end {
            channel(view, ChannelId(c as u32), out);
            out.push(b',');
        }
        json::trim_comma(out);
        out.extend_from_slice(b"]}");
    }

    /// `{"t","generation","values":{"ID":{"raw","bits","level"}|null}}`: live values of
    /// `channels` (the last value routed, else a lane's byte of its frame); `frames` caches
    /// instance frames within one snapshot.
    pub fn values(
        &mut self,
        view: &CoreView<'_>,
        now: Instant,
        channels: &[ChannelId],
        frames: &mut FrameCache,
        out: &mut Vec<u8>,
    ) {
        self.head(view, now, out);
        out.extend_from_slice(b"\"values\":{");
        for &c in channels {
            out.push(b'"');
            json::uint(out, c.0.into());
            out.extend_from_slice(b"\":");
            match self.value(view, now, c, frames) {
                Some((raw, bits, level)) => {
                    out.push(b'{');
                    if bits > 0 {
                        json::key(out, "raw");
                        json::uint(out, raw);
                        out.push(b',');
                        json::key(out, "bits");
                        json::uint(out, bits.into());
                        out.push(b',');
                    }
                    json::key(out, "level");
                    json::float3(out, level);
                    out.push(b'}');
                }
                None => out.extend_from_slice(b"null"),
            }
            out.push(b',');
        }
        json::trim_comma(out);
        out.extend_from_slice(b"}}");
    }

    /// A channel's live value as (raw, bits, level): the last value routed on it; else, for a
    /// lane copied as part of a frame, its byte of its instance's frame (the output frame when
    /// the channel is a mapping target, else the input frame).
    fn value(
        &mut self,
        view: &CoreView<'_>,
        now: Instant,
        c: ChannelId,
        frames: &mut FrameCache,
    ) -> Option<(u64, u8, f64)> {
        if let Some(v) = view.value(c) {
            return Some(match v.raw() {
                Some((raw, bits)) => (raw, bits, v.normalised()),
                None => (0, 0, v.normalised()),
            });
        }
        let lane = usize::from(view.channel_lane(c)?);
        let instance = view.channel_instance(c)?;
        let target = self.is_target(view, c);
        let i = match frames.entries.iter().position(|e| e.instance == instance) {
            Some(i) => i,
            None => {
                self.describe(view, now, instance, true);
                let d = &self.described;
                frames.entries.push(CachedFrames {
                    instance,
                    input: d.has_input.then(|| d.input.clone()),
                    output: d.has_output.then(|| d.output.clone()),
                });
                frames.entries.len() - 1
            }
        };
        let e = frames.entries.get(i)?;
        let frame = if target { &e.output } else { &e.input };
        let byte = *frame.as_ref()?.get(lane)?;
        Some((byte.into(), 8, f64::from(byte) / 255.0))
    }

    fn is_target(&mut self, view: &CoreView<'_>, c: ChannelId) -> bool {
        let generation = view.generation();
        if self.targets.as_ref().is_none_or(|(g, _)| *g != generation) {
            let mut bits = vec![0u64; view.channel_count().div_ceil(64)];
            for &(_, t) in view.edges() {
                if let Some(w) = bits.get_mut(t.0 as usize / 64) {
                    *w |= 1 << (t.0 % 64);
                }
            }
            self.targets = Some((generation, bits));
        }
        self.targets
            .as_ref()
            .and_then(|(_, bits)| bits.get(c.0 as usize / 64))
            .is_some_and(|w| w & (1 << (c.0 % 64)) != 0)
    }
}

fn page_head(out: &mut Vec<u8>, generation: u64, total: usize, offset: usize) {
    out.push(b'{');
    json::key(out, "generation");
    json::uint(out, generation);
    out.push(b',');
    json::key(out, "total");
    json::uint(out, total as u64);
    out.push(b',');
    json::key(out, "offset");
    json::uint(out, offset as u64);
    out.push(b',');
}

/// `{"id":N,"label":"inst.chan","instance":"inst"}`.
fn channel(view: &CoreView<'_>, c: ChannelId, out: &mut Vec<u8>) {
    out.push(b'{');
    json::key(out, "id");
    json::uint(out, c.0.into());
    out.push(b',');
    json::key(out, "label");
    json::display(out, &Label(view, c));
    out.push(b',');
    json::key(out, "instance");
    match view.channel_instance(c).and_then(|i| view.instance_name(i)) {
        Some(name) => json::str(out, name),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

struct Label<'a, 'b>(&'a CoreView<'b>, ChannelId);

impl std::fmt::Display for Label<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.write_channel_label(self.1, f)
    }
}

/// Instance frames fetched once per snapshot for the values of lanes.
#[derive(Debug, Default)]
pub struct FrameCache {
    entries: Vec<CachedFrames>,
}

#[derive(Debug)]
struct CachedFrames {
    instance: InstanceId,
    input: Option<Vec<u8>>,
    output: Option<Vec<u8>>,
}

impl FrameCache {
    /// Forgets every frame (a new snapshot begins).
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}
