//! From the core's [`InstanceId`] (dense across all backends) to a backend's own index of the
//! instance (dense across its instances): one array lookup, for backends that keep their
//! instances in a `Vec` in order of creation.

use patchbay_core::InstanceId;

/// `InstanceId` → the backend's index.
#[derive(Debug, Clone, Default)]
pub struct InstanceIndex {
    /// `InstanceId.0` → index (`u32::MAX`: not this backend's).
    by_id: Vec<u32>,
}

impl InstanceIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `id` is the backend's instance `index`.
    pub fn insert(&mut self, id: InstanceId, index: usize) {
        let slot = id.0 as usize;
        if self.by_id.len() <= slot {
            self.by_id.resize(slot + 1, u32::MAX);
        }
        self.by_id[slot] = u32::try_from(index).unwrap_or(u32::MAX);
    }

    /// The backend's index of `id`, if it is one of its instances.
    #[inline]
    pub fn get(&self, id: InstanceId) -> Option<usize> {
        self.by_id
            .get(id.0 as usize)
            .filter(|&&i| i != u32::MAX)
            .map(|&i| i as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_to_indices() {
        let mut ix = InstanceIndex::new();
        ix.insert(InstanceId(3), 0);
        ix.insert(InstanceId(1), 1);
        assert_eq!(ix.get(InstanceId(3)), Some(0));
        assert_eq!(ix.get(InstanceId(1)), Some(1));
        assert_eq!(ix.get(InstanceId(0)), None);
        assert_eq!(ix.get(InstanceId(2)), None);
        assert_eq!(ix.get(InstanceId(9)), None);
    }
}
