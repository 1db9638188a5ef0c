//! The SLIP and length-prefix stream decoders on arbitrary streams fed in pieces; every frame
//! within the limit, re-encoded frames decode to themselves, frames go to the packet parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchbay_osc::fuzz::framing(data);
});
