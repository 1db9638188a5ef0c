//! Address arguments of the sACN tools: `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 address,
//! with sACN's port as the default.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// Why an address argument was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not an address (HOST, HOST:PORT or [IPV6]:PORT): {why}")]
pub struct AddrError {
    pub text: String,
    pub why: String,
}

/// Parses `text`, filling in `default_port` when none is given. Host names are resolved (first
/// result), so `localhost` works.
pub fn parse_addr(text: &str, default_port: u16) -> Result<SocketAddr, AddrError> {
    let t = text.trim();
    if let Ok(sa) = t.parse::<SocketAddr>() {
        return Ok(sa);
    }
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, default_port));
    }
    let err = |why: String| AddrError {
        text: text.to_string(),
        why,
    };
    let with_port = if t.contains(':') {
        t.to_string()
    } else {
        format!("{t}:{default_port}")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| err(e.to_string()))?
        .next()
        .ok_or_else(|| err("the name resolves to no address".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            parse_addr("127.0.0.1", 5568).unwrap(),
            "127.0.0.1:5568".parse().unwrap()
        );
        assert_eq!(
            parse_addr("127.0.0.1:6000", 5568).unwrap(),
            "127.0.0.1:6000".parse().unwrap()
        );
        assert_eq!(
            parse_addr("::1", 5568).unwrap(),
            "[::1]:5568".parse().unwrap()
        );
        assert_eq!(
            parse_addr("[::1]:7", 5568).unwrap(),
            "[::1]:7".parse().unwrap()
        );
        assert!(parse_addr("1.2.3.4:99999", 5568).is_err());
    }
}
