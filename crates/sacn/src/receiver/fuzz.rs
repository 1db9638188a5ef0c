//! Entry point for the fuzz target and the "never panics" property test.

use std::time::{Duration, Instant};

use crate::cid::Cid;
use crate::wire::{DataHeader, Options, write_data, write_discovery, write_sync};

use super::{LossBehavior, MergeMode, Receiver, ReceiverConfig, UniverseConfig};

/// Interprets `data` as a sequence of (clock step, datagram) records and drives a [`Receiver`]
/// listening on universes 1, 2 and 7 (7 only from CID index 0), checking invariants after each
/// step.
///
/// Record layout: one mode byte, a 16-bit little-endian clock step in milliseconds (scaled ×4 when
/// mode bit 7 is set, so loss timeouts are reachable), then: mode & 3 == 0: 16-bit length and that
/// many raw bytes; 1: a data packet built from the next 8 bytes (CID index, universe, sequence,
/// options, start code, priority, sync address, slot count: 2n + (n & 1), 512 for 255) with slot
/// values from the bytes after;
/// 2: a sync packet (CID index, sequence, sync address); 3: a discovery page (CID index, page,
/// last page, count). Building valid packets lets the fuzzer reach the merge and timers quickly.
/// Mode bit 4 hands a data packet over as stale first ([`Receiver::keep_alive`]). In the first
/// byte, bit 6 selects LTP merging and bit 3 `loss = zero`.
pub fn fuzz_receiver(data: &[u8]) {
    drive(data);
}

/// The body of [`fuzz_receiver`]; returns the receiver so tests can check what was reached.
pub(crate) fn drive(data: &[u8]) -> Receiver {
    let t0 = Instant::now();
    let mode = data.first().copied().unwrap_or(0);
    let cfg = ReceiverConfig {
        own_cid: Some(Cid([0xEE; 16])),
        merge: if mode & 0x40 != 0 {
            MergeMode::Ltp
        } else {
            MergeMode::Htp
        },
        loss: if mode & 0x08 != 0 {
            LossBehavior::Zero
        } else {
            LossBehavior::Hold
        },
        max_sources_per_universe: 4,
        max_sync_streams: 4,
        event_capacity: 64,
        ..ReceiverConfig::default()
    };
    let zero = cfg.loss == LossBehavior::Zero;
    let mut rx = Receiver::new(cfg);
    for u in [1u16, 2, 7] {
        let from = (u == 7).then_some(Cid([1; 16]));
        let _ = rx.add_universe(t0, u, UniverseConfig { from });
    }
    let mut now = t0;
    let mut buf = [0u8; 1200];
    let mut rest = data;
    let mut list = [0u16; 600];
    while rest.len() >= 3 {
        let mode = rest[0];
        let step = u64::from(u16::from_le_bytes([rest[1], rest[2]]));
        let step = if mode & 0x80 != 0 { step * 4 } else { step };
        rest = &rest[3..];
        now += Duration::from_millis(step);
        let take = |rest: &mut &[u8], n: usize| -> Vec<u8> {
            let n = n.min(rest.len());
            let (a, b) = rest.split_at(n);
            *rest = b;
            a.to_vec()
        };
        let len = match mode & 3 {
            0 => {
                let h = take(&mut rest, 2);
                let n = if h.len() == 2 {
                    usize::from(u16::from_le_bytes([h[0], h[1]])) % 1200
                } else {
                    0
                };
                let raw = take(&mut rest, n);
                buf[..raw.len()].copy_from_slice(&raw);
                raw.len()
            }
            1 => {
                let f = take(&mut rest, 8);
                let g = |i: usize| f.get(i).copied().unwrap_or(0);
                let cid = Cid([g(0) % 5 + 1; 16]);
                let n = match g(7) {
                    255 => 512,
                    c => usize::from(c) * 2 + usize::from(c & 1),
                };
                let slots = take(&mut rest, n.min(512));
                let h = DataHeader {
                    cid: if g(0) == 0xFF { Cid([0xEE; 16]) } else { cid },
                    source_name: "fuzz",
                    priority: g(5) % 201,
                    sync_address: u16::from(g(6) % 4) * 7,
                    sequence: g(2),
                    options: Options::from_bits(g(3)),
                    universe: [1, 2, 7, 3][usize::from(g(1) % 4)],
                    start_code: match g(4) % 4 {
                        0 | 1 => 0x00,
                        2 => 0xDD,
                        _ => g(4),
                    },
                };
                write_data(&mut buf, &h, &slots).unwrap_or(0)
            }
            2 => {
                let f = take(&mut rest, 3);
                let g = |i: usize| f.get(i).copied().unwrap_or(0);
                write_sync(
                    &mut buf,
                    Cid([g(0) % 5 + 1; 16]),
                    g(1),
                    u16::from(g(2) % 3 + 1) * 7,
                )
                .unwrap_or(0)
            }
            _ => {
                let f = take(&mut rest, 4);
                let g = |i: usize| f.get(i).copied().unwrap_or(0);
                let (page, last) = (g(1) % 3, g(2) % 3);
                let count = usize::from(g(3)) * 2 % 513;
                for (k, u) in list[..count].iter_mut().enumerate() {
                    *u = k as u16 + 1;
                }
                write_discovery(
                    &mut buf,
                    Cid([g(0) % 5 + 1; 16]),
                    "fuzz",
                    page.min(last),
                    last,
                    &list[..count],
                )
                .unwrap_or(0)
            }
        };
        let before = rx.poll_timeout();
        // Mode bit 4: a stale datagram, as a reader far behind its input hands it over.
        let stale = match crate::wire::Packet::parse(&buf[..len]) {
            Ok(crate::wire::Packet::Data(p)) if mode & 0x10 != 0 => rx.keep_alive(now, &p),
            _ => false,
        };
        if !stale {
            let _ = rx.handle_datagram(now, &buf[..len]);
        }
        if mode & 0x20 != 0 {
            rx.handle_timeout(now);
            if let Some(t) = rx.poll_timeout() {
                assert!(
                    t > now || before.is_none_or(|b| b > now),
                    "timer due after handle_timeout"
                );
            }
        }
        while let Some((u, changes)) = rx.poll_changed() {
            let uni = rx.universe(u);
            assert!(uni.is_some(), "changed universe must exist");
            for i in changes.iter() {
                assert!(i < 512);
            }
        }
        while rx.poll_event().is_some() {}
        for u in [1u16, 2, 7] {
            if let Some(r) = rx.universe(u) {
                assert!(r.source_count() <= 4, "source bound");
                if let Err(e) = r.verify_merge() {
                    panic!("universe {u}: {e}");
                }
                for i in 0..512 {
                    match r.winner(i).map(|c| r.source(c)) {
                        // A live winner's level is the output (0xDD never leaks in), and it
                        // drives only the slots its last levels packet carried.
                        Some(Some(s)) => {
                            assert_eq!(s.levels[i], r.slots()[i], "winner level");
                            assert!(i < s.slot_count, "slot {i} beyond its winner's packet");
                        }
                        Some(None) => assert!(r.is_settling_loss(), "winner is tracked"),
                        // Undriven with `loss = zero`: 0 (all slots are 0 while sampling).
                        None if zero => {
                            assert_eq!(r.slots()[i], 0, "undriven slot {i} with loss = zero")
                        }
                        None => {}
                    }
                }
            }
        }
    }
    // Far in the future every source is gone.
    let end = now + Duration::from_secs(60);
    rx.handle_timeout(end);
    for u in [1u16, 2, 7] {
        if let Some(r) = rx.universe(u) {
            assert_eq!(r.source_count(), 0, "all sources lost after 60 s");
        }
    }
    assert!(rx.discovery().is_empty(), "discovery expired after 60 s");
    rx
}
