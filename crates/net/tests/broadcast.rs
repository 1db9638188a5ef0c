//! Broadcast input on a bind to one address (`BindSpec::broadcast_in`, what Art-Net's ArtPoll
//! needs): without it Linux gives such a bind no broadcast at all; with it the subnet's and the
//! limited broadcast arriving on the bind's interface are read, those arriving elsewhere are
//! not, and the wildcard address of the port stays free for other programs. On the veth pair.
#![allow(clippy::unwrap_used)]

mod util;

use std::net::{SocketAddr, UdpSocket};

use patchbay_net::{BindSpec, DestKind, SocketId, UdpEndpoint};
use socket2::{Domain, Protocol, Socket, Type};
use util::*;

/// A broadcast sender whose datagrams leave through `device` (and loop back to this host).
fn sender(device: &str) -> UdpSocket {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    s.set_broadcast(true).unwrap();
    s.bind_device(Some(device.as_bytes())).unwrap();
    s.into()
}

fn open_bc(addr: &str, broadcast_in: bool) -> UdpEndpoint {
    let mut spec = BindSpec::new(sa(addr), false);
    spec.broadcast_in = broadcast_in;
    UdpEndpoint::open(spec).unwrap()
}

#[test]
fn a_specific_bind_hears_its_interfaces_broadcasts_only_when_asked() {
    veth();
    let mut plain = open_bc("198.18.0.1:0", false);
    let port = plain.local_addr().port();
    let veth = sender("sacn0");
    veth.send_to(b"subnet", format!("198.18.0.255:{port}"))
        .unwrap();
    assert!(
        collect(&mut plain, QUIET).is_empty(),
        "control: Linux gives a specific bind no broadcast"
    );

    let mut rx = open_bc("198.18.0.1:0", true);
    let port = rx.local_addr().port();
    assert!(rx.to_string().contains("broadcast in"), "{rx}");
    let ids: Vec<SocketId> = rx.socket_ids().collect();
    assert_eq!(
        ids,
        [
            SocketId::Main,
            SocketId::Broadcast(0),
            SocketId::Broadcast(1)
        ]
    );
    veth.send_to(b"subnet", format!("198.18.0.255:{port}"))
        .unwrap();
    veth.send_to(b"limited", format!("255.255.255.255:{port}"))
        .unwrap();
    sender("lo")
        .send_to(b"elsewhere", format!("255.255.255.255:{port}"))
        .unwrap();
    UdpSocket::bind("198.18.0.1:0")
        .unwrap()
        .send_to(b"unicast", rx.local_addr())
        .unwrap();
    let mut got: Vec<(SocketId, DestKind, String, u32)> = collect(&mut rx, QUIET)
        .into_iter()
        .map(|g| {
            (
                g.socket,
                g.meta.kind,
                String::from_utf8_lossy(&g.payload).into_owned(),
                g.meta.ifindex,
            )
        })
        .collect();
    got.sort_by_key(|g| g.0);
    let sacn0 = ifindex("sacn0");
    assert_eq!(
        got,
        vec![
            (SocketId::Main, DestKind::Unicast, "unicast".into(), sacn0),
            (
                SocketId::Broadcast(0),
                DestKind::Broadcast,
                "subnet".into(),
                sacn0
            ),
            (
                SocketId::Broadcast(1),
                DestKind::Broadcast,
                "limited".into(),
                sacn0
            ),
        ],
        "each once, on its socket; nothing from lo"
    );

    // No wildcard is held: another program binds another address of the port without
    // SO_REUSEADDR.
    let other = UdpSocket::bind(SocketAddr::from(([198, 18, 0, 2], port)));
    assert!(other.is_ok(), "{other:?}");
}
