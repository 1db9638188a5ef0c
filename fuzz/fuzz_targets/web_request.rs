//! The web monitor's request path on arbitrary bytes: the request head (httparse and its
//! limits), then the decision (method, body, credentials under three configurations, path,
//! query parameters with percent-decoding, channel lists) and every refusal rendered.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    patchbay_web::route::fuzz(data);
});
