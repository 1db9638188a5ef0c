//! Receiver hot paths: one source per universe at 44 fps is the daemon's common case.
//!
//! Targets (issue): one source, all 512 slots changed: merge + change set ≤ 500 ns per packet;
//! unchanged packet ≤ 150 ns. Run: `cargo bench -p patchbay-sacn --bench receiver`.

use std::time::{Duration, Instant};

use patchbay_sacn::cid::Cid;
use patchbay_sacn::receiver::{
    EventQueue, Receiver, ReceiverConfig, SyncStatus, UniverseConfig, UniverseReceiver,
};
use patchbay_sacn::wire::{DataHeader, DataPacket, Options, Packet, write_data};

fn main() {
    divan::main();
}

fn config() -> ReceiverConfig {
    ReceiverConfig {
        sampling_period: Duration::ZERO,
        pap_wait: Duration::ZERO,
        ..ReceiverConfig::default()
    }
}

/// 256 packets with consecutive sequence numbers so none is dropped as a duplicate;
/// `levels(seq)` gives each packet's slot value.
fn packets(cid: u8, universe: u16, levels: impl Fn(u8) -> u8) -> Vec<Vec<u8>> {
    (0..=255u8)
        .map(|seq| {
            let mut buf = vec![0u8; 638];
            let h = DataHeader {
                cid: Cid([cid; 16]),
                source_name: "bench",
                priority: 100,
                sync_address: 0,
                sequence: seq,
                options: Options::NONE,
                universe,
                start_code: 0,
            };
            write_data(&mut buf, &h, &[levels(seq); 512]).expect("packet");
            buf
        })
        .collect()
}

fn parsed(bufs: &[Vec<u8>]) -> Vec<DataPacket<'_>> {
    bufs.iter()
        .map(|b| match Packet::parse(b) {
            Ok(Packet::Data(p)) => p,
            _ => panic!("bench packet must parse"),
        })
        .collect()
}

fn universe_bench(bencher: divan::Bencher, levels: fn(u8) -> u8) {
    let bufs = packets(1, 1, levels);
    let pkts = parsed(&bufs);
    let now = Instant::now();
    let mut ev = EventQueue::new(16);
    let mut u = UniverseReceiver::new(1, now, &config(), UniverseConfig::default());
    for p in &pkts {
        let _ = u.handle_data(now, p, SyncStatus::NotSynchronized, &mut ev);
    }
    let mut k = 0usize;
    bencher.bench_local(|| {
        let p = &pkts[k & 255];
        k += 1;
        let r = u.handle_data(
            now,
            divan::black_box(p),
            SyncStatus::NotSynchronized,
            &mut ev,
        );
        let changes = u.take_changes();
        (r, changes)
    });
}

/// One source, every packet changes all 512 slots: merge + change set.
#[divan::bench]
fn universe_all_slots_changed(bencher: divan::Bencher) {
    universe_bench(bencher, |seq| if seq % 2 == 0 { 0x11 } else { 0xEE });
}

/// One source, identical levels: the single-source compare-only path.
#[divan::bench]
fn universe_unchanged(bencher: divan::Bencher) {
    universe_bench(bencher, |_| 0x42);
}

/// Two sources at equal priority, all slots changed: the general HTP merge.
#[divan::bench]
fn universe_two_sources_htp(bencher: divan::Bencher) {
    let a = packets(1, 1, |seq| if seq % 2 == 0 { 0x11 } else { 0xEE });
    let b = packets(2, 1, |_| 0x80);
    let (pa, pb) = (parsed(&a), parsed(&b));
    let now = Instant::now();
    let mut ev = EventQueue::new(16);
    let mut u = UniverseReceiver::new(1, now, &config(), UniverseConfig::default());
    let _ = u.handle_data(now, &pb[0], SyncStatus::NotSynchronized, &mut ev);
    let mut k = 0usize;
    bencher.bench_local(|| {
        let p = &pa[k & 255];
        k += 1;
        let r = u.handle_data(
            now,
            divan::black_box(p),
            SyncStatus::NotSynchronized,
            &mut ev,
        );
        (r, u.take_changes())
    });
}

/// Full datagram path (parse, lookup among 1,000 universes, merge) for an unchanged packet.
#[divan::bench(args = [false, true])]
fn receiver_datagram_1000_universes(bencher: divan::Bencher, changing: bool) {
    let now = Instant::now();
    let mut rx = Receiver::new(config());
    for u in 1..=1000 {
        rx.add_universe(now, u, UniverseConfig::default())
            .expect("add");
    }
    let bufs = if changing {
        packets(1, 500, |seq| seq)
    } else {
        packets(1, 500, |_| 7)
    };
    for b in &bufs {
        let _ = rx.handle_datagram(now, b);
    }
    let mut k = 0usize;
    bencher.bench_local(|| {
        let b = &bufs[k & 255];
        k += 1;
        let r = rx.handle_datagram(now, divan::black_box(b));
        let c = rx.poll_changed();
        (r, c)
    });
}
