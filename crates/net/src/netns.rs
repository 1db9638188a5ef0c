//! Test guard: refuse to open sockets unless the process runs in a private network namespace.
//!
//! The development machine's `eth0` leads to a watched network. A test that joins a multicast group
//! or sends to one there would leak IGMP reports and sACN traffic, so every test in the workspace that
//! opens a socket calls [`require_private_netns`] first. The check is by interface names: a private
//! namespace made by `scripts/test` or `scripts/netns-run` only has `lo` and the test veths
//! (names starting with `sacn`, `veth` or `pb`).

use std::path::Path;

/// What the guard says when it refuses; tests and scripts grep for it.
pub const REFUSAL: &str = "refusing to open sockets outside a private network namespace: run the suite \
with scripts/test (it re-executes itself in one) or wrap the command in scripts/netns-run";

/// Interface name prefixes the test tooling creates (`scripts/netns-run --veth` makes `sacn0`/`sacn1`).
const TEST_PREFIXES: [&str; 3] = ["sacn", "veth", "pb"];

/// Panics with [`REFUSAL`] unless the calling thread is inside a private network namespace.
///
/// # Panics
/// Outside a private namespace, or when [`PROC_NET_DEV`] cannot be read.
pub fn require_private_netns() {
    if let Err(why) = check_private_netns() {
        panic!("{why}");
    }
}

/// `Ok` inside a private network namespace; otherwise the refusal text naming the offending interfaces.
///
/// # Errors
/// The refusal message (see [`REFUSAL`]) plus the interfaces that do not belong to a test namespace.
pub fn check_private_netns() -> Result<(), String> {
    check_private_netns_at(Path::new(PROC_NET_DEV))
}

/// The interface list of the calling thread's network namespace. `/sys/class/net` is not used: sysfs
/// shows the namespace of whoever mounted it, so after `unshare --net` (what `scripts/netns-run` does) it still
/// lists the host's `eth0`.
pub const PROC_NET_DEV: &str = "/proc/thread-self/net/dev";

/// [`check_private_netns`] against another `net/dev` file (tests use a fake one).
///
/// # Errors
/// As [`check_private_netns`]; also when the file cannot be read.
pub fn check_private_netns_at(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{REFUSAL} (cannot read {}: {e})", path.display()))?;
    check_interface_names(interface_names(&text))
}

/// Interface names from the text of `/proc/net/dev` (two header lines, then `name: counters`).
pub fn interface_names(proc_net_dev: &str) -> impl Iterator<Item = &str> {
    proc_net_dev
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(name, _)| name.trim())
        .filter(|n| !n.is_empty() && !n.contains('|'))
}

/// The decision itself, on a list of interface names.
///
/// # Errors
/// The refusal message when any name is neither `lo` nor starts with a test prefix.
pub fn check_interface_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    let mut foreign: Vec<&str> = names
        .into_iter()
        .filter(|n| *n != "lo" && !TEST_PREFIXES.iter().any(|p| n.starts_with(p)))
        .collect();
    if foreign.is_empty() {
        Ok(())
    } else {
        foreign.sort_unstable();
        Err(format!(
            "{REFUSAL} (found interfaces: {})",
            foreign.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_namespace_lists_pass() {
        assert_eq!(check_interface_names(["lo"]), Ok(()));
        assert_eq!(check_interface_names(["lo", "sacn0", "sacn1"]), Ok(()));
        assert_eq!(check_interface_names(["lo", "veth3", "pb-a"]), Ok(()));
        assert_eq!(check_interface_names([]), Ok(()));
    }

    #[test]
    fn host_lists_are_refused_and_named() {
        let err = check_interface_names(["lo", "eth0", "sacn0", "docker0"]).unwrap_err();
        assert!(err.starts_with(REFUSAL), "{err}");
        assert!(err.ends_with("(found interfaces: docker0, eth0)"), "{err}");
        assert!(err.contains("scripts/test"));
        assert!(err.contains("scripts/netns-run"));
    }

    #[test]
    fn prefix_must_be_at_start() {
        assert!(check_interface_names(["lo", "xsacn0"]).is_err());
        assert!(check_interface_names(["loopback"]).is_err());
    }

    const HEADER: &str = "Inter-|   Receive                            |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

    #[test]
    fn parses_proc_net_dev() {
        let text = format!(
            "{HEADER}    lo:    1234      10    0    0    0     0          0         0     1234      10    0    0    0     0       0          0\n sacn0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
        );
        assert_eq!(interface_names(&text).collect::<Vec<_>>(), ["lo", "sacn0"]);
    }

    #[test]
    fn reads_a_fake_net_dev_file() {
        let path = std::env::temp_dir().join(format!("pb-netns-test-{}", std::process::id()));
        std::fs::write(&path, format!("{HEADER}    lo: 0 0\n sacn1: 0 0\n")).unwrap();
        assert_eq!(check_private_netns_at(&path), Ok(()));
        std::fs::write(&path, format!("{HEADER}    lo: 0 0\n  eth0: 5 5\n")).unwrap();
        let err = check_private_netns_at(&path).unwrap_err();
        assert!(err.ends_with("(found interfaces: eth0)"), "{err}");
        std::fs::remove_file(&path).unwrap();
        let err = check_private_netns_at(&path).unwrap_err();
        assert!(
            err.starts_with(REFUSAL) && err.contains("cannot read"),
            "{err}"
        );
    }

    /// This process's own namespace: whichever way, the answer matches the interface list.
    #[test]
    fn live_check_agrees_with_interface_list() {
        let text = std::fs::read_to_string(PROC_NET_DEV).unwrap();
        let names: Vec<&str> = interface_names(&text).collect();
        assert!(names.contains(&"lo"), "{names:?}");
        assert_eq!(
            check_private_netns().is_ok(),
            check_interface_names(names).is_ok()
        );
    }
}
