//! Parsing of every `osc` option value (README.md beside this file), one function per syntax.
//! Nothing here has effects: host names are only checked for syntax and looked up at start.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use patchbay_core::{OptionError, Part};
use patchbay_kit::host::{Host, parse_host, parse_port};
use patchbay_osc::channel::{PathError, Root, validate_path};
use patchbay_osc::preconfig::{Preconfig, PreconfigError};

/// Options of `[backend osc]`.
pub const GLOBAL_OPTIONS: &[&str] = &["detect"];

/// Options of `[osc NAME]` (besides `/PATTERN = ...` lines), in the order messages list them.
pub const INSTANCE_OPTIONS: &[&str] = &[
    "bind",
    "destination",
    "dest",
    "root",
    "bundle",
    "keepalive",
    "transport",
];

/// Shortest `keepalive` period.
pub const MIN_KEEPALIVE: Duration = Duration::from_millis(10);

/// An address to bind or send to: a socket address, or a host name looked up at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addr {
    /// An IP address and port.
    Socket(SocketAddr),
    /// A host name and port.
    Name(String, u16),
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Socket(a) => write!(f, "{a}"),
            Addr::Name(n, p) => write!(f, "{n}:{p}"),
        }
    }
}

/// Where output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A fixed peer.
    Fixed(Addr),
    /// The sender of the last datagram received (`learn`), on its own port or on `port`
    /// (`learn@PORT`).
    Learn {
        /// The port forced by `learn@PORT`.
        port: Option<u16>,
    },
}

/// The stream transport of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Transport {
    /// Datagrams (OSC 1.0 over UDP), as MIDIMonster.
    #[default]
    Udp,
    /// A TCP stream with SLIP framing (OSC 1.1): `bind` listens, `destination` connects.
    TcpSlip,
    /// A TCP stream with a 32-bit length before each packet (OSC 1.0, liblo's default).
    TcpLength,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Udp => "udp",
            Transport::TcpSlip => "tcp (SLIP)",
            Transport::TcpLength => "tcp (length-prefixed)",
        })
    }
}

/// A periodic message (`keepalive = PATH SECONDS`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// The full address sent (not prefixed with `root`: devices name their own).
    pub path: String,
    /// Time between two messages.
    pub every: Duration,
}

/// The options of one instance.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InstanceOptions {
    pub bind: Option<Addr>,
    pub destination: Option<Destination>,
    pub root: Root,
    pub bundle: bool,
    pub keepalive: Option<Keepalive>,
    pub transport: Transport,
    pub preconfig: Vec<Preconfig>,
}

fn invalid(key: &str, value: &str, expected: impl Into<String>) -> OptionError {
    OptionError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

fn other(at: Part, message: String) -> OptionError {
    OptionError::Other { at, message }
}

/// `HOST PORT`, both required (as in MIDIMonster). `min_port` is 0 for a bind (any free port),
/// 1 for a destination.
pub fn parse_host_port(key: &str, value: &str, min_port: u16) -> Result<Addr, OptionError> {
    let words: Vec<&str> = value.split_ascii_whitespace().collect();
    let [host, port] = words[..] else {
        if let [one] = words[..]
            && let Err(e) = parse_host(key, value, one)
        {
            return Err(e);
        }
        return Err(invalid(
            key,
            value,
            "HOST PORT, e.g. 0.0.0.0 8000, * 8000 or :: 8000 (both words are required)",
        ));
    };
    let port = parse_port(key, value, port, min_port)?;
    Ok(match parse_host(key, value, host)? {
        Host::Addr(ip) => Addr::Socket(SocketAddr::new(ip, port)),
        Host::Name(n) => Addr::Name(n, port),
    })
}

/// `destination` / `dest`: `HOST PORT`, `learn` or `learn@PORT`.
pub fn parse_destination(key: &str, value: &str) -> Result<Destination, OptionError> {
    if value == "learn" {
        return Ok(Destination::Learn { port: None });
    }
    if let Some(port) = value.strip_prefix("learn@") {
        return Ok(Destination::Learn {
            port: Some(parse_port(key, value, port, 1)?),
        });
    }
    let addr = parse_host_port(key, value, 1).map_err(|e| match e {
        OptionError::Invalid { .. } => invalid(
            key,
            value,
            "HOST PORT (e.g. 10.0.0.5 9000), learn (answer whoever sent last) or learn@PORT",
        ),
        e => e,
    })?;
    if let Addr::Socket(a) = &addr
        && a.ip().is_unspecified()
    {
        return Err(invalid(
            key,
            value,
            "a host to send to (a wildcard address is not a destination)",
        ));
    }
    Ok(Destination::Fixed(addr))
}

/// `root`: an OSC path (a trailing `/` is dropped; `/` alone is no root).
pub fn parse_root(value: &str) -> Result<Root, OptionError> {
    Root::parse(value).map_err(|e| {
        invalid(
            "root",
            value,
            format!("an OSC path such as /4 or /my/desk ({e})"),
        )
    })
}

/// `on` / `off` (also 1/0, true/false, yes/no).
pub fn parse_switch(key: &str, value: &str) -> Result<bool, OptionError> {
    match value {
        "on" | "1" | "true" | "yes" => Ok(true),
        "off" | "0" | "false" | "no" => Ok(false),
        _ => Err(invalid(key, value, "on or off")),
    }
}

/// A duration: seconds (`9`, `0.5`, `9s`) or milliseconds (`500ms`).
fn parse_period(word: &str) -> Option<Duration> {
    let (number, scale) = if let Some(ms) = word.strip_suffix("ms") {
        (ms, 0.001)
    } else {
        (word.strip_suffix('s').unwrap_or(word), 1.0)
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let secs = number.parse::<f64>().ok()? * scale;
    (secs.is_finite() && secs <= 86_400.0).then(|| Duration::from_secs_f64(secs))
}

/// `keepalive = PATH PERIOD`: the message PATH without arguments, sent every PERIOD (seconds,
/// or `500ms`) to the destination; e.g. `/xremote 9` for Behringer X32 and XR mixers.
pub fn parse_keepalive(value: &str) -> Result<Keepalive, OptionError> {
    const SYNTAX: &str = "PATH PERIOD, e.g. /xremote 9 (seconds; 500ms for milliseconds)";
    let words: Vec<&str> = value.split_ascii_whitespace().collect();
    let [path, period] = words[..] else {
        return Err(invalid("keepalive", value, SYNTAX));
    };
    validate_path(path).map_err(|e: PathError| {
        other(
            Part::Value,
            format!("keepalive = '{value}': '{path}' is not an OSC path: {e}"),
        )
    })?;
    let every = parse_period(period)
        .filter(|d| *d >= MIN_KEEPALIVE)
        .ok_or_else(|| {
            other(
                Part::Value,
                format!(
                    "keepalive = '{value}': '{period}' is not a period of 10ms..86400s ({SYNTAX})"
                ),
            )
        })?;
    Ok(Keepalive {
        path: path.to_string(),
        every,
    })
}

/// `transport = udp | tcp`.
pub fn parse_transport(value: &str) -> Result<Transport, OptionError> {
    match value {
        "udp" => Ok(Transport::Udp),
        "tcp" => Ok(Transport::TcpSlip),
        "tcp-length" => Ok(Transport::TcpLength),
        _ => Err(invalid(
            "transport",
            value,
            "udp (datagrams, the default), tcp (a TCP stream with SLIP framing, OSC 1.1) or \
             tcp-length (a TCP stream with a length before each packet, OSC 1.0)",
        )),
    }
}

/// `/PATTERN = FMT MIN MAX ...`.
pub fn parse_preconfig(key: &str, value: &str) -> Result<Preconfig, OptionError> {
    Preconfig::parse(key, value).map_err(|e| match e {
        PreconfigError::Pattern(p) => other(
            Part::Key,
            format!("'{key}' is not an OSC path pattern: {p}"),
        ),
        PreconfigError::Spec(s) => other(Part::Value, format!("{key} = '{value}': {s}")),
    })
}

/// What one instance line was.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Option,
    Preconfig,
}

/// Applies one instance line.
pub fn apply(opts: &mut InstanceOptions, key: &str, value: &str) -> Result<Line, OptionError> {
    match key {
        "bind" => opts.bind = Some(parse_host_port(key, value, 0)?),
        "destination" | "dest" => opts.destination = Some(parse_destination(key, value)?),
        "root" => opts.root = parse_root(value)?,
        "bundle" => opts.bundle = parse_switch(key, value)?,
        "keepalive" => opts.keepalive = Some(parse_keepalive(value)?),
        "transport" => opts.transport = parse_transport(value)?,
        _ if key.starts_with('/') => {
            opts.preconfig.push(parse_preconfig(key, value)?);
            return Ok(Line::Preconfig);
        }
        _ => {
            return Err(OptionError::Unknown {
                key: key.to_string(),
                known: INSTANCE_OPTIONS,
            });
        }
    }
    Ok(Line::Option)
}

/// The wildcard address of the family of `peer`, port 0: where an instance without `bind`
/// sends from (MIDIMonster needs `bind` to send at all, cbdevnet/midimonster#133).
pub fn ephemeral_bind(peer: Option<SocketAddr>) -> SocketAddr {
    match peer {
        Some(SocketAddr::V6(_)) => SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 0),
        _ => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_need_host_and_port() {
        assert_eq!(
            parse_host_port("bind", "0.0.0.0 8000", 0),
            Ok(Addr::Socket("0.0.0.0:8000".parse().unwrap()))
        );
        assert_eq!(
            parse_host_port("bind", "* 8000", 0),
            Ok(Addr::Socket("0.0.0.0:8000".parse().unwrap()))
        );
        assert_eq!(
            parse_host_port("bind", ":: 8000", 0),
            Ok(Addr::Socket("[::]:8000".parse().unwrap()))
        );
        assert_eq!(
            parse_host_port("bind", "desk.lan 8000", 0),
            Ok(Addr::Name("desk.lan".into(), 8000))
        );
        for bad in ["", "0.0.0.0", "0.0.0.0 x", "0.0.0.0 70000", "a b c"] {
            assert!(parse_host_port("bind", bad, 0).is_err(), "{bad}");
        }
        let e = parse_host_port("bind", "127.0.0.1:8000", 0).unwrap_err();
        assert!(e.to_string().contains("bind = 127.0.0.1 8000"), "{e}");
    }

    #[test]
    fn destinations() {
        assert_eq!(
            parse_destination("dest", "learn"),
            Ok(Destination::Learn { port: None })
        );
        assert_eq!(
            parse_destination("dest", "learn@9000"),
            Ok(Destination::Learn { port: Some(9000) })
        );
        assert_eq!(
            parse_destination("destination", "10.0.0.5 9000"),
            Ok(Destination::Fixed(Addr::Socket(
                "10.0.0.5:9000".parse().unwrap()
            )))
        );
        for bad in [
            "learn@",
            "learn@0",
            "learn@x",
            "learnx",
            "0.0.0.0 9000",
            "10.0.0.5",
        ] {
            assert!(parse_destination("dest", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keepalives_and_switches() {
        assert_eq!(
            parse_keepalive("/xremote 9"),
            Ok(Keepalive {
                path: "/xremote".into(),
                every: Duration::from_secs(9)
            })
        );
        assert_eq!(
            parse_keepalive("/renew 500ms").map(|k| k.every),
            Ok(Duration::from_millis(500))
        );
        assert_eq!(
            parse_keepalive("/a 2.5s").map(|k| k.every),
            Ok(Duration::from_millis(2500))
        );
        for bad in [
            "",
            "/xremote",
            "xremote 9",
            "/x 0",
            "/x 1ms",
            "/x -1",
            "/x 9 9",
            "/x* 9",
        ] {
            assert!(parse_keepalive(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_switch("bundle", "on"), Ok(true));
        assert_eq!(parse_switch("bundle", "off"), Ok(false));
        assert!(parse_switch("bundle", "maybe").is_err());
        assert_eq!(parse_transport("tcp"), Ok(Transport::TcpSlip));
        assert_eq!(parse_transport("tcp-length"), Ok(Transport::TcpLength));
        assert!(parse_transport("sctp").is_err());
    }

    #[test]
    fn lines() {
        let mut o = InstanceOptions::default();
        assert_eq!(apply(&mut o, "root", "/4/"), Ok(Line::Option));
        assert_eq!(o.root.as_str(), "/4");
        assert_eq!(apply(&mut o, "/fader*", "f 0.0 1.0"), Ok(Line::Preconfig));
        assert_eq!(o.preconfig.len(), 1);
        let e = apply(&mut o, "/fader*", "x 0 1").unwrap_err();
        assert_eq!(e.part(), Part::Value);
        let e = apply(&mut o, "/a b", "f 0 1").unwrap_err();
        assert_eq!(e.part(), Part::Key);
        assert!(matches!(
            apply(&mut o, "port", "8000"),
            Err(OptionError::Unknown { .. })
        ));
        assert!(apply(&mut o, "root", "4").is_err());
    }
}
