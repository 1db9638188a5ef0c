//! patchbay's routing core.
//!
//! Data flow: config → instances/channels (dense [`ChannelId`]s, [`ChannelRegistry`]) →
//! routing table ([`RoutingBuilder`] → CSR [`RoutingTable`]) → event loop ([`Core`], mio) →
//! [`Backend`]s, with deliveries grouped per instance by the [`Router`]. Nothing here knows
//! any protocol.

pub mod backend;
pub mod clock;
pub mod event_loop;
pub mod frames;
pub mod reactor;
pub mod registry;
pub mod router;
pub mod routing;
pub mod sink;
pub mod stats;
#[cfg(feature = "testing")]
pub mod testing;
pub mod value;

pub use backend::*;
pub use clock::{Clock, ManualClock, SystemClock};
pub use event_loop::{
    Core, CoreError, DEFAULT_SHUTDOWN_GRACE, Exit, InstanceError, MAX_WAIT, ShutdownHandle,
};
pub use frames::{FrameBuf, FrameCopies, FrameCopy, FrameRoutes, Run};
pub use reactor::{Reactor, Wakeup};
pub use registry::ChannelRegistry;
pub use router::{Counters, MAX_ROUNDS, RouteOutcome, Routed, Router};
pub use routing::{RoutingBuilder, RoutingTable, Target};
pub use sink::Event;
pub use stats::{Stat, StatGroup, StatScope, StatsReporter, StatsTrigger};
