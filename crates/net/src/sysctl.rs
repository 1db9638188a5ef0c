//! Kernel limits that decide how many multicast groups one socket may join.

/// Where Linux keeps the per-socket IPv4 membership limit.
pub const IGMP_MAX_MEMBERSHIPS: &str = "/proc/sys/net/ipv4/igmp_max_memberships";
/// The kernel's default for it, used when the file cannot be read.
pub const DEFAULT_IGMP_MAX_MEMBERSHIPS: usize = 20;
/// The sysctl that bounds IPv6 joins per socket: each membership is charged to the socket's option
/// memory (`sock_kmalloc`), and the join fails with `ENOMEM` once it is used up. There is no count limit
/// (`net.ipv6.mld_max_msf` limits source filters, not groups).
pub const IPV6_LIMIT_SYSCTL: &str = "net.core.optmem_max";

/// Per-socket IPv4 membership limit in force (`net.ipv4.igmp_max_memberships`), 20 if unreadable.
pub fn igmp_max_memberships() -> usize {
    std::fs::read_to_string(IGMP_MAX_MEMBERSHIPS)
        .ok()
        .and_then(|s| parse_limit(&s))
        .unwrap_or(DEFAULT_IGMP_MAX_MEMBERSHIPS)
}

/// A positive decimal count from a `/proc/sys` file; `None` for garbage or zero (a zero limit would
/// make sharding loop, and the kernel then refuses every join anyway).
pub fn parse_limit(text: &str) -> Option<usize> {
    text.trim().parse::<usize>().ok().filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_proc_text() {
        assert_eq!(parse_limit("20\n"), Some(20));
        assert_eq!(parse_limit(" 4096 "), Some(4096));
        assert_eq!(parse_limit("0\n"), None);
        assert_eq!(parse_limit("-1"), None);
        assert_eq!(parse_limit(""), None);
        assert_eq!(parse_limit("twenty"), None);
    }

    #[test]
    fn live_value_is_positive() {
        assert!(igmp_max_memberships() > 0);
    }

    proptest! {
        #[test]
        fn any_positive_count_round_trips(n in 1usize..1_000_000) {
            prop_assert_eq!(parse_limit(&format!("{n}\n")), Some(n));
        }
    }
}
