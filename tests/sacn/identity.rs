//! Source identity on the wire: the default CID is a valid RFC 4122 UUID, stable across restarts
//! of one configuration and different for another configuration file (MIDIMonster shared one CID
//! everywhere, D21); the default source name is `patchbay`, a configured one is used verbatim.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::util::*;

/// Runs `config` (written to `path`) until its output universe 110 shows up; returns the packet.
fn first_packet(path: &std::path::Path, config: &str) -> Vec<u8> {
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let port = free_port();
    let text = config
        .replace("PORT", &port.to_string())
        .replace("DEST", &cap.port().to_string());
    std::fs::write(path, &text).unwrap();
    let pb = Patchbay::start_file(path, port);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(209));
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let got = poll(Duration::from_secs(8), || {
        tx.send(to, 109, 100, &[1]);
        std::thread::sleep(Duration::from_millis(100));
        cap.all().into_iter().find(|c| c.data().is_some())
    });
    let got = got.unwrap_or_else(|| panic!("no output\n{}", pb.log()));
    E131::new().check_all("identity", std::slice::from_ref(&got));
    got.bytes
}

const CONFIG: &str = "[backend sacn]\nbind = 127.0.0.1 PORT\n\n[sacn in]\nuniverse = 109\nunicast = 1\n\n\
[sacn out]\nuniverse = 110\npriority = 100\ndestination = 127.0.0.1 DEST\n\n[map]\nin.1 > out.1\n";

#[test]
fn default_cid_is_a_stable_uuid_per_configuration() {
    guard();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.cfg");
    let b = dir.path().join("b.cfg");
    let first = first_packet(&a, CONFIG);
    let again = first_packet(&a, CONFIG);
    let other = first_packet(&b, CONFIG);
    let cid = |p: &[u8]| p[22..38].to_vec();
    assert_eq!(
        cid(&first),
        cid(&again),
        "same host and file: same CID after a restart"
    );
    assert_ne!(
        cid(&first),
        cid(&other),
        "another configuration file: another CID"
    );
    for p in [&first, &other] {
        let c = cid(p);
        assert!(
            matches!(c[6] >> 4, 1..=8) && c[8] >> 6 == 0b10,
            "RFC 4122 version and variant bits: {}",
            hex(&c)
        );
        assert_ne!(&c[..11], b"MIDIMonster", "not MIDIMonster's shared CID");
    }
    let name = |p: &[u8]| p[44..108].split(|b| *b == 0).next().unwrap().to_vec();
    assert_eq!(name(&first), b"patchbay", "default source name");
    let named = first_packet(
        &dir.path().join("c.cfg"),
        &CONFIG.replace("[backend sacn]\n", "[backend sacn]\nname = Stage Left Ü\n"),
    );
    assert_eq!(
        name(&named),
        "Stage Left Ü".as_bytes(),
        "configured source name, UTF-8"
    );
}

/// Command line overrides reach the sACN backend: `-i out.priority=120` and `-b sacn.name=FOH`
/// are what the packets carry.
#[test]
fn overrides_set_priority_and_name_on_the_wire() {
    guard();
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let port = free_port();
    let cfg = CONFIG
        .replace("PORT", &port.to_string())
        .replace("DEST", &cap.port().to_string());
    let pb = Patchbay::start_with(
        &cfg,
        port,
        &["-d", "-i", "out.priority=120", "-b", "sacn.name=FOH"],
    );
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(211));
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let got = poll(Duration::from_secs(8), || {
        tx.send(to, 109, 100, &[1]);
        std::thread::sleep(Duration::from_millis(100));
        cap.all().into_iter().find(|c| c.data().is_some())
    });
    let got = got.unwrap_or_else(|| panic!("no output\n{}", pb.log()));
    let p = E131::new()
        .check_all("overrides", std::slice::from_ref(&got))
        .remove(0);
    assert_eq!(p.num("priority"), 120);
    assert_eq!(
        p.fields.get("name_hex").map(String::as_str),
        Some(hex(b"FOH").as_str())
    );
}

/// Two patchbays started with one configuration file derive one CID, so receivers would take them
/// for one source: the second warns and names the first one's pid; the first says nothing, and
/// neither does a patchbay with another configuration.
#[test]
fn a_second_patchbay_with_the_same_cid_warns() {
    guard();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let text = CONFIG
        .replace("PORT", &port.to_string())
        .replace("DEST", &free_port().to_string());
    let (a, b) = (dir.path().join("a.cfg"), dir.path().join("b.cfg"));
    std::fs::write(&a, &text).unwrap();
    std::fs::write(&b, &text).unwrap();
    let first = Patchbay::start_file(&a, port);
    let other = Patchbay::start_file(&b, port);
    let second = Patchbay::start_file(&a, port);
    let warned = poll(Duration::from_secs(5), || {
        let log = second.log();
        log.contains("already runs on this host with CID")
            .then_some(log)
    });
    let log = warned.unwrap_or_else(|| panic!("no warning\n{}", second.log()));
    assert!(
        log.contains(&format!("another patchbay (pid {})", first.pid())),
        "{log}"
    );
    assert!(log.contains("the same configuration path"), "{log}");
    for quiet in [&first, &other] {
        assert!(!quiet.log().contains("already runs"), "{}", quiet.log());
    }
}
