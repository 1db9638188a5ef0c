//! The channel registry: dense [`ChannelId`]s for (instance, backend key) pairs.
//!
//! The hash map is only consulted while the configuration is read (one lookup per mapping
//! endpoint); at run time everything is indexed by `ChannelId` in plain vectors.

use rustc_hash::FxHashMap;

use crate::backend::{ChannelId, ChannelIds, InstanceId};

/// Keys below this are looked up in a per-instance vector instead of the hash map: backends with
/// numbered channels (sACN slots 0..511) then never hash, and a 1,000-universe configuration's
/// million channels cost 4 bytes each instead of a slot in one huge table (whose inserts missed
/// the cache and rehashed twenty times: a third of start-up).
const DENSE_KEYS: u64 = 1024;

/// Marks a free entry of a dense table.
const NONE: u32 = u32::MAX;

/// Allocates and remembers channel ids; implements [`ChannelIds`] for [`crate::ChannelCtx`].
#[derive(Debug, Default, Clone)]
pub struct ChannelRegistry {
    /// Per instance: channel id of each key below [`DENSE_KEYS`] ([`NONE`]: not resolved yet),
    /// grown on demand.
    dense: Vec<Vec<u32>>,
    /// Keys at or above [`DENSE_KEYS`].
    ids: FxHashMap<(InstanceId, u64), ChannelId>,
    instances: Vec<InstanceId>,
    keys: Vec<u64>,
    /// Human-readable names for log lines (the channel part, "level1.r"; the core adds the
    /// instance); set by whoever knows the text. All labels share one string (one allocation
    /// per many channels, not one each); `label_at[c]` is the byte range of channel `c`'s, empty
    /// when none was set.
    label_text: String,
    label_at: Vec<(u32, u32)>,
    /// Per channel: its byte offset in its instance's frame ([`NO_LANE`]: not a lane); see
    /// [`crate::frames`].
    lanes: Vec<u16>,
}

/// Marks a channel that is not a lane.
const NO_LANE: u16 = u16::MAX;

impl ChannelRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of channels allocated so far; ids are `0..len()`.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no channel was allocated.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The id of (instance, key) if it was resolved before.
    pub fn get(&self, instance: InstanceId, key: u64) -> Option<ChannelId> {
        if key < DENSE_KEYS {
            return self
                .dense
                .get(instance.0 as usize)
                .and_then(|d| d.get(key as usize))
                .filter(|&&id| id != NONE)
                .map(|&id| ChannelId(id));
        }
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
        if label.is_empty() || self.has_label(channel) {
            return;
        }
        let (Ok(start), Ok(len)) = (
            u32::try_from(self.label_text.len()),
            u32::try_from(label.len()),
        ) else {
            return; // 4 GiB of labels: later channels are named by id
        };
        if let Some(slot) = self.label_at.get_mut(channel.0 as usize) {
            *slot = (start, len);
            self.label_text.push_str(label);
        }
    }

    fn label_str(&self, channel: ChannelId) -> Option<&str> {
        let &(start, len) = self.label_at.get(channel.0 as usize)?;
        if len == 0 {
            return None;
        }
        self.label_text
            .get(start as usize..start as usize + len as usize)
    }

    /// Whether `channel`'s label is `text`.
    pub fn label_is(&self, channel: ChannelId, text: &str) -> bool {
        self.label_str(channel) == Some(text)
    }

    /// Names `channel` anew (a reloaded configuration writes it otherwise); the old text stays
    /// in the shared string, unused.
    pub fn relabel(&mut self, channel: ChannelId, label: &str) {
        if let Some(slot) = self.label_at.get_mut(channel.0 as usize) {
            *slot = (0, 0);
        }
        self.set_label(channel, label);
    }

    /// Whether a label was set for `channel`.
    pub fn has_label(&self, channel: ChannelId) -> bool {
        self.label_at
            .get(channel.0 as usize)
            .is_some_and(|&(_, len)| len > 0)
    }

    /// A name for log lines: the label if one was set, else `#<id>`.
    pub fn label(&self, channel: ChannelId) -> String {
        match self.label_str(channel) {
            Some(label) => label.to_string(),
            None => format!("#{}", channel.0),
        }
    }

    /// Writes [`ChannelRegistry::label`] without allocating.
    pub fn write_label(
        &self,
        channel: ChannelId,
        out: &mut dyn std::fmt::Write,
    ) -> std::fmt::Result {
        match self.label_str(channel) {
            Some(label) => out.write_str(label),
            None => write!(out, "#{}", channel.0),
        }
    }

    /// The byte offset of `channel` in its instance's frame, if its backend declared it a lane.
    #[inline]
    pub fn lane_of(&self, channel: ChannelId) -> Option<u16> {
        self.lanes
            .get(channel.0 as usize)
            .copied()
            .filter(|&l| l != NO_LANE)
    }

    fn push(&mut self, instance: InstanceId, key: u64) -> ChannelId {
        // More than 2^32 channels cannot be configured in practice (each needs a mapping line
        // expansion); saturating keeps this total instead of panicking.
        let id = ChannelId(u32::try_from(self.keys.len()).unwrap_or(NONE - 1));
        self.instances.push(instance);
        self.keys.push(key);
        self.label_at.push((0, 0));
        self.lanes.push(NO_LANE);
        id
    }
}

impl ChannelIds for ChannelRegistry {
    fn set_lane(&mut self, channel: ChannelId, offset: u16) {
        if offset != NO_LANE
            && let Some(l) = self.lanes.get_mut(channel.0 as usize)
        {
            *l = offset;
        }
    }

    fn resolve(&mut self, instance: InstanceId, key: u64) -> ChannelId {
        if key < DENSE_KEYS {
            let i = instance.0 as usize;
            if self.dense.len() <= i {
                self.dense.resize_with(i + 1, Vec::new);
            }
            let k = key as usize;
            if self.dense[i].len() <= k {
                self.dense[i].resize(k + 1, NONE);
            }
            let known = self.dense[i][k];
            if known != NONE {
                return ChannelId(known);
            }
            let id = self.push(instance, key);
            self.dense[i][k] = id.0;
            return id;
        }
        if let Some(&id) = self.ids.get(&(instance, key)) {
            return id;
        }
        let id = self.push(instance, key);
        self.ids.insert((instance, key), id);
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
        reg.set_label(b, "");
        assert!(!reg.has_label(b));
        reg.set_label(b, "loop.b");
        assert_eq!(
            (reg.label(a), reg.label(b)),
            ("loop.a".into(), "loop.b".into())
        );
        assert_eq!(reg.label(ChannelId(9)), "#9");
    }

    #[test]
    fn large_keys_and_small_keys_share_one_id_space() {
        let mut reg = ChannelRegistry::new();
        let big = reg.resolve(InstanceId(3), u64::MAX);
        let small = reg.resolve(InstanceId(3), 511);
        let edge = reg.resolve(InstanceId(3), DENSE_KEYS);
        let below = reg.resolve(InstanceId(3), DENSE_KEYS - 1);
        assert_eq!(
            (big, small, edge, below),
            (ChannelId(0), ChannelId(1), ChannelId(2), ChannelId(3))
        );
        assert_eq!(reg.resolve(InstanceId(3), u64::MAX), big);
        assert_eq!(reg.resolve(InstanceId(3), DENSE_KEYS - 1), below);
        assert_eq!(reg.get(InstanceId(3), DENSE_KEYS), Some(edge));
        assert_eq!(reg.get(InstanceId(3), 510), None);
        assert_eq!(reg.get(InstanceId(0), 511), None);
        assert_eq!(reg.key_of(big), Some(u64::MAX));
    }

    proptest::proptest! {
        /// The dense and hashed paths together behave like one map handing out ids in order.
        #[test]
        fn resolves_like_a_map(ops in proptest::collection::vec((0u32..4, proptest::prop_oneof![0u64..1100, proptest::prelude::any::<u64>()]), 0..200)) {
            let mut reg = ChannelRegistry::new();
            let mut model = std::collections::HashMap::new();
            for (inst, key) in ops {
                let next = ChannelId(model.len() as u32);
                let want = *model.entry((inst, key)).or_insert(next);
                proptest::prop_assert_eq!(reg.resolve(InstanceId(inst), key), want);
                proptest::prop_assert_eq!(reg.get(InstanceId(inst), key), Some(want));
                proptest::prop_assert_eq!(reg.key_of(want), Some(key));
                proptest::prop_assert_eq!(reg.instance_of(want), Some(InstanceId(inst)));
            }
            proptest::prop_assert_eq!(reg.len(), model.len());
        }
    }
}
