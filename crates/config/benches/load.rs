//! Loading and expanding a large configuration: 1,000 instances and 512,000
//! edges, written either as 1,000 glob lines of 512 channels or as 512,000
//! single-channel lines. The daemon's whole setup budget is 100 ms.

use std::fmt::Write as _;

use patchbay_config::{LoadOptions, load_str};

fn main() {
    divan::main();
}

fn instances(text: &mut String) {
    for i in 0..1000 {
        let _ = writeln!(text, "[sacn u{i}]\nuniverse = {}\n", i + 1);
    }
    text.push_str("[map]\n");
}

fn glob_config() -> String {
    let mut t = String::new();
    instances(&mut t);
    for i in 0..1000 {
        let _ = writeln!(t, "u{i}.{{1..512}} > u{}.{{1..512}}", (i + 1) % 1000);
    }
    t
}

fn line_config() -> String {
    let mut t = String::new();
    instances(&mut t);
    for i in 0..1000 {
        for c in 1..=512 {
            let _ = writeln!(t, "u{i}.{c} > u{}.{c}", (i + 1) % 1000);
        }
    }
    t
}

fn opts() -> LoadOptions {
    LoadOptions {
        known_backends: vec!["sacn".into()],
        ..LoadOptions::default()
    }
}

fn load_and_walk(text: &str) -> usize {
    let (cfg, diags) = load_str("bench.cfg", text, &opts());
    assert!(diags.is_empty());
    let edges: usize = cfg.mappings().map(|m| m.edges().count()).sum();
    assert_eq!(edges, 512_000);
    edges
}

#[divan::bench]
fn glob_lines(b: divan::Bencher) {
    let text = glob_config();
    b.bench(|| load_and_walk(divan::black_box(&text)));
}

#[divan::bench]
fn single_lines(b: divan::Bencher) {
    let text = line_config();
    b.bench(|| load_and_walk(divan::black_box(&text)));
}

/// Parsing alone; the returned configuration is dropped outside the timing.
#[divan::bench]
fn single_lines_parse_only(b: divan::Bencher) {
    let text = line_config();
    b.bench(|| load_str("bench.cfg", divan::black_box(&text), &opts()));
}
