//! End-to-end load tool for patchbay (issue 6) and the raw UDP forwarder it is compared with.
//!
//! The tool sends sACN frames for U universes at R frames/s each, every slot changing, with a
//! frame id and the send time embedded in the slots ([`pattern`]); it receives the translated
//! output, verifies every slot of every frame, and reports loss, torn frames (counted apart from
//! lost ones), added latency percentiles ([`histogram`]) and the target's CPU and memory
//! ([`procfs`]). Sends and receives are batched (`sendmmsg`/`recvmmsg`, [`net`]) and paced from
//! absolute deadlines ([`pacing`]). Everything that opens a socket must run in a private network
//! namespace: the binaries call `patchbay_net::netns::require_private_netns` first.

pub mod config;
pub mod histogram;
pub mod net;
pub mod pacing;
pub mod packet;
pub mod pattern;
pub mod procfs;
pub mod report;
pub mod session;
pub mod target;
pub mod workloads;
