//! Counters observable from outside the process: backends list named totals, the core collects
//! them into per-scope groups and hands them to a reporter when the stats interval elapses or on
//! SIGUSR1.
//!
//! Why a pull model: backends already keep plain `u64` totals on their hot paths; copying them
//! out every few seconds costs nothing per packet, and the core needs no knowledge of protocols.
//! Why the core decides *when* and the caller decides *how*: the loop owns timers and signals,
//! while the output format (log line, JSON) belongs to the binary.

use std::borrow::Cow;

use crate::backend::InstanceId;

/// What a group of counters belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatScope {
    /// One instance (the core names it).
    Instance(InstanceId),
    /// Something of the backend shared by instances (e.g. `bind 0` of sACN).
    Backend(Cow<'static, str>),
}

/// One named total since start. Names are stable snake_case (`frames_in`,
/// `malformed.bad_preamble`) so tests and scripts can rely on them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    /// What it counts for.
    pub scope: StatScope,
    /// Its stable name.
    pub name: Cow<'static, str>,
    /// The total since start.
    pub value: u64,
}

impl Stat {
    /// A counter of instance `id`.
    pub fn instance(id: InstanceId, name: impl Into<Cow<'static, str>>, value: u64) -> Self {
        Stat {
            scope: StatScope::Instance(id),
            name: name.into(),
            value,
        }
    }

    /// A counter of a scope the backend names (e.g. `bind 0`).
    pub fn backend(
        scope: impl Into<Cow<'static, str>>,
        name: impl Into<Cow<'static, str>>,
        value: u64,
    ) -> Self {
        Stat {
            scope: StatScope::Backend(scope.into()),
            name: name.into(),
            value,
        }
    }
}

/// The counters of one scope, as the core reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatGroup {
    /// The backend's name.
    pub backend: &'static str,
    /// Instance name, or the backend's own scope label.
    pub scope: String,
    /// Whether `scope` names an instance.
    pub is_instance: bool,
    /// (name, total) in the order the backend listed them.
    pub counters: Vec<(Cow<'static, str>, u64)>,
}

/// Why a report is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsTrigger {
    /// The `--stats N` interval elapsed.
    Interval,
    /// SIGUSR1 (or [`crate::Core::report_stats`]).
    Signal,
    /// The loop ended (final totals).
    Exit,
}

impl StatsTrigger {
    /// The name used in reports (`interval`, `signal`, `exit`).
    pub fn as_str(self) -> &'static str {
        match self {
            StatsTrigger::Interval => "interval",
            StatsTrigger::Signal => "signal",
            StatsTrigger::Exit => "exit",
        }
    }
}

/// Receives every report; installed with [`crate::Core::with_stats_reporter`].
pub type StatsReporter = Box<dyn FnMut(StatsTrigger, &[StatGroup])>;

/// Every started backend's counters, grouped per instance or backend scope.
pub(crate) fn collect(
    backends: &[Box<dyn crate::Backend>],
    started: &[bool],
    instance_name: impl Fn(InstanceId) -> String,
) -> Vec<StatGroup> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for (b, &started) in backends.iter().zip(started) {
        if !started {
            continue;
        }
        buf.clear();
        b.stats(&mut buf);
        group(b.name(), std::mem::take(&mut buf), &instance_name, &mut out);
    }
    out
}

/// Groups stats by scope, keeping the order in which scopes first appear.
pub(crate) fn group(
    backend: &'static str,
    stats: Vec<Stat>,
    instance_name: impl Fn(InstanceId) -> String,
    out: &mut Vec<StatGroup>,
) {
    let first = out.len();
    for s in stats {
        let (scope, is_instance) = match &s.scope {
            StatScope::Instance(id) => (instance_name(*id), true),
            StatScope::Backend(label) => (label.to_string(), false),
        };
        // Backends list a scope's counters together, so the last group is nearly always the
        // one: without this shortcut 1,000 instances cost a million scope comparisons.
        let same = |g: &StatGroup| g.is_instance == is_instance && g.scope == scope;
        let found = match out[first..].last_mut() {
            Some(last) if same(last) => Some(last),
            _ => out[first..].iter_mut().find(|g| same(g)),
        };
        match found {
            Some(g) => g.counters.push((s.name, s.value)),
            None => out.push(StatGroup {
                backend,
                scope,
                is_instance,
                counters: vec![(s.name, s.value)],
            }),
        }
    }
}

/// `name=value` pairs of one group; counters that are zero and not in `always` are left out so
/// a line stays short (drop reasons are many and usually zero).
pub fn format_text(g: &StatGroup, always: &[&str]) -> String {
    let mut s = String::new();
    for (name, value) in &g.counters {
        if *value == 0 && !always.contains(&name.as_ref()) {
            continue;
        }
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(name);
        s.push('=');
        s.push_str(&value.to_string());
    }
    s
}

/// Every counter of a group as `name=value`, zeros included (the SIGUSR1 dump).
pub fn format_text_full(g: &StatGroup) -> String {
    let mut s = String::new();
    for (name, value) in &g.counters {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(name);
        s.push('=');
        s.push_str(&value.to_string());
    }
    s
}

/// One JSON object for a group: `{"stats":"signal","backend":"sacn","instance":"in",
/// "counters":{"frames_in":3,...}}` (`"scope"` instead of `"instance"` for backend scopes).
/// Every counter is listed, zero or not, so a reader can tell "zero" from "unknown".
pub fn format_json(trigger: StatsTrigger, g: &StatGroup) -> String {
    let mut s = String::with_capacity(64 + g.counters.len() * 24);
    s.push_str("{\"stats\":\"");
    s.push_str(trigger.as_str());
    s.push_str("\",\"backend\":");
    json_str(&mut s, g.backend);
    s.push_str(if g.is_instance {
        ",\"instance\":"
    } else {
        ",\"scope\":"
    });
    json_str(&mut s, &g.scope);
    s.push_str(",\"counters\":{");
    for (i, (name, value)) in g.counters.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        json_str(&mut s, name);
        s.push(':');
        s.push_str(&value.to_string());
    }
    s.push_str("}}");
    s
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_group_by_scope_in_first_seen_order() {
        let stats = vec![
            Stat::instance(InstanceId(1), "frames_in", 3),
            Stat::backend("bind 0", "datagrams", 9),
            Stat::instance(InstanceId(1), "frames_out", 4),
            Stat::instance(InstanceId(0), "frames_in", 1),
        ];
        let mut out = Vec::new();
        group("sacn", stats, |id| format!("i{}", id.0), &mut out);
        let scopes: Vec<_> = out.iter().map(|g| g.scope.as_str()).collect();
        assert_eq!(scopes, ["i1", "bind 0", "i0"]);
        assert_eq!(out[0].counters.len(), 2);
        assert!(!out[1].is_instance);
    }

    #[test]
    fn text_leaves_out_zeros_except_the_always_listed() {
        let g = StatGroup {
            backend: "sacn",
            scope: "in".into(),
            is_instance: true,
            counters: vec![("frames_in".into(), 0), ("a".into(), 0), ("b".into(), 2)],
        };
        assert_eq!(format_text(&g, &["frames_in"]), "frames_in=0 b=2");
        assert_eq!(format_text_full(&g), "frames_in=0 a=0 b=2");
    }

    #[test]
    fn json_escapes_names_and_lists_every_counter() {
        let g = StatGroup {
            backend: "sacn",
            scope: "a\"b\\c\n".into(),
            is_instance: true,
            counters: vec![("x".into(), 0), ("y".into(), 18446744073709551615)],
        };
        assert_eq!(
            format_json(StatsTrigger::Signal, &g),
            r#"{"stats":"signal","backend":"sacn","instance":"a\"b\\c\u000a","counters":{"x":0,"y":18446744073709551615}}"#
        );
    }
}
