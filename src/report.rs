//! What `--check` and `--dump` print: the expanded mapping list and the routing graph.

use std::collections::HashMap;
use std::fmt::Write;

use patchbay_config::{Sources, Span};
use patchbay_core::{ChannelId, Core};

use crate::setup::{EdgeRecord, edge_stats};

/// `SOURCE -> TARGET [| TRANSFORMS]    (FILE:LINE)`, one line per unique edge in creation order.
pub fn mapping_list(
    core: &Core,
    sources: &Sources,
    edges: &[EdgeRecord],
    lines: &[Span],
) -> String {
    // `edges` lists the core's edges in the same order, so position i is edge i.
    let rows: Vec<(String, String)> = edges
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let span = lines.get(e.line as usize).copied()?;
            let (line, _) = sources.line_col(span);
            let mut arrow = format!(
                "{} -> {}",
                core.channel_label(e.source),
                core.channel_label(e.target)
            );
            if let Some(chain) = core.routes().chain_of(i) {
                let _ = write!(arrow, " | {chain}");
            }
            Some((
                arrow,
                format!("({}:{line})", sources.path(span.file).display()),
            ))
        })
        .collect();
    let width = rows
        .iter()
        .map(|(a, _)| a.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (arrow, at) in rows {
        let _ = writeln!(out, "{arrow:<width$}    {at}");
    }
    out
}

/// The routing table grouped by source, sources in order of their first edge; a target whose
/// edge has transforms is followed by them in brackets.
pub fn dump_text(core: &Core, edges: &[EdgeRecord]) -> String {
    let mut order: Vec<ChannelId> = Vec::new();
    let mut targets: HashMap<ChannelId, Vec<(usize, ChannelId)>> = HashMap::new();
    for (i, e) in edges.iter().enumerate() {
        targets
            .entry(e.source)
            .or_insert_with(|| {
                order.push(e.source);
                Vec::new()
            })
            .push((i, e.target));
    }
    let mut out = String::new();
    for source in &order {
        let list: Vec<String> = targets[source]
            .iter()
            .map(|&(i, t)| match core.routes().chain_of(i) {
                Some(chain) => format!("{} [{chain}]", core.channel_label(t)),
                None => core.channel_label(t),
            })
            .collect();
        let _ = writeln!(
            out,
            "{} -> {}",
            core.channel_label(*source),
            list.join(", ")
        );
    }
    let (s, t) = edge_stats(edges);
    let _ = writeln!(out, "{s} sources, {t} targets, {} edges", edges.len());
    out
}

/// The routing graph in Graphviz DOT: one node per channel, clustered by instance.
pub fn dump_dot(core: &Core, edges: &[EdgeRecord]) -> String {
    let mut nodes: Vec<ChannelId> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for e in edges {
        for c in [e.source, e.target] {
            if seen.insert(c) {
                nodes.push(c);
            }
        }
    }
    let mut by_instance: Vec<(u32, Vec<ChannelId>)> = Vec::new();
    for &c in &nodes {
        let inst = core.registry().instance_of(c).map_or(u32::MAX, |i| i.0);
        match by_instance.iter_mut().find(|(i, _)| *i == inst) {
            Some((_, list)) => list.push(c),
            None => by_instance.push((inst, vec![c])),
        }
    }
    let mut out = String::from("digraph patchbay {\n  rankdir=LR;\n  node [shape=box];\n");
    for (inst, channels) in &by_instance {
        let id = patchbay_core::InstanceId(*inst);
        let name = core.instance_name(id).unwrap_or("?");
        let backend = core
            .instance_backend(id)
            .and_then(|b| core.backend(b))
            .map_or("?", |b| b.name());
        let _ = writeln!(
            out,
            "  subgraph \"cluster_{inst}\" {{\n    label={};",
            quote(&format!("{name} ({backend})"))
        );
        for c in channels {
            let _ = writeln!(
                out,
                "    c{} [label={}];",
                c.0,
                quote(&core.channel_label(*c))
            );
        }
        out.push_str("  }\n");
    }
    for (i, e) in edges.iter().enumerate() {
        match core.routes().chain_of(i) {
            Some(chain) => {
                let label = quote(&chain.to_string());
                let _ = writeln!(out, "  c{} -> c{} [label={label}];", e.source.0, e.target.0);
            }
            None => {
                let _ = writeln!(out, "  c{} -> c{};", e.source.0, e.target.0);
            }
        }
    }
    out.push_str("}\n");
    out
}

fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for ch in s.chars() {
        if ch == '"' || ch == '\\' {
            q.push('\\');
        }
        q.push(ch);
    }
    q.push('"');
    q
}
