//! The multicast TTL / hop limit of what a bind sends (`BindSpec::multicast_ttl`), read back from
//! the IP header by a receiver with `IP_RECVTTL` / `IPV6_RECVHOPLIMIT`: IPv4, IPv6, and IPv4 groups
//! sent from a dual-stack `::` bind. On the veth pair, looped back with `local`.
#![allow(clippy::unwrap_used)]

mod util;

use std::io::IoSliceMut;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};
use patchbay_net::{BindSpec, UdpEndpoint};
use socket2::{Domain, Protocol, Socket, Type};
use util::*;

/// A socket bound to `group`:0's port-to-be, joined on sacn0, reporting the TTL / hop limit.
fn ttl_receiver(group: IpAddr) -> Socket {
    let v6 = group.is_ipv6();
    let s = Socket::new(
        if v6 { Domain::IPV6 } else { Domain::IPV4 },
        Type::DGRAM,
        Some(Protocol::UDP),
    )
    .unwrap();
    s.set_reuse_address(true).unwrap();
    s.bind(&SocketAddr::new(group, 0).into()).unwrap();
    match group {
        IpAddr::V4(g) => {
            s.join_multicast_v4_n(
                &g,
                &socket2::InterfaceIndexOrAddress::Index(ifindex("sacn0")),
            )
            .unwrap();
            setsockopt(&s, sockopt::Ipv4RecvTtl, &true).unwrap();
        }
        IpAddr::V6(g) => {
            s.join_multicast_v6(&g, ifindex("sacn0")).unwrap();
            setsockopt(&s, sockopt::Ipv6RecvHopLimit, &true).unwrap();
        }
    }
    s.set_nonblocking(true).unwrap();
    s
}

/// The TTL / hop limit of the next datagram on `s` (2 s at most).
fn received_ttl(s: &Socket) -> Option<i32> {
    use std::os::fd::AsRawFd;
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        let mut buf = [0u8; 64];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!(libc::c_int, libc::c_int);
        match recvmsg::<SockaddrStorage>(
            s.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        ) {
            Ok(msg) => {
                for c in msg.cmsgs().unwrap() {
                    match c {
                        ControlMessageOwned::Ipv4Ttl(t) => return Some(t),
                        ControlMessageOwned::Ipv6HopLimit(h) => return Some(h),
                        _ => {}
                    }
                }
                return None;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    None
}

fn sender(addr: &str, ttl: Option<u32>) -> UdpEndpoint {
    let mut spec =
        BindSpec::new(sa(addr), true).with_route_probes([ip("239.255.0.1"), ip("ff18::8300:1")]);
    if let Some(t) = ttl {
        spec.multicast_ttl = t;
    }
    UdpEndpoint::open(spec).unwrap()
}

#[test]
fn multicast_leaves_with_the_configured_ttl() {
    veth();
    for (bind, group, ttl, want) in [
        ("198.18.0.1:0", "239.255.0.31", None, 1),
        ("198.18.0.1:0", "239.255.0.32", Some(16), 16),
        ("[2001:db8:5ac::1]:0", "ff18::8300:33", None, 1),
        ("[2001:db8:5ac::1]:0", "ff18::8300:34", Some(64), 64),
        // A dual-stack bind's IPv4 groups take the same TTL.
        ("[::]:0", "239.255.0.35", Some(16), 16),
        ("[::]:0", "ff18::8300:36", Some(16), 16),
    ] {
        let rx = ttl_receiver(ip(group));
        let port = rx.local_addr().unwrap().as_socket().unwrap().port();
        let tx = sender(bind, ttl);
        tx.send_to(b"ttl", SocketAddr::new(ip(group), port))
            .unwrap();
        assert_eq!(
            received_ttl(&rx),
            Some(want),
            "{bind} -> {group}, ttl {ttl:?}"
        );
    }
}
