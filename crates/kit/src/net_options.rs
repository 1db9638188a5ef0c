//! Option values that several network backends share, parsed strictly (`doc/backends.md`):
//! numbers, C `strtoul` notation, hosts and ports, on/off switches, `detect` levels, and
//! `HOST [PORT]` destinations.
//!
//! Why strict: MIDIMonster reads numbers with unchecked `strtoul`, so typos silently become 0 or
//! wrap. Here every value is either fully understood or an error naming what would have been
//! accepted; nothing has effects (host names are only checked for syntax and looked up when the
//! backend starts, so `--check` queries no resolver).

use std::net::SocketAddr;

use patchbay_core::{OptionError, Part};

// HOST and PORT words live in `host` (shared with OSC); re-exported so one import serves.
pub use crate::host::{Host, lookup, parse_host, parse_port};

/// The `detect` diagnostic level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Detect {
    /// No diagnostics.
    #[default]
    Off,
    /// Log every new source once.
    On,
    /// Also log every discarded packet and data for universes nobody listens to.
    Verbose,
}

/// A `destination` line: a socket address, or a host name looked up when the backend starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// An address and port.
    Addr(SocketAddr),
    /// A host name and port, looked up when the backend starts ([`lookup`]).
    Name(String, u16),
}

/// The error "invalid value V for option K: expected E".
pub fn invalid(key: &str, value: &str, expected: impl Into<String>) -> OptionError {
    OptionError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

/// An error about the value with its own wording.
pub fn other(message: String) -> OptionError {
    OptionError::Other {
        at: Part::Value,
        message,
    }
}

/// Digits only (no sign, no blanks, no trailing text), at most `max`.
pub fn decimal(value: &str, max: u64) -> Option<u64> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<u64>().ok().filter(|&v| v <= max)
}

/// One token in C `strtoul(.., 0)` notation (`0x1f`, `017`, `31`), the whole token, no sign.
pub fn c_number(tok: &str) -> Option<u64> {
    let (digits, radix) = if let Some(h) = tok.strip_prefix("0x").or(tok.strip_prefix("0X")) {
        (h, 16)
    } else if tok.len() > 1 && tok.starts_with('0') {
        (&tok[1..], 8)
    } else {
        (tok, 10)
    };
    if digits.is_empty() || digits.len() > 22 || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// Adds a `bind` line to `binds`, or refuses it when there are `max` already. The limit is the
/// backend's: each bind's sockets carry its index in their [`SocketTag`](crate::tag::SocketTag).
/// A line that is both one too many and malformed is reported as one too many.
pub fn push_bind<B>(
    binds: &mut Vec<B>,
    max: usize,
    bind: Result<B, OptionError>,
) -> Result<(), OptionError> {
    if binds.len() >= max {
        return Err(OptionError::Other {
            at: Part::Key,
            message: format!("too many bind lines (at most {max})"),
        });
    }
    binds.push(bind?);
    Ok(())
}

/// `detect`: `on`, `verbose` or `off`; anything else is off with a warning (MIDIMonster: off).
pub fn parse_detect(value: &str) -> (Detect, Option<String>) {
    match value {
        "on" => (Detect::On, None),
        "verbose" => (Detect::Verbose, None),
        "off" => (Detect::Off, None),
        _ => (
            Detect::Off,
            Some(format!(
                "detect = '{value}' is not one of on, verbose, off; detection stays off"
            )),
        ),
    }
}

/// `unicast`, `realtime`: a number, 0 for off and anything else for on, as MIDIMonster reads it.
///
/// Words are refused: MIDIMonster reads these options with `strtoul`, so `yes`, `true` or `on`
/// are 0 there and switch the option *off*. Accepting them as on would make the same file do
/// the opposite in the two programs without a word; following MIDIMonster would do the opposite
/// of what the line says. An error that names the number to write is the only safe choice.
pub fn parse_switch(key: &str, value: &str) -> Result<bool, OptionError> {
    if let Some(n) = decimal(value, u64::MAX) {
        return Ok(n != 0);
    }
    let word = value.to_ascii_lowercase();
    let meant = match word.as_str() {
        "on" | "true" | "yes" | "enable" | "enabled" => Some("on"),
        "off" | "false" | "no" | "disable" | "disabled" => Some("off"),
        _ => None,
    };
    Err(match meant {
        Some(meant) => other(format!(
            "{key} = '{value}': write {} for {meant}; this option is a number (0 off, 1 on), and \
             MIDIMonster reads any word as 0, i.e. off",
            if meant == "on" { 1 } else { 0 }
        )),
        None => invalid(key, value, "0 (off) or 1 (on)"),
    })
}

/// `interface` of a backend whose `[backend NAME]` section has `bind` lines: the index of one
/// read before (`binds` so far), as `number` reads it (decimal, or `strtoul` base 0).
pub fn parse_bind_index(
    key: &str,
    value: &str,
    binds: usize,
    backend: &str,
    number: impl Fn(&str) -> Option<u64>,
) -> Result<usize, OptionError> {
    let expected = if binds == 0 {
        format!(
            "the index of a bind line, but no bind line has been read yet (the [backend \
             {backend}] bind lines must come before the instances that use them)"
        )
    } else {
        format!(
            "the index of a bind line read before this one (0..{}, in order of appearance)",
            binds - 1
        )
    };
    number(value)
        .filter(|&i| (i as usize) < binds)
        .map(|i| i as usize)
        .ok_or_else(|| invalid(key, value, expected))
}

/// `destination = HOST [PORT]` with `default_port` when the port is left out; a wildcard
/// address is refused (it is no destination).
pub fn parse_destination(
    key: &str,
    value: &str,
    default_port: u16,
) -> Result<Destination, OptionError> {
    let tokens: Vec<&str> = value.split_ascii_whitespace().collect();
    let (host, port) = match tokens.as_slice() {
        [h] => (*h, default_port),
        [h, p] => (*h, parse_port(key, value, p, 1)?),
        _ => return Err(invalid(key, value, "HOST [PORT]")),
    };
    match parse_host(key, value, host)? {
        Host::Addr(ip) if ip.is_unspecified() => Err(invalid(
            key,
            value,
            "a host to send to (a wildcard address is not a destination)",
        )),
        Host::Addr(ip) => Ok(Destination::Addr(SocketAddr::new(ip, port))),
        Host::Name(name) => Ok(Destination::Name(name, port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_stop_at_the_limit_and_malformed_ones_are_not_kept() {
        let mut binds = Vec::new();
        push_bind(&mut binds, 2, Ok(1)).unwrap();
        let bad = OptionError::Other {
            at: Part::Value,
            message: "bad".into(),
        };
        assert_eq!(push_bind(&mut binds, 2, Err(bad.clone())), Err(bad));
        push_bind(&mut binds, 2, Ok(2)).unwrap();
        assert_eq!(
            push_bind(&mut binds, 2, Ok(3)),
            Err(OptionError::Other {
                at: Part::Key,
                message: "too many bind lines (at most 2)".into(),
            })
        );
        assert_eq!(binds, [1, 2]);
    }

    #[test]
    fn destinations_take_a_default_port_and_refuse_wildcards() {
        assert_eq!(
            parse_destination("dest", "10.0.0.5", 6454),
            Ok(Destination::Addr("10.0.0.5:6454".parse().unwrap()))
        );
        assert_eq!(
            parse_destination("dest", "255.255.255.255 7000", 6454),
            Ok(Destination::Addr("255.255.255.255:7000".parse().unwrap()))
        );
        assert_eq!(
            parse_destination("dest", "node1.lan", 6454),
            Ok(Destination::Name("node1.lan".into(), 6454))
        );
        assert!(parse_destination("dest", "0.0.0.0", 6454).is_err());
        assert!(parse_destination("dest", "10.0.0.5 0", 6454).is_err());
        assert!(
            parse_destination("dest", "10.0.0.5:6454", 6454)
                .unwrap_err()
                .to_string()
                .contains("dest = 10.0.0.5 6454")
        );
    }
}
