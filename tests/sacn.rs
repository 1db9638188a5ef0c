//! The sACN backend through the real binary, inside the private network namespace of
//! `scripts/test` (`../shared/tools/netns-run --veth cargo test --test sacn` works the same).
//!
//! Peers: the python `sacn` package (an independent implementation, tests/peers/sacn_peer.py) and a
//! raw sender whose packets come from `patchbay_sacn::wire` or from `../shared/tools/e131.py`.
//! Every datagram patchbay sends in these tests is captured and run through e131.py's strict
//! parser, which must report zero errors.
//!
//! Ports: tests that use 5568 for unicast or the python peer hold [`util::serial`]; the others use
//! private ports and universes of their own and run in parallel.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "sacn/util.rs"]
mod util;

#[path = "sacn/check.rs"]
mod check;
#[path = "sacn/examples.rs"]
mod examples;
#[path = "sacn/features.rs"]
mod features;
#[path = "sacn/identity.rs"]
mod identity;
#[path = "sacn/interfaces.rs"]
mod interfaces;
#[path = "sacn/python.rs"]
mod python;
#[path = "sacn/robustness.rs"]
mod robustness;
#[path = "sacn/scale.rs"]
mod scale;
#[path = "sacn/shutdown.rs"]
mod shutdown;
#[path = "sacn/timing.rs"]
mod timing;
#[path = "sacn/values.rs"]
mod values;
