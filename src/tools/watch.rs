//! The socket loop of `patchbay sacn watch`: one [`UdpEndpoint`] (the same socket setup as the
//! backend), the universes' multicast groups and discovery's joined on its interface, every
//! datagram into a [`Monitor`], and a callback once per wake-up and once per period.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use patchbay_net::{BindSpec, SocketId, UdpEndpoint};
use patchbay_sacn::receiver::ReceiverConfig;
use patchbay_sacn::wire::MAX_PACKET_LEN;
use patchbay_sacn::{DISCOVERY_UNIVERSE, ipv4_multicast, ipv6_multicast};

use super::monitor::Monitor;

/// Longest wait in `poll`, so a stop request is answered within this.
const STOP_POLL: Duration = Duration::from_millis(100);

/// What to listen to.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// Universes to join; empty: those universe discovery announces, plus whatever arrives unicast.
    pub universes: Vec<u16>,
    pub bind: SocketAddr,
    /// Join the universes' and discovery's multicast groups (off: unicast only).
    pub multicast: bool,
    /// Reporting period (stats, redraw).
    pub period: Duration,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Merge and timing settings of the receiver.
    pub receiver: ReceiverConfig,
}

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot open {addr}: {source}")]
    Open {
        addr: SocketAddr,
        source: patchbay_net::OpenError,
    },
    #[error("event loop: {0}")]
    Io(#[from] std::io::Error),
}

/// When the callback is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// After datagrams or timers were handled (events may be queued).
    Activity,
    /// A period ended; [`Monitor::tick`] was called.
    Period,
}

/// Group address of `universe` for the bind's family.
fn group(bind: SocketAddr, universe: u16) -> IpAddr {
    if bind.is_ipv6() {
        IpAddr::V6(ipv6_multicast(universe))
    } else {
        IpAddr::V4(ipv4_multicast(universe))
    }
}

/// Joins a universe discovery announced (watch without a universe list), registering the receive
/// socket the pool opened for it, if any.
fn join_discovered(
    endpoint: &mut UdpEndpoint,
    poll: &Poll,
    ids: &mut Vec<SocketId>,
    bind: SocketAddr,
    universe: u16,
) {
    let g = group(bind, universe);
    match endpoint.join(g) {
        Ok(joined) if joined.new_socket => {
            let id = SocketId::Receiver(joined.socket);
            if let Some(s) = endpoint.socket_mut(id) {
                match poll
                    .registry()
                    .register(s, Token(ids.len()), Interest::READABLE)
                {
                    Ok(()) => ids.push(id),
                    Err(e) => {
                        tracing::warn!(target: "sacn", "universe {universe}: cannot watch the new socket: {e}")
                    }
                }
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(target: "sacn", "universe {universe} (discovered): cannot join {g}: {e}")
        }
    }
}

/// Opens the bind, joins, and runs until `stop` is set or `duration` passes. `on_wake` renders.
/// The endpoint's description (interface) goes to `on_open` first.
pub fn run(
    cfg: &WatchConfig,
    stop: &AtomicBool,
    on_open: &mut dyn FnMut(&UdpEndpoint, &[String]),
    on_wake: &mut dyn FnMut(&mut Monitor, Instant, Wake),
) -> Result<(), WatchError> {
    let mut endpoint = UdpEndpoint::open(
        BindSpec::new(cfg.bind, false).with_route_probes(patchbay_backends::sacn::route_probes()),
    )
    .map_err(|source| WatchError::Open {
        addr: cfg.bind,
        source,
    })?;
    let mut warnings = Vec::new();
    let groups = cfg
        .universes
        .iter()
        .copied()
        .chain(std::iter::once(DISCOVERY_UNIVERSE))
        .filter(|_| cfg.multicast);
    for u in groups {
        let g = group(cfg.bind, u);
        if let Err(e) = endpoint.join(g) {
            warnings.push(format!(
                "universe {u}: cannot join {g} ({e}); only unicast arrives"
            ));
        }
    }
    on_open(&endpoint, &warnings);
    let mut poll = Poll::new()?;
    let mut ids: Vec<SocketId> = endpoint.socket_ids().collect();
    for (i, id) in ids.iter().enumerate() {
        if let Some(s) = endpoint.socket_mut(*id) {
            poll.registry().register(s, Token(i), Interest::READABLE)?;
        }
    }
    let start = Instant::now();
    let mut monitor = Monitor::with_config(start, &cfg.universes, cfg.receiver.clone());
    let end = cfg.duration.map(|d| start + d);
    let mut next_tick = start + cfg.period;
    let mut events = Events::with_capacity(64);
    let mut buf = [0u8; MAX_PACKET_LEN + 64];
    loop {
        let now = Instant::now();
        let mut wake = next_tick.min(now + STOP_POLL);
        if let Some(t) = monitor.poll_timeout() {
            wake = wake.min(t);
        }
        if let Some(e) = end {
            wake = wake.min(e);
        }
        match poll.poll(&mut events, Some(wake.saturating_duration_since(now))) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
        for ev in &events {
            let Some(&id) = ids.get(ev.token().0) else {
                continue;
            };
            loop {
                match endpoint.recv(id, &mut buf) {
                    Ok(Some(meta)) => {
                        if meta.truncated {
                            continue;
                        }
                        monitor.handle_datagram(Instant::now(), &buf[..meta.len]);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(target: "sacn", "receive error: {e}");
                        break;
                    }
                }
            }
        }
        let now = Instant::now();
        if monitor.poll_timeout().is_some_and(|t| now >= t) {
            monitor.handle_timeout(now);
        }
        if cfg.multicast {
            for u in monitor.take_universes_to_join(now) {
                join_discovered(&mut endpoint, &poll, &mut ids, cfg.bind, u);
            }
        }
        on_wake(&mut monitor, now, Wake::Activity);
        if now >= next_tick {
            monitor.tick(now);
            on_wake(&mut monitor, now, Wake::Period);
            next_tick += cfg.period;
            if next_tick < now {
                next_tick = now + cfg.period;
            }
        }
        if stop.load(Ordering::Relaxed) || end.is_some_and(|e| now >= e) {
            return Ok(());
        }
    }
}
