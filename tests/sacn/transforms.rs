//! Value transforms (doc/config.md section 4.4) through the real binary, values checked on the
//! wire: sACN in → (loopback) → transforms → sACN out. Exactness over every value is proven by
//! the core's proptests; these show that the chains reach the edges, that transformed slots are
//! not copied as frames, and that slews and fades move in steps and end exactly in real time.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::util::*;

struct Rig {
    pb: Patchbay,
    cap: Capture,
    tx: RawSender,
    to: SocketAddr,
    out_cid: patchbay_sacn::Cid,
    in_u: u16,
    out_u: u16,
    /// Expected output of every round so far (each output packet must be one of them).
    wants: Vec<Vec<u8>>,
}

/// patchbay with input universe `in_u` (unicast on a private port) and output universe
/// `out_u` (unicast to a capture), mapped by `maps`; `extra` adds instances.
fn rig(name: &str, n: u8, in_u: u16, out_u: u16, extra: &str, maps: &str) -> Rig {
    guard();
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let port = free_port();
    let out_cid = test_cid(n);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {in_u}\nunicast = 1\n\n[sacn out]\nuniverse = {out_u}\npriority = 100\nrealtime = 1\ndestination = 127.0.0.1 {}\n\n{extra}\n[map]\n{maps}",
        backend(name, out_cid, &[&format!("127.0.0.1 {port}")]),
        cap.port()
    );
    let pb = Patchbay::start(&cfg, port);
    Rig {
        pb,
        cap,
        tx: RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(n.wrapping_add(100))),
        to: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        out_cid,
        in_u,
        out_u,
        wants: Vec::new(),
    }
}

impl Rig {
    fn send(&mut self, slots: &[u8]) {
        let p = self.tx.build(self.in_u, 100, 0, slots);
        self.tx.send_raw(self.to, &p);
    }

    /// Sends `input` (again every 250 ms, as a source's keep-alive) until the output universe
    /// equals `want`.
    fn round(&mut self, r: usize, input: &[u8], want: &[u8]) {
        self.wants.push(want.to_vec());
        let end = Instant::now() + Duration::from_secs(if r == 0 { 10 } else { 4 });
        loop {
            self.send(input);
            let matched =
                self.cap
                    .wait_slots(self.out_cid, self.out_u, Duration::from_millis(250), |s| {
                        holds(s, want)
                    });
            if matched.is_ok() {
                return;
            }
            if Instant::now() > end {
                self.pb.assert_running();
                let last = self.last_slots();
                panic!(
                    "round {r}: output never matched; first differences (slot, got, want): {:?}\n--- log\n{}",
                    diff(&last, want),
                    self.pb.log()
                );
            }
        }
    }

    fn last_slots(&self) -> Vec<u8> {
        self.cap
            .data_of(self.out_cid, self.out_u)
            .last()
            .and_then(|c| c.data().map(|d| d.slots().to_vec()))
            .unwrap_or_default()
    }

    /// Every output packet so far showed one round's complete state.
    fn finish(self, what: &str) {
        for (i, c) in self
            .cap
            .data_of(self.out_cid, self.out_u)
            .iter()
            .enumerate()
        {
            let s = c.data().map(|d| d.slots().to_vec()).unwrap_or_default();
            assert!(
                self.wants.iter().any(|w| holds(&s, w)),
                "{what}: output packet {i} is no round's state: {:?}",
                nonzero(&s)
            );
        }
        let mut pb = self.pb;
        pb.assert_running();
    }
}

/// Whether output `slots` start with `want` and are 0 after it (the output universe is as long
/// as its highest mapped slot, or longer).
fn holds(slots: &[u8], want: &[u8]) -> bool {
    slots.starts_with(want) && slots[want.len()..].iter().all(|&b| b == 0)
}

/// `scale MIN MAX` on an 8-bit value, from the definition (round half away from zero).
fn scaled(v: u8, min: f64, max: f64) -> u8 {
    let (min, max) = ((min * 1e9).round() as u64, (max * 1e9).round() as u64);
    let num = min * (255 - u64::from(v)) + max * u64::from(v);
    ((num + 500_000_000) / 1_000_000_000) as u8
}

#[test]
fn invert_and_scale_every_8bit_value_on_the_wire() {
    // Slots 1..256 carry 0..255 inverted, slots 257..512 the same values scaled into 0.2..0.8.
    // Slot-for-slot lane mappings without a chain would be frame copies: these must not be.
    let mut rig = rig(
        "transforms8",
        121,
        121,
        122,
        "",
        "in.{1..256} > out.{1..256} | invert\nin.{257..512} > out.{257..512} | scale 20% 0.8\n",
    );
    // Round 0 sets every slot to 1: a slot that stays at a universe's initial 0 is never
    // reported by sACN (it reports changes), so 0 is only seen after another value.
    let first: Vec<u8> = vec![1; 512];
    let want: Vec<u8> = (0..512)
        .map(|k| if k < 256 { 254 } else { scaled(1, 0.2, 0.8) })
        .collect();
    rig.round(0, &first, &want);
    for (r, flip) in [false, true, false].into_iter().enumerate() {
        let value = |k: usize| {
            let v = (k % 256) as u8;
            if flip { 255 - v } else { v }
        };
        let input: Vec<u8> = (0..512).map(value).collect();
        let want: Vec<u8> = (0..512)
            .map(|k| {
                if k < 256 {
                    255 - value(k)
                } else {
                    scaled(value(k), 0.2, 0.8)
                }
            })
            .collect();
        assert_eq!(
            (want[0], want[255], want[256], want[511]),
            if flip {
                (0, 255, 204, 51)
            } else {
                (255, 0, 51, 204)
            }
        );
        rig.round(r + 1, &input, &want);
    }
    rig.finish("invert and scale");
}

#[test]
fn invert_and_scale_16bit_pairs_on_the_wire() {
    // Coarse/fine pairs: invert at 16 bits, scale at 16 bits, and invert narrowed to 8 bits.
    let mut rig = rig(
        "transforms16",
        123,
        123,
        124,
        "",
        "in.1+2 > out.1+2 | invert\nin.3+4 > out.3+4 | scale 0 0.5\nin.5+6 > out.7 | invert\n",
    );
    // 1 first: a pair that stays at the universe's initial 0 is never reported (see above).
    let values: [u16; 9] = [1, 0, 255, 256, 0x1234, 0x8000, 65534, 65535, 0];
    for (r, &v) in values.iter().enumerate() {
        let [hi, lo] = v.to_be_bytes();
        let input = [hi, lo, hi, lo, hi, lo];
        let inv = (65535 - v).to_be_bytes();
        let half = ((u64::from(v) * 500_000_000 + 500_000_000) / 1_000_000_000) as u16;
        let half = half.to_be_bytes();
        let narrow = ((f64::from(65535 - v) / 65535.0) * 255.0).round() as u8;
        let want = [inv[0], inv[1], half[0], half[1], 0, 0, narrow];
        rig.round(r, &input, &want);
    }
    rig.finish("16-bit transforms");
}

#[test]
fn toggle_through_loopback_and_deadband_on_the_wire() {
    // Slot 1: a button latched by toggle into a loopback junction, then to out.1.
    // Slot 2: a fader behind a dead band of 0.1 (25.5 of 255). Slot 3: a plain mapping that
    // changes every round, so a round is known to be processed when its output stands still.
    let mut rig = rig(
        "toggle",
        125,
        125,
        126,
        "[loopback fx]\n",
        "in.1 > fx.button | toggle\nfx.button > out.1\nin.2 > out.2 | deadband 0.1\nin.3 > out.3\n",
    );
    let rounds: [([u8; 2], [u8; 2]); 7] = [
        ([255, 100], [255, 100]), // press: on; a first value passes
        ([0, 110], [255, 100]),   // release: held; a change of 10 is dropped
        ([255, 126], [0, 126]),   // press: off; a change of 26 passes
        ([0, 150], [0, 126]),     // 24 from 126: dropped
        ([40, 254], [255, 254]),  // a soft press: on
        ([40, 255], [255, 255]),  // held; full scale always passes
        ([0, 0], [255, 0]),       // zero always passes
    ];
    for (r, (input, out)) in rounds.iter().enumerate() {
        let marker = r as u8 + 1;
        rig.round(r, &[input[0], input[1], marker], &[out[0], out[1], marker]);
    }
    rig.finish("toggle and deadband");
}

#[test]
fn fade_and_slew_move_in_steps_and_end_exactly_on_the_wire() {
    // out.1 fades over 600 ms; out.2 slews at 1.2 s per full scale, so 0 → 255 also takes
    // 1.2 s and 0 → 128 about 600 ms.
    let mut rig = rig(
        "fade",
        127,
        127,
        128,
        "",
        "in.1 > out.1 | fade 600ms\nin.2 > out.2 | slew 1200ms\nin.3 > out.3 | slew 1200ms\n",
    );
    // A first value passes at once (there is nothing to move from).
    rig.round(0, &[1, 1, 1], &[1, 1, 1]);
    let sent = Instant::now();
    rig.send(&[255, 255, 128]);
    let done = rig
        .cap
        .wait_slots(rig.out_cid, rig.out_u, Duration::from_secs(10), |s| {
            holds(s, &[255, 255, 128])
        });
    if let Err(e) = done {
        panic!("the motions never ended: {e}\n--- log\n{}", rig.pb.log());
    }
    let packets = rig.cap.data_of(rig.out_cid, rig.out_u);
    // (time since the send, slot values) of every packet after the send.
    let steps: Vec<(Duration, Vec<u8>)> = packets
        .iter()
        .filter(|c| c.at >= sent)
        .filter_map(|c| {
            let slots = c.data()?.slots().to_vec();
            Some((c.at.saturating_duration_since(sent), slots))
        })
        .collect();
    let track = |slot: usize| -> Vec<(Duration, u8)> {
        let mut t: Vec<(Duration, u8)> = steps.iter().map(|(d, s)| (*d, s[slot])).collect();
        t.dedup_by_key(|x| x.1);
        t
    };
    for (slot, what, end_value, least, most) in [
        (0, "fade 600ms", 255u8, 550, 1500),
        (1, "slew 1200ms to 255", 255, 1100, 2500),
        (2, "slew 1200ms to 128", 128, 550, 1500),
    ] {
        let t = track(slot);
        let values: Vec<u8> = t.iter().map(|x| x.1).collect();
        assert!(
            values.windows(2).all(|w| w[1] >= w[0]),
            "{what}: not monotonic: {values:?}"
        );
        assert_eq!(values.last(), Some(&end_value), "{what}: {values:?}");
        // Moving in steps (100 per second; the sACN output sends at most one packet per turn),
        // not a jump.
        let between = values.iter().filter(|&&v| v > 1 && v < end_value).count();
        assert!(
            between >= 10,
            "{what}: only {between} intermediate values: {values:?}"
        );
        let reached = t.iter().find(|x| x.1 == end_value).map(|x| x.0);
        let reached = reached.unwrap_or_default().as_millis();
        assert!(
            (least..=most).contains(&reached),
            "{what}: reached {end_value} after {reached} ms: {t:?}"
        );
    }
    rig.wants = steps.iter().map(|(_, s)| s.clone()).collect();
    rig.wants.push(vec![1, 1, 1]);
    rig.finish("fade and slew");
}
