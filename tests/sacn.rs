//! The sACN backend through the real binary, inside the private network namespace of
//! `scripts/test` (`scripts/netns-run --veth cargo test --test sacn` works the same).
//!
//! Peers: the python `sacn` package (an independent implementation, tests/peers/sacn_peer.py) and a
//! raw sender whose packets come from `patchbay_sacn::wire` or from `tests/peers/e131_check.py`.
//! The datagrams patchbay sends are captured (capture sockets joined to the output and discovery
//! groups, unicast destinations, or the python receiver) and run through e131_check.py's strict parser,
//! which must report zero errors; discovery must list exactly the output universes. (Traffic that
//! leaves through sacn0 without `local` cannot be seen on this host: Linux drops it on sacn1 as
//! coming from a local address; those tests check a unicast twin instead.)
//!
//! Modules: `python` (interop with python `sacn`: multicast, unicast, priority takeover,
//! termination, loss, 16-bit, no flash at start), `values` (every 8/16-bit value), `scale` (1,000
//! input universes, discovery paging), `interfaces` (sacn0 vs lo, IPv6, strict unicast), `features`
//! (preview, `from`, 0xDD, sync in/out, `local`, detect, htp/ltp), `receive` (termination of any
//! start code, short packets, packets off the standard that sources send, discovery of
//! transmitting universes only), `coexist` (sharing the port with programs that do not, error
//! naming the holder), `dualstack` (`bind = ::` in both families, `v6only`), `robustness`
//! (malformed input,
//! own CID, wildcard bind, sequence numbers, bind failures), `timing`, `shutdown` (SIGTERM/SIGINT),
//! `identity` (CID, name, overrides), `examples` (examples/sacn-*.cfg run), `check` (--check),
//! `transforms` (invert, scale, toggle through loopback, deadband, fade and slew on the wire).
//!
//! Ports: tests that use 5568 for unicast or the python peer hold [`util::serial`]; the others use
//! private ports and universes of their own and run in parallel. The suite takes about 75 s on
//! two cores (two test threads; it mostly waits, `--test-threads=8` takes about 45 s).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "sacn/util.rs"]
mod util;

#[path = "sacn/check.rs"]
mod check;
#[path = "sacn/coexist.rs"]
mod coexist;
#[path = "sacn/dualstack.rs"]
mod dualstack;
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
#[path = "sacn/receive.rs"]
mod receive;
#[path = "sacn/robustness.rs"]
mod robustness;
#[path = "sacn/scale.rs"]
mod scale;
#[path = "sacn/shutdown.rs"]
mod shutdown;
#[path = "sacn/timing.rs"]
mod timing;
#[path = "sacn/transforms.rs"]
mod transforms;
#[path = "sacn/values.rs"]
mod values;
