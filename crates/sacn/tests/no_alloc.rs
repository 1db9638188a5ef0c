//! The hot paths must not allocate: parsing, building, and a source's steady state.

use std::time::{Duration, Instant};

use patchbay_sacn::wire::{DataHeader, MAX_PACKET_LEN, Options, Packet, write_data};
use patchbay_sacn::{Cid, Source, SourceConfig, UniverseConfig};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

#[test]
fn parse_and_build_do_not_allocate() {
    // The counter itself must see allocations, or the zeros below prove nothing.
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 10]))) > 0);
    let mut buf = [0u8; MAX_PACKET_LEN];
    let slots = [42u8; 512];
    let h = DataHeader {
        cid: Cid([3; 16]),
        source_name: "no alloc",
        priority: 100,
        sync_address: 0,
        sequence: 0,
        options: Options::NONE,
        universe: 1,
        start_code: 0,
    };
    let mut n = 0;
    let count = allocations_in(|| {
        for _ in 0..100 {
            n = write_data(&mut buf, &h, &slots).expect("build");
        }
    });
    assert_eq!(count, 0, "write_data allocated");
    let mut sum = 0u32;
    let count = allocations_in(|| {
        for _ in 0..100 {
            if let Ok(Packet::Data(d)) = Packet::parse(&buf[..n]) {
                // A valid UTF-8 name is borrowed, not copied.
                sum += d.source_name().len() as u32 + u32::from(d.slots()[511]);
            }
        }
    });
    assert_eq!(count, 0, "parse allocated");
    assert_eq!(sum, 100 * (8 + 42));
}

#[test]
fn source_steady_state_does_not_allocate() {
    let t0 = Instant::now();
    let mut src = Source::new(Cid([4; 16]), "steady", SourceConfig::default());
    for u in 1..=600u16 {
        let cfg = UniverseConfig {
            sync_address: if u % 2 == 0 { 7 } else { 0 },
            realtime: u % 5 == 0,
            ..UniverseConfig::default()
        };
        src.add_universe(u, cfg).expect("add");
    }
    let mut buf = [0u8; MAX_PACKET_LEN];
    let step = |src: &mut Source, buf: &mut [u8], now: Instant, i: u32| -> usize {
        let mut sent = 0;
        for u in (1..=600u16).filter(|u| u32::from(*u) % 7 == i % 7) {
            src.set_slot(now, u, (i % 512) as usize, (i % 256) as u8)
                .expect("set");
        }
        while let Some(at) = src.poll_timeout() {
            if at > now {
                break;
            }
            while src.poll_transmit(at, buf).is_some() {
                sent += 1;
            }
        }
        sent
    };
    // Warm-up: every kind of packet (change, deferred, repeat, keep-alive, sync, discovery).
    for i in 0..3000u32 {
        step(
            &mut src,
            &mut buf,
            t0 + Duration::from_millis(5 * u64::from(i)),
            i,
        );
    }
    let mut sent = 0;
    let count = allocations_in(|| {
        for i in 3000..6000u32 {
            sent += step(
                &mut src,
                &mut buf,
                t0 + Duration::from_millis(5 * u64::from(i)),
                i,
            );
        }
    });
    assert!(sent > 10_000, "steady state sent only {sent}");
    assert_eq!(count, 0, "steady-state source allocated");
}
