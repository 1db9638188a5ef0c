//! Start-up: validates what only the whole configuration shows, opens one endpoint per `bind`,
//! creates the sans-IO sources and receivers, joins the groups inputs need and registers every
//! socket with the loop.
//!
//! Why joins depend on channels: an output-only universe needs no membership (D13), and joining
//! it would cost a socket (each group has its own) and, with `local`, feed our own output back
//! as input.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use patchbay_core::{Interest, Io, StartError};
use patchbay_net::{BindSpec, SocketId, UdpEndpoint};
use patchbay_sacn::receiver::{
    Discard, LossBehavior, MergeMode, Receiver, ReceiverConfig, UniverseConfig as RxUniverse,
};
use patchbay_sacn::wire::MAX_PACKET_LEN;
use patchbay_sacn::{
    Cid, DropReason, PORT, Source, SourceConfig, TransmitKind, UniverseConfig, ipv4_multicast,
    ipv6_multicast,
};

use super::counters::{BindCounters, Throttle};
use super::identity::{default_cid, hostname};
use super::{Instance, Sacn};

/// Receive buffer: larger than any valid packet, so oversize datagrams are seen as such.
pub(super) const RX_BUF: usize = 2048;

/// Multicast group of `universe` in the bind's address family (ETC layout for IPv6, E1.31-2018 9.3).
pub(super) fn group_ip(v6: bool, universe: u16) -> IpAddr {
    if v6 {
        IpAddr::V6(ipv6_multicast(universe))
    } else {
        IpAddr::V4(ipv4_multicast(universe))
    }
}

pub(super) fn group_addr(v6: bool, universe: u16) -> SocketAddr {
    SocketAddr::new(group_ip(v6, universe), PORT)
}

/// The groups whose routes name a wildcard bind's multicast interfaces: universe 1's, the
/// sACN traffic a wildcard bind is most likely for.
pub fn route_probes() -> [IpAddr; 2] {
    [group_ip(false, 1), group_ip(true, 1)]
}

/// The socket spec of a `bind` line.
pub(super) fn bind_spec(bo: &super::options::BindOption) -> BindSpec {
    let mut spec = BindSpec::new(bo.addr, bo.local).with_route_probes(route_probes());
    spec.multicast_ttl = u32::from(bo.ttl);
    spec.dual_stack = !bo.v6only;
    spec
}

/// Bits of an Io tag that number the socket within its bind: one socket per group, so up to
/// 63,999 universes of each family plus the main socket (bind indices take the other 12 bits,
/// enough for `MAX_BINDS`). That is more sockets than the 16 bits of `patchbay_kit::SocketTag`
/// hold, hence this layout of sACN's own.
const SOCKET_BITS: u32 = 20;

const SOCKET_MASK: u32 = (1 << SOCKET_BITS) - 1;

/// Io tag of one socket: bind index in the high 12 bits; 0 = main socket, n + 1 = receiver n,
/// the top values broadcast sockets (which sACN binds do not open; mapped for completeness).
pub(super) fn tag(bind: usize, id: SocketId) -> u32 {
    let sock = match id {
        SocketId::Main => 0,
        SocketId::Receiver(n) => n as u32 + 1,
        SocketId::Broadcast(k) => SOCKET_MASK - (k as u32).min(1),
    };
    ((bind as u32) << SOCKET_BITS) | (sock & SOCKET_MASK)
}

pub(super) fn untag(tag: u32) -> (usize, SocketId) {
    let bind = (tag >> SOCKET_BITS) as usize;
    let id = match tag & SOCKET_MASK {
        0 => SocketId::Main,
        n if n >= SOCKET_MASK - 1 => SocketId::Broadcast((SOCKET_MASK - n) as usize),
        n => SocketId::Receiver(n as usize - 1),
    };
    (bind, id)
}

/// Families of the groups bind `i` joins and sends to, its own first (`true` = IPv6). A
/// dual-stack bind's IPv4 side is left out, with a warning, when it has no IPv4 multicast
/// interface (no IPv4 route on an IPv6 host): the bind's own family decides whether it works.
fn group_families(ep: &UdpEndpoint, i: usize) -> &'static [bool] {
    if !ep.local_addr().is_ipv6() || !ep.carries(true) {
        return &[false];
    }
    match ep.interface_for(false) {
        None => &[true],
        Some(Ok(_) | Err(patchbay_net::IfaceError::NotChosenYet)) => &[true, false],
        Some(Err(e)) => {
            tracing::warn!(target: "sacn",
                "bind {i} ({}): no IPv4 multicast ({e}); IPv4 groups are not joined or sent to \
                 (add v6only to the bind line to say so)", ep.local_addr());
            &[true]
        }
    }
}

/// Receivers are per merge setting because merge, preview and loss are receiver-wide in
/// `patchbay_sacn`; most configurations have one group per bind.
pub(super) struct RxGroup {
    pub merge: MergeMode,
    pub accept_preview: bool,
    pub loss: LossBehavior,
    pub rx: Receiver,
}

/// A packet the kernel had no room for; retried before anything newer is sent.
pub(super) struct Pending {
    pub buf: Box<[u8; MAX_PACKET_LEN]>,
    pub len: usize,
    pub kind: Option<TransmitKind>,
    /// Index of the next destination to send to.
    pub next: usize,
}

/// Run-time state of one `bind`.
pub(super) struct BindRt {
    pub ep: UdpEndpoint,
    /// Families of its groups, its own first: a dual-stack `::` bind joins and sends to the
    /// IPv6 and the IPv4 group of each universe.
    pub families: &'static [bool],
    pub source: Option<Source>,
    pub groups: Vec<RxGroup>,
    /// (universe, group, instance index), sorted by universe.
    pub inputs: Vec<(u16, u16, u32)>,
    /// (universe, instance index) of transmitting instances, sorted by universe.
    pub outputs: Vec<(u16, u32)>,
    /// Destinations of each sync universe's sync packets: its group, then unicast destinations.
    pub sync_dests: Vec<(u16, Vec<SocketAddr>)>,
    pub pending: Pending,
    /// Data packets of the current flush, sent together; what the kernel had no room for stays
    /// here and goes before anything newer.
    pub out: Box<super::output::TxBatch>,
    pub counters: BindCounters,
    pub malformed_log: [Throttle; DropReason::COUNT],
    pub discard_log: [Throttle; Discard::COUNT],
    pub error_log: Throttle,
    /// Universes of the verbose "nobody listens" log, bounded.
    pub unknown_seen: Vec<u16>,
    /// Interface state at the last link check (`None` before the first).
    pub link: Option<patchbay_net::LinkState>,
}

impl BindRt {
    /// Multicast destination `i` of `universe`: its group in each family the bind carries.
    pub fn group_dest(&self, universe: u16, i: usize) -> Option<SocketAddr> {
        self.families.get(i).map(|&v6| group_addr(v6, universe))
    }

    pub fn input_of(&self, universe: u16) -> Option<(usize, usize)> {
        self.inputs
            .binary_search_by_key(&universe, |e| e.0)
            .ok()
            .map(|p| (usize::from(self.inputs[p].1), self.inputs[p].2 as usize))
    }

    pub fn output_of(&self, universe: u16) -> Option<usize> {
        self.outputs
            .binary_search_by_key(&universe, |e| e.0)
            .ok()
            .map(|p| self.outputs[p].1 as usize)
    }
}

/// Everything that exists only between start and shutdown.
pub(super) struct Runtime {
    pub cid: Cid,
    pub binds: Vec<BindRt>,
    /// Receive batch of IPv4 binds, and of IPv6 binds once one reads.
    pub rx_v4: Box<super::input::RxBatch>,
    pub rx_v6: Option<Box<super::input::RxBatch>>,
    pub tx_buf: Box<[u8; MAX_PACKET_LEN]>,
    /// Sockets that may still hold data (their receive budget ran out, or the turn ended early
    /// before or while reading them); read again next turn, which `poll_timeout` makes immediate.
    pub backlog: super::input::Backlog,
    pub spare: super::input::Backlog,
    /// Turns that end at a repeated universe, and the batch they leave ([`super::input`]).
    pub split: super::input::TurnSplit,
    pub last_now: Instant,
    /// Datagrams read per socket per turn ([`super::input::RECV_BUDGET`]).
    pub recv_budget: usize,
    /// When [`Runtime::watch_links`] looks at the interfaces next.
    pub next_link_check: Instant,
    pub link_check_period: std::time::Duration,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cid", &self.cid)
            .field("binds", &self.binds.len())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    pub fn open(b: &Sacn, now: Instant, io: &mut Io<'_>) -> Result<Runtime, StartError> {
        if let Some(first) = problems(b).into_iter().next() {
            return Err(first);
        }
        for inst in &b.instances {
            if inst.opts.destination.is_some() && !inst.transmits() {
                tracing::warn!(target: "sacn",
                    "instance '{}' has a destination but no priority, so it never sends (set priority = 1..200)",
                    inst.name);
            }
        }
        let cid = match b.cid {
            Some(c) => {
                tracing::info!(target: "sacn", "source '{}' uses the configured CID {c}", b.name);
                c
            }
            None => {
                let path = b.config_path.clone().unwrap_or_default();
                let c = default_cid(&hostname(), &path, &b.name);
                tracing::info!(target: "sacn",
                    "source '{}' uses CID {c} (derived from host name, configuration path and name; set `cid` to choose one)",
                    b.name);
                c
            }
        };
        // One socket per joined group: 1,000 universes need more than the usual soft limit.
        match patchbay_net::fdlimit::raise() {
            Ok((before, after)) if after.soft > before.soft => tracing::debug!(target: "sacn",
                "open-file limit raised from {} to {} (one socket per multicast group)",
                before.soft, after.soft),
            Ok(_) => {}
            Err(e) => tracing::debug!(target: "sacn", "cannot raise the open-file limit: {e}"),
        }
        let mut binds = Vec::with_capacity(b.binds.len());
        for (i, bo) in b.binds.iter().enumerate() {
            let ep = UdpEndpoint::open(bind_spec(bo)).map_err(|e| {
                StartError::option("bind", i, format!("sacn bind {i} ({}): {e}", bo.addr))
            })?;
            tracing::info!(target: "sacn", "bind {i}: {ep}");
            binds.push(BindRt {
                families: group_families(&ep, i),
                ep,
                source: None,
                groups: Vec::new(),
                inputs: Vec::new(),
                outputs: Vec::new(),
                sync_dests: Vec::new(),
                out: Box::default(),
                pending: Pending {
                    buf: Box::new([0; MAX_PACKET_LEN]),
                    len: 0,
                    kind: None,
                    next: 0,
                },
                counters: BindCounters::default(),
                malformed_log: [Throttle::default(); DropReason::COUNT],
                discard_log: [Throttle::default(); Discard::COUNT],
                error_log: Throttle::default(),
                unknown_seen: Vec::new(),
                link: None,
            });
        }
        for (idx, inst) in b.instances.iter().enumerate() {
            let mirror_own = b.binds.iter().any(|bo| bo.local);
            setup_instance(&mut binds, cid, &b.name, mirror_own, now, idx, inst, false)?;
        }
        for (i, bind) in binds.iter_mut().enumerate() {
            bind.inputs.sort_unstable_by_key(|e| e.0);
            bind.outputs.sort_unstable_by_key(|e| e.0);
            let ids: Vec<SocketId> = bind.ep.socket_ids().collect();
            for id in ids {
                if let Some(sock) = bind.ep.socket_mut(id) {
                    io.register(sock, tag(i, id), Interest::READABLE)
                        .map_err(|e| {
                            StartError::option(
                                "bind",
                                i,
                                format!("sacn bind {i}: cannot register a socket: {e}"),
                            )
                        })?;
                }
            }
            let joined = bind.ep.memberships().group_count();
            tracing::debug!(target: "sacn",
                "bind {i}: {} input universe(s), {} output universe(s), {joined} group(s) joined",
                bind.inputs.len(), bind.outputs.len());
        }
        let rx_v6 = binds
            .iter()
            .any(|b| b.families.contains(&true))
            .then(Box::default);
        Ok(Runtime {
            cid,
            binds,
            rx_v4: Box::default(),
            rx_v6,
            tx_buf: Box::new([0; MAX_PACKET_LEN]),
            backlog: super::input::Backlog::default(),
            spare: super::input::Backlog::default(),
            split: super::input::TurnSplit::default(),
            last_now: now,
            recv_budget: super::input::RECV_BUDGET,
            next_link_check: now + b.link_check_period,
            link_check_period: b.link_check_period,
        })
    }

    /// Sources merged on an instance's universe now.
    pub fn source_count(&self, inst: &Instance) -> usize {
        let (Some(u), Some(bind)) = (inst.opts.universe, self.binds.get(inst.opts.interface))
        else {
            return 0;
        };
        bind.input_of(u)
            .and_then(|(g, _)| bind.groups[g].rx.universe(u))
            .map_or(0, |r| r.source_count())
    }
}

/// What needs the whole configuration: universes set, bind indices valid (they may come from
/// `-i` overrides), no collisions, destination families that the bind can reach. Every problem,
/// each pointing at its instance; `--check` reports them through `Backend::validate`.
pub(super) fn problems(b: &Sacn) -> Vec<StartError> {
    let mut out = Vec::new();
    for (i, inst) in b.instances.iter().enumerate() {
        let name = &inst.name;
        let Some(u) = inst.opts.universe else {
            out.push(
                StartError::instance(inst.id, "please specify a universe (universe = 1..63999)")
                    .about("universe"),
            );
            continue;
        };
        let Some(bind) = b.binds.get(inst.opts.interface) else {
            let (why, about) = if b.binds.is_empty() {
                (
                    "the sacn backend has no bind line (add e.g. bind = 0.0.0.0 to [backend sacn])"
                        .to_string(),
                    "bind",
                )
            } else {
                (
                    format!("there is no bind {}", inst.opts.interface),
                    "interface",
                )
            };
            out.push(StartError::instance(inst.id, why).about(about));
            continue;
        };
        // Reported once, at the later of the two instances.
        if let Some(other) = b.collision(i) {
            out.push(StartError::instance(
                inst.id,
                format!(
                    "colliding instances: '{name}' and '{other}' both use universe {u} on bind {}",
                    inst.opts.interface
                ),
            ));
        }
        // A bind given as a host name has no address until start looks it up.
        if let Some(d) = inst.opts.destination
            && d.is_ipv6()
            && bind.pending.is_none()
            && bind.addr.is_ipv4()
        {
            out.push(StartError::instance(
                inst.id,
                format!(
                    "destination {d} is IPv6 but bind {} ({}) is IPv4",
                    inst.opts.interface, bind.addr
                ),
            ));
        }
    }
    out
}

/// Sets up instance `idx`'s universe on its bind: the output universe, the receiver and the
/// joins, and the bind's index entries. With `running` (a reload's kept instance) the universe
/// may exist already and is then left as it is: its sequence numbers and levels go on.
#[allow(clippy::too_many_arguments)]
pub(super) fn setup_instance(
    binds: &mut [BindRt],
    cid: Cid,
    source_name: &str,
    mirror_own: bool,
    now: Instant,
    idx: usize,
    inst: &Instance,
    running: bool,
) -> Result<(), StartError> {
    let o = &inst.opts;
    let (Some(u), Some(bind)) = (o.universe, binds.get_mut(o.interface)) else {
        return Ok(()); // validated before
    };
    let fail = |what: String| StartError::instance(inst.id, what);
    if inst.transmits() {
        let source = bind
            .source
            .get_or_insert_with(|| Source::new(cid, source_name, SourceConfig::default()));
        let ucfg = UniverseConfig {
            priority: o.priority,
            sync_address: o.sync,
            realtime: o.realtime,
            ..UniverseConfig::default()
        };
        match source.add_universe(u, ucfg) {
            Err(patchbay_sacn::SourceError::UniverseExists(_)) if running => {}
            r => r.map_err(|e| fail(format!("cannot transmit universe {u}: {e}")))?,
        }
        bind.outputs.push((u, idx as u32));
        if o.sync != 0 {
            let pos = match bind.sync_dests.iter().position(|(s, _)| *s == o.sync) {
                Some(p) => p,
                None => {
                    let groups = bind.families.iter().map(|&v6| group_addr(v6, o.sync));
                    bind.sync_dests.push((o.sync, groups.collect()));
                    bind.sync_dests.len() - 1
                }
            };
            if let Some(d) = o.destination
                && !bind.sync_dests[pos].1.contains(&d)
            {
                bind.sync_dests[pos].1.push(d);
            }
        }
    }
    if !inst.has_inputs() {
        return Ok(());
    }
    let g = match bind.groups.iter().position(|g| {
        g.merge == o.merge && g.accept_preview == o.accept_preview && g.loss == o.loss
    }) {
        Some(g) => g,
        None => {
            // `local` mirrors our own output into our own inputs, as in MIDIMonster HEAD (the
            // issue asks for it): once any bind loops our multicast back, our packets are input
            // wherever they arrive. Without `local` they are dropped.
            let cfg = ReceiverConfig {
                own_cid: (!mirror_own).then_some(cid),
                accept_preview: o.accept_preview,
                merge: o.merge,
                loss: o.loss,
                ..ReceiverConfig::default()
            };
            bind.groups.push(RxGroup {
                merge: o.merge,
                accept_preview: o.accept_preview,
                loss: o.loss,
                rx: Receiver::new(cfg),
            });
            bind.groups.len() - 1
        }
    };
    match bind.groups[g]
        .rx
        .add_universe(now, u, RxUniverse { from: o.from })
    {
        Err(patchbay_sacn::receiver::ReceiverError::AlreadyListening(_)) if running => {}
        r => r.map_err(|e| fail(format!("cannot receive universe {u}: {e}")))?,
    }
    bind.inputs.push((u, g as u16, idx as u32));
    if o.unicast {
        return Ok(());
    }
    for (what, universe) in [("universe", u), ("sync universe", o.sync)] {
        if universe == 0 {
            continue;
        }
        for &v6 in bind.families {
            let group = group_ip(v6, universe);
            bind.ep.join(group).map_err(|e| {
                fail(format!(
                    "cannot join the multicast group {group} of {what} {universe} on bind {} ({}): {e}",
                    o.interface,
                    bind.ep.local_addr()
                ))
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        for (b, id) in [
            (0, SocketId::Main),
            (0, SocketId::Receiver(0)),
            (3, SocketId::Receiver(49)),
            (4095, SocketId::Main),
            (4095, SocketId::Receiver(2 * 63_999)),
            (7, SocketId::Broadcast(0)),
            (7, SocketId::Broadcast(1)),
        ] {
            assert_eq!(untag(tag(b, id)), (b, id));
        }
        assert_ne!(tag(1, SocketId::Main), tag(0, SocketId::Receiver(0)));
    }

    #[test]
    fn groups_use_the_bind_family() {
        assert_eq!(
            group_addr(false, 1),
            "239.255.0.1:5568".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(
            group_addr(true, 123),
            "[ff18::8300:7b]:5568".parse::<SocketAddr>().unwrap()
        );
    }
}
