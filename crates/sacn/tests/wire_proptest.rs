//! Property tests: build → parse round trips for arbitrary fields, and parsing arbitrary or
//! mutated bytes never panics.

use patchbay_sacn::Cid;
use patchbay_sacn::wire::{
    DataHeader, MAX_PACKET_LEN, Options, Packet, fuzz_parse, write_data, write_discovery,
    write_sync,
};
use proptest::prelude::*;

fn expected_name(name: &str) -> &str {
    let mut n = name.len().min(63);
    while !name.is_char_boundary(n) {
        n -= 1;
    }
    let cut = &name[..n];
    // A NUL inside the name ends it on the wire.
    cut.split('\0').next().unwrap_or("")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn data_round_trip(
        cid in any::<[u8; 16]>(),
        name in ".{0,80}",
        priority in 0u8..=200,
        sync_address in 0u16..=63999,
        sequence in any::<u8>(),
        options in any::<u8>(),
        universe in 1u16..=63999,
        start_code in any::<u8>(),
        slots in proptest::collection::vec(any::<u8>(), 0..=512),
    ) {
        let h = DataHeader {
            cid: Cid(cid), source_name: &name, priority, sync_address, sequence,
            options: Options::from_bits(options), universe, start_code,
        };
        let mut buf = [0u8; MAX_PACKET_LEN];
        let n = write_data(&mut buf, &h, &slots).expect("valid header must build");
        prop_assert_eq!(n, 126 + slots.len());
        let p = Packet::parse(&buf[..n]);
        let Ok(Packet::Data(d)) = p else { panic!("rejected: {p:?}") };
        prop_assert_eq!(d.cid(), Cid(cid));
        prop_assert_eq!(d.source_name(), expected_name(&name));
        prop_assert_eq!(d.priority(), priority);
        prop_assert_eq!(d.sync_address(), sync_address);
        prop_assert_eq!(d.sequence(), sequence);
        prop_assert_eq!(d.options().bits(), options & 0xE0);
        prop_assert_eq!(d.universe(), universe);
        prop_assert_eq!(d.start_code(), start_code);
        prop_assert_eq!(d.slots(), &slots[..]);
    }

    #[test]
    fn sync_round_trip(cid in any::<[u8; 16]>(), seq in any::<u8>(), sync in 1u16..=63999) {
        let mut buf = [0u8; 64];
        let n = write_sync(&mut buf, Cid(cid), seq, sync).expect("build");
        let Ok(Packet::Sync(s)) = Packet::parse(&buf[..n]) else { panic!("rejected") };
        prop_assert_eq!((s.cid(), s.sequence(), s.sync_address()), (Cid(cid), seq, sync));
    }

    #[test]
    fn discovery_round_trip(
        cid in any::<[u8; 16]>(),
        name in "[a-zA-Z0-9 ]{0,63}",
        pages in (any::<u8>(), any::<u8>()),
        mut list in proptest::collection::vec(any::<u16>(), 0..=512),
    ) {
        list.sort_unstable();
        let (page, last) = (pages.0.min(pages.1), pages.0.max(pages.1));
        let mut buf = [0u8; MAX_PACKET_LEN];
        let n = write_discovery(&mut buf, Cid(cid), &name, page, last, &list).expect("build");
        let Ok(Packet::Discovery(d)) = Packet::parse(&buf[..n]) else { panic!("rejected") };
        prop_assert_eq!(d.cid(), Cid(cid));
        prop_assert_eq!(d.source_name(), name.as_str());
        prop_assert_eq!((d.page(), d.last_page()), (page, last));
        prop_assert_eq!(d.universes().collect::<Vec<_>>(), list);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1300)) {
        fuzz_parse(&bytes);
    }

    /// Valid packets with a few bytes changed reach the deep checks that random bytes never do.
    #[test]
    fn parse_never_panics_on_mutated_packets(
        kind in 0u8..3,
        count in 0usize..=512,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let mut buf = vec![0u8; MAX_PACKET_LEN];
        let n = match kind {
            0 => {
                let h = DataHeader {
                    cid: Cid([1; 16]), source_name: "m", priority: 100, sync_address: 0,
                    sequence: 0, options: Options::NONE, universe: 1, start_code: 0,
                };
                write_data(&mut buf, &h, &vec![0; count]).expect("build")
            }
            1 => write_sync(&mut buf, Cid([1; 16]), 0, 1).expect("build"),
            _ => {
                let list: Vec<u16> = (0..count as u16).collect();
                write_discovery(&mut buf, Cid([1; 16]), "m", 0, 0, &list).expect("build")
            }
        };
        buf.truncate(n);
        for (at, v) in edits {
            let i = at % n;
            buf[i] = v;
        }
        if let Some(c) = cut {
            buf.truncate(c % (n + 1));
        }
        fuzz_parse(&buf);
    }
}
