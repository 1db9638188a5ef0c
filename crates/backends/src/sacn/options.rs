//! Parsing of every `sacn` option value (crates/backends/src/sacn/README.md), one function per syntax.
//!
//! Why strict: MIDIMonster reads numbers with unchecked `strtoul`, so typos silently become 0 or
//! wrap (defects D2, D3). Here every value is either fully understood or an error naming what
//! would have been accepted; nothing has effects (host names are only checked for syntax and
//! looked up when the backend starts, nothing is bound).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use patchbay_core::OptionError;
// Shared with the other network backends; re-exported because callers name them here.
pub use patchbay_kit::net_options::{
    Destination, Detect, Host, c_number, decimal, invalid, lookup, other, parse_detect, parse_host,
    parse_port, parse_switch, push_bind,
};
use patchbay_sacn::Cid;
use patchbay_sacn::receiver::{LossBehavior, MergeMode};

/// Options of `[backend sacn]`, in the order the error message lists them.
pub const GLOBAL_OPTIONS: &[&str] = &["name", "cid", "bind", "detect"];

/// Options of `[sacn NAME]`.
pub const INSTANCE_OPTIONS: &[&str] = &[
    "universe",
    "interface",
    "priority",
    "destination",
    "from",
    "unicast",
    "realtime",
    "merge",
    "preview",
    "sync",
    "loss",
];

/// MIDIMonster's descriptor limit for `bind` lines.
pub const MAX_BINDS: usize = 4096;

/// Longest source name in bytes (the 64-byte field keeps a NUL).
pub const MAX_NAME_LEN: usize = 63;

/// A `bind` line; the socket is only opened at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindOption {
    /// The address and port to bind. For a host name not looked up yet ([`Self::pending`]) it
    /// is `0.0.0.0` with the port, and nothing may rely on its address.
    pub addr: SocketAddr,
    pub local: bool,
    /// A host name the backend looks up when it starts (`None` from then on).
    pub pending: Option<String>,
    /// `ttl=N`: multicast TTL / hop limit ([`DEFAULT_TTL`]).
    pub ttl: u8,
    /// `v6only`: a `::` bind carries IPv6 alone (default: IPv4 too).
    pub v6only: bool,
}

/// Multicast TTL unless `ttl=N` says otherwise: multicast stays on the local network, as with
/// Linux's default and MIDIMonster (which never sets it). See the backend's README for why.
pub const DEFAULT_TTL: u8 = 1;

/// Syntax of `bind`, for messages.
const BIND_SYNTAX: &str = "HOST [PORT] [local] [ttl=N] [v6only]";

/// `name`: text of at most 63 bytes.
pub fn parse_name(value: &str) -> Result<String, OptionError> {
    if value.len() > MAX_NAME_LEN {
        return Err(invalid(
            "name",
            value,
            format!(
                "a source name of at most {MAX_NAME_LEN} bytes (this one has {})",
                value.len()
            ),
        ));
    }
    Ok(value.to_string())
}

/// `cid` / `from`: 16 byte values in `strtoul` base-0 notation, or UUID text.
pub fn parse_cid(key: &str, value: &str) -> Result<Cid, OptionError> {
    const FORMS: &str =
        "16 byte values (e.g. 0x00 0x11 ... 0xff) or a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)";
    let tokens: Vec<&str> = value.split_ascii_whitespace().collect();
    if tokens.len() == 1 && tokens[0].contains('-') {
        return Cid::parse_uuid(tokens[0])
            .map_err(|e| other(format!("invalid UUID '{value}' for option '{key}': {e}")));
    }
    let mut bytes = [0u8; 16];
    for (i, tok) in tokens.iter().enumerate() {
        let Some(v) = c_number(tok).and_then(|v| u8::try_from(v).ok()) else {
            return Err(other(format!(
                "invalid value for option '{key}': byte {} '{tok}' is not a number in 0..255 \
                 (decimal, 0x hex or 0 octal); expected {FORMS}",
                i + 1
            )));
        };
        if let Some(b) = bytes.get_mut(i) {
            *b = v;
        }
    }
    if tokens.len() != 16 {
        return Err(invalid(
            key,
            value,
            format!("{FORMS}; got {} values", tokens.len()),
        ));
    }
    Ok(Cid(bytes))
}

/// `bind = HOST [PORT] [local]`.
pub fn parse_bind(value: &str) -> Result<BindOption, OptionError> {
    let mut tokens = value.split_ascii_whitespace();
    let Some(host) = tokens.next() else {
        return Err(invalid("bind", value, BIND_SYNTAX));
    };
    let mut port = patchbay_sacn::PORT;
    let mut bind = BindOption {
        addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        local: false,
        pending: None,
        ttl: DEFAULT_TTL,
        v6only: false,
    };
    for (i, tok) in tokens.enumerate() {
        if i == 0 && tok.bytes().all(|b| b.is_ascii_digit()) {
            port = parse_port("bind", value, tok, 0)?;
        } else {
            bind_flag(tok, value, &mut bind)?;
        }
    }
    match parse_host("bind", value, host)? {
        Host::Addr(ip) => bind.addr = SocketAddr::new(ip, port),
        Host::Name(name) => {
            bind.addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
            bind.pending = Some(name);
        }
    }
    if bind.v6only && !(bind.addr.is_ipv6() && bind.addr.ip().is_unspecified()) {
        return Err(other(format!(
            "bind = '{value}': v6only applies to the IPv6 wildcard (bind = :: ... v6only); a \
             specific IPv6 address carries IPv6 alone anyway"
        )));
    }
    Ok(bind)
}

/// One flag after `bind = HOST [PORT]`: `local`, `ttl=N` (0..255), `v6only`.
fn bind_flag(tok: &str, value: &str, bind: &mut BindOption) -> Result<(), OptionError> {
    if tok == "local" {
        bind.local = true;
    } else if tok == "v6only" {
        bind.v6only = true;
    } else if let Some(n) = tok.strip_prefix("ttl=") {
        bind.ttl = decimal(n, 255).map(|t| t as u8).ok_or_else(|| {
            other(format!(
                "invalid ttl '{n}' in bind = '{value}': expected a number in 0..255 (how many \
                 routers multicast output may cross; 1 keeps it on the local network)"
            ))
        })?;
    } else {
        return Err(other(format!(
            "unknown flag '{tok}' in bind = '{value}' (known flags: local, ttl=N, v6only; syntax: \
             {BIND_SYNTAX})"
        )));
    }
    Ok(())
}

/// `universe`: 1..63999, and a warning when text follows the number.
///
/// MIDIMonster reads the number with `strtoul` and ignores what follows, so `universe = 3 ; desk`
/// is universe 3 there; patchbay accepts it too (a configuration that works there should not
/// fail here) but says that the rest was ignored, since `;` starts a comment only at the
/// beginning of a line. Only text after white space is ignored: `3a` or `3.5` stay errors.
pub fn parse_universe(key: &str, value: &str) -> Result<(u16, Option<String>), OptionError> {
    let number = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .map_or(value, |(n, _)| n);
    match decimal(number, 63999) {
        Some(u) if u >= 1 && number.len() < value.len() => {
            let rest = value[number.len()..].trim_start();
            Ok((
                u as u16,
                Some(format!(
                    "only the number {u} is read and '{rest}' is ignored, as MIDIMonster does; a \
                     comment must be on a line of its own, starting with ';'"
                )),
            ))
        }
        Some(u) if u >= 1 => Ok((u as u16, None)),
        _ if number == "64214" => Err(invalid(
            key,
            value,
            "a universe number in 1..63999 (64214 is the discovery universe)",
        )),
        _ => Err(invalid(key, value, "a universe number in 1..63999")),
    }
}

/// `sync`: 0 (off) or a universe 1..63999.
pub fn parse_sync(value: &str) -> Result<u16, OptionError> {
    decimal(value, 63999).map(|u| u as u16).ok_or_else(|| {
        invalid(
            "sync",
            value,
            "a universe number in 1..63999, or 0 for none",
        )
    })
}

/// `interface`: the index of a `bind` line read before.
pub fn parse_interface(value: &str, binds: usize) -> Result<usize, OptionError> {
    patchbay_kit::net_options::parse_bind_index("interface", value, binds, "sacn", |v| {
        decimal(v, u64::MAX)
    })
}

/// `priority`: 0..200 (0 = no output).
pub fn parse_priority(value: &str) -> Result<u8, OptionError> {
    decimal(value, 200)
        .map(|p| p as u8)
        .ok_or_else(|| invalid("priority", value, "a number in 0..200 (0 disables output)"))
}

/// `destination = HOST [PORT]` (port 5568 unless given).
pub fn parse_destination(value: &str) -> Result<Destination, OptionError> {
    patchbay_kit::net_options::parse_destination("destination", value, patchbay_sacn::PORT)
}

/// `merge = htp|ltp`.
pub fn parse_merge(value: &str) -> Result<MergeMode, OptionError> {
    match value {
        "htp" => Ok(MergeMode::Htp),
        "ltp" => Ok(MergeMode::Ltp),
        _ => Err(invalid("merge", value, "htp or ltp")),
    }
}

/// `preview = ignore|accept`: whether Preview_Data packets count as live input.
pub fn parse_preview(value: &str) -> Result<bool, OptionError> {
    match value {
        "ignore" => Ok(false),
        "accept" => Ok(true),
        _ => Err(invalid("preview", value, "ignore or accept")),
    }
}

/// `loss = hold|zero`.
pub fn parse_loss(value: &str) -> Result<LossBehavior, OptionError> {
    match value {
        "hold" => Ok(LossBehavior::Hold),
        "zero" => Ok(LossBehavior::Zero),
        _ => Err(invalid("loss", value, "hold or zero")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(e: OptionError) -> String {
        e.to_string()
    }

    #[test]
    fn c_numbers_follow_strtoul_base_0() {
        assert_eq!(c_number("0xAA"), Some(170));
        assert_eq!(c_number("0Xff"), Some(255));
        assert_eq!(c_number("170"), Some(170));
        assert_eq!(c_number("0252"), Some(170));
        assert_eq!(c_number("0"), Some(0));
        assert_eq!(c_number("08"), None);
        assert_eq!(c_number("0x"), None);
        assert_eq!(c_number("5abc"), None);
        assert_eq!(c_number("-1"), None);
        assert_eq!(c_number("+1"), None);
        assert_eq!(c_number(""), None);
    }

    #[test]
    fn name_is_limited_to_63_bytes() {
        assert_eq!(parse_name("FOH desk").as_deref(), Ok("FOH desk"));
        assert!(parse_name(&"x".repeat(63)).is_ok());
        assert_eq!(
            msg(parse_name(&"x".repeat(64)).unwrap_err()),
            format!(
                "invalid value '{}' for option 'name': expected a source name of at most 63 bytes (this one has 64)",
                "x".repeat(64)
            )
        );
        // Bytes, not characters: 32 two-byte characters are 64 bytes.
        assert!(parse_name(&"ä".repeat(32)).is_err());
    }

    #[test]
    fn cid_accepts_both_forms() {
        let want = Cid([
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ]);
        assert_eq!(
            parse_cid(
                "cid",
                "0x00 0x11 0x22 0x33 0x44 0x55 0x66 0x77 0x88 0x99 0xaa 0xbb 0xcc 0xdd 0xee 0xff"
            ),
            Ok(want)
        );
        assert_eq!(
            parse_cid(
                "cid",
                "0 17 34 51 68 85 102 119 136 153 170 187 204 221 238 0377"
            ),
            Ok(want)
        );
        assert_eq!(
            parse_cid("from", "00112233-4455-6677-8899-AABBCCDDEEFF"),
            Ok(want)
        );
    }

    #[test]
    fn cid_errors_name_the_offending_token() {
        let short = "0x00 0x11";
        assert_eq!(
            msg(parse_cid("cid", short).unwrap_err()),
            "invalid value '0x00 0x11' for option 'cid': expected 16 byte values (e.g. 0x00 0x11 ... 0xff) \
             or a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx); got 2 values"
        );
        let long = ["1"; 17].join(" ");
        assert!(msg(parse_cid("cid", &long).unwrap_err()).ends_with("got 17 values"));
        assert_eq!(
            msg(parse_cid("from", "1 2 3 256").unwrap_err()),
            "invalid value for option 'from': byte 4 '256' is not a number in 0..255 (decimal, 0x hex \
             or 0 octal); expected 16 byte values (e.g. 0x00 0x11 ... 0xff) or a UUID \
             (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
        );
        assert!(msg(parse_cid("cid", "1 2 junk").unwrap_err()).contains("byte 3 'junk'"));
        assert_eq!(
            msg(parse_cid("cid", "0011-22").unwrap_err()),
            "invalid UUID '0011-22' for option 'cid': UUID text must be 36 characters \
             (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx), got 7"
        );
        assert_eq!(
            msg(parse_cid("cid", "").unwrap_err()),
            "invalid value '' for option 'cid': expected 16 byte values (e.g. 0x00 0x11 ... 0xff) or a \
             UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx); got 0 values"
        );
    }

    #[test]
    fn bind_forms() {
        let b = parse_bind("0.0.0.0").unwrap();
        assert_eq!(b.addr, "0.0.0.0:5568".parse().unwrap());
        assert!(!b.local);
        let b = parse_bind("127.0.0.1 6000 local").unwrap();
        assert_eq!(b.addr, "127.0.0.1:6000".parse().unwrap());
        assert!(b.local);
        assert_eq!(
            parse_bind("* local").unwrap(),
            BindOption {
                addr: "0.0.0.0:5568".parse().unwrap(),
                local: true,
                pending: None,
                ttl: DEFAULT_TTL,
                v6only: false,
            }
        );
        assert_eq!(parse_bind("::").unwrap().addr, "[::]:5568".parse().unwrap());
        assert_eq!(
            parse_bind("[2001:db8::1] 5569").unwrap().addr,
            "[2001:db8::1]:5569".parse().unwrap()
        );
        // A name is checked, not looked up: that happens when the backend starts.
        let b = parse_bind("node-1.lan 6000 local").unwrap();
        assert_eq!(b.pending.as_deref(), Some("node-1.lan"));
        assert_eq!((b.addr.port(), b.local), (6000, true));
    }

    #[test]
    fn bind_errors() {
        assert_eq!(
            msg(parse_bind("").unwrap_err()),
            "invalid value '' for option 'bind': expected HOST [PORT] [local] [ttl=N] [v6only]"
        );
        assert_eq!(
            msg(parse_bind("0.0.0.0 5568 loopback").unwrap_err()),
            "unknown flag 'loopback' in bind = '0.0.0.0 5568 loopback' (known flags: local, ttl=N, \
             v6only; syntax: HOST [PORT] [local] [ttl=N] [v6only])"
        );
        assert_eq!(
            msg(parse_bind("0.0.0.0 70000").unwrap_err()),
            "invalid port '70000' in option 'bind' = '0.0.0.0 70000': expected a number in 0..65535"
        );
        assert_eq!(
            msg(parse_bind("127.0.0.1:5568").unwrap_err()),
            "bind = '127.0.0.1:5568': '127.0.0.1:5568' is HOST:PORT, but the port is a separate \
             word after the host: write bind = 127.0.0.1 5568 (syntax: bind = HOST [PORT])"
        );
        assert_eq!(
            msg(parse_bind("no/such").unwrap_err()),
            "bind = 'no/such': 'no/such' is neither an IP address nor a host name (expected e.g. \
             10.0.0.5, ::1, * or a name such as node1.lan)"
        );
        assert!(parse_bind("a..b").is_err());
        assert!(parse_bind(&"x".repeat(64)).is_err());
        // A port after a flag is not a port.
        assert!(parse_bind("0.0.0.0 local 5568").is_err());
    }

    #[test]
    fn bind_ttl_and_v6only() {
        let b = parse_bind("10.0.0.5 ttl=16").unwrap();
        assert_eq!((b.addr.port(), b.ttl, b.local), (5568, 16, false));
        let b = parse_bind("0.0.0.0 5569 local ttl=0").unwrap();
        assert_eq!((b.addr.port(), b.ttl, b.local), (5569, 0, true));
        assert_eq!(parse_bind("0.0.0.0").unwrap().ttl, DEFAULT_TTL);
        let b = parse_bind(":: v6only").unwrap();
        assert!(b.v6only && b.addr.ip().is_unspecified());
        assert!(!parse_bind("::").unwrap().v6only, "dual-stack by default");
        for bad in ["ttl=256", "ttl=", "ttl=-1", "ttl=1x"] {
            let e = msg(parse_bind(&format!("0.0.0.0 {bad}")).unwrap_err());
            assert!(e.contains("expected a number in 0..255"), "{e}");
        }
        assert_eq!(
            msg(parse_bind("0.0.0.0 v6only").unwrap_err()),
            "bind = '0.0.0.0 v6only': v6only applies to the IPv6 wildcard (bind = :: ... v6only); a \
             specific IPv6 address carries IPv6 alone anyway"
        );
        assert!(parse_bind("2001:db8::1 v6only").is_err());
    }

    #[test]
    fn detect_values() {
        assert_eq!(parse_detect("on"), (Detect::On, None));
        assert_eq!(parse_detect("verbose"), (Detect::Verbose, None));
        assert_eq!(parse_detect("off"), (Detect::Off, None));
        assert_eq!(
            parse_detect("yes"),
            (
                Detect::Off,
                Some("detect = 'yes' is not one of on, verbose, off; detection stays off".into())
            )
        );
    }

    #[test]
    fn universe_range() {
        assert_eq!(parse_universe("universe", "1"), Ok((1, None)));
        assert_eq!(parse_universe("universe", "63999"), Ok((63999, None)));
        for bad in [
            "0", "64000", "65537", "-1", "1a", "", " 1", "0x10", "3.5", "0 ; x",
        ] {
            assert_eq!(
                msg(parse_universe("universe", bad).unwrap_err()),
                format!(
                    "invalid value '{bad}' for option 'universe': expected a universe number in 1..63999"
                )
            );
        }
        assert_eq!(
            msg(parse_universe("universe", "64214").unwrap_err()),
            "invalid value '64214' for option 'universe': expected a universe number in 1..63999 \
             (64214 is the discovery universe)"
        );
    }

    /// MIDIMonster's strtoul stops at the first non-digit: `universe = 3 ; desk` is universe 3
    /// there, so it is here, with a warning.
    #[test]
    fn universe_ignores_text_after_the_number_with_a_warning() {
        assert_eq!(
            parse_universe("universe", "3 ; desk"),
            Ok((
                3,
                Some(
                    "only the number 3 is read and '; desk' is ignored, as MIDIMonster does; a \
                     comment must be on a line of its own, starting with ';'"
                        .into()
                )
            ))
        );
        assert_eq!(
            parse_universe("universe", "12\tleft").map(|(u, _)| u),
            Ok(12)
        );
    }

    #[test]
    fn sync_range() {
        assert_eq!(parse_sync("0"), Ok(0));
        assert_eq!(parse_sync("7"), Ok(7));
        assert_eq!(
            msg(parse_sync("64000").unwrap_err()),
            "invalid value '64000' for option 'sync': expected a universe number in 1..63999, or 0 for none"
        );
    }

    #[test]
    fn interface_must_name_an_earlier_bind() {
        assert_eq!(parse_interface("0", 1), Ok(0));
        assert_eq!(parse_interface("2", 3), Ok(2));
        assert_eq!(
            msg(parse_interface("1", 1).unwrap_err()),
            "invalid value '1' for option 'interface': expected the index of a bind line read before \
             this one (0..0, in order of appearance)"
        );
        assert_eq!(
            msg(parse_interface("0", 0).unwrap_err()),
            "invalid value '0' for option 'interface': expected the index of a bind line, but no bind \
             line has been read yet (the [backend sacn] bind lines must come before the instances that \
             use them)"
        );
        assert!(parse_interface("x", 3).is_err());
    }

    #[test]
    fn priority_range() {
        assert_eq!(parse_priority("0"), Ok(0));
        assert_eq!(parse_priority("200"), Ok(200));
        for bad in ["201", "256", "abc", "-5", "1.5"] {
            assert_eq!(
                msg(parse_priority(bad).unwrap_err()),
                format!(
                    "invalid value '{bad}' for option 'priority': expected a number in 0..200 (0 disables output)"
                )
            );
        }
    }

    #[test]
    fn destination_forms() {
        assert_eq!(
            parse_destination("10.0.0.9"),
            Ok(Destination::Addr("10.0.0.9:5568".parse().unwrap()))
        );
        assert_eq!(
            parse_destination("10.0.0.9 6000"),
            Ok(Destination::Addr("10.0.0.9:6000".parse().unwrap()))
        );
        assert_eq!(
            parse_destination("[::1] 6000"),
            Ok(Destination::Addr("[::1]:6000".parse().unwrap()))
        );
        // Names are looked up when the backend starts, so --check resolves nothing.
        assert_eq!(
            parse_destination("node1.invalid 6000"),
            Ok(Destination::Name("node1.invalid".into(), 6000))
        );
        assert_eq!(
            msg(parse_destination("127.0.0.1:6000").unwrap_err()),
            "destination = '127.0.0.1:6000': '127.0.0.1:6000' is HOST:PORT, but the port is a \
             separate word after the host: write destination = 127.0.0.1 6000 (syntax: \
             destination = HOST [PORT])"
        );
        assert!(
            msg(parse_destination("[::1]:6000").unwrap_err())
                .contains("write destination = ::1 6000")
        );
        assert!(
            msg(parse_destination("node1:6000").unwrap_err())
                .contains("write destination = node1 6000")
        );
        assert_eq!(
            msg(parse_destination("10.0.0.9 0").unwrap_err()),
            "invalid port '0' in option 'destination' = '10.0.0.9 0': expected a number in 1..65535"
        );
        assert_eq!(
            msg(parse_destination("a b c").unwrap_err()),
            "invalid value 'a b c' for option 'destination': expected HOST [PORT]"
        );
        assert_eq!(
            msg(parse_destination("0.0.0.0").unwrap_err()),
            "invalid value '0.0.0.0' for option 'destination': expected a host to send to (a wildcard \
             address is not a destination)"
        );
    }

    #[test]
    fn switches() {
        // Numbers as MIDIMonster's strtoul reads them: 0 is off, anything else on.
        for on in ["1", "2", "01"] {
            assert_eq!(parse_switch("unicast", on), Ok(true));
        }
        for off in ["0", "00"] {
            assert_eq!(parse_switch("realtime", off), Ok(false));
        }
        // Words are 0 (off) in MIDIMonster: refused, naming the number meant.
        assert_eq!(
            msg(parse_switch("unicast", "yes").unwrap_err()),
            "unicast = 'yes': write 1 for on; this option is a number (0 off, 1 on), and \
             MIDIMonster reads any word as 0, i.e. off"
        );
        assert!(msg(parse_switch("realtime", "TRUE").unwrap_err()).contains("write 1 for on"));
        assert!(msg(parse_switch("realtime", "off").unwrap_err()).contains("write 0 for off"));
        assert_eq!(
            msg(parse_switch("unicast", "maybe").unwrap_err()),
            "invalid value 'maybe' for option 'unicast': expected 0 (off) or 1 (on)"
        );
    }

    #[test]
    fn enumerations() {
        assert_eq!(parse_merge("htp"), Ok(MergeMode::Htp));
        assert_eq!(parse_merge("ltp"), Ok(MergeMode::Ltp));
        assert_eq!(
            msg(parse_merge("max").unwrap_err()),
            "invalid value 'max' for option 'merge': expected htp or ltp"
        );
        assert_eq!(parse_preview("accept"), Ok(true));
        assert_eq!(parse_preview("ignore"), Ok(false));
        assert_eq!(
            msg(parse_preview("yes").unwrap_err()),
            "invalid value 'yes' for option 'preview': expected ignore or accept"
        );
        assert_eq!(parse_loss("hold"), Ok(LossBehavior::Hold));
        assert_eq!(parse_loss("zero"), Ok(LossBehavior::Zero));
        assert_eq!(
            msg(parse_loss("drop").unwrap_err()),
            "invalid value 'drop' for option 'loss': expected hold or zero"
        );
    }
}
