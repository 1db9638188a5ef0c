//! One load session: a sender (the calling thread, paced per phase), a receiver thread verifying
//! every frame, and the per-phase accounting that turns both into a [`PhaseReport`].
//!
//! Frames are attributed to a phase by the send time they carry, so a frame that arrives after its
//! phase ended (a backlog draining) still counts for the phase that sent it.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::socket::SockaddrIn;
use patchbay_sacn::Cid;

use crate::histogram::Histogram;
use crate::net::{self, BATCH, RxBatch, TxBatch};
use crate::pacing::{Schedule, now_ns, wait_until};
use crate::packet::{self, Kind, Wire};
use crate::pattern::{self, FrameTag, SLOTS, Verdict};
use crate::procfs::{self, ProcSample, UdpState};
use crate::report::PhaseReport;

/// How far behind schedule the sender must be before it skips ticks rather than catching up.
const SKIP_AFTER_NS: u64 = 20_000_000;

/// How input reaches the translator and output comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Input to the translator's address; output to the tool's receive address.
    Unicast,
    /// Input to the input universes' groups; output to the output universes' groups, which the
    /// tool joins.
    Multicast,
}

/// What the slots carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternKind {
    /// Every slot changes every frame; id, send time and a check in the slots ([`pattern`]).
    Full,
    /// Only slot 1 changes; the send time is looked up by its value.
    Single,
}

/// Session parameters.
#[derive(Debug, Clone)]
pub struct Setup {
    /// Number of universes.
    pub universes: u16,
    /// First input universe.
    pub first: u16,
    /// Output universe = input universe + offset.
    pub offset: u16,
    /// Unicast or multicast.
    pub mode: Mode,
    /// Where input goes in unicast mode (the translator's bind address).
    pub target: SocketAddrV4,
    /// Where the tool receives in unicast mode (the translator's `destination`).
    pub listen: SocketAddrV4,
    /// Loop to itself: send output-universe frames straight to the receive socket (tool ceiling).
    pub self_test: bool,
    /// Slot pattern.
    pub pattern: PatternKind,
    /// Spin for the last ns of each wait instead of sleeping.
    pub spin_ns: u64,
    /// Sends per frame period: 1 = all universes in one burst per tick (what a console does);
    /// N = the universes split into N groups sent at evenly spaced moments of the period.
    pub chunks: u16,
    /// Process whose CPU, memory and socket drops are reported.
    pub pid: Option<u32>,
    /// What the tool sends (unicast only for Art-Net); what comes back is recognised either way.
    pub input: Wire,
}

impl Setup {
    fn out_first(&self) -> u16 {
        self.first.wrapping_add(self.offset)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct UniverseState {
    last_id: u32,
    last_single: u8,
    last_torn: u64,
}

/// Receive-side counts of one phase.
#[derive(Debug, Clone, Default)]
pub struct RecvCounts {
    /// Frames received for the first time with every slot verified.
    pub received: u64,
    /// Frames whose slots did not all belong to one input frame (repeats of one torn state once).
    pub torn: u64,
    /// Copies of a frame already received (the translator's repeats and keep-alives).
    pub duplicates: u64,
    /// Frames older than one already received.
    pub reordered: u64,
    /// Added latency, ns.
    pub latency: Histogram,
    /// Receive time of the first and the last frame counted.
    pub first_ns: Option<u64>,
    /// See `first_ns`.
    pub last_ns: u64,
}

struct PhaseSlot {
    start_ns: u64,
    counts: RecvCounts,
}

struct RxState {
    phases: Vec<PhaseSlot>,
    universes: Vec<UniverseState>,
    terminated: u64,
    other: u64,
    foreign: u64,
}

impl RxState {
    fn phase_of(&mut self, sent_ns: u64) -> Option<&mut RecvCounts> {
        let i = self.phases.partition_point(|p| p.start_ns <= sent_ns);
        self.phases
            .get_mut(i.checked_sub(1)?)
            .map(|p| &mut p.counts)
    }
}

struct Shared {
    state: Mutex<RxState>,
    stop: AtomicBool,
    /// Single pattern: send time per (universe index, slot value).
    ring: Vec<AtomicU64>,
}

fn lock(m: &Mutex<RxState>) -> MutexGuard<'_, RxState> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Socket setup failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// A universe number outside 1..63999.
    #[error("universe {0} outside 1..63999")]
    Universe(u16),
    /// Art-Net input over multicast (Art-Net has none).
    #[error("Art-Net input is unicast only (--mode unicast)")]
    ArtnetMulticast,
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> SessionError {
    move |source| SessionError::Io { what, source }
}

/// Send-side figures of one phase.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendCounts {
    /// Frames handed to the kernel.
    pub sent: u64,
    /// Frames the kernel refused.
    pub failed: u64,
    /// Wall time from the first to the last tick, ns.
    pub elapsed_ns: u64,
    /// Worst wake-up lateness, ns.
    pub max_late_ns: u64,
    /// Ticks skipped because the sender fell more than a tick behind.
    pub skipped: u64,
}

/// A running session.
pub struct Session {
    setup: Setup,
    epoch: Instant,
    tx: UdpSocket,
    tx_batch: TxBatch,
    packets: Vec<Vec<u8>>,
    addrs: Vec<Option<SockaddrIn>>,
    counters: Vec<u64>,
    shared: Arc<Shared>,
    receiver: Option<JoinHandle<std::io::Result<()>>>,
    phases: Vec<(String, f64, SendCounts, Sample, Sample)>,
    own_pid: u32,
}

/// Counters of the target and of the tool at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    /// Ns since the epoch.
    pub at_ns: u64,
    /// The target process, if any (and alive).
    pub target: Option<ProcSample>,
    /// The target's UDP sockets.
    pub target_udp: UdpState,
    /// The tool itself.
    pub tool: Option<ProcSample>,
    /// The tool's UDP sockets.
    pub tool_udp: UdpState,
}

impl Session {
    /// Opens the sockets and starts the receiver. The caller has checked that it runs in a private
    /// network namespace.
    pub fn start(setup: Setup) -> Result<Self, SessionError> {
        let n = usize::from(setup.universes);
        if setup.input == Wire::Artnet && setup.mode == Mode::Multicast {
            return Err(SessionError::ArtnetMulticast);
        }
        for u in [setup.first, setup.first.wrapping_add(setup.universes - 1)] {
            for u in [u, u.wrapping_add(setup.offset)] {
                if !patchbay_sacn::DATA_UNIVERSES.contains(&u) {
                    return Err(SessionError::Universe(u));
                }
            }
        }
        let out_first = setup.out_first();
        let rx = match setup.mode {
            Mode::Unicast => net::udp(setup.listen, false, net::TOOL_BUFFER)
                .map_err(io("bind the receive socket"))?,
            Mode::Multicast => {
                let s = net::udp(
                    SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, patchbay_sacn::PORT),
                    true,
                    net::TOOL_BUFFER,
                )
                .map_err(io("bind the multicast receive socket"))?;
                net::join_all(&s, (0..setup.universes).map(|i| out_first + i))
                    .map_err(io("join the output groups"))?;
                s
            }
        };
        net::set_read_timeout(&rx, Duration::from_millis(20)).map_err(io("set a read timeout"))?;
        let tx = net::udp(
            SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0),
            false,
            net::TOOL_BUFFER,
        )
        .map_err(io("bind the send socket"))?;
        let epoch = Instant::now();
        let nanos = epoch.elapsed().as_nanos() as u64 ^ u64::from(std::process::id());
        let mut cid = [0u8; 16];
        cid[..8].copy_from_slice(&nanos.to_le_bytes());
        cid[8..].copy_from_slice(
            &(std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64))
            .to_le_bytes(),
        );
        let cid = Cid(cid);
        let wire_first = if setup.self_test {
            out_first
        } else {
            setup.first
        };
        let mut packets = Vec::with_capacity(n);
        let mut addrs = Vec::with_capacity(n);
        for i in 0..setup.universes {
            let wire = wire_first + i;
            let p = setup
                .input
                .template(cid, wire)
                .ok_or(SessionError::Universe(wire))?;
            packets.push(p);
            let dst = match (setup.mode, setup.self_test) {
                (Mode::Unicast, false) => setup.target,
                (Mode::Unicast, true) => setup.listen,
                (Mode::Multicast, _) => SocketAddrV4::new(net::group(wire), patchbay_sacn::PORT),
            };
            addrs.push(Some(net::sockaddr(dst)));
        }
        let ring = match setup.pattern {
            PatternKind::Single => (0..n * 256).map(|_| AtomicU64::new(0)).collect(),
            PatternKind::Full => Vec::new(),
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(RxState {
                phases: Vec::new(),
                universes: vec![UniverseState::default(); n],
                terminated: 0,
                other: 0,
                foreign: 0,
            }),
            stop: AtomicBool::new(false),
            ring,
        });
        let receiver = {
            let shared = Arc::clone(&shared);
            let (pattern, offset, count) = (setup.pattern, setup.offset, setup.universes);
            std::thread::Builder::new()
                .name("receiver".into())
                .spawn(move || receive(rx, epoch, &shared, pattern, out_first, offset, count))
                .map_err(io("start the receiver thread"))?
        };
        Ok(Self {
            setup,
            epoch,
            tx,
            tx_batch: TxBatch::new(),
            packets,
            addrs,
            counters: vec![0; n],
            shared,
            receiver: Some(receiver),
            phases: Vec::new(),
            own_pid: std::process::id(),
        })
    }

    /// Ns since the session's epoch (the clock of the embedded send times).
    pub fn now_ns(&self) -> u64 {
        now_ns(self.epoch)
    }

    /// The session's clock origin.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Counters of the target and of the tool now.
    pub fn sample(&self) -> Sample {
        Sample {
            at_ns: self.now_ns(),
            target: self.setup.pid.and_then(procfs::sample),
            target_udp: self.setup.pid.map(procfs::udp_state).unwrap_or_default(),
            tool: procfs::sample(self.own_pid),
            tool_udp: procfs::udp_state(self.own_pid),
        }
    }

    /// Sends one frame on every universe (in batches of [`BATCH`], each stamped just before its
    /// system call). Returns (sent, failed).
    pub fn tick(&mut self) -> (u64, u64) {
        self.send_range(0, self.packets.len())
    }

    /// Sends one frame on universe indices `lo..hi`.
    fn send_range(&mut self, lo: usize, hi: usize) -> (u64, u64) {
        let n = hi.min(self.packets.len());
        let (mut sent, mut failed) = (0u64, 0u64);
        let mut start = lo;
        while start < n {
            let end = (start + BATCH).min(n);
            let now = now_ns(self.epoch);
            for i in start..end {
                self.encode(i, now);
            }
            let packets = &self.packets;
            let f = self.tx_batch.send(
                &self.tx,
                end - start,
                |k| packets.get(start + k).map_or(&[][..], |p| &p[..]),
                &self.addrs[start..end],
            );
            failed += f as u64;
            sent += (end - start - f) as u64;
            start = end;
        }
        (sent, failed)
    }

    /// Starts attributing frames sent from now on to a new phase; returns its index.
    pub fn begin_phase(&self) -> usize {
        let start_ns = self.now_ns();
        let mut st = lock(&self.shared.state);
        st.phases.push(PhaseSlot {
            start_ns,
            counts: RecvCounts::default(),
        });
        st.phases.len() - 1
    }

    /// Receive counts of phase `i` so far.
    pub fn counts(&self, i: usize) -> Option<RecvCounts> {
        lock(&self.shared.state)
            .phases
            .get(i)
            .map(|p| p.counts.clone())
    }

    /// Reports CPU, memory and drops of `pid` from now on.
    pub fn set_pid(&mut self, pid: u32) {
        self.setup.pid = Some(pid);
    }

    /// Sends the next frame of universe index `idx` alone, through `via` (a connected socket) or
    /// the session's socket. Returns the send error, if any.
    pub fn probe(&mut self, idx: usize, via: Option<&UdpSocket>) -> std::io::Result<()> {
        let now = self.now_ns();
        self.encode(idx, now);
        let Some(p) = self.packets.get(idx) else {
            return Ok(());
        };
        match (via, self.addrs.get(idx).copied().flatten()) {
            (Some(s), _) => s.send(p).map(drop),
            (None, Some(a)) => self
                .tx
                .send_to(p, SocketAddrV4::new(a.ip(), a.port()))
                .map(drop),
            (None, None) => Ok(()),
        }
    }

    /// Writes the next frame of universe index `i` stamped `now`.
    fn encode(&mut self, i: usize, now: u64) {
        let (Some(p), Some(c)) = (self.packets.get_mut(i), self.counters.get_mut(i)) else {
            return;
        };
        *c += 1;
        let wire = self.setup.input;
        let (seq, at) = (wire.sequence_at(), wire.slots_at());
        p[seq] = wire.next_sequence(p[seq]);
        match self.setup.pattern {
            PatternKind::Full => {
                if let Ok(slots) = <&mut [u8; SLOTS]>::try_from(&mut p[at..]) {
                    let universe = self.setup.first.wrapping_add(i as u16);
                    let tag = FrameTag {
                        id: *c as u32,
                        sent_ns: now,
                    };
                    pattern::encode(universe, tag, slots);
                }
            }
            PatternKind::Single => {
                let v = pattern::single_value(*c - 1);
                p[at] = v;
                if let Some(t) = self.shared.ring.get(i * 256 + usize::from(v)) {
                    t.store(now, Ordering::Release);
                }
            }
        }
    }

    /// Runs one phase: `rate_hz` frames/s per universe for `duration`. Frames sent in it are
    /// counted for it wherever they arrive later.
    pub fn phase(&mut self, name: &str, rate_hz: f64, duration: Duration) {
        self.begin_phase();
        let before = self.sample();
        let n = self.packets.len();
        let chunks = usize::from(self.setup.chunks).clamp(1, n.max(1));
        let sched = Schedule {
            start_ns: before.at_ns,
            rate_hz: rate_hz * chunks as f64,
            duration_ns: duration.as_nanos() as u64,
        };
        let mut c = SendCounts::default();
        let ticks = sched.ticks();
        let mut k = 0;
        while k < ticks {
            let late = wait_until(self.epoch, sched.deadline(k), self.setup.spin_ns);
            c.max_late_ns = c.max_late_ns.max(late);
            let j = (k as usize) % chunks;
            let (s, f) = self.send_range(j * n / chunks, (j + 1) * n / chunks);
            c.sent += s;
            c.failed += f;
            // A sender that cannot keep up skips ticks rather than stretching the phase, so an
            // overload phase lasts what it says (the report shows the rate actually sent). A
            // short stall (the machine is shared) is caught up instead, by sending late ticks
            // back to back.
            let now = self.now_ns();
            k += 1;
            while k < ticks && sched.deadline(k + 1) + SKIP_AFTER_NS <= now {
                k += 1;
                c.skipped += 1;
            }
        }
        // The phase lasts its full duration even if the last tick came early.
        wait_until(
            self.epoch,
            sched.start_ns + sched.duration_ns,
            self.setup.spin_ns,
        );
        c.elapsed_ns = self.now_ns() - sched.start_ns;
        let after = self.sample();
        self.phases
            .push((name.to_string(), rate_hz, c, before, after));
    }

    /// Lets in-flight frames arrive.
    pub fn drain(&self, d: Duration) {
        std::thread::sleep(d);
    }

    /// Report of phase `i` with what has arrived so far.
    pub fn report(&self, i: usize) -> Option<PhaseReport> {
        let (name, rate, send, before, after) = self.phases.get(i)?;
        let st = lock(&self.shared.state);
        let counts = st.phases.get(i).map(|p| p.counts.clone())?;
        Some(PhaseReport::new(
            name,
            self.setup.universes,
            *rate,
            send,
            &counts,
            before,
            after,
        ))
    }

    /// Reports of all phases.
    pub fn reports(&self) -> Vec<PhaseReport> {
        (0..self.phases.len())
            .filter_map(|i| self.report(i))
            .collect()
    }

    /// Universes whose latest received frame is the latest frame sent (issue 9: after an overload
    /// the output must end on the last input exactly), and the number of universes. Meaningful
    /// after a drain.
    pub fn final_state(&self) -> (usize, usize) {
        let st = lock(&self.shared.state);
        let exact = st
            .universes
            .iter()
            .zip(&self.counters)
            .filter(|&(u, &sent)| match self.setup.pattern {
                PatternKind::Full => sent > 0 && u64::from(u.last_id) == sent,
                PatternKind::Single => sent > 0 && u.last_single == pattern::single_value(sent - 1),
            })
            .count();
        (exact, self.counters.len())
    }

    /// Datagrams that were not level data of our universes: (terminated, other, foreign universe).
    pub fn strays(&self) -> (u64, u64, u64) {
        let st = lock(&self.shared.state);
        (st.terminated, st.other, st.foreign)
    }

    /// Stops the receiver.
    pub fn stop(&mut self) -> std::io::Result<()> {
        self.shared.stop.store(true, Ordering::Relaxed);
        match self.receiver.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("receiver thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

#[allow(clippy::too_many_arguments)]
fn receive(
    sock: UdpSocket,
    epoch: Instant,
    shared: &Shared,
    pattern: PatternKind,
    out_first: u16,
    offset: u16,
    count: u16,
) -> std::io::Result<()> {
    let mut batch = RxBatch::new();
    let mut scratch = [0u8; SLOTS];
    while !shared.stop.load(Ordering::Relaxed) {
        let n = batch.recv(&sock)?;
        if n == 0 {
            continue;
        }
        let now = now_ns(epoch);
        let mut st = lock(&shared.state);
        for i in 0..n {
            let (universe, slots) = match packet::classify(batch.get(i)) {
                Kind::Levels { universe, slots } => (universe, slots),
                Kind::Terminated => {
                    st.terminated += 1;
                    continue;
                }
                Kind::Other => {
                    st.other += 1;
                    continue;
                }
            };
            let idx = universe.wrapping_sub(out_first);
            if idx >= count {
                st.foreign += 1;
                continue;
            }
            let idx = usize::from(idx);
            let Some(mut u) = st.universes.get(idx).copied() else {
                continue;
            };
            let verdict = match pattern {
                PatternKind::Full => {
                    match pattern::verify(universe.wrapping_sub(offset), slots, &mut scratch) {
                        Verdict::Valid(tag) => Some((u64::from(tag.id), tag.sent_ns)),
                        Verdict::Torn => None,
                    }
                }
                PatternKind::Single => pattern::verify_single(slots).map(|v| {
                    let sent = shared
                        .ring
                        .get(idx * 256 + usize::from(v))
                        .map_or(0, |t| t.load(Ordering::Acquire));
                    (u64::from(v), sent)
                }),
            };
            match verdict {
                Some((id, sent)) => {
                    let order = match pattern {
                        PatternKind::Full => (id as u32).cmp(&u.last_id),
                        PatternKind::Single => {
                            if pattern::single_gap(u.last_single, id as u8) == 0 {
                                std::cmp::Ordering::Equal
                            } else {
                                std::cmp::Ordering::Greater
                            }
                        }
                    };
                    if let Some(c) = st.phase_of(sent) {
                        match order {
                            std::cmp::Ordering::Greater => {
                                c.received += 1;
                                c.latency.record(now.saturating_sub(sent));
                                c.first_ns.get_or_insert(now);
                                c.last_ns = now;
                            }
                            std::cmp::Ordering::Equal => c.duplicates += 1,
                            std::cmp::Ordering::Less => c.reordered += 1,
                        }
                    }
                    if order == std::cmp::Ordering::Greater {
                        u.last_id = id as u32;
                        u.last_single = id as u8;
                    }
                }
                None => {
                    let fp = pattern::fingerprint(slots);
                    if let Some(c) = st.phases.last_mut().map(|p| &mut p.counts) {
                        if fp == u.last_torn {
                            c.duplicates += 1;
                        } else {
                            c.torn += 1;
                        }
                    }
                    u.last_torn = fp;
                }
            }
            if let Some(s) = st.universes.get_mut(idx) {
                *s = u;
            }
        }
    }
    Ok(())
}
