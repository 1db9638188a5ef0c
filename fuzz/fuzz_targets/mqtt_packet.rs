//! The MQTT packet parser on arbitrary byte streams, both protocol versions: every accepted
//! packet is read field by field, written back and parsed again to the same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchbay_mqtt::wire::fuzz_parse(data);
});
