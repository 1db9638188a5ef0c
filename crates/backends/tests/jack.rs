//! The `jack` backend against a real JACK server (`jackd -d dummy`, started by each test under
//! a private server name) and an independent peer, the python JACK-Client
//! (`tests/peers/jack_peer.py`): MIDI in → channel values, channel values → MIDI out byte for
//! byte, CV in and out, SysEx, and a server that is killed and started again.
//!
//! JACK needs no network, but the suite runs inside scripts/test's namespace like every other.
//! Needs `jackd` (Debian jackd2) and python3 with JACK-Client (scripts/setup).
#![cfg(feature = "jack")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use patchbay_backends::jack::Jack;
use patchbay_core::testing::Rig;
use patchbay_core::{ChannelId, InstanceId, Value};

#[path = "../../../tests/peers/jack.rs"]
mod jack_peer;
use jack_peer::{Jackd, Peer, T, serial};

const SERVER: &str = "patchbay-test-backends";

/// `count` MIDI events at the peer, turning the loop while waiting (for what the loop sends on
/// its own, such as the last values when a port is connected).
fn midi_turning(peer: &mut Peer, rig: &mut Rig<Jack>, count: usize) -> Vec<String> {
    let end = Instant::now() + T;
    let mut got = Vec::new();
    while got.len() < count {
        assert!(
            Instant::now() < end,
            "peer: {count} MIDI events expected, got {got:?}"
        );
        rig.turn(Duration::from_millis(10)).expect("turn");
        while let Some(m) = peer.take(Duration::ZERO, |l| {
            l.strip_prefix("midi ").map(str::to_string)
        }) {
            got.push(m);
        }
    }
    got
}

/// Turns the loop until `done` (at most 10 s).
fn turn_until(rig: &mut Rig<Jack>, what: &str, mut done: impl FnMut(&mut Rig<Jack>) -> bool) {
    let end = Instant::now() + Duration::from_secs(10);
    while !done(rig) {
        assert!(Instant::now() < end, "not within 10 s: {what}");
        rig.turn(Duration::from_millis(20)).expect("turn");
    }
}

/// Turns until an event arrives on `channel`; returns its value.
fn event(rig: &mut Rig<Jack>, channel: ChannelId) -> Value {
    let mut found = None;
    turn_until(rig, "an event", |rig| {
        found = rig
            .take_events()
            .into_iter()
            .find(|e| e.channel == channel)
            .map(|e| e.value);
        found.is_some()
    });
    found.expect("found")
}

/// Turns until an event with value `want` arrives on `channel` (CV inputs report the peer's
/// initial sample first).
fn event_of(rig: &mut Rig<Jack>, channel: ChannelId, want: f64) {
    let mut seen = Vec::new();
    turn_until(rig, "an event with the value", |rig| {
        for e in rig.take_events() {
            if e.channel == channel {
                seen.push(e.value.normalised());
            }
        }
        seen.contains(&want)
    });
}

/// An instance `pb` with every kind of port, on `server`.
fn instance(rig: &mut Rig<Jack>, server: &str) -> InstanceId {
    let i = rig.add_instance("pb").unwrap();
    for (k, v) in [
        ("server", server),
        ("name", "pb"),
        ("midi_in", "midi in"),
        ("midi_out", "midi out"),
        ("cv_in", "cv in min 0 max 10"),
        ("cv_out", "cv out min -1 max 1"),
        ("note-off", "note-off 5"),
        ("sysex.cutoff", "F0 43 10 4C {v} F7"),
        ("sysex.fine", "F0 7D {hi} {lo} F7"),
    ] {
        rig.configure_instance(i, k, v).unwrap();
    }
    i
}

fn wire(peer: &mut Peer) {
    peer.connect("peer:out", "pb:midi_in");
    peer.connect("pb:midi_out", "peer:in");
    peer.connect("peer:cv_out", "pb:cv_in");
    peer.connect("pb:cv_out", "peer:cv_in");
}

fn connected(rig: &mut Rig<Jack>) {
    turn_until(rig, "connected", |rig| rig.backend().is_connected("pb"));
}

#[test]
fn midi_in_becomes_exact_channel_values() {
    let _s = serial();
    let server = Jackd::start(SERVER);
    let mut rig = Rig::real_time(Jack::new());
    let i = instance(&mut rig, &server.name);
    let cc = rig.input(i, "midi_in.ch0.cc7").unwrap();
    let note = rig.input(i, "midi_in.ch9.note36").unwrap();
    let pitch = rig.input(i, "midi_in.ch1.pitch").unwrap();
    let nrpn = rig.input(i, "midi_in.ch2.nrpn900").unwrap();
    let cutoff = rig.input(i, "midi_in.sysex.cutoff").unwrap();
    let fine = rig.input(i, "midi_in.sysex.fine").unwrap();
    rig.start().unwrap();
    connected(&mut rig);
    let mut peer = Peer::start(&server.name, "peer");
    wire(&mut peer);

    peer.command("midi b00764");
    assert_eq!(event(&mut rig, cc).raw(), Some((100, 7)));
    peer.command("midi b0077f");
    let v = event(&mut rig, cc);
    assert_eq!((v.raw(), v.normalised()), (Some((127, 7)), 1.0));
    peer.command("midi 992440");
    assert_eq!(event(&mut rig, note).raw(), Some((64, 7)));
    // A note off with release velocity 127 is 0 (cbdevnet/midimonster#33).
    peer.command("midi 89247f");
    assert_eq!(event(&mut rig, note).raw(), Some((0, 7)));
    peer.command("midi e17f7f");
    let v = event(&mut rig, pitch);
    assert_eq!((v.raw(), v.normalised()), (Some((16383, 14)), 1.0));
    peer.command("midi e10040");
    assert_eq!(event(&mut rig, pitch).raw(), Some((8192, 14)));
    for m in ["b26307", "b26204", "b2067f", "b22601"] {
        peer.command(&format!("midi {m}"));
    }
    assert_eq!(event(&mut rig, nrpn).raw(), Some((127 << 7 | 1, 14)));
    peer.command("midi f043104c33f7");
    assert_eq!(event(&mut rig, cutoff).raw(), Some((0x33, 7)));
    peer.command("midi f07d0102f7");
    assert_eq!(event(&mut rig, fine).raw(), Some((130, 14)));
    // Malformed: a truncated note on; counted, nothing reported.
    peer.command("midi 9024");
    turn_until(&mut rig, "counted", |rig| {
        rig.stat("pb", "malformed.wrong_length") == Some(1)
    });
    assert!(rig.stat("pb", "midi_in").unwrap() >= 12);
}

#[test]
fn channel_values_become_midi_out_byte_for_byte() {
    let _s = serial();
    let server = Jackd::start(SERVER);
    let mut rig = Rig::real_time(Jack::new());
    let i = instance(&mut rig, &server.name);
    rig.configure_instance(i, "epn-tx", "short").unwrap();
    let cc = rig.output(i, "midi_out.ch1.cc1").unwrap();
    let note = rig.output(i, "midi_out.ch0.note60").unwrap();
    let pitch = rig.output(i, "midi_out.ch15.pitch").unwrap();
    let rpn = rig.output(i, "midi_out.ch3.rpn1").unwrap();
    let cutoff = rig.output(i, "midi_out.sysex.cutoff").unwrap();
    rig.start().unwrap();
    connected(&mut rig);
    let mut peer = Peer::start(&server.name, "peer");
    wire(&mut peer);

    let cases: Vec<(ChannelId, Value, Vec<&str>)> = vec![
        (cc, Value::from_raw(255, 8), vec!["b1017f"]),
        (cc, Value::from_raw(0, 16), vec!["b10100"]),
        // 100/127 through 8 bits and back: rounded, not truncated as in MIDIMonster.
        (cc, Value::from_raw(201, 8), vec!["b10164"]),
        (note, Value::from_raw(127, 7), vec!["903c7f"]),
        // note-off 5: a real note off with release velocity 5.
        (note, Value::from_raw(0, 7), vec!["803c05"]),
        (pitch, Value::from_normalised(0.5), vec!["ef0040"]),
        (pitch, Value::from_raw(65535, 16), vec!["ef7f7f"]),
        (
            rpn,
            Value::from_raw(16383, 14),
            vec!["b36500", "b36401", "b3067f", "b3267f"],
        ),
        (cutoff, Value::from_raw(65, 7), vec!["f043104c41f7"]),
    ];
    for (channel, value, want) in cases {
        rig.set(channel, value);
        rig.turn(Duration::ZERO).unwrap();
        assert_eq!(peer.midi(want.len(), T), want, "{value:?}");
    }
    assert_eq!(rig.stat("pb", "midi_out"), Some(12));
    assert_eq!(rig.stat("pb", "out_overflow"), Some(0));
}

#[test]
fn cv_ports_read_and_write_their_range() {
    let _s = serial();
    let server = Jackd::start(SERVER);
    let mut rig = Rig::real_time(Jack::new());
    let i = instance(&mut rig, &server.name);
    let cv_in = rig.input(i, "cv_in").unwrap();
    let cv_out = rig.output(i, "cv_out").unwrap();
    assert!(
        rig.input(i, "cv_in.ch0.cc1").is_err(),
        "a CV port is one channel"
    );
    rig.start().unwrap();
    connected(&mut rig);
    let mut peer = Peer::start(&server.name, "peer");
    wire(&mut peer);

    // Output: -1..1; starts at MIN.
    peer.cv(-1.0, T);
    rig.set(cv_out, Value::from_normalised(0.75));
    rig.turn(Duration::ZERO).unwrap();
    peer.cv(0.5, T);
    rig.set(cv_out, Value::from_raw(65535, 16));
    rig.turn(Duration::ZERO).unwrap();
    peer.cv(1.0, T);
    // Input: 0..10, clipped.
    peer.command("cv 2.5");
    event_of(&mut rig, cv_in, 0.25);
    peer.command("cv 12");
    event_of(&mut rig, cv_in, 1.0);
    peer.command("cv -3");
    event_of(&mut rig, cv_in, 0.0);
    assert!(rig.stat("pb", "cv_in").unwrap() >= 3);
}

#[test]
fn a_server_that_dies_and_returns_gets_the_last_values_again() {
    let _s = serial();
    let mut server = Jackd::start(SERVER);
    let mut rig = Rig::real_time(Jack::new());
    let i = instance(&mut rig, &server.name);
    let cc = rig.output(i, "midi_out.ch0.cc7").unwrap();
    let note = rig.output(i, "midi_out.ch0.note1").unwrap();
    let cv_out = rig.output(i, "cv_out").unwrap();
    let cc_in = rig.input(i, "midi_in.ch0.cc1").unwrap();
    rig.start().unwrap();
    connected(&mut rig);
    let mut peer = Peer::start(&server.name, "peer");
    wire(&mut peer);
    rig.set(cc, Value::from_raw(42, 7));
    rig.set(note, Value::from_raw(100, 7));
    rig.set(cv_out, Value::from_normalised(1.0));
    rig.turn(Duration::ZERO).unwrap();
    assert_eq!(peer.midi(2, T), ["b0072a", "900164"]);
    peer.cv(1.0, T);
    drop(peer);

    server.kill();
    turn_until(&mut rig, "the loss noticed", |rig| {
        !rig.backend().is_connected("pb")
    });
    // Values set while the server is away are kept, not sent.
    rig.set(cc, Value::from_raw(43, 7));
    for _ in 0..5 {
        rig.turn(Duration::from_millis(100)).unwrap();
    }
    assert!(!rig.backend().is_connected("pb"));

    server.restart();
    connected(&mut rig);
    assert_eq!(rig.stat("pb", "reconnects"), Some(1));
    let mut peer = Peer::start(&server.name, "peer");
    wire(&mut peer);
    // Connecting to the output port sends the last values, in the order of the channels.
    assert_eq!(midi_turning(&mut peer, &mut rig, 2), ["b0072b", "900164"]);
    peer.cv(1.0, T);
    // Input works on the new connection.
    peer.command("midi b00105");
    assert_eq!(event(&mut rig, cc_in).raw(), Some((5, 7)));
    rig.take_events();
    peer.no_midi(Duration::from_millis(200));
}

#[test]
fn a_server_that_is_not_there_at_start_is_waited_for() {
    let _s = serial();
    let mut server = Jackd::start(SERVER);
    server.kill();
    let mut rig = Rig::real_time(Jack::new());
    let i = instance(&mut rig, &server.name);
    let cc = rig.output(i, "midi_out.ch0.cc7").unwrap();
    rig.start().unwrap();
    rig.set(cc, Value::from_raw(9, 7));
    for _ in 0..3 {
        rig.turn(Duration::from_millis(100)).unwrap();
    }
    assert!(!rig.backend().is_connected("pb"));
    server.restart();
    connected(&mut rig);
    let mut peer = Peer::start(&server.name, "peer");
    wire(&mut peer);
    assert_eq!(midi_turning(&mut peer, &mut rig, 1), ["b00709"]);
    // A first connection after a wait counts as a reconnect (the outage was logged).
    assert_eq!(rig.stat("pb", "reconnects"), Some(1));
}
