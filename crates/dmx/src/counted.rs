//! Counted enums: the drop reasons, discards and tolerated deviations every protocol receiver
//! keeps a counter for. Each variant gets a dense index (so counters are a plain array, no
//! allocation per packet), a stable snake_case name (counters and logs; never changes once
//! released) and a message; [`CountedSet`] holds several of them in one word.

use core::marker::PhantomData;

/// What [`counted_enum!`](crate::counted_enum) gives an enum, for code generic over them.
pub trait Counted: Copy + Eq + 'static {
    /// Every variant, in [`index`](Self::index) order.
    const ALL: &'static [Self];
    /// Dense index `0..ALL.len()`.
    fn index(self) -> usize;
    /// Stable snake_case name.
    fn as_str(self) -> &'static str;
}

/// Declares a counted enum: each variant is `Name => "snake_name", "message";`. The enum gets
/// `ALL`, `COUNT`, `index`, `as_str`, `description` (the message, also its `Display`) and
/// [`Counted`]. Attributes before `pub enum` (docs, `#[non_exhaustive]`) are kept.
#[macro_export]
macro_rules! counted_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$doc:meta])* $variant:ident => $str:literal, $msg:literal; )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$doc])* $variant, )*
        }

        impl $name {
            /// Every variant, in [`index`](Self::index) order.
            pub const ALL: [$name; [$($name::$variant),*].len()] = [$($name::$variant),*];
            /// Number of variants; the size of a per-variant counter array.
            pub const COUNT: usize = Self::ALL.len();

            /// Dense index 0..COUNT, for counter arrays.
            #[inline]
            pub const fn index(self) -> usize {
                self as usize
            }

            /// Stable snake_case name, for counters and logs; never changes once released.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $str,)* }
            }

            /// What happened, for a person reading a log.
            pub const fn description(self) -> &'static str {
                match self { $($name::$variant => $msg,)* }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.description())
            }
        }

        impl $crate::Counted for $name {
            const ALL: &'static [$name] = &$name::ALL;
            #[inline]
            fn index(self) -> usize {
                $name::index(self)
            }
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }
    };
}

/// A set of variants of one counted enum, a bit each (`Copy`, no allocation): the deviations
/// one packet showed, say.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountedSet<T> {
    bits: u32,
    of: PhantomData<T>,
}

impl<T: Counted> CountedSet<T> {
    /// The empty set.
    pub const NONE: Self = CountedSet {
        bits: 0,
        of: PhantomData,
    };

    #[inline]
    fn bit(v: T) -> u32 {
        // Enums with more than 32 variants are refused where they are counted (`check_names`).
        1u32 << (v.index() & 31)
    }

    /// The set with `v` added.
    #[inline]
    #[must_use]
    pub fn with(mut self, v: T) -> Self {
        self.insert(v);
        self
    }

    /// Adds `v`.
    #[inline]
    pub fn insert(&mut self, v: T) {
        self.bits |= Self::bit(v);
    }

    /// Whether `v` is in the set.
    #[inline]
    pub fn contains(self, v: T) -> bool {
        self.bits & Self::bit(v) != 0
    }

    /// Whether the set is empty.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.bits == 0
    }

    /// Members in index order.
    pub fn iter(self) -> impl Iterator<Item = T> {
        T::ALL.iter().copied().filter(move |&v| self.contains(v))
    }
}

impl<T: Counted> Default for CountedSet<T> {
    fn default() -> Self {
        Self::NONE
    }
}

impl<T: Counted + core::fmt::Debug> core::fmt::Debug for CountedSet<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Checks what every counted enum promises, for the declaring crate's tests: dense indices,
/// unique snake_case names (digits allowed), at most 32 variants so a [`CountedSet`] holds all.
///
/// # Panics
/// When a promise is broken.
pub fn check_names<T: Counted>() {
    assert!(T::ALL.len() <= 32, "a CountedSet holds at most 32 variants");
    let mut names = Vec::new();
    for (i, v) in T::ALL.iter().enumerate() {
        assert_eq!(v.index(), i);
        let n = v.as_str();
        assert!(
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{n}"
        );
        names.push(n);
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), T::ALL.len(), "names are unique");
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::counted_enum! {
        /// A test enum.
        #[non_exhaustive]
        pub enum Why {
            /// First.
            Short => "short", "too short";
            /// Second.
            Long2 => "long_2", "too long";
        }
    }

    #[test]
    fn macro_and_set_keep_their_promises() {
        check_names::<Why>();
        assert_eq!(Why::COUNT, 2);
        assert_eq!(Why::Long2.to_string(), "too long");
        let s = CountedSet::NONE.with(Why::Long2);
        assert!(s.contains(Why::Long2) && !s.contains(Why::Short) && !s.is_empty());
        assert_eq!(s.iter().collect::<Vec<_>>(), [Why::Long2]);
        assert_eq!(format!("{s:?}"), "{Long2}");
        assert!(CountedSet::<Why>::default().is_empty());
    }
}
