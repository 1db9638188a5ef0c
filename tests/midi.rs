//! The MIDI backends through the real binary: MIDIMonster's example configurations that use
//! only backends patchbay has (tests/configs/midimonster) and patchbay's MIDI examples pass
//! `--check`, and MIDI from a JACK client reaches sACN (examples/jack-sacn.cfg against
//! `jackd -d dummy`, the python JACK-Client as the controller, the sACN output captured).
//!
//! The MIDI backends are cargo features that link C libraries (`jack`, `midi-alsa`); where this
//! build leaves one out (or a configuration needs a backend patchbay does not have yet), the
//! test says so on stderr and checks what it can.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "sacn/util.rs"]
#[allow(dead_code)]
mod util;

#[path = "peers/jack.rs"]
mod jack_peer;

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use util::{Capture, Patchbay, SACN_PORT, cid_text, group_v4, poll, test_cid};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The backends a configuration uses: `[backend NAME]` and `[NAME instance]` sections.
fn backends_of(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix('[')?.split(']').next())
        .filter_map(|h| {
            let mut w = h.split_whitespace();
            match (w.next()?, w.next()) {
                ("backend", Some(b)) => Some(b.to_string()),
                ("map" | "include", _) => None,
                (b, Some(_)) => Some(b.to_string()),
                _ => None,
            }
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Why this build cannot check a configuration using `backends`, if it cannot.
fn unavailable(backends: &[String]) -> Option<String> {
    backends.iter().find_map(|b| {
        if patchbay_backends::UNSUPPORTED.contains(&b.as_str()) {
            return Some(format!("backend '{b}' is not in patchbay yet"));
        }
        patchbay_backends::COMPILED_OUT
            .iter()
            .find(|(name, _)| name == b)
            .map(|(_, feature)| format!("backend '{b}' is not compiled in (--features {feature})"))
    })
}

/// Straight to stderr, past the test harness's capture: a skip is never silent.
fn skipped(what: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "skipped: {what}: {why}");
}

fn check(path: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .arg("--check")
        .arg(path)
        .output()
        .expect("run patchbay")
}

/// `--check` accepts each file (exit 0, no error), or the test says why it cannot be checked.
fn check_all(files: &[PathBuf]) -> usize {
    let mut checked = 0;
    for f in files {
        let text = std::fs::read_to_string(f).expect("read config");
        let backends = backends_of(&text);
        if let Some(why) = unavailable(&backends) {
            skipped(&format!("--check {}", f.display()), &why);
            continue;
        }
        let out = check(f);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}:\n{}",
            f.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    checked
}

#[test]
fn midimonster_midi_configs_pass_check() {
    let dir = root().join("tests/configs/midimonster");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/configs/midimonster")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    let checked = check_all(&files);
    if unavailable(&["midi".into(), "sacn".into()]).is_none() {
        assert!(
            checked >= 1,
            "launchctl-sacn.cfg (midi, sacn) must be checked"
        );
    }
}

#[test]
fn midi_examples_pass_check() {
    let files = ["midi-sacn.cfg", "jack-sacn.cfg"].map(|f| root().join("examples").join(f));
    check_all(&files);
}

#[test]
fn a_compiled_out_midi_backend_says_which_feature_to_build_with() {
    for (name, feature) in [("midi", "midi-alsa"), ("jack", "jack")] {
        if !patchbay_backends::COMPILED_OUT.iter().any(|b| b.0 == name) {
            continue;
        }
        let out = check(&root().join("examples").join(format!("{name}-sacn.cfg")));
        assert_eq!(out.status.code(), Some(2));
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains(&format!("--features {feature}")), "{said}");
    }
}

#[test]
fn midi_option_errors_point_at_the_line() {
    if unavailable(&["midi".into()]).is_some() {
        return skipped("midi option errors", "backend 'midi' is not compiled in");
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.cfg");
    std::fs::write(
        &cfg,
        "[midi keys]\nread = 20:0\nread = 24:0\nepn-tx = sometimes\n\n[map]\nkeys.ch16.cc1 > keys.ch0.cc1\n",
    )
    .unwrap();
    let out = check(&cfg);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    for want in [
        "bad.cfg:3:1",
        "already has a read device",
        "bad.cfg:4:",
        "full",
        "bad.cfg:7:",
        "0..15",
    ] {
        assert!(said.contains(want), "missing {want:?} in:\n{said}");
    }
}

/// examples/jack-sacn.cfg against a JACK server: a CC and a pad from the python JACK client
/// arrive in sACN universe 1 with 7-bit values scaled exactly (127 → 255, 64 → 129, 0 → 0).
#[test]
fn jack_midi_reaches_sacn() {
    if let Some(why) = unavailable(&["jack".into()]) {
        return skipped("jack_midi_reaches_sacn", &why);
    }
    util::guard();
    let _serial = jack_peer::serial();
    let server = jack_peer::Jackd::start("patchbay-test-root");
    let cap = Capture::v4(SACN_PORT, Ipv4Addr::LOCALHOST, &[group_v4(1)]);
    let cid = test_cid(0x17);
    let config = std::fs::read_to_string(root().join("examples/jack-sacn.cfg")).unwrap();
    let pb = Patchbay::start_with(
        &config,
        SACN_PORT,
        &[
            "-d",
            "-i",
            &format!("desk.server={}", server.name),
            "-b",
            &format!("sacn.cid={}", cid_text(cid)),
        ],
    );
    let mut peer = jack_peer::Peer::start(&server.name, "controller");
    // The client may still be registering its port.
    let wired = poll(Duration::from_secs(10), || {
        peer.command("connect controller:out patchbay:midi_in");
        peer.take(jack_peer::T, |l| {
            (l == "ok")
                .then_some(true)
                .or(l.starts_with("error").then_some(false))
        })
        .filter(|&ok| ok)
    });
    assert!(
        wired.is_some(),
        "patchbay:midi_in never appeared\n{}",
        pb.log()
    );
    peer.command("midi b0037f");
    peer.command("midi 902a40");
    let slots = cap.wait_slots(cid, 1, Duration::from_secs(5), |s| {
        s[3] == 255 && s[14] == 129
    });
    assert!(slots.is_ok(), "{}\n{}", slots.unwrap_err(), pb.log());
    peer.command("midi 802a7f");
    let slots = cap.wait_slots(cid, 1, Duration::from_secs(5), |s| {
        s[3] == 255 && s[14] == 0
    });
    assert!(slots.is_ok(), "{}\n{}", slots.unwrap_err(), pb.log());
}
