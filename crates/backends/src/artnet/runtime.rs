//! What exists between start and shutdown: one endpoint and one sans-IO receiver per `bind`,
//! the output state of each sending instance, and the receive and send paths.
//!
//! Receive: ready sockets are drained with a per-turn budget (`patchbay_kit::ReadQueue`) in
//! `recvmmsg` batches; every datagram goes to the bind's `patchbay_artnet::receiver::Receiver`,
//! which checks it, merges up to two sources per universe HTP, holds data for ArtSync and
//! counts what it drops by reason. ArtPoll is answered at once with one ArtPollReply per
//! instance of the bind (Art-Net 4: one port per reply, numbered by BindIndex). Changed
//! universes are then reported through each instance's `SlotMap` (a frame when frame-routed,
//! events per changed channel).
//!
//! Send: each sending instance owns its 512 slots, a sequence counter and a
//! `patchbay_dmx::Pacer`; `flush` builds every due ArtDmx (always the whole universe, so the
//! length is even) into the bind's send batch and sends it with one `sendmmsg`. A full send
//! buffer leaves the rest queued and the socket watched for room. ArtSync follows the turn's
//! ArtDmx for instances with `sync = 1`; with `announce=` the bind polls for nodes every
//! [`POLL_INTERVAL`].

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use patchbay_artnet::receiver::{Event, Handled, Receiver, ReceiverConfig};
use patchbay_artnet::wire::{
    MAX_DMX_PACKET_LEN, POLL_PACKET_LEN, POLL_REPLY_PACKET_LEN, SYNC_PACKET_LEN, status,
};
use patchbay_artnet::{
    DmxHeader, NodeReport, Poll, PollPacket, PollReply, Port, PortAddress, SequenceCounter,
    write_dmx, write_poll, write_poll_reply, write_sync,
};
use patchbay_core::{
    Delivery, FrameCopies, InstanceId, Interest, Io, Ready, Sink, StartError, Stat,
};
use patchbay_dmx::{Limit, MAX_SLOTS, Pacer, PacerConfig};
use patchbay_kit::dmx_channels::write_value;
use patchbay_kit::net_options::Detect;
use patchbay_kit::{Drained, LOG_PERIOD, ReadQueue, SocketTag, Throttle};
use patchbay_net::{BindSpec, RecvBatch, SendBatch, SendError, SocketId, UdpEndpoint};

use super::counters::BindCounters;
use super::options::BindOption;
use super::{Instance, InstanceOptions};

/// Datagrams read from one socket per turn at most.
const RECV_BUDGET: usize = 256;
/// Datagrams per `recvmmsg`.
const RX_BATCH: usize = 32;
/// Receive buffer per datagram: larger than any packet read here, so longer ones show as cut.
const RX_BUF: usize = 1024;
/// ArtDmx per `sendmmsg`.
const TX_BATCH: usize = 32;

/// How often a bind with `announce=` sends ArtPoll (Art-Net 4: controllers poll every 2.5 to
/// 3 s).
pub const POLL_INTERVAL: Duration = Duration::from_millis(2500);

/// Least gap between two ArtDmx of a universe: MIDIMonster's 20 ms (`ARTNET_FRAME_TIMEOUT`).
/// Why not 1/44 s, the DMX512 refresh rate Art-Net 4 refers to: a console at exactly 44 fps
/// would then have no spare slot, and every bit of jitter on its way in would delay frames or,
/// to catch up, drop one a second (measured for sACN's strict 1/44 s, BENCHMARKS.md); 20 ms
/// leaves 2.7 ms of headroom per frame, so a 44 fps input passes frame for frame.
pub const MIN_GAP: Duration = Duration::from_millis(20);

/// Timing of an instance without `realtime`: at most one ArtDmx per 20 ms (50/s, about DMX's
/// 44 fps; MIDIMonster's limit), the latest values, and the universe again after 1 s unchanged (MIDIMonster's
/// keep-alive; Art-Net 4 asks for 800 ms to 1 s, so it is sent a little early).
pub fn limited_pacing() -> PacerConfig {
    PacerConfig {
        limit: Limit::Strict {
            min_gap: MIN_GAP,
            late_allowance: Duration::from_millis(1),
            catch_up: Some(Duration::from_millis(2)),
        },
        repeats: 0,
        repeat_gap: MIN_GAP,
        repeat_delay: Duration::ZERO,
        keep_alive: Duration::from_millis(950),
    }
}

/// Timing of a `realtime` instance: every change goes out at once, with a cap of 4,000 packets
/// per second per universe as a guard against feedback loops.
pub fn realtime_pacing() -> PacerConfig {
    PacerConfig {
        limit: Limit::Burst {
            min_gap: Duration::from_micros(250),
            burst: Duration::from_millis(1),
        },
        ..limited_pacing()
    }
}

/// The send state of one instance with a destination.
#[derive(Debug)]
pub(super) struct Output {
    pub slots: [u8; MAX_SLOTS],
    pacer: Pacer,
    sequence: SequenceCounter,
    dest: SocketAddr,
    address: PortAddress,
    pacing: PacerConfig,
}

impl Output {
    fn deadline(&self) -> Option<Instant> {
        self.pacer.deadline(&self.pacing)
    }
}

type RxBatch = RecvBatch<RX_BATCH, RX_BUF>;
type TxBatch = SendBatch<TX_BATCH, MAX_DMX_PACKET_LEN>;

/// Run-time state of one `bind`.
struct BindRt {
    ep: UdpEndpoint,
    rx: Receiver,
    /// (Port-Address, instance index) of instances that receive, sorted.
    inputs: Vec<(PortAddress, u32)>,
    /// Instances that send, in order.
    outputs: Vec<u32>,
    /// Every instance of the bind, for ArtPollReply, sorted by Port-Address.
    ports: Vec<(Port, u32)>,
    /// The IPv4 address ArtPollReply reports when known without asking the routes: the
    /// `announce=` address, or the bind's own.
    reply_ip: Option<Ipv4Addr>,
    /// Where ArtPoll goes (`announce=`), and when next.
    poll_to: Option<SocketAddr>,
    next_poll: Instant,
    /// Destinations of ArtSync: those of the bind's instances with `sync = 1`.
    sync_dests: Vec<SocketAddr>,
    /// ArtDmx of the current flush; what the kernel had no room for stays here.
    batch: Box<TxBatch>,
    /// The main socket is watched for room to send.
    watching: bool,
    counters: BindCounters,
    drop_log: Throttle,
    error_log: Throttle,
}

/// Everything that exists only between start and shutdown.
pub(super) struct Runtime {
    binds: Vec<BindRt>,
    reads: ReadQueue,
    rx_batch: Box<RxBatch>,
    /// The rest of `rx_batch` after a turn that ended early ([`Carry`]).
    carry: Option<Carry>,
    last_now: Instant,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("binds", &self.binds.len())
            .finish_non_exhaustive()
    }
}

/// Sockets of a bind as tag numbers: the main socket 0, broadcast socket `n` at `1 + n`.
fn socket_number(id: SocketId) -> u16 {
    match id {
        SocketId::Main => 0,
        SocketId::Broadcast(n) => 1 + n as u16,
        // Art-Net joins no groups.
        SocketId::Receiver(n) => 0x8000 | n as u16,
    }
}

fn socket_id(n: u16) -> SocketId {
    match n {
        0 => SocketId::Main,
        n if n & 0x8000 != 0 => SocketId::Receiver(usize::from(n & 0x7fff)),
        n => SocketId::Broadcast(usize::from(n - 1)),
    }
}

fn tag(bind: usize, id: SocketId) -> u32 {
    SocketTag::new(bind as u16, socket_number(id)).tag()
}

/// What needs the whole configuration: a bind for every instance, no two instances on one
/// Port-Address of one bind. Every problem, each pointing at its instance.
pub(super) fn problems<'a>(
    binds: &[BindOption],
    instances: impl Iterator<Item = (InstanceId, &'a String, &'a InstanceOptions)>,
) -> Vec<StartError> {
    let mut out = Vec::new();
    let mut seen: Vec<(usize, PortAddress, &String)> = Vec::new();
    for (id, name, o) in instances {
        if o.interface >= binds.len() {
            let (why, about) = if binds.is_empty() {
                (
                    "the artnet backend has no bind line (add e.g. bind = 0.0.0.0 to [backend artnet])"
                        .to_string(),
                    "bind",
                )
            } else {
                (format!("there is no bind {}", o.interface), "interface")
            };
            out.push(StartError::instance(id, why).about(about));
            continue;
        }
        let key = (o.interface, o.address());
        if let Some((_, _, other)) = seen.iter().find(|(b, a, _)| (*b, *a) == key) {
            out.push(StartError::instance(
                id,
                format!(
                    "colliding instances: '{name}' and '{other}' both use Port-Address {} on bind {} (use one instance per universe)",
                    o.address(),
                    o.interface
                ),
            ));
        }
        seen.push((key.0, key.1, name));
        if let (Some(d), Some(b)) = (o.destination, binds.get(o.interface))
            && d.is_ipv6() != b.addr.is_ipv6()
            && b.pending.is_none()
            && !(b.addr.is_ipv6() && b.addr.ip().is_unspecified())
        {
            out.push(StartError::instance(
                id,
                format!(
                    "destination {d} and bind {} ({}) are of different address families",
                    o.interface, b.addr
                ),
            ));
        }
    }
    out
}

/// The address a bind's own packets come from, where it can be known: the bind's, or for a
/// wildcard the interface address the route to `dest` uses.
fn own_address(bind: SocketAddr, dest: Option<SocketAddr>) -> Option<SocketAddrV4> {
    match bind {
        SocketAddr::V4(a) if !a.ip().is_unspecified() => Some(a),
        _ => {
            let dest = dest?;
            match patchbay_net::iface::route_interface(dest.ip()).ok()?.addr {
                IpAddr::V4(ip) => Some(SocketAddrV4::new(ip, bind.port())),
                IpAddr::V6(_) => None,
            }
        }
    }
}

impl Runtime {
    pub fn open(
        binds: &[BindOption],
        instances: &mut [Instance],
        now: Instant,
        io: &mut Io<'_>,
    ) -> Result<Runtime, StartError> {
        let mut rts = Vec::with_capacity(binds.len());
        for (i, bo) in binds.iter().enumerate() {
            let mut spec = BindSpec::new(bo.addr, false);
            // A bind to one address hears ArtPoll and broadcast ArtDmx too (MIDIMonster's
            // documented limit: bind the wildcard).
            spec.broadcast_in = bo.addr.is_ipv4() && !bo.addr.ip().is_unspecified();
            let ep = UdpEndpoint::open(spec).map_err(|e| {
                StartError::option("bind", i, format!("artnet bind {i} ({}): {e}", bo.addr))
            })?;
            tracing::info!(target: "artnet", "bind {i}: {ep}");
            let local = ep.local_addr();
            let reply_ip = bo.announce.or(match local {
                SocketAddr::V4(a) if !a.ip().is_unspecified() => Some(*a.ip()),
                _ => None,
            });
            let poll_to = bo.announce.map(|a| {
                let bcast = patchbay_net::iface::broadcast_of(a)
                    .ok()
                    .flatten()
                    .unwrap_or(Ipv4Addr::BROADCAST);
                SocketAddr::new(IpAddr::V4(bcast), options_port())
            });
            rts.push(BindRt {
                ep,
                rx: Receiver::new(ReceiverConfig::default()),
                inputs: Vec::new(),
                outputs: Vec::new(),
                ports: Vec::new(),
                reply_ip,
                poll_to,
                next_poll: now,
                sync_dests: Vec::new(),
                batch: Box::default(),
                watching: false,
                counters: BindCounters::default(),
                drop_log: Throttle::default(),
                error_log: Throttle::default(),
            });
        }
        let mut own: Vec<Vec<SocketAddrV4>> = vec![Vec::new(); rts.len()];
        for (idx, inst) in instances.iter_mut().enumerate() {
            let o = &inst.opts;
            let Some(bind) = rts.get_mut(o.interface) else {
                continue; // validated before
            };
            let address = o.address();
            let receives = inst.has_inputs();
            if receives {
                bind.rx.add_universe(address).map_err(|e| {
                    StartError::instance(inst.id, format!("cannot receive {address}: {e}"))
                })?;
                bind.inputs.push((address, idx as u32));
            }
            // An output port (patchbay takes the universe) always, as MIDIMonster reports it; an
            // input port (patchbay sends it) with a destination. Data flags are set per reply.
            let port = Port::new(address, true, o.destination.is_some());
            bind.ports.push((port, idx as u32));
            if let Some(dest) = o.destination {
                bind.outputs.push(idx as u32);
                if o.sync && !bind.sync_dests.contains(&dest) {
                    bind.sync_dests.push(dest);
                }
                let mut pacer = Pacer::new();
                // The universe goes out at start (zeros until values come) and is refreshed
                // from then on, as MIDIMonster does: a node sees its controller at once.
                pacer.change(now, &limited_pacing());
                inst.out = Some(Box::new(Output {
                    slots: [0; MAX_SLOTS],
                    pacer,
                    sequence: SequenceCounter::new(),
                    dest,
                    address,
                    pacing: if o.realtime {
                        realtime_pacing()
                    } else {
                        limited_pacing()
                    },
                }));
                if let Some(a) = own_address(bind.ep.local_addr(), Some(dest))
                    && !own[o.interface].contains(&a)
                {
                    own[o.interface].push(a);
                }
            }
        }
        for (i, bind) in rts.iter_mut().enumerate() {
            bind.inputs.sort_unstable_by_key(|e| e.0);
            bind.ports.sort_by_key(|p| p.0.address);
            if let Some(a) = own_address(bind.ep.local_addr(), bind.poll_to) {
                own[i].push(a);
            }
            if let Some(ip) = bind.reply_ip {
                own[i].push(SocketAddrV4::new(ip, bind.ep.local_addr().port()));
            }
            for &a in &own[i] {
                bind.rx.add_own_address(a);
            }
            let ids: Vec<SocketId> = bind.ep.socket_ids().collect();
            for id in ids {
                if let Some(sock) = bind.ep.socket_mut(id) {
                    io.register(sock, tag(i, id), Interest::READABLE)
                        .map_err(|e| {
                            StartError::option(
                                "bind",
                                i,
                                format!("artnet bind {i}: cannot register a socket: {e}"),
                            )
                        })?;
                }
            }
            tracing::debug!(target: "artnet",
                "bind {i}: {} input universe(s), {} output universe(s)",
                bind.inputs.len(), bind.outputs.len());
        }
        Ok(Runtime {
            binds: rts,
            reads: ReadQueue::new(RECV_BUDGET),
            rx_batch: Box::default(),
            carry: None,
            last_now: now,
        })
    }

    pub fn bind_addr(&self, index: usize) -> Option<SocketAddr> {
        self.binds.get(index).map(|b| b.ep.local_addr())
    }

    /// Sources merged on the universe of the instance with `opts`.
    pub fn source_count(&self, opts: &InstanceOptions) -> usize {
        self.binds
            .get(opts.interface)
            .and_then(|b| b.rx.universe(opts.address()))
            .map_or(0, |u| u.source_count())
    }

    /// The merged input of the instance with `opts`, if it receives.
    pub fn input_slots(&self, opts: &InstanceOptions) -> Option<&[u8]> {
        self.binds
            .get(opts.interface)
            .and_then(|b| b.rx.universe(opts.address()))
            .map(|u| &u.slots()[..])
    }

    pub fn stats(&self, out: &mut Vec<Stat>) {
        for (i, b) in self.binds.iter().enumerate() {
            b.counters.stats(
                i,
                b.rx.counters(),
                b.ep.kernel_drops(),
                b.ep.rcvbuf_shrinks(),
                out,
            );
        }
    }

    /// Earliest moment the backend has work: receiver timers, due output, a poll, a backlog.
    pub fn poll_timeout(&self, instances: &[Instance]) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for bind in &self.binds {
            at(bind.rx.poll_timeout());
            if bind.poll_to.is_some() {
                at(Some(bind.next_poll));
            }
            if bind.watching {
                continue; // writability wakes the loop
            }
            for &i in &bind.outputs {
                at(instances
                    .get(i as usize)
                    .and_then(|inst| inst.out.as_deref())
                    .and_then(Output::deadline));
            }
        }
        if self.reads.is_waiting() || self.carry.is_some() {
            at(Some(self.last_now));
        }
        t
    }

    /// Reads every ready socket (within the budget), answers polls, runs the receivers' timers
    /// and reports what changed.
    pub fn receive(
        &mut self,
        now: Instant,
        ready: &[Ready],
        instances: &mut [Instance],
        detect: Detect,
        sink: &mut Sink<'_>,
    ) {
        self.last_now = now;
        let Runtime {
            binds,
            reads,
            rx_batch,
            carry,
            ..
        } = self;
        let mut turn = Turn {
            now,
            detect,
            fed: 0,
            ended: false,
        };
        // What the last turn left in the batch goes first.
        if let Some(c) = carry.take() {
            let t = SocketTag::from_tag(c.tag);
            let b = usize::from(t.group);
            if let Some(bind) = binds.get_mut(b)
                && let Some(next) = feed_batch(bind, b, rx_batch, c.next, instances, &mut turn)
            {
                *carry = Some(Carry { next, ..c });
                turn.ended = true;
            }
        }
        reads.run(ready, |tag, budget| {
            if turn.ended {
                return Drained::More; // read next turn, which follows at once
            }
            let t = SocketTag::from_tag(tag);
            let b = usize::from(t.group);
            let Some(bind) = binds.get_mut(b) else {
                return Drained::Dry;
            };
            let (drained, split) = drain(
                bind,
                b,
                socket_id(t.socket),
                budget,
                rx_batch,
                instances,
                &mut turn,
            );
            if let Some(next) = split {
                *carry = Some(Carry { tag, next });
                turn.ended = true;
                return Drained::More;
            }
            drained
        });
        for bind in binds.iter_mut() {
            bind.rx.handle_timeout(now);
            report(bind, instances, detect, sink);
        }
    }
}

/// How long a datagram may have waited in the kernel before frames of one universe read in one
/// turn are merged instead of ending the turn (as the sACN backend: input this far behind is
/// load the loop cannot keep up with, where the latest values beat every frame).
const COALESCE_AFTER: Duration = Duration::from_millis(8);

/// Where the rest of a receive batch starts, after a turn that ended early.
#[derive(Clone, Copy, Debug)]
pub(super) struct Carry {
    /// The socket the batch was read from.
    tag: u32,
    /// The first datagram not fed yet.
    next: usize,
}

/// What one turn's reads share.
struct Turn {
    now: Instant,
    detect: Detect,
    /// Datagrams taken this turn: a turn never ends before its first.
    fed: usize,
    /// The turn ended at a repeated universe: nothing more is read.
    ended: bool,
}

/// Whether `bytes` is ArtDmx that would merge into a change of its universe this turn has not
/// reported yet. Why the turn ends there: the core routes once per turn and the output sends
/// one packet per universe per turn, so the earlier frame would never be forwarded.
fn would_coalesce(bind: &BindRt, bytes: &[u8]) -> bool {
    match patchbay_artnet::Packet::parse(bytes) {
        Ok(patchbay_artnet::Packet::Dmx(p)) => bind.rx.has_pending_change(p.port_address()),
        _ => false,
    }
}

/// Feeds datagrams `from..` of the batch; returns the one the turn ends at (not fed), if any.
fn feed_batch(
    bind: &mut BindRt,
    b: usize,
    batch: &RxBatch,
    from: usize,
    instances: &mut [Instance],
    turn: &mut Turn,
) -> Option<usize> {
    for i in from..batch.len() {
        let Some((meta, bytes)) = batch.get(i) else {
            continue;
        };
        let behind = meta.waited.is_some_and(|w| w > COALESCE_AFTER);
        if turn.fed > 0 && !meta.truncated && !behind && would_coalesce(bind, bytes) {
            bind.counters.turns_split += 1;
            return Some(i);
        }
        turn.fed += 1;
        feed(bind, b, turn.now, meta, bytes, instances, turn.detect);
    }
    None
}

/// Reads socket `sid` of bind `b` in batches until it is dry, `budget` is spent or the turn
/// ends at a repeated universe (then the index of the batch's first datagram not fed).
fn drain(
    bind: &mut BindRt,
    b: usize,
    sid: SocketId,
    budget: usize,
    batch: &mut RxBatch,
    instances: &mut [Instance],
    turn: &mut Turn,
) -> (Drained, Option<usize>) {
    let mut left = budget;
    while left > 0 {
        let asked = left.min(RX_BATCH);
        let n = match bind.ep.recv_batch_max(sid, batch, asked) {
            Ok(0) => return (Drained::Dry, None),
            Ok(n) => n,
            Err(e) => {
                if let Some(n) = bind.error_log.hit(turn.now, LOG_PERIOD) {
                    tracing::warn!(target: "artnet", "bind {b}: {e} ({n} time(s))");
                }
                return (Drained::Dry, None);
            }
        };
        left = left.saturating_sub(n);
        if let Some(next) = feed_batch(bind, b, batch, 0, instances, turn) {
            return (Drained::More, Some(next));
        }
        if n < asked {
            return (Drained::Dry, None);
        }
    }
    (Drained::More, None)
}

/// One datagram: checked and merged by the receiver, a poll answered.
fn feed(
    bind: &mut BindRt,
    b: usize,
    now: Instant,
    meta: &patchbay_net::RecvMeta,
    bytes: &[u8],
    instances: &mut [Instance],
    detect: Detect,
) {
    bind.counters.datagrams += 1;
    if meta.truncated {
        bind.counters.oversize += 1;
        return;
    }
    let from = match meta.src {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(ip) => SocketAddrV4::new(ip, a.port()),
            None => {
                bind.counters.not_ipv4 += 1;
                return;
            }
        },
    };
    match bind.rx.handle_datagram(now, from, bytes) {
        Ok(Handled::Dmx { address, .. } | Handled::Held { address }) => {
            if let Ok(p) = bind.inputs.binary_search_by_key(&address, |e| e.0)
                && let Some(inst) = instances.get_mut(bind.inputs[p].1 as usize)
            {
                inst.counters.frames_in += 1;
            }
        }
        Ok(Handled::Poll(p)) => answer_poll(bind, b, now, &p, from, instances),
        Ok(Handled::PollReply(r)) => {
            if detect != Detect::Off {
                tracing::info!(target: "artnet", "bind {b}: node '{}' ({}) at {} answered",
                    r.short_name(), r.long_name(), r.ip());
            }
        }
        Ok(Handled::Sync { .. } | Handled::Ignored(_)) => {}
        Err(d) => {
            let verbose = detect == Detect::Verbose;
            if let Some(n) = bind.drop_log.hit(now, LOG_PERIOD) {
                if verbose {
                    tracing::info!(target: "artnet", "bind {b}: dropped {d} ({n} time(s))");
                } else {
                    tracing::debug!(target: "artnet", "bind {b}: dropped {d} ({n} time(s))");
                }
            }
        }
    }
}

/// The IPv4 address a poller at `from` reaches this bind at.
fn reply_ip(bind: &BindRt, from: SocketAddrV4) -> Ipv4Addr {
    if let Some(ip) = bind.reply_ip {
        return ip;
    }
    match patchbay_net::iface::route_interface(IpAddr::V4(*from.ip())).map(|i| i.addr) {
        Ok(IpAddr::V4(ip)) => ip,
        _ => Ipv4Addr::UNSPECIFIED,
    }
}

/// ArtPollReply per instance of the bind (the ones a targeted poll asks for), or one without
/// ports when the bind has none, sent to the poller.
fn answer_poll(
    bind: &mut BindRt,
    b: usize,
    now: Instant,
    poll: &PollPacket<'_>,
    from: SocketAddrV4,
    instances: &[Instance],
) {
    let ip = reply_ip(bind, from);
    let mut buf = [0u8; POLL_REPLY_PACKET_LEN];
    let mut send = |bind: &mut BindRt, name: &str, index: u8, ports: &[Port]| {
        let long = format!("patchbay - {name}");
        let counter = bind.counters.poll_replies_sent as u32;
        let r = PollReply {
            ip,
            version_info: 1,
            oem: 0x00ff,
            status1: status::STATUS1_INDICATORS_NORMAL,
            esta_manufacturer: 0,
            short_name: name,
            long_name: &long,
            report: NodeReport {
                code: status::REPORT_POWER_OK,
                counter,
                text: "patchbay running",
            },
            style: status::STYLE_NODE,
            mac: [0; 6],
            bind_ip: ip,
            bind_index: index,
            status2: status::STATUS2_PORT_ADDRESS_15BIT,
        };
        let Ok(n) = write_poll_reply(&mut buf, &r, ports) else {
            return;
        };
        match bind.ep.send_to(&buf[..n], SocketAddr::V4(from)) {
            Ok(_) => {
                bind.counters.poll_replies_sent += 1;
                bind.counters.packets_out += 1;
            }
            Err(e) => count_send_error(bind, b, now, &e),
        }
    };
    if bind.ports.is_empty() {
        send(bind, "patchbay", 1, &[]);
        return;
    }
    for k in 0..bind.ports.len() {
        let (mut port, idx) = bind.ports[k];
        if !poll.wants(port.address) {
            continue;
        }
        let Some(inst) = instances.get(idx as usize) else {
            continue;
        };
        if bind
            .rx
            .universe(port.address)
            .is_some_and(|u| u.source_count() > 0)
        {
            port.good_output_a |= status::GOOD_OUTPUT_DATA;
        }
        if inst.counters.frames_out > 0 {
            port.good_input |= status::GOOD_INPUT_DATA;
        }
        let index = u8::try_from(k + 1).unwrap_or(u8::MAX);
        send(bind, &inst.name, index, &[port]);
    }
}

fn count_send_error(bind: &mut BindRt, b: usize, now: Instant, e: &SendError) {
    if matches!(e, SendError::WouldBlock) {
        bind.counters.send_would_block += 1;
        return;
    }
    bind.counters.send_errors += 1;
    if let Some(n) = bind.error_log.hit(now, LOG_PERIOD) {
        tracing::warn!(target: "artnet", "bind {b}: {e} ({n} time(s))");
    }
}

/// Source events (counted, logged with `detect`) and changed universes (reported).
fn report(bind: &mut BindRt, instances: &mut [Instance], detect: Detect, sink: &mut Sink<'_>) {
    let find = |bind: &BindRt, a: PortAddress| {
        bind.inputs
            .binary_search_by_key(&a, |e| e.0)
            .ok()
            .map(|p| bind.inputs[p].1 as usize)
    };
    while let Some(ev) = bind.rx.poll_event() {
        let (address, what) = match ev {
            Event::SourceAdded { address, .. } => (address, 0),
            Event::SourceLost { address, .. } => (address, 1),
            Event::SourceRefused { address, .. } => (address, 2),
            Event::SyncStarted { controller } | Event::SyncLost { controller } => {
                if detect != Detect::Off {
                    tracing::info!(target: "artnet", "{ev:?} ({controller})");
                }
                continue;
            }
        };
        let Some(inst) = find(bind, address).and_then(|i| instances.get_mut(i)) else {
            continue;
        };
        match what {
            0 => inst.counters.sources_added += 1,
            1 => inst.counters.sources_lost += 1,
            _ => inst.counters.sources_refused += 1,
        }
        if detect != Detect::Off {
            tracing::info!(target: "artnet", "instance '{}' (Port-Address {address}): {ev:?}", inst.name);
        }
    }
    while let Some((address, changes)) = bind.rx.poll_changed() {
        let (Some(i), Some(u)) = (find(bind, address), bind.rx.universe(address)) else {
            continue;
        };
        let Some(inst) = instances.get_mut(i) else {
            continue;
        };
        if let Some(map) = inst.map.as_deref() {
            let n = map.report(inst.id, &changes, u.slots(), sink);
            inst.counters.events_in += n as u64;
        }
    }
}

/// Writes one routing round's values into the instance's universe; a packet is scheduled only
/// if a byte changed.
pub(super) fn apply(now: Instant, inst: &mut Instance, deliveries: &[Delivery]) {
    let (Some(map), Some(out)) = (inst.map.as_deref(), inst.out.as_deref_mut()) else {
        return;
    };
    let mut changed = false;
    for d in deliveries {
        if let Some(spec) = map.spec_of_key(d.key) {
            changed |= write_value(&mut out.slots, spec, d.value);
        }
    }
    if changed {
        out.pacer.change(now, &out.pacing);
    }
}

/// Copies one routing round's frames into the instance's universe, as [`apply`].
pub(super) fn apply_frames(now: Instant, inst: &mut Instance, copies: FrameCopies<'_>) {
    let Some(out) = inst.out.as_deref_mut() else {
        return;
    };
    let mut changed = false;
    for copy in copies.iter() {
        changed |= copy.apply(&mut out.slots[..]);
    }
    if changed {
        out.pacer.change(now, &out.pacing);
    }
}

/// Art-Net's port, for ArtPoll's destination.
fn options_port() -> u16 {
    super::options::PORT
}

impl Runtime {
    /// Sends everything due: what a full buffer left first, then every due ArtDmx, ArtSync
    /// after them, and ArtPoll when its time has come.
    pub fn transmit(&mut self, now: Instant, instances: &mut [Instance], io: &mut Io<'_>) {
        self.last_now = now;
        for (b, bind) in self.binds.iter_mut().enumerate() {
            transmit_bind(bind, b, now, instances);
            let waiting = !bind.batch.is_empty();
            if waiting != bind.watching {
                watch_for_room(bind, b, now, io, waiting);
            }
        }
    }

    /// At shutdown: sends what is queued once more.
    pub fn drain_queued(&mut self, now: Instant, instances: &mut [Instance], _io: &mut Io<'_>) {
        for (b, bind) in self.binds.iter_mut().enumerate() {
            send_batch(bind, b, now, instances);
        }
    }

    /// The shutdown summary: traffic and drops per bind.
    pub fn log_summary(&self) {
        for (b, bind) in self.binds.iter().enumerate() {
            let c = &bind.counters;
            let rx = bind.rx.counters();
            tracing::info!(target: "artnet",
                "bind {b} ({}): {} datagram(s) in, {} ArtDmx used, {} packet(s) out, {} send error(s); dropped {} ({} malformed)",
                bind.ep.local_addr(), c.datagrams, rx.dmx, c.packets_out, c.send_errors,
                c.dropped_total(rx), rx.malformed_total());
        }
    }
}

fn watch_for_room(bind: &mut BindRt, b: usize, now: Instant, io: &mut Io<'_>, waiting: bool) {
    let Some(sock) = bind.ep.socket_mut(SocketId::Main) else {
        return;
    };
    match io.watch_for_room(sock, tag(b, SocketId::Main), waiting) {
        Ok(()) => bind.watching = waiting,
        Err(e) => {
            if let Some(n) = bind.error_log.hit(now, LOG_PERIOD) {
                tracing::warn!(target: "artnet", "bind {b}: cannot watch the socket for room to send: {e} ({n} time(s))");
            }
        }
    }
}

/// Sends the bind's batch; returns whether it is empty now.
fn send_batch(bind: &mut BindRt, b: usize, now: Instant, instances: &mut [Instance]) -> bool {
    let mut i = 0;
    while i < bind.batch.len() {
        match bind.ep.send_batch(&mut bind.batch, i) {
            Ok(0) => break,
            Ok(n) => {
                for k in i..i + n {
                    if let Some((_, _, idx)) = bind.batch.get(k)
                        && let Some(inst) = instances.get_mut(idx as usize)
                    {
                        inst.counters.frames_out += 1;
                    }
                }
                bind.counters.packets_out += n as u64;
                i += n;
            }
            Err(SendError::WouldBlock) => {
                bind.counters.send_would_block += 1;
                break;
            }
            Err(e) => {
                if let Some((_, _, idx)) = bind.batch.get(i)
                    && let Some(inst) = instances.get_mut(idx as usize)
                {
                    inst.counters.send_errors += 1;
                    if let Some(n) = inst.send_error_log.hit(now, LOG_PERIOD) {
                        tracing::warn!(target: "artnet", "bind {b}: instance '{}': {e} ({n} time(s))", inst.name);
                    }
                }
                bind.counters.send_errors += 1;
                i += 1;
            }
        }
    }
    bind.batch.consume(i);
    bind.batch.is_empty()
}

fn transmit_bind(bind: &mut BindRt, b: usize, now: Instant, instances: &mut [Instance]) {
    if !send_batch(bind, b, now, instances) {
        return;
    }
    let mut synced = false;
    for k in 0..bind.outputs.len() {
        let idx = bind.outputs[k] as usize;
        let Some(inst) = instances.get_mut(idx) else {
            continue;
        };
        let sync = inst.opts.sync;
        let Some(out) = inst.out.as_deref_mut() else {
            continue;
        };
        if out.deadline().is_none_or(|t| t > now) {
            continue;
        }
        if bind.batch.is_full() && !send_batch(bind, b, now, instances) {
            break; // no room: the rest waits for the socket to drain
        }
        let Some(inst) = instances.get_mut(idx) else {
            continue;
        };
        let Some(out) = inst.out.as_deref_mut() else {
            continue;
        };
        let Some(slot) = bind.batch.slot() else {
            break;
        };
        let _ = out.pacer.poll(now, &out.pacing);
        let h = DmxHeader {
            sequence: out.sequence.next_sequence(),
            physical: 0,
            address: out.address,
        };
        // The whole universe: 512 slots, an even length.
        if let Ok(n) = write_dmx(&mut slot[..], &h, &out.slots) {
            bind.batch.commit(n, out.dest, idx as u32);
            synced |= sync;
        }
    }
    if !send_batch(bind, b, now, instances) {
        return;
    }
    if synced {
        let mut buf = [0u8; SYNC_PACKET_LEN];
        if let Ok(n) = write_sync(&mut buf) {
            for k in 0..bind.sync_dests.len() {
                match bind.ep.send_to(&buf[..n], bind.sync_dests[k]) {
                    Ok(_) => {
                        bind.counters.syncs_sent += 1;
                        bind.counters.packets_out += 1;
                    }
                    Err(e) => count_send_error(bind, b, now, &e),
                }
            }
        }
    }
    if let Some(to) = bind.poll_to
        && now >= bind.next_poll
    {
        bind.next_poll = now + POLL_INTERVAL;
        let mut buf = [0u8; POLL_PACKET_LEN];
        if let Ok(n) = write_poll(&mut buf, &Poll::default()) {
            match bind.ep.send_to(&buf[..n], to) {
                Ok(_) => {
                    bind.counters.polls_sent += 1;
                    bind.counters.packets_out += 1;
                }
                Err(e) => count_send_error(bind, b, now, &e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip() {
        for (b, id) in [
            (0, SocketId::Main),
            (3, SocketId::Broadcast(0)),
            (254, SocketId::Broadcast(1)),
        ] {
            let t = SocketTag::from_tag(tag(b, id));
            assert_eq!((usize::from(t.group), socket_id(t.socket)), (b, id));
        }
    }

    #[test]
    fn pacing_is_one_per_20_ms_with_a_keep_alive_within_a_second() {
        let cfg = limited_pacing();
        let t0 = Instant::now();
        let mut p = Pacer::new();
        p.change(t0, &cfg);
        assert!(p.poll(t0, &cfg).is_some());
        p.change(t0 + Duration::from_millis(1), &cfg);
        assert_eq!(p.deadline(&cfg), Some(t0 + MIN_GAP));
        assert!(p.poll(t0 + MIN_GAP, &cfg).is_some());
        let ka = p.deadline(&cfg).unwrap() - (t0 + MIN_GAP);
        assert!(ka <= Duration::from_secs(1) && ka >= Duration::from_millis(800));
        let rt = realtime_pacing();
        let mut p = Pacer::new();
        p.change(t0, &rt);
        assert!(p.poll(t0, &rt).is_some());
        p.change(t0, &rt);
        assert!(
            p.poll(t0, &rt).is_some(),
            "realtime: the next change goes at once"
        );
    }
}
