//! The MIDI byte-stream parser on arbitrary bytes: chunking, re-encoding (with and without
//! running status), whole-message parsing and channel decoding must all agree.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchbay_midi::fuzz::fuzz_stream(data);
});
