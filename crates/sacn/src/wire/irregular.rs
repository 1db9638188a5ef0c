//! Deviations from E1.31 that real sources in the field send and that the parser accepts anyway,
//! each counted under its own name: dropping these packets would cost a universe its data while
//! the packet is still unambiguous. Everything else the standard says to discard is still a
//! [`DropReason`](super::DropReason).

macro_rules! irregularities {
    ($( $(#[$doc:meta])* $variant:ident => $name:literal, $msg:literal; )*) => {
        /// A deviation from E1.31 that [`Packet::parse`](super::Packet::parse) tolerates in a
        /// data packet ([`DataPacket::irregularities`](super::DataPacket::irregularities)).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Irregularity {
            $( $(#[$doc])* $variant, )*
        }

        impl Irregularity {
            /// Every variant, in [`index`](Self::index) order.
            pub const ALL: [Irregularity; irregularities!(@count $($variant)*)] =
                [$(Irregularity::$variant),*];
            /// Number of variants; size of a per-kind counter array.
            pub const COUNT: usize = Self::ALL.len();

            /// Dense index 0..COUNT, for counter arrays.
            #[inline]
            pub const fn index(self) -> usize {
                self as usize
            }

            /// Stable snake_case name, for counters and logs; never changes once released.
            pub const fn as_str(self) -> &'static str {
                match self { $(Irregularity::$variant => $name,)* }
            }

            /// What was wrong and what the parser made of it.
            pub const fn description(self) -> &'static str {
                match self { $(Irregularity::$variant => $msg,)* }
            }
        }
    };
    (@count $($v:ident)*) => { 0 $(+ irregularities!(@one $v))* };
    (@one $v:ident) => { 1 };
}

irregularities! {
    /// The DMP layer's length says 517 (0x205) in a full 638-byte data packet, 6 less than the
    /// 523 it must be: what MIDIMonster sends in every data packet until its commit 611c026
    /// ("correct sACN DMP PDU length field", June 2024), i.e. every release from v0.2 to v0.6
    /// (the latest). Its root and framing lengths are right. Only exactly this value in
    /// exactly this packet size is accepted.
    MidimonsterDmpLength => "dmp_length_midimonster",
        "DMP length 517 in a full 638-byte data packet (MIDIMonster before 2024), used as 523";
    /// The datagram goes on after the packet its PDU lengths describe (every length agrees
    /// with the others and the property count): the bytes after the last slot are ignored.
    Padded => "padded", "bytes after the last slot (the PDU lengths end earlier), ignored";
    /// Priority 201..=255 (E1.31 allows 0..=200): used as 200.
    PriorityAbove200 => "priority_above_200", "priority above 200, used as 200";
    /// Synchronization address 64000..=65535 in a data packet (not a universe): used as 0, no
    /// synchronization.
    SyncAddressOutOfRange => "sync_address_out_of_range",
        "synchronization address above 63999, used as 0 (not synchronized)";
}

/// The set of [`Irregularity`]s of one packet (a bit per variant; `Copy`, no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Irregularities(u8);

const _: () = assert!(Irregularity::COUNT <= 8);

impl Irregularities {
    /// No irregularity: the packet follows E1.31 to the letter.
    pub const NONE: Irregularities = Irregularities(0);

    /// Whether the packet follows E1.31 to the letter.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `i` is in the set.
    #[inline]
    pub const fn contains(self, i: Irregularity) -> bool {
        self.0 & (1 << i.index()) != 0
    }

    #[inline]
    pub(crate) fn insert(&mut self, i: Irregularity) {
        self.0 |= 1 << i.index();
    }

    /// Members in [`Irregularity::index`] order.
    pub fn iter(self) -> impl Iterator<Item = Irregularity> {
        Irregularity::ALL
            .into_iter()
            .filter(move |&i| self.contains(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_are_dense_names_unique_and_sets_hold_each() {
        let mut names: Vec<_> = Irregularity::ALL.iter().map(|i| i.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Irregularity::COUNT);
        let mut all = Irregularities::NONE;
        for (k, i) in Irregularity::ALL.into_iter().enumerate() {
            assert_eq!(i.index(), k);
            assert!(
                i.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
            );
            assert!(!all.contains(i));
            all.insert(i);
            assert!(all.contains(i));
        }
        assert_eq!(all.iter().collect::<Vec<_>>(), Irregularity::ALL.to_vec());
        assert!(Irregularities::NONE.is_empty() && !all.is_empty());
    }
}
