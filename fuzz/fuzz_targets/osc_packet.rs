//! The OSC packet parser on arbitrary datagrams: every accessor of accepted packets, nested
//! bundles, canonical re-encoding, and each address looked up in a compiled address space
//! against a linear scan.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchbay_osc::fuzz::packet(data);
});
