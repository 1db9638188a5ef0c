//! The Art-Net receiver fed a sequence of (clock step, source, datagram) records.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchbay_artnet::receiver::fuzz_receiver(data);
});
