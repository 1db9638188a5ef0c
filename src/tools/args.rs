//! The command line of `patchbay sacn`: clap definitions and the checks clap cannot do
//! (addresses, universe lists, durations), turning arguments into run configurations.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Subcommand};
use patchbay_sacn::{Cid, DATA_UNIVERSES, MAX_PRIORITY};

use super::pattern::Pattern;
use super::view::SlotFormat;
use super::{addr, send, watch};

/// sACN diagnostic tools.
#[derive(Debug, Subcommand)]
pub enum SacnCommand {
    /// Send a test pattern on one universe (a test source)
    ///
    /// Sends sACN (ANSI E1.31-2018) data for UNIVERSE to its multicast group (239.255.H.L, port
    /// 5568) or to the --unicast addresses, with a pattern that changes --rate times per second.
    /// Packets are paced exactly as patchbay's sACN output paces them: at most 44 packets/s, 3
    /// repeats after a change, a keep-alive within 1 s when nothing changes, and universe
    /// discovery every 10 s.
    ///
    /// On Ctrl-C, SIGTERM, --terminate-after or --count the stream ends with 3
    /// Stream_Terminated packets, so receivers release the universe at once instead of after
    /// their 2.5 s timeout. Multicast loopback is on: a watcher or patchbay on the same host
    /// sees the stream.
    #[command(after_help = "Examples:\n  \
patchbay sacn send 1\n                   a ramp on universe 1, priority 100, 10 frames/s\n  \
patchbay sacn send 5 --priority 120 --pattern static:255,128,0 --unicast 10.0.0.20\n                   \
three fixed levels to one node, above a desk at 100\n  \
patchbay sacn send 1 --pattern chase --slots 16 --terminate-after 10\n                   \
a chase over slots 1-16 for 10 s, then terminate\n  \
patchbay sacn send 7 --bind 10.101.0.5 --count 100\n                   \
100 frames out of the interface with address 10.101.0.5\n\n\
Exit status:\n  \
0  the stream ended and was terminated (signal, --terminate-after, --count)\n  \
1  the socket could not be opened\n  \
2  usage error")]
    Send(SendArgs),
    /// Show every sACN source, its statistics, and the merged levels of a universe
    ///
    /// For each source seen: universe, name, CID, priority, whether it sends per-address
    /// priorities (0xDD), packets per second, packets out of sequence, packets missed (sequence
    /// gaps), times lost (2.5 s silence), state and time since the last packet. Universes where
    /// several sources share the top priority (and are merged HTP: flicker) or sources with
    /// sequence errors are flagged with '!'. Universe discovery results are listed.
    ///
    /// On a terminal the view is redrawn every second; when piped, one snapshot block is
    /// printed per second. --json prints one JSON object per line instead: events
    /// (source_new, source_lost, source_terminated, per_address_priority_lost,
    /// sequence_errors, discovery, discovery_expired) as they happen and, every second, a
    /// "stats" line per source and a "universe" line per universe (with its 512 merged levels).
    ///
    /// The watcher only listens: it sends nothing, so it can run beside patchbay or a desk on
    /// the same host (port 5568 is shared; a unicast datagram reaches only one of the
    /// programs listening on it).
    #[command(after_help = "Examples:\n  \
patchbay sacn watch 5\n                   who sends universe 5 (\"why does universe 5 flicker?\")\n  \
patchbay sacn watch 1-4 10 --slots percent --universe 10\n                   \
universes 1-4 and 10, levels of universe 10 in percent\n  \
patchbay sacn watch --bind 10.101.0.5\n                   \
every universe announced on the interface with that address\n  \
patchbay sacn watch 1 --json --duration 10 | jq 'select(.event==\"stats\")'\n                   \
per-source statistics for 10 s, for a script\n\n\
Exit status:\n  \
0  after --duration, Ctrl-C, SIGTERM, or when the output was closed\n  \
1  the socket could not be opened\n  \
2  usage error")]
    Watch(WatchArgs),
}

/// Arguments of `sacn send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Universe to send (1-63999)
    #[arg(value_parser = clap::value_parser!(u16).range(1..=63999))]
    pub universe: u16,
    /// Packet priority (0-200)
    ///
    /// Receivers follow the source with the highest priority; sources at the same priority
    /// are merged (usually HTP). sACN's default is 100.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u8).range(0..=i64::from(MAX_PRIORITY)))]
    pub priority: u8,
    /// Pattern frames per second (packets stay at most 44/s)
    ///
    /// How often the pattern advances, in Hz; fractions such as 0.5 are allowed. Above 44 Hz
    /// not every frame reaches the wire: the universe still gets at most 44 packets per second.
    #[arg(long, value_name = "HZ", default_value_t = 10.0)]
    pub rate: f64,
    /// ramp (slot i = frame+i), chase (one slot at full walking) or static:V1,V2,...
    ///
    /// ramp: slot i (from 0) holds (frame + i) mod 256, so every slot moves every frame and
    /// neighbours differ by one. chase: one slot at 255 walks one slot per frame, the others
    /// are 0. static:V1,V2,...: fixed levels 0-255 for slots 1, 2, ...; the stream then carries
    /// only keep-alives.
    #[arg(long, default_value = "ramp")]
    pub pattern: Pattern,
    /// Slots the pattern drives, 1-512 [default: 512, or the number of static values]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub slots: Option<u16>,
    /// Send to this address (HOST[:PORT], port 5568) instead of the universe's multicast group;
    /// repeatable
    ///
    /// HOST is an IPv4 or IPv6 address ([::1]:5568 with a port) or a host name. Each address
    /// given gets every packet, universe discovery included; nothing is sent to a multicast
    /// group.
    #[arg(long, value_name = "ADDR")]
    pub unicast: Vec<String>,
    /// Local address to send from (HOST[:PORT]; the interface of multicast output)
    ///
    /// Multicast leaves through the interface that has this address; name the lighting
    /// network's address on a host with several networks. Port 0: any free port.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:0")]
    pub bind: String,
    /// Source name, at most 63 bytes (longer names are cut)
    #[arg(long, default_value = "patchbay sacn send")]
    pub name: String,
    /// Source CID (UUID) [default: a random one]
    ///
    /// Receivers tell sources apart by CID: give a fixed one to appear as the same source
    /// across restarts, e.g. 01234567-89ab-cdef-0123-456789abcdef.
    #[arg(long, value_name = "UUID")]
    pub cid: Option<String>,
    /// Terminate the stream and exit after S seconds (fractions allowed)
    #[arg(long, value_name = "S")]
    pub terminate_after: Option<f64>,
    /// Terminate the stream and exit after N pattern frames
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
}

/// Arguments of `sacn watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Universes to watch: N, A-B or comma lists [default: every universe that universe discovery
    /// announces, and any universe arriving unicast]
    ///
    /// Universes are 1-63999; several arguments add up (5 1-3,8). Without a list the watcher
    /// joins the universes that sources announce in universe discovery (every 10 s), so sources
    /// that do not send discovery are only seen when they arrive unicast.
    #[arg(value_name = "UNIVERSES")]
    pub universes: Vec<String>,
    /// Local address (HOST[:PORT], port 5568); multicast is joined on its interface
    ///
    /// On a host with several networks, name the lighting network's address: multicast groups
    /// are joined on the interface that has it. Unicast sACN sent to that address is seen too.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0")]
    pub bind: String,
    /// One JSON object per line (events, and per-second stats) instead of the view
    #[arg(long)]
    pub json: bool,
    /// How the level grid shows slot values
    #[arg(long, value_enum, default_value_t = SlotFormat::Decimal)]
    pub slots: SlotFormat,
    /// Universe whose merged levels are shown [default: the first one with a source]
    #[arg(long, value_name = "N")]
    pub universe: Option<u16>,
    /// Exit after S seconds (fractions allowed) [default: run until Ctrl-C]
    #[arg(long, value_name = "S")]
    pub duration: Option<f64>,
}

/// A usage problem found after clap (address, list and number checks).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Addr(#[from] addr::AddrError),
    #[error("'{0}' is not a universe list (N, A-B, or comma-separated; universes 1-63999)")]
    Universes(String),
    #[error("--cid: {0}")]
    Cid(String),
    #[error("{0} must be a non-negative number of seconds")]
    Seconds(&'static str),
    #[error("--rate must be a positive number of frames per second")]
    Rate,
}

/// Parses `1`, `1-4`, `1,3,5-6` (and several such arguments) into sorted, unique universes.
pub fn parse_universes(args: &[String]) -> Result<Vec<u16>, UsageError> {
    let mut out = Vec::new();
    for arg in args {
        for part in arg.split(',').filter(|p| !p.trim().is_empty()) {
            let bad = || UsageError::Universes(arg.clone());
            let num = |s: &str| -> Result<u16, UsageError> {
                s.trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|u| DATA_UNIVERSES.contains(u))
                    .ok_or_else(bad)
            };
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (num(a)?, num(b)?);
                    if a > b {
                        return Err(bad());
                    }
                    out.extend(a..=b);
                }
                None => out.push(num(part)?),
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

pub(super) fn seconds(v: Option<f64>, what: &'static str) -> Result<Option<Duration>, UsageError> {
    v.map(|s| Duration::try_from_secs_f64(s).map_err(|_| UsageError::Seconds(what)))
        .transpose()
}

impl SendArgs {
    /// The run configuration, with every check clap could not do.
    pub fn config(&self) -> Result<send::SendConfig, UsageError> {
        let cid = match &self.cid {
            Some(text) => Cid::parse_uuid(text).map_err(|e| UsageError::Cid(e.to_string()))?,
            None => Cid(*uuid::Uuid::new_v4().as_bytes()),
        };
        let destinations = self
            .unicast
            .iter()
            .map(|a| addr::parse_addr(a, patchbay_sacn::PORT))
            .collect::<Result<Vec<SocketAddr>, _>>()?;
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(UsageError::Rate);
        }
        Ok(send::SendConfig {
            universe: self.universe,
            priority: self.priority,
            rate: self.rate,
            slots: self
                .slots
                .map_or_else(|| self.pattern.default_slots(), usize::from),
            pattern: self.pattern.clone(),
            destinations,
            bind: addr::parse_addr(&self.bind, 0)?,
            name: self.name.clone(),
            cid,
            terminate_after: seconds(self.terminate_after, "--terminate-after")?,
            count: self.count,
        })
    }
}

impl WatchArgs {
    /// The run configuration, with every check clap could not do.
    pub fn config(&self) -> Result<watch::WatchConfig, UsageError> {
        Ok(watch::WatchConfig {
            universes: parse_universes(&self.universes)?,
            bind: addr::parse_addr(&self.bind, patchbay_sacn::PORT)?,
            multicast: true,
            period: Duration::from_secs(1),
            duration: seconds(self.duration, "--duration")?,
            receiver: patchbay_sacn::receiver::ReceiverConfig::default(),
        })
    }
}

/// `1-4, 7` for a sorted list.
pub fn compact_list(universes: &[u16]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < universes.len() {
        let start = universes[i];
        let mut end = start;
        while i + 1 < universes.len() && universes[i + 1] == end + 1 {
            i += 1;
            end = universes[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn send_args(extra: &[&str]) -> SendArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            send: SendArgs,
        }
        let mut argv = vec!["send"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().send
    }

    #[test]
    fn send_arguments_become_a_config() {
        let cfg = send_args(&[
            "7",
            "--unicast",
            "127.0.0.1",
            "--unicast",
            "[::1]:6000",
            "--cid",
            "01234567-89ab-cdef-0123-456789abcdef",
            "--pattern",
            "static:1,2",
            "--terminate-after",
            "1.5",
        ])
        .config()
        .unwrap();
        assert_eq!(cfg.universe, 7);
        assert_eq!(
            cfg.destinations,
            [
                "127.0.0.1:5568".parse::<SocketAddr>().unwrap(),
                "[::1]:6000".parse().unwrap()
            ]
        );
        assert_eq!(cfg.cid.to_string(), "01234567-89ab-cdef-0123-456789abcdef");
        assert_eq!(cfg.slots, 2, "a static pattern drives its own slots");
        assert_eq!(cfg.terminate_after, Some(Duration::from_millis(1500)));
        assert_eq!(cfg.bind, "0.0.0.0:0".parse().unwrap());
    }

    #[test]
    fn send_arguments_are_checked() {
        assert!(matches!(
            send_args(&["1", "--rate", "0"]).config(),
            Err(UsageError::Rate)
        ));
        assert!(matches!(
            send_args(&["1", "--terminate-after=-1"]).config(),
            Err(UsageError::Seconds("--terminate-after"))
        ));
        assert!(matches!(
            send_args(&["1", "--cid", "nope"]).config(),
            Err(UsageError::Cid(_))
        ));
        assert!(matches!(
            send_args(&["1", "--unicast", "1.2.3.4:99999"]).config(),
            Err(UsageError::Addr(_))
        ));
    }

    #[test]
    fn universe_lists() {
        assert_eq!(
            parse_universes(&strings(&["5", "1-3,2", "10"])).unwrap(),
            [1, 2, 3, 5, 10]
        );
        assert!(parse_universes(&strings(&["0"])).is_err());
        assert!(parse_universes(&strings(&["64000"])).is_err());
        assert!(parse_universes(&strings(&["4-2"])).is_err());
        assert!(parse_universes(&strings(&["x"])).is_err());
        assert_eq!(compact_list(&[1, 2, 3, 5, 7, 8]), "1-3, 5, 7-8");
    }
}
