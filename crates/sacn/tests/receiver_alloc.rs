//! After warm-up the receiver must not allocate: 1,000 universes at 44 fps would otherwise hit
//! the allocator ~44,000 times a second.

use std::time::{Duration, Instant};

use patchbay_sacn::cid::Cid;
use patchbay_sacn::receiver::{Receiver, ReceiverConfig, UniverseConfig};
use patchbay_sacn::wire::{DataHeader, Options, write_data, write_discovery, write_sync};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations;

struct Traffic {
    data: Vec<Vec<u8>>,
    sync: Vec<Vec<u8>>,
    discovery: Vec<Vec<u8>>,
}

/// One frame of a show: three sources on 25 universes (one with 0xDD, one synchronized, one
/// whose packets shrink and grow, one padded now and then), a sync packet, and every 40th
/// frame a two-page discovery announcement.
fn frame(seq: u8) -> Traffic {
    let mut data = Vec::new();
    for u in 1..=25u16 {
        for (c, prio, sync, sc) in [
            (1u8, 100u8, 0u16, 0u8),
            (2, 100, 0, 0xDD),
            (2, 100, 0, 0),
            (3, 90, 900, 0),
        ] {
            let mut buf = vec![0u8; 638];
            let h = DataHeader {
                cid: Cid([c; 16]),
                source_name: "alloc",
                priority: prio,
                sync_address: sync,
                sequence: seq.wrapping_mul(2).wrapping_add(u8::from(sc == 0)),
                options: Options::NONE,
                universe: u,
                start_code: sc,
            };
            let v = seq.wrapping_add(u as u8).wrapping_mul(c);
            let count = if c == 1 {
                512 - usize::from(seq % 4) * 100
            } else {
                512
            };
            let n = write_data(&mut buf, &h, &[v; 512][..count]).expect("data");
            buf.truncate(n);
            if c == 3 && seq % 2 == 1 {
                buf.extend_from_slice(&[0; 6]);
            }
            data.push(buf);
        }
    }
    let mut s = vec![0u8; 64];
    let n = write_sync(&mut s, Cid([3; 16]), seq, 900).expect("sync");
    s.truncate(n);
    let all: Vec<u16> = (1..=1000).collect();
    let discovery = all
        .chunks(512)
        .enumerate()
        .map(|(p, chunk)| {
            let mut b = vec![0u8; 1200];
            let n =
                write_discovery(&mut b, Cid([1; 16]), "alloc", p as u8, 1, chunk).expect("disc");
            b.truncate(n);
            b
        })
        .collect();
    Traffic {
        data,
        sync: vec![s],
        discovery,
    }
}

fn run(rx: &mut Receiver, frames: &[Traffic], rounds: usize, now: &mut Instant) {
    for r in 0..rounds {
        let f = &frames[r % frames.len()];
        *now += Duration::from_millis(23);
        for d in &f.data {
            let _ = rx.handle_datagram(*now, d);
        }
        for s in &f.sync {
            let _ = rx.handle_datagram(*now, s);
        }
        if r % 40 == 0 {
            for d in &f.discovery {
                let _ = rx.handle_datagram(*now, d);
            }
        }
        if rx.poll_timeout().is_some_and(|t| t <= *now) {
            rx.handle_timeout(*now);
        }
        while let Some((u, set)) = rx.poll_changed() {
            assert!(rx.universe(u).is_some() && set.len() <= 512);
        }
        while rx.poll_event().is_some() {}
    }
}

#[test]
fn no_allocation_after_warm_up() {
    let t0 = Instant::now();
    let mut rx = Receiver::new(ReceiverConfig::default());
    for u in 1..=1000 {
        rx.add_universe(t0, u, UniverseConfig::default())
            .expect("add");
    }
    let frames: Vec<Traffic> = (0..=255u8).map(frame).collect();
    let mut now = t0;
    // Warm-up: sampling ends, sources appear, tables reach their size.
    run(&mut rx, &frames, 300, &mut now);
    let before = allocations();
    run(&mut rx, &frames, 300, &mut now);
    let used = allocations() - before;
    assert_eq!(used, 0, "allocations after warm-up");
    let u1 = rx.universe(1).expect("u1");
    assert_eq!(u1.source_count(), 3);
    assert!(
        rx.counters().data > 100_000 / 4,
        "traffic was really processed"
    );
    assert_eq!(rx.discovery().len(), 1);
    assert!(rx.counters().sync > 250);
    // The counter itself works.
    let b = allocations();
    drop(std::hint::black_box(Vec::<u8>::with_capacity(8)));
    assert_eq!(allocations() - b, 1);
}
