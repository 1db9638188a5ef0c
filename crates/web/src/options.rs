//! `[backend web]` options and the `--web` flag: where the monitor listens and who may look.
//!
//! Why a bind other than loopback needs credentials: the monitor shows the whole show (every
//! universe, every source) and a later version will reload configurations; on a shared network
//! anyone could watch or, later, change it. Loopback is reachable only from the host itself,
//! so there credentials are optional.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use patchbay_core::OptionError;

/// The options `[backend web]` takes, in the order error messages list them.
pub const OPTIONS: &[&str] = &["bind", "token", "user", "password", "clients"];

/// Default port (OLA's web UI uses 9090 too; patchbay and olad on one host: pick another).
pub const DEFAULT_PORT: u16 = 9090;

/// Default and largest number of clients served at once.
pub const DEFAULT_CLIENTS: usize = 128;
/// Largest `clients` value: each client may hold [`crate::server::OUTPUT_CAP`] of output.
pub const MAX_CLIENTS: usize = 1024;

/// Shortest token accepted: a guessable token on a network is no protection.
pub const MIN_TOKEN_LEN: usize = 16;

/// Who may use the monitor. Empty: anyone who can connect (only allowed on loopback).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Auth {
    /// A bearer token (header, `?token=` or the cookie the monitor sets from it).
    pub token: Option<String>,
    /// HTTP Basic credentials.
    pub user: Option<String>,
    pub password: Option<String>,
}

impl Auth {
    /// Whether any credential is required.
    pub fn required(&self) -> bool {
        self.token.is_some() || self.user.is_some()
    }
}

/// The monitor's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Where it listens.
    pub bind: SocketAddr,
    pub auth: Auth,
    /// Clients served at once; more are answered 503 and closed.
    pub clients: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT),
            auth: Auth::default(),
            clients: DEFAULT_CLIENTS,
        }
    }
}

/// A whole-configuration problem ([`Options::validate`]): which option line it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The option whose line the problem points at (`bind`, `user`, `password`).
    pub key: &'static str,
    /// What is wrong and what would fix it.
    pub message: String,
}

impl Options {
    /// One `[backend web]` option line or `-b web.KEY=VALUE`.
    pub fn configure(&mut self, key: &str, value: &str) -> Result<(), OptionError> {
        match key {
            "bind" => self.bind = parse_listen(key, value)?,
            "token" => {
                if value.len() < MIN_TOKEN_LEN || !value.bytes().all(token_char) {
                    return Err(invalid(
                        key,
                        "[REDACTED]",
                        &format!(
                            "at least {MIN_TOKEN_LEN} characters of A-Z a-z 0-9 - . _ ~ \
                             (e.g. from: head -c 24 /dev/urandom | base64 | tr '+/' '-_')"
                        ),
                    ));
                }
                self.auth.token = Some(value.to_string());
            }
            "user" => {
                if value.is_empty() || value.contains(':') || value.chars().any(char::is_control) {
                    return Err(invalid(
                        key,
                        value,
                        "a name without ':' or control characters",
                    ));
                }
                self.auth.user = Some(value.to_string());
            }
            "password" => {
                if value.is_empty() || value.chars().any(char::is_control) {
                    return Err(invalid(
                        key,
                        "[REDACTED]",
                        "a non-empty password without control characters",
                    ));
                }
                self.auth.password = Some(value.to_string());
            }
            "clients" => {
                self.clients = match value.parse::<usize>() {
                    Ok(n @ 1..=MAX_CLIENTS) => n,
                    _ => {
                        return Err(invalid(
                            key,
                            value,
                            &format!("a number of clients in 1..{MAX_CLIENTS}"),
                        ));
                    }
                }
            }
            _ => {
                return Err(OptionError::Unknown {
                    key: key.to_string(),
                    known: OPTIONS,
                });
            }
        }
        Ok(())
    }

    /// Checks what needs every line: `user` and `password` come together, and a bind other
    /// than loopback has credentials.
    pub fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let a = &self.auth;
        match (&a.user, &a.password) {
            (Some(_), None) => out.push(Problem {
                key: "user",
                message: "user without password: add password = ... (or remove user)".into(),
            }),
            (None, Some(_)) => out.push(Problem {
                key: "password",
                message: "password without user: add user = ... (or remove password)".into(),
            }),
            _ => {}
        }
        if !self.bind.ip().is_loopback() && !a.required() {
            out.push(Problem {
                key: "bind",
                message: format!(
                    "the web monitor would be open to every host that reaches {}: set token = ... \
                     (at least {MIN_TOKEN_LEN} characters) or user and password in [backend web], \
                     or bind to 127.0.0.1",
                    self.bind
                ),
            });
        }
        out
    }

    /// The address to open in a browser: the bind, with a wildcard replaced by loopback.
    pub fn url(&self) -> String {
        let ip = match self.bind.ip() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let addr = SocketAddr::new(ip, self.bind.port());
        match &self.auth.token {
            Some(_) => format!("http://{addr}/?token=..."),
            None => format!("http://{addr}/"),
        }
    }
}

/// Characters a token may use: URL-safe without escaping, so `?token=` works as typed.
fn token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn invalid(key: &str, value: &str, expected: &str) -> OptionError {
    OptionError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// `bind` and `--web`: `PORT`, `ADDR PORT`, `ADDR:PORT` or `[V6ADDR]:PORT`, where ADDR is an
/// IP address or `localhost` (no name lookups: `--check` must not query a resolver). A port
/// alone listens on 127.0.0.1.
pub fn parse_listen(key: &str, value: &str) -> Result<SocketAddr, OptionError> {
    const EXPECTED: &str = "PORT, ADDRESS PORT or ADDRESS:PORT, e.g. 9090 or 127.0.0.1 9090 \
                            (ADDRESS an IP address or localhost; port 1..65535)";
    let bad = || invalid(key, value, EXPECTED);
    let value_t = value.trim();
    let (host, port) = if let Some((h, p)) = value_t.split_once(char::is_whitespace) {
        (Some(h), p.trim())
    } else if let Some(rest) = value_t.strip_prefix('[') {
        let (h, p) = rest.split_once("]:").ok_or_else(bad)?;
        (Some(h), p)
    } else if value_t.matches(':').count() == 1 {
        let (h, p) = value_t.split_once(':').ok_or_else(bad)?;
        (Some(h), p)
    } else {
        (None, value_t)
    };
    let port = match port.parse::<u16>() {
        Ok(p @ 1..) if port.bytes().all(|b| b.is_ascii_digit()) => p,
        _ => return Err(bad()),
    };
    let ip = match host {
        None | Some("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(h) => h.parse::<IpAddr>().map_err(|_| bad())?,
    };
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_in_every_spelling() {
        let p = |v| parse_listen("bind", v).map(|a| a.to_string());
        assert_eq!(p("9090").unwrap(), "127.0.0.1:9090");
        assert_eq!(p("127.0.0.1 9091").unwrap(), "127.0.0.1:9091");
        assert_eq!(p("0.0.0.0:80").unwrap(), "0.0.0.0:80");
        assert_eq!(p("localhost 8080").unwrap(), "127.0.0.1:8080");
        assert_eq!(p("[::1]:9090").unwrap(), "[::1]:9090");
        assert_eq!(p("::1 9090").unwrap(), "[::1]:9090");
        for bad in [
            "",
            "0",
            "65536",
            "x",
            "host.example 9090",
            "1.2.3.4",
            "1.2.3.4:",
            "+80",
            "[::1]9090",
        ] {
            let e = p(bad).unwrap_err().to_string();
            assert!(e.contains("expected PORT, ADDRESS PORT"), "{bad}: {e}");
        }
    }

    #[test]
    fn options_are_checked_and_secrets_not_echoed() {
        let mut o = Options::default();
        assert_eq!(
            o.configure("port", "1").unwrap_err().to_string(),
            "unknown option 'port' (known options: bind, token, user, password, clients)"
        );
        let e = o
            .configure("token", "short secret")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[REDACTED]") && !e.contains("short secret"),
            "{e}"
        );
        o.configure("token", "0123456789abcdef-_.~").unwrap();
        assert!(o.configure("user", "a:b").is_err());
        let e = o.configure("password", "").unwrap_err().to_string();
        assert!(e.contains("[REDACTED]"), "{e}");
        assert!(o.configure("clients", "0").is_err());
        o.configure("clients", "5").unwrap();
        assert_eq!(o.clients, 5);
    }

    #[test]
    fn a_network_bind_needs_credentials_and_pairs_must_be_complete() {
        let mut o = Options::default();
        assert!(o.validate().is_empty(), "loopback needs nothing");
        o.configure("bind", "0.0.0.0 9090").unwrap();
        let p = o.validate();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].key, "bind");
        assert!(p[0].message.contains("set token"), "{}", p[0].message);
        o.configure("user", "tech").unwrap();
        let keys: Vec<_> = o.validate().iter().map(|p| p.key).collect();
        assert_eq!(keys, ["user"]);
        o.configure("password", "pw").unwrap();
        assert!(o.validate().is_empty());
        let mut t = Options::default();
        t.configure("bind", "198.18.0.1 9090").unwrap();
        t.configure("token", "abcdefghijklmnopqrstuvwxyz").unwrap();
        assert!(t.validate().is_empty());
        assert_eq!(t.url(), "http://198.18.0.1:9090/?token=...");
        let mut w = Options::default();
        w.configure("bind", "0.0.0.0:9191").unwrap();
        w.configure("password", "x").unwrap();
        w.configure("user", "u").unwrap();
        assert_eq!(w.url(), "http://127.0.0.1:9191/");
    }
}
