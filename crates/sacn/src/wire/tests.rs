//! Reference packets (E1.31-2018 section 4) and one malformed packet per [`DropReason`].

use super::*;
use crate::Cid;

const CID: Cid = Cid([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);

fn hex(s: &str) -> Vec<u8> {
    s.lines()
        .flat_map(|l| l.split_whitespace().skip(1))
        .map(|h| u8::from_str_radix(h, 16).expect("hex"))
        .collect()
}

fn ref_data() -> Vec<u8> {
    let mut v = hex("0000  00 10 00 00 41 53 43 2d 45 31 2e 31 37 00 00 00
0010  72 6e 00 00 00 04 00 01 02 03 04 05 06 07 08 09
0020  0a 0b 0c 0d 0e 0f 72 58 00 00 00 02 70 61 74 63
0030  68 62 61 79 00 00 00 00 00 00 00 00 00 00 00 00
0040  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0050  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0060  00 00 00 00 00 00 00 00 00 00 00 00 64 00 00 00
0070  00 00 01 72 0b 02 a1 00 00 00 01 02 01 00 ff 80
0080  00 00");
    v.resize(638, 0);
    v
}

fn ref_sync() -> Vec<u8> {
    hex("0000  00 10 00 00 41 53 43 2d 45 31 2e 31 37 00 00 00
0010  70 21 00 00 00 08 00 01 02 03 04 05 06 07 08 09
0020  0a 0b 0c 0d 0e 0f 70 0b 00 00 00 01 03 00 07 00
0030  00")
}

fn ref_discovery() -> Vec<u8> {
    hex("0000  00 10 00 00 41 53 43 2d 45 31 2e 31 37 00 00 00
0010  70 6e 00 00 00 08 00 01 02 03 04 05 06 07 08 09
0020  0a 0b 0c 0d 0e 0f 70 58 00 00 00 02 70 61 74 63
0030  68 62 61 79 00 00 00 00 00 00 00 00 00 00 00 00
0040  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0050  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0060  00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0070  70 0e 00 00 00 01 00 00 00 01 00 02 00 0a")
}

fn header(universe: u16) -> DataHeader<'static> {
    DataHeader {
        cid: CID,
        source_name: "patchbay",
        priority: 100,
        sync_address: 0,
        sequence: 0,
        options: Options::NONE,
        universe,
        start_code: START_CODE_LEVELS,
    }
}

#[test]
fn reference_data_packet_builds_byte_exact_and_parses() {
    let mut slots = [0u8; 512];
    slots[0] = 255;
    slots[1] = 128;
    let mut buf = [0xEEu8; 700];
    let n = write_data(&mut buf, &header(1), &slots).expect("build");
    assert_eq!(n, 638);
    assert_eq!(buf[..n], ref_data()[..]);

    let r = ref_data();
    let Ok(Packet::Data(p)) = Packet::parse(&r) else {
        panic!("reference data packet rejected: {:?}", Packet::parse(&r));
    };
    assert_eq!(p.cid(), CID);
    assert_eq!(p.source_name(), "patchbay");
    assert_eq!(p.priority(), 100);
    assert_eq!(p.sync_address(), 0);
    assert_eq!(p.sequence(), 0);
    assert_eq!(p.options(), Options::NONE);
    assert_eq!(p.universe(), 1);
    assert_eq!(p.start_code(), 0);
    assert_eq!(p.slots(), &slots[..]);
    assert_eq!(p.as_bytes().len(), 638);
}

#[test]
fn reference_sync_packet_builds_byte_exact_and_parses() {
    let mut buf = [0xEEu8; 64];
    let n = write_sync(&mut buf, CID, 3, 7).expect("build");
    assert_eq!(buf[..n], ref_sync()[..]);
    let r = ref_sync();
    let Ok(Packet::Sync(p)) = Packet::parse(&r) else {
        panic!("reference sync packet rejected");
    };
    assert_eq!((p.cid(), p.sequence(), p.sync_address()), (CID, 3, 7));
}

#[test]
fn reference_discovery_packet_builds_byte_exact_and_parses() {
    let mut buf = [0xEEu8; 200];
    let n = write_discovery(&mut buf, CID, "patchbay", 0, 0, &[1, 2, 10]).expect("build");
    assert_eq!(buf[..n], ref_discovery()[..]);
    let r = ref_discovery();
    let Ok(Packet::Discovery(p)) = Packet::parse(&r) else {
        panic!("reference discovery packet rejected");
    };
    assert_eq!(p.cid(), CID);
    assert_eq!(p.source_name(), "patchbay");
    assert_eq!((p.page(), p.last_page(), p.universe_count()), (0, 0, 3));
    assert_eq!(p.universes().collect::<Vec<_>>(), [1, 2, 10]);
}

#[test]
fn lengths_are_right_for_every_slot_count() {
    let slots = [7u8; 512];
    let mut buf = [0u8; MAX_DATA_PACKET_LEN];
    for count in 0..=512 {
        let n = write_data(&mut buf, &header(5), &slots[..count]).expect("build");
        assert_eq!(n, 126 + count);
        let b = &buf[..n];
        assert_eq!(u16::from_be_bytes([b[16], b[17]]), 0x7000 | (n as u16 - 16));
        assert_eq!(u16::from_be_bytes([b[38], b[39]]), 0x7000 | (n as u16 - 38));
        assert_eq!(
            u16::from_be_bytes([b[115], b[116]]),
            0x7000 | (n as u16 - 115)
        );
        assert_eq!(u16::from_be_bytes([b[123], b[124]]), count as u16 + 1);
        let Ok(Packet::Data(p)) = Packet::parse(b) else {
            panic!("{count} slots rejected");
        };
        assert_eq!(p.slots().len(), count);
    }
}

#[test]
fn source_name_is_cut_at_a_char_boundary_and_nul_terminated() {
    let long = "é".repeat(40); // 80 bytes, 2 per char
    let mut buf = [0xEEu8; 700];
    let h = DataHeader {
        source_name: &long,
        ..header(1)
    };
    let n = write_data(&mut buf, &h, &[]).expect("build");
    let Ok(Packet::Data(p)) = Packet::parse(&buf[..n]) else {
        panic!()
    };
    assert_eq!(p.source_name(), "é".repeat(31)); // 62 bytes: 63 would split a char
    assert_eq!(buf[44 + 62..108], [0u8; 2]);
}

#[test]
fn non_utf8_source_name_is_not_fatal() {
    let mut b = ref_data();
    b[44] = 0xff;
    let Ok(Packet::Data(p)) = Packet::parse(&b) else {
        panic!("bad name must not drop the packet")
    };
    assert_eq!(p.source_name(), "\u{fffd}atchbay");
}

#[test]
fn reserved_option_bits_are_ignored() {
    let mut b = ref_data();
    b[112] = 0x1f | 0x80;
    let Ok(Packet::Data(p)) = Packet::parse(&b) else {
        panic!()
    };
    assert_eq!(p.options().bits(), 0x80);
    assert!(p.options().preview());
}

#[test]
fn builders_reject_bad_fields() {
    let mut buf = [0u8; 2000];
    let e = |h: DataHeader<'_>, s: &[u8]| {
        write_data(&mut [0u8; 700], &h, s).expect_err("must be rejected")
    };
    assert_eq!(e(header(0), &[]), BuildError::UniverseOutOfRange(0));
    assert_eq!(e(header(64000), &[]), BuildError::UniverseOutOfRange(64000));
    assert_eq!(
        e(
            DataHeader {
                priority: 201,
                ..header(1)
            },
            &[]
        ),
        BuildError::PriorityOutOfRange(201)
    );
    assert_eq!(
        e(
            DataHeader {
                sync_address: 64000,
                ..header(1)
            },
            &[]
        ),
        BuildError::BadSyncAddress(64000)
    );
    assert_eq!(e(header(1), &[0; 513]), BuildError::TooManySlots(513));
    assert_eq!(
        write_data(&mut buf[..637], &header(1), &[0; 512]),
        Err(BuildError::BufferTooSmall {
            needed: 638,
            available: 637
        })
    );
    assert_eq!(
        write_sync(&mut buf, CID, 0, 0),
        Err(BuildError::BadSyncAddress(0))
    );
    assert_eq!(
        write_sync(&mut buf[..48], CID, 0, 1),
        Err(BuildError::BufferTooSmall {
            needed: 49,
            available: 48
        })
    );
    assert_eq!(
        write_discovery(&mut buf, CID, "x", 1, 0, &[1]),
        Err(BuildError::PageAfterLast {
            page: 1,
            last_page: 0
        })
    );
    assert_eq!(
        write_discovery(&mut buf, CID, "x", 0, 0, &[2, 1]),
        Err(BuildError::UniversesNotAscending)
    );
    assert_eq!(
        write_discovery(&mut buf, CID, "x", 0, 0, &[1; 513]),
        Err(BuildError::TooManyUniverses(513))
    );
}

fn set16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

/// Re-derives the three data PDU lengths after the datagram was resized.
fn fix_data_lengths(b: &mut [u8]) {
    let n = b.len() as u16;
    set16(b, 16, 0x7000 | (n - 16));
    set16(b, 38, 0x7000 | (n - 38));
    set16(b, 115, 0x7000 | (n - 115));
    set16(b, 123, n - 125);
}

fn fix_discovery_lengths(b: &mut [u8]) {
    let n = b.len() as u16;
    set16(b, 16, 0x7000 | (n - 16));
    set16(b, 38, 0x7000 | (n - 38));
    set16(b, 112, 0x7000 | (n - 112));
}

fn reason(b: &[u8]) -> DropReason {
    match Packet::parse(b) {
        Ok(p) => panic!("accepted malformed packet {p:?}"),
        Err(r) => r,
    }
}

/// One malformed packet per rule; every [`DropReason`] must be produced by at least one.
#[test]
fn every_drop_reason_has_a_packet_that_triggers_it() {
    let mut seen = [false; DropReason::COUNT];
    let mut check = |b: Vec<u8>, want: DropReason| {
        assert_eq!(reason(&b), want, "packet {:02x?}", &b[..b.len().min(130)]);
        seen[want.index()] = true;
    };
    let data = ref_data();
    let sync = ref_sync();
    let disc = ref_discovery();
    let with = |base: &[u8], f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = base.to_vec();
        f(&mut v);
        v
    };

    check(data[..37].to_vec(), DropReason::TruncatedRoot);
    check(Vec::new(), DropReason::TruncatedRoot);
    check(
        with(&data, &|b| {
            b.truncate(100);
            set16(b, 16, 0x7000 | 84)
        }),
        DropReason::TruncatedFraming,
    );
    check(
        with(&sync, &|b| {
            b.truncate(48);
            set16(b, 16, 0x7000 | 32)
        }),
        DropReason::TruncatedFraming,
    );
    check(
        with(&sync, &|b| {
            b.truncate(40);
            set16(b, 16, 0x7000 | 24)
        }),
        DropReason::TruncatedFraming,
    );
    check(
        with(&disc, &|b| {
            b.truncate(110);
            set16(b, 16, 0x7000 | 94)
        }),
        DropReason::TruncatedFraming,
    );
    check(
        with(&data, &|b| {
            b.truncate(125);
            set16(b, 16, 0x7000 | 109)
        }),
        DropReason::TruncatedDmp,
    );
    check(
        with(&disc, &|b| {
            b.truncate(118);
            set16(b, 16, 0x7000 | 102)
        }),
        DropReason::TruncatedUniverseList,
    );
    check(
        with(&data, &|b| {
            b.push(0);
            fix_data_lengths(b)
        }),
        DropReason::Oversize,
    );
    check(
        with(&sync, &|b| {
            b.push(0);
            set16(b, 16, 0x7000 | 34);
            set16(b, 38, 0x7000 | 12)
        }),
        DropReason::Oversize,
    );
    check(vec![0u8; MAX_PACKET_LEN + 1], DropReason::Oversize);
    check(
        with(&data, &|b| set16(b, 0, 0x0011)),
        DropReason::BadPreamble,
    );
    check(
        with(&data, &|b| set16(b, 2, 0x0001)),
        DropReason::BadPostamble,
    );
    check(with(&data, &|b| b[12] = b'8'), DropReason::BadAcnIdentifier);
    check(with(&data, &|b| b[15] = 1), DropReason::BadAcnIdentifier);
    check(with(&data, &|b| b[16] = 0x62), DropReason::BadRootFlags);
    check(
        with(&data, &|b| set16(b, 16, 0x7000 | 621)),
        DropReason::BadRootLength,
    );
    check(with(&data, &|b| b[21] = 5), DropReason::UnknownRootVector);
    check(with(&data, &|b| b[38] = 0x32), DropReason::BadFramingFlags);
    check(with(&sync, &|b| b[38] = 0xf0), DropReason::BadFramingFlags);
    check(with(&disc, &|b| b[38] = 0x00), DropReason::BadFramingFlags);
    check(
        with(&data, &|b| set16(b, 38, 0x7000 | 599)),
        DropReason::BadFramingLength,
    );
    check(
        with(&sync, &|b| set16(b, 38, 0x7000 | 12)),
        DropReason::BadFramingLength,
    );
    check(
        with(&disc, &|b| set16(b, 38, 0x7000 | 87)),
        DropReason::BadFramingLength,
    );
    check(
        with(&data, &|b| b[43] = 4),
        DropReason::UnknownFramingVector,
    );
    check(
        with(&sync, &|b| b[43] = 3),
        DropReason::UnknownFramingVector,
    );
    check(with(&data, &|b| b[115] = 0x42), DropReason::BadDmpFlags);
    check(
        with(&data, &|b| set16(b, 115, 0x7000 | 522)),
        DropReason::BadDmpLength,
    );
    check(with(&data, &|b| b[117] = 1), DropReason::BadDmpVector);
    check(with(&data, &|b| b[118] = 0xa2), DropReason::BadAddressType);
    check(
        with(&data, &|b| set16(b, 119, 1)),
        DropReason::BadFirstAddress,
    );
    check(
        with(&data, &|b| set16(b, 121, 2)),
        DropReason::BadAddressIncrement,
    );
    check(
        with(&data, &|b| set16(b, 123, 0)),
        DropReason::PropertyCountOutOfRange,
    );
    check(
        with(&data, &|b| set16(b, 123, 514)),
        DropReason::PropertyCountOutOfRange,
    );
    check(
        with(&data, &|b| set16(b, 123, 512)),
        DropReason::PropertyCountMismatch,
    );
    check(
        with(&data, &|b| set16(b, 113, 0)),
        DropReason::UniverseOutOfRange,
    );
    check(
        with(&data, &|b| set16(b, 113, 64000)),
        DropReason::UniverseOutOfRange,
    );
    check(
        with(&data, &|b| set16(b, 113, DISCOVERY_UNIVERSE)),
        DropReason::UniverseOutOfRange,
    );
    check(
        with(&sync, &|b| set16(b, 45, 0)),
        DropReason::BadSyncAddress,
    );
    check(
        with(&sync, &|b| set16(b, 45, 64000)),
        DropReason::BadSyncAddress,
    );
    check(
        with(&disc, &|b| b[112] = 0x60),
        DropReason::BadDiscoveryFlags,
    );
    check(
        with(&disc, &|b| set16(b, 112, 0x7000 | 15)),
        DropReason::BadDiscoveryLength,
    );
    check(with(&disc, &|b| b[117] = 2), DropReason::BadDiscoveryVector);
    check(
        with(&disc, &|b| {
            b[118] = 1;
            b[119] = 0
        }),
        DropReason::DiscoveryPageAfterLast,
    );
    check(
        with(&disc, &|b| {
            b.push(0);
            fix_discovery_lengths(b)
        }),
        DropReason::BadDiscoveryListLength,
    );
    check(
        with(&disc, &|b| set16(b, 122, 0)),
        DropReason::DiscoveryListNotAscending,
    );

    for r in DropReason::ALL {
        assert!(seen[r.index()], "no test packet for {}", r.as_str());
    }
}

#[test]
fn edge_values_are_accepted() {
    fn ok(b: &[u8]) -> Packet<'_> {
        Packet::parse(b).expect("valid packet rejected")
    }
    let mut b = ref_data();
    b[108] = 200;
    set16(&mut b, 113, 63999);
    set16(&mut b, 109, 63999);
    b[125] = START_CODE_PER_ADDRESS_PRIORITY;
    let Packet::Data(p) = ok(&b) else { panic!() };
    assert_eq!(
        (p.priority(), p.universe(), p.sync_address()),
        (200, 63999, 63999)
    );
    assert_eq!(p.start_code(), 0xDD);
    // Zero slots: start code only.
    let mut b = ref_data();
    b.truncate(126);
    fix_data_lengths(&mut b);
    let Packet::Data(p) = ok(&b) else { panic!() };
    assert!(p.slots().is_empty());
    // 64-byte name without NUL: read all 64 bytes rather than drop.
    let mut b = ref_data();
    b[44..108].fill(b'a');
    let Packet::Data(p) = ok(&b) else { panic!() };
    assert_eq!(p.source_name().len(), 64);
    // Empty discovery page and duplicate entries.
    let mut b = ref_discovery();
    b.truncate(120);
    fix_discovery_lengths(&mut b);
    let Packet::Discovery(p) = ok(&b) else {
        panic!()
    };
    assert_eq!(p.universes().count(), 0);
    let mut b = ref_discovery();
    set16(&mut b, 122, 1);
    ok(&b);
}

/// MIDIMonster's data packet as every release (v0.2 to v0.6) sends it: `sacn_transmit` fills
/// a packed struct with root length 0x26e, framing length 0x258 (both right) and DMP length
/// 0x205 (517; right is 0x20b), 513 properties, options 0, sync address 0.
fn midimonster_data(priority: u8, universe: u16, levels: &[u8; 512]) -> Vec<u8> {
    let mut b = Vec::with_capacity(638);
    b.extend_from_slice(&[0x00, 0x10, 0x00, 0x00]);
    b.extend_from_slice(b"ASC-E1.17\0\0\0");
    b.extend_from_slice(&(0x7000u16 | 0x026e).to_be_bytes());
    b.extend_from_slice(&4u32.to_be_bytes());
    b.extend_from_slice(&CID.0);
    b.extend_from_slice(&(0x7000u16 | 0x0258).to_be_bytes());
    b.extend_from_slice(&2u32.to_be_bytes());
    let mut name = [0u8; 64];
    name[..11].copy_from_slice(b"MIDIMonster");
    b.extend_from_slice(&name);
    b.push(priority);
    b.extend_from_slice(&[0, 0, 7, 0]); // sync address, sequence, options
    b.extend_from_slice(&universe.to_be_bytes());
    b.extend_from_slice(&(0x7000u16 | 0x0205).to_be_bytes());
    b.extend_from_slice(&[0x02, 0xa1, 0, 0, 0, 1]);
    b.extend_from_slice(&513u16.to_be_bytes());
    b.push(0);
    b.extend_from_slice(levels);
    assert_eq!(b.len(), 638);
    b
}

fn data_of(b: &[u8]) -> DataPacket<'_> {
    match Packet::parse(b) {
        Ok(Packet::Data(p)) => p,
        other => panic!("expected a data packet, got {other:?}"),
    }
}

fn only(i: Irregularity) -> Vec<Irregularity> {
    vec![i]
}

/// (a) MIDIMonster's DMP length: accepted as if it were right, and flagged.
#[test]
fn midimonster_dmp_length_is_accepted_and_flagged() {
    let mut levels = [0u8; 512];
    levels[0] = 255;
    levels[511] = 1;
    let b = midimonster_data(100, 3, &levels);
    let p = data_of(&b);
    assert_eq!(
        p.irregularities().iter().collect::<Vec<_>>(),
        only(Irregularity::MidimonsterDmpLength)
    );
    assert_eq!((p.universe(), p.priority(), p.sequence()), (3, 100, 7));
    assert_eq!(p.source_name(), "MIDIMonster");
    assert_eq!(p.slots(), &levels[..]);
    // The same packet with the right length is regular.
    let mut fixed = b.clone();
    set16(&mut fixed, 115, 0x7000 | 523);
    assert!(data_of(&fixed).irregularities().is_empty());
    // MIDIMonster's priority is a truncated config value: 201..255 reach the wire too.
    let p2 = midimonster_data(255, 3, &levels);
    let p = data_of(&p2);
    assert_eq!(p.priority(), 200);
    assert!(
        p.irregularities()
            .contains(Irregularity::MidimonsterDmpLength)
    );
    assert!(p.irregularities().contains(Irregularity::PriorityAbove200));
}

/// Only exactly MIDIMonster's deviation is tolerated: any other wrong DMP length, or 517 in a
/// packet of another size, is still dropped.
#[test]
fn dmp_lengths_next_to_midimonsters_are_still_rejected() {
    let b = midimonster_data(100, 3, &[0; 512]);
    for wrong in [516u16, 518, 522, 524, 0x0205 - 0x100] {
        let mut v = b.clone();
        set16(&mut v, 115, 0x7000 | wrong);
        assert_eq!(reason(&v), DropReason::BadDmpLength, "DMP length {wrong}");
    }
    // The flags nibble is still checked.
    let mut v = b.clone();
    set16(&mut v, 115, 0x6000 | 0x0205);
    assert_eq!(reason(&v), DropReason::BadDmpFlags);
    // 517 in a packet one slot shorter (637 bytes, lengths otherwise right).
    let mut v = b.clone();
    v.pop();
    fix_data_lengths(&mut v);
    set16(&mut v, 115, 0x7000 | 0x0205);
    assert_eq!(reason(&v), DropReason::BadDmpLength);
    // Six short in a short packet (the same mistake at another size).
    let mut v = ref_data();
    v.truncate(134);
    fix_data_lengths(&mut v);
    set16(&mut v, 115, 0x7000 | (134 - 115 - 6));
    assert_eq!(reason(&v), DropReason::BadDmpLength);
    // MIDIMonster's other lengths must be right: a wrong framing length is not excused.
    let mut v = b.clone();
    set16(&mut v, 38, 0x7000 | 0x0257);
    assert_eq!(reason(&v), DropReason::BadFramingLength);
    // Nor is a wrong property count.
    let mut v = b.clone();
    set16(&mut v, 123, 512);
    assert_eq!(reason(&v), DropReason::PropertyCountMismatch);
}

/// (b) Padding after the last slot: the packet is what its lengths say; the rest is ignored.
#[test]
fn padding_after_the_last_slot_is_ignored_and_flagged() {
    let mut short = ref_data();
    short.truncate(134);
    fix_data_lengths(&mut short);
    for pad in [1usize, 2, 10, 504, MAX_PACKET_LEN - 134] {
        let mut v = short.clone();
        v.resize(134 + pad, 0xEE);
        let p = data_of(&v);
        assert_eq!(
            p.irregularities().iter().collect::<Vec<_>>(),
            only(Irregularity::Padded),
            "pad {pad}"
        );
        assert_eq!(p.slots().len(), 8, "pad {pad}");
        assert_eq!(p.as_bytes(), &short[..]);
    }
    // A full packet padded up to the largest datagram accepted at all.
    let mut v = ref_data();
    v.resize(MAX_PACKET_LEN, 0);
    let p = data_of(&v);
    assert_eq!(p.slots().len(), 512);
    assert!(p.irregularities().contains(Irregularity::Padded));
    // A padded MIDIMonster packet carries both.
    let mut v = midimonster_data(100, 1, &[0; 512]);
    v.extend_from_slice(&[0, 0]);
    let set = data_of(&v).irregularities();
    assert!(set.contains(Irregularity::Padded) && set.contains(Irregularity::MidimonsterDmpLength));
}

/// Datagrams longer than their root length that are not a valid data packet plus padding are
/// dropped as before.
#[test]
fn lengths_that_disagree_otherwise_are_still_rejected() {
    let mut short = ref_data();
    short.truncate(134);
    fix_data_lengths(&mut short);
    let padded = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = short.clone();
        v.resize(140, 0);
        f(&mut v);
        v
    };
    // Inner lengths cover the padding, the root length does not.
    assert_eq!(
        reason(&padded(&|b| set16(b, 38, 0x7000 | (140 - 38)))),
        DropReason::BadRootLength
    );
    assert_eq!(
        reason(&padded(&|b| set16(b, 115, 0x7000 | (140 - 115)))),
        DropReason::BadRootLength
    );
    assert_eq!(
        reason(&padded(&|b| set16(b, 123, 15))),
        DropReason::BadRootLength
    );
    // The root length covers it, the inner ones do not.
    assert_eq!(
        reason(&padded(&|b| set16(b, 16, 0x7000 | (140 - 16)))),
        DropReason::BadFramingLength
    );
    // A padded packet that is invalid on its own.
    assert_eq!(reason(&padded(&|b| b[117] = 1)), DropReason::BadRootLength);
    // Shorter than the root length says (truncated), and padded sync or discovery packets.
    assert_eq!(reason(&short[..133]), DropReason::BadRootLength);
    let mut v = ref_sync();
    v.push(0);
    assert_eq!(reason(&v), DropReason::BadRootLength);
    let mut v = ref_discovery();
    v.extend_from_slice(&[0, 0]);
    assert_eq!(reason(&v), DropReason::BadRootLength);
    // More than any receive buffer holds.
    let mut v = ref_data();
    v.resize(MAX_PACKET_LEN + 1, 0);
    assert_eq!(reason(&v), DropReason::Oversize);
}

/// (c) and (d): a priority above 200 reads as 200, a data packet's sync address above 63999 as
/// 0 (not synchronized); each flagged. Sync packets for such addresses are still dropped.
#[test]
fn priority_and_sync_address_out_of_range_are_clamped_and_flagged() {
    for (prio, want) in [(200u8, 200u8), (201, 200), (255, 200)] {
        let mut b = ref_data();
        b[108] = prio;
        let p = data_of(&b);
        assert_eq!(p.priority(), want, "priority {prio}");
        assert_eq!(
            p.irregularities().contains(Irregularity::PriorityAbove200),
            prio > 200
        );
    }
    for (sync, want) in [(63999u16, 63999u16), (64000, 0), (64214, 0), (65535, 0)] {
        let mut b = ref_data();
        set16(&mut b, 109, sync);
        let p = data_of(&b);
        assert_eq!(p.sync_address(), want, "sync address {sync}");
        assert_eq!(
            p.irregularities().iter().collect::<Vec<_>>(),
            if sync > 63999 {
                only(Irregularity::SyncAddressOutOfRange)
            } else {
                vec![]
            }
        );
    }
    let mut s = ref_sync();
    set16(&mut s, 45, 64000);
    assert_eq!(reason(&s), DropReason::BadSyncAddress);
    // The other framing fields keep their rules.
    let mut b = ref_data();
    b[108] = 255;
    set16(&mut b, 113, 64000);
    assert_eq!(reason(&b), DropReason::UniverseOutOfRange);
}
