//! Values and packets end to end: what one independent peer sends reaches the other exactly as
//! the configuration says (types, ranges, triggers, patterns, bundles in and out, time tags).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::peers::*;
use crate::util::Patchbay;

fn float_bits(v: f64) -> String {
    format!("{:016x}", v.to_bits())
}

fn message(address: &str, args: Value) -> Value {
    json!({"message": {"address": address, "args": args}})
}

fn parse(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// liblo sends every type it has; patchbay maps each to a preconfigured output type; python-osc
/// reads exactly the configured messages.
#[test]
fn liblo_in_python_out_every_type() {
    let (pin, ppy) = (free_port(), free_port());
    let py = Receiver::python(ppy);
    let config = format!(
        "[osc in]\nbind = 127.0.0.1 {pin}\n\n\
         [osc py]\ndestination = 127.0.0.1 {ppy}\n\
         /oi = i 0 255\n/of = f 0.0 1.0\n/oh = h 0 1024\n/od = d 0.0 1.0\n/os = s 0 1\n\
         /oT = T\n/oN = N\n/om = m 0xB0 7\n/ot = t\n/oxy = ff 0.0 1.0 -1.0 1.0\n\n\
         [map]\n\
         in./i > py./oi\nin./f > py./of\nin./h > py./oh\nin./d > py./od\nin./s > py./os\n\
         in./T > py./oT\nin./N > py./oN\nin./m > py./om\nin./I > py./ot\n\
         in./x > py./oxy\nin./y > py./oxy:1\n"
    );
    let mut pb = Patchbay::start(&config, pin);
    for args in [
        &["/i", "i", "200"][..],
        &["/f", "f", "0.25"],
        &["/h", "h", "512"],
        &["/d", "d", "0.125"],
        &["/s", "s", "0.5"],
        &["/T", "T"],
        &["/T", "F"],
        &["/N", "N"],
        &["/m", "m", "00b00764"],
        &["/I", "I"],
        &["/x", "f", "0.5"],
        &["/y", "f", "1.0"],
    ] {
        oscsend(pin, args);
        std::thread::sleep(Duration::from_millis(30));
    }
    let got = parse(&py.wait(12));
    pb.assert_running();
    let want = vec![
        message("/oi", json!([{"int": 200}])),
        message("/of", json!([{"float": float_bits(0.25)}])),
        message("/oh", json!([{"int": 512}])),
        message("/od", json!([{"float": float_bits(0.125)}])),
        message("/os", json!([{"str": "0.5"}])),
        message("/oT", json!([{"bool": true}])),
        message("/oT", json!([{"bool": false}])),
        message("/oN", json!([{"nil": null}])),
        message("/om", json!([{"midi": [0, 0xb0, 7, 100]}])),
        message("/ot", json!([{"time": [0, 1]}])),
        message(
            "/oxy",
            json!([{"float": float_bits(0.5)}, {"float": float_bits(-1.0)}]),
        ),
        message(
            "/oxy",
            json!([{"float": float_bits(0.5)}, {"float": float_bits(1.0)}]),
        ),
    ];
    assert_eq!(got, want, "{}", pb.log());
}

/// python-osc sends a pattern address, nested bundles and a bundle for later; liblo's oscdump
/// sees the configured messages, the later one at its time.
#[test]
fn python_in_oscdump_out_patterns_and_bundles() {
    let (pin, pdump) = (free_port(), free_port());
    let dump = Receiver::oscdump(pdump);
    let config = format!(
        "[osc in]\nbind = 127.0.0.1 {pin}\nroot = /show\n\n\
         [osc dump]\ndestination = 127.0.0.1 {pdump}\n/f* = f 0.0 1.0\n/go = I\n\n\
         [map]\nin./f1 > dump./f1\nin./f2 > dump./f2\nin./f3 > dump./f3\nin./go > dump./go\n"
    );
    let mut pb = Patchbay::start(&config, pin);
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let f = |v: f64| json!({"t": "f", "v": v});
    let sent = Instant::now();
    py_send(
        pin,
        &json!([
            {"message": {"address": "/show/f[12]", "args": [f(0.5)]}},
            {"bundle": {"time": "immediately", "elements": [
                {"message": {"address": "/show/f3", "args": [f(0.25)]}},
                {"bundle": {"time": "immediately", "elements": [
                    {"message": {"address": "/show/go", "args": []}}
                ]}}
            ]}},
            {"bundle": {"time": {"unix": unix + 1.0}, "elements": [
                {"message": {"address": "/show/f1", "args": [f(1.0)]}}
            ]}}
        ]),
    );
    let got = dump.wait_timed(5);
    pb.assert_running();
    let lines: Vec<&str> = got.iter().map(|(_, l)| strip_time(l)).collect();
    assert_eq!(
        lines,
        [
            "/f1 f 0.500000",
            "/f2 f 0.500000",
            "/f3 f 0.250000",
            "/go I Infinitum",
            "/f1 f 1.000000"
        ],
        "{}",
        pb.log()
    );
    let late = got[4].0.duration_since(sent);
    assert!(late >= Duration::from_millis(800), "held only {late:?}");
    assert!(got[3].0.duration_since(sent) < Duration::from_millis(800));
}

/// With `bundle = on`, what changed in one turn reaches python-osc as one bundle.
#[test]
fn bundle_out_reaches_python_as_one_bundle() {
    let (pin, ppy) = (free_port(), free_port());
    let py = Receiver::python(ppy);
    let config = format!(
        "[osc in]\nbind = 127.0.0.1 {pin}\n\n\
         [osc py]\ndestination = 127.0.0.1 {ppy}\nbundle = on\n/f* = f 0.0 1.0\n\n\
         [map]\nin./a > py./f1\nin./b > py./f2\nin./c > py./f3\n"
    );
    let mut pb = Patchbay::start(&config, pin);
    let f = |v: f64| json!({"t": "f", "v": v});
    py_send(
        pin,
        &json!([{"bundle": {"time": "immediately", "elements": [
            {"message": {"address": "/a", "args": [f(0.5)]}},
            {"message": {"address": "/b", "args": [f(0.25)]}},
            {"message": {"address": "/c", "args": [f(0.75)]}}
        ]}}]),
    );
    let got = parse(&py.wait(1));
    pb.assert_running();
    let el = |a: &str, v: f64| message(a, json!([{"float": float_bits(v)}]));
    assert_eq!(
        got,
        vec![json!({"bundle": {"time": "0000000000000001", "elements": [
            el("/f1", 0.5), el("/f2", 0.25), el("/f3", 0.75)
        ]}})],
        "{}",
        pb.log()
    );
}

/// liblo over TCP (its length-prefixed framing) into an instance with `transport = tcp-length`.
#[test]
fn liblo_over_tcp_length_prefixed() {
    let (pin, pready, ppy) = (free_port(), free_port(), free_port());
    let py = Receiver::python(ppy);
    let config = format!(
        "[osc in]\ntransport = tcp-length\nbind = 127.0.0.1 {pin}\n\n\
         [osc ready]\nbind = 127.0.0.1 {pready}\n\n\
         [osc py]\ndestination = 127.0.0.1 {ppy}\n/o = f 0.0 1.0\n\n\
         [map]\nin./a > py./o\n"
    );
    // The UDP instance says when patchbay is up (the TCP listener opened before it).
    let mut pb = Patchbay::start(&config, pready);
    let out = std::process::Command::new("oscsend")
        .args([&format!("osc.tcp://127.0.0.1:{pin}"), "/a", "f", "0.75"])
        .output()
        .unwrap_or_else(|e| panic!("oscsend: {e}; {SETUP}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = parse(&py.wait(1));
    pb.assert_running();
    assert_eq!(
        got,
        vec![message("/o", json!([{"float": float_bits(0.75)}]))],
        "{}",
        pb.log()
    );
}

/// OSC 1.1 over TCP both ways with python-osc: its TCPClient (SLIP) into a listening instance,
/// and an instance connecting out to a python listener that unescapes with python-osc's slip.
#[test]
fn python_over_tcp_slip_both_ways() {
    let (pin, pready, pout) = (free_port(), free_port(), free_port());
    let py = Receiver::python_tcp(pout);
    let config = format!(
        "[osc in]\ntransport = tcp\nbind = 127.0.0.1 {pin}\n\n\
         [osc ready]\nbind = 127.0.0.1 {pready}\n\n\
         [osc out]\ntransport = tcp\ndestination = 127.0.0.1 {pout}\n/o = i 0 255\n/b = ih 0 255 0 1024\n\n\
         [map]\nin./a > out./o\nin./b > out./b:1\n"
    );
    let mut pb = Patchbay::start(&config, pready);
    // 0xC0 and 0xDB in the data: SLIP must escape them.
    py_send_tcp(
        pin,
        &json!([
            {"message": {"address": "/a", "args": [{"t": "i", "v": 0xC0}]}},
            {"bundle": {"time": "immediately", "elements": [
                {"message": {"address": "/b", "args": [{"t": "i", "v": 0xDB}]}}
            ]}}
        ]),
    );
    let got = parse(&py.wait(2));
    pb.assert_running();
    assert_eq!(
        got,
        vec![
            message("/o", json!([{"int": 0xC0}])),
            // 0xDB (219) of 0..255 is 879.4 of 0..1024: 879.
            message("/b", json!([{"int": 0}, {"int": 879}])),
        ],
        "{}",
        pb.log()
    );
}
