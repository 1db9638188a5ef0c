//! JSON written straight into a reused byte buffer: strings (escaped, also from `Display`
//! values without an intermediate `String`), numbers and byte arrays. The monitor's payloads
//! are flat and few, so a writer of a page beats building a tree per snapshot.

use std::fmt;
use std::io::Write;

/// Appends `s` as a JSON string.
pub fn str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s);
    out.push(b'"');
}

/// Appends the text of `v` as a JSON string, escaped as it is formatted.
pub fn display(out: &mut Vec<u8>, v: &dyn fmt::Display) {
    out.push(b'"');
    let mut w = Escaper(out);
    // Formatting into a Vec only fails if the value's own Display fails; the string then
    // holds what it wrote, which is still valid JSON.
    let _ = fmt::write(&mut w, format_args!("{v}"));
    out.push(b'"');
}

/// Appends `"key":` (the key must need no escaping: the monitor's own names).
pub fn key(out: &mut Vec<u8>, key: &str) {
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Appends an unsigned integer.
pub fn uint(out: &mut Vec<u8>, n: u64) {
    let _ = write!(out, "{n}");
}

/// Appends a finite number with at most three decimals (`null` for NaN or an infinity).
pub fn float3(out: &mut Vec<u8>, x: f64) {
    if !x.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let r = (x * 1000.0).round() / 1000.0;
    let _ = write!(out, "{r}");
}

/// Appends bytes as an array of numbers (a DMX universe: `[0,255,...]`).
pub fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'[');
    for (i, &v) in b.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // At most three digits, without the formatter.
        if v >= 100 {
            out.push(b'0' + v / 100);
        }
        if v >= 10 {
            out.push(b'0' + (v / 10) % 10);
        }
        out.push(b'0' + v % 10);
    }
    out.push(b']');
}

/// Appends `true` or `false`.
pub fn bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// Removes a trailing comma (after the last member of an object or array written in a loop).
pub fn trim_comma(out: &mut Vec<u8>) {
    if out.last() == Some(&b',') {
        out.pop();
    }
}

fn escape_into(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            // Control characters, and the two line separators some JavaScript parsers mind.
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

struct Escaper<'a>(&'a mut Vec<u8>);

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pieces() {
        let mut out = Vec::new();
        out.push(b'{');
        key(&mut out, "a");
        str(&mut out, "x\"y\\\n\u{1}\u{2028}");
        out.push(b',');
        key(&mut out, "b");
        bytes(&mut out, &[0, 9, 10, 99, 100, 255]);
        out.push(b',');
        key(&mut out, "c");
        float3(&mut out, 1.23456);
        out.push(b',');
        key(&mut out, "d");
        float3(&mut out, f64::NAN);
        out.push(b',');
        key(&mut out, "e");
        display(&mut out, &format_args!("{}\t{}", 1, "é"));
        out.push(b',');
        trim_comma(&mut out);
        out.push(b'}');
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            r#"{"a":"x\"y\\\n\u0001\u2028","b":[0,9,10,99,100,255],"c":1.235,"d":null,"e":"1\té"}"#
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["a"], "x\"y\\\n\u{1}\u{2028}");
    }

    proptest! {
        /// Any string survives a round trip through a JSON parser.
        #[test]
        fn strings_round_trip(s in any::<String>()) {
            let mut out = Vec::new();
            str(&mut out, &s);
            let back: String = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(back, s);
        }

        #[test]
        fn bytes_match_decimal(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut out = Vec::new();
            bytes(&mut out, &b);
            let back: Vec<u8> = serde_json::from_slice(&out).unwrap();
            prop_assert_eq!(back, b);
        }
    }
}
