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
            // The transform seeds: the valid one loads with its chains.
            if path.file_name().is_some_and(|n| n == "transforms-ok.cfg") {
                let (cfg, diags) = patchbay_config::load_str(
                    "transforms-ok.cfg",
                    text,
                    &patchbay_config::LoadOptions {
                        known_backends: vec!["sacn".into(), "loopback".into()],
                        ..Default::default()
                    },
                );
                assert!(!patchbay_config::has_errors(&diags), "{diags:#?}");
                let chains = cfg.mappings().filter(|m| !m.transforms.is_empty()).count();
                assert_eq!(chains, 7, "{}", path.display());
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

#[test]
fn osc_pipeline_corpus() {
    for (_, bytes) in corpus("osc_pipeline") {
        patchbay_backends::osc::fuzz::fuzz_pipeline(&bytes);
    }
}

#[test]
fn midi_stream_corpus() {
    for (_, bytes) in corpus("midi_stream") {
        patchbay_midi::fuzz::fuzz_stream(&bytes);
    }
}

#[test]
fn midi_grammar_corpus() {
    let mut checked = 0;
    for (path, bytes) in corpus("midi_grammar") {
        patchbay_midi::fuzz::fuzz_grammar(&bytes);
        // Hand-written seeds say whether they must be accepted or refused.
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let text = std::str::from_utf8(&bytes).unwrap_or("");
        let parsed = if name.starts_with("name-") {
            patchbay_midi::Spec::parse(text).is_ok()
        } else if name.starts_with("template-") {
            patchbay_midi::SysExTemplate::parse(text).is_ok()
        } else {
            continue;
        };
        assert_eq!(
            parsed,
            name.contains("-ok-"),
            "{}: {text:?}",
            path.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 20,
        "the hand-written seeds are missing ({checked})"
    );
}

#[test]
fn osc_packet_corpus() {
    for (path, bytes) in corpus("osc_packet") {
        let messages = patchbay_osc::fuzz::packet(&bytes);
        // Seeds written by fuzz/seed_osc.py keep their meaning: well-formed ones still parse
        // (with their messages), malformed ones are still refused.
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let parsed = patchbay_osc::wire::Packet::parse(&bytes);
        match name {
            "bundle_nested" => assert_eq!(messages, 4, "{}", path.display()),
            "bundle_depth_8" => assert_eq!(messages, 1, "{}", path.display()),
            "bundle_depth_9" => assert_eq!(messages, 0, "{}", path.display()),
            n if n.starts_with("bad_") && n != "bad_element" => {
                assert!(parsed.is_err(), "{} is accepted", path.display())
            }
            n if n.starts_with("pattern_")
                || n == "fader"
                || n == "all_types"
                || n == "liblo_types" =>
            {
                assert_eq!(messages, 1, "{}", path.display())
            }
            _ => {}
        }
    }
}

#[test]
fn osc_framing_corpus() {
    let mut frames = 0;
    for (_, bytes) in corpus("osc_framing") {
        frames += patchbay_osc::fuzz::framing(&bytes);
    }
    assert!(frames > 0, "no seed yields a frame any more");
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

#[test]
fn web_request_corpus() {
    let mut complete = 0;
    for (_, bytes) in corpus("web_request") {
        complete += patchbay_web::route::fuzz(&bytes);
    }
    assert!(
        complete >= 7,
        "the seed requests no longer parse ({complete})"
    );
}
