//! HOST and PORT words of `bind` and `destination` lines (sACN, OSC, Art-Net): an address, `*`,
//! or a host name that is only looked up when the backend starts, so that `--check` queries no
//! resolver.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

use patchbay_core::{OptionError, Part};

/// HOST of a `bind` or `destination` line, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// An address (`10.0.0.5`, `::1`, `[::1]`; `*` is `0.0.0.0`).
    Addr(IpAddr),
    /// A host name, looked up only when the backend starts ([`lookup`]).
    Name(String),
}

/// Longest host name (RFC 1035: 253 characters of labels and dots).
const MAX_HOST_NAME: usize = 253;

fn other(message: String) -> OptionError {
    OptionError::Other {
        at: Part::Value,
        message,
    }
}

/// HOST: an address, `*`, or a syntactically valid host name (letters, digits, `-` and `_` in
/// dot-separated labels of 1..63 characters). `HOST:PORT` gets its own explanation, since
/// both MIDIMonster and patchbay want the port as a separate word. `key` and `value` are the
/// option line, for the message.
pub fn parse_host(key: &str, value: &str, host: &str) -> Result<Host, OptionError> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare == "*" {
        return Ok(Host::Addr(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
    }
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(Host::Addr(ip));
    }
    if let Some((h, port)) = host.rsplit_once(':')
        && !h.is_empty()
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
    {
        let h = h
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix(']'))
            .unwrap_or(h);
        return Err(other(format!(
            "{key} = '{value}': '{host}' is HOST:PORT, but the port is a separate word after the \
             host: write {key} = {h} {port} (syntax: {key} = HOST [PORT])"
        )));
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if bare.len() <= MAX_HOST_NAME && bare.split('.').all(label_ok) {
        return Ok(Host::Name(bare.to_string()));
    }
    Err(other(format!(
        "{key} = '{value}': '{host}' is neither an IP address nor a host name (expected e.g. \
         10.0.0.5, ::1, * or a name such as node1.lan)"
    )))
}

/// Looks `name` up with `port` like a passive `getaddrinfo` and takes the first address.
pub fn lookup(name: &str, port: u16) -> Result<SocketAddr, String> {
    match (name, port).to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| format!("host '{name}' has no address")),
        Err(e) => Err(format!("cannot resolve host '{name}': {e}")),
    }
}

/// A port number: decimal digits only, `min..=65535`.
pub fn parse_port(key: &str, value: &str, tok: &str, min: u16) -> Result<u16, OptionError> {
    (!tok.is_empty() && tok.len() <= 5 && tok.bytes().all(|b| b.is_ascii_digit()))
        .then(|| tok.parse::<u32>().ok())
        .flatten()
        .filter(|&p| p >= u32::from(min) && p <= 65535)
        .map(|p| p as u16)
        .ok_or_else(|| {
            other(format!(
                "invalid port '{tok}' in option '{key}' = '{value}': expected a number in {min}..65535"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("bind", "* 1", "*"),
            Ok(Host::Addr(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
        );
        assert_eq!(
            parse_host("bind", "[::1] 1", "[::1]"),
            Ok(Host::Addr("::1".parse().unwrap()))
        );
        assert_eq!(
            parse_host("d", "node1.lan", "node1.lan"),
            Ok(Host::Name("node1.lan".into()))
        );
        let e = parse_host("d", "10.0.0.5:9000", "10.0.0.5:9000").unwrap_err();
        assert!(e.to_string().contains("write d = 10.0.0.5 9000"), "{e}");
        assert!(parse_host("d", "a b", "a/b").is_err());
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port("bind", "x 0", "0", 0), Ok(0));
        assert_eq!(parse_port("bind", "x 65535", "65535", 1), Ok(65535));
        for bad in ["", "0", "65536", "-1", "+5", "1a", "123456"] {
            assert!(parse_port("d", "x", bad, 1).is_err(), "{bad}");
        }
    }
}
