//! Parsing of every `artnet` option value (README.md beside this file), one function per syntax.
//!
//! MIDIMonster reads `net`, `universe` and `interface` with `strtoul(.., 0)`, so `0x10` and
//! `010` are numbers there; they are here too, but a value out of range or with trailing text
//! is an error naming what is allowed, not a silent 0 or a wrapped byte.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use patchbay_core::OptionError;
use patchbay_kit::net_options::{Host, c_number, invalid, other, parse_host, parse_port};

/// Options of `[backend artnet]`, in the order the error message lists them.
pub const GLOBAL_OPTIONS: &[&str] = &["bind", "net", "detect"];

/// Options of `[artnet NAME]` (aliases after their option).
pub const INSTANCE_OPTIONS: &[&str] = &[
    "net",
    "universe",
    "uni",
    "destination",
    "dest",
    "interface",
    "iface",
    "realtime",
    "sync",
];

/// MIDIMonster's limit of `bind` lines (`MAX_FDS`).
pub const MAX_BINDS: usize = 255;

/// Art-Net's UDP port.
pub const PORT: u16 = patchbay_artnet::wire::PORT;

/// Syntax of `bind`, for messages.
const BIND_SYNTAX: &str = "HOST [PORT] [announce=ADDRESS]";

/// A `bind` line; the socket is only opened at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindOption {
    /// Address and port to bind (`0.0.0.0` with the port while [`Self::pending`] is a name).
    pub addr: SocketAddr,
    /// A host name looked up when the backend starts.
    pub pending: Option<String>,
    /// `announce=ADDRESS`: the IPv4 address ArtPollReply reports, and the sign that patchbay
    /// polls for nodes itself (an ArtPoll every few seconds to the address's subnet).
    pub announce: Option<Ipv4Addr>,
}

/// `bind = HOST [PORT] [announce=ADDRESS]`.
pub fn parse_bind(value: &str) -> Result<BindOption, OptionError> {
    let mut tokens = value.split_ascii_whitespace();
    let Some(host) = tokens.next() else {
        return Err(invalid("bind", value, BIND_SYNTAX));
    };
    let mut port = PORT;
    let mut announce = None;
    for (i, tok) in tokens.enumerate() {
        if i == 0 && tok.bytes().all(|b| b.is_ascii_digit()) {
            port = parse_port("bind", value, tok, 0)?;
        } else if let Some(a) = tok.strip_prefix("announce=") {
            announce = Some(a.parse::<Ipv4Addr>().map_err(|_| {
                other(format!(
                    "bind = '{value}': announce='{a}' is not an IPv4 address (ArtPollReply has \
                     room for IPv4 only; syntax: {BIND_SYNTAX})"
                ))
            })?);
        } else {
            return Err(other(format!(
                "unknown word '{tok}' in bind = '{value}' (syntax: {BIND_SYNTAX})"
            )));
        }
    }
    let (addr, pending) = match parse_host("bind", value, host)? {
        Host::Addr(ip) => (SocketAddr::new(ip, port), None),
        Host::Name(name) => (
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
            Some(name),
        ),
    };
    Ok(BindOption {
        addr,
        pending,
        announce,
    })
}

/// One number in `strtoul` base-0 notation, at most `max`.
fn number(key: &str, value: &str, max: u64, expected: &str) -> Result<u64, OptionError> {
    c_number(value.trim())
        .filter(|&n| n <= max)
        .ok_or_else(|| invalid(key, value, expected))
}

/// `net`: 0..127, the upper 7 bits of the Port-Address.
pub fn parse_net(key: &str, value: &str) -> Result<u8, OptionError> {
    number(
        key,
        value,
        127,
        "a net number in 0..127 (decimal, 0x hex or 0 octal)",
    )
    .map(|n| n as u8)
}

/// `universe`/`uni`: 0..255, the low 8 bits of the Port-Address (sub-net × 16 + universe).
pub fn parse_universe(key: &str, value: &str) -> Result<u8, OptionError> {
    number(
        key,
        value,
        255,
        "a universe number in 0..255 (sub-net × 16 + universe; decimal, 0x hex or 0 octal)",
    )
    .map(|n| n as u8)
}

/// `interface`/`iface`: the index of a `bind` line read before.
pub fn parse_interface(key: &str, value: &str, binds: usize) -> Result<usize, OptionError> {
    patchbay_kit::net_options::parse_bind_index(key, value, binds, "artnet", |v| c_number(v.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_takes_port_and_announce() {
        assert_eq!(
            parse_bind("0.0.0.0"),
            Ok(BindOption {
                addr: "0.0.0.0:6454".parse().unwrap(),
                pending: None,
                announce: None
            })
        );
        let b = parse_bind("0.0.0.0 6455 announce=10.0.0.1").unwrap();
        assert_eq!(b.addr, "0.0.0.0:6455".parse().unwrap());
        assert_eq!(b.announce, Some(Ipv4Addr::new(10, 0, 0, 1)));
        let b = parse_bind("* announce=10.0.0.1").unwrap();
        assert_eq!(b.addr.port(), 6454);
        assert!(parse_bind("0.0.0.0 6454 announce=::1").is_err());
        assert!(parse_bind("0.0.0.0 6454 local").is_err());
        assert!(parse_bind("").is_err());
        assert!(parse_bind("0.0.0.0 70000").is_err());
        assert_eq!(
            parse_bind("desk.lan").unwrap().pending.as_deref(),
            Some("desk.lan")
        );
    }

    #[test]
    fn numbers_follow_strtoul_base_0_within_range() {
        assert_eq!(parse_net("net", "0x10"), Ok(16));
        assert_eq!(parse_net("net", "127"), Ok(127));
        assert!(parse_net("net", "128").is_err());
        assert!(parse_net("net", "1x").is_err());
        assert_eq!(parse_universe("uni", "017"), Ok(15));
        assert_eq!(parse_universe("universe", "255"), Ok(255));
        let e = parse_universe("universe", "256").unwrap_err().to_string();
        assert!(e.contains("0..255"), "{e}");
        assert_eq!(parse_interface("iface", "1", 2), Ok(1));
        assert!(parse_interface("iface", "2", 2).is_err());
        assert!(
            parse_interface("interface", "0", 0)
                .unwrap_err()
                .to_string()
                .contains("no bind line")
        );
    }
}
