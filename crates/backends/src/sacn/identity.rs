//! The default source CID (sacn.md 1.1).
//!
//! Why name-based: MIDIMonster's default CID is the same text on every installation (D21), so
//! receivers merge all of them into one source with clashing sequence numbers. A random CID per
//! run would make receivers see a new source after every restart (and hold the old one for the
//! loss timeout). A UUIDv5 of host name, absolute configuration path and source name is stable
//! across restarts and differs between hosts and between configurations.

use std::path::Path;

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
}
