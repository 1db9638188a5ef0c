//! MIDIMonster's OSC example configurations (tests/configs/midimonster, unchanged): every osc
//! line of them is accepted, and the one whose backends patchbay all has (flying-faders.cfg:
//! osc and lua) runs as its comments say, with liblo as the TouchOSC screen.

use std::path::Path;
use std::process::Command;

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/midimonster")
}

/// `--check` finds nothing wrong with an osc section or an osc channel of any of them: their
/// only errors are backends patchbay lacks or this build leaves out.
#[test]
fn midimonster_osc_configurations_have_no_osc_errors() {
    for cfg in [
        "osc-xy.cfg",
        "osc-artnet.cfg",
        "osc-kbd.cfg",
        "midi-osc.cfg",
        "flying-faders.cfg",
        "scripting-example.cfg",
        "visca.cfg",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_patchbay"))
            .args(["--check", cfg])
            .current_dir(dir())
            .output()
            .expect("run --check");
        let err = String::from_utf8_lossy(&out.stderr);
        for e in err.lines().filter(|l| l.contains(": error: ")) {
            assert!(
                e.contains("is not supported by patchbay") || e.contains("is not compiled in"),
                "{cfg}: {e}"
            );
        }
        assert!(!err.contains("osc instance"), "{cfg}: {err}");
    }
}

/// flying-faders.cfg: the lua generator's waves reach the screen that spoke last, on port 9000
/// (`dest = learn@9000`); its fader moves the generator's magnitude.
#[cfg(feature = "lua")]
#[test]
fn flying_faders_runs() {
    use crate::peers::*;
    let screen = Receiver::oscdump(9000);
    let cfg = dir().join("flying-faders.cfg");
    let pb = crate::util::Patchbay::start_file(&cfg, 8000);
    // The screen introduces itself (any message teaches `learn` its address).
    oscsend(8000, &["/4/multifader2/1", "f", "0.5"]);
    let lines = screen.wait(48);
    let waves: Vec<&str> = lines
        .iter()
        .map(|l| strip_time(l))
        .filter(|l| l.starts_with("/4/multifader1/"))
        .collect();
    assert!(waves.len() >= 24, "{lines:?}\n{}", pb.log());
    for w in &waves {
        let v: f64 = w
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1.0);
        assert!((0.0..=1.0).contains(&v), "{w}");
        assert!(w.contains(" f "), "{w}");
    }
}
