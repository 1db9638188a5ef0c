//! MQTT for patchbay (placeholder docs).

pub mod broker;
pub mod client;
pub mod mapping;
pub mod topic;
pub mod transport;
pub mod wire;

pub use client::{Client, Config, Event, Message, OutputId};
pub use topic::SubscriptionId;
