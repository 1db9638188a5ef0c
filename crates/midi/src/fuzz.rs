//! Entry points of the cargo-fuzz targets `midi_stream` and `midi_grammar` (fuzz/), also
//! replayed over the committed corpora by the root crate's `tests/fuzz_corpus.rs` on stable.
//! They check invariants, not only "no panic", and panic when one breaks.

use crate::{
    ChannelKey, Input, Message, Raw, Spec, StreamEncoder, StreamParser, SysExTemplate,
    SysExTemplates, Voice,
};

/// Templates the stream target matches SysEx against (short ones, so random input hits them).
fn templates() -> SysExTemplates {
    let mut t = SysExTemplates::new();
    for (name, text) in [
        ("seven", "F0 01 {v} F7"),
        ("wide", "F0 02 {hi} {lo} F7"),
        ("any", "F0 {v} F7"),
    ] {
        // Constant, valid templates.
        let _ = t.define(name, text);
    }
    t
}

/// Owned copy of a parsed message.
enum Owned {
    Fixed(Message<'static>),
    SysEx(Vec<u8>),
}

impl Owned {
    fn message(&self) -> Message<'_> {
        match self {
            Owned::Fixed(m) => *m,
            Owned::SysEx(b) => Message::SysEx(b),
        }
    }
}

fn parse_all(p: &mut StreamParser, bytes: &[u8], out: &mut Vec<Owned>) {
    p.feed(bytes, |m| {
        out.push(match m.detach() {
            Some(m) => Owned::Fixed(m),
            None => match m {
                Message::SysEx(b) => Owned::SysEx(b.to_vec()),
                _ => unreachable!("only SysEx borrows"),
            },
        });
    });
}

fn same(a: &[Owned], b: &[Owned]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.message() == y.message())
}

/// Byte stream target. Byte 0 picks the maximum SysEx length (2..=65), whether the re-encoding
/// uses running status (bit 7) and where the input is split in two chunks (byte 1); the rest
/// is the stream. Checks: every message is in range and re-encodes to bytes the whole-message
/// parser reads back equal; chunking changes nothing; re-encoding the whole sequence (with or
/// without running status) and parsing it again gives the same messages with no drop; every
/// decoded channel key is valid, its value within its width, and its name resolves back to it.
pub fn fuzz_stream(data: &[u8]) {
    let Some((&cfg, rest)) = data.split_first() else {
        return;
    };
    let max = 2 + usize::from(cfg & 0x3F);
    let running = cfg & 0x80 != 0;
    let split = rest
        .first()
        .map_or(0, |&b| usize::from(b) % (rest.len() + 1));
    let stream = rest;

    let mut p = StreamParser::new(max);
    let mut all = Vec::new();
    parse_all(&mut p, stream, &mut all);

    let mut q = StreamParser::new(max);
    let mut chunked = Vec::new();
    parse_all(&mut q, &stream[..split], &mut chunked);
    parse_all(&mut q, &stream[split..], &mut chunked);
    assert!(same(&all, &chunked), "chunking changed the messages");
    assert_eq!(p.drops(), q.drops(), "chunking changed the drops");

    let templates = templates();
    let mut input = Input::new();
    let mut enc = StreamEncoder::new(running);
    let mut again = Vec::new();
    let mut buf = [0u8; 80];
    for m in &all {
        let m = m.message();
        if let Message::SysEx(b) = m {
            assert!(b.len() <= max, "SysEx over the maximum");
        }
        let n = m.encode(&mut buf).expect("parsed messages encode");
        assert_eq!(
            Message::parse(&buf[..n]),
            Ok(m),
            "whole-message parse differs"
        );
        let n = enc.encode(&m, &mut buf).expect("and stream-encode");
        again.extend_from_slice(&buf[..n]);
        input.decode(&m, &templates, |key, raw| check_event(&templates, key, raw));
    }
    let mut r = StreamParser::new(max);
    let mut reparsed = Vec::new();
    parse_all(&mut r, &again, &mut reparsed);
    assert!(
        same(&all, &reparsed),
        "re-encoded stream parses differently"
    );
    assert_eq!(r.dropped_total(), 0, "re-encoded stream has drops");

    // The same bytes as one JACK/ALSA event.
    match Message::parse(stream) {
        Ok(Message::SysEx(b)) => assert_eq!(b, stream),
        Ok(m) => {
            let n = m.encode(&mut buf).expect("parsed messages encode");
            assert_eq!(&buf[..n], stream, "whole message re-encodes differently");
        }
        Err(_) => {}
    }
}

fn check_event(templates: &SysExTemplates, key: ChannelKey, raw: Raw) {
    assert_eq!(ChannelKey::from_u64(key.get()), Some(key), "invalid key");
    assert!(raw.value <= raw.width.max(), "value above its width");
    let name = templates.channel_name(key).to_string();
    assert_eq!(
        templates.resolve(&name),
        Ok(key),
        "{name} does not resolve back"
    );
    if let Some(v) = key.voice() {
        assert_eq!(
            v.control.width(),
            raw.width,
            "width differs from the control's"
        );
    }
}

/// Grammar target: the input as UTF-8 is tried as a channel name, as a SysEx template and as
/// an option `NAME=TEMPLATE`. Checks: whatever parses displays to text that parses to the same
/// thing; voice keys decode to the voice; templates write values they read back; error
/// messages render.
pub fn fuzz_grammar(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    match Spec::parse(text) {
        Ok(spec) => {
            let shown = spec.to_string();
            assert_eq!(Spec::parse(&shown), Ok(spec), "display does not parse back");
            if let Spec::Voice(v) = spec {
                assert_eq!(v.key().voice(), Some(v));
                assert_eq!(Voice::parse(&shown), Ok(v));
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    match SysExTemplate::parse(text) {
        Ok(t) => {
            assert_eq!(SysExTemplate::parse(&t.to_string()), Ok(t.clone()));
            let mut buf = vec![0u8; t.len()];
            for value in [0, 1, 64, 127, 8192, 16383] {
                let value = value.min(t.width().max());
                let n = t.write(value, &mut buf).expect("sized buffer");
                assert_eq!(t.extract(&buf[..n]).map(|r| r.value), Some(value));
                assert_eq!(Message::parse(&buf[..n]), Ok(Message::SysEx(&buf[..n])));
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Some((name, template)) = text.split_once('=') {
        let mut t = SysExTemplates::new();
        if let Ok(n) = t.define(name.trim(), template) {
            let key = ChannelKey::sysex(n);
            let channel = t.channel_name(key).to_string();
            assert_eq!(t.resolve(&channel), Ok(key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_accept_the_seeds() {
        fuzz_stream(&[0x85, 0x90, 0x3C, 0x40, 0x3E, 0x40, 0xF0, 0x01, 0x05, 0xF7]);
        fuzz_stream(&[]);
        fuzz_stream(&[0xFF; 40]);
        fuzz_grammar(b"ch0.note60");
        fuzz_grammar(b"F0 43 {v} F7");
        fuzz_grammar(b"x = F0 {hi} {lo} F7");
        fuzz_grammar(&[0xFF, 0xFE]);
    }
}
