//! Hot-path costs: validating/parsing and building a full 512-slot data packet, and one source
//! flush. Run with `cargo bench -p patchbay-sacn --bench wire`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use patchbay_sacn::wire::{DataHeader, MAX_PACKET_LEN, Options, Packet, write_data};
use patchbay_sacn::{Cid, Source, SourceConfig, UniverseConfig};

fn main() {
    divan::main();
}

fn header() -> DataHeader<'static> {
    DataHeader {
        cid: Cid([9; 16]),
        source_name: "patchbay bench source",
        priority: 100,
        sync_address: 0,
        sequence: 17,
        options: Options::NONE,
        universe: 1234,
        start_code: 0,
    }
}

#[divan::bench]
fn parse_data_512(bencher: divan::Bencher) {
    let mut buf = [0u8; MAX_PACKET_LEN];
    let n = write_data(&mut buf, &header(), &[0x55; 512]).expect("build");
    let packet = &buf[..n];
    bencher.bench_local(|| match Packet::parse(black_box(packet)) {
        Ok(Packet::Data(d)) => (d.universe(), d.sequence(), d.slots()[511]),
        _ => (0, 0, 0),
    });
}

#[divan::bench]
fn build_data_512(bencher: divan::Bencher) {
    let mut buf = [0u8; MAX_PACKET_LEN];
    let slots = [0x55u8; 512];
    let h = header();
    bencher.bench_local(|| write_data(black_box(&mut buf), black_box(&h), black_box(&slots)));
}

/// One change on one of 1,000 universes and the resulting poll_transmit calls.
#[divan::bench]
fn source_change_and_flush_1000_universes(bencher: divan::Bencher) {
    let t0 = Instant::now();
    let mut src = Source::new(Cid([9; 16]), "bench", SourceConfig::default());
    for u in 1..=1000 {
        src.add_universe(u, UniverseConfig::default()).expect("add");
    }
    let mut buf = [0u8; MAX_PACKET_LEN];
    let mut i: u64 = 0;
    bencher.bench_local(|| {
        i += 1;
        // 30 ms steps: every change is outside the rate limit and goes out at once.
        let now = t0 + Duration::from_millis(30 * i);
        let u = (i % 1000) as u16 + 1;
        let _ = src.set_slot(now, u, 0, i as u8);
        let mut n = 0;
        while src.poll_transmit(now, &mut buf).is_some() {
            n += 1;
        }
        n
    });
}
