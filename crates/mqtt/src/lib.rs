//! MQTT for patchbay (placeholder docs, completed with the client).

pub mod mapping;
pub mod topic;
pub mod wire;
