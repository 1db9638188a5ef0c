//! Membership limits. Each test re-runs itself in a fresh network namespace (`unshare --net`) so that
//! lowering a per-namespace sysctl cannot disturb other tests running at the same time.
#![allow(clippy::unwrap_used)]

mod util;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;

use patchbay_net::{JoinError, MembershipPool};
use util::*;

const INNER: &str = "PATCHBAY_NET_INNER_NETNS";

/// True in the re-executed copy; in the outer run, runs `test` in a fresh namespace and checks it passed.
fn in_fresh_netns(test: &str) -> bool {
    guard();
    if std::env::var_os(INNER).is_some() {
        let sh = |args: &[&str]| {
            let st = Command::new("ip").args(args).status().unwrap();
            assert!(st.success(), "ip {args:?}");
        };
        sh(&["link", "set", "lo", "up"]);
        sh(&[
            "route",
            "replace",
            "224.0.0.0/4",
            "dev",
            "lo",
            "src",
            "127.0.0.1",
        ]);
        return true;
    }
    let out = Command::new("unshare")
        .args(["--net", "--"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(INNER, "1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "inner run failed:\n{text}"
    );
    false
}

fn write_sysctl(path: &str, value: usize) {
    std::fs::write(path, value.to_string()).unwrap();
}

fn g4(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(239, 255, 0, n))
}

#[test]
fn ipv4_pool_shards_by_sysctl_and_by_enobufs() {
    if !in_fresh_netns("ipv4_pool_shards_by_sysctl_and_by_enobufs") {
        return;
    }
    write_sysctl("/proc/sys/net/ipv4/igmp_max_memberships", 2);
    // Read at creation: 2 per socket.
    let mut ep = open("127.0.0.1:0", false);
    for n in 1..=5 {
        ep.join(g4(n)).unwrap();
    }
    assert_eq!(ep.pool().unwrap().len(), 3);

    // Limit assumed larger than the kernel's: the ENOBUFS of the third join moves it to a new socket.
    let iface = ep.interface().unwrap().clone();
    let mut pool = MembershipPool::with_limit(ep.local_addr().port() + 1, iface, 20);
    for n in 1..=5 {
        pool.join(g4(n)).unwrap();
    }
    assert_eq!(pool.len(), 3);
    assert_eq!(pool.socket_of(g4(5)), Some(2));
    // A leave frees room in the first socket again.
    assert!(pool.leave(g4(1)).unwrap());
    assert_eq!(pool.join(g4(6)).unwrap().socket, 0);
}

#[test]
fn ipv4_limit_error_names_group_interface_and_sysctl() {
    if !in_fresh_netns("ipv4_limit_error_names_group_interface_and_sysctl") {
        return;
    }
    write_sysctl("/proc/sys/net/ipv4/igmp_max_memberships", 0);
    let mut ep = open("127.0.0.1:0", false);
    let err = ep.join(g4(7)).unwrap_err();
    assert!(matches!(err, JoinError::Limit { .. }), "{err:?}");
    let text = err.to_string();
    for part in [
        "239.255.0.7",
        "lo (index 1, 127.0.0.1)",
        "net.ipv4.igmp_max_memberships",
    ] {
        assert!(text.contains(part), "{text}");
    }
    assert!(
        ep.pool().unwrap().is_empty(),
        "no socket kept for a failed join"
    );
}

/// IPv6 has no count limit; joins are charged to the socket's option memory (net.core.optmem_max) and
/// fail with ENOMEM when it runs out. The pool then continues on a new socket.
#[test]
fn ipv6_pool_shards_on_enomem() {
    if !in_fresh_netns("ipv6_pool_shards_on_enomem") {
        return;
    }
    write_sysctl("/proc/sys/net/core/optmem_max", 2048);
    let mut ep = open("[::1]:0", false);
    assert_eq!(ep.interface().unwrap().name, "lo");
    for n in 1..=200u16 {
        ep.join(IpAddr::V6(Ipv6Addr::new(0xff18, 0, 0, 0, 0, 0, 0x8300, n)))
            .unwrap();
    }
    let pool = ep.pool().unwrap();
    assert_eq!(pool.group_count(), 200);
    assert!(
        pool.len() > 1,
        "optmem_max=2048 should not hold 200 memberships in one socket"
    );
}
