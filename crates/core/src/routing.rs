//! The routing table: mapping edges collected at config time, frozen into a CSR array.
//!
//! At run time an event's targets are one contiguous slice (`offsets[c]..offsets[c + 1]`), and
//! each target entry already carries its instance and backend key, so routing touches two
//! arrays and no hash map. Targets of a source keep the order in which the mappings were
//! created (doc/config.md 4.1, "Fan-out").
//!
//! An edge with a transform chain ([`crate::transform`]) is a target entry like any other, but
//! its instance is [`TRANSFORMED`] and its key the index of a [`ChainedEdge`] that holds the
//! real instance and key, its ops and where its state lives. Why a marker in the entry rather
//! than a field: plain edges keep their 16-byte entries and their one comparison per target,
//! so configurations without transforms route exactly as fast as before.

use rustc_hash::FxHashMap;

use crate::backend::{ChannelId, InstanceId};
use crate::frames::FrameRoutes;
use crate::registry::ChannelRegistry;
use crate::transform::{Chain, Transform};

/// One target of a source channel, with what the router needs to build a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// The target channel.
    pub channel: ChannelId,
    /// Its instance (deliveries are grouped by it).
    pub instance: InstanceId,
    /// Its backend's key.
    pub key: u64,
}

/// The instance of a [`Target`] entry whose edge has a transform chain; no instance has this id.
/// The entry's key is then the index of its [`ChainedEdge`].
pub(crate) const TRANSFORMED: InstanceId = InstanceId(u32::MAX);

/// An edge with a transform chain, as the router runs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainedEdge {
    /// Where its values go.
    pub target: Target,
    /// Its ops: `RoutingTable::ops[a..b]`.
    ops: (u32, u32),
    /// Its first state slot (one per op).
    pub(crate) slots: u32,
}

/// What [`RoutingBuilder::add_edge_with`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewEdge {
    /// The edge is new.
    Added,
    /// The edge existed already with the same chain (MIDIMonster ignores duplicates silently;
    /// the daemon reports them as notes).
    Duplicate,
    /// The edge existed already with another chain, which it keeps (an edge has one chain).
    Conflict,
}

/// Sources with up to this many edges are checked for duplicates by walking their edges; more
/// go to a hash map.
const SCAN_LIMIT: u32 = 16;

/// Marks "no edge" in the per-source chains.
const NO_EDGE: u32 = u32::MAX;

/// Collects mapping edges in creation order, collapsing duplicates.
///
/// Why chains and not one hash map of all edges: a 1,000-universe configuration adds 512,000
/// edges, nearly all from sources with one target; a map of every (source, target) pair cost
/// 18 % of start-up (cache-missing inserts, nineteen rehashes) and 12 MB. Per source the edges
/// form a chain (newest first), walked for the duplicate check while short; a source with many
/// targets moves to `wide`, so a large fan-out stays linear.
#[derive(Debug, Default)]
pub struct RoutingBuilder {
    edges: Vec<(ChannelId, ChannelId)>,
    /// Per source channel: index of its newest edge, or [`NO_EDGE`].
    newest: Vec<u32>,
    /// Per edge: index of the previous edge of the same source, or [`NO_EDGE`].
    previous: Vec<u32>,
    /// Per source channel: number of edges.
    fan_out: Vec<u32>,
    /// Edge → its index, for sources with more than [`SCAN_LIMIT`] edges.
    wide: FxHashMap<(ChannelId, ChannelId), u32>,
    /// The distinct transform chains, in order of first use.
    transform_chains: Vec<Chain>,
    /// (edge index, index in `transform_chains`) of every edge with a chain, by ascending edge index.
    /// Sparse, so configurations without transforms pay nothing.
    edge_chains: Vec<(u32, u32)>,
}

impl RoutingBuilder {
    /// No mappings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the edge source → target. Returns false if it already exists (MIDIMonster ignores
    /// duplicates silently; the caller reports them as notes).
    pub fn add_edge(&mut self, source: ChannelId, target: ChannelId) -> bool {
        self.add_edge_with(source, target, &Chain::default()) == NewEdge::Added
    }

    /// Adds the edge source → target whose values pass through `chain` (empty: a plain edge).
    pub fn add_edge_with(
        &mut self,
        source: ChannelId,
        target: ChannelId,
        chain: &Chain,
    ) -> NewEdge {
        if let Some(e) = self.edge_index(source, target) {
            let existing = self.chain_of(e).map_or(&[][..], Chain::ops);
            return if existing == chain.ops() {
                NewEdge::Duplicate
            } else {
                NewEdge::Conflict
            };
        }
        let edge = self.push_edge(source, target);
        if !chain.is_empty() {
            // A glob line gives all its edges the same chain: compare with the last one only.
            if self.transform_chains.last() != Some(chain) {
                self.transform_chains.push(chain.clone());
            }
            let c = u32::try_from(self.transform_chains.len() - 1).unwrap_or(u32::MAX);
            self.edge_chains.push((edge, c));
        }
        NewEdge::Added
    }

    /// The transform chain of the edge with index `edge`, if it has one.
    pub fn chain_of(&self, edge: usize) -> Option<&Chain> {
        let i = self
            .edge_chains
            .binary_search_by_key(&edge, |&(e, _)| e as usize)
            .ok()?;
        self.transform_chains.get(self.edge_chains[i].1 as usize)
    }

    /// Appends a new edge; returns its index.
    fn push_edge(&mut self, source: ChannelId, target: ChannelId) -> u32 {
        let next = u32::try_from(self.edges.len()).unwrap_or(NO_EDGE - 1);
        let s = source.0 as usize;
        if self.newest.len() <= s {
            self.newest.resize(s + 1, NO_EDGE);
            self.fan_out.resize(s + 1, 0);
        }
        self.previous.push(self.newest[s]);
        self.newest[s] = next;
        self.edges.push((source, target));
        self.fan_out[s] += 1;
        match self.fan_out[s] {
            n if n == SCAN_LIMIT + 1 => {
                // Too many to walk from now on: index all of this source's edges.
                let mut e = next;
                while let Some(&(src, tgt)) = self.edges.get(e as usize) {
                    self.wide.insert((src, tgt), e);
                    e = self.previous[e as usize];
                }
            }
            n if n > SCAN_LIMIT + 1 => {
                self.wide.insert((source, target), next);
            }
            _ => {}
        }
        next
    }

    /// Index (in creation order, as in [`RoutingBuilder::edges`]) of the edge source → target.
    pub fn edge_index(&self, source: ChannelId, target: ChannelId) -> Option<usize> {
        let s = source.0 as usize;
        if self.fan_out.get(s).copied().unwrap_or(0) > SCAN_LIMIT {
            return self.wide.get(&(source, target)).map(|&i| i as usize);
        }
        let mut e = self.newest.get(s).copied().unwrap_or(NO_EDGE);
        while let Some(&(_, t)) = self.edges.get(e as usize) {
            if t == target {
                return Some(e as usize);
            }
            e = self.previous[e as usize];
        }
        None
    }

    /// The distinct edges in creation order.
    pub fn edges(&self) -> &[(ChannelId, ChannelId)] {
        &self.edges
    }

    /// Freezes every edge into a CSR table covering every channel of `registry` (what
    /// `--check` inspects for cycles). Edges naming channels the registry never handed out
    /// are left out.
    pub(crate) fn build(&self, registry: &ChannelRegistry) -> RoutingTable {
        self.build_where(registry, |_| true)
    }

    /// Freezes the edges for the loop: lane-to-lane edges into targets with no other source
    /// become [`FrameRoutes`] (see [`crate::frames`] for why only those), the rest the CSR
    /// table of events.
    pub(crate) fn freeze(&self, registry: &ChannelRegistry) -> (RoutingTable, FrameRoutes) {
        let (frames, copied) = self.freeze_frames(registry);
        (self.freeze_table(registry, &copied), frames)
    }

    /// The first half of [`RoutingBuilder::freeze`] (a reload runs them in two turns): the
    /// frame routes, and per edge whether it is one of them.
    pub(crate) fn freeze_frames(&self, registry: &ChannelRegistry) -> (FrameRoutes, Vec<bool>) {
        let channels = registry.len();
        // Sources per target channel, counted up to 2 ("more than one").
        let mut sources = vec![0u8; channels];
        for &(s, t) in &self.edges {
            if (s.0 as usize) < channels
                && let Some(n) = sources.get_mut(t.0 as usize)
            {
                *n = (*n + 1).min(2);
            }
        }
        // One pass decides every edge (the table build below reads the flags, so lanes are
        // looked up once per edge: this runs for half a million edges at start-up).
        let mut copies = Vec::new();
        let mut chained = self.edge_chains.iter().peekable();
        let copied: Vec<bool> = self
            .edges
            .iter()
            .enumerate()
            .map(|(e, &(s, t))| {
                // An edge with a transform changes values, so it is never a byte copy.
                if chained.next_if(|&&(c, _)| c as usize == e).is_some() {
                    return false;
                }
                if sources.get(t.0 as usize) != Some(&1) {
                    return false;
                }
                let (Some(from), Some(to)) = (registry.lane_of(s), registry.lane_of(t)) else {
                    return false;
                };
                let (Some(a), Some(b)) = (registry.instance_of(s), registry.instance_of(t)) else {
                    return false;
                };
                copies.push((a, b, from, to));
                true
            })
            .collect();
        (FrameRoutes::build(copies), copied)
    }

    /// The second half of [`RoutingBuilder::freeze`]: the table of the edges that are not
    /// frame routes (`copied`, from [`RoutingBuilder::freeze_frames`]).
    pub(crate) fn freeze_table(&self, registry: &ChannelRegistry, copied: &[bool]) -> RoutingTable {
        self.build_where(registry, |e| !copied.get(e).copied().unwrap_or(false))
    }

    /// The CSR table of the edges whose index `keep` accepts.
    fn build_where(
        &self,
        registry: &ChannelRegistry,
        keep: impl Fn(usize) -> bool,
    ) -> RoutingTable {
        let channels = registry.len();
        let mut offsets = vec![0u32; channels + 1];
        let valid = |e: usize, s: ChannelId, t: ChannelId| {
            (s.0 as usize) < channels && (t.0 as usize) < channels && keep(e)
        };
        for (e, &(s, t)) in self.edges.iter().enumerate() {
            if valid(e, s, t) {
                offsets[s.0 as usize + 1] += 1;
            }
        }
        for i in 0..channels {
            offsets[i + 1] += offsets[i];
        }
        // Counting sort, stable: per source, edges land in creation order.
        let mut fill = offsets.clone();
        let placeholder = Target {
            channel: ChannelId(0),
            instance: InstanceId(0),
            key: 0,
        };
        let mut targets = vec![placeholder; offsets[channels] as usize];
        // Every distinct chain's ops once, in order.
        let mut ops: Vec<Transform> = Vec::new();
        let ranges: Vec<(u32, u32)> = self
            .transform_chains
            .iter()
            .map(|c| {
                let start = ops.len() as u32;
                ops.extend_from_slice(c.ops());
                (start, ops.len() as u32)
            })
            .collect();
        let mut chained_edges = Vec::new();
        let mut slots = 0u32;
        let mut chained = self.edge_chains.iter().peekable();
        for (e, &(s, t)) in self.edges.iter().enumerate() {
            let chain = chained
                .next_if(|&&(c, _)| c as usize == e)
                .and_then(|&(_, c)| ranges.get(c as usize).copied());
            if !valid(e, s, t) {
                continue;
            }
            let (Some(instance), Some(key)) = (registry.instance_of(t), registry.key_of(t)) else {
                continue;
            };
            let mut target = Target {
                channel: t,
                instance,
                key,
            };
            if let Some(range) = chain {
                let index = chained_edges.len() as u64;
                chained_edges.push(ChainedEdge {
                    target,
                    ops: range,
                    slots,
                });
                slots += range.1 - range.0;
                target.instance = TRANSFORMED;
                target.key = index;
            }
            let slot = &mut fill[s.0 as usize];
            targets[*slot as usize] = target;
            *slot += 1;
        }
        RoutingTable {
            offsets,
            targets,
            chained: chained_edges,
            ops,
            slots: slots as usize,
        }
    }
}

/// The frozen routing table (compressed sparse rows, indexed by source [`ChannelId`]).
#[derive(Debug, Default, Clone)]
pub struct RoutingTable {
    offsets: Vec<u32>,
    targets: Vec<Target>,
    /// The edges with transform chains, indexed by their entries' keys.
    chained: Vec<ChainedEdge>,
    /// The ops of every distinct chain.
    ops: Vec<Transform>,
    /// State slots all chained edges need together.
    slots: usize,
}

impl RoutingTable {
    /// The targets of `source` in mapping creation order; empty if it is not a mapping source.
    #[inline]
    pub fn targets(&self, source: ChannelId) -> &[Target] {
        let i = source.0 as usize;
        match (self.offsets.get(i), self.offsets.get(i + 1)) {
            (Some(&a), Some(&b)) => self.targets.get(a as usize..b as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The edge with a transform chain behind an entry whose instance is [`TRANSFORMED`].
    #[inline]
    pub fn chained(&self, index: u64) -> Option<&ChainedEdge> {
        self.chained.get(usize::try_from(index).ok()?)
    }

    /// The ops of chained edge `index`.
    pub(crate) fn chain_ops(&self, index: u32) -> &[Transform] {
        self.chained
            .get(index as usize)
            .and_then(|c| self.ops.get(c.ops.0 as usize..c.ops.1 as usize))
            .unwrap_or(&[])
    }

    /// The ops of `edge`.
    #[inline]
    pub(crate) fn ops_of(&self, edge: &ChainedEdge) -> &[Transform] {
        self.ops
            .get(edge.ops.0 as usize..edge.ops.1 as usize)
            .unwrap_or(&[])
    }

    /// Number of edges with transform chains.
    pub(crate) fn transformed_edges(&self) -> usize {
        self.chained.len()
    }

    /// State slots the chained edges need.
    pub(crate) fn transform_slots(&self) -> usize {
        self.slots
    }

    /// Number of channels the table covers.
    pub fn channels(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// Number of edges.
    #[cfg(any(test, feature = "testing"))]
    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// Cycles a single event can run around within one loop iteration.
    ///
    /// A delivery only leads to further events when its target channel belongs to a backend
    /// that re-emits (`reemits(channel)`): the value fires again as an event on the same
    /// channel id. So the graph that can cascade has those channels as nodes and the mapping
    /// edges between them. Every strongly connected component with a cycle (more than one
    /// node, or a self-edge) is reported as one cycle through it, as channel ids starting at
    /// the smallest id, without repeating the first at the end. Sorted by first id.
    pub fn cycles(&self, reemits: impl Fn(ChannelId) -> bool) -> Vec<Vec<ChannelId>> {
        let n = self.channels();
        let re: Vec<bool> = (0..n).map(|i| reemits(ChannelId(i as u32))).collect();
        let sccs = self.strongly_connected(&re);
        let mut cycles = Vec::new();
        let mut in_scc = vec![false; n];
        for scc in sccs {
            let has_cycle = scc.len() > 1
                || self
                    .targets(ChannelId(scc[0]))
                    .iter()
                    .any(|t| t.channel.0 == scc[0]);
            if !has_cycle {
                continue;
            }
            for &v in &scc {
                in_scc[v as usize] = true;
            }
            let start = scc.iter().copied().min().unwrap_or(scc[0]);
            cycles.push(self.cycle_through(start, &in_scc));
            for &v in &scc {
                in_scc[v as usize] = false;
            }
        }
        cycles.sort();
        cycles
    }

    /// Shortest path from `start` back to itself inside the marked component (BFS).
    fn cycle_through(&self, start: u32, in_scc: &[bool]) -> Vec<ChannelId> {
        use std::collections::{HashMap, VecDeque};
        let mut parent: HashMap<u32, u32> = HashMap::new();
        let mut queue = VecDeque::from([start]);
        while let Some(v) = queue.pop_front() {
            for t in self.targets(ChannelId(v)) {
                let w = t.channel.0;
                if !in_scc.get(w as usize).copied().unwrap_or(false) {
                    continue;
                }
                if w == start {
                    let mut path = vec![ChannelId(v)];
                    let mut cur = v;
                    while cur != start {
                        cur = parent[&cur];
                        path.push(ChannelId(cur));
                    }
                    path.reverse();
                    return path;
                }
                if let std::collections::hash_map::Entry::Vacant(e) = parent.entry(w) {
                    e.insert(v);
                    queue.push_back(w);
                }
            }
        }
        vec![ChannelId(start)]
    }

    /// Tarjan's algorithm, iterative (a million channels must not overflow the stack), over
    /// the nodes with `re[node]` and the edges between them.
    fn strongly_connected(&self, re: &[bool]) -> Vec<Vec<u32>> {
        const UNSEEN: u32 = u32::MAX;
        let n = re.len();
        let mut index = vec![UNSEEN; n];
        let mut low = vec![0u32; n];
        let mut on_stack = vec![false; n];
        let mut stack: Vec<u32> = Vec::new();
        let mut calls: Vec<(u32, usize)> = Vec::new();
        let mut counter = 0u32;
        let mut out = Vec::new();
        for root in 0..n {
            if !re[root] || index[root] != UNSEEN {
                continue;
            }
            index[root] = counter;
            low[root] = counter;
            counter += 1;
            stack.push(root as u32);
            on_stack[root] = true;
            calls.push((root as u32, 0));
            while let Some(&(v, pos)) = calls.last() {
                let targets = self.targets(ChannelId(v));
                if let Some(t) = targets.get(pos) {
                    if let Some(top) = calls.last_mut() {
                        top.1 += 1;
                    }
                    let w = t.channel.0 as usize;
                    if w >= n || !re[w] {
                        continue;
                    }
                    if index[w] == UNSEEN {
                        index[w] = counter;
                        low[w] = counter;
                        counter += 1;
                        stack.push(w as u32);
                        on_stack[w] = true;
                        calls.push((w as u32, 0));
                    } else if on_stack[w] {
                        low[v as usize] = low[v as usize].min(index[w]);
                    }
                } else {
                    calls.pop();
                    if let Some(&(u, _)) = calls.last() {
                        low[u as usize] = low[u as usize].min(low[v as usize]);
                    }
                    if low[v as usize] == index[v as usize] {
                        let mut scc = Vec::new();
                        while let Some(w) = stack.pop() {
                            on_stack[w as usize] = false;
                            scc.push(w);
                            if w == v {
                                break;
                            }
                        }
                        out.push(scc);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ChannelIds;

    fn ids(reg: &mut ChannelRegistry, inst: u32, keys: &[u64]) -> Vec<ChannelId> {
        keys.iter()
            .map(|&k| reg.resolve(InstanceId(inst), k))
            .collect()
    }

    fn chans(table: &RoutingTable, c: ChannelId) -> Vec<u32> {
        table.targets(c).iter().map(|t| t.channel.0).collect()
    }

    #[test]
    fn fan_out_keeps_creation_order_and_carries_instance_and_key() {
        let mut reg = ChannelRegistry::new();
        let a = ids(&mut reg, 0, &[10, 11, 12]);
        let b = ids(&mut reg, 1, &[20, 21]);
        let mut rb = RoutingBuilder::new();
        assert!(rb.add_edge(a[0], b[1]));
        assert!(rb.add_edge(a[1], b[0]));
        assert!(rb.add_edge(a[0], a[2]));
        assert!(rb.add_edge(a[0], b[0]));
        let t = rb.build(&reg);
        assert_eq!(chans(&t, a[0]), vec![b[1].0, a[2].0, b[0].0]);
        assert_eq!(chans(&t, a[1]), vec![b[0].0]);
        assert!(t.targets(a[2]).is_empty());
        assert!(t.targets(ChannelId(999)).is_empty());
        assert_eq!(
            t.targets(a[0])[0],
            Target {
                channel: b[1],
                instance: InstanceId(1),
                key: 21
            }
        );
        assert_eq!(t.edge_count(), 4);
    }

    #[test]
    fn fan_in_and_bidirectional_edges() {
        let mut reg = ChannelRegistry::new();
        let c = ids(&mut reg, 0, &[1, 2, 3]);
        let mut rb = RoutingBuilder::new();
        // c0 > c2, c1 > c2 (fan-in), c0 <> c1: left-to-right first, then right-to-left.
        rb.add_edge(c[0], c[2]);
        rb.add_edge(c[1], c[2]);
        rb.add_edge(c[0], c[1]);
        rb.add_edge(c[1], c[0]);
        let t = rb.build(&reg);
        assert_eq!(chans(&t, c[0]), vec![c[2].0, c[1].0]);
        assert_eq!(chans(&t, c[1]), vec![c[2].0, c[0].0]);
    }

    #[test]
    fn duplicates_are_collapsed() {
        let mut reg = ChannelRegistry::new();
        let c = ids(&mut reg, 0, &[1, 2]);
        let mut rb = RoutingBuilder::new();
        assert!(rb.add_edge(c[0], c[1]));
        assert!(!rb.add_edge(c[0], c[1]));
        assert!(rb.add_edge(c[1], c[0]));
        assert_eq!(rb.edges().len(), 2);
        assert_eq!(chans(&rb.build(&reg), c[0]), vec![c[1].0]);
    }

    #[test]
    fn cycles_through_reemitting_channels_are_found() {
        let mut reg = ChannelRegistry::new();
        // instance 0 re-emits (loopback), instance 1 does not.
        let l = ids(&mut reg, 0, &[1, 2, 3, 4]);
        let s = ids(&mut reg, 1, &[1]);
        let mut rb = RoutingBuilder::new();
        rb.add_edge(l[0], l[0]); // a > a
        rb.add_edge(l[1], l[2]); // b <> c
        rb.add_edge(l[2], l[1]);
        rb.add_edge(l[3], s[0]); // d <> out.1: out does not re-emit, no loop
        rb.add_edge(s[0], l[3]);
        let t = rb.build(&reg);
        let re = |c: ChannelId| reg.instance_of(c) == Some(InstanceId(0));
        assert_eq!(t.cycles(re), vec![vec![l[0]], vec![l[1], l[2]]]);
        // If everything re-emitted, d <> out.1 would loop too.
        assert_eq!(t.cycles(|_| true).len(), 3);
        assert!(t.cycles(|_| false).is_empty());
    }

    #[test]
    fn longer_cycle_is_reported_as_a_path() {
        let mut reg = ChannelRegistry::new();
        let c = ids(&mut reg, 0, &[0, 1, 2, 3]);
        let mut rb = RoutingBuilder::new();
        rb.add_edge(c[3], c[1]);
        rb.add_edge(c[1], c[2]);
        rb.add_edge(c[2], c[3]);
        rb.add_edge(c[0], c[1]); // feeds the loop but is not part of it
        let t = rb.build(&reg);
        assert_eq!(t.cycles(|_| true), vec![vec![c[1], c[2], c[3]]]);
    }

    #[test]
    fn deep_chain_does_not_overflow() {
        let mut reg = ChannelRegistry::new();
        let keys: Vec<u64> = (0..200_000).collect();
        let c = ids(&mut reg, 0, &keys);
        let mut rb = RoutingBuilder::new();
        for w in c.windows(2) {
            rb.add_edge(w[0], w[1]);
        }
        let t = rb.build(&reg);
        assert!(t.cycles(|_| true).is_empty());
        rb.add_edge(c[c.len() - 1], c[0]);
        let t = rb.build(&reg);
        let cycles = t.cycles(|_| true);
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].len(), c.len());
    }

    #[test]
    fn an_edge_has_one_chain() {
        use crate::transform::{Chain, Transform};
        let mut reg = ChannelRegistry::new();
        let c = ids(&mut reg, 0, &[1, 2]);
        let invert = Chain::new(vec![Transform::Invert]).expect("chain");
        let toggle = Chain::new(vec![Transform::Toggle]).expect("chain");
        let mut rb = RoutingBuilder::new();
        assert_eq!(rb.add_edge_with(c[0], c[1], &invert), NewEdge::Added);
        assert_eq!(rb.add_edge_with(c[0], c[1], &invert), NewEdge::Duplicate);
        assert_eq!(rb.add_edge_with(c[0], c[1], &toggle), NewEdge::Conflict);
        assert!(
            !rb.add_edge(c[0], c[1]),
            "a plain duplicate of a chained edge is refused"
        );
        assert_eq!(
            rb.add_edge_with(c[1], c[0], &Chain::default()),
            NewEdge::Added
        );
        assert_eq!(rb.add_edge_with(c[1], c[0], &toggle), NewEdge::Conflict);
        assert_eq!(rb.chain_of(0), Some(&invert));
        assert_eq!(rb.chain_of(1), None);
        let t = rb.build(&reg);
        let entry = t.targets(c[0])[0];
        assert_eq!((entry.channel, entry.instance), (c[1], TRANSFORMED));
        let chained = t.chained(entry.key).expect("chained edge");
        assert_eq!(chained.target.instance, InstanceId(0));
        assert_eq!(chained.target.key, 2);
        assert_eq!(t.ops_of(chained), &[Transform::Invert]);
        assert_eq!(t.targets(c[1])[0].instance, InstanceId(0));
    }

    #[test]
    fn transformed_lane_edges_are_never_frame_routes() {
        use crate::transform::{Chain, Transform};
        let mut reg = ChannelRegistry::new();
        let a = ids(&mut reg, 0, &[1, 2, 3]);
        let b = ids(&mut reg, 1, &[1, 2, 3]);
        for (i, (&x, &y)) in a.iter().zip(&b).enumerate() {
            reg.set_lane(x, i as u16);
            reg.set_lane(y, i as u16);
        }
        let invert = Chain::new(vec![Transform::Invert]).expect("chain");
        let mut rb = RoutingBuilder::new();
        rb.add_edge(a[0], b[0]);
        rb.add_edge_with(a[1], b[1], &invert);
        rb.add_edge(a[2], b[2]);
        let (table, frames) = rb.freeze(&reg);
        // Lanes 0 and 2 are copied (two runs), lane 1 stays an event edge with its chain.
        assert_eq!(frames.len(), 1);
        assert_eq!(
            frames.runs(0),
            &[
                crate::frames::Run {
                    from: 0,
                    to: 0,
                    len: 1
                },
                crate::frames::Run {
                    from: 2,
                    to: 2,
                    len: 1
                }
            ]
        );
        assert!(table.targets(a[0]).is_empty());
        assert_eq!(table.targets(a[1]).len(), 1);
        assert_eq!(table.targets(a[1])[0].instance, TRANSFORMED);
        assert!(table.targets(a[2]).is_empty());
    }

    proptest::proptest! {
        /// Duplicate detection and edge indexes match a map of all edges, across the switch
        /// from walking a source's edges to the hash map (fan-outs above the scan limit).
        #[test]
        fn dedupes_like_a_map(ops in proptest::collection::vec((0u32..3, 0u32..40), 0..300)) {
            let mut b = RoutingBuilder::new();
            let mut model: std::collections::HashMap<(u32, u32), usize> = Default::default();
            for (s, t) in ops {
                let fresh = !model.contains_key(&(s, t));
                if fresh {
                    let n = model.len();
                    model.insert((s, t), n);
                }
                proptest::prop_assert_eq!(b.add_edge(ChannelId(s), ChannelId(t)), fresh);
            }
            for (&(s, t), &i) in &model {
                proptest::prop_assert_eq!(b.edge_index(ChannelId(s), ChannelId(t)), Some(i));
                proptest::prop_assert_eq!(b.edges()[i], (ChannelId(s), ChannelId(t)));
            }
            proptest::prop_assert_eq!(b.edge_index(ChannelId(7), ChannelId(0)), None);
            proptest::prop_assert_eq!(b.edges().len(), model.len());
        }
    }
}
