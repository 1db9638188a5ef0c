//! 1,000 multicast groups, one datagram each: sent, delivered by the kernel and read, with the
//! receive layout of `UdpEndpoint` (one socket per group, bound to the group) against the layout
//! it replaced (50 wildcard sockets of 20 memberships each, built here with socket2), so the two
//! can be compared on the same machine. Opens sockets, so run it in a private namespace:
//! `netns-run cargo bench -p patchbay-net --bench groups -- --sample-count 20`.
//!
//! What differs: with wildcard sockets the kernel asks each of them, for every datagram, whether
//! one of its memberships matches (`ip_mc_sf_allow`); a group-bound socket is found by hashing
//! address and port. Reading costs one `recvmmsg` per group-bound socket against one per 20
//! datagrams for the wildcard layout.
#![allow(clippy::unwrap_used)]

use std::io::IoSliceMut;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;

use divan::Bencher;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg};
use patchbay_net::{BindSpec, RecvBatch, SocketId, UdpEndpoint};
use socket2::{Domain, Protocol, Socket, Type};

const GROUPS: u16 = 1000;
/// Datagrams sent before they are read: below the per-CPU backlog of looped packets
/// (`net.core.netdev_max_backlog`, 1,000).
const CHUNK: u16 = 100;
const PER_SOCKET: u16 = 20;

fn main() {
    patchbay_net::netns::require_private_netns();
    divan::main();
}

fn group(u: u16) -> IpAddr {
    let [hi, lo] = u.to_be_bytes();
    IpAddr::V4(Ipv4Addr::new(239, 255, hi, lo))
}

fn sender() -> UdpEndpoint {
    UdpEndpoint::open(BindSpec::new("127.0.0.1:0".parse().unwrap(), false)).unwrap()
}

#[divan::bench]
fn group_bound_sockets(b: Bencher<'_, '_>) {
    let mut rx = UdpEndpoint::open(BindSpec::new("127.0.0.1:0".parse().unwrap(), false)).unwrap();
    let port = rx.local_addr().port();
    let sockets: Vec<usize> = (1..=GROUPS)
        .map(|u| rx.join(group(u)).unwrap().socket)
        .collect();
    let tx = sender();
    let packet = [0u8; 638];
    let mut batch = RecvBatch::<32, 700>::new();
    b.counter(divan::counter::ItemsCount::new(usize::from(GROUPS)))
        .bench_local(|| {
            for chunk in (1..=GROUPS).collect::<Vec<_>>().chunks(usize::from(CHUNK)) {
                for &u in chunk {
                    tx.send_to(&packet, SocketAddr::new(group(u), port))
                        .unwrap();
                }
                for &u in chunk {
                    let id = SocketId::Receiver(sockets[usize::from(u) - 1]);
                    assert_eq!(rx.recv_batch(id, &mut batch).unwrap(), 1);
                }
            }
        });
}

/// The layout before: wildcard sockets, `IP_MULTICAST_ALL` off, 20 joins each.
#[divan::bench]
fn wildcard_sockets_of_20(b: Bencher<'_, '_>) {
    let open = |port: u16| {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        s.set_reuse_address(true).unwrap();
        s.set_nonblocking(true).unwrap();
        s.set_multicast_all_v4(false).unwrap();
        let _ = s.set_recv_buffer_size(4 << 20);
        s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())
            .unwrap();
        s
    };
    let s0 = open(0);
    let port = s0.local_addr().unwrap().as_socket().unwrap().port();
    let mut pool = vec![s0];
    for _ in 1..GROUPS / PER_SOCKET {
        pool.push(open(port));
    }
    for u in 1..=GROUPS {
        let IpAddr::V4(g) = group(u) else {
            unreachable!()
        };
        pool[usize::from((u - 1) / PER_SOCKET)]
            .join_multicast_v4_n(&g, &socket2::InterfaceIndexOrAddress::Index(1))
            .unwrap();
    }
    let tx = sender();
    let packet = [0u8; 638];
    let mut bufs = Box::new([[0u8; 700]; 32]);
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(32, None);
    b.counter(divan::counter::ItemsCount::new(usize::from(GROUPS)))
        .bench_local(|| {
            for chunk in (1..=GROUPS).collect::<Vec<_>>().chunks(usize::from(CHUNK)) {
                for &u in chunk {
                    tx.send_to(&packet, SocketAddr::new(group(u), port))
                        .unwrap();
                }
                for k in 0..CHUNK / PER_SOCKET {
                    let s = &pool[usize::from((chunk[0] - 1) / PER_SOCKET + k)];
                    let mut iovs = bufs.each_mut().map(|b| [IoSliceMut::new(b)]);
                    let got = recvmmsg(
                        s.as_raw_fd(),
                        &mut headers,
                        iovs.iter_mut(),
                        MsgFlags::MSG_DONTWAIT,
                        None,
                    )
                    .unwrap()
                    .count();
                    assert_eq!(got, usize::from(PER_SOCKET));
                }
            }
        });
}
