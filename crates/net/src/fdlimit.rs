//! The open-file limit (`RLIMIT_NOFILE`): every multicast group gets its own socket
//! ([`crate::Memberships`]), so 1,000 universes need more descriptors than the usual soft limit
//! of 1,024.
//!
//! Why raising the soft limit is safe here: the soft limit of 1,024 exists for programs that
//! use `select()`, whose descriptor sets cannot hold more; patchbay waits with epoll (mio). The
//! hard limit is what the administrator allows, so the soft limit goes up to it and no further
//! (and no higher than `fs.nr_open`, which `setrlimit` refuses to exceed).

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// The soft and hard open-file limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    /// What the process may open now.
    pub soft: u64,
    /// What the soft limit may be raised to without privileges.
    pub hard: u64,
}

/// Where Linux keeps the highest value an open-file limit may take.
const NR_OPEN: &str = "/proc/sys/fs/nr_open";

/// The limits in force.
///
/// # Errors
/// `getrlimit` failed.
pub fn current() -> Result<FdLimit, nix::Error> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    Ok(FdLimit { soft, hard })
}

/// Raises the soft limit to the hard limit (capped at `fs.nr_open`). Returns the limits before
/// and after; unchanged when the soft limit already is that high. Idempotent and cheap (two
/// system calls and a `/proc` read), so callers may call it before each batch of opens.
///
/// # Errors
/// `getrlimit` or `setrlimit` failed.
pub fn raise() -> Result<(FdLimit, FdLimit), nix::Error> {
    let before = current()?;
    let nr_open = std::fs::read_to_string(NR_OPEN)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(1 << 20);
    let target = before.hard.min(nr_open);
    if before.soft >= target {
        return Ok((before, before));
    }
    setrlimit(Resource::RLIMIT_NOFILE, target, before.hard)?;
    Ok((before, current()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raise_never_lowers_and_reaches_the_hard_limit_or_nr_open() {
        let (before, after) = raise().unwrap();
        assert!(after.soft >= before.soft);
        assert_eq!(after.hard, before.hard);
        let (again, same) = raise().unwrap();
        assert_eq!((again, same), (after, after), "idempotent");
    }
}
