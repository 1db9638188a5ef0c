//! Sharing the port with other sACN programs that do not cooperate (issue 14 item 1), through the
//! binary: patchbay starts and receives multicast and unicast next to a program holding another
//! address of the port without `SO_REUSEADDR`, next to one holding the wildcard with it, and the
//! other way round (patchbay first); when the port really cannot be shared, the error names the
//! process that holds it.
//!
//! A private port stands for 5568: other tests keep capture sockets on the wildcard of 5568
//! while they run, which would stop the "other program" here from binding without
//! `SO_REUSEADDR`. Linux treats every port alike.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::util::*;

/// Input universes (multicast, unicast) and the output universe of these tests.
const IN_MC: u16 = 141;
const IN_UC: u16 = 142;
const OUT: u16 = 143;

/// patchbay on `127.0.0.1 port`: multicast input IN_MC to slot 1 and unicast input IN_UC to slot 2
/// of OUT, which goes to the capture.
fn config(n: u8, port: u16, cap: &Capture) -> String {
    format!(
        "{}\n[sacn mc]\nuniverse = {IN_MC}\n\n[sacn uc]\nuniverse = {IN_UC}\nunicast = 1\n\n\
         [sacn out]\nuniverse = {OUT}\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {}\n\n\
         [map]\nmc.1 > out.1\nuc.1 > out.2\n",
        backend("coexist", test_cid(n), &[&format!("127.0.0.1 {port}")]),
        cap.port()
    )
}

/// Multicast to IN_MC's group and unicast to patchbay's address both reach the output.
fn receives_multicast_and_unicast(pb: &Patchbay, cap: &Capture, n: u8, port: u16) {
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(n + 100));
    let group = SocketAddr::from((group_v4(IN_MC), port));
    let ok = cap.send_until(
        test_cid(n),
        OUT,
        || tx.send(group, IN_MC, 100, &[51]),
        |s| s[0] == 51,
    );
    assert!(ok.is_some(), "multicast input lost\n{}", pb.log());
    let direct = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let ok = cap.send_until(
        test_cid(n),
        OUT,
        || tx.send(direct, IN_UC, 100, &[52]),
        |s| s[1] == 52,
    );
    assert!(ok.is_some(), "unicast input lost\n{}", pb.log());
}

/// The other program still gets its own unicast.
fn other_receives(other: &UdpSocket) {
    other
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let to = other.local_addr().unwrap();
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(b"hello", to)
        .unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(other.recv(&mut buf).unwrap(), 5);
}

#[test]
fn starts_next_to_a_program_holding_another_address_without_sharing() {
    guard();
    let port = free_port();
    let other = UdpSocket::bind(("127.0.0.2", port)).unwrap();
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let pb = Patchbay::start(&config(141, port, &cap), port);
    receives_multicast_and_unicast(&pb, &cap, 141, port);
    other_receives(&other);
}

#[test]
fn starts_next_to_a_program_holding_the_wildcard_with_sharing() {
    guard();
    let port = free_port();
    let other = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    other.set_reuse_address(true).unwrap();
    other
        .bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)).into())
        .unwrap();
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let pb = Patchbay::start(&config(144, port, &cap), port);
    receives_multicast_and_unicast(&pb, &cap, 144, port);
}

/// patchbay first; then a program binds another address of the port without `SO_REUSEADDR`
/// (MIDIMonster's wildcard receive sockets made that fail), and patchbay still receives.
#[test]
fn a_program_started_after_patchbay_binds_another_address_of_the_port() {
    guard();
    let port = free_port();
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let pb = Patchbay::start(&config(147, port, &cap), port);
    assert!(
        !wait_joined(std::net::IpAddr::V4(group_v4(IN_MC))).is_empty(),
        "{}",
        pb.log()
    );
    let other = UdpSocket::bind(("127.0.0.2", port));
    assert!(other.is_ok(), "{other:?}\n{}", pb.log());
    receives_multicast_and_unicast(&pb, &cap, 147, port);
    other_receives(&other.unwrap());
}

/// Another process holding `0.0.0.0:port` without `SO_REUSEADDR`, until dropped: a python
/// one-liner (python is a test prerequisite), so the error has a foreign process to name.
struct Holder(Child);

impl Holder {
    fn start(port: u16) -> Holder {
        let script = format!(
            "import socket, sys\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             s.bind(('0.0.0.0', {port}))\nprint('bound', flush=True)\nsys.stdin.read()\n"
        );
        let mut child = Command::new("python3")
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "bound");
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_port_that_cannot_be_shared_names_the_process_holding_it() {
    guard();
    let port = free_port();
    let holder = Holder::start(port);
    let pid = holder.0.id();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("held.cfg"),
        format!(
            "[backend sacn]\nbind = 127.0.0.1 {port}\n\n[sacn a]\nuniverse = 1\n\n[sacn b]\n\
             universe = 2\npriority = 100\n\n[map]\na.1 > b.1\n"
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .arg("held.cfg")
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("held.cfg:2:"))
        .unwrap_or_else(|| panic!("no error at the bind line\n{err}"));
    for part in [
        format!("cannot bind 127.0.0.1:{port}: Address already in use"),
        format!("0.0.0.0:{port} is held by process {pid} (python3) without sharing the port"),
        "make that program share the port or bind a specific address, or stop it".to_string(),
    ] {
        assert!(line.contains(&part), "missing '{part}' in: {line}");
    }
}
