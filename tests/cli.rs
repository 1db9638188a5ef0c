//! The real binary: `--check` and `--dump` on a corpus of configurations (insta snapshots),
//! exit codes, and signal handling. These tests open no network sockets (loopback only).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn patchbay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs"))
        .env_remove("RUST_LOG")
        .output()
        .expect("run patchbay")
}

/// stdout, then stderr, as one text for a snapshot.
fn transcript(out: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

macro_rules! check_snapshot {
    ($name:ident, $file:expr) => {
        #[test]
        fn $name() {
            let out = patchbay(&["--check", $file]);
            insta::assert_snapshot!(stringify!($name), transcript(&out));
        }
    };
}

check_snapshot!(check_stage, "stage.cfg");
check_snapshot!(check_worked_example, "worked_example.cfg");
check_snapshot!(check_worked_example_errors, "worked_example_errors.cfg");
check_snapshot!(check_globs, "globs.cfg");
check_snapshot!(check_include, "include.cfg");
check_snapshot!(check_monster_default, "monster.cfg");
check_snapshot!(check_crlf, "crlf.cfg");
check_snapshot!(check_errors, "errors.cfg");
check_snapshot!(check_cycle, "cycle.cfg");
check_snapshot!(check_options, "options.cfg");
check_snapshot!(check_include_cycle, "include_cycle.cfg");

#[test]
fn check_exit_codes() {
    assert_eq!(patchbay(&["--check", "stage.cfg"]).status.code(), Some(0));
    assert_eq!(patchbay(&["--check", "errors.cfg"]).status.code(), Some(2));
    assert_eq!(
        patchbay(&["--check", "no-such-file.cfg"]).status.code(),
        Some(2)
    );
    assert_eq!(patchbay(&["--bogus-flag"]).status.code(), Some(2));
    assert_eq!(patchbay(&["-v"]).status.code(), Some(0));
    assert_eq!(patchbay(&["--help"]).status.code(), Some(0));
}

#[test]
fn errors_are_all_reported_with_positions() {
    let out = patchbay(&["--check", "errors.cfg"]);
    let err = String::from_utf8_lossy(&out.stderr);
    let firsts: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("errors.cfg:"))
        .collect();
    assert_eq!(firsts.len(), 3, "{err}");
    assert!(firsts[0].starts_with("errors.cfg:4:1: error: multi-channel size mismatch"));
    assert!(firsts[1].starts_with("errors.cfg:5:5: error: unterminated '{'"));
    assert!(firsts[2].starts_with("errors.cfg:6:9: error: no instance named 'dsk'"));
    assert!(out.stdout.is_empty(), "nothing printed as valid");
}

#[test]
fn version_line() {
    let out = patchbay(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("patchbay {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn dump_text_and_dot() {
    let text = patchbay(&["--dump", "stage.cfg"]);
    insta::assert_snapshot!("dump_stage_text", transcript(&text));
    let dot = patchbay(&["--dump=dot", "stage.cfg"]);
    insta::assert_snapshot!("dump_stage_dot", transcript(&dot));
}

#[test]
fn overrides_apply_and_unknown_targets_fail() {
    let ok = patchbay(&["--check", "-i", "loop.x=1", "monster.cfg"]);
    assert_eq!(ok.status.code(), Some(0), "{}", transcript(&ok));
    assert!(String::from_utf8_lossy(&ok.stderr).contains("loopback takes no options"));
    let bad = patchbay(&["--check", "-i", "nosuch.x=1", "monster.cfg"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("nosuch"),
        "{}",
        transcript(&bad)
    );
    let malformed = patchbay(&["--check", "-i", "noequals", "monster.cfg"]);
    assert_eq!(malformed.status.code(), Some(2));
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .arg("monster.cfg")
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn patchbay");
    // Wait until it reports that it started, so the signal handler is installed.
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let started = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|l| l.contains("starting with"));
    assert!(started);
    std::thread::sleep(Duration::from_millis(100));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert_eq!(status.code(), Some(0));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "patchbay did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.iter().any(|l| l.contains("shut down cleanly")),
        "{rest:?}"
    );
}

/// `scripts/test` configures only a network namespace it has just made and checked itself: asked
/// to configure this one (the suite's, already set up) through its re-exec variable, it refuses
/// and adds nothing. Runs only inside the private namespace, so a regression cannot touch the
/// host's network.
#[test]
fn scripts_test_refuses_a_namespace_it_did_not_create() {
    patchbay_net::netns::require_private_netns();
    let links = || {
        let out = Command::new("ip")
            .args(["-o", "link", "show"])
            .output()
            .expect("ip");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split(": ").nth(1).map(str::to_owned))
            .collect::<Vec<_>>()
    };
    let before = links();
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/test"))
        .arg("--no-run")
        .env("PATCHBAY_TEST_REEXEC", "1")
        .env("PATCHBAY_NETNS", "inside")
        .output()
        .expect("run scripts/test");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("refusing to configure this network namespace"),
        "{err}"
    );
    assert_eq!(links(), before, "scripts/test changed the interfaces");
}
