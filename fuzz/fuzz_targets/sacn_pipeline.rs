//! The sACN backend's whole input path without sockets: datagrams and clock steps through the
//! receiver, the channel map, core routing and the source, to output packets (invariants checked
//! after every step).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchbay_backends::sacn::fuzz::fuzz_pipeline(data);
});
