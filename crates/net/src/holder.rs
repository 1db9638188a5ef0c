//! Who holds a port: when a bind fails with `EADDRINUSE`, the error names the process whose socket
//! is in the way and what to change, instead of leaving the user to run `ss` as root.
//!
//! How: `/proc/net/{udp,udp6,tcp,tcp6}` list the sockets of the caller's network namespace with
//! their local address and inode; `/proc/PID/fd/*` of every process the caller may inspect link
//! to `socket:[INODE]`. Every socket patchbay opens sets `SO_REUSEADDR`, so a conflict means the
//! other socket does not share its port: Linux then refuses any overlapping bind, i.e. the same
//! address or a wildcard on either side.
//!
//! Only the error path reads `/proc`; the parser of its tables is pure and tested on text.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Transport of the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// `/proc/net/udp{,6}`.
    Udp,
    /// `/proc/net/tcp{,6}`, listening sockets only (with `SO_REUSEADDR` set, Linux refuses a
    /// bind only next to a listener).
    Tcp,
}

impl Proto {
    fn name(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
        }
    }
}

/// A process, as far as `/proc` tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    /// Process id.
    pub pid: u32,
    /// `/proc/PID/comm`: the executable's name, at most 15 bytes.
    pub name: String,
}

/// One socket on the port that overlaps the address wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its local address (IPv4-mapped addresses shown as IPv4).
    pub addr: SocketAddr,
    /// Owner's user id.
    pub uid: u32,
    /// Socket inode.
    pub inode: u64,
    /// The process holding it; `None` when no inspectable process does (another user's, and
    /// patchbay is not root).
    pub process: Option<Process>,
}

/// One entry of a `/proc/net` socket table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Local address.
    pub local: SocketAddr,
    /// Kernel state (`0x0A` = TCP listen, `0x07` = UDP unconnected).
    pub state: u8,
    /// Owner's user id.
    pub uid: u32,
    /// Socket inode.
    pub inode: u64,
}

/// TCP_LISTEN in `/proc/net/tcp`.
const TCP_LISTEN: u8 = 0x0A;

/// Parses one data line of `/proc/net/{udp,tcp}` (`v6`: of the `6` variant); `None` for the
/// header and anything unexpected.
///
/// Addresses are printed as the raw network-order words in host order (`%08X` of an
/// `__be32`), so the bytes come back with `to_ne_bytes`.
pub(crate) fn parse_line(line: &str, v6: bool) -> Option<Entry> {
    let mut f = line.split_ascii_whitespace();
    let _slot = f.next().filter(|s| s.ends_with(':'))?;
    let (addr, port) = f.next()?.split_once(':')?;
    let _remote = f.next()?;
    let state = u8::from_str_radix(f.next()?, 16).ok()?;
    let _queues = f.next()?;
    let _timer = f.next()?;
    let _retransmits = f.next()?;
    let uid = f.next()?.parse().ok()?;
    let _timeout = f.next()?;
    let inode = f.next()?.parse().ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = if v6 {
        if addr.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (k, chunk) in bytes.chunks_exact_mut(4).enumerate() {
            let word = addr.get(k * 8..k * 8 + 8)?;
            chunk.copy_from_slice(&u32::from_str_radix(word, 16).ok()?.to_ne_bytes());
        }
        let v6 = Ipv6Addr::from(bytes);
        v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4)
    } else {
        if addr.len() != 8 {
            return None;
        }
        IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(addr, 16).ok()?.to_ne_bytes(),
        ))
    };
    Some(Entry {
        local: SocketAddr::new(ip, port),
        state,
        uid,
        inode,
    })
}

/// Whether a socket bound to `theirs` stops a bind to `ours` (same port assumed) when it does
/// not share the port: the same address, or a wildcard on either side. An IPv6 wildcard is
/// taken as dual-stack (`/proc` does not show `IPV6_V6ONLY`).
pub(crate) fn overlaps(ours: IpAddr, theirs: IpAddr) -> bool {
    let any = |a: IpAddr| a.is_unspecified();
    match (ours, theirs) {
        (a, b) if a == b => true,
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => any(ours) || any(theirs),
        // Across families only a dual-stack wildcard meets the other family.
        (IpAddr::V4(_), IpAddr::V6(_)) => any(theirs),
        (IpAddr::V6(_), IpAddr::V4(_)) => any(ours),
    }
}

/// The sockets of this network namespace that hold `addr`'s port at an overlapping address,
/// other than this process's own (which share the port), with their processes where visible.
pub fn find(proto: Proto, addr: SocketAddr) -> Vec<Holder> {
    let mut found: Vec<Holder> = Vec::new();
    for v6 in [false, true] {
        let path = format!("/proc/net/{}{}", proto.name(), if v6 { "6" } else { "" });
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for e in text.lines().filter_map(|l| parse_line(l, v6)) {
            if e.local.port() != addr.port()
                || (proto == Proto::Tcp && e.state != TCP_LISTEN)
                || !overlaps(unmapped(addr.ip()), e.local.ip())
            {
                continue;
            }
            found.push(Holder {
                addr: e.local,
                uid: e.uid,
                inode: e.inode,
                process: None,
            });
        }
    }
    attach_processes(&mut found);
    let me = std::process::id();
    found.retain(|h| h.process.as_ref().is_none_or(|p| p.pid != me));
    found
}

fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Fills in `process` by looking for `socket:[INODE]` among every visible process's descriptors.
fn attach_processes(holders: &mut [Holder]) {
    if holders.is_empty() {
        return;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let Some(inode) = link
                .to_str()
                .and_then(|l| l.strip_prefix("socket:["))
                .and_then(|l| l.strip_suffix(']'))
                .and_then(|l| l.parse::<u64>().ok())
            else {
                continue;
            };
            for h in holders
                .iter_mut()
                .filter(|h| h.inode == inode && h.process.is_none())
            {
                let name = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
                h.process = Some(Process {
                    pid,
                    name: name.trim_end().to_string(),
                });
            }
        }
        if holders.iter().all(|h| h.process.is_some()) {
            return;
        }
    }
}

/// What stands in the way of binding `wanted`, for an error message: the holders and what to
/// change. Empty when the bind failed for another reason. Boxed, so errors that carry it stay
/// small.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortUse(Option<Box<Lookup>>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Lookup {
    wanted: SocketAddr,
    proto: Proto,
    holders: Vec<Holder>,
}

impl PortUse {
    /// Nothing known (the bind failed for another reason).
    pub const fn none() -> Self {
        Self(None)
    }

    /// Looks up who holds `wanted`'s port ([`find`]).
    pub fn lookup(proto: Proto, wanted: SocketAddr) -> Self {
        Self::of(proto, wanted, find(proto, wanted))
    }

    /// The explanation for given holders (tests build them by hand).
    pub fn of(proto: Proto, wanted: SocketAddr, holders: Vec<Holder>) -> Self {
        Self(Some(Box::new(Lookup {
            wanted,
            proto,
            holders,
        })))
    }

    /// The sockets in the way.
    pub fn holders(&self) -> &[Holder] {
        self.0.as_ref().map_or(&[], |l| &l.holders)
    }
}

impl fmt::Display for PortUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(l) = &self.0 else {
            return Ok(());
        };
        let (wanted, proto, holders) = (l.wanted, l.proto, &l.holders);
        let port = wanted.port();
        let Some(h) = holders.first() else {
            return write!(
                f,
                "; no other socket on {} port {port} is visible in this network namespace now (it \
                 may have closed since)",
                proto.name()
            );
        };
        write!(f, "; {} is held by ", h.addr)?;
        match &h.process {
            Some(p) => write!(f, "process {} ({})", p.pid, p.name)?,
            None => write!(
                f,
                "a socket of user {} (inode {}) whose process patchbay may not inspect (`ss -{}apn \
                 'sport = :{port}'` as root names it)",
                h.uid,
                h.inode,
                if proto == Proto::Udp { "u" } else { "t" }
            )?,
        }
        if holders.len() > 1 {
            write!(f, " and {} more socket(s)", holders.len() - 1)?;
        }
        f.write_str(" without sharing the port (SO_REUSEADDR)")?;
        let theirs = unmapped(h.addr.ip());
        let ours = unmapped(wanted.ip());
        if theirs.is_unspecified() {
            write!(
                f,
                ", so no other program can use port {port} on any address: make that program \
                 share the port or bind a specific address, or stop it"
            )
        } else if ours.is_unspecified() {
            write!(
                f,
                ", so no other program can bind the wildcard address on port {port}: bind a \
                 specific address instead (e.g. 127.0.0.1 or this host's address on the lighting \
                 network), or make that program share the port"
            )
        } else {
            write!(
                f,
                ": use another address or port, make that program share the port, or stop it"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  123: 0200007F:15C0 00000000:0000 07 00000000:00000000 00:00000000 00000000  1000        0 424242 2 0000000000000000 0\n\
  124: 00000000:1A0A 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 77 2 0000000000000000 0\n";

    const UDP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
   5: 00000000000000000000000000000000:15C0 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 99 2 0000000000000000 0\n\
   6: 0000000000000000FFFF00000100007F:15C0 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 98 2 0000000000000000 0\n\
   7: B80D0120AC050000000000000100000000:15C0 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 97 2 0000000000000000 0\n";

    fn entries(text: &str, v6: bool) -> Vec<Entry> {
        text.lines().filter_map(|l| parse_line(l, v6)).collect()
    }

    #[test]
    fn parses_ipv4_table() {
        let e = entries(UDP, false);
        assert_eq!(e.len(), 2, "the header is skipped");
        if cfg!(target_endian = "little") {
            assert_eq!(e[0].local, "127.0.0.2:5568".parse().unwrap());
        }
        assert_eq!((e[0].state, e[0].uid, e[0].inode), (7, 1000, 424_242));
        assert_eq!(e[1].local, "0.0.0.0:6666".parse().unwrap());
    }

    #[test]
    fn parses_ipv6_table() {
        let e = entries(UDP6, true);
        assert_eq!(e.len(), 2, "a malformed address is skipped");
        assert_eq!(e[0].local, "[::]:5568".parse().unwrap());
        if cfg!(target_endian = "little") {
            assert_eq!(
                e[1].local,
                "127.0.0.1:5568".parse().unwrap(),
                "IPv4-mapped shown as IPv4"
            );
        }
    }

    #[test]
    fn overlap_rules() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(overlaps(ip("127.0.0.1"), ip("127.0.0.1")));
        assert!(!overlaps(ip("127.0.0.1"), ip("127.0.0.2")));
        assert!(overlaps(ip("0.0.0.0"), ip("127.0.0.2")));
        assert!(overlaps(ip("127.0.0.1"), ip("0.0.0.0")));
        assert!(!overlaps(ip("239.255.0.1"), ip("127.0.0.2")));
        assert!(overlaps(ip("239.255.0.1"), ip("0.0.0.0")));
        assert!(overlaps(ip("127.0.0.1"), ip("::")));
        assert!(overlaps(ip("::"), ip("127.0.0.1")));
        assert!(!overlaps(ip("::1"), ip("0.0.0.0")));
        assert!(!overlaps(ip("0.0.0.0"), ip("::1")));
    }

    fn holder(addr: &str, process: Option<(u32, &str)>) -> Holder {
        Holder {
            addr: addr.parse().unwrap(),
            uid: 1000,
            inode: 4242,
            process: process.map(|(pid, name)| Process {
                pid,
                name: name.into(),
            }),
        }
    }

    #[test]
    fn explanations_name_the_process_and_the_remedy() {
        let wanted: SocketAddr = "0.0.0.0:5568".parse().unwrap();
        let specific = PortUse::of(
            Proto::Udp,
            wanted,
            vec![holder("127.0.0.2:5568", Some((31337, "sacnview")))],
        );
        assert_eq!(
            specific.to_string(),
            "; 127.0.0.2:5568 is held by process 31337 (sacnview) without sharing the port \
             (SO_REUSEADDR), so no other program can bind the wildcard address on port 5568: bind a \
             specific address instead (e.g. 127.0.0.1 or this host's address on the lighting \
             network), or make that program share the port"
        );
        let wildcard = PortUse::of(
            Proto::Udp,
            "127.0.0.1:5568".parse().unwrap(),
            vec![holder("0.0.0.0:5568", None), holder("[::]:5568", None)],
        );
        let text = wildcard.to_string();
        assert!(
            text.starts_with("; 0.0.0.0:5568 is held by a socket of user 1000 (inode 4242)"),
            "{text}"
        );
        assert!(
            text.contains("`ss -uapn 'sport = :5568'` as root"),
            "{text}"
        );
        assert!(text.contains(" and 1 more socket(s) "), "{text}");
        assert!(text.ends_with("so no other program can use port 5568 on any address: make that program share the port or bind a specific address, or stop it"), "{text}");
        assert_eq!(PortUse::none().to_string(), "");
        assert!(
            PortUse::of(Proto::Tcp, wanted, Vec::new())
                .to_string()
                .contains("no other socket on tcp port 5568")
        );
    }

    proptest! {
        #[test]
        fn any_line_parses_or_is_skipped(line in ".{0,200}", v6 in any::<bool>()) {
            let _ = parse_line(&line, v6);
        }

        #[test]
        fn ipv4_addresses_round_trip(a in any::<[u8; 4]>(), port in any::<u16>(), inode in any::<u64>()) {
            let word = u32::from_ne_bytes(a);
            let line = format!("  1: {word:08X}:{port:04X} 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 {inode} 2 0 0");
            let e = parse_line(&line, false).unwrap();
            prop_assert_eq!(e.local, SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port));
            prop_assert_eq!(e.inode, inode);
        }
    }
}
