//! Figures of one phase, as human text and JSON.

use std::fmt::Write as _;

use crate::session::{RecvCounts, Sample, SendCounts};

/// Everything measured in one phase.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseReport {
    /// Phase name (`warmup`, `measure`, `step3`, ...).
    pub name: String,
    /// Universes.
    pub universes: u16,
    /// Requested frames/s per universe.
    pub rate_hz: f64,
    /// Phase length, s.
    pub seconds: f64,
    /// Frames sent.
    pub sent: u64,
    /// Frames the kernel refused at send.
    pub send_failed: u64,
    /// Frames received complete and verified (first copy).
    pub received: u64,
    /// sent − received − torn − reordered (never negative).
    pub lost: u64,
    /// Torn frames.
    pub torn: u64,
    /// Repeated copies.
    pub duplicates: u64,
    /// Late copies (older than one already received).
    pub reordered: u64,
    /// Sent frames/s (all universes).
    pub sent_fps: f64,
    /// Received frames/s (all universes).
    pub recv_fps: f64,
    /// lost / sent, %.
    pub loss_pct: f64,
    /// Added latency, µs.
    pub lat_p50_us: f64,
    /// See `lat_p50_us`.
    pub lat_p99_us: f64,
    /// See `lat_p50_us`.
    pub lat_p999_us: f64,
    /// See `lat_p50_us`.
    pub lat_max_us: f64,
    /// See `lat_p50_us`.
    pub lat_mean_us: f64,
    /// Target CPU over the phase, % of one core.
    pub target_cpu_pct: Option<f64>,
    /// Target RSS at phase end, kB.
    pub target_rss_kb: Option<u64>,
    /// Target peak RSS so far, kB.
    pub target_hwm_kb: Option<u64>,
    /// Target context switches per second (wake-ups).
    pub target_wakeups_per_s: Option<f64>,
    /// Datagrams the kernel dropped at the target's full receive buffers during the phase.
    pub target_socket_drops: u64,
    /// The tool's CPU over the phase, % of one core (sender + receiver).
    pub tool_cpu_pct: Option<f64>,
    /// Datagrams dropped at the tool's own sockets during the phase (should be 0).
    pub tool_socket_drops: u64,
    /// Worst sender wake-up lateness, µs.
    pub max_send_late_us: f64,
    /// Ticks the sender skipped because it fell behind (the tool, not the target, was the limit).
    pub skipped_ticks: u64,
    /// From phase start to the first frame of this phase received, ms: after an overload, how long
    /// the target takes to deliver fresh data again (a backlog shows here).
    pub first_frame_ms: Option<f64>,
}

fn pct(cpu_before: u64, cpu_after: u64, wall_ns: u64) -> f64 {
    if wall_ns == 0 {
        return 0.0;
    }
    cpu_after.saturating_sub(cpu_before) as f64 * 100.0 / wall_ns as f64
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl PhaseReport {
    /// Combines send counts, receive counts and the samples taken at phase start and end.
    pub fn new(
        name: &str,
        universes: u16,
        rate_hz: f64,
        send: &SendCounts,
        recv: &RecvCounts,
        before: &Sample,
        after: &Sample,
    ) -> Self {
        let wall = after.at_ns.saturating_sub(before.at_ns);
        let secs = wall as f64 / 1e9;
        let lost = send
            .sent
            .saturating_sub(recv.received + recv.torn + recv.reordered);
        let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let (target_cpu_pct, target_wakeups_per_s) = match (before.target, after.target) {
            (Some(b), Some(a)) => (
                Some(pct(b.cpu_ns, a.cpu_ns, wall)),
                Some(per_s(a.switches.saturating_sub(b.switches))),
            ),
            _ => (None, None),
        };
        let tool_cpu_pct = match (before.tool, after.tool) {
            (Some(b), Some(a)) => Some(pct(b.cpu_ns, a.cpu_ns, wall)),
            _ => None,
        };
        let l = &recv.latency;
        Self {
            name: name.to_string(),
            universes,
            rate_hz,
            seconds: secs,
            sent: send.sent,
            send_failed: send.failed,
            received: recv.received,
            lost,
            torn: recv.torn,
            duplicates: recv.duplicates,
            reordered: recv.reordered,
            sent_fps: per_s(send.sent),
            recv_fps: per_s(recv.received),
            loss_pct: if send.sent > 0 {
                lost as f64 * 100.0 / send.sent as f64
            } else {
                0.0
            },
            lat_p50_us: us(l.percentile(50.0)),
            lat_p99_us: us(l.percentile(99.0)),
            lat_p999_us: us(l.percentile(99.9)),
            lat_max_us: us(l.max()),
            lat_mean_us: us(l.mean()),
            target_cpu_pct,
            target_rss_kb: after.target.map(|t| t.rss_kb),
            target_hwm_kb: after.target.map(|t| t.hwm_kb),
            target_wakeups_per_s,
            target_socket_drops: after
                .target_udp
                .drops
                .saturating_sub(before.target_udp.drops),
            tool_cpu_pct,
            tool_socket_drops: after.tool_udp.drops.saturating_sub(before.tool_udp.drops),
            max_send_late_us: us(send.max_late_ns),
            skipped_ticks: send.skipped,
            first_frame_ms: recv
                .first_ns
                .map(|t| t.saturating_sub(before.at_ns) as f64 / 1e6),
        }
    }

    /// Passes the ceiling criterion: < 0.1 % loss, no torn frame, nothing refused at send.
    pub fn clean(&self) -> bool {
        self.loss_pct < 0.1 && self.torn == 0 && self.send_failed == 0 && self.sent > 0
    }

    /// A few lines for a human.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "[{}] {} universes x {:.1} fps for {:.2} s: sent {} ({:.0}/s), received {} ({:.0}/s), lost {} ({:.3} %), torn {}, duplicates {}, reordered {}, send failures {}",
            self.name,
            self.universes,
            self.rate_hz,
            self.seconds,
            self.sent,
            self.sent_fps,
            self.received,
            self.recv_fps,
            self.lost,
            self.loss_pct,
            self.torn,
            self.duplicates,
            self.reordered,
            self.send_failed
        );
        let _ = writeln!(
            s,
            "  added latency us: p50 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  mean {:.1}",
            self.lat_p50_us, self.lat_p99_us, self.lat_p999_us, self.lat_max_us, self.lat_mean_us
        );
        if let Some(cpu) = self.target_cpu_pct {
            let _ = writeln!(
                s,
                "  target: CPU {:.2} % of a core, RSS {} kB (peak {} kB), {:.0} wake-ups/s, socket drops {}",
                cpu,
                self.target_rss_kb.unwrap_or(0),
                self.target_hwm_kb.unwrap_or(0),
                self.target_wakeups_per_s.unwrap_or(0.0),
                self.target_socket_drops
            );
        }
        let _ = writeln!(
            s,
            "  tool: CPU {:.1} % of a core, socket drops {}, worst send wake-up {:.0} us late, {} ticks skipped; first frame of the phase after {}",
            self.tool_cpu_pct.unwrap_or(0.0),
            self.tool_socket_drops,
            self.max_send_late_us,
            self.skipped_ticks,
            self.first_frame_ms
                .map_or("-".to_string(), |v| format!("{v:.2} ms"))
        );
        s
    }

    /// One JSON object.
    pub fn to_json(&self) -> String {
        let mut o = Json::default();
        o.str("name", &self.name);
        o.num("universes", f64::from(self.universes));
        o.num("rate_hz", self.rate_hz);
        o.num("seconds", self.seconds);
        o.int("sent", self.sent);
        o.int("send_failed", self.send_failed);
        o.int("received", self.received);
        o.int("lost", self.lost);
        o.int("torn", self.torn);
        o.int("duplicates", self.duplicates);
        o.int("reordered", self.reordered);
        o.num("sent_fps", self.sent_fps);
        o.num("recv_fps", self.recv_fps);
        o.num("loss_pct", self.loss_pct);
        o.num("lat_p50_us", self.lat_p50_us);
        o.num("lat_p99_us", self.lat_p99_us);
        o.num("lat_p999_us", self.lat_p999_us);
        o.num("lat_max_us", self.lat_max_us);
        o.num("lat_mean_us", self.lat_mean_us);
        o.opt("target_cpu_pct", self.target_cpu_pct);
        o.opt("target_rss_kb", self.target_rss_kb.map(|v| v as f64));
        o.opt("target_hwm_kb", self.target_hwm_kb.map(|v| v as f64));
        o.opt("target_wakeups_per_s", self.target_wakeups_per_s);
        o.int("target_socket_drops", self.target_socket_drops);
        o.opt("tool_cpu_pct", self.tool_cpu_pct);
        o.int("tool_socket_drops", self.tool_socket_drops);
        o.num("max_send_late_us", self.max_send_late_us);
        o.int("skipped_ticks", self.skipped_ticks);
        o.opt("first_frame_ms", self.first_frame_ms);
        o.finish()
    }
}

/// A flat JSON object writer (the reports need no more).
#[derive(Default)]
pub struct Json {
    out: String,
}

impl Json {
    fn key(&mut self, k: &str) {
        self.out.push(if self.out.is_empty() { '{' } else { ',' });
        escape(&mut self.out, k);
        self.out.push(':');
    }

    /// A string field.
    pub fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        escape(&mut self.out, v);
    }

    /// A number field (non-finite numbers become null).
    pub fn num(&mut self, k: &str, v: f64) {
        self.key(k);
        if v.is_finite() {
            let _ = write!(self.out, "{}", (v * 1000.0).round() / 1000.0);
        } else {
            self.out.push_str("null");
        }
    }

    /// An integer field.
    pub fn int(&mut self, k: &str, v: u64) {
        self.key(k);
        let _ = write!(self.out, "{v}");
    }

    /// A number or null.
    pub fn opt(&mut self, k: &str, v: Option<f64>) {
        match v {
            Some(v) => self.num(k, v),
            None => {
                self.key(k);
                self.out.push_str("null");
            }
        }
    }

    /// A field whose value is already JSON.
    pub fn raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.out.push_str(v);
    }

    /// The object text.
    pub fn finish(mut self) -> String {
        if self.out.is_empty() {
            self.out.push('{');
        }
        self.out.push('}');
        self.out
    }
}

fn escape(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON array of already-encoded values.
pub fn array<I: IntoIterator<Item = String>>(items: I) -> String {
    let v: Vec<String> = items.into_iter().collect();
    format!("[{}]", v.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::Histogram;
    use crate::procfs::ProcSample;

    #[test]
    fn loss_and_rates_from_counts() {
        let send = SendCounts {
            sent: 1000,
            ..SendCounts::default()
        };
        let mut latency = Histogram::new();
        for v in [50_000, 70_000, 160_000] {
            latency.record(v);
        }
        let recv = RecvCounts {
            received: 990,
            torn: 3,
            reordered: 2,
            latency,
            ..RecvCounts::default()
        };
        let before = Sample {
            at_ns: 0,
            target: Some(ProcSample {
                cpu_ns: 0,
                ..ProcSample::default()
            }),
            ..Sample::default()
        };
        let after = Sample {
            at_ns: 2_000_000_000,
            target: Some(ProcSample {
                cpu_ns: 500_000_000,
                rss_kb: 4000,
                ..ProcSample::default()
            }),
            ..Sample::default()
        };
        let r = PhaseReport::new("m", 10, 50.0, &send, &recv, &before, &after);
        assert_eq!(r.lost, 5);
        assert!((r.loss_pct - 0.5).abs() < 1e-9);
        assert!((r.sent_fps - 500.0).abs() < 1e-9);
        assert!((r.recv_fps - 495.0).abs() < 1e-9);
        assert_eq!(r.target_cpu_pct, Some(25.0));
        assert_eq!(r.target_rss_kb, Some(4000));
        assert!((r.lat_p50_us - 70.0).abs() < 0.6, "{}", r.lat_p50_us);
        assert!((r.lat_max_us - 160.0).abs() < 1e-9);
        assert!(!r.clean());
        let j = r.to_json();
        assert!(j.starts_with("{\"name\":\"m\",\"universes\":10,"), "{j}");
        assert!(j.contains("\"lost\":5,"), "{j}");
        assert!(j.contains("\"target_cpu_pct\":25,"), "{j}");
        assert!(j.contains("\"tool_cpu_pct\":null"), "{j}");
    }

    #[test]
    fn json_escapes() {
        let mut o = Json::default();
        o.str("a\"b", "x\\y\n");
        assert_eq!(o.finish(), "{\"a\\\"b\":\"x\\\\y\\u000a\"}");
        assert_eq!(Json::default().finish(), "{}");
    }
}
