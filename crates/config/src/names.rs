//! The glob-expanded channel names of one mapping side, stored back to back.
//!
//! Why not `Vec<String>`: a 1,000-universe configuration expands to a million names; one heap
//! allocation each (56 bytes with the `String` header, for names of 5 to 10 bytes) was a fifth of
//! start-up and about 55 MB of resident memory. Here a side costs one string and one offset per
//! name.

use std::fmt;

/// Channel names in odometer order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Names {
    text: String,
    /// End offset in `text` of each name.
    ends: Vec<usize>,
}

impl Names {
    pub fn new() -> Self {
        Self::default()
    }

    /// Room for `names` names of about `bytes` bytes in all.
    pub fn with_capacity(names: usize, bytes: usize) -> Self {
        Self {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(names),
        }
    }

    pub fn push(&mut self, name: &str) {
        self.text.push_str(name);
        self.ends.push(self.text.len());
    }

    /// Appends to the name being built; [`Names::finish`] ends it.
    pub(crate) fn text_mut(&mut self) -> &mut String {
        &mut self.text
    }

    /// Ends the name built with [`Names::text_mut`].
    pub(crate) fn finish(&mut self) {
        self.ends.push(self.text.len());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Name `i`.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = match i.checked_sub(1) {
            Some(p) => *self.ends.get(p)?,
            None => 0,
        };
        self.text.get(start..end)
    }

    pub fn first(&self) -> Option<&str> {
        self.get(0)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }
}

impl fmt::Debug for Names {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<const N: usize> PartialEq<[&str; N]> for Names {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.iter().eq(other.iter().copied())
    }
}

impl<'a> FromIterator<&'a str> for Names {
    fn from_iter<I: IntoIterator<Item = &'a str>>(iter: I) -> Self {
        let mut n = Names::new();
        for s in iter {
            n.push(s);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(v in proptest::collection::vec(".{0,6}", 0..20)) {
            let n: Names = v.iter().map(String::as_str).collect();
            prop_assert_eq!(n.len(), v.len());
            prop_assert_eq!(n.iter().collect::<Vec<_>>(), v.iter().map(String::as_str).collect::<Vec<_>>());
            for (i, s) in v.iter().enumerate() {
                prop_assert_eq!(n.get(i), Some(s.as_str()));
            }
            prop_assert_eq!(n.get(v.len()), None);
        }
    }

    #[test]
    fn built_in_place() {
        let mut n = Names::with_capacity(2, 8);
        n.text_mut().push_str("a.1");
        n.finish();
        n.push("");
        n.push("b");
        assert_eq!(n, ["a.1", "", "b"]);
        assert_eq!(n.first(), Some("a.1"));
        assert_eq!(format!("{n:?}"), r#"["a.1", "", "b"]"#);
    }
}
