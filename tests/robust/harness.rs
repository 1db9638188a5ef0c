//! Drives the real binary: a configuration in a temp dir, stderr collected line by line, counters
//! read through SIGUSR1 + `--stats-format json`, sACN packets built with `patchbay_sacn` and the
//! output read from a UDP socket the configuration names as destination.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use patchbay_sacn::wire::{DataHeader, Options, write_data};
use patchbay_sacn::{Cid, Packet};

/// Counters of one scope (instance name or `bind N`).
pub type Counters = HashMap<String, u64>;
/// Every scope of one report.
pub type Report = HashMap<String, Counters>;

#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    closed: bool,
}

/// A running patchbay; killed on drop.
pub struct Daemon {
    pub child: Child,
    pub cfg: PathBuf,
    lines: Arc<(Mutex<Lines>, Condvar)>,
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("patchbay-robust-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

impl Daemon {
    /// Starts patchbay on `cfg_text` with JSON counter reports; `args` are added.
    pub fn start(tag: &str, cfg_text: &str, args: &[&str]) -> Daemon {
        let dir = temp_dir(tag);
        let cfg = dir.join("robust.cfg");
        std::fs::write(&cfg, cfg_text).expect("write config");
        let format: &[&str] = if args.contains(&"--stats-format") {
            &[]
        } else {
            &["--stats-format", "json"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_patchbay"))
            .args(format)
            .args(args)
            .arg(&cfg)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn patchbay");
        let stderr = child.stderr.take().expect("stderr");
        let lines: Arc<(Mutex<Lines>, Condvar)> = Arc::default();
        let shared = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if std::env::var_os("ROBUST_ECHO").is_some() {
                    eprintln!("[patchbay] {line}");
                }
                let (m, cv) = &*shared;
                m.lock().expect("lines").lines.push(line);
                cv.notify_all();
            }
            let (m, cv) = &*shared;
            m.lock().expect("lines").closed = true;
            cv.notify_all();
        });
        Daemon { child, cfg, lines }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Number of stderr lines so far.
    pub fn line_count(&self) -> usize {
        self.lines.0.lock().expect("lines").lines.len()
    }

    /// Copy of every stderr line so far.
    pub fn log(&self) -> Vec<String> {
        self.lines.0.lock().expect("lines").lines.clone()
    }

    /// Waits for a line at index >= `from` that satisfies `pred`; returns its index.
    pub fn wait_line(
        &self,
        from: usize,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.lines;
        let mut g = m.lock().expect("lines");
        loop {
            if let Some(i) = g.lines.iter().skip(from).position(|l| pred(l)) {
                return Some(from + i);
            }
            let now = Instant::now();
            if now >= deadline || g.closed {
                return None;
            }
            g = cv.wait_timeout(g, deadline - now).expect("lines").0;
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill")
            .success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Asks for a counter report (SIGUSR1) and returns it; `last_scope` is the scope reported
    /// last (the last bind).
    pub fn stats_until(&self, last_scope: &str) -> Report {
        let from = self.line_count();
        self.signal("USR1");
        let marker = format!("\"scope\":\"{last_scope}\"");
        let end = self
            .wait_line(from, Duration::from_secs(5), |l| {
                l.starts_with("{\"stats\":\"signal\"") && l.contains(&marker)
            })
            .unwrap_or_else(|| panic!("no stats report; log:\n{}", self.log().join("\n")));
        let lines = self.log();
        let mut report = Report::new();
        for l in &lines[from..=end] {
            if let Some((scope, counters)) = parse_stats_line(l) {
                report.insert(scope, counters);
            }
        }
        report
    }

    /// Report ending with `bind 0`.
    pub fn stats(&self) -> Report {
        self.stats_until("bind 0")
    }

    /// Waits for the process to end; its exit status and how long that took.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<(std::process::ExitStatus, Duration)> {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some((st, t0.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// Whether the process still runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `{"stats":..,"instance"|"scope":"NAME","counters":{"a":1,..}}` → (NAME, counters).
pub fn parse_stats_line(l: &str) -> Option<(String, Counters)> {
    if !l.starts_with("{\"stats\":") {
        return None;
    }
    let key = if l.contains("\"instance\":\"") {
        "\"instance\":\""
    } else {
        "\"scope\":\""
    };
    let start = l.find(key)? + key.len();
    let end = start + l[start..].find('"')?;
    let scope = l[start..end].to_string();
    let body = l.split("\"counters\":{").nth(1)?.trim_end_matches("}}");
    let mut counters = Counters::new();
    for pair in body.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once(':')?;
        counters.insert(k.trim_matches('"').to_string(), v.parse().ok()?);
    }
    Some((scope, counters))
}

/// `after[scope][name] - before[scope][name]` (missing = 0).
pub fn delta(before: &Report, after: &Report, scope: &str, name: &str) -> i64 {
    let get = |r: &Report| r.get(scope).and_then(|c| c.get(name)).copied().unwrap_or(0) as i64;
    get(after) - get(before)
}

/// Every counter of `scope` that changed, as "name +n".
pub fn changes(before: &Report, after: &Report, scope: &str) -> Vec<String> {
    let mut v: Vec<String> = after
        .get(scope)
        .map(|c| {
            c.keys()
                .filter_map(|k| {
                    let d = delta(before, after, scope, k);
                    (d != 0).then(|| format!("{k} {d:+}"))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A CID with every byte `b` (distinct per test source; never patchbay's own).
pub fn cid(b: u8) -> Cid {
    Cid([b; 16])
}

/// A data packet (start code 0) with `slots`.
pub fn data(cid: Cid, universe: u16, priority: u8, seq: u8, slots: &[u8]) -> Vec<u8> {
    data_opts(cid, universe, priority, seq, Options::NONE, slots)
}

pub fn data_opts(
    cid: Cid,
    universe: u16,
    priority: u8,
    seq: u8,
    options: Options,
    slots: &[u8],
) -> Vec<u8> {
    let mut buf = vec![0u8; 700];
    let h = DataHeader {
        cid,
        source_name: "robust test",
        priority,
        sync_address: 0,
        sequence: seq,
        options,
        universe,
        start_code: 0,
    };
    let n = write_data(&mut buf, &h, slots).expect("build data");
    buf.truncate(n);
    buf
}

/// What the test saw of one output data packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub universe: u16,
    pub seq: u8,
    pub priority: u8,
    pub terminated: bool,
    pub slots: Vec<u8>,
}

/// The socket patchbay's output is sent to.
pub struct Output {
    pub sock: UdpSocket,
}

impl Output {
    pub fn bind(addr: &str) -> Output {
        let sock = UdpSocket::bind(addr).expect("bind output socket");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        Output { sock }
    }

    /// The next data packet within `timeout`.
    pub fn next(&self, timeout: Duration) -> Option<Seen> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 2048];
        while Instant::now() < deadline {
            let Ok(n) = self.sock.recv(&mut buf) else {
                continue;
            };
            if let Ok(Packet::Data(p)) = Packet::parse(&buf[..n]) {
                return Some(Seen {
                    universe: p.universe(),
                    seq: p.sequence(),
                    priority: p.priority(),
                    terminated: p.options().stream_terminated(),
                    slots: p.slots().to_vec(),
                });
            }
        }
        None
    }

    /// Reads until a packet of `universe` whose first slots equal `want` arrives; returns it,
    /// or panics with the last packet seen and `what`.
    pub fn expect_values(&self, universe: u16, want: &[u8], timeout: Duration, what: &str) -> Seen {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        while Instant::now() < deadline {
            if let Some(s) = self.next(deadline.saturating_duration_since(Instant::now())) {
                if s.universe == universe
                    && s.slots.len() >= want.len()
                    && s.slots[..want.len()] == *want
                {
                    return s;
                }
                last = Some(s);
            }
        }
        panic!("{what}: output of universe {universe} never showed {want:?}; last packet {last:?}");
    }

    /// Discards everything queued.
    pub fn drain(&self) {
        let mut buf = [0u8; 2048];
        self.sock.set_nonblocking(true).expect("nonblocking");
        while self.sock.recv(&mut buf).is_ok() {}
        self.sock.set_nonblocking(false).expect("blocking");
    }
}

/// A socket to send test packets from.
pub fn sender() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("bind sender")
}

/// Resident set size of `pid` in KiB (VmRSS of /proc/PID/status).
pub fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Datagrams the kernel dropped at the UDP socket bound to `port` (any address) because its
/// receive buffer was full: the `drops` column of `/proc/self/net/udp` (this namespace).
pub fn udp_receive_drops(port: u16) -> u64 {
    let table = std::fs::read_to_string("/proc/self/net/udp").unwrap_or_default();
    let local = format!(":{port:04X} ");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|a| format!("{a} ").ends_with(&local))
        })
        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .sum()
}

/// An output socket read on its own thread from the moment it is bound, into a list the test
/// inspects. A socket the test thread reads only between other work overflows under load: its
/// kernel buffer (208 KiB by default, about 150 data packets) fills with realtime output while
/// the thread waits for something else, and what patchbay sends last, its termination packets,
/// is dropped by the kernel before the test ever reads it. This one asks for 8 MiB and never
/// stops reading; [`Collector::receive_drops`] says whether it lost anything anyway.
pub struct Collector {
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
    port: u16,
}

impl Collector {
    pub fn bind(addr: &str) -> Collector {
        use std::sync::atomic::{AtomicBool, Ordering};
        let addr: std::net::SocketAddr = addr.parse().expect("address");
        let sock = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )
        .expect("socket");
        // Capped by net.core.rmem_max (4 MiB here, the kernel doubles it).
        let _ = sock.set_recv_buffer_size(8 << 20);
        sock.bind(&addr.into()).expect("bind collector");
        let sock: UdpSocket = sock.into();
        sock.set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
        let port = sock.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let seen = Arc::clone(&seen);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut buf = [0u8; 2048];
                loop {
                    // Once stopped, reads on until the queue is empty.
                    let Ok(n) = sock.recv(&mut buf) else {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        continue;
                    };
                    if let Ok(Packet::Data(p)) = Packet::parse(&buf[..n]) {
                        let s = Seen {
                            universe: p.universe(),
                            seq: p.sequence(),
                            priority: p.priority(),
                            terminated: p.options().stream_terminated(),
                            slots: p.slots().to_vec(),
                        };
                        seen.lock().unwrap_or_else(|e| e.into_inner()).push(s);
                    }
                }
            })
        };
        Collector {
            seen,
            stop,
            reader: Some(reader),
            port,
        }
    }

    /// Runs `f` on everything received so far.
    pub fn with<R>(&self, f: impl FnOnce(&[Seen]) -> R) -> R {
        f(&self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Datagrams the kernel dropped at this socket so far.
    pub fn receive_drops(&self) -> u64 {
        udp_receive_drops(self.port)
    }

    /// Stops reading once what is queued has been read, and returns everything received.
    pub fn finish(mut self) -> Vec<Seen> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}
