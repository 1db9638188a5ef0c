//! patchbay's routing core: the contract between the core and a protocol backend, and the loop
//! that runs backends.
//!
//! Data flow: config → instances/channels (dense [`ChannelId`]s, [`ChannelRegistry`]) →
//! routing table ([`RoutingBuilder`], frozen into a compact table at start) → event loop
//! ([`Core`], mio) → [`Backend`]s, with deliveries grouped per instance per routing round.
//! A mapping edge may carry a [`Chain`] of value [`Transform`]s (`invert`, `scale`, `toggle`,
//! `deadband`, `slew`, `fade`), which the router runs with the edge's own state. Nothing here
//! knows any protocol.
//!
//! # For a backend author
//! Implement [`Backend`] (its docs walk through a whole backend). Configuration calls get a
//! [`ConfigCtx`] or [`ChannelCtx`] and report [`OptionError`], [`ChannelError`] and
//! [`StartError`]; at run time a backend registers sources with [`Io`] (readiness arrives as
//! [`Ready`]), reports [`Value`]s on its [`ChannelId`]s into a [`Sink`], receives
//! [`Delivery`]s and, for DMX-like byte frames, [`FrameCopies`], and lists its counters as
//! [`Stat`]s. Tests run the backend in the real loop with the rig of `patchbay_core::testing`
//! (feature `testing`). `doc/backends.md` in the repository is the guide.
//!
//! # For the daemon
//! [`Core`] holds the backends, instances, channels and mappings, starts the backends and
//! turns the loop; [`stats`] formats their counters. An [`monitor::Observer`] (the web monitor)
//! runs in the same loop and reads the core through a [`monitor::CoreView`].
#![warn(missing_docs)]

mod backend;
mod clock;
mod event_loop;
mod frames;
pub mod monitor;
mod reactor;
mod registry;
mod router;
mod routing;
mod sink;
pub mod stats;
#[cfg(feature = "testing")]
pub mod testing;
mod transform;
mod value;

// What a backend implements and uses.
pub use backend::{
    Backend, Changes, ChannelCtx, ChannelError, ChannelId, ChannelIds, ConfigCtx, Delivery,
    Direction, FatalError, GlobalOption, Handover, InstanceChange, InstanceId, OptionError, Part,
    RoutePlan, StartError,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use frames::{FrameCopies, FrameCopy, Run};
pub use mio::{Interest, Waker};
pub use monitor::MonitorSink;
pub use reactor::{Io, Ready};
pub use sink::{Event, Sink};
pub use stats::{Stat, StatScope};
pub use value::Value;

// Value transforms on mapping edges (what the daemon resolves a `| ...` chain into).
pub use transform::{Chain, ChainError, Level, MOTION_STEP, Transform};

// What the daemon uses to run them.
pub use event_loop::reload::{ReloadDiff, Reloaded};
pub use event_loop::{
    Core, CoreError, DEFAULT_SHUTDOWN_GRACE, Exit, InstanceError, MAX_WAIT, RELOAD_SLICE,
    ReloadHandle, ReloadHook, ReloadOutcome, ReloadTask, ReloadWaker, ShutdownHandle,
};
pub use registry::ChannelRegistry;
pub use router::{Counters, MAX_ROUNDS};
pub use routing::{NewEdge, RoutingBuilder};
pub use stats::{StatGroup, StatsReporter, StatsTrigger};
