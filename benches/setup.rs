//! Configuration load + expansion + channel lookup + routing build of a large config:
//! 1,000 loopback instances chained by 512-channel glob mappings (512,000 edges).

use std::path::Path;

use patchbay_config::LoadOptions;

fn main() {
    divan::main();
}

fn big_config() -> String {
    let mut text = String::new();
    for i in 0..1000 {
        text.push_str(&format!("[loopback u{i}]\n"));
    }
    text.push_str("[map]\n");
    for i in 0..999 {
        text.push_str(&format!("u{i}.{{1..512}} > u{}.{{1..512}}\n", i + 1));
    }
    text.push_str("u999.{1..512} > u0.{513..1024}\n");
    text
}

fn options() -> LoadOptions {
    patchbay::setup::load_options(&patchbay_backends::registry(), Vec::new())
}

#[divan::bench(sample_count = 5)]
fn load_and_setup_512k_mappings(bencher: divan::Bencher) {
    let text = big_config();
    let opts = options();
    bencher.bench(|| {
        let (config, diags) = patchbay_config::load_str("big.cfg", &text, &opts);
        let core = patchbay_core::Core::new(patchbay_backends::registry()).expect("core");
        let setup = patchbay::setup::build(core, Path::new("big.cfg"), config, diags);
        assert_eq!(setup.edges.len(), 512_000);
        setup
    });
}

#[divan::bench(sample_count = 5)]
fn load_only_512k_mappings(bencher: divan::Bencher) {
    let text = big_config();
    let opts = options();
    bencher.bench(|| patchbay_config::load_str("big.cfg", &text, &opts));
}
