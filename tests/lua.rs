//! The lua backend through the real binary, between sACN universes, inside the private network
//! namespace of `scripts/test`: the shipped example (examples/lua-fader-curve.cfg), MIDIMonster's
//! demo.lua unchanged, script errors and endless loops in a running daemon, the cleanup handler
//! at SIGTERM, and `--check` of scripts.
//!
//! Levels go in from a raw E1.31 sender and come out as multicast data packets captured on lo.
//! Every test uses port 5568 and holds [`util::serial`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)]
#[path = "sacn/util.rs"]
mod util;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use util::*;

const WAIT: Duration = Duration::from_secs(8);

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Sends `slots` on `universe` to its multicast group every 100 ms until the newest data packet
/// captured for `out` satisfies `pred`; returns its slots (or panics with the log).
fn send_until(
    pb: &Patchbay,
    tx: &mut RawSender,
    cap: &Capture,
    (universe, slots): (u16, &[u8]),
    out: u16,
    pred: impl Fn(&[u8]) -> bool,
) -> Vec<u8> {
    let to = SocketAddr::new(group_v4(universe).into(), SACN_PORT);
    let got = poll(WAIT, || {
        tx.send(to, universe, 100, slots);
        std::thread::sleep(Duration::from_millis(100));
        let slots = newest(cap, out)?;
        pred(&slots).then_some(slots)
    });
    got.unwrap_or_else(|| {
        panic!(
            "universe {out}: last slots {:?}\n--- log\n{}",
            newest(cap, out).map(|s| nonzero(&s)),
            pb.log()
        )
    })
}

/// The slots of the newest data packet of `universe` captured.
fn newest(cap: &Capture, universe: u16) -> Option<Vec<u8>> {
    cap.all().iter().rev().find_map(|c| {
        let d = c.data()?;
        (d.universe() == universe).then(|| d.slots().to_vec())
    })
}

fn level(v: f64) -> u8 {
    (v.clamp(0.0, 1.0) * 255.0).round() as u8
}

#[test]
fn example_fader_curve_passes_check_and_squares_the_faders_times_the_master() {
    let _serial = serial();
    let check = Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .args(["--check", "lua-fader-curve.cfg"])
        .current_dir(repo("examples"))
        .output()
        .expect("run --check");
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("curve.out8 -> stage.8"));

    let cap = Capture::v4(SACN_PORT, Ipv4Addr::LOCALHOST, &[group_v4(2)]);
    let pb = Patchbay::start_file(&repo("examples/lua-fader-curve.cfg"), SACN_PORT);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(201));
    let faders = [255u8, 128, 64, 0, 200, 1, 100, 180];
    let curve = |f: u8, master: u8| {
        let x = f64::from(f) / 255.0;
        level(x * x * f64::from(master) / 255.0)
    };
    for master in [255u8, 128] {
        let mut input = vec![0u8; 16];
        input[..8].copy_from_slice(&faders);
        input[15] = master;
        let want: Vec<u8> = faders.iter().map(|&f| curve(f, master)).collect();
        let got = send_until(&pb, &mut tx, &cap, (1, &input), 2, |s| {
            s.len() >= 8 && s[..8] == want[..]
        });
        assert_eq!(&got[..8], &want[..], "master {master}");
    }
    // Half travel is a quarter of the level.
    assert_eq!(curve(128, 255), 64);
}

#[test]
fn midimonster_demo_lua_runs_unchanged_between_sacn_universes() {
    let _serial = serial();
    let cap = Capture::v4(SACN_PORT, Ipv4Addr::LOCALHOST, &[group_v4(42)]);
    let pb = Patchbay::start_file(&repo("tests/lua/demo-sacn.cfg"), SACN_PORT);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(202));
    // offset (slot 2) and width (slot 3) arrive in one packet; a handler sees the previous
    // value of its own channel (MIDIMonster's rule), so the width of 1.0 applies from the next
    // change of either: out{n} = exp(-40 w (n/10 - offset)²) on art.{n+1}.
    let first = send_until(&pb, &mut tx, &cap, (41, &[0, 128, 255]), 42, |s| {
        s.len() >= 11 && s[..11].iter().all(|&v| v == 255)
    });
    assert_eq!(&first[..11], &[255; 11], "width 0 before its first change");
    let offset = 128.0 / 255.0;
    let want: Vec<u8> = (0..=10)
        .map(|n| level((-40.0 * (f64::from(n) / 10.0 - offset).powi(2)).exp()))
        .collect();
    let got = send_until(&pb, &mut tx, &cap, (41, &[0, 128, 254]), 42, |s| {
        s.len() >= 11 && s[..11] == want[..]
    });
    assert_eq!(&got[..11], &want[..]);
    // The chase on art.12 toggles every second.
    let seen = poll(Duration::from_secs(4), || {
        let dims: Vec<u8> = cap
            .all()
            .iter()
            .filter_map(|c| c.data().filter(|d| d.universe() == 42))
            .filter_map(|d| d.slots().get(11).copied())
            .collect();
        (dims.contains(&255) && dims.contains(&0)).then_some(())
    });
    assert!(seen.is_some(), "dim never toggled\n{}", pb.log());
}

#[test]
fn script_errors_and_endless_loops_are_logged_with_their_place_and_the_daemon_goes_on() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("fail.lua"),
        "function a(v)\n  if v > 0.9 then\n    error('level too high')\n  elseif v > 0.8 then\n\
         \x20   while true do end\n  end\n  output('b', v)\nend\n",
    )
    .expect("script");
    let cfg = dir.path().join("fail.cfg");
    std::fs::write(
        &cfg,
        "[backend sacn]\nbind = 127.0.0.1 5568\n\n[sacn in]\nuniverse = 43\n\n\
         [sacn out]\nuniverse = 44\npriority = 100\n\n\
         [lua l]\nscript = fail.lua\ninstruction-limit = 1000000\n\n\
         [map]\nin.1 > l.a\nl.b > out.1\n",
    )
    .expect("config");
    let cap = Capture::v4(SACN_PORT, Ipv4Addr::LOCALHOST, &[group_v4(44)]);
    let mut pb = Patchbay::start_file(&cfg, SACN_PORT);
    let mut tx = RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(203));
    send_until(&pb, &mut tx, &cap, (43, &[100]), 44, |s| {
        s.first() == Some(&100)
    });
    // An error (255 > 0.9), then an endless loop (220 > 0.8): both skipped, logged with the
    // script's file and line; the next value still passes.
    let to = SocketAddr::new(group_v4(43).into(), SACN_PORT);
    tx.send(to, 43, 100, &[255]);
    std::thread::sleep(Duration::from_millis(200));
    tx.send(to, 43, 100, &[220]);
    std::thread::sleep(Duration::from_millis(200));
    send_until(&pb, &mut tx, &cap, (43, &[50]), 44, |s| {
        s.first() == Some(&50)
    });
    pb.assert_running();
    let log = pb.log();
    assert!(
        log.contains("handler for 'a' failed: fail.lua:3: level too high"),
        "{log}"
    );
    assert!(
        log.contains("handler for 'a' failed: stopped at fail.lua:5 after 1000000 instructions"),
        "{log}"
    );
}

#[test]
fn the_cleanup_handler_runs_at_sigterm() {
    let _serial = serial();
    let dir = tempfile::tempdir().expect("tempdir");
    let flag = dir.path().join("cleaned");
    std::fs::write(
        dir.path().join("bye.lua"),
        format!(
            "cleanup_handler(function()\n  local f = io.open({:?}, 'w')\n  f:write('bye')\n  f:close()\nend)\n",
            flag.to_string_lossy()
        ),
    )
    .expect("script");
    let cfg = dir.path().join("bye.cfg");
    std::fs::write(
        &cfg,
        "[backend sacn]\nbind = 127.0.0.1 5568\n\n[sacn in]\nuniverse = 45\n\n\
         [lua l]\nscript = bye.lua\n\n[map]\nin.1 > l.a\n",
    )
    .expect("config");
    let mut pb = Patchbay::start_file(&cfg, SACN_PORT);
    assert!(!flag.exists());
    pb.signal("TERM");
    let status = pb.wait_exit(Duration::from_secs(5)).expect("exits");
    assert!(status.success(), "{status}\n{}", pb.log());
    assert_eq!(std::fs::read_to_string(&flag).expect("cleanup ran"), "bye");
}

#[test]
fn check_reports_a_syntax_error_at_the_script_line_with_the_scripts_position() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("ok.lua"),
        "function a(v) output('b', v) end\n",
    )
    .expect("ok");
    std::fs::write(
        dir.path().join("bad.lua"),
        "x = 1\nfunction f(v)\n  output('a', = v)\nend\n",
    )
    .expect("bad");
    std::fs::write(
        dir.path().join("t.cfg"),
        "[lua l]\nscript = ok.lua\nscript = bad.lua\n\n[loopback lp]\n\n[map]\nlp.x > l.a\n",
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .args(["--check", "t.cfg"])
        .current_dir(dir.path())
        .output()
        .expect("run --check");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("t.cfg:3:10: error: lua instance 'l': Lua script does not compile: bad.lua:3:15: unexpected symbol near '='"),
        "{err}"
    );
    // Nothing ran: --check compiles, it does not run the scripts.
    std::fs::write(dir.path().join("bad.lua"), "io.open('ran', 'w'):close()\n").expect("rewrite");
    let out = Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .args(["--check", "t.cfg"])
        .current_dir(dir.path())
        .output()
        .expect("run --check");
    assert_eq!(out.status.code(), Some(0));
    assert!(!dir.path().join("ran").exists());
}

/// Replays the `lua_script` fuzz corpus (fuzz/, FUZZING.md) on the stable toolchain: every file
/// keeps the target's promises, and the hand-written seeds still compile (`*.lua` copied from
/// MIDIMonster and examples/) or fail (`bad-*`) as their names say.
#[test]
fn lua_script_fuzz_corpus() {
    let dir = repo("fuzz/corpus/lua_script");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        let compiled = patchbay_backends::lua::script::fuzz_compile(&bytes)
            .unwrap_or_else(|broken| panic!("{}: {broken}", path.display()));
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".lua") {
            assert_eq!(compiled, !name.starts_with("bad-"), "{name}");
            n += 1;
        }
    }
    assert!(n >= 17, "{n} named seeds");
}

/// MIDIMonster's own configurations that use its lua backend (tests/configs/midimonster, unchanged)
/// also use backends patchbay does not have (evdev, maweb, python) or that this build leaves out;
/// `--check` shows that those are their only problems: every script loads and compiles, every
/// lua option and channel is accepted. One whose backends are all here passes.
#[test]
fn midimonster_lua_configurations_fail_only_on_backends_patchbay_lacks() {
    let dir = repo("tests/configs/midimonster");
    for cfg in [
        "lua.cfg",
        "flying-faders.cfg",
        "layering.cfg",
        "scripting-example.cfg",
        "maweb-flying-faders.cfg",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_patchbay"))
            .args(["--check", cfg])
            .current_dir(&dir)
            .output()
            .expect("run --check");
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.code() == Some(0) {
            continue;
        }
        assert_eq!(out.status.code(), Some(2), "{cfg}: {err}");
        let errors: Vec<&str> = err.lines().filter(|l| l.contains(": error: ")).collect();
        assert!(!errors.is_empty(), "{cfg}: {err}");
        for e in &errors {
            assert!(
                e.contains("is not supported by patchbay") || e.contains("is not compiled in"),
                "{cfg}: {e}"
            );
            assert!(!e.contains("lua instance"), "{cfg}: {e}");
        }
    }
}
