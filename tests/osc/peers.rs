//! The OSC peers of tests/osc.rs: oscsend, oscdump and the python-osc script, each bounded in
//! time; a helper that times out panics with what it saw.

use std::io::{BufRead, BufReader, Write};
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::{guard, poll};

pub const SETUP: &str = "run scripts/setup (installs liblo-tools and python-osc)";

/// A UDP port free on 127.0.0.1 now.
pub fn free_port() -> u16 {
    guard();
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("free port")
        .port()
}

/// `oscsend 127.0.0.1 PORT PATH [TYPES ARGS...]`.
pub fn oscsend(port: u16, args: &[&str]) {
    guard();
    let out = Command::new("oscsend")
        .arg("127.0.0.1")
        .arg(port.to_string())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("oscsend: {e}; {SETUP}"));
    assert!(
        out.status.success(),
        "oscsend {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// python-osc sends `specs` (see tests/peers/osc_peer.py) to 127.0.0.1:`port`.
pub fn py_send(port: u16, specs: &serde_json::Value) {
    py_send_with("send", port, specs);
}

/// python-osc sends `specs` over TCP with SLIP framing (its TCPClient, mode 1.1).
pub fn py_send_tcp(port: u16, specs: &serde_json::Value) {
    py_send_with("tcp-send", port, specs);
}

fn py_send_with(mode: &str, port: u16, specs: &serde_json::Value) {
    guard();
    let mut child = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/osc_peer.py"))
        .args([mode, "127.0.0.1", &port.to_string()])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3: {e}; {SETUP}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(specs.to_string().as_bytes())
        .expect("write");
    assert!(
        child.wait().expect("wait").success(),
        "python-osc send ({SETUP})"
    );
}

/// Lines a child prints, with the time each arrived.
type Lines = Arc<Mutex<Vec<(Instant, String)>>>;

/// A receiving peer running in the background, killed on drop.
pub struct Receiver {
    child: Child,
    lines: Lines,
}

impl Receiver {
    fn collect(mut child: Child, ready_line: bool) -> Receiver {
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        if ready_line {
            let mut first = String::new();
            out.read_line(&mut first).expect("read");
            assert_eq!(first.trim(), "ready", "peer did not start ({SETUP})");
        }
        let lines: Lines = Arc::default();
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push((Instant::now(), line));
            }
        });
        Receiver { child, lines }
    }

    /// python-osc reading datagrams on 127.0.0.1:`port`.
    pub fn python(port: u16) -> Receiver {
        Self::python_with("serve", port)
    }

    /// python-osc accepting one TCP connection on 127.0.0.1:`port` and reading SLIP frames.
    pub fn python_tcp(port: u16) -> Receiver {
        Self::python_with("tcp-serve", port)
    }

    fn python_with(mode: &str, port: u16) -> Receiver {
        guard();
        let child = Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/osc_peer.py"))
            .args([mode, &port.to_string(), "60"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("python3: {e}; {SETUP}"));
        Self::collect(child, true)
    }

    /// `oscdump -L PORT` (all local addresses of the namespace).
    pub fn oscdump(port: u16) -> Receiver {
        guard();
        let child = Command::new("oscdump")
            .args(["-L", &port.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("oscdump: {e}; {SETUP}"));
        // Listening once the port is taken.
        let bound = poll(Duration::from_secs(5), || {
            UdpSocket::bind(("127.0.0.1", port)).err().map(|_| ())
        });
        assert!(bound.is_some(), "oscdump did not bind {port}");
        Self::collect(child, false)
    }

    /// Waits until `n` lines arrived (at most 5 s) and returns them with their arrival times.
    pub fn wait_timed(&self, n: usize) -> Vec<(Instant, String)> {
        poll(Duration::from_secs(5), || {
            let l = self.lines.lock().unwrap();
            (l.len() >= n).then_some(())
        });
        std::thread::sleep(Duration::from_millis(200));
        let l = self.lines.lock().unwrap().clone();
        assert!(l.len() >= n, "expected {n} lines, got {l:#?}");
        l
    }

    /// [`Receiver::wait_timed`] without the times.
    pub fn wait(&self, n: usize) -> Vec<String> {
        self.wait_timed(n).into_iter().map(|(_, l)| l).collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// oscdump's line without its leading time tag.
pub fn strip_time(line: &str) -> &str {
    line.split_once(' ').map_or(line, |(_, rest)| rest)
}
