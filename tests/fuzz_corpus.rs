//! Replays the cargo-fuzz corpora (`fuzz/corpus/<target>/`) through the same entry points the
//! fuzz targets call, on the stable toolchain, so every input that ever crashed a target (saved
//! there as a regression) is re-checked by the normal test suite.

use std::fs;
use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(PathBuf, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = fs::read(&p).expect("read corpus file");
            (p, bytes)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files
}

#[test]
fn config_corpus() {
    for (path, bytes) in corpus("config") {
        if let Ok(text) = std::str::from_utf8(&bytes) {
            // The returned work count proves the worked example was really parsed.
            let work = patchbay_config::fuzz_load_str(text);
            if path.file_name().is_some_and(|n| n == "stage.cfg") {
                assert!(work >= 19, "{}: {work}", path.display());
            }
        }
    }
}

#[test]
fn sacn_packet_corpus() {
    for (path, bytes) in corpus("sacn_packet") {
        patchbay_sacn::fuzz_parse(&bytes);
        // Seeds named after a packet kind were written by fuzz/seed.py and must parse.
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("data") || name.starts_with("sync") || name.starts_with("discovery") {
            assert!(
                patchbay_sacn::wire::Packet::parse(&bytes).is_ok(),
                "{} no longer parses",
                path.display()
            );
        }
    }
}

#[test]
fn sacn_receiver_corpus() {
    for (_, bytes) in corpus("sacn_receiver") {
        patchbay_sacn::receiver::fuzz_receiver(&bytes);
    }
}

#[test]
fn sacn_pipeline_corpus() {
    for (_, bytes) in corpus("sacn_pipeline") {
        patchbay_backends::sacn::fuzz::fuzz_pipeline(&bytes);
    }
}

/// Seeds written by fuzz/seed_mqtt.py are named after what they hold; inputs libFuzzer found
/// are named by their SHA-1 (40 hex digits).
fn is_seed(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| !(n.len() == 40 && n.bytes().all(|b| b.is_ascii_hexdigit())))
}

#[test]
fn mqtt_packet_corpus() {
    for (path, bytes) in corpus("mqtt_packet") {
        let accepted = patchbay_mqtt::wire::fuzz_parse(&bytes);
        if is_seed(&path) {
            assert!(accepted > 0, "{} no longer parses", path.display());
        }
    }
}

#[test]
fn mqtt_client_corpus() {
    for (path, bytes) in corpus("mqtt_client") {
        let events = patchbay_mqtt::client::fuzz_client(&bytes);
        if is_seed(&path) {
            // Both clients at least connect (Open and Connected each).
            assert!(events >= 4, "{}: {events} events", path.display());
        }
    }
}
