//! The Art-Net backend through the real binary, inside the private network namespace of
//! `scripts/test` (`scripts/netns-run --veth cargo test --test artnet` works the same).
//!
//! Peers: python `stupidArtnet` and `pyartnet` (independent implementations,
//! tests/peers/artnet_peer.py) send and receive; every datagram patchbay sends that a test
//! captures goes through tests/peers/artnet_check.py, a strict Art-Net 4 parser written apart from
//! crates/artnet, which must report no error. Bridging sACN -> Art-Net -> sACN checks every slot.
//! Tests use private ports, so they run in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "sacn/util.rs"]
#[allow(dead_code)]
mod util;

#[path = "artnet/ola.rs"]
mod ola;

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use util::{Capture, Patchbay, RawSender, free_port, guard, peers_dir, poll, test_cid};

const HINT: &str = "scripts/setup installs the test peers (python3, stupidArtnet 1.6.0, pyartnet 2.0, ola, tshark)";

/// tests/peers/artnet_check.py, one datagram per question.
struct Checker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Checker {
    fn new() -> Checker {
        let mut child = Command::new("python3")
            .arg(peers_dir().join("artnet_check.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3 ({e}); {HINT}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Checker {
            child,
            stdin,
            stdout,
        }
    }

    /// The parse of `bytes`; panics if the checker found an error.
    fn check(&mut self, bytes: &[u8]) -> serde_json::Value {
        writeln!(self.stdin, "{}", util::hex(bytes)).unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).expect("checker output");
        assert_eq!(
            v["errors"].as_array().map(Vec::len),
            Some(0),
            "artnet_check.py: {v}"
        );
        v
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A python peer process (artnet_peer.py); killed when dropped.
struct Peer(Child);

impl Peer {
    fn send(lib: &str, to: SocketAddr, source: Ipv4Addr, universe: u16, slots: &[u8]) -> Peer {
        guard();
        let child = Command::new("python3")
            .arg(peers_dir().join("artnet_peer.py"))
            .args(["send", lib, &to.ip().to_string(), &to.port().to_string()])
            .args([source.to_string(), universe.to_string(), util::hex(slots)])
            .arg("20")
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run python3 ({e}); {HINT}"));
        Peer(child)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// ArtDmx captured on `cap` for `universe`, each checked by the independent parser; the slots
/// of the last one once `pred` holds.
fn wait_artdmx(
    cap: &Capture,
    checker: &mut Checker,
    universe: u64,
    pred: impl Fn(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    let mut seen = 0;
    poll(Duration::from_secs(8), || {
        let all = cap.all();
        let mut last = None;
        for c in &all[seen..] {
            let v = checker.check(&c.bytes);
            if v["op"] == "dmx" && v["port_address"] == universe {
                last = Some(util::unhex(v["slots"].as_str().unwrap()));
            }
        }
        seen = all.len();
        last.filter(|s| pred(s))
    })
}

fn start(config: &str, port: u16) -> Patchbay {
    Patchbay::start_with(config, port, &["-d", "--stats-format", "json"])
}

#[test]
fn python_senders_in_checked_artdmx_out() {
    guard();
    let port = free_port();
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let cfg = format!(
        "[backend artnet]\nbind = 0.0.0.0 {port}\n\n[artnet in]\nuni = 1\n\n\
         [artnet out]\nnet = 1\nuniverse = 0x12\ndest = 127.0.0.1 {}\n\n\
         [map]\nin.{{1..4}} > out.{{1..4}}\nin.10+11 > out.20+21\n",
        cap.port()
    );
    let pb = start(&cfg, port);
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut checker = Checker::new();
    let mut slots = vec![0u8; 12];
    slots[..4].copy_from_slice(&[10, 20, 30, 255]);
    slots[9..11].copy_from_slice(&[0xAB, 0xCD]);
    // out = net 1, sub-net 1, universe 2: Port-Address 0x112.
    for lib in ["stupid", "pyartnet"] {
        let _peer = Peer::send(lib, to, Ipv4Addr::LOCALHOST, 1, &slots);
        let got = wait_artdmx(&cap, &mut checker, 0x112, |s| {
            s[..4] == [10, 20, 30, 255] && s[19..21] == [0xAB, 0xCD]
        });
        assert!(got.is_some(), "{lib}: no output\n{}", pb.log());
        drop(_peer);
        // Change the values so that the second library's are seen.
        slots[0] = 11;
        let _ = lib;
    }
    // Output is whole universes with increasing sequence numbers.
    let dmx: Vec<_> = cap
        .all()
        .into_iter()
        .map(|c| checker.check(&c.bytes))
        .filter(|v| v["op"] == "dmx")
        .collect();
    assert!(dmx.iter().all(|v| v["length"] == 512));
    let seqs: Vec<u64> = dmx
        .iter()
        .map(|v| v["sequence"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] % 255 + 1), "{seqs:?}");
}

#[test]
fn two_python_sources_merge_htp() {
    guard();
    let port = free_port();
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let cfg = format!(
        "[backend artnet]\nbind = 0.0.0.0 {port}\n\n[artnet in]\nuni = 3\n\n\
         [artnet out]\nuni = 4\ndest = 127.0.0.1 {}\n\n[map]\nin.{{1..4}} > out.{{1..4}}\n",
        cap.port()
    );
    let pb = start(&cfg, port);
    let mut checker = Checker::new();
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let _a = Peer::send("stupid", to, Ipv4Addr::LOCALHOST, 3, &[200, 0, 50, 0]);
    let _b = Peer::send("pyartnet", to, util::VETH0, 3, &[100, 150, 60, 0]);
    let got = wait_artdmx(&cap, &mut checker, 4, |s| s[..4] == [200, 150, 60, 0]);
    assert!(got.is_some(), "no HTP merge\n{}", pb.log());
}

#[test]
fn python_receiver_gets_patchbay_output() {
    guard();
    let port = free_port();
    let peer_port = free_port();
    let cfg = format!(
        "[backend artnet]\nbind = 127.0.0.1 {port}\n\n[artnet in]\nuni = 6\n\n\
         [artnet out]\nuni = 0x17\ndest = 127.0.0.1 {peer_port}\n\n[map]\nin.{{1..4}} > out.{{1..4}}\n"
    );
    let pb = start(&cfg, port);
    let receiver = Command::new("python3")
        .arg(peers_dir().join("artnet_peer.py"))
        .args(["recv", &peer_port.to_string(), &0x17.to_string(), "4"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); {HINT}"));
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let _sender = Peer::send("stupid", to, Ipv4Addr::LOCALHOST, 6, &[1, 2, 3, 4]);
    let out = receiver.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.len() == 1024 && l.starts_with("01020304")),
        "stupidArtnet's server did not see the values: {text}\n{}",
        pb.log()
    );
}

#[test]
fn artpoll_answered_with_replies_the_independent_parser_accepts() {
    guard();
    let port = free_port();
    let cfg = format!(
        "[backend artnet]\nbind = 127.0.0.1 {port} announce=127.0.0.1\n\n[artnet desk]\nnet = 2\n\
         uni = 0x31\ndest = 127.0.0.1 9\n\n[artnet stage]\nuni = 5\n\n[loopback l]\n\n\
         [map]\nstage.1 > l.x\nl.y > desk.1\n"
    );
    let pb = start(&cfg, port);
    let mut checker = Checker::new();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut poll_pkt = [0u8; 22];
    let n = patchbay_artnet::write_poll(&mut poll_pkt, &patchbay_artnet::Poll::default()).unwrap();
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut replies = Vec::new();
    let end = Instant::now() + Duration::from_secs(5);
    while replies.len() < 2 && Instant::now() < end {
        sock.send_to(&poll_pkt[..n], to).unwrap();
        let mut buf = [0u8; 1024];
        while let Ok((n, _)) = sock.recv_from(&mut buf) {
            let v = checker.check(&buf[..n]);
            if v["op"] == "poll_reply" {
                replies.push(v);
            }
        }
    }
    assert!(replies.len() >= 2, "{replies:?}\n{}", pb.log());
    let find = |name: &str| {
        replies
            .iter()
            .find(|r| r["short_name"] == name)
            .unwrap_or_else(|| panic!("no reply for {name}: {replies:?}"))
    };
    let desk = find("desk");
    assert_eq!(desk["long_name"], "patchbay - desk");
    assert_eq!(desk["ip"], "127.0.0.1");
    assert_eq!(desk["ports"][0]["input"], true);
    assert_eq!(desk["ports"][0]["port_address_in"], 2 * 256 + 0x31);
    let stage = find("stage");
    assert_eq!(stage["ports"][0]["input"], false);
    assert_eq!(stage["ports"][0]["output"], true);
    assert_eq!(stage["ports"][0]["port_address_out"], 5);
    assert!(desk["report"].as_str().unwrap().starts_with("#0001 ["));
}

/// An sACN universe to Art-Net and back in one process (two Art-Net binds, on lo and the veth,
/// so the own-packet filter of each lets the other's through): every slot, through frame routes
/// both ways.
#[test]
fn sacn_to_artnet_to_sacn_every_slot() {
    guard();
    let sacn_port = free_port();
    let (a, b) = (free_port(), free_port());
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let cid = test_cid(201);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = 201\nunicast = 1\n\n[sacn out]\nuniverse = 202\npriority = 100\n\
         destination = 127.0.0.1 {}\n\n[backend artnet]\nbind = 127.0.0.1 {a}\nbind = 198.18.0.1 {b}\n\n\
         [artnet tx]\nuni = 9\ndest = 198.18.0.1 {b}\n\n[artnet rx]\niface = 1\nuni = 9\n\n\
         [map]\nin.{{1..512}} > tx.{{1..512}}\nrx.{{1..512}} > out.{{1..512}}\n",
        util::backend("bridge", cid, &[&format!("127.0.0.1 {sacn_port}")]),
        cap.port()
    );
    let pb = start(&cfg, sacn_port);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(202));
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, sacn_port));
    for round in 0..3u8 {
        let slots: Vec<u8> = (0..512)
            .map(|i| (i as u8).wrapping_mul(7).wrapping_add(round))
            .collect();
        let got = cap.send_until(
            cid,
            202,
            || tx.send(to, 201, 100, &slots),
            |s| s == &slots[..],
        );
        assert!(
            got.is_some(),
            "round {round}: {:?}\n{}",
            cap.wait_slots(cid, 202, Duration::ZERO, |_| true),
            pb.log()
        );
    }
}

/// `patchbay artnet send` feeds patchbay; `patchbay artnet watch --json` sees its output.
#[test]
fn tools_send_into_patchbay_and_watch_its_output() {
    guard();
    let port = free_port();
    let watch_port = free_port();
    let cfg = format!(
        "[backend artnet]\nbind = 127.0.0.1 {port}\n\n[artnet in]\nuni = 1\n\n\
         [artnet out]\nnet = 3\nuni = 2\ndest = 127.0.0.1 {watch_port}\n\n[map]\nin.{{1..3}} > out.{{1..3}}\n"
    );
    let pb = start(&cfg, port);
    let bin = env!("CARGO_BIN_EXE_patchbay");
    let watch = Command::new(bin)
        .args(["artnet", "watch", "3:0:2", "--json", "--duration", "3"])
        .args(["--bind", &format!("127.0.0.1:{watch_port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let send = Command::new(bin)
        .args([
            "artnet",
            "send",
            "1",
            "--pattern",
            "static:9,8,7",
            "--duration",
            "2",
        ])
        .args(["--to", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    assert!(
        send.status.success(),
        "{}",
        String::from_utf8_lossy(&send.stderr)
    );
    let out = watch.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let seen = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .any(|v| {
            v["event"] == "universe"
                && v["address"] == "3:0:2"
                && v["slots"].as_array().is_some_and(|s| s[..3] == [9, 8, 7])
        });
    assert!(
        seen,
        "watch did not see 9, 8, 7 on 3:0:2:\n{text}\n{}",
        pb.log()
    );
}

/// examples/sacn-artnet.cfg as shipped: sACN universe 1 reaches the Art-Net node, Art-Net
/// 0:0:1 reaches sACN universe 2, every slot.
#[test]
fn example_bridges_sacn_and_artnet_both_ways() {
    guard();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sacn-artnet.cfg");
    let node = UdpSocket::bind("127.0.0.2:6454").unwrap();
    node.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let stage = Capture::v4(5568, Ipv4Addr::LOCALHOST, &[util::group_v4(2)]);
    let pb = Patchbay::start_file(&path, 6454);
    let mut checker = Checker::new();
    // sACN -> Art-Net.
    let console: Vec<u8> = (0..512).map(|i| (i % 251) as u8).collect();
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(210));
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, 5568));
    let got = poll(Duration::from_secs(8), || {
        tx.send(to, 1, 100, &console);
        let mut buf = [0u8; 1024];
        let mut last = None;
        while let Ok((n, _)) = node.recv_from(&mut buf) {
            let v = checker.check(&buf[..n]);
            if v["op"] == "dmx" && v["port_address"] == 0 {
                last = Some(util::unhex(v["slots"].as_str().unwrap()));
            }
        }
        last.filter(|s| s == &console)
    });
    assert!(
        got.is_some(),
        "the node never got the console's universe\n{}",
        pb.log()
    );
    // Art-Net -> sACN.
    let desk_levels: Vec<u8> = (0..512).map(|i| 255 - (i % 256) as u8).collect();
    let desk = UdpSocket::bind("127.0.0.3:0").unwrap();
    let mut seq = 0u8;
    let got = poll(Duration::from_secs(8), || {
        seq = seq % 255 + 1;
        let mut b = [0u8; 530];
        let h = patchbay_artnet::DmxHeader {
            sequence: seq,
            physical: 0,
            address: patchbay_artnet::PortAddress::new(1).unwrap(),
        };
        let n = patchbay_artnet::write_dmx(&mut b, &h, &desk_levels).unwrap();
        desk.send_to(&b[..n], "127.0.0.1:6454").unwrap();
        std::thread::sleep(Duration::from_millis(30));
        stage
            .all()
            .iter()
            .rev()
            .filter_map(|c| {
                c.data()
                    .filter(|d| d.universe() == 2)
                    .map(|d| d.slots().to_vec())
            })
            .next()
            .filter(|s| s == &desk_levels)
    });
    assert!(
        got.is_some(),
        "sACN universe 2 never carried the desk's levels\n{}",
        pb.log()
    );
}

/// Malformed datagrams are dropped, counted by reason and shown in the JSON stats (SIGUSR1),
/// and patchbay keeps running.
#[test]
fn malformed_datagrams_are_counted_by_reason_in_the_json_stats() {
    guard();
    let port = free_port();
    let cfg = format!(
        "[backend artnet]\nbind = 127.0.0.1 {port}\n\n[artnet in]\nuni = 1\n\n[loopback l]\n\n[map]\nin.1 > l.x\n"
    );
    let mut pb = start(&cfg, port);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut long_length = dmx_packet(1, &[1, 2]);
    long_length[16..18].copy_from_slice(&600u16.to_be_bytes());
    for bad in [
        &b"Art-Net"[..],
        b"Not-Art\0\x00\x50\x00\x0e",
        &long_length,
        &dmx_packet(1, &[1, 2])[..17],
    ] {
        sock.send_to(bad, to).unwrap();
    }
    let line = poll(Duration::from_secs(5), || {
        pb.signal("USR1");
        std::thread::sleep(Duration::from_millis(200));
        pb.log()
            .lines()
            .rev()
            .find(|l| l.contains("\"scope\":\"bind 0\"") && l.contains("\"malformed\":4"))
            .map(str::to_string)
    });
    let line = line.unwrap_or_else(|| panic!("no stats line with 4 malformed\n{}", pb.log()));
    let v: serde_json::Value = serde_json::from_str(&line).expect("json stats line");
    let c = &v["counters"];
    assert_eq!(c["malformed.truncated_header"], 1, "{line}");
    assert_eq!(c["malformed.bad_id"], 1, "{line}");
    assert_eq!(c["malformed.dmx_length_out_of_range"], 1, "{line}");
    assert_eq!(c["malformed.truncated_dmx"], 1, "{line}");
    pb.assert_running();
}

fn dmx_packet(universe: u16, slots: &[u8]) -> Vec<u8> {
    let mut b = [0u8; 530];
    let h = patchbay_artnet::DmxHeader {
        sequence: 1,
        physical: 0,
        address: patchbay_artnet::PortAddress::new(universe).unwrap(),
    };
    let n = patchbay_artnet::write_dmx(&mut b, &h, slots).unwrap();
    b[..n].to_vec()
}
