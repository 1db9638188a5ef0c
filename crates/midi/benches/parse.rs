//! Hot-path costs of MIDI input and output: one message from bytes to (channel key, value),
//! and one channel value to bytes. Run with `cargo bench -p patchbay-midi --bench parse`.
//! Target (issue 17): parse + channel key ≤ 100 ns per message; the core's route adds ~5 ns.

use std::hint::black_box;

use patchbay_midi::{
    ChannelKey, EpnTx, Input, Message, OutputOptions, Raw, StreamParser, SysExTemplates, Voice,
    voice_value,
};

fn main() {
    divan::main();
}

/// A fader move as a JACK event: whole-message parse, then the key and value.
#[divan::bench]
fn event_parse_and_key(bencher: divan::Bencher) {
    let mut v = 0u8;
    bencher.bench_local(|| {
        v = (v + 1) & 0x7F;
        let event = [0xB3, 7, v];
        let m = Message::parse(black_box(&event)).ok()?;
        let (voice, raw) = voice_value(&m)?;
        Some((voice.key(), raw))
    });
}

/// The same through the full receive path (Input::decode: (N)RPN state, SysEx dispatch).
#[divan::bench]
fn event_parse_and_decode(bencher: divan::Bencher) {
    let templates = SysExTemplates::new();
    let mut input = Input::new();
    let mut v = 0u8;
    bencher.bench_local(|| {
        v = (v + 1) & 0x7F;
        let event = [0x93, 60, v];
        let mut out = (ChannelKey::sysex(0), Raw::seven(0));
        if let Ok(m) = Message::parse(black_box(&event)) {
            input.decode(&m, &templates, |k, r| out = (k, r));
        }
        out
    });
}

/// A byte stream with running status (two data bytes per fader move) through the incremental
/// parser and Input::decode; one iteration is one message.
#[divan::bench]
fn stream_parse_and_decode(bencher: divan::Bencher) {
    let templates = SysExTemplates::new();
    let mut input = Input::new();
    let mut parser = StreamParser::default();
    parser.push(0xB0);
    let mut v = 0u8;
    bencher.bench_local(|| {
        v = (v + 1) & 0x7F;
        let mut out = (ChannelKey::sysex(0), Raw::seven(0));
        for b in black_box([7, v]) {
            if let Some(m) = parser.push(b) {
                input.decode(&m, &templates, |k, r| out = (k, r));
            }
        }
        out
    });
}

/// An NRPN value's last CC (38), which completes the parameter: state machine + two events.
#[divan::bench]
fn nrpn_completion(bencher: divan::Bencher) {
    let templates = SysExTemplates::new();
    let mut input = Input::new();
    let mut sink = 0u64;
    for cc in [[0xB0, 99, 7], [0xB0, 98, 4]] {
        if let Ok(m) = Message::parse(&cc) {
            input.decode(&m, &templates, |_, _| {});
        }
    }
    bencher.bench_local(|| {
        for cc in black_box([[0xB0, 6, 1], [0xB0, 38, 2]]) {
            if let Ok(m) = Message::parse(&cc) {
                input.decode(&m, &templates, |k, r| sink ^= k.get() ^ u64::from(r.value));
            }
        }
        sink
    });
}

/// A 9-byte SysEx matched against 8 templates of the same length (worst case: all compared).
#[divan::bench]
fn sysex_match_8_templates(bencher: divan::Bencher) {
    let mut templates = SysExTemplates::new();
    for i in 0..8 {
        let text = format!("F0 43 10 4C 02 01 {i:02X} {{v}} F7");
        templates.define(&format!("t{i}"), &text).expect("valid");
    }
    let msg = [0xF0, 0x43, 0x10, 0x4C, 0x02, 0x01, 0x07, 0x40, 0xF7];
    let mut input = Input::new();
    bencher.bench_local(|| {
        let mut n = 0;
        input.decode(&Message::SysEx(black_box(&msg)), &templates, |_, r| {
            n += r.value
        });
        n
    });
}

/// Output of one CC value: messages + encoding into a buffer.
#[divan::bench]
fn output_cc(bencher: divan::Bencher) {
    let voice = Voice::parse("ch0.cc7").expect("valid");
    let o = OutputOptions::default();
    let mut buf = [0u8; 3];
    let mut v = 0u16;
    bencher.bench_local(|| {
        v = (v + 1) & 0x7F;
        let out = o.messages(black_box(voice), v);
        out.as_slice()[0].encode(&mut buf).map(|n| buf[n - 1])
    });
}

/// Output of one NRPN value, full form: 6 messages encoded.
#[divan::bench]
fn output_nrpn_full(bencher: divan::Bencher) {
    let voice = Voice::parse("ch0.nrpn900").expect("valid");
    let o = OutputOptions {
        epn_tx: EpnTx::Full,
        ..OutputOptions::default()
    };
    let mut buf = [0u8; 18];
    let mut v = 0u16;
    bencher.bench_local(|| {
        v = (v + 1) & 0x3FFF;
        let mut at = 0;
        for m in &o.messages(black_box(voice), v) {
            at += m.encode(&mut buf[at..]).unwrap_or(0);
        }
        at
    });
}
