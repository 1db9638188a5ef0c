//! `patchbay osc send` and `patchbay osc watch` against python-osc: what the sender builds,
//! python-osc reads; what python-osc sends, the watcher shows.

use std::process::{Command, Stdio};

use serde_json::json;

use crate::peers::*;
use crate::util::guard;

fn float_bits(v: f64) -> String {
    format!("{:016x}", v.to_bits())
}

#[test]
fn send_reaches_python() {
    let port = free_port();
    let py = Receiver::python(port);
    let target = format!("127.0.0.1:{port}");
    for extra in [&[][..], &["--bundle"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_patchbay"))
            .args([
                "osc", "send", &target, "/a/b", "ifsTm", "3", "0.5", "hi", "00b00764",
            ])
            .args(extra)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let lines = py.wait(2);
    let got: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let m = json!({"message": {"address": "/a/b", "args": [
        {"int": 3}, {"float": float_bits(0.5)}, {"str": "hi"}, {"bool": true}, {"midi": [0, 0xb0, 7, 100]}
    ]}});
    assert_eq!(got[0], m);
    assert_eq!(
        got[1],
        json!({"bundle": {"time": "0000000000000001", "elements": [m]}})
    );
    let bad = Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .args(["osc", "send", &target, "/a", "i", "x"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn watch_shows_what_python_sends() {
    guard();
    let port = free_port();
    let watch = Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .args([
            "osc",
            "watch",
            &format!("127.0.0.1:{port}"),
            "--json",
            "--count",
            "2",
            "--duration",
            "10",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("watch");
    crate::util::poll(std::time::Duration::from_secs(5), || {
        std::net::UdpSocket::bind(("127.0.0.1", port))
            .err()
            .map(|_| ())
    })
    .expect("watch listens");
    py_send(
        port,
        &json!([
            {"message": {"address": "/x", "args": [{"t": "i", "v": 7}, {"t": "s", "v": "go"}]}},
            {"bundle": {"time": "immediately", "elements": [
                {"message": {"address": "/y", "args": [{"t": "T"}]}}
            ]}}
        ]),
    );
    let out = watch.wait_with_output().expect("watch ends");
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["address"], "/x");
    assert_eq!(lines[0]["types"], "is");
    assert_eq!(lines[0]["args"], json!([7, "go"]));
    assert_eq!(lines[1]["address"], "/y");
    assert_eq!(lines[1]["args"], json!([true]));
    assert_eq!(lines[1]["bundle"], json!(["immediately"]));
}
