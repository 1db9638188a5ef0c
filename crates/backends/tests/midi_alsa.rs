//! The `midi` backend on the real ALSA sequencer: two clients of this process (the backend's
//! and a peer made with the same `AlsaSeq`), subscribed through the backend's `read`/`write`
//! options, MIDI in → channel values, channel values → MIDI out byte for byte.
//!
//! Needs `/dev/snd/seq` (the kernel's sequencer; `modprobe snd-seq` on a Linux box). Where it is
//! missing (containers, CI machines without sound) each test prints why it is skipped and returns.
#![cfg(feature = "midi-alsa")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::time::{Duration, Instant};

use patchbay_backends::midi::Midi;
use patchbay_backends::midi::alsa_seq::AlsaSeq;
use patchbay_backends::midi::seq::{SeqEvent, Sequencer};
use patchbay_core::Value;
use patchbay_core::testing::Rig;

fn have_sequencer(test: &str) -> bool {
    if std::path::Path::new("/dev/snd/seq").exists() {
        return true;
    }
    // Straight to stderr, past the test harness's capture: a skip is never silent.
    let _ = writeln!(
        std::io::stderr(),
        "skipped: no /dev/snd/seq (ALSA sequencer); {test} needs the kernel's sequencer \
         (modprobe snd-seq); the backend's logic is tested against a fake sequencer in \
         src/midi/tests.rs"
    );
    false
}

/// The peer's messages, read for at most `timeout`.
fn read_midi(peer: &mut AlsaSeq, count: usize, timeout: Duration) -> Vec<Vec<u8>> {
    let end = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while got.len() < count && Instant::now() < end {
        match peer.read(&mut buf).expect("read") {
            Some(SeqEvent::Midi { len, .. }) => got.push(buf[..len].to_vec()),
            Some(_) => {}
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    got
}

#[test]
fn events_in_and_out_through_the_real_sequencer() {
    if !have_sequencer("events_in_and_out_through_the_real_sequencer") {
        return;
    }
    let mut peer = AlsaSeq::open("patchbay-test-peer").expect("peer client");
    let peer_port = peer.create_port("peer").expect("peer port");
    let mut rig = Rig::real_time(Midi::new());
    rig.configure("name", "patchbay-test").unwrap();
    let i = rig.add_instance("keys").unwrap();
    rig.configure_instance(i, "read", "patchbay-test-peer")
        .unwrap();
    rig.configure_instance(i, "write", "patchbay-test-peer")
        .unwrap();
    let cc = rig.input(i, "ch0.cc7").unwrap();
    let out = rig.output(i, "ch1.pitch").unwrap();
    rig.start().unwrap();
    assert!(rig.backend().is_connected("keys", false));
    assert!(rig.backend().is_connected("keys", true));

    peer.write(peer_port, &[0xB0, 7, 99]).unwrap();
    peer.flush().unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    let mut got = None;
    while got.is_none() && Instant::now() < end {
        rig.turn(Duration::from_millis(20)).unwrap();
        got = rig.take_events().into_iter().find(|e| e.channel == cc);
    }
    assert_eq!(got.expect("event").value.raw(), Some((99, 7)));

    rig.set(out, Value::from_raw(65535, 16));
    rig.turn(Duration::ZERO).unwrap();
    assert_eq!(
        read_midi(&mut peer, 1, Duration::from_secs(5)),
        [vec![0xE1, 0x7F, 0x7F]]
    );
}
