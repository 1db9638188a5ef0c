//! End-to-end load tool for patchbay (issue 6) and the raw UDP forwarder it is compared with.
//!
//! The tool sends sACN frames for U universes at R frames/s each, every slot changing, with a
//! frame id and the send time embedded in the slots ([`pattern`]); it receives the translated
//! output, verifies every slot of every frame, and reports loss, torn frames (counted apart from
//! lost ones), added latency percentiles ([`histogram`]) and the target's CPU and memory
//! ([`procfs`]). Sends and receives are batched (`sendmmsg`/`recvmmsg`, [`net`]) and paced from
//! absolute deadlines ([`pacing`]). Everything that opens a socket must run in a private network
//! namespace: the binaries call `patchbay_net::netns::require_private_netns` first.
//!
//! ```text
//! patchbay-load config -u 100 --realtime > /tmp/u100.cfg            # patchbay config for the run
//! scripts/netns-run patchbay-load run -u 100 --rate 44 -- target/release/patchbay /tmp/u100.cfg
//! scripts/netns-run patchbay-load ceiling -u 100 -- target/release/raw-forwarder
//! scripts/netns-run patchbay-load ceiling -u 100 --self-test                 # the tool's own ceiling
//! scripts/netns-run patchbay-load run -u 1 --pattern single --rate 1000 --pid PID   # W3, existing process
//! scripts/netns-run patchbay-load run -u 100 --phase normal:44:3 --phase overload:4000:10 \
//!     --phase recover:44:5 -- ...                                     # issue 9 overload
//! scripts/netns-run patchbay-load run -u 1000 --phase normal:44:2 --phase starved:44:3 \
//!     --phase after:44:4 --phase-hook 'echo "$PHASE" >> phases.log' -- ...  # W7: a command per phase
//! scripts/netns-run patchbay-load startup -u 1000 -- target/release/patchbay /tmp/u1000.cfg
//! scripts/netns-run patchbay-load idle -- target/release/patchbay /tmp/u1000.cfg
//! ```
//!
//! Every command takes `--json`. `scripts/bench-e2e` runs the workloads W1–W7 of issues 6 and 9.

pub mod child;
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
