use proptest::prelude::*;

use super::*;
use crate::testutil::{self, Owned};

/// What a parser made of some bytes: owned messages, in order.
fn parse_all(p: &mut StreamParser, bytes: &[u8]) -> Vec<Owned> {
    let mut out = Vec::new();
    p.feed(bytes, |m| out.push(Owned::from_message(m)));
    out
}

fn on(channel: u8, note: u8, velocity: u8) -> Owned {
    Owned::Fixed(Message::NoteOn {
        channel,
        note,
        velocity,
    })
}

fn cc(channel: u8, controller: u8, value: u8) -> Owned {
    Owned::Fixed(Message::ControlChange {
        channel,
        controller,
        value,
    })
}

fn rt(r: RealTime) -> Owned {
    Owned::Fixed(Message::RealTime(r))
}

fn drops(p: &StreamParser) -> Vec<(&'static str, u64)> {
    DropReason::ALL
        .iter()
        .filter(|r| p.dropped(**r) != 0)
        .map(|r| (r.as_str(), p.dropped(*r)))
        .collect()
}

/// A golden vector: what, input bytes, messages out, drop counters after.
type Golden = (&'static str, Vec<u8>, Vec<Owned>, Vec<(&'static str, u64)>);

/// Byte streams from MIDI 1.0 (running status, real-time interleaving, SysEx framing, system
/// common cancelling running status) and the messages a receiver must see.
#[test]
fn golden_vectors() {
    use RealTime::*;
    let cases: Vec<Golden> = vec![
        (
            "running status: one status byte, three notes",
            vec![0x90, 0x3C, 0x40, 0x3E, 0x40, 0x40, 0x40],
            vec![on(0, 60, 64), on(0, 62, 64), on(0, 64, 64)],
            vec![],
        ),
        (
            "running status with note-on velocity 0 as note off",
            vec![0x93, 0x3C, 0x40, 0x3C, 0x00],
            vec![on(3, 60, 64), on(3, 60, 0)],
            vec![],
        ),
        (
            "real-time bytes between a note's status and data bytes",
            vec![0x90, 0xF8, 0x3C, 0xF8, 0x40],
            vec![rt(TimingClock), rt(TimingClock), on(0, 60, 64)],
            vec![],
        ),
        (
            "real-time does not cancel running status",
            vec![0xB0, 0x07, 0x64, 0xFE, 0x0A, 0x40],
            vec![cc(0, 7, 100), rt(ActiveSensing), cc(0, 10, 64)],
            vec![],
        ),
        (
            "real-time inside a SysEx (GM System On)",
            vec![0xF0, 0x7E, 0xF8, 0x7F, 0x09, 0xFA, 0x01, 0xF7],
            vec![
                rt(TimingClock),
                rt(Start),
                Owned::SysEx(vec![0xF0, 0x7E, 0x7F, 0x09, 0x01, 0xF7]),
            ],
            vec![],
        ),
        (
            "system common cancels running status; its data bytes do not restart it",
            vec![0x90, 0x3C, 0x40, 0xF3, 0x01, 0x3E, 0x40],
            vec![on(0, 60, 64), Owned::Fixed(Message::SongSelect(1))],
            vec![("stray_data", 2)],
        ),
        (
            "SysEx cancels running status",
            vec![0x90, 0x3C, 0x40, 0xF0, 0x01, 0xF7, 0x3E, 0x40],
            vec![on(0, 60, 64), Owned::SysEx(vec![0xF0, 0x01, 0xF7])],
            vec![("stray_data", 2)],
        ),
        (
            "a status byte inside a SysEx ends it; the status starts the next message",
            vec![0xF0, 0x43, 0x10, 0x90, 0x3C, 0x40],
            vec![on(0, 60, 64)],
            vec![("sysex_interrupted", 1)],
        ),
        (
            "F0 inside a SysEx starts a new one",
            vec![0xF0, 0x01, 0xF0, 0x02, 0xF7],
            vec![Owned::SysEx(vec![0xF0, 0x02, 0xF7])],
            vec![("sysex_interrupted", 1)],
        ),
        (
            "stray data before the first status byte",
            vec![0x3C, 0x40, 0x90, 0x3C, 0x40],
            vec![on(0, 60, 64)],
            vec![("stray_data", 2)],
        ),
        (
            "a message cut short by the next status byte",
            vec![0x90, 0x3C, 0x80, 0x3C, 0x00],
            vec![Owned::Fixed(Message::NoteOff {
                channel: 0,
                note: 60,
                velocity: 0,
            })],
            vec![("incomplete_message", 1)],
        ),
        (
            "undefined real-time bytes are ignored without disturbing a message",
            vec![0x90, 0x3C, 0xFD, 0x40, 0xF9],
            vec![on(0, 60, 64)],
            vec![("undefined_status", 2)],
        ),
        (
            "undefined system common bytes cancel running status",
            vec![0x90, 0x3C, 0x40, 0xF4, 0x3E, 0x40, 0xF5],
            vec![on(0, 60, 64)],
            vec![("stray_data", 2), ("undefined_status", 2)],
        ),
        (
            "F7 without a SysEx",
            vec![0xF7, 0xF6],
            vec![Owned::Fixed(Message::TuneRequest)],
            vec![("stray_eox", 1)],
        ),
        (
            "pitch bend is LSB first; program change and channel pressure take one data byte",
            vec![0xE1, 0x00, 0x40, 0x7F, 0x7F, 0xC2, 0x05, 0x06, 0xD3, 0x10],
            vec![
                Owned::Fixed(Message::PitchBend {
                    channel: 1,
                    value: 8192,
                }),
                Owned::Fixed(Message::PitchBend {
                    channel: 1,
                    value: 16383,
                }),
                Owned::Fixed(Message::ProgramChange {
                    channel: 2,
                    program: 5,
                }),
                Owned::Fixed(Message::ProgramChange {
                    channel: 2,
                    program: 6,
                }),
                Owned::Fixed(Message::ChannelPressure {
                    channel: 3,
                    pressure: 16,
                }),
            ],
            vec![],
        ),
        (
            "time code and song position",
            vec![0xF1, 0x21, 0xF2, 0x10, 0x20],
            vec![
                Owned::Fixed(Message::TimeCode(0x21)),
                Owned::Fixed(Message::SongPosition(0x10 | 0x20 << 7)),
            ],
            vec![],
        ),
    ];
    for (what, bytes, want, want_drops) in cases {
        let mut p = StreamParser::default();
        assert_eq!(parse_all(&mut p, &bytes), want, "{what}");
        assert_eq!(drops(&p), want_drops, "{what}");
        // Byte by byte and all at once agree (the parser keeps no lookahead).
        let mut q = StreamParser::default();
        let mut one_by_one = Vec::new();
        for b in &bytes {
            one_by_one.extend(parse_all(&mut q, &[*b]));
        }
        assert_eq!(one_by_one, want, "{what}, byte by byte");
    }
}

#[test]
fn sysex_longer_than_the_maximum_is_dropped_and_skipped() {
    let mut p = StreamParser::new(5);
    // 5 bytes fit exactly.
    let fits = [0xF0, 1, 2, 3, 0xF7];
    assert_eq!(parse_all(&mut p, &fits), vec![Owned::SysEx(fits.to_vec())]);
    // 6 do not.
    assert!(parse_all(&mut p, &[0xF0, 1, 2, 3, 4, 0xF7]).is_empty());
    assert_eq!(drops(&p), vec![("sysex_too_long", 1)]);
    // The rest up to F7 is skipped, the F7 is no stray, the next message parses.
    let long = [0xF0, 1, 2, 3, 4, 0xF8, 5, 0xF7, 0x90, 0x3C, 0x40];
    assert_eq!(
        parse_all(&mut p, &long),
        vec![rt(RealTime::TimingClock), on(0, 60, 64)]
    );
    assert_eq!(drops(&p), vec![("sysex_too_long", 2)]);
    // An over-long SysEx ended by a status byte is counted once.
    let cut = [0xF0, 1, 2, 3, 4, 5, 0x90, 0x3C, 0x40];
    assert_eq!(parse_all(&mut p, &cut), vec![on(0, 60, 64)]);
    assert_eq!(drops(&p), vec![("sysex_too_long", 3)]);
}

#[test]
fn sysex_in_chunks_as_alsa_delivers_long_ones() {
    let mut p = StreamParser::default();
    assert!(parse_all(&mut p, &[0xF0, 0x43, 0x10]).is_empty());
    assert!(parse_all(&mut p, &[0x4C, 0x00]).is_empty());
    assert_eq!(
        parse_all(&mut p, &[0x7E, 0xF7]),
        vec![Owned::SysEx(vec![0xF0, 0x43, 0x10, 0x4C, 0x00, 0x7E, 0xF7])]
    );
}

#[test]
fn reset_forgets_running_status_and_partial_messages() {
    let mut p = StreamParser::default();
    assert_eq!(
        parse_all(&mut p, &[0x90, 0x3C, 0x40, 0x3E]),
        vec![on(0, 60, 64)]
    );
    p.reset();
    assert!(parse_all(&mut p, &[0x40, 0x3C, 0x40]).is_empty());
    assert_eq!(p.dropped(DropReason::StrayData), 3);
    assert_eq!(p.dropped_total(), 3);
}

#[test]
fn encoder_running_status() {
    let mut e = StreamEncoder::new(true);
    let mut out = Vec::new();
    let mut buf = [0u8; 8];
    let msgs = [
        Message::NoteOn {
            channel: 0,
            note: 60,
            velocity: 64,
        },
        Message::NoteOn {
            channel: 0,
            note: 62,
            velocity: 64,
        },
        Message::RealTime(RealTime::TimingClock),
        Message::NoteOn {
            channel: 0,
            note: 60,
            velocity: 0,
        },
        Message::NoteOn {
            channel: 1,
            note: 60,
            velocity: 0,
        },
        Message::TuneRequest,
        Message::NoteOn {
            channel: 1,
            note: 61,
            velocity: 1,
        },
    ];
    for m in &msgs {
        let n = e.encode(m, &mut buf).expect("encode");
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(
        out,
        [
            0x90, 60, 64, 62, 64, 0xF8, 60, 0, 0x91, 60, 0, 0xF6, 0x91, 61, 1
        ]
    );
    let mut plain = StreamEncoder::new(false);
    let n = plain.encode(&msgs[0], &mut buf).expect("encode");
    let m = plain.encode(&msgs[1], &mut buf[n..]).expect("encode");
    assert_eq!(&buf[..n + m], &[0x90, 60, 64, 0x90, 62, 64]);
}

proptest! {
    /// encode ∘ parse = id for every message, both parsers.
    #[test]
    fn every_message_round_trips(m in testutil::message(40)) {
        let msg = m.message();
        let mut buf = [0u8; 64];
        let n = msg.encode(&mut buf).expect("valid messages encode");
        prop_assert_eq!(n, msg.encoded_len());
        prop_assert_eq!(Message::parse(&buf[..n]), Ok(msg));
        let mut p = StreamParser::default();
        prop_assert_eq!(parse_all(&mut p, &buf[..n]), vec![m]);
        prop_assert_eq!(p.dropped_total(), 0);
    }

    /// A stream written with or without running status, with real-time bytes inserted at
    /// arbitrary positions (also inside messages and SysEx), parses back to the same messages
    /// and the same real-time bytes, with nothing dropped.
    #[test]
    fn streams_round_trip_with_real_time_interleaved(
        msgs in proptest::collection::vec(testutil::message(20), 0..40),
        running in any::<bool>(),
        inserts in proptest::collection::vec((any::<prop::sample::Index>(), testutil::real_time()), 0..10),
    ) {
        let mut e = StreamEncoder::new(running);
        let mut bytes = Vec::new();
        let mut buf = [0u8; 64];
        let mut want = Vec::new();
        for m in &msgs {
            let n = e.encode(&m.message(), &mut buf).expect("encode");
            bytes.extend_from_slice(&buf[..n]);
            if !matches!(m, Owned::Fixed(Message::RealTime(_))) {
                want.push(m.clone());
            }
        }
        let mut want_rt: Vec<RealTime> = msgs.iter().filter_map(|m| match m {
            Owned::Fixed(Message::RealTime(r)) => Some(*r),
            _ => None,
        }).collect();
        let mut inserted = Vec::new();
        for (at, r) in &inserts {
            inserted.push((at.index(bytes.len() + 1), r.byte()));
        }
        // Insert from the back so earlier positions stay valid; stable order for equal positions.
        inserted.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        for (at, b) in &inserted {
            bytes.insert(*at, *b);
        }
        let mut p = StreamParser::default();
        let got = parse_all(&mut p, &bytes);
        prop_assert_eq!(p.dropped_total(), 0);
        let (got_rt, got_rest): (Vec<Owned>, Vec<Owned>) = got
            .into_iter()
            .partition(|m| matches!(m, Owned::Fixed(Message::RealTime(_))));
        prop_assert_eq!(got_rest, want);
        want_rt.extend(inserts.iter().map(|(_, r)| *r));
        let mut got_rt: Vec<u8> = got_rt.iter().map(|m| m.message().status()).collect();
        let mut want_rt: Vec<u8> = want_rt.iter().map(|r| r.byte()).collect();
        got_rt.sort_unstable();
        want_rt.sort_unstable();
        prop_assert_eq!(got_rt, want_rt);
    }

    /// The parser never panics; whatever it returns is a valid message that survives
    /// re-encoding, and chunking the input does not change the result.
    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300), split in any::<prop::sample::Index>(), max in 2usize..40) {
        let mut p = StreamParser::new(max);
        let all = parse_all(&mut p, &bytes);
        for m in &all {
            if let Owned::SysEx(b) = m {
                prop_assert!(b.len() <= max);
            }
        }
        let mut q = StreamParser::new(max);
        let at = split.index(bytes.len() + 1);
        let mut chunked = parse_all(&mut q, &bytes[..at]);
        chunked.extend(parse_all(&mut q, &bytes[at..]));
        prop_assert_eq!(all, chunked);
        prop_assert_eq!(p.drops(), q.drops());
        let _ = Message::parse(&bytes);
    }
}
