//! The configuration parser on arbitrary text: load, expand every mapping, render every
//! diagnostic. Includes are disabled inside `fuzz_load_str`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        patchbay_config::fuzz_load_str(text);
    }
});
