//! python-osc (1.10.2) as an independent peer, without sockets: the same packet specs built
//! by python-osc's OscMessageBuilder/OscBundleBuilder must parse here and equal our own
//! encoding byte for byte, and our encoding must be read back by python-osc's OscPacket with
//! the same values. Every type python-osc supports (i h f d s b T F N m r t and arrays), no
//! arguments, `#` in addresses, nested bundles with immediate and future time tags.
//!
//! Needs `pip install python-osc==1.10.2` (see `.ci/run`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use patchbay_osc::wire::{
    Arg, BundleWriter, Midi, Packet, Rgba, TimeTag, message_len, write_message,
};
use serde_json::{Value, json};

fn peer(request: &Value) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/peers/python_osc_peer.py"
    );
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write request");
    let out = child.wait_with_output().expect("peer ran");
    assert!(
        out.status.success(),
        "python-osc peer failed (needs `pip install python-osc==1.10.2`):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("peer JSON")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A spec argument as an `Arg` (strings and blobs borrow from `keep`).
fn to_args<'a>(
    spec: &'a [Value],
    blobs: &'a [Vec<u8>],
    next_blob: &mut usize,
    out: &mut Vec<Arg<'a>>,
) {
    for a in spec {
        let v = &a["v"];
        let arg = match a["t"].as_str().expect("type") {
            "i" => Arg::Int(v.as_i64().expect("i") as i32),
            "h" => Arg::Int64(v.as_i64().expect("h")),
            "f" => Arg::Float(v.as_f64().expect("f") as f32),
            "d" => Arg::Double(v.as_f64().expect("d")),
            "s" => Arg::Str(v.as_str().expect("s")),
            "b" => {
                let b = &blobs[*next_blob];
                *next_blob += 1;
                Arg::Blob(b)
            }
            "T" => Arg::True,
            "F" => Arg::False,
            "N" => Arg::Nil,
            "m" => {
                let m: Vec<u8> = serde_json::from_value(v.clone()).expect("m");
                Arg::Midi(Midi {
                    port: m[0],
                    status: m[1],
                    data1: m[2],
                    data2: m[3],
                })
            }
            "r" => {
                let [r, g, b, a] = (v.as_u64().expect("r") as u32).to_be_bytes();
                Arg::Rgba(Rgba { r, g, b, a })
            }
            "t" => Arg::Time(TimeTag(v.as_u64().expect("t"))),
            "[" => {
                out.push(Arg::ArrayBegin);
                to_args(v.as_array().expect("array"), blobs, next_blob, out);
                Arg::ArrayEnd
            }
            other => panic!("type {other}"),
        };
        out.push(arg);
    }
}

fn blobs_of(spec: &[Value], out: &mut Vec<Vec<u8>>) {
    for a in spec {
        match a["t"].as_str() {
            Some("b") => out.push(unhex(a["v"].as_str().expect("blob hex"))),
            Some("[") => blobs_of(a["v"].as_array().expect("array"), out),
            _ => {}
        }
    }
}

fn time_of(spec: &Value) -> TimeTag {
    match &spec["time"] {
        Value::String(s) if s == "immediately" => TimeTag::IMMEDIATELY,
        t => TimeTag::from_unix(Duration::from_secs_f64(t["unix"].as_f64().expect("unix"))),
    }
}

fn encode_into(spec: &Value, w: &mut BundleWriter<'_>) {
    if let Some(m) = spec.get("message") {
        let args_spec = m["args"].as_array().expect("args");
        let mut blobs = Vec::new();
        blobs_of(args_spec, &mut blobs);
        let mut args = Vec::new();
        to_args(args_spec, &blobs, &mut 0, &mut args);
        w.message(
            m["address"].as_str().expect("address"),
            args.iter().copied(),
        )
        .expect("fits");
    } else {
        let b = &spec["bundle"];
        w.begin_bundle(time_of(b)).expect("nest");
        for e in b["elements"].as_array().expect("elements") {
            encode_into(e, w);
        }
        w.end_bundle().expect("close");
    }
}

/// Our encoding of a spec.
fn encode(spec: &Value) -> Vec<u8> {
    let mut buf = vec![0u8; 8192];
    let n = if let Some(m) = spec.get("message") {
        let args_spec = m["args"].as_array().expect("args");
        let mut blobs = Vec::new();
        blobs_of(args_spec, &mut blobs);
        let mut args = Vec::new();
        to_args(args_spec, &blobs, &mut 0, &mut args);
        let address = m["address"].as_str().expect("address");
        let n = write_message(&mut buf, address, args.iter().copied()).expect("fits");
        assert_eq!(message_len(address, args.iter().copied()), Ok(n));
        n
    } else {
        let b = &spec["bundle"];
        let mut w = BundleWriter::new(&mut buf, time_of(b)).expect("header");
        for e in b["elements"].as_array().expect("elements") {
            encode_into(e, &mut w);
        }
        w.finish()
    };
    buf.truncate(n);
    buf
}

/// What python-osc reports for an argument (it does not keep i/h/r or f/d apart).
fn describe_args<'a>(args: &mut impl Iterator<Item = Arg<'a>>) -> Vec<Value> {
    let mut out = Vec::new();
    while let Some(a) = args.next() {
        out.push(match a {
            Arg::Int(v) => json!({"int": v}),
            Arg::Int64(v) => json!({"int": v}),
            Arg::Rgba(c) => json!({"int": u32::from_be_bytes([c.r, c.g, c.b, c.a])}),
            Arg::Float(v) => json!({"float": hex(&f64::from(v).to_be_bytes())}),
            Arg::Double(v) => json!({"float": hex(&v.to_be_bytes())}),
            Arg::Str(s) => json!({"str": s}),
            Arg::Blob(b) => json!({"blob": hex(b)}),
            Arg::True => json!({"bool": true}),
            Arg::False => json!({"bool": false}),
            Arg::Nil => json!({"nil": null}),
            Arg::Midi(m) => json!({"midi": [m.port, m.status, m.data1, m.data2]}),
            Arg::Time(t) => json!({"time": [t.seconds(), t.fraction()]}),
            Arg::ArrayBegin => json!({"array": describe_args(args)}),
            Arg::ArrayEnd => return out,
            other => panic!("python-osc has no {other:?}"),
        });
    }
    out
}

/// Our parse of a datagram, in the peer's description format; also counts messages.
fn describe(bytes: &[u8], messages: &mut usize) -> Value {
    match Packet::parse(bytes).expect("we accept it") {
        Packet::Message(m) => {
            *messages += 1;
            json!({"message": {"address": m.address(), "args": describe_args(&mut m.args())}})
        }
        Packet::Bundle(b) => {
            let elements: Vec<Value> = b
                .elements()
                .map(|e| describe(e.expect("valid element").as_bytes(), messages))
                .collect();
            json!({"bundle": {"time": hex(&b.time().0.to_be_bytes()), "elements": elements}})
        }
    }
}

fn cases(rust_only: bool) -> Vec<Value> {
    let mut all_types = vec![
        json!({"t": "i", "v": 4}),
        json!({"t": "i", "v": -2147483648i64}),
        json!({"t": "h", "v": 9007199254740993i64}),
        json!({"t": "h", "v": -1}),
        json!({"t": "f", "v": 0.5}),
        json!({"t": "f", "v": 3.4028234663852886e38}),
        json!({"t": "d", "v": 1234.56789e-3}),
        json!({"t": "d", "v": -1e-300}),
        json!({"t": "s", "v": "This is a string."}),
        json!({"t": "s", "v": "héllo ünïcode"}),
        json!({"t": "s", "v": ""}),
        json!({"t": "s", "v": "abc"}),
        json!({"t": "s", "v": "abcd"}),
        json!({"t": "b", "v": "01"}),
        json!({"t": "b", "v": "01020304"}),
        json!({"t": "b", "v": "0102030405"}),
        json!({"t": "T"}),
        json!({"t": "F"}),
        json!({"t": "N"}),
        json!({"t": "m", "v": [4, 144, 60, 127]}),
        json!({"t": "r", "v": 0xffc02a0du32}),
        json!({"t": "[", "v": [
            {"t": "i", "v": 42},
            {"t": "[", "v": [{"t": "f", "v": 1.25}, {"t": "f", "v": 3.5}]},
            {"t": "[", "v": []},
            {"t": "s", "v": "Yay"}
        ]}),
    ];
    if rust_only {
        // python-osc reads these but its builder refuses them.
        all_types.push(json!({"t": "b", "v": ""}));
        all_types.push(json!({"t": "t", "v": (3_208_988_800u64 << 32) | 0x8000_0000}));
    }
    let msg =
        |address: &str, args: Vec<Value>| json!({"message": {"address": address, "args": args}});
    vec![
        msg("/another/address/1", all_types),
        msg("/no/args", vec![]),
        msg("/ch/#01/mix", vec![json!({"t": "f", "v": 0.75})]),
        json!({"bundle": {"time": "immediately", "elements": []}}),
        json!({"bundle": {"time": "immediately", "elements": [
            msg("/view/1", vec![]),
            msg("/mixer/channel/1/amp", vec![json!({"t": "f", "v": 0.9})]),
            {"bundle": {"time": {"unix": 1_000_000_000.5}, "elements": [
                msg("/osc/1/freq", vec![json!({"t": "i", "v": 440})]),
                {"bundle": {"time": {"unix": 1_000_000_001.25}, "elements": [
                    msg("/osc/1/phase", vec![json!({"t": "f", "v": -0.5})]),
                    {"bundle": {"time": "immediately", "elements": [msg("/deep", vec![json!({"t": "T"})])]}}
                ]}}
            ]}}
        ]}}),
    ]
}

fn count_messages(spec: &Value) -> usize {
    if spec.get("message").is_some() {
        1
    } else {
        spec["bundle"]["elements"]
            .as_array()
            .expect("elements")
            .iter()
            .map(count_messages)
            .sum()
    }
}

#[test]
fn python_osc_builds_what_we_build_and_we_read_it() {
    let specs = cases(false);
    let built = peer(&json!({"mode": "build", "packets": specs}));
    let built = built.as_array().expect("list");
    assert_eq!(built.len(), specs.len());
    // Describing python's bytes with our parser must equal describing ours with python's.
    let ours: Vec<String> = specs.iter().map(|s| hex(&encode(s))).collect();
    let parsed_by_python = peer(&json!({"mode": "parse", "packets": ours}));
    for (i, (spec, theirs)) in specs.iter().zip(built).enumerate() {
        let theirs = unhex(theirs.as_str().expect("hex"));
        assert_eq!(
            hex(&theirs),
            ours[i],
            "case {i}: python-osc and patchbay encode differently"
        );
        let mut messages = 0;
        let mut ours_described = describe(&theirs, &mut messages);
        assert_eq!(messages, count_messages(spec), "case {i}");
        ours_described["messages"] = json!(messages);
        assert_eq!(parsed_by_python[i], ours_described, "case {i}");
    }
}

#[test]
fn python_osc_reads_time_tags_and_empty_blobs_it_cannot_build() {
    let specs: Vec<Value> = cases(true).into_iter().take(1).collect();
    let ours: Vec<String> = specs.iter().map(|s| hex(&encode(s))).collect();
    let parsed = peer(&json!({"mode": "parse", "packets": ours}));
    let args = parsed[0]["message"]["args"].as_array().expect("args");
    assert_eq!(
        args[args.len() - 2..],
        [
            json!({"blob": ""}),
            json!({"time": [3_208_988_800u64, 0x8000_0000u64]})
        ]
    );
    let mut messages = 0;
    let mut ours_described = describe(&unhex(&ours[0]), &mut messages);
    ours_described["messages"] = json!(messages);
    assert_eq!(parsed[0], ours_described);
}
