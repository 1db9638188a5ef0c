//! examples/mqtt-sacn.cfg passes `--check` and runs as it is (mosquitto on 127.0.0.1:1883 in the
//! test namespace, sACN on 127.0.0.1:5568): it does what its comments say.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::harness::*;
use crate::util::*;

fn example() -> PathBuf {
    root().join("examples/mqtt-sacn.cfg")
}

#[test]
fn example_passes_check() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .arg("--check")
        .arg(example())
        .output()
        .expect("run patchbay");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The last data packet of `universe` captured, from any source.
fn last_slots(cap: &Capture, universe: u16) -> Option<Vec<u8>> {
    cap.all().iter().rev().find_map(|c| {
        c.data()
            .filter(|d| d.universe() == universe)
            .map(|d| d.slots().to_vec())
    })
}

#[test]
fn example_runs_against_mosquitto() {
    let broker = Mosquitto::on(1883, None);
    // What the dashboard set before patchbay started.
    publish(1883, "5", 1, true, &[("home/livingroom/lamp", "ON")]);
    let cap = Capture::v4(SACN_PORT, Ipv4Addr::LOCALHOST, &[group_v4(1)]);
    let pb = Patchbay::start_file(&example(), SACN_PORT);
    wait_log(&pb, "instance 'home': subscribed to '", 3);
    let want = |s: &[u8], w: &[u8]| s.len() >= w.len() && s[..w.len()] == *w;
    let got = poll(Duration::from_secs(8), || {
        last_slots(&cap, 1).filter(|s| want(s, &[0, 255]))
    });
    assert!(
        got.is_some(),
        "retained lamp ON: {:?}\n{}",
        last_slots(&cap, 1),
        pb.log()
    );
    publish(
        1883,
        "5",
        0,
        false,
        &[
            ("home/livingroom/dimmer", "75"),
            ("home/kitchen/scene", "100"),
        ],
    );
    let got = poll(Duration::from_secs(8), || {
        last_slots(&cap, 1).filter(|s| want(s, &[191, 255, 255]))
    });
    assert!(
        got.is_some(),
        "dimmer 75 % and a scene: {:?}\n{}",
        last_slots(&cap, 1),
        pb.log()
    );
    // A console fader on universe 2 is published for the dashboard, on its 0..100 scale.
    let sub = Sub::start(1883, "5", "home/console/fader");
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(110));
    let mut slots = [0u8; 10];
    slots[9] = 255;
    let to = SocketAddr::from((group_v4(2), SACN_PORT));
    let got = poll(Duration::from_secs(8), || {
        tx.send(to, 2, 100, &slots);
        sub.messages().first().cloned()
    });
    assert_eq!(
        got.map(|m| m.payload),
        Some("100.000000".into()),
        "{}",
        pb.log()
    );
    drop(broker);
}
