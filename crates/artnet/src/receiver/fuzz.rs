//! Entry point for the fuzz target and the "never panics, keeps its promises" property test.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use super::{MergeMode, Receiver, ReceiverConfig};
use crate::PortAddress;
use crate::wire::{DmxHeader, Packet, Poll, write_dmx, write_poll, write_sync};

/// The universes the fuzzed receiver listens to; ArtDmx may also name 0:0:4, which it does not.
pub(crate) const UNIVERSES: [u16; 3] = [1, 2, 0x0123];
/// Our own output address: datagrams from it are dropped.
pub(crate) const OWN: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 9), 6454);

fn source(k: u8) -> SocketAddrV4 {
    if k % 5 == 4 {
        return OWN;
    }
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, k % 5 + 1), 6454)
}

/// Interprets `data` as a sequence of (clock step, datagram) records and drives a
/// [`Receiver`] listening on three universes, checking invariants after each step.
///
/// The first byte picks the merge mode (bit 6: LTP). Record layout: one mode byte, a 16-bit
/// little-endian clock step in milliseconds (×16 when mode bit 7 is set, so the 4 s and 10 s
/// timeouts are reachable), one source byte (IP 10.0.0.1..=4, or our own address), then by
/// `mode & 3`: 0, a 16-bit length and that many raw bytes; 1, an ArtDmx built from the next 3
/// bytes (universe index, sequence, c) with 2c + 2 slot values from the bytes after; 2, an
/// ArtSync; 3, an ArtPoll. Mode bit 4 hands an ArtDmx over as stale first
/// ([`Receiver::keep_alive`]); bit 5 runs due timers after the datagram.
pub fn fuzz_receiver(data: &[u8]) {
    drive(data);
}

/// The body of [`fuzz_receiver`]; returns the receiver so tests can check what was reached.
pub(crate) fn drive(data: &[u8]) -> Receiver {
    let t0 = Instant::now();
    let merge = if data.first().is_some_and(|m| m & 0x40 != 0) {
        MergeMode::Ltp
    } else {
        MergeMode::Htp
    };
    let mut rx = Receiver::new(ReceiverConfig {
        merge,
        own_addresses: vec![OWN],
        max_sync_controllers: 2,
        event_capacity: 16,
        ..ReceiverConfig::default()
    });
    for u in UNIVERSES {
        if let Ok(a) = PortAddress::new(u) {
            let _ = rx.add_universe(a);
        }
    }
    let mut now = t0;
    let mut buf = [0u8; 1024];
    let mut rest = data.get(1..).unwrap_or_default();
    while rest.len() >= 4 {
        let mode = rest[0];
        let step = u64::from(u16::from_le_bytes([rest[1], rest[2]]));
        let step = if mode & 0x80 != 0 { step * 16 } else { step };
        let from = source(rest[3]);
        rest = &rest[4..];
        now += Duration::from_millis(step);
        let mut take = |n: usize| -> &[u8] {
            let (a, b) = rest.split_at(n.min(rest.len()));
            rest = b;
            a
        };
        let len = match mode & 3 {
            0 => {
                let h = take(2);
                let n = match h {
                    [a, b] => usize::from(u16::from_le_bytes([*a, *b])) % buf.len(),
                    _ => 0,
                };
                let raw = take(n);
                buf[..raw.len()].copy_from_slice(raw);
                raw.len()
            }
            1 => {
                let f = take(3);
                let g = |i: usize| f.get(i).copied().unwrap_or(0);
                let universe = [1u16, 2, 0x0123, 4][usize::from(g(0) % 4)];
                let n = usize::from(g(2)) * 2 + 2;
                let slots = take(n).to_vec();
                let h = DmxHeader {
                    sequence: g(1),
                    physical: 0,
                    address: PortAddress::new(universe).unwrap_or(PortAddress::ZERO),
                };
                if slots.is_empty() {
                    0
                } else {
                    write_dmx(&mut buf, &h, &slots).unwrap_or(0)
                }
            }
            2 => write_sync(&mut buf).unwrap_or(0),
            _ => write_poll(&mut buf, &Poll::default()).unwrap_or(0),
        };
        let stale = match Packet::parse(&buf[..len]) {
            Ok(Packet::Dmx(p)) if mode & 0x10 != 0 => rx.keep_alive(now, from, &p),
            _ => false,
        };
        if !stale {
            let _ = rx.handle_datagram(now, from, &buf[..len]);
        }
        if mode & 0x20 != 0 {
            rx.handle_timeout(now);
            assert!(
                rx.poll_timeout().is_none_or(|t| t > now),
                "timer due after handle_timeout"
            );
        }
        check(&mut rx);
    }
    // Far in the future every source and controller is gone and nothing is held.
    let end = now + Duration::from_secs(60);
    rx.handle_timeout(end);
    check(&mut rx);
    assert_eq!(rx.sync_controllers(end).count(), 0, "sync timed out");
    for u in rx.universes().collect::<Vec<_>>() {
        let r = rx.universe(u).expect("listed");
        assert_eq!(r.source_count(), 0, "all sources lost after 60 s");
        assert!(!r.holds_sync_data(), "nothing held after 60 s");
    }
    rx
}

fn check(rx: &mut Receiver) {
    while let Some((u, changes)) = rx.poll_changed() {
        assert!(rx.universe(u).is_some(), "changed universe must exist");
        assert!(changes.iter().all(|i| i < 512));
    }
    while rx.poll_event().is_some() {}
    for u in rx.universes().collect::<Vec<_>>() {
        let r = rx.universe(u).expect("listed");
        assert!(r.source_count() <= 2, "Art-Net merges two sources");
        assert!(
            !(r.is_merging() && r.holds_sync_data()),
            "a merging universe holds nothing for ArtSync"
        );
        assert!(
            r.sources().all(|s| s.ip != *OWN.ip()),
            "own packets never merge"
        );
        if let Err(e) = r.verify_merge() {
            panic!("universe {u}: {e}");
        }
    }
}
