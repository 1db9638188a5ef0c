//! Multicast group addresses of universes (E1.31-2018 9.3).
//!
//! IPv6 choice: E1.31 writes the group as `FF18::83:00:{hi}:{lo}`, which implementations read
//! two ways. patchbay follows ETC's reference library, which puts the bytes `0x83 0x00 hi lo`
//! into the last four bytes of the address (`ff18::8300:HHLL`), because that is what the
//! consoles patchbay most often talks to join. The literal reading (`ff18::83:0:hi:lo`) is
//! available as [`ipv6_multicast_literal`] for peers that use it.

use std::net::{Ipv4Addr, Ipv6Addr};

/// IPv4 group of a data, sync or discovery universe: `239.255.{hi}.{lo}`.
#[inline]
pub const fn ipv4_multicast(universe: u16) -> Ipv4Addr {
    let [hi, lo] = universe.to_be_bytes();
    Ipv4Addr::new(239, 255, hi, lo)
}

/// IPv6 group of a universe in ETC's layout, `ff18::8300:HHLL` (patchbay's default).
#[inline]
pub const fn ipv6_multicast(universe: u16) -> Ipv6Addr {
    Ipv6Addr::new(0xff18, 0, 0, 0, 0, 0, 0x8300, universe)
}

/// IPv6 group of a universe with the standard's text read literally, `ff18::83:0:hi:lo`.
#[inline]
pub const fn ipv6_multicast_literal(universe: u16) -> Ipv6Addr {
    let [hi, lo] = universe.to_be_bytes();
    Ipv6Addr::new(0xff18, 0, 0, 0, 0x83, 0, hi as u16, lo as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_groups() {
        assert_eq!(ipv4_multicast(1), Ipv4Addr::new(239, 255, 0, 1));
        assert_eq!(ipv4_multicast(63999), Ipv4Addr::new(239, 255, 249, 255));
        assert_eq!(ipv4_multicast(64214), Ipv4Addr::new(239, 255, 250, 214));
    }

    #[test]
    fn ipv6_groups_both_layouts() {
        assert_eq!(ipv6_multicast(123).to_string(), "ff18::8300:7b");
        assert_eq!(ipv6_multicast(64214).to_string(), "ff18::8300:fad6");
        assert_eq!(ipv6_multicast_literal(1).to_string(), "ff18::83:0:0:1");
        assert_eq!(
            ipv6_multicast_literal(0x1234).to_string(),
            "ff18::83:0:12:34"
        );
        assert!(ipv6_multicast(1).is_multicast());
        assert_eq!(ipv6_multicast(1).octets()[12..], [0x83, 0x00, 0x00, 0x01]);
    }
}
