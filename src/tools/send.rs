//! `patchbay sacn send`: a test source. The [`Source`] state machine decides what goes out
//! (rate limit, repeats, keep-alives, discovery, termination); this loop only supplies the
//! pattern, the clock and the socket, so what the tool sends is exactly what the backend would.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use patchbay_net::{BindSpec, SendError, UdpEndpoint};
use patchbay_sacn::wire::MAX_PACKET_LEN;
use patchbay_sacn::{
    Cid, DISCOVERY_UNIVERSE, PORT, Source, SourceConfig, SourceError, TransmitKind, UniverseConfig,
    ipv4_multicast, ipv6_multicast,
};

use super::pattern::Pattern;

/// Longest sleep between checks of the stop flag, so Ctrl-C is answered within this.
const STOP_POLL: Duration = Duration::from_millis(20);
/// How long to wait for a full send buffer to drain before a packet is given up.
const SEND_RETRY: Duration = Duration::from_millis(50);

/// What to send, where, and for how long.
#[derive(Debug, Clone)]
pub struct SendConfig {
    pub universe: u16,
    pub priority: u8,
    /// Pattern frames per second (the source still sends at most 44 packets/s).
    pub rate: f64,
    pub pattern: Pattern,
    /// Slots the pattern drives (1..=512); packets always carry 512.
    pub slots: usize,
    /// Unicast destinations; empty: the universe's multicast group (and discovery's).
    pub destinations: Vec<SocketAddr>,
    /// Local address to send from (port 0: any).
    pub bind: SocketAddr,
    pub name: String,
    pub cid: Cid,
    /// Stop (with termination) after this long.
    pub terminate_after: Option<Duration>,
    /// Stop (with termination) after this many pattern frames.
    pub count: Option<u64>,
}

/// What a finished run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SendSummary {
    /// Pattern frames applied.
    pub frames: u64,
    /// Datagrams sent (all destinations).
    pub packets: u64,
    /// Datagrams that could not be sent.
    pub send_errors: u64,
    /// Stream_Terminated packets among `packets` went out (the run ended with termination).
    pub terminated: bool,
}

/// Why the sender could not run.
#[derive(Debug, thiserror::Error)]
pub enum SendToolError {
    #[error("cannot open {addr}: {source}")]
    Open {
        addr: SocketAddr,
        source: patchbay_net::OpenError,
    },
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("--rate must be a positive number of frames per second")]
    BadRate,
}

/// Runs the source until `stop` is set, `terminate_after` elapses or `count` frames were applied;
/// then sends the termination packets and returns.
pub fn run(cfg: &SendConfig, stop: &AtomicBool) -> Result<SendSummary, SendToolError> {
    if !(cfg.rate.is_finite() && cfg.rate > 0.0) {
        return Err(SendToolError::BadRate);
    }
    let period = Duration::from_secs_f64(1.0 / cfg.rate);
    let endpoint =
        // Multicast loopback on: a watcher or patchbay on this host should see the test source.
        UdpEndpoint::open(BindSpec::new(cfg.bind, true).with_route_probes(patchbay_backends::sacn::route_probes())).map_err(|source| SendToolError::Open {
            addr: cfg.bind,
            source,
        })?;
    let mut source = Source::new(cfg.cid, &cfg.name, SourceConfig::default());
    source.add_universe(
        cfg.universe,
        UniverseConfig {
            priority: cfg.priority,
            ..UniverseConfig::default()
        },
    )?;
    let slots = cfg.slots.clamp(1, patchbay_sacn::MAX_SLOTS);
    let v6 = cfg.bind.is_ipv6();
    let mut out = Output {
        endpoint: &endpoint,
        destinations: &cfg.destinations,
        v6,
        summary: SendSummary::default(),
    };
    let mut buf = [0u8; MAX_PACKET_LEN];
    let start = Instant::now();
    let end = cfg.terminate_after.map(|d| start + d);
    let mut next_frame = start;
    loop {
        let now = Instant::now();
        let done = stop.load(Ordering::Relaxed)
            || end.is_some_and(|e| now >= e)
            || cfg.count.is_some_and(|c| out.summary.frames >= c);
        if done {
            break;
        }
        if now >= next_frame {
            let frame = out.summary.frames;
            let buffer = source.slots_mut(cfg.universe)?;
            let mut before = [0u8; patchbay_sacn::MAX_SLOTS];
            before[..slots].copy_from_slice(&buffer[..slots]);
            cfg.pattern.fill(frame, &mut buffer[..slots]);
            // The first frame is always sent, even all zero (the source sends nothing before a change).
            if frame == 0 || before[..slots] != buffer[..slots] {
                source.mark_changed(now, cfg.universe)?;
            }
            out.summary.frames += 1;
            next_frame += period;
            if next_frame < now {
                // Running late (suspended, or a rate above what sleeping allows): skip ahead
                // rather than burst.
                next_frame = now + period;
            }
        }
        while let Some(t) = source.poll_transmit(now, &mut buf) {
            out.send(&buf[..t.len], t.kind);
        }
        let mut wake = next_frame.min(now + STOP_POLL);
        if let Some(t) = source.poll_timeout() {
            wake = wake.min(t);
        }
        if let Some(e) = end {
            wake = wake.min(e);
        }
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
    }
    let now = Instant::now();
    source.terminate_all(now);
    let deadline = now + Duration::from_secs(1);
    while !source.is_idle() && Instant::now() < deadline {
        let now = Instant::now();
        while let Some(t) = source.poll_transmit(now, &mut buf) {
            out.send(&buf[..t.len], t.kind);
            out.summary.terminated = true;
        }
        if !source.is_idle() {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(out.summary)
}

struct Output<'a> {
    endpoint: &'a UdpEndpoint,
    destinations: &'a [SocketAddr],
    v6: bool,
    summary: SendSummary,
}

impl Output<'_> {
    fn group(&self, universe: u16) -> SocketAddr {
        let ip = if self.v6 {
            IpAddr::V6(ipv6_multicast(universe))
        } else {
            IpAddr::V4(ipv4_multicast(universe))
        };
        SocketAddr::new(ip, PORT)
    }

    /// Data and sync go to the unicast destinations or the group; discovery goes to the
    /// unicast destinations too (a unicast-only watcher then still learns the universe list,
    /// and nothing leaves as multicast when the user asked for unicast).
    fn send(&mut self, bytes: &[u8], kind: TransmitKind) {
        if !self.destinations.is_empty() {
            for &dst in self.destinations {
                self.send_one(bytes, dst);
            }
            return;
        }
        let group = match kind {
            TransmitKind::Data { universe } => self.group(universe),
            TransmitKind::Sync { sync_address } => self.group(sync_address),
            TransmitKind::Discovery { .. } => self.group(DISCOVERY_UNIVERSE),
        };
        self.send_one(bytes, group);
    }

    fn send_one(&mut self, bytes: &[u8], dst: SocketAddr) {
        let give_up = Instant::now() + SEND_RETRY;
        loop {
            match self.endpoint.send_to(bytes, dst) {
                Ok(_) => {
                    self.summary.packets += 1;
                    return;
                }
                Err(SendError::WouldBlock) if Instant::now() < give_up => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(e) => {
                    if self.summary.send_errors == 0 {
                        tracing::warn!(target: "sacn", "cannot send to {dst}: {e}");
                    }
                    self.summary.send_errors += 1;
                    return;
                }
            }
        }
    }
}
