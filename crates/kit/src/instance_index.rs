//! Finding a backend's own record of an instance from the core's [`InstanceId`].
//!
//! Why not a map: the core numbers instances densely across all backends (0, 1, ...), and a
//! backend looks its instance up on every delivery, so a vector indexed by the id answers in
//! one load; ids of other backends' instances are holes.

use patchbay_core::InstanceId;

/// Marks an id that is not this backend's.
const NONE: u32 = u32::MAX;

/// `InstanceId` → index into the backend's own instance list.
#[derive(Clone, Debug, Default)]
pub struct InstanceIndex {
    by_id: Vec<u32>,
}

impl InstanceIndex {
    /// An index with no instances.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that instance `id` is entry `index` of the backend's list (`Backend::create_instance`).
    pub fn insert(&mut self, id: InstanceId, index: usize) {
        let slot = id.0 as usize;
        if self.by_id.len() <= slot {
            self.by_id.resize(slot + 1, NONE);
        }
        self.by_id[slot] = u32::try_from(index).unwrap_or(NONE);
    }

    /// The backend's index of instance `id`, if it is one of the backend's.
    #[inline]
    pub fn get(&self, id: InstanceId) -> Option<usize> {
        self.by_id
            .get(id.0 as usize)
            .filter(|&&i| i != NONE)
            .map(|&i| i as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_are_other_backends_instances() {
        let mut ix = InstanceIndex::new();
        ix.insert(InstanceId(3), 0);
        ix.insert(InstanceId(1), 1);
        assert_eq!(ix.get(InstanceId(3)), Some(0));
        assert_eq!(ix.get(InstanceId(1)), Some(1));
        assert_eq!(ix.get(InstanceId(2)), None);
        assert_eq!(ix.get(InstanceId(0)), None);
        assert_eq!(ix.get(InstanceId(99)), None);
    }
}
