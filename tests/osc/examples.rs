//! examples/osc-sacn.cfg passes `--check` and runs as it is (OSC on 127.0.0.1:8000, sACN on
//! 127.0.0.1:5568 in the test namespace): it does what its comments say, with liblo as the
//! fader page and the screen.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::peers::*;
use crate::util::*;

fn example() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/osc-sacn.cfg")
}

#[test]
fn example_passes_check() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .args(["--check", "--quiet"])
        .arg(example())
        .output()
        .expect("run patchbay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "{stderr}");
}

fn last_slots(cap: &Capture, universe: u16) -> Option<Vec<u8>> {
    cap.all().iter().rev().find_map(|c| {
        c.data()
            .filter(|d| d.universe() == universe)
            .map(|d| d.slots().to_vec())
    })
}

#[test]
fn example_runs_with_liblo() {
    let _serial = serial();
    let screen = Receiver::oscdump(9000);
    let cap = Capture::v4(SACN_PORT, Ipv4Addr::LOCALHOST, &[group_v4(1)]);
    let pb = Patchbay::start_file(&example(), 8000);
    oscsend(8000, &["/4/multifader1/1", "f", "1.0"]);
    oscsend(8000, &["/4/multifader1/16", "f", "0.5"]);
    oscsend(8000, &["/4/xy", "ff", "0.5", "1.0"]);
    oscsend(8000, &["/4/toggle1", "f", "1.0"]);
    let want = |s: &[u8]| {
        s.len() >= 21
            && s[0] == 255
            && s[15] == 128
            && s[16..20] == [0x80, 0x00, 0xff, 0xff]
            && s[20] == 255
    };
    let got = poll(Duration::from_secs(8), || {
        last_slots(&cap, 1).filter(|s| want(s))
    });
    assert!(
        got.is_some(),
        "faders, xy and toggle: {:?}\n{}",
        last_slots(&cap, 1),
        pb.log()
    );
    // The console's fader reaches the screen that spoke last, on port 9000.
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(116));
    let to = SocketAddr::from((group_v4(2), SACN_PORT));
    tx.send(to, 2, 100, &[255]);
    let lines = screen.wait(1);
    assert_eq!(
        strip_time(&lines[0]),
        "/4/multifader2/1 f 1.000000",
        "{}",
        pb.log()
    );
}
