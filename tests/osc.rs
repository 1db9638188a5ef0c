//! The osc backend through the real binary against independent OSC implementations, inside the
//! private network namespace of `scripts/test` (`scripts/netns-run --veth cargo test --test osc`
//! works the same).
//!
//! Peers: liblo 0.31 (`oscsend`, `oscdump`, Debian `liblo-tools`) and python-osc 1.10.2
//! (tests/peers/osc_peer.py: its builders send, its parser reads what patchbay sends). Every
//! test runs OSC → patchbay → OSC, so each value is checked on the wire by the other peer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "sacn/util.rs"]
#[allow(dead_code)]
mod util;

#[path = "osc/peers.rs"]
mod peers;

#[path = "osc/interop.rs"]
mod interop;

#[path = "osc/tools.rs"]
mod tools;

#[path = "osc/examples.rs"]
mod examples;

#[path = "osc/midimonster.rs"]
mod midimonster;
