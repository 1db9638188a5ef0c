//! `patchbay artnet send` and `patchbay artnet watch`: a test controller and a diagnostic node
//! built from the same protocol crate, pacing and socket setup as the `artnet` backend, so what
//! they show is what patchbay itself would send and see.

use std::io::{IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use mio::{Events, Interest, Poll, Token};
use patchbay_artnet::receiver::{Discard, Event, Handled, Receiver, ReceiverConfig};
use patchbay_artnet::wire::{MAX_DMX_PACKET_LEN, POLL_PACKET_LEN, PORT};
use patchbay_artnet::{DmxHeader, PortAddress, SequenceCounter, write_dmx, write_poll};
use patchbay_backends::artnet::{POLL_INTERVAL, limited_pacing, realtime_pacing};
use patchbay_dmx::{MAX_SLOTS, Pacer};
use patchbay_net::{BindSpec, SendError, SocketId, UdpEndpoint};

use super::args::{UsageError, seconds};
use super::pattern::Pattern;
use super::{EXIT_RUNTIME, EXIT_USAGE, addr, stop_on_signals};

/// Art-Net diagnostic tools.
#[derive(Debug, Subcommand)]
pub enum ArtnetCommand {
    /// Send a test pattern on one Port-Address (a test controller)
    ///
    /// Sends ArtDmx for UNIVERSE to --to (default: the limited broadcast 255.255.255.255, port
    /// 6454) with a pattern that changes --rate times per second, paced as patchbay's Art-Net
    /// output is: at most one packet per 20 ms (none with --realtime), a refresh within 1 s when
    /// nothing changes, whole universes with sequence numbers.
    #[command(after_help = "Examples:\n  \
patchbay artnet send 1                      a ramp on Port-Address 0:0:1 to everyone\n  \
patchbay artnet send 0:1:2 --to 10.0.0.20 --pattern static:255,128\n                                             \
two fixed levels to one node\n\n\
Exit status:\n  \
0  after Ctrl-C, SIGTERM, --duration or --count\n  \
1  the socket could not be opened\n  \
2  usage error")]
    Send(ArtnetSendArgs),
    /// Show the Art-Net sources, nodes and merged levels seen on the network
    ///
    /// Every second: per Port-Address the sources (IP addresses; Art-Net merges two, HTP), the
    /// packets received and the first slots of the merged universe; the nodes that answered an
    /// ArtPoll (with --poll the watcher polls every 2.5 s); malformed packets by reason.
    /// Without UNIVERSES every Port-Address that arrives is shown. --json prints one JSON
    /// object per line instead.
    #[command(after_help = "Examples:\n  \
patchbay artnet watch                       everything on port 6454\n  \
patchbay artnet watch 1 0:1:0 --poll        two universes, and the node list\n\n\
Exit status:\n  \
0  after --duration, Ctrl-C, SIGTERM, or when the output was closed\n  \
1  the socket could not be opened\n  \
2  usage error")]
    Watch(ArtnetWatchArgs),
}

/// Arguments of `artnet send`.
#[derive(Debug, Args)]
pub struct ArtnetSendArgs {
    /// Port-Address: a number 0-32767, or NET:SUBNET:UNIVERSE
    #[arg(value_parser = parse_port_address)]
    pub universe: PortAddress,
    /// Destination (HOST or HOST:PORT; repeatable); default 255.255.255.255:6454
    #[arg(long, value_name = "ADDR")]
    pub to: Vec<String>,
    /// Local address to send from
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:0")]
    pub bind: String,
    /// Pattern frames per second
    #[arg(long, value_name = "HZ", default_value_t = 10.0)]
    pub rate: f64,
    /// The levels (as `patchbay sacn send`: ramp, chase, static:V,V,..., ...)
    #[arg(long, default_value = "ramp")]
    pub pattern: Pattern,
    /// Slots the pattern drives (1-512); packets always carry 512
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub slots: Option<u16>,
    /// No rate limit
    #[arg(long)]
    pub realtime: bool,
    /// Stop after this many seconds
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
    /// Stop after this many pattern frames
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
}

/// Arguments of `artnet watch`.
#[derive(Debug, Args)]
pub struct ArtnetWatchArgs {
    /// Port-Addresses to show (numbers 0-32767 or NET:SUBNET:UNIVERSE); none: all
    #[arg(value_name = "UNIVERSES", value_parser = parse_port_address)]
    pub universes: Vec<PortAddress>,
    /// Address to listen on (HOST or HOST:PORT)
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
    pub bind: String,
    /// Send ArtPoll every 2.5 s (to --poll-to) and list the nodes that answer
    #[arg(long)]
    pub poll: bool,
    /// Where ArtPoll goes with --poll
    #[arg(long, value_name = "ADDR", default_value = "255.255.255.255")]
    pub poll_to: String,
    /// One JSON object per line
    #[arg(long)]
    pub json: bool,
    /// Stop after this many seconds
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
}

/// `N` (0..32767) or `NET:SUBNET:UNIVERSE`.
pub fn parse_port_address(s: &str) -> Result<PortAddress, String> {
    let bad = || {
        format!(
            "'{s}' is not a Port-Address (0-32767, or NET:SUBNET:UNIVERSE with 0-127:0-15:0-15)"
        )
    };
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [n] => n
            .parse::<u16>()
            .ok()
            .and_then(|n| PortAddress::new(n).ok())
            .ok_or_else(bad),
        [net, sub, uni] => {
            let (Ok(net), Ok(sub), Ok(uni)) = (net.parse(), sub.parse(), uni.parse()) else {
                return Err(bad());
            };
            PortAddress::from_parts(net, sub, uni).map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

/// Runs a `patchbay artnet ...` command.
pub fn run(cmd: &ArtnetCommand) -> ExitCode {
    let stop = match stop_on_signals() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("patchbay: cannot install signal handlers: {e}");
            return ExitCode::from(EXIT_RUNTIME);
        }
    };
    let r = match cmd {
        ArtnetCommand::Send(a) => send(a, &stop),
        ArtnetCommand::Watch(a) => watch(a, &stop),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(e)) => {
            eprintln!("patchbay: {e}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("patchbay: {e}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

enum Failure {
    Usage(String),
    Runtime(String),
}

impl From<UsageError> for Failure {
    fn from(e: UsageError) -> Self {
        Failure::Usage(e.to_string())
    }
}

fn open(bind: SocketAddr) -> Result<UdpEndpoint, Failure> {
    let mut spec = BindSpec::new(bind, false);
    spec.broadcast_in = bind.is_ipv4() && !bind.ip().is_unspecified();
    UdpEndpoint::open(spec).map_err(|e| Failure::Runtime(format!("cannot open {bind}: {e}")))
}

fn send_one(ep: &UdpEndpoint, bytes: &[u8], to: SocketAddr, errors: &mut u64) -> bool {
    let give_up = Instant::now() + Duration::from_millis(50);
    loop {
        match ep.send_to(bytes, to) {
            Ok(_) => return true,
            Err(SendError::WouldBlock) if Instant::now() < give_up => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => {
                if *errors == 0 {
                    tracing::warn!(target: "artnet", "cannot send to {to}: {e}");
                }
                *errors += 1;
                return false;
            }
        }
    }
}

fn send(a: &ArtnetSendArgs, stop: &AtomicBool) -> Result<(), Failure> {
    if !(a.rate.is_finite() && a.rate > 0.0) {
        return Err(UsageError::Rate.into());
    }
    let mut dests =
        a.to.iter()
            .map(|t| addr::parse_addr(t, PORT))
            .collect::<Result<Vec<_>, _>>()
            .map_err(UsageError::from)?;
    if dests.is_empty() {
        dests.push(SocketAddr::from((Ipv4Addr::BROADCAST, PORT)));
    }
    let bind = addr::parse_addr(&a.bind, 0).map_err(UsageError::from)?;
    let duration = seconds(a.duration, "--duration")?;
    let slots = a
        .slots
        .map_or_else(|| a.pattern.default_slots(), usize::from)
        .clamp(1, MAX_SLOTS);
    let ep = open(bind)?;
    let pacing = if a.realtime {
        realtime_pacing()
    } else {
        limited_pacing()
    };
    let list: Vec<String> = dests.iter().map(ToString::to_string).collect();
    tracing::info!(target: "artnet", "sending Port-Address {} ({}, {} Hz) from {} to {}",
        a.universe, a.pattern, a.rate, ep.local_addr(), list.join(", "));
    let period = Duration::from_secs_f64(1.0 / a.rate);
    let mut levels = [0u8; MAX_SLOTS];
    let mut pacer = Pacer::new();
    let mut seq = SequenceCounter::new();
    let mut buf = [0u8; MAX_DMX_PACKET_LEN];
    let (mut frames, mut packets, mut errors) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    let end = duration.map(|d| start + d);
    let mut next_frame = start;
    loop {
        let now = Instant::now();
        if stop.load(Ordering::Relaxed)
            || end.is_some_and(|e| now >= e)
            || a.count.is_some_and(|c| frames >= c)
        {
            break;
        }
        if now >= next_frame {
            let before = levels;
            a.pattern.fill(frames, &mut levels[..slots]);
            if frames == 0 || before != levels {
                pacer.change(now, &pacing);
            }
            frames += 1;
            next_frame += period;
            if next_frame < now {
                next_frame = now + period;
            }
        }
        if pacer.poll(now, &pacing).is_some() {
            let h = DmxHeader {
                sequence: seq.next_sequence(),
                physical: 0,
                address: a.universe,
            };
            if let Ok(n) = write_dmx(&mut buf, &h, &levels) {
                for &d in &dests {
                    packets += u64::from(send_one(&ep, &buf[..n], d, &mut errors));
                }
            }
        }
        let mut wake = next_frame.min(now + Duration::from_millis(20));
        if let Some(t) = pacer.deadline(&pacing) {
            wake = wake.min(t);
        }
        if let Some(e) = end {
            wake = wake.min(e);
        }
        std::thread::sleep(wake.saturating_duration_since(Instant::now()));
    }
    tracing::info!(target: "artnet", "sent {frames} frames in {packets} packets ({errors} failed)");
    Ok(())
}

/// A node that answered ArtPoll.
struct Node {
    ip: Ipv4Addr,
    short: String,
    long: String,
    ports: Vec<String>,
}

/// What the watcher keeps per Port-Address.
#[derive(Default)]
struct Seen {
    packets: u64,
}

fn watch(a: &ArtnetWatchArgs, stop: &AtomicBool) -> Result<(), Failure> {
    let bind = addr::parse_addr(&a.bind, PORT).map_err(UsageError::from)?;
    let poll_to = addr::parse_addr(&a.poll_to, PORT).map_err(UsageError::from)?;
    let duration = seconds(a.duration, "--duration")?;
    let mut ep = open(bind)?;
    let mut rx = Receiver::new(ReceiverConfig::default());
    let all = a.universes.is_empty();
    let mut universes: Vec<(PortAddress, Seen)> = Vec::new();
    for &u in &a.universes {
        let _ = rx.add_universe(u);
        universes.push((u, Seen::default()));
    }
    let mut poll = Poll::new().map_err(|e| Failure::Runtime(e.to_string()))?;
    let ids: Vec<SocketId> = ep.socket_ids().collect();
    for (i, id) in ids.iter().enumerate() {
        if let Some(s) = ep.socket_mut(*id) {
            poll.registry()
                .register(s, Token(i), Interest::READABLE)
                .map_err(|e| Failure::Runtime(e.to_string()))?;
        }
    }
    let header = format!("patchbay artnet watch on {ep}");
    let tty = std::io::stdout().is_terminal();
    let mut nodes: Vec<Node> = Vec::new();
    let mut log: Vec<String> = Vec::new();
    let mut events = Events::with_capacity(64);
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    let end = duration.map(|d| start + d);
    let mut next_tick = start + Duration::from_secs(1);
    let mut next_poll = start;
    let mut errors = 0;
    loop {
        let now = Instant::now();
        if a.poll && now >= next_poll {
            next_poll = now + POLL_INTERVAL;
            let mut p = [0u8; POLL_PACKET_LEN];
            if let Ok(n) = write_poll(&mut p, &patchbay_artnet::Poll::default()) {
                send_one(&ep, &p[..n], poll_to, &mut errors);
            }
        }
        let mut wake = next_tick.min(now + Duration::from_millis(100));
        if let Some(t) = rx.poll_timeout() {
            wake = wake.min(t);
        }
        match poll.poll(&mut events, Some(wake.saturating_duration_since(now))) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Failure::Runtime(e.to_string())),
        }
        for ev in &events {
            let Some(&id) = ids.get(ev.token().0) else {
                continue;
            };
            while let Ok(Some(meta)) = ep.recv(id, &mut buf) {
                let SocketAddr::V4(from) = meta.src else {
                    continue;
                };
                if meta.truncated {
                    continue;
                }
                let now = Instant::now();
                let mut r = rx.handle_datagram(now, from, &buf[..meta.len]);
                if all
                    && let Err(d) = &r
                    && d.discard() == Some(Discard::UnknownUniverse)
                    && let Some(u) = d.address
                {
                    let _ = rx.add_universe(u);
                    universes.push((u, Seen::default()));
                    universes.sort_by_key(|e| e.0);
                    r = rx.handle_datagram(now, from, &buf[..meta.len]);
                }
                match r {
                    Ok(Handled::Dmx { address, .. } | Handled::Held { address }) => {
                        if let Ok(i) = universes.binary_search_by_key(&address, |e| e.0) {
                            universes[i].1.packets += 1;
                        }
                    }
                    Ok(Handled::PollReply(p)) => {
                        let ports = p
                            .ports()
                            .map(|port| {
                                format!(
                                    "{}{}",
                                    if port.is_input() { "in " } else { "" },
                                    if port.is_output() { "out" } else { "" }
                                )
                            })
                            .collect();
                        let node = Node {
                            ip: p.ip(),
                            short: p.short_name().into_owned(),
                            long: p.long_name().into_owned(),
                            ports,
                        };
                        match nodes
                            .iter_mut()
                            .find(|n| n.ip == node.ip && n.short == node.short)
                        {
                            Some(n) => *n = node,
                            None => nodes.push(node),
                        }
                    }
                    _ => {}
                }
            }
        }
        let now = Instant::now();
        rx.handle_timeout(now);
        while rx.poll_changed().is_some() {}
        while let Some(e) = rx.poll_event() {
            let t = now.duration_since(start).as_secs_f64();
            let line = match e {
                Event::SourceAdded {
                    address,
                    ip,
                    sources,
                } => {
                    format!("{t:>8.1}s {address}: new source {ip} ({sources} now)")
                }
                Event::SourceLost { address, ip } => {
                    format!("{t:>8.1}s {address}: source {ip} LOST")
                }
                Event::SourceRefused { address, ip } => {
                    format!("{t:>8.1}s {address}: third source {ip} refused")
                }
                Event::SyncStarted { controller } => format!("{t:>8.1}s ArtSync from {controller}"),
                Event::SyncLost { controller } => {
                    format!("{t:>8.1}s ArtSync from {controller} stopped")
                }
            };
            if a.json {
                println!(
                    "{}",
                    serde_json::json!({"event": "log", "text": line.trim()})
                );
            } else {
                log.push(line);
                if log.len() > 8 {
                    log.remove(0);
                }
            }
        }
        if now >= next_tick {
            next_tick = now + Duration::from_secs(1);
            let text = render(a.json, &header, &rx, &universes, &nodes, &log);
            let mut out = std::io::stdout().lock();
            let res = if a.json || !tty {
                write!(out, "{text}")
            } else {
                write!(out, "\x1b[H\x1b[2J{text}")
            };
            if res.and_then(|()| out.flush()).is_err() {
                return Ok(());
            }
        }
        if stop.load(Ordering::Relaxed) || end.is_some_and(|e| now >= e) {
            return Ok(());
        }
    }
}

fn render(
    json: bool,
    header: &str,
    rx: &Receiver,
    universes: &[(PortAddress, Seen)],
    nodes: &[Node],
    log: &[String],
) -> String {
    let mut s = String::new();
    let c = rx.counters();
    if json {
        for (u, seen) in universes {
            let Some(ur) = rx.universe(*u) else { continue };
            let sources: Vec<String> = ur.sources().map(|x| x.ip.to_string()).collect();
            let v = serde_json::json!({"event": "universe", "port_address": u.get(),
                "address": u.to_string(), "packets": seen.packets, "sources": sources,
                "slots": &ur.slots()[..]});
            s += &format!("{v}\n");
        }
        for n in nodes {
            let v = serde_json::json!({"event": "node", "ip": n.ip.to_string(), "short_name": n.short,
                "long_name": n.long, "ports": n.ports});
            s += &format!("{v}\n");
        }
        let malformed: serde_json::Map<String, serde_json::Value> =
            patchbay_artnet::DropReason::ALL
                .iter()
                .map(|r| (r.as_str().to_string(), c.malformed(*r).into()))
                .collect();
        let v = serde_json::json!({"event": "stats", "dmx": c.dmx, "poll": c.poll,
            "poll_reply": c.poll_reply, "sync": c.sync, "malformed": malformed});
        s += &format!("{v}\n");
        return s;
    }
    s += header;
    s += "\n\nPort-Address  packets  sources                      slots 1-16\n";
    for (u, seen) in universes {
        let Some(ur) = rx.universe(*u) else { continue };
        let sources: Vec<String> = ur.sources().map(|x| x.ip.to_string()).collect();
        let flag = if ur.is_merging() { "!" } else { " " };
        let levels: Vec<String> = ur.slots()[..16].iter().map(|v| format!("{v:3}")).collect();
        s += &format!(
            "{flag}{:<12} {:>8}  {:<28} {}\n",
            u.to_string(),
            seen.packets,
            sources.join(", "),
            levels.join(" ")
        );
    }
    if !nodes.is_empty() {
        s += "\nNodes (ArtPollReply):\n";
        for n in nodes {
            s += &format!(
                "  {:<15} {:<18} {} [{}]\n",
                n.ip,
                n.short,
                n.long,
                n.ports.join(", ")
            );
        }
    }
    s += &format!(
        "\n{} ArtDmx, {} ArtPoll, {} ArtPollReply, {} ArtSync, {} malformed\n",
        c.dmx,
        c.poll,
        c.poll_reply,
        c.sync,
        c.malformed_total()
    );
    if !log.is_empty() {
        s += "Recent events:\n";
        for l in log {
            s += l;
            s += "\n";
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_addresses_in_both_forms() {
        assert_eq!(parse_port_address("1"), Ok(PortAddress::new(1).unwrap()));
        assert_eq!(
            parse_port_address("1:2:3"),
            Ok(PortAddress::from_parts(1, 2, 3).unwrap())
        );
        assert!(parse_port_address("32768").is_err());
        assert!(parse_port_address("0:16:0").is_err());
        assert!(parse_port_address("x").is_err());
    }
}
