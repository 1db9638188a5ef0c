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
check_snapshot!(check_fold, "fold.cfg");
check_snapshot!(check_parity, "parity.cfg");
check_snapshot!(check_bom, "bom.cfg");
check_snapshot!(check_transforms, "transforms.cfg");
check_snapshot!(check_transforms_errors, "transforms_errors.cfg");

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
fn check_against_lists_what_a_reload_changes() {
    let out = patchbay(&[
        "--check",
        "reload_new.cfg",
        "--against",
        "reload_running.cfg",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", transcript(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "~ instance sacn 'out' (options changed: replaced)\n\
         - instance sacn 'old'\n\
         + instance sacn 'new'\n\
         - mapping in.2 > old.1\n\
         + mapping in.3 > new.1\n\
         + mapping in.4 > new.2\n\
         instances: 1 added, 1 removed, 1 replaced, 1 kept; mappings: 2 added, 1 removed\n"
    );
    let same = patchbay(&["--check", "reload_new.cfg", "--against", "reload_new.cfg"]);
    assert_eq!(String::from_utf8_lossy(&same.stdout), "no changes\n");
    // Either file with an error: exit 2, the error with its position.
    let bad = patchbay(&["--check", "reload_new.cfg", "--against", "errors.cfg"]);
    assert_eq!(bad.status.code(), Some(2), "{}", transcript(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("errors.cfg:"));
    let bad = patchbay(&["--check", "errors.cfg", "--against", "reload_new.cfg"]);
    assert_eq!(bad.status.code(), Some(2), "{}", transcript(&bad));
    // --against needs --check.
    assert_eq!(
        patchbay(&["--against", "a.cfg", "b.cfg"]).status.code(),
        Some(2)
    );
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
fn dump_shows_transforms_on_edges() {
    let text = patchbay(&["--dump", "transforms.cfg"]);
    insta::assert_snapshot!("dump_transforms_text", transcript(&text));
    let dot = patchbay(&["--dump=dot", "transforms.cfg"]);
    let dot = String::from_utf8_lossy(&dot.stdout);
    assert!(dot.contains("c0 -> c1 [label=\"invert\"];"), "{dot}");
    assert!(dot.contains("c15 [label=\"fx.a|b\"]"), "{dot}");
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

/// `scripts/netns-run` (which `scripts/test` runs the suite under) configures only a network
/// namespace it has just made and checked itself: asked to configure this one (the suite's,
/// already set up) through its re-exec variable, it refuses and adds nothing; asked normally, it
/// makes a fresh namespace with lo and the veth pair. Runs only inside the private namespace, so a
/// regression cannot touch the host's network.
#[test]
fn netns_run_configures_only_a_namespace_it_created() {
    patchbay_net::netns::require_private_netns();
    let netns_run = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/netns-run");
    let links = |out: &[u8]| {
        String::from_utf8_lossy(out)
            .lines()
            .filter_map(|l| {
                l.split(": ")
                    .nth(1)
                    .map(|n| n.split('@').next().unwrap_or(n).to_owned())
            })
            .collect::<Vec<_>>()
    };
    let here = || {
        links(
            &Command::new("ip")
                .args(["-o", "link", "show"])
                .output()
                .expect("ip")
                .stdout,
        )
    };
    let before = here();
    let out = Command::new(&netns_run)
        .args(["--veth", "true"])
        .env("PATCHBAY_NETNS_REEXEC", "1")
        .env("PATCHBAY_NETNS", "inside")
        .output()
        .expect("run scripts/netns-run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("refusing to configure this network namespace"),
        "{err}"
    );
    assert_eq!(here(), before, "scripts/netns-run changed the interfaces");
    let out = Command::new(&netns_run)
        .args(["--veth", "ip", "-o", "link", "show"])
        .output()
        .expect("run scripts/netns-run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut inside = links(&out.stdout);
    inside.sort();
    assert_eq!(inside, ["lo", "sacn0", "sacn1"]);
    assert_eq!(here(), before);
}

/// A misspelt option under a 512-channel glob: one error and one warning that says it covers all
/// 512 channels (it used to be 512 warnings); the same warning from three more lines is printed
/// once, naming the other lines.
#[test]
fn repeated_warnings_are_folded_and_counted() {
    let out = patchbay(&["--check", "fold.cfg"]);
    let err = String::from_utf8_lossy(&out.stderr);
    let firsts: Vec<&str> = err.lines().filter(|l| l.starts_with("fold.cfg:")).collect();
    assert_eq!(firsts.len(), 3, "{err}");
    assert!(firsts[0].contains("unknown option 'priorty'"), "{err}");
    assert!(
        firsts[1].ends_with("(all 512 channels of 'out.{1..512}')"),
        "{err}"
    );
    assert!(
        err.contains("= note: the same warning 2 more times, at fold.cfg:19, fold.cfg:20"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(2));
}

/// `universe = 0` is one error (not also "please specify a universe"); `HOST:PORT` explains the
/// `HOST PORT` form; switches written as words are refused (MIDIMonster reads them as 0, off);
/// text after a universe number is ignored with a warning, as MIDIMonster does.
#[test]
fn parity_errors_explain_themselves_without_follow_ons() {
    let out = patchbay(&["--check", "parity.cfg"]);
    let err = String::from_utf8_lossy(&out.stderr);
    let firsts: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("parity.cfg:"))
        .collect();
    assert_eq!(firsts.len(), 5, "{err}");
    assert!(
        firsts[0].starts_with("parity.cfg:7:12: error: sacn instance 'zero': invalid value '0'")
    );
    assert!(
        firsts[1].contains("write destination = 127.0.0.1 6000"),
        "{err}"
    );
    assert!(firsts[2].starts_with("parity.cfg:17:12: warning:"), "{err}");
    assert!(firsts[2].contains("only the number 3 is read"), "{err}");
    assert!(
        firsts[3].contains("unicast = 'yes': write 1 for on"),
        "{err}"
    );
    assert!(
        firsts[4].contains("realtime = 'true': write 1 for on"),
        "{err}"
    );
    assert!(!err.contains("please specify a universe"), "{err}");
    assert!(err.contains("patchbay: 4 errors in parity.cfg"), "{err}");
}

/// A random binary file: every line of the report is printable (no ESC, BEL, NUL or other
/// control byte reaches the terminal) and none is longer than a screenful.
#[test]
fn binary_files_are_reported_printably() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("random.cfg");
    // A fixed pseudo-random sequence (xorshift), so a failure can be reproduced.
    let mut x: u32 = 0x9e37_79b9;
    let bytes: Vec<u8> = (0..4000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    assert!(bytes.contains(&0x1b) && bytes.contains(&0));
    std::fs::write(&path, &bytes).expect("write");
    let out = patchbay(&["--check", path.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).expect("the report is UTF-8");
    assert!(err.lines().count() > 10, "{err}");
    for line in err.lines() {
        assert!(
            !line.chars().any(|c| c.is_control() && c != '\t'),
            "control character in {line:?}"
        );
        assert!(
            line.chars().count() <= 420,
            "line of {} characters",
            line.chars().count()
        );
    }
}

/// `--check` looks no host name up (it used to query the resolver for `bind` and `destination`
/// names): a configuration naming hosts that do not exist checks fine. Inside the private
/// namespace only, so a regression could not send a DNS query from the host.
#[test]
fn check_resolves_no_host_names() {
    patchbay_net::netns::require_private_netns();
    let out = patchbay(&["--check", "names.cfg"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK: 1 instance"));
}

/// Starting looks the names up; one that does not resolve stops the start at its bind line.
#[test]
fn host_names_are_looked_up_when_patchbay_starts() {
    patchbay_net::netns::require_private_netns();
    let out = patchbay(&["names.cfg"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("names.cfg:3:8: error: backend sacn failed to start: bind 0: cannot resolve host 'nosuchhost.invalid'"),
        "{err}"
    );
}
