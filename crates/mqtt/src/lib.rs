//! MQTT for patchbay (placeholder docs, completed with the transport).

pub mod client;
pub mod mapping;
pub mod topic;
pub mod wire;

pub use client::{Client, Config, Event, Message, OutputId};
pub use topic::SubscriptionId;
