//! patchbay's routing core.
//!
//! Data flow: config → instances/channels (dense [`ChannelId`]s) → routing table (CSR) →
//! event loop (mio) → [`Backend`]s. Nothing here knows any protocol.

pub mod backend;
pub mod event_loop;
pub mod value;

pub use backend::*;
