//! Bodies of the cargo-fuzz targets (`fuzz/fuzz_targets/osc_*.rs`), here so that
//! `tests/fuzz_corpus.rs` replays the corpora through the same code on the stable toolchain.

use std::sync::OnceLock;

use crate::address::{AddressSpace, PathId, is_pattern, matches, validate_pattern};
use crate::wire::Packet;

/// Paths the address check runs against: the shapes the seeds use (TouchOSC pages, a mixer
/// with `#`, nested and prefix paths).
const PATHS: &[&str] = &[
    "/1/fader1",
    "/1/fader2",
    "/1/fader10",
    "/1/toggle1",
    "/1/xy1",
    "/2/fader1",
    "/2/push1",
    "/4/multifader1/1",
    "/4/multifader1/2",
    "/4/multifader2/1",
    "/ch/#01/mix",
    "/ch/#02/mix",
    "/xremote",
    "/a",
    "/a/b",
    "/a/b/c",
    "/ab",
    "/abc",
    "/-",
    "/a-c",
    "/{",
];

fn space() -> &'static AddressSpace {
    static SPACE: OnceLock<AddressSpace> = OnceLock::new();
    SPACE.get_or_init(|| {
        let mut a = AddressSpace::new();
        for p in PATHS {
            // `/{` is not a configurable path; the rest are.
            let _ = a.insert(p);
        }
        a
    })
}

/// The `osc_packet` target: [`wire::fuzz_parse`](crate::wire::fuzz_parse) (every accessor,
/// canonical re-encoding) and, for every message address, the compiled address space against
/// a linear scan with [`matches()`]. Returns the number of messages reached.
pub fn packet(bytes: &[u8]) -> usize {
    let messages = crate::wire::fuzz_parse(bytes);
    let Ok(p) = Packet::parse(bytes) else {
        return messages;
    };
    let space = space();
    p.for_each_message(|m| {
        let Ok((_, m)) = m else { return };
        let address = m.address();
        let mut got: Vec<PathId> = Vec::new();
        match space.lookup(address, |id| got.push(id)) {
            Ok(n) => {
                assert_eq!(n, got.len());
                got.sort_unstable();
                let literal = !is_pattern(address);
                let want: Vec<PathId> = space
                    .iter()
                    .filter(|&(_, path)| {
                        if literal {
                            path == address
                        } else {
                            matches(address, path)
                        }
                    })
                    .map(|(id, _)| id)
                    .collect();
                assert_eq!(got, want, "address {address:?}");
            }
            Err(_) => {
                assert!(is_pattern(address) && validate_pattern(address).is_err());
            }
        }
    });
    messages
}

/// The `osc_framing` target: see [`framing::fuzz_framing`](crate::framing::fuzz_framing).
pub fn framing(bytes: &[u8]) -> usize {
    crate::framing::fuzz_framing(bytes)
}
