//! Shared machinery of the MQTT integration tests: a mosquitto broker with a private
//! configuration, the paho-mqtt peer (tests/peers/mqtt_peer.py), a TCP gate between patchbay
//! and the broker (holds reconnections back, or plays a broker that only speaks MQTT 3.1.1),
//! and patchbay configured with an sACN input and output beside its `[mqtt mq]` instance.
//!
//! Every wait is bounded; a helper that times out panics with what it saw and patchbay's log.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patchbay_sacn::Cid;

use crate::util::*;

pub const SETUP: &str = "run scripts/setup (installs mosquitto and paho-mqtt)";

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The test CA and server certificate of crates/mqtt (localhost and 127.0.0.1).
pub fn certs() -> PathBuf {
    root().join("crates/mqtt/tests/certs")
}

pub fn tcp_free_port() -> u16 {
    guard();
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

// ---------------------------------------------------------------------------------------------
// mosquitto
// ---------------------------------------------------------------------------------------------

/// Debian installs mosquitto in /usr/sbin, which a normal user's PATH may lack.
fn mosquitto_bin() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/mosquitto");
    let in_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("mosquitto").is_file()))
        .unwrap_or(false);
    if !in_path && sbin.is_file() {
        sbin
    } else {
        PathBuf::from("mosquitto")
    }
}

/// A mosquitto process with a private configuration (127.0.0.1 only, anonymous, nothing kept
/// across restarts), killed on drop.
pub struct Mosquitto {
    child: Option<Child>,
    pub port: u16,
    pub tls_port: Option<u16>,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        Self::on(tcp_free_port(), None)
    }

    /// With a second, TLS listener using the test certificates.
    pub fn start_tls() -> Mosquitto {
        Self::on(tcp_free_port(), Some(tcp_free_port()))
    }

    pub fn on(port: u16, tls_port: Option<u16>) -> Mosquitto {
        guard();
        let mut m = Mosquitto {
            child: None,
            port,
            tls_port,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        m.spawn();
        m
    }

    fn spawn(&mut self) {
        let mut conf = format!(
            "listener {} 127.0.0.1\nallow_anonymous true\npersistence false\n",
            self.port
        );
        if let Some(p) = self.tls_port {
            let c = certs();
            conf += &format!(
                "listener {p} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
                c.join("ca.pem").display(),
                c.join("server.pem").display(),
                c.join("server.key").display()
            );
        }
        let path = self.dir.path().join("mosquitto.conf");
        std::fs::write(&path, conf).expect("write conf");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("mosquitto.log"))
            .expect("log");
        let child = Command::new(mosquitto_bin())
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("mosquitto: {e}; {SETUP}"));
        self.child = Some(child);
        let listening = poll(Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", self.port)).ok()
        });
        assert!(
            listening.is_some(),
            "mosquitto did not listen: {}",
            self.log()
        );
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A new broker process on the same ports (retained values and sessions are gone).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// The paho peer
// ---------------------------------------------------------------------------------------------

fn peer() -> Command {
    let mut c = Command::new("python3");
    c.arg(root().join("tests/peers/mqtt_peer.py"));
    c
}

/// paho publishes `pairs` (topic, payload) in order over one connection.
pub fn publish(port: u16, version: &str, qos: u8, retain: bool, pairs: &[(&str, &str)]) {
    let mut c = peer();
    c.args([&port.to_string(), version, "pub", &qos.to_string()])
        .arg(if retain { "1" } else { "0" });
    for (t, p) in pairs {
        c.args([t, p]);
    }
    let status = c
        .status()
        .unwrap_or_else(|e| panic!("python3: {e}; {SETUP}"));
    assert!(status.success(), "paho publish failed ({SETUP})");
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub topic: String,
    pub payload: String,
    pub retain: bool,
    pub qos: u8,
}

/// A paho subscriber running in the background; [`Sub::messages`] is what it received so far.
pub struct Sub {
    child: Child,
    got: Arc<Mutex<Vec<Msg>>>,
}

impl Sub {
    /// Subscribes to `filter` (QoS 2) and returns once the broker granted it.
    pub fn start(port: u16, version: &str, filter: &str) -> Sub {
        guard();
        let mut child = peer()
            .args([&port.to_string(), version, "sub", filter, "1000000", "120"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("python3: {e}; {SETUP}"));
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read");
        assert_eq!(
            line.trim(),
            "ready",
            "paho subscriber did not start ({SETUP})"
        );
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = Arc::clone(&got);
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { return };
                let f: Vec<&str> = line.split('\t').collect();
                if f.len() != 4 {
                    continue;
                }
                let msg = Msg {
                    topic: f[0].to_string(),
                    payload: String::from_utf8_lossy(&unhex(f[1])).into_owned(),
                    retain: f[2] == "1",
                    qos: f[3].parse().unwrap_or(9),
                };
                g.lock().unwrap_or_else(|e| e.into_inner()).push(msg);
            }
        });
        Sub { child, got }
    }

    pub fn messages(&self) -> Vec<Msg> {
        self.got.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until at least `n` messages came (10 s), then returns them all.
    pub fn wait(&self, n: usize, pb: &Patchbay) -> Vec<Msg> {
        poll(Duration::from_secs(10), || {
            let m = self.messages();
            (m.len() >= n).then_some(m)
        })
        .unwrap_or_else(|| {
            panic!(
                "expected {n} MQTT messages, got {:?}\n--- log\n{}",
                self.messages(),
                pb.log()
            )
        })
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// (topic, payload) pairs of messages, for comparisons.
pub fn pairs(m: &[Msg]) -> Vec<(String, String)> {
    m.iter()
        .map(|m| (m.topic.clone(), m.payload.clone()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A gate between patchbay and the broker
// ---------------------------------------------------------------------------------------------

/// A TCP forwarder on its own port in front of the broker. Closed, it accepts connections and
/// closes them at once (a broker that is not back yet); in 3.1.1-only mode it answers an MQTT 5
/// CONNECT as a broker that does not know MQTT 5 does (a 3.1.1 CONNACK with return code 1,
/// unacceptable protocol version) and forwards the rest.
pub struct Gate {
    pub port: u16,
    open: Arc<AtomicBool>,
    /// Protocol level of every CONNECT seen.
    pub levels: Arc<Mutex<Vec<u8>>>,
}

impl Gate {
    pub fn start(upstream: u16, v311_only: bool) -> Gate {
        guard();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind gate");
        let port = listener.local_addr().expect("addr").port();
        let open = Arc::new(AtomicBool::new(true));
        let levels = Arc::new(Mutex::new(Vec::new()));
        let (o, l) = (Arc::clone(&open), Arc::clone(&levels));
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !o.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let l = Arc::clone(&l);
                std::thread::spawn(move || forward(client, upstream, v311_only, &l));
            }
        });
        Gate { port, open, levels }
    }

    pub fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
    }

    pub fn levels(&self) -> Vec<u8> {
        self.levels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Reads the client's CONNECT (its protocol level is byte 8 of the packet, after the fixed
/// header of two bytes and the protocol name), then copies bytes both ways.
fn forward(mut client: TcpStream, upstream: u16, v311_only: bool, levels: &Mutex<Vec<u8>>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(10)));
    let mut first = vec![0u8; 9];
    if client.read_exact(&mut first).is_err() {
        return;
    }
    let level = first[8];
    levels.lock().unwrap_or_else(|e| e.into_inner()).push(level);
    if v311_only && level != 4 {
        let _ = client.write_all(&[0x20, 0x02, 0x00, 0x01]);
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let _ = client.set_read_timeout(None);
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    if server.write_all(&first).is_err() {
        return;
    }
    let (Ok(mut c2), Ok(mut s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut s2, &mut c2);
        let _ = c2.shutdown(Shutdown::Both);
        let _ = s2.shutdown(Shutdown::Both);
    });
    let _ = std::io::copy(&mut client, &mut server);
    let _ = server.shutdown(Shutdown::Both);
    let _ = client.shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------------------------------------
// patchbay with sACN beside MQTT
// ---------------------------------------------------------------------------------------------

/// Input universe (unicast to patchbay's bind) and output universe (to the capture).
pub const IN_U: u16 = 1;
pub const OUT_U: u16 = 2;

pub struct Setup {
    pub pb: Patchbay,
    pub cap: Capture,
    pub tx: RawSender,
    pub to: SocketAddr,
    pub cid: Cid,
}

/// patchbay with sACN `in` (universe 1, unicast on a private port), sACN `out` (universe 2,
/// realtime, unicast to a capture) and `[mqtt mq]` with `mq` lines (host included), mapped by
/// `maps`. `n` makes its CIDs its own.
pub fn setup(n: u8, mq: &str, maps: &str) -> Setup {
    guard();
    let cap = Capture::v4(0, Ipv4Addr::LOCALHOST, &[]);
    let port = free_port();
    let cid = test_cid(n);
    let cfg = format!(
        "{}\n[sacn in]\nuniverse = {IN_U}\nunicast = 1\n\n[sacn out]\nuniverse = {OUT_U}\npriority = 100\n\
         realtime = 1\ndestination = 127.0.0.1 {}\n\n[mqtt mq]\n{mq}\n\n[map]\n{maps}\n",
        backend(&format!("mqtt{n}"), cid, &[&format!("127.0.0.1 {port}")]),
        cap.port()
    );
    let pb = Patchbay::start_with(&cfg, port, &["-d", "--stats-format", "json"]);
    Setup {
        pb,
        cap,
        tx: RawSender::v4(Ipv4Addr::LOCALHOST, test_cid(n.wrapping_add(100))),
        to: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        cid,
    }
}

impl Setup {
    /// Sends `slots` as universe [`IN_U`] to patchbay.
    pub fn send(&mut self, slots: &[u8]) {
        let p = self.tx.build(IN_U, 100, 0, slots);
        self.tx.send_raw(self.to, &p);
    }

    /// Waits until output universe [`OUT_U`] starts with `want` (8 s).
    pub fn expect_out(&self, want: &[u8], what: &str) {
        let got = self
            .cap
            .wait_slots(self.cid, OUT_U, Duration::from_secs(8), |s| {
                s.len() >= want.len() && s[..want.len()] == *want
            });
        if let Err(e) = got {
            panic!("{what}: want {want:?}: {e}\n--- log\n{}", self.pb.log());
        }
    }

    /// Waits until patchbay's log has `needle` at least `count` times (15 s).
    pub fn wait_log(&self, needle: &str, count: usize) {
        wait_log(&self.pb, needle, count);
    }

    /// Every counter of instance `mq` from a SIGUSR1 report.
    pub fn stats(&self) -> HashMap<String, u64> {
        stats(&self.pb, "mq")
    }
}

/// patchbay's whole log ([`Patchbay::log`] keeps only its end, for failure messages).
pub fn full_log(pb: &Patchbay) -> String {
    std::fs::read_to_string(format!("/proc/{}/fd/2", pb.pid())).unwrap_or_default()
}

pub fn wait_log(pb: &Patchbay, needle: &str, count: usize) {
    let found = poll(Duration::from_secs(15), || {
        (full_log(pb).matches(needle).count() >= count).then_some(())
    });
    if found.is_none() {
        panic!("no {count} × '{needle}' in the log\n--- log\n{}", pb.log());
    }
}

/// The counters of instance `instance` from a SIGUSR1 report (`--stats-format json`).
pub fn stats(pb: &Patchbay, instance: &str) -> HashMap<String, u64> {
    let marker = format!("\"backend\":\"mqtt\",\"instance\":\"{instance}\"");
    let reports = |l: &str| {
        l.lines()
            .filter(|l| l.starts_with("{\"stats\":\"signal\"") && l.contains(&marker))
            .count()
    };
    let before = reports(&full_log(pb));
    pb.signal("USR1");
    let log = poll(Duration::from_secs(5), || {
        let l = full_log(pb);
        (reports(&l) > before).then_some(l)
    })
    .unwrap_or_else(|| panic!("no stats report\n{}", pb.log()));
    let line = log
        .lines()
        .rev()
        .find(|l| l.starts_with("{\"stats\":\"signal\"") && l.contains(&marker))
        .unwrap_or_default();
    let body = line
        .split("\"counters\":{")
        .nth(1)
        .unwrap_or("")
        .trim_end_matches("}}");
    body.split(',')
        .filter_map(|p| p.split_once(':'))
        .filter_map(|(k, v)| Some((k.trim_matches('"').to_string(), v.parse().ok()?)))
        .collect()
}

/// Waits (10 s) until `f` holds for the instance's counters; returns them.
pub fn wait_stats(
    pb: &Patchbay,
    instance: &str,
    what: &str,
    f: impl Fn(&HashMap<String, u64>) -> bool,
) -> HashMap<String, u64> {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let s = stats(pb, instance);
        if f(&s) {
            return s;
        }
        if Instant::now() > end {
            panic!("{what}: counters {s:?}\n--- log\n{}", pb.log());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `printf("%f")`, as MIDIMonster writes payloads.
pub fn f6(v: f64) -> String {
    format!("{v:.6}")
}
