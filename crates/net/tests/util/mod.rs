//! Helpers shared by the socket tests. Every test calls [`guard`] (or [`veth`]) first.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use patchbay_net::{BindSpec, RecvMeta, SocketId, UdpEndpoint};

/// Refuses to go on outside a private network namespace.
pub fn guard() {
    patchbay_net::netns::require_private_netns();
}

/// As [`guard`], and requires the veth pair of `scripts/netns-run --veth`.
pub fn veth() {
    guard();
    assert!(
        has_veth(),
        "this test needs the sacn0/sacn1 veth pair: run under scripts/netns-run --veth (scripts/test does)"
    );
}

/// Whether `scripts/netns-run --veth` made the pair (sysfs would show the host's interfaces, so ask the kernel).
pub fn has_veth() -> bool {
    nix::net::if_::if_nametoindex("sacn0").is_ok()
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn open(addr: &str, local: bool) -> UdpEndpoint {
    UdpEndpoint::open(BindSpec::new(sa(addr), local)).unwrap()
}

/// One received datagram with its payload.
#[derive(Debug, Clone)]
pub struct Got {
    pub socket: SocketId,
    pub meta: RecvMeta,
    pub payload: Vec<u8>,
}

/// Reads every socket of `ep` until nothing arrived for `quiet`.
pub fn collect(ep: &mut UdpEndpoint, quiet: Duration) -> Vec<Got> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    let mut last = Instant::now();
    while last.elapsed() < quiet {
        let mut any = false;
        for id in ep.socket_ids().collect::<Vec<_>>() {
            while let Some(meta) = ep.recv(id, &mut buf).unwrap() {
                out.push(Got {
                    socket: id,
                    meta,
                    payload: buf[..meta.len].to_vec(),
                });
                any = true;
            }
        }
        if any {
            last = Instant::now();
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    out
}

pub const QUIET: Duration = Duration::from_millis(150);

pub fn ifindex(name: &str) -> u32 {
    nix::net::if_::if_nametoindex(name).unwrap()
}

/// Opens `addr` with `probes` naming a wildcard bind's multicast interface.
pub fn open_probed(addr: &str, local: bool, probes: &[&str]) -> UdpEndpoint {
    let spec = BindSpec::new(sa(addr), local).with_route_probes(probes.iter().map(|p| ip(p)));
    UdpEndpoint::open(spec).unwrap()
}
