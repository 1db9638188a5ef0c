//! The Art-Net packet parser on arbitrary datagrams (every accessor of an accepted packet is read).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchbay_artnet::fuzz_parse(data);
});
