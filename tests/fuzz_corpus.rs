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
        // Seeds named after a packet kind were written by e131.py and must parse.
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

#[test]
fn artnet_packet_corpus() {
    for (path, bytes) in corpus("artnet_packet") {
        patchbay_artnet::fuzz_parse(&bytes);
        // Seeds written by fuzz/seed_artnet.py are valid packets and must keep parsing.
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let seeded = ["dmx_", "poll", "reply", "sync", "timecode"];
        if seeded.iter().any(|s| name.starts_with(s)) {
            assert!(
                patchbay_artnet::Packet::parse(&bytes).is_ok(),
                "{} no longer parses",
                path.display()
            );
        }
    }
}

#[test]
fn artnet_receiver_corpus() {
    for (_, bytes) in corpus("artnet_receiver") {
        patchbay_artnet::receiver::fuzz_receiver(&bytes);
    }
}
