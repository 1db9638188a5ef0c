//! Every 8-bit and every 16-bit value passes sACN → sACN through the real binary unchanged
//! (the sACN backend README: v/255×255 and v/65535×65535 are exact). Exhaustive rather than sampled: each
//! round is one input packet, and the next round starts when its output packet has been seen.
//! The mappings reorder slots and swap coarse/fine roles, so a copy of the universe would fail.
//! Input packets alternate between patchbay_sacn::wire and e131_check.py as builder.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::util::*;

struct Rig {
    pb: Patchbay,
    cap: Capture,
    disc: Capture,
    tx: RawSender,
    tool: E131,
    to: SocketAddr,
    out_cid: patchbay_sacn::Cid,
    /// Expected output of every round so far.
    wants: Vec<Vec<u8>>,
}

const IN_U: u16 = 41;
const OUT_U: u16 = 42;

fn rig(name: &str, cid_n: u8, maps: &str) -> Rig {
    guard();
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let disc = Capture::v4(SACN_PORT, Ipv4Addr::LOCALHOST, &[group_v4(64214)]);
    let port = free_port();
    let out_cid = test_cid(cid_n);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {IN_U}\nunicast = 1\n\n[sacn out]\nuniverse = {OUT_U}\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {}\n\n[map]\n{maps}",
        backend(name, out_cid, &[&format!("127.0.0.1 {port}")]),
        cap.port()
    );
    let pb = Patchbay::start(&cfg, port);
    Rig {
        pb,
        cap,
        disc,
        tx: RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(200 + cid_n)),
        tool: E131::new(),
        to: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        out_cid,
        wants: Vec::new(),
    }
}

impl Rig {
    /// Sends `input` (resending every 250 ms, as a source's keep-alive would) until the output
    /// universe equals `want`.
    fn round(&mut self, r: usize, input: &[u8], want: &[u8], first: bool) {
        self.wants.push(want.to_vec());
        let end = Instant::now() + Duration::from_secs(if first { 10 } else { 4 });
        loop {
            let p = if r.is_multiple_of(2) {
                self.tx.build(IN_U, 100, 0, input)
            } else {
                self.tx.build_e131(&mut self.tool, IN_U, 100, input)
            };
            self.tx.send_raw(self.to, &p);
            if self
                .cap
                .wait_slots(self.out_cid, OUT_U, Duration::from_millis(250), |s| {
                    s == want
                })
                .is_ok()
            {
                return;
            }
            if Instant::now() > end {
                self.pb.assert_running();
                let last = self
                    .cap
                    .data_of(self.out_cid, OUT_U)
                    .last()
                    .and_then(|c| c.data().map(|d| d.slots().to_vec()))
                    .unwrap_or_default();
                panic!(
                    "round {r}: output never matched; first differences (slot, got, want): {:?}\n--- log\n{}",
                    diff(&last, want),
                    self.pb.log()
                );
            }
        }
    }

    fn finish(mut self, what: &str) {
        let all = self.cap.all();
        assert!(
            all.iter()
                .all(|c| c.bytes.get(22..38) == Some(&self.out_cid.0[..])),
            "{what}: something other than patchbay's output reached the capture"
        );
        let d = self.disc.of_cid(self.out_cid);
        let parsed = self.tool.check_all(what, &d);
        check_discovery(&parsed, &[OUT_U], 1);
        let parsed = self.tool.check_all(what, &all);
        assert!(
            parsed
                .iter()
                .all(|p| p.kind == "data" && p.num("universe") == i64::from(OUT_U))
        );
        assert_consecutive(what, &all);
        // Coalescing: the hundreds of events of one input packet leave in one output packet, so
        // no packet ever shows a half-applied round.
        for (i, c) in all.iter().enumerate() {
            let s = c.data().unwrap().slots().to_vec();
            assert!(
                self.wants.contains(&s),
                "{what}: output packet {i} is no round's complete state (partial batch?)"
            );
        }
        self.pb.assert_running();
    }
}

/// Pseudo-random bytes (xorshift32), the same on every run.
fn xorshift(x: &mut u32) -> u8 {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    *x as u8
}

#[test]
fn every_8bit_value_passes_unchanged() {
    // in.i > out.(513 - i): reversed, so the universe is not merely copied.
    let maps: String = (1..=512)
        .map(|i| format!("in.{i} > out.{}\n", 513 - i))
        .collect();
    let mut rig = rig("values8", 41, &maps);
    // Rounds 0..4: slot i carries (i + 67 r) mod 256, so every value 0..=255 appears at two slots
    // in each round and every slot sees four different values; then pseudo-random rounds.
    let mut rounds: Vec<Vec<u8>> = (0..4u32)
        .map(|r| (0..512u32).map(|i| ((i + 67 * r) % 256) as u8).collect())
        .collect();
    let mut x: u32 = 0x9e37_79b9;
    for _ in 0..8 {
        rounds.push((0..512).map(|_| xorshift(&mut x)).collect());
    }
    rounds.push(vec![255; 512]);
    rounds.push(vec![0; 512]);
    for (r, input) in rounds.iter().enumerate() {
        let want: Vec<u8> = (0..512).map(|i| input[511 - i]).collect();
        rig.round(r, input, &want, r == 0);
    }
    rig.finish("8-bit values");
}

/// Wide channel k (0..256) reads in.(2k+1)+(2k+2); even k write out.(2k+1)+(2k+2), odd k write
/// out.(2k+2)+(2k+1) (coarse on the higher slot). 256 rounds × 256 channels cover all 65,536 values:
/// round r gives channel k the value ((256 r + k) × 40503) mod 65536, a bijection.
#[test]
fn every_16bit_value_passes_unchanged() {
    let maps: String = (0..256u32)
        .map(|k| {
            let (c, f) = (2 * k + 1, 2 * k + 2);
            if k.is_multiple_of(2) {
                format!("in.{c}+{f} > out.{c}+{f}\n")
            } else {
                format!("in.{c}+{f} > out.{f}+{c}\n")
            }
        })
        .collect();
    let mut rig = rig("values16", 42, &maps);
    let mut seen = vec![false; 65536];
    for r in 0..256u32 {
        let mut input = vec![0u8; 512];
        let mut want = vec![0u8; 512];
        for k in 0..256u32 {
            let v = ((256 * r + k) * 40503 % 65536) as u16;
            seen[usize::from(v)] = true;
            let [hi, lo] = v.to_be_bytes();
            let (c, f) = (2 * k as usize, 2 * k as usize + 1);
            input[c] = hi;
            input[f] = lo;
            if k.is_multiple_of(2) {
                want[c] = hi;
                want[f] = lo;
            } else {
                want[f] = hi;
                want[c] = lo;
            }
        }
        rig.round(r as usize, &input, &want, r == 0);
    }
    assert!(
        seen.iter().all(|s| *s),
        "the rounds cover every 16-bit value"
    );
    rig.finish("16-bit values");
}

/// Slot-for-slot mappings travel as frame copies, everything else as events; both at once, on
/// one universe: a copied block, one input copied to two outputs, two inputs into one output
/// (fan-in: the later event wins, so this one must stay an event), and a wide channel.
#[test]
fn frame_copies_and_events_mix_on_one_universe() {
    let maps = "in.{1..100} > out.{1..100}\nin.5 > out.500\nin.200 > out.300\nin.201 > out.300\n\
                in.400+401 > out.400+401\n";
    let mut rig = rig("mixed", 43, maps);
    let mut x: u32 = 0x1234_5678;
    for r in 0..12u32 {
        let mut input: Vec<u8> = (0..512).map(|_| xorshift(&mut x)).collect();
        // Fan-in: in even rounds both inputs change and slot 201's event comes after slot
        // 200's; in odd rounds only slot 200 changes, so it wins although slot 201 (unchanged,
        // but present in the frame) comes later. A frame copy would get odd rounds wrong.
        input[199] = (2 * r + 1) as u8;
        input[200] = if r % 2 == 0 {
            (2 * r + 2) as u8
        } else {
            2 * r as u8
        };
        let mut want = vec![0u8; 512];
        want[..100].copy_from_slice(&input[..100]);
        want[499] = input[4];
        want[299] = if r % 2 == 0 { input[200] } else { input[199] };
        want[399] = input[399];
        want[400] = input[400];
        rig.round(r as usize, &input, &want, r == 0);
    }
    rig.finish("mixed routes");
}
