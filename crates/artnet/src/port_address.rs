//! The 15-bit Art-Net Port-Address: net (7 bits) : sub-net (4) : universe (4).
//!
//! Art-Net addresses a DMX universe by one 15-bit number. ArtDmx carries it as two bytes,
//! `SubUni` (sub-net in the high nibble, universe in the low nibble) and `Net`; ArtPollReply
//! splits it three ways (`NetSwitch`, `SubSwitch`, and a 4-bit `SwIn`/`SwOut` per port).
//! MIDIMonster's configuration names the same thing `net` (upper 7 bits) and `universe` (lower 8
//! bits, i.e. `SubUni`); [`PortAddress::from_net_sub_uni`] takes that notation.

use core::fmt;

/// Why a Port-Address (or one of its parts) is out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PortAddressError {
    /// The whole address is above 32767 (bit 15 is reserved and always 0).
    #[error("Port-Address {0} is above 32767 (15 bits)")]
    OutOfRange(u16),
    /// Net above 127 (7 bits).
    #[error("net {0} is above 127 (7 bits)")]
    NetOutOfRange(u8),
    /// Sub-net above 15 (4 bits).
    #[error("sub-net {0} is above 15 (4 bits)")]
    SubNetOutOfRange(u8),
    /// Universe above 15 (4 bits) where it is given apart from the sub-net.
    #[error("universe {0} is above 15 (4 bits; the sub-net holds the next 4)")]
    UniverseOutOfRange(u8),
}

/// A 15-bit Art-Net Port-Address, 0..=32767. Every conversion to and from its parts is exact.
///
/// Shown as `net:sub-net:universe` (`0:0:1`), the notation of most consoles' patch screens;
/// [`get`](Self::get) gives the 15-bit number (`1`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PortAddress(u16);

impl PortAddress {
    /// Port-Address 0:0:0.
    pub const ZERO: PortAddress = PortAddress(0);
    /// The highest Port-Address, 127:15:15.
    pub const MAX: PortAddress = PortAddress(0x7fff);

    /// The address with this 15-bit number.
    pub const fn new(raw: u16) -> Result<PortAddress, PortAddressError> {
        if raw > Self::MAX.0 {
            return Err(PortAddressError::OutOfRange(raw));
        }
        Ok(PortAddress(raw))
    }

    /// The address from its three parts (net 0..=127, sub-net 0..=15, universe 0..=15).
    pub const fn from_parts(
        net: u8,
        sub_net: u8,
        universe: u8,
    ) -> Result<PortAddress, PortAddressError> {
        if sub_net > 15 {
            return Err(PortAddressError::SubNetOutOfRange(sub_net));
        }
        if universe > 15 {
            return Err(PortAddressError::UniverseOutOfRange(universe));
        }
        Self::from_net_sub_uni(net, (sub_net << 4) | universe)
    }

    /// The address from a net (0..=127) and the low 8 bits (`SubUni`: sub-net and universe), as
    /// ArtDmx carries it and as MIDIMonster's `net` and `universe` options write it.
    pub const fn from_net_sub_uni(net: u8, sub_uni: u8) -> Result<PortAddress, PortAddressError> {
        if net > 127 {
            return Err(PortAddressError::NetOutOfRange(net));
        }
        Ok(PortAddress(((net as u16) << 8) | sub_uni as u16))
    }

    /// The 15-bit number.
    #[inline]
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Bits 14..8: the net, 0..=127.
    #[inline]
    pub const fn net(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// Bits 7..4: the sub-net, 0..=15.
    #[inline]
    pub const fn sub_net(self) -> u8 {
        ((self.0 >> 4) & 0x0f) as u8
    }

    /// Bits 3..0: the universe within the sub-net, 0..=15.
    #[inline]
    pub const fn universe(self) -> u8 {
        (self.0 & 0x0f) as u8
    }

    /// Bits 7..0: sub-net and universe, ArtDmx's `SubUni` byte (MIDIMonster's `universe`).
    #[inline]
    pub const fn sub_uni(self) -> u8 {
        (self.0 & 0xff) as u8
    }

    /// Whether `self` and `other` share net and sub-net (the 11 bits ArtPollReply stores once
    /// for up to four ports).
    #[inline]
    pub const fn same_sub_net(self, other: PortAddress) -> bool {
        self.0 >> 4 == other.0 >> 4
    }
}

impl TryFrom<u16> for PortAddress {
    type Error = PortAddressError;
    fn try_from(raw: u16) -> Result<PortAddress, PortAddressError> {
        PortAddress::new(raw)
    }
}

impl From<PortAddress> for u16 {
    fn from(a: PortAddress) -> u16 {
        a.0
    }
}

impl fmt::Display for PortAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.net(), self.sub_net(), self.universe())
    }
}

impl fmt::Debug for PortAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PortAddress({self} = {})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parts_and_number_agree() {
        let a = PortAddress::from_parts(1, 2, 3).expect("in range");
        assert_eq!(a.get(), 0x0123);
        assert_eq!(
            (a.net(), a.sub_net(), a.universe(), a.sub_uni()),
            (1, 2, 3, 0x23)
        );
        assert_eq!(a.to_string(), "1:2:3");
        assert_eq!(format!("{a:?}"), "PortAddress(1:2:3 = 291)");
        assert_eq!(PortAddress::MAX.to_string(), "127:15:15");
        assert_eq!(PortAddress::MAX.get(), 32767);
    }

    #[test]
    fn midimonster_notation() {
        // `net = 1`, `universe = 0x23`: the lower 8 bits hold sub-net and universe.
        let a = PortAddress::from_net_sub_uni(1, 0x23).expect("in range");
        assert_eq!(a, PortAddress::from_parts(1, 2, 3).expect("in range"));
        assert_eq!(
            PortAddress::from_net_sub_uni(128, 0),
            Err(PortAddressError::NetOutOfRange(128))
        );
    }

    #[test]
    fn ranges_are_checked() {
        assert_eq!(
            PortAddress::new(0x8000),
            Err(PortAddressError::OutOfRange(0x8000))
        );
        assert_eq!(
            PortAddress::from_parts(0, 16, 0),
            Err(PortAddressError::SubNetOutOfRange(16))
        );
        assert_eq!(
            PortAddress::from_parts(0, 0, 16),
            Err(PortAddressError::UniverseOutOfRange(16))
        );
        assert_eq!(
            PortAddress::from_parts(200, 0, 0),
            Err(PortAddressError::NetOutOfRange(200))
        );
        assert_eq!(PortAddress::try_from(32767).map(u16::from), Ok(32767));
    }

    #[test]
    fn same_sub_net_compares_the_top_eleven_bits() {
        let a = PortAddress::from_parts(3, 4, 0).expect("in range");
        let b = PortAddress::from_parts(3, 4, 15).expect("in range");
        let c = PortAddress::from_parts(3, 5, 0).expect("in range");
        assert!(a.same_sub_net(b));
        assert!(!a.same_sub_net(c));
    }

    proptest! {
        #[test]
        fn every_address_round_trips(raw in 0u16..=0x7fff) {
            let a = PortAddress::new(raw).expect("15 bits");
            prop_assert_eq!(PortAddress::from_parts(a.net(), a.sub_net(), a.universe()), Ok(a));
            prop_assert_eq!(PortAddress::from_net_sub_uni(a.net(), a.sub_uni()), Ok(a));
            prop_assert!(a.net() <= 127 && a.sub_net() <= 15 && a.universe() <= 15);
        }

        #[test]
        fn every_part_round_trips(net in 0u8..=127, sub in 0u8..=15, uni in 0u8..=15) {
            let a = PortAddress::from_parts(net, sub, uni).expect("in range");
            prop_assert_eq!((a.net(), a.sub_net(), a.universe()), (net, sub, uni));
            prop_assert_eq!(a.get(), u16::from(net) * 256 + u16::from(sub) * 16 + u16::from(uni));
        }
    }
}
