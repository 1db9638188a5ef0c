//! Membership limits. Each test re-runs itself in a fresh network namespace (`unshare --net`) so that
//! lowering a per-namespace sysctl cannot disturb other tests running at the same time.
#![allow(clippy::unwrap_used)]

mod util;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;

use patchbay_net::JoinError;
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

/// `net.ipv4.igmp_max_memberships` caps joins per socket (here 1: a plain socket's second join
/// fails), but every group has a socket of its own, so any number of groups can be joined. A left
/// group's socket is closed and its index taken by the next join.
#[test]
fn one_group_per_socket_never_meets_the_ipv4_count_limit() {
    if !in_fresh_netns("one_group_per_socket_never_meets_the_ipv4_count_limit") {
        return;
    }
    write_sysctl("/proc/sys/net/ipv4/igmp_max_memberships", 1);
    let plain = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    plain
        .join_multicast_v4(&Ipv4Addr::new(239, 255, 0, 1), &Ipv4Addr::LOCALHOST)
        .unwrap();
    assert!(
        plain
            .join_multicast_v4(&Ipv4Addr::new(239, 255, 0, 2), &Ipv4Addr::LOCALHOST)
            .is_err(),
        "control: the limit is in force"
    );
    let mut ep = open("127.0.0.1:0", false);
    for n in 1..=30 {
        ep.join(g4(n)).unwrap();
    }
    assert_eq!(ep.memberships().group_count(), 30);
    let first = ep.memberships().socket_of(g4(1)).unwrap();
    assert!(ep.leave(g4(1)).unwrap());
    assert!(!ep.leave(g4(1)).unwrap());
    let j = ep.join(g4(31)).unwrap();
    assert_eq!((j.socket, j.new_socket), (first, true));
    assert_eq!(ep.memberships().len(), 30);
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
        ep.memberships().is_empty(),
        "no socket kept for a failed join"
    );
}

/// IPv6 joins are charged to the socket's option memory (net.core.optmem_max); one group per
/// socket needs little of it.
#[test]
fn ipv6_groups_fit_a_tiny_option_memory() {
    if !in_fresh_netns("ipv6_groups_fit_a_tiny_option_memory") {
        return;
    }
    write_sysctl("/proc/sys/net/core/optmem_max", 2048);
    let mut ep = open("[::1]:0", false);
    assert_eq!(ep.interface().unwrap().name, "lo");
    for n in 1..=200u16 {
        ep.join(IpAddr::V6(Ipv6Addr::new(0xff18, 0, 0, 0, 0, 0, 0x8300, n)))
            .unwrap();
    }
    assert_eq!(ep.memberships().group_count(), 200);
}

/// A join that runs out of descriptors raises the soft open-file limit to the hard one and goes on.
#[test]
fn joins_raise_the_soft_open_file_limit() {
    if !in_fresh_netns("joins_raise_the_soft_open_file_limit") {
        return;
    }
    let hard = patchbay_net::fdlimit::current().unwrap().hard;
    assert!(
        hard >= 512,
        "the test needs a hard limit of at least 512, not {hard}"
    );
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, 64, hard).unwrap();
    let mut ep = open("127.0.0.1:0", false);
    for n in 1..=200u16 {
        let [hi, lo] = n.to_be_bytes();
        ep.join(IpAddr::V4(Ipv4Addr::new(239, 255, hi, lo)))
            .unwrap();
    }
    assert_eq!(ep.memberships().group_count(), 200);
    let now = patchbay_net::fdlimit::current().unwrap();
    assert!(now.soft > 64, "{now:?}");
}

/// When the hard limit is short too, the error says how many groups are open, both limits and
/// what to change.
#[test]
fn out_of_descriptors_error_names_the_limits() {
    if !in_fresh_netns("out_of_descriptors_error_names_the_limits") {
        return;
    }
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, 64, 64).unwrap();
    let mut ep = open("127.0.0.1:0", false);
    let mut err = None;
    for n in 1..=200u16 {
        let [hi, lo] = n.to_be_bytes();
        if let Err(e) = ep.join(IpAddr::V4(Ipv4Addr::new(239, 255, hi, lo))) {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("64 descriptors cannot hold 200 groups");
    assert!(matches!(err, JoinError::TooManyFiles { .. }), "{err:?}");
    let text = err.to_string();
    let open = ep.memberships().group_count();
    assert!(open > 40 && open < 64, "{open}");
    for part in [
        format!(
            "({open} group socket(s) open; the open-file limit is 64, raised to the hard limit 64 already"
        ),
        "ulimit -Hn".to_string(),
        "LimitNOFILE=".to_string(),
    ] {
        assert!(text.contains(&part), "{text}");
    }
}
