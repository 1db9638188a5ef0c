//! The sans-IO MQTT client (MQTT 5 and 3.1.1) on arbitrary broker bytes, clock steps,
//! publications and reconnections; its own output must always be valid packets.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchbay_mqtt::client::fuzz_client(data);
});
