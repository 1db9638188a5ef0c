//! Golden packets (written out from the Art-Net 4 field tables and MIDIMonster's packed
//! structs), one malformed packet per [`DropReason`], and parse ∘ build = identity.

use std::net::Ipv4Addr;

use proptest::prelude::*;

use super::*;
use crate::PortAddress;

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|h| u8::from_str_radix(h, 16).expect("hex"))
        .collect()
}

fn addr(net: u8, sub: u8, uni: u8) -> PortAddress {
    PortAddress::from_parts(net, sub, uni).expect("valid")
}

fn dmx(b: &[u8]) -> DmxPacket<'_> {
    match Packet::parse(b) {
        Ok(Packet::Dmx(p)) => p,
        other => panic!("not ArtDmx: {other:?}"),
    }
}

/// MIDIMonster's `artnet_transmit` for `net = 1`, `universe = 0x23`, sequence 7: ID, OpDmx
/// (0x5000, low byte first), ProtVer 14 (high byte first), sequence, physical 0, SubUni, Net,
/// Length 512 (high byte first), 512 slots.
fn midimonster_dmx() -> Vec<u8> {
    let mut v = hex("41 72 74 2d 4e 65 74 00  00 50  00 0e  07 00 23 01  02 00  ff 80");
    v.resize(18 + 512, 0);
    v
}

#[test]
fn artdmx_golden() {
    let mut buf = [0u8; MAX_DMX_PACKET_LEN];
    let mut slots = [0u8; 512];
    slots[..2].copy_from_slice(&[255, 128]);
    let h = DmxHeader {
        sequence: 7,
        physical: 0,
        address: PortAddress::from_net_sub_uni(1, 0x23).expect("valid"),
    };
    let n = write_dmx(&mut buf, &h, &slots).expect("build");
    assert_eq!(&buf[..n], &midimonster_dmx()[..]);

    let p = dmx(&buf[..n]);
    assert_eq!(p.port_address(), addr(1, 2, 3));
    assert_eq!((p.sequence(), p.physical(), p.length()), (7, 0, 512));
    assert_eq!((p.protocol_version(), p.quirks()), (14, Quirks::NONE));
    assert_eq!(&p.slots()[..3], &[255, 128, 0]);
}

#[test]
fn artdmx_short_and_odd() {
    let mut buf = [0u8; MAX_DMX_PACKET_LEN];
    let h = DmxHeader {
        sequence: 1,
        physical: 2,
        address: addr(0, 0, 1),
    };
    // Three slots go out as Length 4, the fourth slot 0.
    let n = write_dmx(&mut buf, &h, &[1, 2, 3]).expect("build");
    assert_eq!(
        &buf[..n],
        &hex("41 72 74 2d 4e 65 74 00 00 50 00 0e 01 02 01 00 00 04 01 02 03 00")[..]
    );
    assert_eq!(write_dmx(&mut buf, &h, &[]), Err(BuildError::SlotCount(0)));
    assert_eq!(
        write_dmx(&mut buf, &h, &[0; 513]),
        Err(BuildError::SlotCount(513))
    );
    assert_eq!(
        write_dmx(&mut buf[..21], &h, &[1, 2, 3, 4]),
        Err(BuildError::BufferTooSmall {
            needed: 22,
            available: 21
        })
    );

    // A sender that writes Length 3 with three slots: accepted, all three used.
    let odd = hex("41 72 74 2d 4e 65 74 00 00 50 00 0e 00 00 05 00 00 03 0a 0b 0c");
    let p = dmx(&odd);
    assert_eq!(p.slots(), &[10, 11, 12]);
    assert_eq!(p.quirks(), Quirks::NONE.with(Quirk::OddLength));
    // Bytes after the data are ignored.
    let mut long = odd.clone();
    long.extend_from_slice(&[0xee; 5]);
    let p = dmx(&long);
    assert_eq!(p.slots(), &[10, 11, 12]);
    assert!(p.quirks().contains(Quirk::TrailingBytes));
    assert_eq!(Packet::parse(&long).map(|p| p.quirks()), Ok(p.quirks()));
}

#[test]
fn artsync_golden() {
    let mut buf = [0u8; 16];
    let n = write_sync(&mut buf).expect("build");
    // pyartnet and stupidArtnet send exactly these bytes.
    let golden = hex("41 72 74 2d 4e 65 74 00 00 52 00 0e 00 00");
    assert_eq!(&buf[..n], &golden[..]);
    match Packet::parse(&golden) {
        Ok(Packet::Sync(s)) => assert_eq!((s.aux(), s.protocol_version()), ([0, 0], 14)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn artpoll_golden() {
    let mut buf = [0u8; 32];
    let n = write_poll(
        &mut buf,
        &Poll {
            flags: poll_flags::REPLY_ON_CHANGE,
            diag_priority: 0,
            target: None,
        },
    )
    .expect("build");
    let golden = hex("41 72 74 2d 4e 65 74 00 00 20 00 0e 02 00 00 00 00 00 00 00 00 00");
    assert_eq!(&buf[..n], &golden[..]);

    let n = write_poll(
        &mut buf,
        &Poll {
            flags: 0,
            diag_priority: 0x10,
            target: Some((addr(0, 0, 1), addr(1, 0, 0))),
        },
    )
    .expect("build");
    let targeted = hex("41 72 74 2d 4e 65 74 00 00 20 00 0e 20 10 01 00 00 01 00 00 00 00");
    assert_eq!(&buf[..n], &targeted[..]);
    match Packet::parse(&targeted) {
        Ok(Packet::Poll(p)) => {
            assert!(p.is_targeted());
            assert_eq!((p.target_bottom(), p.target_top()), (1, 256));
            assert!(p.wants(addr(0, 0, 1)) && p.wants(addr(1, 0, 0)));
            assert!(!p.wants(addr(0, 0, 0)) && !p.wants(addr(1, 0, 1)));
        }
        other => panic!("{other:?}"),
    }

    // OLA's and MIDIMonster's 14-byte ArtPoll (Art-Net 3 layout): every node replies.
    let ola = hex("41 72 74 2d 4e 65 74 00 00 20 00 0e 02 00");
    let p = Packet::parse(&ola).expect("legacy poll");
    assert_eq!(p.quirks(), Quirks::NONE.with(Quirk::LegacyPoll));
    match p {
        Packet::Poll(p) => {
            assert_eq!(
                (p.flags(), p.target_top(), p.esta_manufacturer()),
                (2, 0, 0)
            );
            assert!(p.wants(PortAddress::MAX));
        }
        other => panic!("{other:?}"),
    }
}

fn reply_fields() -> PollReply<'static> {
    PollReply {
        ip: Ipv4Addr::new(10, 0, 0, 1),
        version_info: 0x0102,
        oem: 0x2b93,
        status1: status::STATUS1_INDICATORS_NORMAL | status::STATUS1_ADDRESS_LOCAL,
        esta_manufacturer: 0x4653,
        short_name: "desk",
        long_name: "patchbay - desk",
        report: NodeReport {
            code: status::REPORT_POWER_OK,
            counter: 3,
            text: "ok",
        },
        style: status::STYLE_NODE,
        mac: [2, 0, 0, 0, 0, 1],
        bind_ip: Ipv4Addr::new(10, 0, 0, 1),
        bind_index: 1,
        status2: status::STATUS2_PORT_ADDRESS_15BIT,
    }
}

/// The Art-Net 4 ArtPollReply field table, written out for `reply_fields()` and two ports
/// of net 1, sub-net 2: universe 3 taken in (output port), universe 4 both ways.
fn reply_golden() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(b"Art-Net\0");
    v.extend_from_slice(&[0x00, 0x21]); // OpPollReply, low byte first
    v.extend_from_slice(&[10, 0, 0, 1]); // IP
    v.extend_from_slice(&[0x36, 0x19]); // port 6454, low byte first
    v.extend_from_slice(&[0x01, 0x02]); // VersInfo
    v.extend_from_slice(&[1, 2]); // NetSwitch, SubSwitch
    v.extend_from_slice(&[0x2b, 0x93]); // OEM, high byte first
    v.extend_from_slice(&[0, 0xd0]); // UBEA, Status1
    v.extend_from_slice(&[0x53, 0x46]); // ESTA "FS", low byte first
    let mut short = [0u8; 18];
    short[..4].copy_from_slice(b"desk");
    v.extend_from_slice(&short);
    let mut long = [0u8; 64];
    long[..15].copy_from_slice(b"patchbay - desk");
    v.extend_from_slice(&long);
    let mut report = [0u8; 64];
    report[..15].copy_from_slice(b"#0001 [0003] ok");
    v.extend_from_slice(&report);
    v.extend_from_slice(&[0, 2]); // NumPorts
    v.extend_from_slice(&[0x80, 0xc0, 0, 0]); // PortTypes
    v.extend_from_slice(&[0x08, 0x00, 0, 0]); // GoodInput: port 1 has no input
    v.extend_from_slice(&[0x80, 0x08, 0, 0]); // GoodOutputA (set by the test)
    v.extend_from_slice(&[0, 4, 0, 0]); // SwIn
    v.extend_from_slice(&[3, 4, 0, 0]); // SwOut
    v.extend_from_slice(&[0, 0, 0]); // AcnPriority, SwMacro, SwRemote
    v.extend_from_slice(&[0, 0, 0]); // spare
    v.push(0); // Style
    v.extend_from_slice(&[2, 0, 0, 0, 0, 1]); // MAC
    v.extend_from_slice(&[10, 0, 0, 1]); // BindIp
    v.extend_from_slice(&[1, 0x08]); // BindIndex, Status2
    v.extend_from_slice(&[0x80, 0x80, 0, 0]); // GoodOutputB
    v.push(0); // Status3
    v.resize(239, 0); // DefaultRespUID, User, RefreshRate, filler
    v
}

#[test]
fn artpollreply_golden() {
    let mut ports = [
        Port::new(addr(1, 2, 3), true, false),
        Port::new(addr(1, 2, 4), true, true),
    ];
    ports[0].good_output_a = status::GOOD_OUTPUT_DATA;
    ports[1].good_output_a = status::GOOD_OUTPUT_MERGING;
    let mut buf = [0u8; 300];
    let n = write_poll_reply(&mut buf, &reply_fields(), &ports).expect("build");
    assert_eq!(n, POLL_REPLY_PACKET_LEN);
    assert_eq!(&buf[..n], &reply_golden()[..]);

    let r = match Packet::parse(&buf[..n]) {
        Ok(Packet::PollReply(r)) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (r.ip(), r.port(), r.version_info()),
        (Ipv4Addr::new(10, 0, 0, 1), 6454, 0x0102)
    );
    assert_eq!(
        (r.oem(), r.esta_manufacturer(), r.status1()),
        (0x2b93, 0x4653, 0xd0)
    );
    assert_eq!(
        (r.short_name(), r.long_name()),
        ("desk".into(), "patchbay - desk".into())
    );
    assert_eq!(
        NodeReport::parse(r.node_report_bytes()),
        Some(NodeReport {
            code: 1,
            counter: 3,
            text: "ok"
        })
    );
    let got: Vec<_> = r.ports().collect();
    assert_eq!(got.len(), 2);
    assert!(got[0].is_output() && !got[0].is_input());
    assert!(got[1].is_output() && got[1].is_input());
    assert_eq!(got[0].output_address, addr(1, 2, 3));
    assert_eq!(
        (got[1].input_address, got[1].output_address),
        (addr(1, 2, 4), addr(1, 2, 4))
    );
    assert_eq!(
        (r.bind_ip(), r.bind_index(), r.status2()),
        (Ipv4Addr::new(10, 0, 0, 1), 1, 8)
    );
    assert_eq!(r.mac(), [2, 0, 0, 0, 0, 1]);
}

/// MIDIMonster's `artnet_process_poll` reply for instance "in" on `net = 2`, `universe = 0x35`,
/// announced as 192.168.1.9, with a destination set (so it also outputs), after data came in:
/// its packed `artnet_poll_reply` struct written out field by field.
fn midimonster_reply() -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(b"Art-Net\0");
    v.extend_from_slice(&[0x00, 0x21]); // htobe16(0x0021)
    v.extend_from_slice(&[192, 168, 1, 9]); // ip4
    v.extend_from_slice(&[0x36, 0x19]); // port, htole16(6454)
    v.extend_from_slice(&[0, 0]); // firmware
    v.extend_from_slice(&[0x02, 0x03]); // port_address = htobe16(net << 8 | uni >> 4)
    v.extend_from_slice(&[0x2b, 0x93]); // oem
    v.extend_from_slice(&[0, 0xd0]); // bios_version, status
    v.extend_from_slice(&[0x53, 0x46]); // manufacturer, htole16(0x4653)
    let mut short = [0u8; 18];
    short[..2].copy_from_slice(b"in");
    v.extend_from_slice(&short);
    let mut long = [0u8; 64];
    long[..16].copy_from_slice(b"MIDIMonster - in");
    v.extend_from_slice(&long);
    v.extend_from_slice(&[0u8; 64]); // report: MIDIMonster leaves it empty
    v.extend_from_slice(&[0, 1]); // ports
    v.extend_from_slice(&[0xc0, 0, 0, 0]); // port_types
    v.extend_from_slice(&[0x80, 0, 0, 0]); // port_in
    v.extend_from_slice(&[0x82, 0, 0, 0]); // port_out
    v.extend_from_slice(&[0x05, 0, 0, 0]); // subaddr_in
    v.extend_from_slice(&[0x05, 0, 0, 0]); // subaddr_out
    v.extend_from_slice(&[0x01, 0, 0]); // video, macro, remote
    v.extend_from_slice(&[0, 0, 0]); // spare
    v.push(0); // style
    v.extend_from_slice(&[0; 6]); // mac
    v.extend_from_slice(&[192, 168, 1, 9]); // parent_ip
    v.extend_from_slice(&[1, 0x08]); // parent_index, status2
    v.extend_from_slice(&[0xc0, 0, 0, 0]); // port_out_b
    v.push(0); // status3
    v.extend_from_slice(&[0; 21]); // spare2
    assert_eq!(v.len(), 239, "sizeof(artnet_poll_reply)");
    v
}

#[test]
fn midimonster_reply_parses() {
    let bytes = midimonster_reply();
    let r = match Packet::parse(&bytes) {
        Ok(Packet::PollReply(r)) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(r.ip(), Ipv4Addr::new(192, 168, 1, 9));
    assert_eq!((r.net_switch(), r.sub_switch()), (2, 3));
    assert_eq!(
        (r.short_name(), r.long_name()),
        ("in".into(), "MIDIMonster - in".into())
    );
    assert_eq!(NodeReport::parse(r.node_report_bytes()), None);
    let ports: Vec<_> = r.ports().collect();
    assert_eq!(ports.len(), 1);
    let p = ports[0];
    assert!(p.is_input() && p.is_output());
    let a = PortAddress::from_net_sub_uni(2, 0x35).expect("valid");
    assert_eq!((p.input_address, p.output_address), (a, a));
    assert_eq!(
        (p.good_input, p.good_output_a, p.good_output_b),
        (0x80, 0x82, 0xc0)
    );
    assert_eq!((r.acn_priority(), r.bind_index(), r.status2()), (1, 1, 8));
    assert_eq!(Packet::parse(&bytes).map(|p| p.quirks()), Ok(Quirks::NONE));

    // An Art-Net 3 era reply (207 bytes, ends after the MAC): accepted, later fields 0.
    let legacy = &bytes[..MIN_POLL_REPLY_PACKET_LEN];
    let p = Packet::parse(legacy).expect("legacy reply");
    assert_eq!(p.quirks(), Quirks::NONE.with(Quirk::LegacyPollReply));
    match p {
        Packet::PollReply(r) => {
            assert_eq!(
                (r.bind_index(), r.status2(), r.bind_ip()),
                (0, 0, Ipv4Addr::UNSPECIFIED)
            );
            assert_eq!(r.ports().next().map(|p| p.good_output_b), Some(0));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn reply_rejects_mixed_sub_nets_and_too_many_ports() {
    let mut buf = [0u8; 300];
    let ports = [
        Port::new(addr(0, 0, 1), true, false),
        Port::new(addr(0, 1, 1), true, false),
    ];
    assert_eq!(
        write_poll_reply(&mut buf, &reply_fields(), &ports),
        Err(BuildError::PortsNotInOneSubNet(
            addr(0, 0, 1),
            addr(0, 1, 1)
        ))
    );
    let five = [Port::new(addr(0, 0, 1), true, false); 5];
    assert_eq!(
        write_poll_reply(&mut buf, &reply_fields(), &five),
        Err(BuildError::TooManyPorts(5))
    );
    // No ports: a valid reply with NumPorts 0.
    let n = write_poll_reply(&mut buf, &reply_fields(), &[]).expect("build");
    match Packet::parse(&buf[..n]) {
        Ok(Packet::PollReply(r)) => assert_eq!((r.num_ports(), r.ports().count()), (0, 0)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn reply_groups_split_by_count_and_sub_net() {
    let p = |n, s, u| Port::new(addr(n, s, u), true, false);
    let ports = [
        p(0, 0, 0),
        p(0, 0, 1),
        p(0, 0, 2),
        p(0, 0, 3),
        p(0, 0, 4),
        p(0, 1, 0),
        p(2, 1, 0),
    ];
    let groups: Vec<_> = reply_groups(&ports, 4).map(|(i, g)| (i, g.len())).collect();
    assert_eq!(groups, [(1, 4), (2, 1), (3, 1), (4, 1)]);
    assert_eq!(reply_count(&ports, 4), 4);
    let singles: Vec<_> = reply_groups(&ports, 1).map(|(i, g)| (i, g.len())).collect();
    assert_eq!(singles.len(), 7);
    assert_eq!(singles[6], (7, 1));
    // No ports: one reply that describes none.
    assert_eq!(
        reply_groups(&[], 4)
            .map(|(i, g)| (i, g.len()))
            .collect::<Vec<_>>(),
        [(1, 0)]
    );
    assert_eq!(reply_count(&[], 4), 1);
    // BindIndex is one byte: at most 255 replies.
    let many: Vec<_> = (0..300u16)
        .map(|i| Port::new(PortAddress::new(i * 16).expect("valid"), true, false))
        .collect();
    assert_eq!(reply_groups(&many, 4).count(), 255);
    assert_eq!(reply_count(&many, 4), 300);
}

#[test]
fn node_report_is_cut_to_its_field() {
    let long = "x".repeat(100);
    let mut r = reply_fields();
    r.report = NodeReport {
        code: 0xabcd,
        counter: 123_456,
        text: &long,
    };
    r.short_name = "a name longer than seventeen bytes";
    r.long_name = &long;
    let mut buf = [0u8; 300];
    let n = write_poll_reply(&mut buf, &r, &[]).expect("build");
    let rep = match Packet::parse(&buf[..n]) {
        Ok(Packet::PollReply(rep)) => rep,
        other => panic!("{other:?}"),
    };
    assert_eq!(rep.short_name(), "a name longer tha");
    assert_eq!(rep.long_name_bytes().len(), 63);
    let report = NodeReport::parse(rep.node_report_bytes()).expect("report");
    assert_eq!((report.code, report.counter), (0xabcd, 3456));
    assert_eq!(rep.node_report_bytes().len(), 63);
    assert_eq!(report.text.len(), 63 - "#abcd [3456] ".len());
}

#[test]
fn names_cut_at_character_boundaries() {
    let mut r = reply_fields();
    r.short_name = "ééééééééé"; // 18 bytes: cut to 8 characters (16 bytes), not mid-character
    let mut buf = [0u8; 300];
    let n = write_poll_reply(&mut buf, &r, &[]).expect("build");
    match Packet::parse(&buf[..n]) {
        Ok(Packet::PollReply(rep)) => assert_eq!(rep.short_name(), "éééééééé"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn other_opcodes_are_recognised() {
    // ArtTimeCode and an undefined OpCode.
    for (op, class) in [
        ([0x00, 0x97], OpClass::Timecode),
        ([0x34, 0x12], OpClass::Unknown),
    ] {
        let mut b = b"Art-Net\0".to_vec();
        b.extend_from_slice(&op);
        b.extend_from_slice(&[0, 14, 1, 2, 3]);
        match Packet::parse(&b) {
            Ok(Packet::Other(o)) => assert_eq!(o.class(), class),
            other => panic!("{other:?}"),
        }
    }
}

/// One datagram per drop reason, each breaking exactly that rule.
fn malformed() -> Vec<(DropReason, Vec<u8>)> {
    let good = midimonster_dmx();
    let mut v = vec![
        (DropReason::TruncatedHeader, good[..9].to_vec()),
        (DropReason::TruncatedDmx, good[..17].to_vec()),
        (
            DropReason::TruncatedPoll,
            hex("41 72 74 2d 4e 65 74 00 00 20 00"),
        ),
        (
            DropReason::TruncatedPollReply,
            midimonster_reply()[..206].to_vec(),
        ),
        (
            DropReason::TruncatedSync,
            hex("41 72 74 2d 4e 65 74 00 00 52 00 0e 00"),
        ),
        (DropReason::TruncatedDmxData, good[..18 + 511].to_vec()),
    ];
    let mut bad_id = good.clone();
    bad_id[7] = b'!';
    v.push((DropReason::BadId, bad_id));
    let mut old = good.clone();
    old[11] = 13;
    v.push((DropReason::OldProtocolVersion, old));
    let mut old_poll = hex("41 72 74 2d 4e 65 74 00 00 20 00 0d 02 00");
    v.push((DropReason::OldProtocolVersion, old_poll.clone()));
    old_poll[8..10].copy_from_slice(&[0x00, 0x52]);
    v.push((DropReason::OldProtocolVersion, old_poll));
    let mut net = good.clone();
    net[15] = 0x80;
    v.push((DropReason::NetOutOfRange, net));
    let mut zero = good.clone();
    zero[16..18].copy_from_slice(&[0, 0]);
    v.push((DropReason::DmxLengthOutOfRange, zero));
    let mut big = good.clone();
    big[16..18].copy_from_slice(&[0x02, 0x01]);
    big.push(0);
    v.push((DropReason::DmxLengthOutOfRange, big));
    v
}

#[test]
fn every_drop_reason_has_a_datagram() {
    let cases = malformed();
    for r in DropReason::ALL {
        assert!(cases.iter().any(|(c, _)| *c == r), "no case for {r:?}");
    }
    for (reason, bytes) in cases {
        assert_eq!(Packet::parse(&bytes).map(|_| ()), Err(reason), "{reason:?}");
    }
    // A later protocol version is accepted.
    let mut newer = midimonster_dmx();
    newer[10..12].copy_from_slice(&[0, 15]);
    assert_eq!(dmx(&newer).protocol_version(), 15);
}

#[test]
fn sequence_counter_skips_zero() {
    let mut c = SequenceCounter::new();
    let seqs: Vec<u8> = (0..600).map(|_| c.next_sequence()).collect();
    assert_eq!(seqs[0], 1);
    assert_eq!(seqs[254], 255);
    assert_eq!(seqs[255], 1);
    assert!(!seqs.contains(&0));
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
        fuzz_parse(&bytes);
    }

    #[test]
    fn parse_never_panics_behind_a_valid_header(
        op in prop_oneof![Just(0x2000u16), Just(0x2100), Just(0x5000), Just(0x5200), any::<u16>()],
        tail in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut b = b"Art-Net\0".to_vec();
        b.extend_from_slice(&op.to_le_bytes());
        b.extend_from_slice(&tail);
        fuzz_parse(&b);
    }

    #[test]
    fn dmx_parse_of_build_is_identity(
        seq: u8, physical: u8, raw in 0u16..=0x7fff,
        slots in proptest::collection::vec(any::<u8>(), 1..=512),
    ) {
        let h = DmxHeader { sequence: seq, physical, address: PortAddress::new(raw).expect("15 bits") };
        let mut buf = [0u8; MAX_DMX_PACKET_LEN];
        let n = write_dmx(&mut buf, &h, &slots).expect("build");
        prop_assert_eq!(n, DMX_HEADER_LEN + slots.len() + slots.len() % 2);
        let p = dmx(&buf[..n]);
        prop_assert_eq!((p.sequence(), p.physical(), p.port_address()), (seq, physical, h.address));
        prop_assert_eq!(&p.slots()[..slots.len()], &slots[..]);
        prop_assert!(p.slots()[slots.len()..].iter().all(|&s| s == 0));
        prop_assert_eq!(p.length() % 2, 0);
        prop_assert!(p.quirks().is_empty());
    }

    #[test]
    fn reply_parse_of_build_is_identity(
        raw in 0u16..=0x7ff, count in 0usize..=4, dirs in any::<[(bool, bool); 4]>(),
        goods in any::<[[u8; 3]; 4]>(), short in "[ -~]{0,20}", long in "[ -~]{0,70}",
        counter: u32, code: u16, ip: u32, bind_index: u8,
    ) {
        let ports: Vec<Port> = (0..count)
            .map(|i| {
                let a = PortAddress::new((raw << 4) | (i as u16 * 3)).expect("15 bits");
                let [gi, ga, gb] = goods[i];
                Port { address: a, output: dirs[i].0, input: dirs[i].1, good_input: gi, good_output_a: ga, good_output_b: gb }
            })
            .collect();
        let mut r = reply_fields();
        r.short_name = &short;
        r.long_name = &long;
        r.report = NodeReport { code, counter, text: "text" };
        r.ip = Ipv4Addr::from(ip);
        r.bind_index = bind_index;
        let mut buf = [0u8; 300];
        let n = write_poll_reply(&mut buf, &r, &ports).expect("build");
        let rep = match Packet::parse(&buf[..n]) {
            Ok(Packet::PollReply(rep)) => rep,
            other => panic!("{other:?}"),
        };
        prop_assert_eq!(rep.ip(), r.ip);
        prop_assert_eq!(rep.bind_index(), bind_index);
        prop_assert_eq!(rep.short_name(), &short[..short.len().min(17)]);
        prop_assert_eq!(rep.long_name(), &long[..long.len().min(63)]);
        let report = NodeReport::parse(rep.node_report_bytes()).expect("report");
        prop_assert_eq!((report.code, report.counter, report.text), (code, counter % 10_000, "text"));
        let got: Vec<_> = rep.ports().collect();
        prop_assert_eq!(got.len(), count);
        for (g, p) in got.iter().zip(&ports) {
            prop_assert_eq!((g.is_output(), g.is_input()), (p.output, p.input));
            prop_assert_eq!((g.good_input, g.good_output_a, g.good_output_b), (p.good_input, p.good_output_a, p.good_output_b));
            if p.output { prop_assert_eq!(g.output_address, p.address); }
            if p.input { prop_assert_eq!(g.input_address, p.address); }
        }
    }
}
