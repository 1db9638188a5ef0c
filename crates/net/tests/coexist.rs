//! Sharing a port with other programs that do not cooperate (issue 14): a bind must work next to
//! a socket that holds another address of the port without `SO_REUSEADDR`, in either order, and
//! next to a wildcard socket that shares the port; when the port really cannot be shared, the
//! error names the process in the way.
#![allow(clippy::unwrap_used)]

mod util;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};

use patchbay_net::{DestKind, OpenError, SocketId};
use socket2::{Domain, Protocol, Socket, Type};
use util::*;

const G1: &str = "239.255.0.1";

/// Receives multicast to G1 and unicast to its own address on `port`: what sACN input needs.
fn receives_multicast_and_unicast(ep: &mut patchbay_net::UdpEndpoint) {
    let port = ep.local_addr().port();
    let tx = open("127.0.0.1:0", false);
    tx.send_to(b"m", sa(&format!("{G1}:{port}"))).unwrap();
    tx.send_to(b"u", ep.local_addr()).unwrap();
    let mut got: Vec<(SocketId, DestKind, Vec<u8>)> = collect(ep, QUIET)
        .into_iter()
        .map(|g| (g.socket, g.meta.kind, g.payload))
        .collect();
    got.sort_by_key(|g| g.2.clone());
    assert_eq!(
        got,
        vec![
            (SocketId::Receiver(0), DestKind::Multicast, b"m".to_vec()),
            (SocketId::Main, DestKind::Unicast, b"u".to_vec()),
        ]
    );
}

fn sharing_wildcard(port: u16) -> UdpSocket {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    s.set_reuse_address(true).unwrap();
    s.bind(&sa(&format!("0.0.0.0:{port}")).into()).unwrap();
    s.into()
}

/// A free port on 127.0.0.1 (the socket that found it is closed again).
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn starts_next_to_a_specific_socket_that_does_not_share_the_port() {
    guard();
    let port = free_port();
    let other = UdpSocket::bind(format!("127.0.0.2:{port}")).unwrap();
    let mut ep = open(&format!("127.0.0.1:{port}"), false);
    ep.join(ip(G1)).unwrap();
    receives_multicast_and_unicast(&mut ep);
    // The other program still gets its own unicast.
    other.set_nonblocking(true).unwrap();
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"o", format!("127.0.0.2:{port}"))
        .unwrap();
    std::thread::sleep(QUIET);
    assert_eq!(other.recv(&mut [0u8; 8]).unwrap(), 1);
}

#[test]
fn starts_next_to_a_wildcard_socket_that_shares_the_port() {
    guard();
    let port = free_port();
    let _other = sharing_wildcard(port);
    let mut ep = open(&format!("127.0.0.1:{port}"), false);
    ep.join(ip(G1)).unwrap();
    receives_multicast_and_unicast(&mut ep);
}

/// The reverse order: patchbay first, then a program that binds another address of the port
/// without `SO_REUSEADDR`. The control shows what a wildcard receive socket (the layout before)
/// did to that program.
#[test]
fn a_program_started_later_can_bind_another_address_of_the_port() {
    guard();
    let port = free_port();
    let mut ep = open(&format!("127.0.0.1:{port}"), false);
    ep.join(ip(G1)).unwrap();
    let other = UdpSocket::bind(format!("127.0.0.2:{port}"));
    assert!(other.is_ok(), "{other:?}");
    receives_multicast_and_unicast(&mut ep);

    let port = free_port();
    let _wildcard = sharing_wildcard(port);
    let refused = UdpSocket::bind(format!("127.0.0.2:{port}")).unwrap_err();
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::AddrInUse,
        "control: a wildcard socket, even one that shares, blocks it"
    );
}

/// Re-executed as [`hold`]'s child: binds `PATCHBAY_NET_HOLD` without `SO_REUSEADDR`, says
/// "bound", and keeps the socket until its stdin closes. A no-op in a normal run.
#[test]
fn holder_process() {
    let Ok(addr) = std::env::var("PATCHBAY_NET_HOLD") else {
        return;
    };
    let _sock = UdpSocket::bind(addr).unwrap();
    println!("bound");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

/// Another process holding `addr` without sharing it, until dropped. Its stdout stays open
/// until it has exited, so the test harness in it can still report.
struct Held(
    Child,
    Option<std::io::Lines<BufReader<std::process::ChildStdout>>>,
);

impl Drop for Held {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
        drop(self.1.take());
    }
}

fn hold(addr: SocketAddr) -> Held {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "holder_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PATCHBAY_NET_HOLD", addr.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    loop {
        let line = lines.next().expect("the holder exited").unwrap();
        if line.contains("bound") {
            break;
        }
    }
    Held(child, Some(lines))
}

/// The holder's name as `/proc/PID/comm` shows it (the executable's name, at most 15 bytes).
fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap()
        .trim_end()
        .to_string()
}

#[test]
fn a_port_held_on_the_wildcard_names_the_process_and_the_remedy() {
    guard();
    let port = free_port();
    let held = hold(sa(&format!("0.0.0.0:{port}")));
    let pid = held.0.id();
    let err = patchbay_net::UdpEndpoint::open(patchbay_net::BindSpec::new(
        sa(&format!("127.0.0.1:{port}")),
        false,
    ))
    .err()
    .unwrap();
    let OpenError::Bind { held: ref why, .. } = err else {
        panic!("{err:?}");
    };
    assert_eq!(why.holders().len(), 1, "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "cannot bind 127.0.0.1:{port}: Address already in use (os error 98); 0.0.0.0:{port} is held by \
             process {pid} ({}) without sharing the port (SO_REUSEADDR), so no other program can \
             use port {port} on any address: make that program share the port or bind a specific \
             address, or stop it",
            comm(pid)
        )
    );
}

#[test]
fn a_wildcard_bind_next_to_a_specific_holder_says_to_bind_a_specific_address() {
    guard();
    let port = free_port();
    let held = hold(sa(&format!("127.0.0.2:{port}")));
    let text = patchbay_net::UdpEndpoint::open(patchbay_net::BindSpec::new(
        sa(&format!("0.0.0.0:{port}")),
        false,
    ))
    .err()
    .unwrap()
    .to_string();
    let pid = held.0.id();
    assert!(
        text.contains(&format!(
            "127.0.0.2:{port} is held by process {pid} ({})",
            comm(pid)
        )),
        "{text}"
    );
    assert!(text.contains("bind a specific address instead"), "{text}");
    // The specific bind patchbay ships with works next to it.
    let mut ep = open(&format!("127.0.0.1:{port}"), false);
    ep.join(ip(G1)).unwrap();
    receives_multicast_and_unicast(&mut ep);
}
