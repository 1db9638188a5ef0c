//! Test guard: refuse to open sockets unless the process runs in a private network namespace.
//!
//! The development machine's `eth0` leads to a watched network. A test that joins a multicast group
//! or sends to one there would leak IGMP reports and sACN traffic, so every test in the workspace that
//! opens a socket calls [`require_private_netns`] first. The check is by interface names: a private
//! namespace made by `scripts/test` or `../shared/tools/netns-run` only has `lo` and the test veths.

use std::path::Path;

/// What the guard says when it refuses; tests and scripts grep for it.
pub const REFUSAL: &str = "refusing to open sockets outside a private network namespace: run the suite \
with scripts/test (it re-executes itself in one) or wrap the command in ../shared/tools/netns-run";

/// Interface name prefixes the test tooling creates (`netns-run --veth` makes `sacn0`/`sacn1`).
const TEST_PREFIXES: [&str; 3] = ["sacn", "veth", "pb"];

/// Panics with [`REFUSAL`] unless the process is inside a private network namespace.
///
/// # Panics
/// Outside a private namespace, or when `/sys/class/net` cannot be read.
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
    check_private_netns_at(Path::new("/sys/class/net"))
}

/// [`check_private_netns`] against another sysfs directory (tests use a temporary one).
///
/// # Errors
/// As [`check_private_netns`]; also when the directory cannot be listed.
pub fn check_private_netns_at(dir: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("{REFUSAL} (cannot list {}: {e})", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{REFUSAL} (cannot list {}: {e})", dir.display()))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    check_interface_names(names.iter().map(String::as_str))
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
        assert!(err.contains("../shared/tools/netns-run"));
    }

    #[test]
    fn prefix_must_be_at_start() {
        assert!(check_interface_names(["lo", "xsacn0"]).is_err());
        assert!(check_interface_names(["loopback"]).is_err());
    }

    #[test]
    fn reads_a_fake_sysfs_directory() {
        let dir = std::env::temp_dir().join(format!("pb-netns-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("lo")).unwrap();
        std::fs::create_dir_all(dir.join("sacn0")).unwrap();
        assert_eq!(check_private_netns_at(&dir), Ok(()));
        std::fs::create_dir_all(dir.join("eth0")).unwrap();
        let err = check_private_netns_at(&dir).unwrap_err();
        assert!(err.contains("eth0"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        let err = check_private_netns_at(&dir).unwrap_err();
        assert!(
            err.starts_with(REFUSAL) && err.contains("cannot list"),
            "{err}"
        );
    }
}
