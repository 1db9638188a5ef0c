//! The web monitor through the real binary, in a real headless browser, inside the private
//! network namespace of `scripts/test` (`scripts/netns-run cargo test --test web` works too).
//!
//! A python `sacn` sender (tests/peers/sacn_peer.py) feeds universe 21 to patchbay, which maps
//! slots 1-16 to universe 22 sent to a socket of the test. Chromium, driven by chromedriver's
//! WebDriver HTTP API (plain HTTP from here, no client crate), opens the monitor page and must
//! show the python source and a value change within 200 ms. Then 100 event-stream clients and
//! one that never reads are added: all 100 get their snapshots, the sACN output keeps following
//! the input with the right values while the stuck client sits there, and the stuck client is
//! dropped (`dropped_slow`). The HTTP side (bad, oversized, unauthorized requests, the client
//! cap) is checked over raw TCP in the other tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "sacn/util.rs"]
#[allow(dead_code)]
mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use patchbay_sacn::wire::Packet;
use serde_json::{Value, json};
use util::{Patchbay, PyPeer, SACN_PORT, guard, poll, serial, test_cid};

const IN_U: u16 = 21;
const OUT_U: u16 = 22;

/// A configuration with the monitor on `web_port`, input universe 21 on 127.0.0.1:5568 and
/// output universe 22 to 127.0.0.1:`out_port`; `extra` goes into `[backend web]`.
fn config(web_port: u16, out_port: u16, extra: &str) -> String {
    format!(
        "[backend sacn]\nname = web test\ncid = {}\nbind = 127.0.0.1 {SACN_PORT}\n\n\
         [backend web]\nbind = 127.0.0.1 {web_port}\n{extra}\n\
         [sacn in]\nuniverse = {IN_U}\nunicast = 1\n\n\
         [sacn out]\nuniverse = {OUT_U}\npriority = 100\ndestination = 127.0.0.1 {out_port}\n\n\
         [map]\nin.{{1..16}} > out.{{1..16}}\n",
        util::cid_text(test_cid(41))
    )
}

/// One HTTP/1.1 request over a fresh connection; (status, headers, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[&str],
    body: Option<&Value>,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes()).unwrap();
    // Read up to the end of the head, then the body by its length (chromedriver keeps the
    // connection open), or to the end of the stream (the monitor closes).
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    let mut head_end = None;
    loop {
        if let Some(end) = head_end {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if len.is_some_and(|n| raw.len() >= end + 4 + n) {
                break;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
        if head_end.is_none() {
            head_end = raw.windows(4).position(|w| w == b"\r\n\r\n");
        }
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

fn api(port: u16, path: &str) -> Value {
    let (status, head, body) = http(port, "GET", path, &[], None);
    assert_eq!(status, 200, "{path}: {head}\n{body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// A free TCP port on loopback (bound and released: nothing else runs in the namespace).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver with one headless Chromium session, removed on drop.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run chromedriver ({e}): install chromium and chromium-driver (scripts/setup)")
            });
        let up = poll(Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
        assert!(up.is_some(), "chromedriver did not listen on {port}");
        let profile = tempfile::tempdir().unwrap();
        let binary =
            std::env::var("PATCHBAY_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let (status, _, body) = http(port, "POST", "/session", &[], Some(&caps));
        let v: Value = serde_json::from_str(&body).unwrap_or_default();
        let session = v["value"]["sessionId"].as_str().map(str::to_string);
        let mut b = Browser {
            driver,
            port,
            session: session.clone().unwrap_or_default(),
            _profile: profile,
        };
        assert!(
            status == 200 && session.is_some(),
            "no browser session: {status} {body}"
        );
        b.cmd("timeouts", &json!({"script": 20000, "pageLoad": 20000}));
        b
    }

    fn cmd(&mut self, what: &str, body: &Value) -> Value {
        let path = format!("/session/{}/{what}", self.session);
        let (status, _, text) = http(self.port, "POST", &path, &[], Some(body));
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(status, 200, "webdriver {what}: {text}");
        v["value"].clone()
    }

    fn open(&mut self, url: &str) {
        self.cmd("url", &json!({ "url": url }));
    }

    fn js(&mut self, script: &str) -> Value {
        self.cmd("execute/sync", &json!({"script": script, "args": []}))
    }

    /// Polls `script` (returning a value or null) in the page until it is not null.
    fn wait_for(&mut self, script: &str, timeout: Duration, what: &str) -> Value {
        let end = Instant::now() + timeout;
        loop {
            let v = self.js(script);
            if !v.is_null() && v != Value::Bool(false) {
                return v;
            }
            if Instant::now() > end {
                let page = self.js("return document.body.innerText;");
                panic!("{what}: not seen in {timeout:?}; the page shows:\n{page}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            &[],
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

/// Slots 1..16 of the input, all `v`.
fn level(v: u8) -> Vec<u8> {
    vec![v; 16]
}

/// The last output frame of universe 22 read from `sock` within `timeout` that `ok` accepts.
fn output_where(
    sock: &UdpSocket,
    timeout: Duration,
    ok: impl Fn(&[u8]) -> bool,
) -> Option<Vec<u8>> {
    let end = Instant::now() + timeout;
    let mut buf = [0u8; 2048];
    while Instant::now() < end {
        if let Ok(n) = sock.recv(&mut buf)
            && let Ok(Packet::Data(p)) = Packet::parse(&buf[..n])
            && p.universe() == OUT_U
            && ok(p.slots())
        {
            return Some(p.slots().to_vec());
        }
    }
    None
}

/// An event-stream client on raw TCP: reads the head, then events.
struct Stream {
    reader: BufReader<TcpStream>,
}

impl Stream {
    fn open(port: u16, query: &str) -> Stream {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET /api/events{query} HTTP/1.1\r\nHost: localhost\r\n\r\n"
        )
        .unwrap();
        Stream {
            reader: BufReader::new(s),
        }
    }

    /// The next event of kind `name` (its data), or None at the end or a timeout.
    fn next(&mut self, name: &str) -> Option<String> {
        let mut event = String::new();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            let line = line.trim_end();
            if let Some(e) = line.strip_prefix("event: ") {
                event = e.to_string();
            } else if let Some(d) = line.strip_prefix("data: ")
                && event == name
            {
                return Some(d.to_string());
            }
        }
    }
}

#[test]
fn monitor_in_a_browser_with_100_clients_and_a_stuck_one() {
    let _serial = serial();
    guard();
    let web = free_port();
    let out = UdpSocket::bind("127.0.0.1:0").unwrap();
    out.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let out_port = out.local_addr().unwrap().port();
    let mut pb = Patchbay::start(&config(web, out_port, ""), SACN_PORT);

    let mut peer = PyPeer::start();
    peer.sender("a", test_cid(42), "python desk");
    peer.output("a", IN_U, 100, Some("127.0.0.1"));
    peer.dmx("a", IN_U, &level(10));
    assert!(
        output_where(&out, Duration::from_secs(5), |s| s[..16] == level(10)[..]).is_some(),
        "patchbay forwards the python source\n{}",
        pb.log()
    );

    // The page loads and shows the source the python sender started.
    let mut browser = Browser::start();
    browser.open(&format!("http://127.0.0.1:{web}/?universe=in"));
    browser.wait_for(
        "const r = document.querySelector('#sources tbody tr'); \
         return r && r.innerText.includes('python desk') ? r.innerText : null;",
        Duration::from_secs(10),
        "the python source in the sources table",
    );
    let row = browser.js(
        "return document.querySelector('#instances tbody tr[data-instance=\"in\"]').innerText;",
    );
    assert!(row.as_str().unwrap().contains("receiving"), "{row}");
    // The routing graph lists the 16 mappings with live values.
    browser.wait_for(
        "const c = document.querySelector('#graph td.value[data-channel]'); \
         return c && c.textContent === '10' ? c.textContent : null;",
        Duration::from_secs(5),
        "the value of in.1 in the routing table",
    );

    // A value change reaches the grid within 200 ms (the median of five; none over a second).
    let mut latencies = Vec::new();
    for v in [50u8, 90, 130, 170, 210] {
        let port = browser.port;
        let session = browser.session.clone();
        let waiter = std::thread::spawn(move || {
            let script = "const want = String(arguments[0]); const done = arguments[1]; \
                const cell = () => document.querySelector('#grid-in .cell[data-slot=\"1\"]'); \
                (function check() { const c = cell(); \
                  if (c && c.dataset.value === want) done(Date.now()); else setTimeout(check, 2); })();";
            let (status, _, body) = http(
                port,
                "POST",
                &format!("/session/{session}/execute/async"),
                &[],
                Some(&json!({"script": script, "args": [v]})),
            );
            assert_eq!(status, 200, "{body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            v["value"].as_f64().expect("time stamp")
        });
        std::thread::sleep(Duration::from_millis(300));
        let t0 = unix_ms();
        peer.dmx("a", IN_U, &level(v));
        let seen = waiter.join().unwrap();
        latencies.push(seen - t0);
    }
    latencies.sort_by(f64::total_cmp);
    eprintln!("value change to the browser grid: {latencies:?} ms");
    assert!(latencies[2] < 200.0, "median {latencies:?} ms");
    assert!(latencies[4] < 1000.0, "{latencies:?} ms");

    // The page's reload button: a POST from the page's own origin, answered with what changed
    // (the file is the same: nothing), and the page keeps following the input afterwards.
    browser.js("document.getElementById('reload').click(); return null;");
    let answer = browser.wait_for(
        "const r = document.getElementById('reload-result'); \
         return r && r.textContent.startsWith('reloaded in') ? r.textContent : null;",
        Duration::from_secs(10),
        "the reload button's answer",
    );
    assert!(
        answer
            .as_str()
            .is_some_and(|a| a.contains("0 added, 0 removed")),
        "{answer}"
    );

    // 100 more clients, each with an event stream of the universe: every one gets its snapshots.
    let streams: Vec<_> = (0..100)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = Stream::open(web, "?universe=in");
                let instances = s.next("instances");
                let universe = s.next("universe");
                (instances.is_some() && universe.is_some(), s)
            })
        })
        .collect();
    let streams: Vec<(bool, Stream)> = streams.into_iter().map(|t| t.join().unwrap()).collect();
    let served = streams.iter().filter(|(ok, _)| *ok).count();
    assert_eq!(served, 100, "clients that got their snapshots");
    let status = api(web, "/api/status");
    assert!(status["streams"].as_u64().unwrap() >= 100, "{status}");

    // One client that never reads, watching the universe and every channel.
    let stuck = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    stuck.set_recv_buffer_size(4096).unwrap();
    stuck
        .connect(&std::net::SocketAddr::from(([127, 0, 0, 1], web)).into())
        .unwrap();
    let mut stuck: TcpStream = stuck.into();
    let ids: Vec<String> = (0..32).map(|i| i.to_string()).collect();
    write!(
        stuck,
        "GET /api/events?universe=in&channels={} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        ids.join(",")
    )
    .unwrap();
    drop(streams);

    // While it sits there, the output follows the input with the right values, and the page
    // keeps updating; the changing input makes the stuck client's output grow.
    let start = Instant::now();
    let mut step = 0u8;
    let mut dropped = false;
    while start.elapsed() < Duration::from_secs(90) {
        step = step.wrapping_add(7) | 1;
        peer.dmx("a", IN_U, &level(step));
        let got = output_where(&out, Duration::from_secs(2), |s| s[..16] == level(step)[..]);
        assert!(
            got.is_some(),
            "output did not follow the input to {step} while the stuck client exists\n{}",
            pb.log()
        );
        pb.assert_running();
        let status = api(web, "/api/status");
        if status["web"]["dropped_slow"].as_u64().unwrap() >= 1 {
            dropped = true;
            break;
        }
    }
    assert!(
        dropped,
        "the stuck client was not dropped in 90 s: {}",
        api(web, "/api/status")
    );
    eprintln!("stuck client dropped after {:?}", start.elapsed());
    // Its connection is closed: reading what it was sent ends (EOF or reset).
    stuck
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut sink = [0u8; 65536];
    let mut ended = false;
    for _ in 0..10_000 {
        match stuck.read(&mut sink) {
            Ok(0) | Err(_) => {
                ended = true;
                break;
            }
            Ok(_) => {}
        }
    }
    assert!(ended, "the stuck client's connection stays open");
    // The log says so, once.
    assert!(pb.log().contains("stopped reading"), "{}", pb.log());
    // And the browser still updates.
    peer.dmx("a", IN_U, &level(222));
    browser.wait_for(
        "const c = document.querySelector('#grid-in .cell[data-slot=\"16\"]'); \
         return c && c.dataset.value === '222' ? true : null;",
        Duration::from_secs(5),
        "the grid after the stuck client was dropped",
    );
    let warnings = api(web, "/api/warnings");
    assert!(
        warnings["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["message"].as_str().unwrap().contains("stopped reading")),
        "{warnings}"
    );
    let _ = stuck.shutdown(Shutdown::Both);
}

/// The JSON API carries what `sacn watch --json` reports, under the same names.
#[test]
fn api_documents_match_the_watch_names() {
    let _serial = serial();
    guard();
    let web = free_port();
    let out = UdpSocket::bind("127.0.0.1:0").unwrap();
    let pb = Patchbay::start(
        &config(web, out.local_addr().unwrap().port(), ""),
        SACN_PORT,
    );
    let mut peer = PyPeer::start();
    peer.sender("a", test_cid(43), "python api");
    peer.output("a", IN_U, 120, Some("127.0.0.1"));
    peer.dmx("a", IN_U, &[7, 8, 9]);
    let u = poll(Duration::from_secs(10), || {
        let u = api(web, "/api/universe?instance=in");
        (u["levels"][2] == 9).then_some(u)
    })
    .unwrap_or_else(|| panic!("levels never arrived\n{}", pb.log()));
    assert_eq!(u["universe"], IN_U);
    assert_eq!(u["top_priority"], 120);
    assert_eq!(u["sources"], 1);
    assert_eq!(u["levels"].as_array().unwrap().len(), 512);
    let s = &u["source_list"][0];
    for key in [
        "cid",
        "name",
        "priority",
        "per_address_priority",
        "fps",
        "packets",
        "sequence_errors",
        "missed",
        "losses",
        "state",
        "last_seen",
    ] {
        assert!(s.get(key).is_some(), "{key} missing in {s}");
    }
    assert_eq!(s["name"], "python api");
    assert_eq!(s["state"], "active");
    let sources = api(web, "/api/sources");
    assert_eq!(sources["sources"][0]["universe"], IN_U);
    assert_eq!(sources["sources"][0]["instance"], "in");
    let graph = api(web, "/api/graph?limit=3");
    assert_eq!(graph["total"], 16);
    assert_eq!(graph["edges"][0]["source"]["label"], "in.1");
    assert_eq!(graph["edges"][0]["target"]["label"], "out.1");
    let id = graph["edges"][0]["target"]["id"].as_u64().unwrap();
    let values = api(web, &format!("/api/values?channels={id}"));
    assert_eq!(values["values"][id.to_string()]["raw"], 7, "{values}");
    let counters = api(web, "/api/counters");
    let inst = counters["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["instance"] == "in")
        .unwrap();
    assert!(inst["counters"]["frames_in"].as_u64().unwrap() > 0);
    let instances = api(web, "/api/instances");
    assert_eq!(instances["total"], 2);
    assert_eq!(instances["instances"][1]["properties"]["priority"], "100");
}

/// Bad, oversized and unauthorized requests get their status over a real socket, a client past
/// the cap gets 503, and a token is required once configured (header, query + cookie).
#[test]
fn requests_are_checked_and_clients_capped() {
    guard();
    let web = free_port();
    let sacn_port = free_udp_port();
    let cfg = format!(
        "[backend sacn]\nbind = 127.0.0.1 {sacn_port}\n\n[backend web]\nbind = 127.0.0.1 {web}\n\
         token = 0123456789abcdef0123\nclients = 3\n\n[sacn in]\nuniverse = 1\nunicast = 1\n\n\
         [loopback l]\n\n[map]\nin.1 > l.a\n"
    );
    let _pb = Patchbay::start(&cfg, sacn_port);
    let auth = "Authorization: Bearer 0123456789abcdef0123";
    let (status, head, _) = http(web, "GET", "/api/status", &[], None);
    assert_eq!(status, 401, "{head}");
    let (status, _, body) = http(web, "GET", "/api/status", &[auth], None);
    assert_eq!(status, 200, "{body}");
    let (status, head, _) = http(web, "GET", "/?token=0123456789abcdef0123", &[], None);
    assert_eq!(status, 200);
    assert!(
        head.contains("Set-Cookie: patchbay_token=0123456789abcdef0123; HttpOnly"),
        "{head}"
    );
    let (status, _, _) = http(
        web,
        "GET",
        "/api/status",
        &["Cookie: patchbay_token=0123456789abcdef0123"],
        None,
    );
    assert_eq!(status, 200);
    let (status, _, _) = http(
        web,
        "GET",
        "/api/status",
        &["Authorization: Bearer wrong"],
        None,
    );
    assert_eq!(status, 401);
    let (status, _, _) = http(web, "POST", "/api/status", &[auth], None);
    assert_eq!(status, 405);
    let (status, _, _) = http(web, "GET", "/api/nothing", &[auth], None);
    assert_eq!(status, 404);
    let (status, _, _) = http(web, "GET", "/api/values?channels=99", &[auth], None);
    assert_eq!(status, 404);
    // Oversized head: 431, the connection closed.
    let big = "a".repeat(9000);
    let (status, _, _) = http(web, "GET", "/", &[&format!("X-Big: {big}")], None);
    assert_eq!(status, 431);
    // Garbage: 400.
    let mut s = TcpStream::connect(("127.0.0.1", web)).unwrap();
    s.write_all(b"\x00\x01\x02 nonsense\r\n\r\n").unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
    // Three clients hold their connections (requests never finished); the fourth gets 503.
    let held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", web)).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut s = TcpStream::connect(("127.0.0.1", web)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
    drop(held);
    let status = poll(Duration::from_secs(5), || {
        let (code, _, body) = http(web, "GET", "/api/status", &[auth], None);
        (code == 200).then(|| serde_json::from_str::<Value>(&body).unwrap())
    })
    .expect("served again once the held clients left");
    assert!(
        status["web"]["refused_full"].as_u64().unwrap() >= 1,
        "{status}"
    );
    assert!(
        status["web"]["bad_requests"].as_u64().unwrap() >= 4,
        "{status}"
    );
    assert!(
        status["web"]["unauthorized"].as_u64().unwrap() >= 2,
        "{status}"
    );
}

/// A monitor bound beyond loopback without credentials is a configuration error: exit 2 with
/// the line, nothing started; `--web` is checked the same way.
#[test]
fn a_network_bind_without_credentials_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("web.cfg");
    std::fs::write(
        &cfg,
        "[backend web]\nbind = 0.0.0.0 9090\n\n[loopback a]\n\n[map]\na.x > a.y\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .arg("--check")
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("web.cfg:2:1"), "{err}");
    assert!(err.contains("would be open to every host"), "{err}");
    std::fs::write(&cfg, "[loopback a]\n\n[map]\na.x > a.y\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .args(["--check", "--web", "0.0.0.0:9090"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--web 0.0.0.0:9090: the web monitor would be open"),
        "{err}"
    );
    std::fs::write(&cfg, "[web x]\n\n[loopback a]\n\n[map]\na.x > a.y\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .arg("--check")
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the web monitor has no instances"), "{err}");
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
