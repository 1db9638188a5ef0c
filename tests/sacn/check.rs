//! `patchbay --check` on sACN configurations: the shipped examples pass (exit 0), and bad option
//! values fail with exit 2 and `file:line:col: error:` lines at the offending line (a few
//! representative ones; the backend's unit tests cover every option and message).
//! --check opens no sockets, so these need no namespace.

use std::path::Path;
use std::process::{Command, Output};

fn check(dir: &Path, file: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .arg("--check")
        .arg(file)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run patchbay --check")
}

#[test]
fn examples_pass_check() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut n = 0;
    for name in [
        "sacn-patch.cfg",
        "sacn-merge.cfg",
        "sacn-16bit.cfg",
        "sacn-loopback.cfg",
    ] {
        let out = check(&dir, name);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{name}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.stdout.is_empty(),
            "{name}: --check prints the expanded mappings"
        );
        n += 1;
    }
    assert_eq!(n, 4);
}

const HEAD: &str = "[backend sacn]\nbind = 127.0.0.1 5568\n";

/// (what, config body after HEAD, line of the error, text the message must contain)
const BAD: &[(&str, &str, usize, &str)] = &[
    (
        "unknown bind flag",
        "bind = 127.0.0.1 5569 loud\n",
        3,
        "loud",
    ),
    (
        "universe too large",
        "[sacn a]\nuniverse = 64000\n",
        4,
        "64000",
    ),
    ("universe zero", "[sacn a]\nuniverse = 0\n", 4, ""),
    (
        "priority above 200",
        "[sacn a]\nuniverse = 1\npriority = 201\n",
        5,
        "201",
    ),
    (
        "interface out of range",
        "[sacn a]\nuniverse = 1\ninterface = 1\n",
        5,
        "",
    ),
    (
        "unicast not a boolean",
        "[sacn a]\nuniverse = 1\nunicast = maybe\n",
        5,
        "maybe",
    ),
    (
        "cid with 15 bytes",
        "cid = 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14\n",
        3,
        "",
    ),
    (
        "cid byte above 255",
        "cid = 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 256\n",
        3,
        "256",
    ),
    (
        "unknown instance option",
        "[sacn a]\nuniverse = 1\nbrightness = 3\n",
        5,
        "brightness",
    ),
    (
        "name too long",
        "name = 0123456789012345678901234567890123456789012345678901234567890123\n",
        3,
        "",
    ),
    (
        "loss value",
        "[sacn a]\nuniverse = 1\nloss = fade\n",
        5,
        "fade",
    ),
    (
        "merge value",
        "[sacn a]\nuniverse = 1\nmerge = avg\n",
        5,
        "avg",
    ),
    (
        "channel with trailing junk",
        "[sacn a]\nuniverse = 1\n[sacn b]\nuniverse = 2\npriority = 100\n[map]\na.5abc > b.1\n",
        9,
        "5abc",
    ),
    (
        "wide channel with itself",
        "[sacn a]\nuniverse = 1\n[sacn b]\nuniverse = 2\npriority = 100\n[map]\na.7+7 > b.1+2\n",
        9,
        "7+7",
    ),
    (
        "slot used as wide and plain",
        "[sacn a]\nuniverse = 1\n[sacn b]\nuniverse = 2\npriority = 100\n[map]\na.1+2 > b.1+2\na.2 > b.3\n",
        10,
        "",
    ),
    (
        "colliding instances",
        "[sacn a]\nuniverse = 9\n[sacn b]\nuniverse = 9\n",
        0,
        "",
    ),
];

#[test]
fn bad_sacn_options_fail_check_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (what, body, line, needle) in BAD {
        std::fs::write(dir.path().join("bad.cfg"), format!("{HEAD}{body}")).unwrap();
        let out = check(dir.path(), "bad.cfg");
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        let errors: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("bad.cfg:") && l.contains(": error:"))
            .collect();
        let at_line = errors.iter().find(|l| {
            let mut f = l.split(':');
            f.next();
            let (ln, col) = (f.next(), f.next());
            (*line == 0 || ln == Some(&line.to_string()))
                && col.is_some_and(|c| c.parse::<usize>().is_ok_and(|c| c >= 1))
        });
        let ok = out.status.code() == Some(2) && at_line.is_some_and(|l| l.contains(needle));
        if !ok {
            failures.push(format!(
                "{what}: want exit 2 and `bad.cfg:{line}:COL: error: ...{needle}...`, got exit {:?}:\n{err}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

/// Instances on different binds may share a universe, whatever the order of `universe` and
/// `interface` inside the section: MIDIMonster looks for colliding (interface, universe) pairs
/// only at start, after every option was read (seed-sacn.c, "Colliding sACN instances").
#[test]
fn same_universe_on_two_binds_is_no_collision_in_any_option_order() {
    let dir = tempfile::tempdir().unwrap();
    for (what, second) in [
        ("interface first", "interface = 1\nuniverse = 9\n"),
        ("universe first", "universe = 9\ninterface = 1\n"),
    ] {
        let cfg = format!(
            "[backend sacn]\nbind = 127.0.0.1 5568\nbind = 127.0.0.1 5569\n[sacn a]\nuniverse = 9\n[sacn b]\n{second}"
        );
        std::fs::write(dir.path().join("two.cfg"), cfg).unwrap();
        let out = check(dir.path(), "two.cfg");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The real collision is still found, also when `interface` comes last.
    let cfg = "[backend sacn]\nbind = 127.0.0.1 5568\nbind = 127.0.0.1 5569\n[sacn a]\nuniverse = 9\ninterface = 1\n[sacn b]\nuniverse = 9\ninterface = 1\n";
    std::fs::write(dir.path().join("two.cfg"), cfg).unwrap();
    let out = check(dir.path(), "two.cfg");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("colliding"), "{err}");
}
