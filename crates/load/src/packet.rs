//! The few E1.31 data-packet fields the tool and the raw forwarder touch, by offset (E1.31-2018 section 6);
//! packets are built once with `patchbay_sacn::write_data` and then only patched. The same for
//! Art-Net's ArtDmx ([`Wire::Artnet`], built with `patchbay_artnet::write_dmx`), so a run can
//! send one protocol and receive the other.

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

/// The protocol of one direction of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Wire {
    /// E1.31 data packets.
    #[default]
    Sacn,
    /// Art-Net ArtDmx (the universe is the 15-bit Port-Address).
    Artnet,
}

/// ArtDmx of 512 slots: 18 header bytes.
pub const ARTDMX_LEN: usize = 18 + SLOTS;
/// ArtDmx sequence number.
const ARTDMX_SEQUENCE: usize = 12;
/// ArtDmx slot 1.
const ARTDMX_SLOTS_AT: usize = 18;

impl Wire {
    /// Offset of the sequence number.
    pub fn sequence_at(self) -> usize {
        match self {
            Wire::Sacn => SEQUENCE,
            Wire::Artnet => ARTDMX_SEQUENCE,
        }
    }

    /// Offset of slot 1.
    pub fn slots_at(self) -> usize {
        match self {
            Wire::Sacn => SLOTS_AT,
            Wire::Artnet => ARTDMX_SLOTS_AT,
        }
    }

    /// A 512-slot packet for `universe` with all slots 0.
    pub fn template(self, cid: Cid, universe: u16) -> Option<Vec<u8>> {
        match self {
            Wire::Sacn => template(cid, universe).ok().map(|p| p.to_vec()),
            Wire::Artnet => {
                let mut buf = vec![0u8; ARTDMX_LEN];
                let h = patchbay_artnet::DmxHeader {
                    sequence: 1,
                    physical: 0,
                    address: patchbay_artnet::PortAddress::new(universe).ok()?,
                };
                patchbay_artnet::write_dmx(&mut buf, &h, &[0u8; SLOTS]).ok()?;
                Some(buf)
            }
        }
    }

    /// The next sequence number after `s` (Art-Net: 1..=255, 0 means "not numbered").
    pub fn next_sequence(self, s: u8) -> u8 {
        match (self, s.wrapping_add(1)) {
            (Wire::Artnet, 0) => 1,
            (_, n) => n,
        }
    }
}

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
    if p.len() == ARTDMX_LEN && p.starts_with(b"Art-Net\0") {
        // OpCode 0x5000 little-endian, Length 512 big-endian.
        if p[8..10] != [0x00, 0x50] || p[16..18] != [0x02, 0x00] {
            return Kind::Other;
        }
        return Kind::Levels {
            universe: u16::from(p[15]) << 8 | u16::from(p[14]),
            slots: &p[ARTDMX_SLOTS_AT..],
        };
    }
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

    #[test]
    fn artdmx_template_classifies_with_its_port_address() {
        let mut p = Wire::Artnet.template(Cid([0; 16]), 0x1234).unwrap();
        p[Wire::Artnet.slots_at() + 511] = 7;
        p[Wire::Artnet.sequence_at()] = Wire::Artnet.next_sequence(255);
        match classify(&p) {
            Kind::Levels { universe, slots } => {
                assert_eq!((universe, slots.len(), slots[511]), (0x1234, SLOTS, 7));
            }
            other => panic!("{other:?}"),
        }
        match patchbay_artnet::Packet::parse(&p) {
            Ok(patchbay_artnet::Packet::Dmx(d)) => assert_eq!(d.sequence(), 1),
            other => panic!("{other:?}"),
        }
        assert_eq!(Wire::Sacn.next_sequence(255), 0);
    }
}
