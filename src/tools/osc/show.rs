//! A received datagram as text or JSON lines (no sockets): one line per message, bundles with
//! their time tag, rejected datagrams and elements with the reason (the osc backend's counter
//! names).

use std::fmt::Write as _;
use std::net::SocketAddr;

use patchbay_osc::wire::{Arg, Bundle, DropReason, Message, Packet, TimeTag};

fn time_text(t: TimeTag) -> String {
    match t.to_unix() {
        None if t.is_immediate() => "immediately".into(),
        None => format!("{:08x}.{:08x}", t.seconds(), t.fraction()),
        Some(d) => format!("{}.{:09}", d.as_secs(), d.subsec_nanos()),
    }
}

fn arg_text(a: &Arg<'_>, out: &mut String) {
    let _ = match a {
        Arg::Int(v) => write!(out, "{v}"),
        Arg::Int64(v) => write!(out, "{v}"),
        Arg::Float(v) => write!(out, "{v}"),
        Arg::Double(v) => write!(out, "{v}"),
        Arg::Str(s) | Arg::Symbol(s) => write!(out, "{s:?}"),
        Arg::Char(c) => write!(out, "{c:?}"),
        Arg::Blob(b) => {
            out.push_str("blob:");
            b.iter().try_for_each(|x| write!(out, "{x:02x}"))
        }
        Arg::Time(t) => write!(out, "time:{}", time_text(*t)),
        Arg::Rgba(c) => write!(out, "rgba:{:02x}{:02x}{:02x}{:02x}", c.r, c.g, c.b, c.a),
        Arg::Midi(m) => write!(
            out,
            "midi:{:02x}{:02x}{:02x}{:02x}",
            m.port, m.status, m.data1, m.data2
        ),
        Arg::True => write!(out, "T"),
        Arg::False => write!(out, "F"),
        Arg::Nil => write!(out, "N"),
        Arg::Impulse => write!(out, "I"),
        Arg::ArrayBegin => write!(out, "["),
        Arg::ArrayEnd => write!(out, "]"),
    };
}

fn message_text(m: &Message<'_>) -> String {
    let mut s = format!("{} ,{}", m.address(), m.type_tags());
    for a in m.args() {
        s.push(' ');
        arg_text(&a, &mut s);
    }
    s
}

fn bundle_text(b: &Bundle<'_>, prefix: &str, indent: usize, out: &mut Vec<String>) {
    let pad = "  ".repeat(indent);
    out.push(format!("{prefix}{pad}#bundle {}", time_text(b.time())));
    for e in b.elements() {
        match e {
            Ok(Packet::Message(m)) => out.push(format!("{prefix}{pad}  {}", message_text(&m))),
            Ok(Packet::Bundle(inner)) => bundle_text(&inner, prefix, indent + 1, out),
            Err(r) => out.push(format!("{prefix}{pad}  malformed: {}", r.as_str())),
        }
    }
}

/// Text lines for one datagram received `t` seconds after the start from `from`.
pub fn text_lines(bytes: &[u8], t: f64, from: SocketAddr, out: &mut Vec<String>) {
    let prefix = format!("{t:>9.3} {from} ");
    match Packet::parse(bytes) {
        Ok(Packet::Message(m)) => out.push(format!("{prefix}{}", message_text(&m))),
        Ok(Packet::Bundle(b)) => bundle_text(&b, &prefix, 0, out),
        Err(r) => out.push(format!(
            "{prefix}malformed: {} ({r}), {} bytes",
            r.as_str(),
            bytes.len()
        )),
    }
}

fn arg_json(a: &Arg<'_>) -> serde_json::Value {
    use serde_json::json;
    match a {
        Arg::Int(v) => json!(v),
        Arg::Int64(v) => json!(v),
        Arg::Float(v) => json!(v),
        Arg::Double(v) => json!(v),
        Arg::Str(s) | Arg::Symbol(s) => json!(s),
        Arg::Char(c) => json!(c.to_string()),
        Arg::True => json!(true),
        Arg::False => json!(false),
        Arg::Nil | Arg::Impulse => serde_json::Value::Null,
        other => {
            let mut s = String::new();
            arg_text(other, &mut s);
            json!(s)
        }
    }
}

/// JSON lines for one datagram: one object per message (`bundle`: the time tags of the
/// bundles around it, outermost first), or `{"malformed": REASON}`.
pub fn json_lines(bytes: &[u8], t: f64, from: SocketAddr, out: &mut Vec<String>) {
    use serde_json::json;
    fn walk(p: &Packet<'_>, times: &mut Vec<String>, emit: &mut impl FnMut(serde_json::Value)) {
        match p {
            Packet::Message(m) => emit(json!({
                "address": m.address(),
                "types": m.type_tags(),
                "args": m.args().filter(Arg::is_value).map(|a| arg_json(&a)).collect::<Vec<_>>(),
                "bundle": times.clone(),
            })),
            Packet::Bundle(b) => {
                times.push(time_text(b.time()));
                for e in b.elements() {
                    match e {
                        Ok(p) => walk(&p, times, emit),
                        Err(r) => emit(json!({"malformed": r.as_str()})),
                    }
                }
                times.pop();
            }
        }
    }
    let mut emit = |mut v: serde_json::Value| {
        if let Some(o) = v.as_object_mut() {
            o.insert("t".into(), json!(t));
            o.insert("from".into(), json!(from.to_string()));
        }
        out.push(v.to_string());
    };
    match Packet::parse(bytes) {
        Ok(p) => walk(&p, &mut Vec::new(), &mut emit),
        Err(r) => emit(json!({"malformed": DropReason::as_str(r)})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use patchbay_osc::wire::{BundleWriter, write_message};

    #[test]
    fn messages_bundles_and_junk() {
        let from: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut buf = [0u8; 256];
        let n = write_message(&mut buf, "/a", [Arg::Int(1), Arg::Str("x"), Arg::True]).unwrap();
        let mut out = Vec::new();
        text_lines(&buf[..n], 1.5, from, &mut out);
        assert_eq!(out, ["    1.500 127.0.0.1:9 /a ,isT 1 \"x\" T"]);
        out.clear();
        json_lines(&buf[..n], 1.5, from, &mut out);
        let v: serde_json::Value = serde_json::from_str(&out[0]).unwrap();
        assert_eq!(v["args"], serde_json::json!([1, "x", true]));
        assert_eq!(v["bundle"], serde_json::json!([]));
        let n = {
            let mut w = BundleWriter::new(&mut buf, TimeTag::IMMEDIATELY).unwrap();
            w.message("/b", []).unwrap();
            w.finish()
        };
        out.clear();
        text_lines(&buf[..n], 0.0, from, &mut out);
        assert_eq!(out.len(), 2);
        assert!(out[0].ends_with("#bundle immediately"), "{out:?}");
        assert!(out[1].ends_with("  /b ,"), "{out:?}");
        out.clear();
        json_lines(b"/x", 0.0, from, &mut out);
        assert!(out[0].contains("\"malformed\":\"unaligned\""), "{out:?}");
    }
}
