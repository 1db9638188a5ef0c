//! The default source CID, and the check that no other patchbay on this host sends with the same
//! one.
//!
//! Why name-based: MIDIMonster's default CID is the same text on every installation (D21), so
//! receivers merge all of them into one source with clashing sequence numbers. A random CID per
//! run would make receivers see a new source after every restart (and hold the old one for the
//! loss timeout). A UUIDv5 of host name, absolute configuration path and source name is stable
//! across restarts and differs between hosts and between configurations.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::socket::sockopt::PeerCredentials;
use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, UnixAddr, bind, connect, getsockopt, listen, socket,
};
use patchbay_sacn::Cid;
use uuid::Uuid;

/// Where the host name is read from (no libc call needed, nothing leaves the machine).
const HOSTNAME_FILE: &str = "/proc/sys/kernel/hostname";

/// This host's name, or `localhost` when it cannot be read.
pub fn hostname() -> String {
    std::fs::read_to_string(HOSTNAME_FILE)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "localhost".to_string())
}

/// UUIDv5 (RFC 4122 name-based, SHA-1) of host, configuration path and source name, in a
/// namespace of patchbay's own so no other name-based UUID can collide with it.
pub fn default_cid(host: &str, config_path: &Path, name: &str) -> Cid {
    let namespace = Uuid::new_v5(&Uuid::NAMESPACE_URL, b"urn:patchbay:sacn:cid");
    let mut key = Vec::with_capacity(host.len() + name.len() + 64);
    key.extend_from_slice(host.as_bytes());
    key.push(0);
    key.extend_from_slice(config_path.as_os_str().as_encoded_bytes());
    key.push(0);
    key.extend_from_slice(name.as_bytes());
    Cid(*Uuid::new_v5(&namespace, &key).as_bytes())
}

/// This process's hold on its CID among the patchbays of this host: an abstract unix socket
/// named after the CID, listening, never read.
///
/// Why this mechanism: two patchbays started with the same configuration derive the same CID,
/// and receivers then merge both into one source with clashing sequence numbers. The kernel
/// releases an abstract socket when its process ends, however it ends (a lock or pid file can
/// be left behind by a crash and needs a writable directory, which the systemd unit does not
/// give), and the name needs no file system at all. A second process that finds the name taken
/// learns the holder's pid from the connection's peer credentials. Limits: abstract names belong
/// to a network namespace, and another host with a copied `cid` line is not seen (receivers on
/// the network would have to tell, and patchbay drops packets bearing its own CID).
#[derive(Debug)]
pub struct CidClaim {
    _socket: OwnedFd,
}

/// What [`claim`] found.
#[derive(Debug)]
pub enum Claim {
    /// No other patchbay here uses the CID; hold the claim while running.
    Held(CidClaim),
    /// Another process holds it; its pid when it could be learned.
    Shared { pid: Option<i32> },
    /// The check itself failed (e.g. unix sockets are not allowed).
    Unknown(nix::Error),
}

/// The abstract socket name of `cid`.
fn claim_name(cid: Cid) -> Vec<u8> {
    format!("patchbay/sacn/cid/{cid}").into_bytes()
}

/// Claims `cid` for this process, or finds out who holds it. Opens a unix socket; nothing goes
/// on a network.
pub fn claim(cid: Cid) -> Claim {
    let addr = match UnixAddr::new_abstract(&claim_name(cid)) {
        Ok(a) => a,
        Err(e) => return Claim::Unknown(e),
    };
    let stream = || {
        socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )
    };
    let listener = match stream() {
        Ok(s) => s,
        Err(e) => return Claim::Unknown(e),
    };
    match bind(listener.as_raw_fd(), &addr) {
        Ok(()) => match listen(&listener, Backlog::new(4).unwrap_or(Backlog::MAXCONN)) {
            Ok(()) => Claim::Held(CidClaim { _socket: listener }),
            Err(e) => Claim::Unknown(e),
        },
        Err(Errno::EADDRINUSE) => {
            // Non-blocking: a holder whose backlog is full answers EAGAIN instead of a hang.
            let pid = stream()
                .ok()
                .filter(|s| connect(s.as_raw_fd(), &addr).is_ok())
                .and_then(|s| getsockopt(&s, PeerCredentials).ok())
                .map(|c| c.pid());
            Claim::Shared { pid }
        }
        Err(e) => Claim::Unknown(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cid_is_stable_valid_and_distinct() {
        let a = default_cid("desk1", Path::new("/etc/patchbay/show.cfg"), "patchbay");
        assert_eq!(
            a,
            default_cid("desk1", Path::new("/etc/patchbay/show.cfg"), "patchbay")
        );
        let u = Uuid::from_bytes(a.0);
        assert_eq!(u.get_version_num(), 5);
        assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
        for other in [
            default_cid("desk2", Path::new("/etc/patchbay/show.cfg"), "patchbay"),
            default_cid("desk1", Path::new("/etc/patchbay/other.cfg"), "patchbay"),
            default_cid("desk1", Path::new("/etc/patchbay/show.cfg"), "FOH"),
            // The separators keep field boundaries apart.
            default_cid("desk1/etc", Path::new("/patchbay/show.cfg"), "patchbay"),
        ] {
            assert_ne!(a, other);
        }
        // Not MIDIMonster's shared default (D21).
        assert_ne!(&a.0[..11], b"MIDIMonster");
    }

    #[test]
    fn hostname_is_never_empty() {
        assert!(!hostname().is_empty());
    }

    #[test]
    fn a_second_claim_of_one_cid_finds_the_holder() {
        let cid = default_cid(
            &hostname(),
            Path::new("/claim/test"),
            &std::process::id().to_string(),
        );
        let held = claim(cid);
        assert!(matches!(held, Claim::Held(_)), "{held:?}");
        let me = i32::try_from(std::process::id()).expect("pid");
        assert!(matches!(claim(cid), Claim::Shared { pid: Some(p) } if p == me));
        // Another CID is free, and the name is free again once the holder is gone.
        assert!(matches!(claim(Cid([7; 16])), Claim::Held(_)));
        drop(held);
        assert!(matches!(claim(cid), Claim::Held(_)));
    }
}
