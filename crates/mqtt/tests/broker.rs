//! The sans-IO client against a real broker (mosquitto, started here on a private port) over a
//! blocking std `TcpStream`, cross-checked with an independent client (Eclipse paho-mqtt,
//! tests/peers/paho_peer.py). Opens sockets: run it in a private network namespace, e.g.
//! `scripts/netns-run cargo test -p patchbay-mqtt --test broker`.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use patchbay_mqtt::client::{Backoff, DisconnectReason, Output, Subscription};
use patchbay_mqtt::mapping::ValueMap;
use patchbay_mqtt::transport::{Roots, Transport, client_config};
use patchbay_mqtt::wire::{Protocol, QoS};
use patchbay_mqtt::{Client, Config, Event, OutputId};

const SETUP: &str = "run scripts/setup (installs mosquitto and paho-mqtt)";

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Debian installs mosquitto in /usr/sbin, which a normal user's PATH may lack.
fn mosquitto() -> PathBuf {
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

fn certs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/certs")
}

/// A mosquitto process with a private configuration, killed on drop.
struct Broker {
    child: Option<Child>,
    port: u16,
    tls_port: Option<u16>,
    dir: tempfile::TempDir,
}

impl Broker {
    fn start(tls: bool) -> Broker {
        patchbay_net::netns::require_private_netns();
        let mut b = Broker {
            child: None,
            port: free_port(),
            tls_port: tls.then(free_port),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        b.spawn();
        b
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
        let log = std::fs::File::create(self.dir.path().join("mosquitto.log")).expect("log");
        let child = Command::new(mosquitto())
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("mosquitto: {e}; {SETUP}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "mosquitto did not listen: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn peer() -> Command {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/paho_peer.py");
    let mut c = Command::new("python3");
    c.arg(script);
    c
}

fn version_arg(p: Protocol) -> &'static str {
    if p.is_v5() { "5" } else { "3.1.1" }
}

/// paho publishes one message and waits for its acknowledgement.
fn paho_pub(port: u16, protocol: Protocol, topic: &str, payload: &str, qos: u8, retain: bool) {
    let status = peer()
        .args([
            &port.to_string(),
            version_arg(protocol),
            "pub",
            topic,
            payload,
        ])
        .args([qos.to_string().as_str(), if retain { "1" } else { "0" }])
        .status()
        .unwrap_or_else(|e| panic!("python3: {e}; {SETUP}"));
    assert!(status.success(), "paho publish failed ({SETUP})");
}

/// A paho subscriber; `lines` reads what it received.
struct PahoSub {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl PahoSub {
    fn start(port: u16, protocol: Protocol, filter: &str, count: usize) -> PahoSub {
        let mut child = peer()
            .args([&port.to_string(), version_arg(protocol), "sub", filter])
            .args([&count.to_string(), "20"])
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
        PahoSub { child, out }
    }

    /// (topic, payload, retain, qos) of every message, after the subscriber exited.
    fn messages(mut self) -> Vec<(String, String, bool, u8)> {
        let mut v = Vec::new();
        for line in self.out.by_ref().lines() {
            let line = line.expect("line");
            let f: Vec<&str> = line.split('\t').collect();
            let bytes: Vec<u8> = (0..f[1].len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&f[1][i..i + 2], 16).expect("hex"))
                .collect();
            v.push((
                f[0].to_string(),
                String::from_utf8(bytes).expect("utf8"),
                f[2] == "1",
                f[3].parse().expect("qos"),
            ));
        }
        let _ = self.child.wait();
        v
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Connected(bool, Protocol),
    Disconnected(DisconnectReason),
    Message(String, String, bool, Vec<u32>),
    Subscribed(u32, u8),
    Other,
}

/// Owns the socket for the client: what patchbay's backend will do with mio, here blocking
/// with a short read timeout.
struct Driver {
    c: Client,
    port: u16,
    tls: Option<Arc<rustls::ClientConfig>>,
    stream: Option<TcpStream>,
    t: Transport,
    events: Vec<Ev>,
}

impl Driver {
    fn new(cfg: Config, port: u16) -> Driver {
        Driver {
            c: Client::new(cfg, Instant::now()),
            port,
            tls: None,
            stream: None,
            t: Transport::Plain,
            events: Vec::new(),
        }
    }

    fn closed(&mut self) {
        self.stream = None;
        self.c.transport_closed(Instant::now());
    }

    fn step(&mut self) {
        let now = Instant::now();
        self.c.handle_timeout(now);
        let mut actions = Vec::new();
        while let Some(e) = self.c.poll_event() {
            self.events.push(match e {
                Event::Open | Event::Close => {
                    actions.push(matches!(e, Event::Open));
                    Ev::Other
                }
                Event::Connected {
                    session_present,
                    protocol,
                } => Ev::Connected(session_present, protocol),
                Event::Disconnected { reason, .. } => Ev::Disconnected(reason),
                Event::Message(m) => Ev::Message(
                    m.topic.into(),
                    String::from_utf8_lossy(m.payload).into(),
                    m.retain,
                    m.subscriptions.iter().map(|s| s.0).collect(),
                ),
                Event::Subscribed { subscription, code } => Ev::Subscribed(subscription.0, code),
                _ => Ev::Other,
            });
        }
        for open in actions {
            if open {
                match TcpStream::connect(("127.0.0.1", self.port)) {
                    Ok(s) => {
                        s.set_read_timeout(Some(Duration::from_millis(10)))
                            .expect("timeout");
                        s.set_nodelay(true).expect("nodelay");
                        self.stream = Some(s);
                        self.t = match &self.tls {
                            Some(cfg) => Transport::tls(cfg.clone(), "localhost").expect("tls"),
                            None => Transport::Plain,
                        };
                        self.c.transport_connected(now);
                    }
                    Err(_) => self.c.transport_closed(now),
                }
            } else {
                self.flush();
                self.stream = None;
            }
        }
        self.flush();
        let Some(s) = self.stream.as_mut() else {
            std::thread::sleep(Duration::from_millis(10));
            return;
        };
        let mut buf = [0u8; 8192];
        match s.read(&mut buf) {
            Ok(0) => self.closed(),
            Ok(n) => {
                if self.t.receive(now, &buf[..n], &mut self.c).is_err() {
                    self.closed();
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => self.closed(),
        }
        self.flush();
    }

    fn flush(&mut self) {
        let Some(s) = self.stream.as_mut() else {
            return;
        };
        let out = self.t.pending(&mut self.c).to_vec();
        if out.is_empty() {
            return;
        }
        if s.write_all(&out).is_ok() {
            self.t.written(out.len(), &mut self.c);
        } else {
            self.closed();
        }
    }

    /// Steps until `pred` holds for the events so far (then clears them), or panics.
    fn until(&mut self, what: &str, pred: impl Fn(&[Ev]) -> bool) -> Vec<Ev> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !pred(&self.events) {
            assert!(
                Instant::now() < deadline,
                "timeout waiting for {what}: {:?}",
                self.events
            );
            self.step();
        }
        std::mem::take(&mut self.events)
    }

    /// Steps for a while (to let traffic settle).
    fn run_for(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.step();
        }
    }

    fn publish(&mut self, output: u32, payload: &[u8]) {
        self.c.publish(Instant::now(), OutputId(output), payload);
        self.flush();
    }
}

fn config(protocol: Protocol, id: &str) -> Config {
    let mut cfg = Config::new(id);
    cfg.protocol = protocol;
    cfg.backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(500),
        jitter: 0.0,
        seed: 1,
    };
    cfg.subscriptions = vec![
        Subscription {
            filter: "pb/in/+".into(),
            qos: QoS::AtLeastOnce,
        },
        Subscription {
            filter: "pb/exact".into(),
            qos: QoS::ExactlyOnce,
        },
    ];
    cfg.outputs = vec![
        Output {
            topic: "pb/out/a".into(),
            qos: QoS::AtLeastOnce,
            retain: false,
        },
        Output {
            topic: "pb/out/b".into(),
            qos: QoS::ExactlyOnce,
            retain: false,
        },
        Output {
            topic: "pb/in/self".into(),
            qos: QoS::AtMostOnce,
            retain: false,
        },
    ];
    cfg
}

fn connected(e: &[Ev]) -> bool {
    e.iter().filter(|e| matches!(e, Ev::Subscribed(..))).count() == 2
}

fn messages(e: &[Ev]) -> Vec<(String, String, bool, Vec<u32>)> {
    e.iter()
        .filter_map(|e| match e {
            Ev::Message(t, p, r, s) => Some((t.clone(), p.clone(), *r, s.clone())),
            _ => None,
        })
        .collect()
}

fn exchange_with_paho(protocol: Protocol) {
    let broker = Broker::start(false);
    let mut d = Driver::new(config(protocol, "pb-exchange"), broker.port);
    let ev = d.until("subscriptions", connected);
    assert!(ev.contains(&Ev::Connected(false, protocol)), "{ev:?}");
    assert!(
        ev.contains(&Ev::Subscribed(0, 1)) && ev.contains(&Ev::Subscribed(1, 2)),
        "{ev:?}"
    );

    // Out: MIDIMonster's payload text, read by paho.
    let sub = PahoSub::start(broker.port, Protocol::V5, "pb/out/#", 2);
    let mut payload = Vec::new();
    ValueMap::Plain.encode(0.5, &mut payload).expect("encode");
    d.publish(0, &payload);
    let mut range = ValueMap::default();
    range.add("range -10 10").expect("range");
    payload.clear();
    range.encode(0.25, &mut payload).expect("encode");
    d.publish(1, &payload);
    d.run_for(Duration::from_millis(300));
    let got = sub.messages();
    assert_eq!(
        got,
        [
            ("pb/out/a".into(), "0.500000".into(), false, 1),
            ("pb/out/b".into(), "-5.000000".into(), false, 2)
        ]
    );
    assert_eq!(d.c.in_flight(), 0, "both acknowledged");

    // In: paho publishes, the client delivers to the matching subscription.
    paho_pub(broker.port, Protocol::V311, "pb/in/x", "0.75", 1, false);
    paho_pub(broker.port, Protocol::V5, "pb/exact", "on", 2, false);
    let ev = d.until("two messages", |e| messages(e).len() == 2);
    let m = messages(&ev);
    assert_eq!(m[0], ("pb/in/x".into(), "0.75".into(), false, vec![0]));
    assert_eq!(m[1], ("pb/exact".into(), "on".into(), false, vec![1]));
    assert_eq!(ValueMap::Plain.decode(m[0].1.as_bytes()), Ok(0.75));

    // Own publication on a subscribed topic: MQTT 5 no-local keeps it away, 3.1.1 has no
    // such option.
    d.publish(2, b"0.1");
    paho_pub(broker.port, Protocol::V5, "pb/in/marker", "1", 1, false);
    let ev = d.until("marker", |e| {
        messages(e).iter().any(|m| m.0 == "pb/in/marker")
    });
    let own = messages(&ev).iter().any(|m| m.0 == "pb/in/self");
    assert_eq!(own, !protocol.is_v5(), "{ev:?}");
}

#[test]
fn v5_exchange_with_mosquitto_and_paho() {
    exchange_with_paho(Protocol::V5);
}

#[test]
fn v311_exchange_with_mosquitto_and_paho() {
    exchange_with_paho(Protocol::V311);
}

#[test]
fn retained_value_arrives_as_the_initial_value() {
    let broker = Broker::start(false);
    paho_pub(broker.port, Protocol::V5, "pb/in/r", "0.3", 1, true);
    let mut d = Driver::new(config(Protocol::V5, "pb-retained"), broker.port);
    let ev = d.until("retained message", |e| !messages(e).is_empty());
    assert_eq!(
        messages(&ev),
        [("pb/in/r".into(), "0.3".into(), true, vec![0])]
    );
}

#[test]
fn broker_restart_reconnects_resubscribes_and_republishes() {
    let mut broker = Broker::start(false);
    let mut d = Driver::new(config(Protocol::V5, "pb-restart"), broker.port);
    d.until("subscriptions", connected);
    d.publish(0, b"0.42");
    d.run_for(Duration::from_millis(200));

    broker.stop();
    d.until("disconnect", |e| {
        e.iter().any(|e| matches!(e, Ev::Disconnected(_)))
    });
    // Values given during the outage: only the newest per topic matters.
    d.publish(0, b"0.43");
    d.publish(1, b"0.9");
    d.run_for(Duration::from_millis(300));
    assert!(!d.c.is_connected());

    // While the client is not driven it does nothing: start the broker and a subscriber
    // first, so the re-publication after the reconnect is seen.
    broker.spawn();
    let sub = PahoSub::start(broker.port, Protocol::V311, "pb/#", 4);
    let ev = d.until("reconnect", connected);
    // The restarted broker kept no session: a new one, subscriptions sent again.
    assert!(ev.contains(&Ev::Connected(false, Protocol::V5)), "{ev:?}");
    // Traffic after the reconnect: nothing lost.
    d.publish(0, b"0.44");
    paho_pub(broker.port, Protocol::V311, "pb/in/after", "0.5", 1, false);
    d.until("input after restart", |e| {
        messages(e).iter().any(|m| m.0 == "pb/in/after")
    });
    d.run_for(Duration::from_millis(300));
    let got = sub.messages();
    // Per topic in order (QoS 2 takes more round trips, so topics interleave freely).
    let topic = |t: &str| -> Vec<String> {
        got.iter()
            .filter(|m| m.0 == t)
            .map(|m| m.1.clone())
            .collect()
    };
    assert_eq!(topic("pb/out/a"), ["0.43", "0.44"], "{got:?}");
    assert_eq!(topic("pb/out/b"), ["0.9"], "{got:?}");
    assert_eq!(topic("pb/in/after"), ["0.5"], "{got:?}");
}

#[test]
fn mqtts_with_mosquitto_and_a_given_ca() {
    let broker = Broker::start(true);
    let tls_port = broker.tls_port.expect("tls port");
    let mut cfg = config(Protocol::V311, "pb-tls");
    cfg.outputs[0].topic = "pb/in/tls".into();
    let mut d = Driver::new(cfg, tls_port);
    d.tls = Some(client_config(&Roots::CaFile(certs().join("ca.pem"))).expect("tls config"));
    let ev = d.until("subscriptions over TLS", connected);
    assert!(ev.contains(&Ev::Connected(false, Protocol::V311)), "{ev:?}");
    // 3.1.1 has no no-local: the client's own publication comes back through the broker.
    d.publish(0, b"0.125");
    let ev = d.until("own message", |e| !messages(e).is_empty());
    assert_eq!(
        messages(&ev),
        [("pb/in/tls".into(), "0.125".into(), false, vec![0])]
    );
    // And paho on the plain listener sees the same broker.
    paho_pub(broker.port, Protocol::V5, "pb/exact", "x", 0, false);
    let ev = d.until("paho message over TLS", |e| !messages(e).is_empty());
    assert_eq!(messages(&ev)[0].1, "x");
}
