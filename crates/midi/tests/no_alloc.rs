//! The MIDI hot paths must not allocate: stream and event parsing, decoding to channel keys
//! (with (N)RPN state and SysEx templates), output sequences and encoding.

use patchbay_midi::{
    EpnTx, Input, Message, OutputOptions, StreamEncoder, StreamParser, SysExTemplates, Voice,
};

#[path = "../../sacn/tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocations_in;

#[test]
fn receive_and_send_paths_do_not_allocate() {
    // The counter itself must see allocations, or the zeros below prove nothing.
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 10]))) > 0);

    let mut templates = SysExTemplates::new();
    templates
        .define("cutoff", "F0 43 10 4C 02 01 00 {v} F7")
        .expect("valid");
    templates
        .define("fine", "F0 7D {hi} {lo} F7")
        .expect("valid");
    // Running status, real-time inside a note and a SysEx, an NRPN, SysEx for both templates,
    // an over-long SysEx and stray bytes: every branch of the parser and decoder.
    let mut stream = vec![
        0x90, 60, 100, 62, 0xF8, 100, 0xB0, 99, 7, 98, 4, 6, 1, 38, 2,
    ];
    stream.extend([0xF0, 0x43, 0x10, 0x4C, 0xF8, 0x02, 0x01, 0x00, 0x40, 0xF7]);
    stream.extend([0xF0, 0x7D, 0x7F, 0x7F, 0xF7, 0x3C, 0xF4, 0xE0, 0, 0x40]);
    stream.extend([0xF0]);
    stream.extend(std::iter::repeat_n(1, 100));
    stream.extend([0xF7, 0xF0, 1, 0x90, 1, 2]);

    let mut parser = StreamParser::new(64);
    let mut input = Input::new();
    let mut events = 0usize;
    let count = allocations_in(|| {
        for _ in 0..100 {
            for &b in &stream {
                if let Some(m) = parser.push(b) {
                    events += input.decode(&m, &templates, |_, _| {});
                }
            }
        }
    });
    assert_eq!(count, 0, "stream parse + decode allocated");
    // 2 notes, 4 CCs + the NRPN, one SysEx per template, pitch, the note after the
    // interrupted SysEx: 11 per pass.
    assert_eq!(events, 100 * 11);
    assert!(parser.dropped_total() > 0);

    let events_in: [&[u8]; 3] = [&[0xB3, 7, 9], &[0xF0, 0x7D, 1, 2, 0xF7], &[0xE0, 0, 0x40]];
    let count = allocations_in(|| {
        for _ in 0..100 {
            for e in events_in {
                if let Ok(m) = Message::parse(e) {
                    events += input.decode(&m, &templates, |_, _| {});
                }
            }
        }
    });
    assert_eq!(count, 0, "event parse + decode allocated");

    let voices: Vec<Voice> = [
        "ch0.note60",
        "ch1.cc7",
        "ch2.pitch",
        "ch3.nrpn900",
        "ch4.rpn0",
    ]
    .iter()
    .map(|n| Voice::parse(n).expect("valid"))
    .collect();
    let opts = OutputOptions {
        epn_tx: EpnTx::Full,
        ..OutputOptions::default()
    };
    let mut enc = StreamEncoder::new(true);
    let mut buf = [0u8; 64];
    let mut written = 0usize;
    let count = allocations_in(|| {
        for v in 0..100u16 {
            for voice in &voices {
                for m in &opts.messages(*voice, v) {
                    written += enc.encode(m, &mut buf).unwrap_or(0);
                }
            }
            if let Some(t) = templates.get(1) {
                written += t.write(v, &mut buf).unwrap_or(0);
            }
        }
    });
    assert_eq!(count, 0, "output allocated");
    assert!(written > 100 * 10);
}
