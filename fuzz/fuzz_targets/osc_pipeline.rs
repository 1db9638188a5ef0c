//! The osc backend's input-to-output path without sockets: datagrams and clock steps through
//! parsing, held bundles, address patterns, value mapping, events and the output messages
//! (invariants checked after every step).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchbay_backends::osc::fuzz::fuzz_pipeline(data);
});
