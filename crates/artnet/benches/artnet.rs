//! Art-Net hot paths: parsing an ArtDmx, and the receiver taking one in (parse, source and
//! sequence checks, merge, change set) for the common case of one source per universe and for
//! a two-source HTP merge. Run: `cargo bench -p patchbay-artnet --bench artnet`.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use patchbay_artnet::receiver::{Receiver, ReceiverConfig};
use patchbay_artnet::wire::MAX_DMX_PACKET_LEN;
use patchbay_artnet::{DmxHeader, Packet, PortAddress, write_dmx};

fn main() {
    divan::main();
}

const A: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 6454);
const B: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 6454);

fn universe() -> PortAddress {
    PortAddress::from_parts(0, 0, 1).expect("valid")
}

/// 255 full-universe packets numbered 1..=255 so none is dropped as late; `levels(k)` gives
/// packet k's slot value.
fn packets(levels: impl Fn(u8) -> u8) -> Vec<Vec<u8>> {
    (1..=255u8)
        .map(|seq| {
            let mut buf = vec![0u8; MAX_DMX_PACKET_LEN];
            let h = DmxHeader {
                sequence: seq,
                physical: 0,
                address: universe(),
            };
            write_dmx(&mut buf, &h, &[levels(seq); 512]).expect("packet");
            buf
        })
        .collect()
}

#[divan::bench]
fn parse_artdmx_512(bencher: divan::Bencher) {
    let bufs = packets(|k| k);
    let mut k = 0usize;
    bencher.bench_local(|| {
        let b = &bufs[k % bufs.len()];
        k += 1;
        match Packet::parse(divan::black_box(b)) {
            Ok(Packet::Dmx(p)) => p.slots().len(),
            _ => 0,
        }
    });
}

fn receiver_bench(bencher: divan::Bencher, sources: &[SocketAddrV4], levels: fn(u8) -> u8) {
    let bufs = packets(levels);
    let mut rx = Receiver::new(ReceiverConfig::default());
    rx.add_universe(universe()).expect("add");
    let now = Instant::now();
    // Warm up: every source known, every buffer allocated.
    for s in sources {
        for b in &bufs {
            let _ = rx.handle_datagram(now, *s, b);
        }
    }
    while rx.poll_changed().is_some() {}
    while rx.poll_event().is_some() {}
    let mut k = 0usize;
    bencher.bench_local(|| {
        // Each source sends the same sequence of frames; consecutive packets alternate sources.
        let b = &bufs[(k / sources.len()) % bufs.len()];
        let from = sources[k % sources.len()];
        k += 1;
        let r = rx.handle_datagram(now, from, divan::black_box(b)).is_ok();
        (r, rx.poll_changed())
    });
}

/// One source, every slot changes in every packet (512 changes reported).
#[divan::bench]
fn receiver_one_source_all_change(bencher: divan::Bencher) {
    receiver_bench(bencher, &[A], |k| k);
}

/// One source repeating its levels (keep-alive): nothing changes.
#[divan::bench]
fn receiver_one_source_unchanged(bencher: divan::Bencher) {
    receiver_bench(bencher, &[A], |_| 77);
}

/// Two sources merged HTP, every slot changing: each packet recomputes the 512-slot merge.
#[divan::bench]
fn receiver_two_sources_htp_merge(bencher: divan::Bencher) {
    receiver_bench(bencher, &[A, B], |k| k.wrapping_mul(37));
}
