//! The `host` option: `mqtt[s]://[user][:password]@host[:port]` or a bare host, as MIDIMonster
//! reads it (`mqtt_parse_hostspec`).

/// Default port of `mqtt://` and bare hosts.
pub const PORT: u16 = 1883;
/// Default port of `mqtts://`.
pub const TLS_PORT: u16 = 8883;

/// Where the broker is and how to log in, from the `host` option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    /// `mqtts://`: TLS.
    pub tls: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (1883, or 8883 with TLS, when not given).
    pub port: u16,
    /// User name from the URI (may be empty, as in `mqtt://:pw@host`).
    pub user: Option<String>,
    /// Password from the URI.
    pub password: Option<String>,
}

/// Why a `host` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// `scheme://` other than mqtt or mqtts.
    #[error("unknown scheme `{0}://`: use mqtt:// or mqtts:// (or a bare host)")]
    Scheme(String),
    /// No host.
    #[error("no broker host: expected mqtt[s]://[user][:password]@host[:port]")]
    NoHost,
    /// Port not a number 1..=65535.
    #[error("port `{0}` is not a number from 1 to 65535")]
    Port(String),
    /// `/`, a path, after the host.
    #[error("unexpected `/` after the host: expected mqtt[s]://[user][:password]@host[:port]")]
    Path,
    /// `[` without `]`.
    #[error("an IPv6 address in brackets needs the closing `]`")]
    Bracket,
}

impl BrokerAddress {
    /// Parses like MIDIMonster: the scheme is optional, credentials end at the first `@`,
    /// the password starts at the first `:` in them, and the port at the first `:` after the
    /// host. Beyond MIDIMonster: `[v6 address]:port`, and errors for an unknown scheme, a
    /// missing host, a non-numeric port or a path (MIDIMonster passes those on to the
    /// resolver and fails later).
    pub fn parse(spec: &str) -> Result<BrokerAddress, AddressError> {
        let (tls, rest) = if let Some(r) = spec.strip_prefix("mqtt://") {
            (false, r)
        } else if let Some(r) = spec.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some((scheme, _)) = spec.split_once("://") {
            return Err(AddressError::Scheme(scheme.into()));
        } else {
            (false, spec)
        };
        let (user, password, hostport) = match rest.split_once('@') {
            Some((cred, hostport)) => match cred.split_once(':') {
                Some((u, p)) => (Some(u.to_string()), Some(p.to_string()), hostport),
                None => (Some(cred.to_string()), None, hostport),
            },
            None => (None, None, rest),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or(AddressError::Bracket)?;
            match after {
                "" => (h, None),
                p => (h, Some(p.strip_prefix(':').unwrap_or(p))),
            }
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.contains('/') || port.is_some_and(|p| p.contains('/')) {
            return Err(AddressError::Path);
        }
        if host.is_empty() {
            return Err(AddressError::NoHost);
        }
        let port = match port {
            None => {
                if tls {
                    TLS_PORT
                } else {
                    PORT
                }
            }
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => return Err(AddressError::Port(p.into())),
            },
        };
        Ok(BrokerAddress {
            tls,
            host: host.into(),
            port,
            user,
            password,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(
        tls: bool,
        host: &str,
        port: u16,
        user: Option<&str>,
        pw: Option<&str>,
    ) -> BrokerAddress {
        BrokerAddress {
            tls,
            host: host.into(),
            port,
            user: user.map(Into::into),
            password: pw.map(Into::into),
        }
    }

    #[test]
    fn midimonster_forms() {
        let p = |s| BrokerAddress::parse(s).expect(s);
        assert_eq!(p("10.23.23.1"), addr(false, "10.23.23.1", 1883, None, None));
        assert_eq!(
            p("mqtt://10.23.23.1"),
            addr(false, "10.23.23.1", 1883, None, None)
        );
        assert_eq!(p("mqtts://broker"), addr(true, "broker", 8883, None, None));
        assert_eq!(
            p("mqtt://broker:1884"),
            addr(false, "broker", 1884, None, None)
        );
        assert_eq!(
            p("mqtt://user:pw@broker:1883"),
            addr(false, "broker", 1883, Some("user"), Some("pw"))
        );
        assert_eq!(
            p("mqtt://user@broker"),
            addr(false, "broker", 1883, Some("user"), None)
        );
        assert_eq!(
            p("mqtt://:pw@broker"),
            addr(false, "broker", 1883, Some(""), Some("pw"))
        );
        // The password may hold ':' (only the first one splits) but not '@'.
        assert_eq!(
            p("mqtts://u:a:b@h:9"),
            addr(true, "h", 9, Some("u"), Some("a:b"))
        );
        assert_eq!(p("[::1]:1884"), addr(false, "::1", 1884, None, None));
        assert_eq!(
            p("mqtts://[2001:db8::1]"),
            addr(true, "2001:db8::1", 8883, None, None)
        );
    }

    #[test]
    fn errors_name_the_form() {
        let e = |s| BrokerAddress::parse(s).expect_err(s);
        assert_eq!(e("tcp://h"), AddressError::Scheme("tcp".into()));
        assert_eq!(e("mqtt://"), AddressError::NoHost);
        assert_eq!(e("mqtt://u:p@"), AddressError::NoHost);
        assert_eq!(e("h:port"), AddressError::Port("port".into()));
        assert_eq!(e("h:0"), AddressError::Port("0".into()));
        assert_eq!(e("h:70000"), AddressError::Port("70000".into()));
        assert_eq!(e("mqtt://h/path"), AddressError::Path);
        assert_eq!(e("[::1"), AddressError::Bracket);
        assert!(e("mqtt://").to_string().contains("mqtt[s]://"));
    }
}
