//! The E1.31 receiver fed a sequence of (clock step, datagram) records.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchbay_sacn::receiver::fuzz_receiver(data);
});
