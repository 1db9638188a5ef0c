//! The channel registry: dense [`ChannelId`]s for (instance, backend key) pairs.
//!
//! The hash map is only consulted while the configuration is read (one lookup per mapping
//! endpoint); at run time everything is indexed by `ChannelId` in plain vectors.

use rustc_hash::FxHashMap;

use crate::backend::{ChannelId, ChannelIds, InstanceId};

/// Allocates and remembers channel ids; implements [`ChannelIds`] for [`crate::ChannelCtx`].
#[derive(Debug, Default)]
pub struct ChannelRegistry {
    ids: FxHashMap<(InstanceId, u64), ChannelId>,
    instances: Vec<InstanceId>,
    keys: Vec<u64>,
    /// Human-readable names for log lines (the channel part, "level1.r"; the core adds the
    /// instance); set by whoever knows the text.
    labels: Vec<Option<Box<str>>>,
}

impl ChannelRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of channels allocated so far; ids are `0..len()`.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The id of (instance, key) if it was resolved before.
    pub fn get(&self, instance: InstanceId, key: u64) -> Option<ChannelId> {
        self.ids.get(&(instance, key)).copied()
    }

    /// The instance a channel belongs to (`None` for an id this registry never handed out).
    #[inline]
    pub fn instance_of(&self, channel: ChannelId) -> Option<InstanceId> {
        self.instances.get(channel.0 as usize).copied()
    }

    /// The backend's key for a channel (`None` for an id this registry never handed out).
    #[inline]
    pub fn key_of(&self, channel: ChannelId) -> Option<u64> {
        self.keys.get(channel.0 as usize).copied()
    }

    /// Remembers the text a channel was written as, so that log lines can name it.
    /// The first label given wins (a channel may be looked up under several spellings only
    /// if the backend maps them to one key; the first is as good as any).
    pub fn set_label(&mut self, channel: ChannelId, label: &str) {
        if let Some(slot) = self.labels.get_mut(channel.0 as usize)
            && slot.is_none()
        {
            *slot = Some(label.into());
        }
    }

    /// Whether a label was set for `channel`.
    pub fn has_label(&self, channel: ChannelId) -> bool {
        matches!(self.labels.get(channel.0 as usize), Some(Some(_)))
    }

    /// A name for log lines: the label if one was set, else `#<id>`.
    pub fn label(&self, channel: ChannelId) -> String {
        match self.labels.get(channel.0 as usize) {
            Some(Some(label)) => label.to_string(),
            _ => format!("#{}", channel.0),
        }
    }
}

impl ChannelIds for ChannelRegistry {
    fn resolve(&mut self, instance: InstanceId, key: u64) -> ChannelId {
        if let Some(&id) = self.ids.get(&(instance, key)) {
            return id;
        }
        // More than 2^32 channels cannot be configured in practice (each needs a mapping line
        // expansion); saturating keeps this total instead of panicking.
        let id = ChannelId(u32::try_from(self.keys.len()).unwrap_or(u32::MAX));
        self.ids.insert((instance, key), id);
        self.instances.push(instance);
        self.keys.push(key);
        self.labels.push(None);
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_instance_and_key_give_the_same_dense_id() {
        let mut reg = ChannelRegistry::new();
        let a = reg.resolve(InstanceId(0), 7);
        let b = reg.resolve(InstanceId(1), 7);
        let c = reg.resolve(InstanceId(0), 8);
        assert_eq!((a, b, c), (ChannelId(0), ChannelId(1), ChannelId(2)));
        assert_eq!(reg.resolve(InstanceId(0), 7), a);
        assert_eq!(reg.resolve(InstanceId(1), 7), b);
        assert_eq!(reg.len(), 3);
        assert_eq!(reg.instance_of(b), Some(InstanceId(1)));
        assert_eq!(reg.key_of(c), Some(8));
        assert_eq!(reg.instance_of(ChannelId(3)), None);
        assert_eq!(reg.get(InstanceId(1), 7), Some(b));
        assert_eq!(reg.get(InstanceId(2), 7), None);
    }

    #[test]
    fn labels_name_channels_in_logs() {
        let mut reg = ChannelRegistry::new();
        let a = reg.resolve(InstanceId(0), 1);
        let b = reg.resolve(InstanceId(0), 2);
        reg.set_label(a, "loop.a");
        reg.set_label(a, "loop.other");
        assert_eq!(reg.label(a), "loop.a");
        assert_eq!(reg.label(b), "#1");
    }
}
