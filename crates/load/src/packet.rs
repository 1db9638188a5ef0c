//! The few E1.31 data-packet fields the tool and the raw forwarder touch, by offset (E1.31-2018 section 6);
//! packets are built once with `patchbay_sacn::write_data` and then only patched.

use patchbay_sacn::{Cid, DataHeader, Options, START_CODE_LEVELS, write_data};

use crate::pattern::SLOTS;

/// A full data packet: 126 header bytes + 512 slots.
pub const PACKET_LEN: usize = 126 + SLOTS;
/// Sequence number.
pub const SEQUENCE: usize = 111;
/// Options (bit 6: stream terminated).
pub const OPTIONS: usize = 112;
/// Universe, u16 big-endian: the only field the raw forwarder rewrites.
pub const UNIVERSE: std::ops::Range<usize> = 113..115;
/// Start code.
pub const START_CODE: usize = 125;
/// Slot 1.
pub const SLOTS_AT: usize = 126;
/// Root vector (4 = data).
const ROOT_VECTOR: std::ops::Range<usize> = 18..22;
const TERMINATED: u8 = 0x40;

/// Builds a 512-slot data packet for `universe` with all slots 0.
pub fn template(cid: Cid, universe: u16) -> Result<[u8; PACKET_LEN], patchbay_sacn::BuildError> {
    let mut buf = [0u8; PACKET_LEN];
    let h = DataHeader {
        cid,
        source_name: "patchbay-load",
        priority: 100,
        sync_address: 0,
        sequence: 0,
        options: Options::default(),
        universe,
        start_code: START_CODE_LEVELS,
    };
    write_data(&mut buf, &h, &[0u8; SLOTS])?;
    Ok(buf)
}

/// Universe field of a datagram, if it is long enough to have one.
#[inline]
pub fn universe(p: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(p.get(UNIVERSE)?.try_into().ok()?))
}

/// Adds `offset` to the universe field (wrapping in 16 bits); false if the datagram is too short.
#[inline]
pub fn shift_universe(p: &mut [u8], offset: u16) -> Option<u16> {
    let u = universe(p)?.wrapping_add(offset);
    p.get_mut(UNIVERSE)?.copy_from_slice(&u.to_be_bytes());
    Some(u)
}

/// What a received datagram is, as far as the load tool cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind<'a> {
    /// A level data packet with 512 slots.
    Levels {
        /// Universe field.
        universe: u16,
        /// The 512 slots.
        slots: &'a [u8],
    },
    /// A data packet with Stream_Terminated set (sent at shutdown).
    Terminated,
    /// Anything else (discovery, sync, other start codes, short packets).
    Other,
}

/// Classifies a datagram without full validation (the translator's output is what is measured;
/// the pattern check catches corrupted slots).
pub fn classify(p: &[u8]) -> Kind<'_> {
    if p.len() != PACKET_LEN || p.get(ROOT_VECTOR) != Some(&[0, 0, 0, 4]) {
        return Kind::Other;
    }
    if p[OPTIONS] & TERMINATED != 0 {
        return Kind::Terminated;
    }
    match (universe(p), p[START_CODE]) {
        (Some(universe), 0) => Kind::Levels {
            universe,
            slots: &p[SLOTS_AT..],
        },
        _ => Kind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_sacn::Packet;

    #[test]
    fn template_is_a_valid_packet_and_fields_are_where_we_patch() {
        let mut p = template(Cid([7; 16]), 300).unwrap();
        p[SEQUENCE] = 9;
        p[SLOTS_AT + 511] = 0xab;
        assert_eq!(shift_universe(&mut p, 1000), Some(1300));
        match Packet::parse(&p).unwrap() {
            Packet::Data(d) => {
                assert_eq!(d.universe(), 1300);
                assert_eq!(d.sequence(), 9);
            }
            other => panic!("{other:?}"),
        }
        match classify(&p) {
            Kind::Levels { universe, slots } => {
                assert_eq!(universe, 1300);
                assert_eq!(slots.len(), SLOTS);
                assert_eq!(slots[511], 0xab);
            }
            other => panic!("{other:?}"),
        }
        p[OPTIONS] = TERMINATED;
        assert_eq!(classify(&p), Kind::Terminated);
        assert_eq!(classify(&p[..200]), Kind::Other);
        assert_eq!(shift_universe(&mut [0u8; 100], 1), None);
    }
}
