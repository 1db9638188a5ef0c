//! MIDIMonster's own example configurations (tests/configs/midimonster/, copied unchanged) read by
//! patchbay: the language accepts every line, no mapping line grows a transform chain, and each
//! side of each mapping is the text MIDIMonster hands its backend (core/config.c: split at the
//! first `<` or `>`, a second arrow character makes it `<>`, both sides trimmed). Through the
//! binary, `--check` fails on these files only for backends patchbay lacks. No sockets.

use std::path::{Path, PathBuf};
use std::process::Command;

use patchbay_config::{LoadOptions, Severity};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/midimonster")
}

fn configs() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("tests/configs/midimonster")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
        .collect();
    files.sort();
    assert!(files.len() >= 17, "{files:?}");
    files
}

/// Every backend MIDIMonster has, so the language is checked without "not supported" errors.
fn all_backends() -> LoadOptions {
    let names = [
        "artnet",
        "atem",
        "evdev",
        "jack",
        "loopback",
        "lua",
        "maweb",
        "midi",
        "mqtt",
        "ola",
        "openpixelcontrol",
        "osc",
        "python",
        "rtpmidi",
        "sacn",
        "visca",
        "wininput",
        "winmidi",
    ];
    LoadOptions {
        known_backends: names.iter().map(|s| s.to_string()).collect(),
        unsupported_backends: Vec::new(),
        overrides: Vec::new(),
    }
}

/// MIDIMonster's reading of a mapping line: (left, right) as handed to `config_map`.
fn midimonster_sides(line: &str) -> Option<(String, String)> {
    let p = line.find(['<', '>'])?;
    let b = line.as_bytes();
    let mut rest = p + 1;
    if matches!(
        (b[p], b.get(p + 1)),
        (b'>', Some(b'<')) | (b'<', Some(b'>'))
    ) {
        rest += 1;
    }
    // config_trim_line cuts everything that is not isgraph() from both ends.
    let trim = |s: &str| s.trim_matches(|c: char| !c.is_ascii_graphic()).to_string();
    Some((trim(&line[..p]), trim(&line[rest..])))
}

/// The mapping lines of a file as MIDIMonster sees them: lines of `[map]` sections that are
/// neither empty nor comments.
fn map_lines(text: &str) -> Vec<String> {
    let mut in_map = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') && t.ends_with(']') {
            in_map = t == "[map]";
        } else if in_map && !t.is_empty() && !t.starts_with(';') {
            out.push(t.to_string());
        }
    }
    out
}

#[test]
fn every_mapping_line_reads_as_in_midimonster_without_transforms() {
    let mut lines = 0;
    for path in configs() {
        let (cfg, diags) = patchbay_config::load(&path, &all_backends());
        let errors: Vec<_> = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| patchbay_config::render(&cfg.sources, d, false))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        let text = std::fs::read_to_string(&path).expect("read");
        let expected = map_lines(&text);
        let mappings: Vec<_> = cfg.mappings().collect();
        assert_eq!(mappings.len(), expected.len(), "{}", path.display());
        for (m, line) in mappings.iter().zip(&expected) {
            assert!(m.transforms.is_empty(), "{}: {line}", path.display());
            let (left, right) = midimonster_sides(line).expect("an arrow");
            assert_eq!(
                (m.left.spec(), m.right.spec()),
                (left, right),
                "{}: {line}",
                path.display()
            );
        }
        lines += expected.len();
    }
    assert!(lines > 50, "only {lines} mapping lines");
}

#[test]
fn check_fails_only_for_backends_patchbay_lacks() {
    for path in configs() {
        let out = Command::new(env!("CARGO_BIN_EXE_patchbay"))
            .arg("--check")
            .arg(&path)
            .env_remove("RUST_LOG")
            .output()
            .expect("run patchbay");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "monster.cfg" {
            // Loopback only: patchbay runs it as it is.
            assert_eq!(out.status.code(), Some(0), "{stderr}");
            assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK"));
            continue;
        }
        if out.status.code() == Some(0) {
            // Every backend it uses is in this build (e.g. midi and sacn with --features
            // midi-alsa): accepted as it is.
            assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK"));
            continue;
        }
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(": error: ")).collect();
        assert!(!errors.is_empty(), "{name}: {stderr}");
        for e in errors {
            assert!(
                e.contains("is not supported by patchbay") || e.contains("is not compiled in"),
                "{name}: {e}"
            );
        }
    }
}
