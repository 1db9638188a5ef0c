//! One macro for the crate's counted enums (drop reasons, discards, tolerated quirks, ignored
//! opcode classes): each variant gets a dense index for counter arrays and a stable snake_case
//! name for counters and logs, so a receiver counts without allocating and the names never drift.

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
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
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
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(match self { $($name::$variant => $msg,)* })
            }
        }
    };
}

pub(crate) use counted_enum;

/// Checks what every counted enum promises: dense indices, unique snake_case names.
#[cfg(test)]
pub(crate) fn check_names<T: Copy>(all: &[T], index: fn(T) -> usize, name: fn(T) -> &'static str) {
    let mut names = Vec::new();
    for (i, v) in all.iter().enumerate() {
        assert_eq!(index(*v), i);
        let n = name(*v);
        assert!(
            !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{n}"
        );
        names.push(n);
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all.len(), "names are unique");
}
