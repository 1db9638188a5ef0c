//! `patchbay sacn send`, `patchbay sacn watch --json` and `patchbay --demo` as real processes, with
//! python `sacn` (pip `sacn==1.11.0`) as an independent peer. Every test opens sockets, so each
//! one first checks it runs in a private network namespace (`scripts/test`, or
//! `scripts/netns-run --veth cargo test --test tools`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

fn patchbay() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_patchbay"));
    c.env_remove("RUST_LOG");
    c
}

/// Starts `sacn watch ARGS --json --duration S`, waiting until it has had time to join.
fn spawn_watch(args: &[&str], seconds: f64) -> Child {
    let child = patchbay()
        .args([
            "sacn",
            "watch",
            "--json",
            "--duration",
            &seconds.to_string(),
        ])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start watch");
    thread::sleep(Duration::from_millis(300));
    child
}

/// The JSON lines of a finished watch.
fn lines(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "watch failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn events<'a>(all: &'a [Value], kind: &str) -> Vec<&'a Value> {
    all.iter().filter(|v| v["event"] == kind).collect()
}

fn levels(v: &Value, n: usize) -> Vec<u64> {
    v["levels"].as_array().expect("levels")[..n]
        .iter()
        .map(|x| x.as_u64().expect("level"))
        .collect()
}

const CID: &str = "0123abcd-89ab-4def-8123-456789abcdef";

#[test]
fn send_is_reported_by_watch_with_name_cid_priority_and_values() {
    patchbay_net::netns::require_private_netns();
    let watch = spawn_watch(&["101"], 3.8);
    let send = patchbay()
        .args([
            "-q",
            "sacn",
            "send",
            "101",
            "--name",
            "tester one",
            "--cid",
            CID,
        ])
        .args(["--priority", "150", "--pattern", "static:10,20,30"])
        .args(["--terminate-after", "2.6"])
        .status()
        .expect("run send");
    assert!(send.success());
    let all = lines(&watch.wait_with_output().expect("watch output"));

    let new = events(&all, "source_new");
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(new[0]["universe"], 101);
    assert_eq!(new[0]["name"], "tester one");
    assert_eq!(new[0]["cid"], CID);
    assert_eq!(new[0]["priority"], 150);

    let stats = events(&all, "stats");
    let active: Vec<_> = stats.iter().filter(|s| s["state"] == "active").collect();
    assert!(active.len() >= 2, "{stats:?}");
    for s in &active {
        assert_eq!(
            (s["cid"].as_str(), s["priority"].as_u64()),
            (Some(CID), Some(150))
        );
        assert_eq!(s["per_address_priority"], false);
        assert_eq!(s["sequence_errors"], 0);
        assert_eq!(s["missed"], 0);
        assert!(s["fps"].as_f64().expect("fps") >= 1.0, "{s}");
    }
    // After the 1.5 s sampling period, the merged levels are the static pattern.
    let merged: Vec<_> = events(&all, "universe")
        .into_iter()
        .filter(|u| u["sampling"] == false && u["sources"] == 1)
        .collect();
    assert!(!merged.is_empty(), "{all:?}");
    for u in merged {
        assert_eq!(levels(u, 4), [10, 20, 30, 0]);
        assert_eq!(u["top_priority"], 150);
        assert_eq!(u["sources_at_top_priority"], 1);
        assert_eq!(u["warnings"], Value::Array(vec![]));
    }
    // Other tests' sources announce themselves on the same discovery group: pick ours.
    let discovery: Vec<_> = events(&all, "discovery")
        .into_iter()
        .filter(|d| d["cid"] == CID)
        .collect();
    assert_eq!(discovery.len(), 1, "{all:?}");
    assert_eq!(discovery[0]["name"], "tester one");
    assert_eq!(discovery[0]["universes"], serde_json::json!([101]));
    let ended = events(&all, "source_terminated");
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0]["cid"], CID);
    assert!(events(&all, "source_lost").is_empty());
}

#[test]
fn terminate_after_ends_the_stream_with_termination_unicast() {
    patchbay_net::netns::require_private_netns();
    // No universe list: the watcher takes whatever arrives unicast.
    let watch = spawn_watch(&["--bind", "127.0.0.1:6101"], 3.6);
    let started = Instant::now();
    let send = patchbay()
        .args(["-q", "sacn", "send", "7", "--unicast", "127.0.0.1:6101"])
        .args(["--terminate-after", "2", "--rate", "20"])
        .status()
        .expect("run send");
    let took = started.elapsed();
    assert!(send.success());
    assert!(
        (Duration::from_millis(1950)..Duration::from_millis(2800)).contains(&took),
        "{took:?}"
    );
    let all = lines(&watch.wait_with_output().expect("watch output"));
    let ended = events(&all, "source_terminated");
    assert_eq!(ended.len(), 1, "{all:?}");
    assert_eq!(ended[0]["universe"], 7);
    let t = ended[0]["t"].as_f64().expect("t");
    assert!((2.1..3.2).contains(&t), "terminated at {t}");
    assert!(events(&all, "source_lost").is_empty());
    // Discovery went to the unicast destination too.
    assert_eq!(
        events(&all, "discovery")[0]["universes"],
        serde_json::json!([7])
    );
    // The ramp: each slot one above the previous, held after termination (loss = hold). The
    // universe was added on first sight, so its levels show after the 1.5 s sampling period.
    let last = events(&all, "universe")
        .pop()
        .expect("universe line")
        .clone();
    let l = levels(&last, 16);
    assert!(l.iter().any(|&v| v != 0), "{l:?}");
    for w in l.windows(2) {
        assert_eq!((w[0] + 1) % 256, w[1], "{l:?}");
    }
    let stats = events(&all, "stats").pop().expect("stats").clone();
    assert_eq!(stats["state"], "terminated");
}

const PY_TWO_SOURCES: &str = r#"
import sys, time, sacn
universe = int(sys.argv[1])
senders = []
for name, data in (("desk A", (200, 0, 50)), ("desk B", (0, 100, 50))):
    s = sacn.sACNsender(bind_address="0.0.0.0", bind_port=0, source_name=name, fps=30)
    s.start()
    s.activate_output(universe)
    s[universe].multicast = True
    s[universe].priority = 100
    s[universe].dmx_data = data
    senders.append(s)
time.sleep(float(sys.argv[2]))
for s in senders:
    s.stop()
"#;

/// "Why does universe 5 flicker?": two consoles send it at the same priority, so a receiver
/// merges them HTP. watch must show both sources, flag the contest and show the merge.
#[test]
fn two_python_sources_at_equal_priority_are_flagged() {
    patchbay_net::netns::require_private_netns();
    let watch = spawn_watch(&["105"], 4.0);
    let py = Command::new("python3")
        .args(["-c", PY_TWO_SOURCES, "105", "3"])
        .output()
        .expect("python3: scripts/setup installs it and the python package sacn 1.11.0");
    assert!(
        py.status.success(),
        "python sacn failed (scripts/setup installs python `sacn` 1.11.0): {}",
        String::from_utf8_lossy(&py.stderr)
    );
    let all = lines(&watch.wait_with_output().expect("watch output"));

    let mut names: Vec<&str> = events(&all, "source_new")
        .iter()
        .map(|e| e["name"].as_str().expect("name"))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["desk A", "desk B"]);
    let contest: Vec<_> = events(&all, "universe")
        .into_iter()
        .filter(|u| u["sources"] == 2 && u["sampling"] == false)
        .collect();
    assert!(!contest.is_empty(), "{all:?}");
    for u in contest {
        assert_eq!(u["top_priority"], 100);
        assert_eq!(u["sources_at_top_priority"], 2);
        let w = u["warnings"][0].as_str().expect("a warning");
        assert!(
            w.starts_with("2 sources at equal priority 100 are merged HTP"),
            "{w}"
        );
        assert!(w.contains("'desk A'") && w.contains("'desk B'"), "{w}");
        assert_eq!(levels(u, 4), [200, 100, 50, 0], "HTP merge");
    }
    let stats = events(&all, "stats");
    assert!(stats.iter().all(|s| s["priority"] == 100));
}

/// The other flicker cause: one source whose packets arrive out of order (and some missing).
#[test]
fn sequence_errors_and_gaps_are_reported() {
    use patchbay_sacn::{Cid, DataHeader, Options, write_data};
    patchbay_net::netns::require_private_netns();
    let watch = spawn_watch(&["9", "--bind", "127.0.0.1:6104"], 2.5);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    // 3 and 7 arrive again late (out of sequence); 11, 12, 13 never arrive.
    let order: [u8; 14] = [0, 1, 2, 3, 4, 3, 5, 6, 7, 8, 7, 9, 10, 14];
    for (i, &seq) in order.iter().cycle().take(3 * order.len()).enumerate() {
        let lap = (i / order.len()) as u8;
        let mut b = [0u8; 1144];
        let h = DataHeader {
            cid: Cid([7; 16]),
            source_name: "flaky",
            priority: 100,
            sync_address: 0,
            sequence: seq.wrapping_add(lap * 15),
            options: Options::NONE,
            universe: 9,
            start_code: 0,
        };
        let n = write_data(&mut b, &h, &[1, 2, 3]).expect("build");
        sock.send_to(&b[..n], "127.0.0.1:6104").expect("send");
        thread::sleep(Duration::from_millis(25));
    }
    let all = lines(&watch.wait_with_output().expect("watch output"));
    let bursts: u64 = events(&all, "sequence_errors")
        .iter()
        .map(|e| e["count"].as_u64().expect("count"))
        .sum();
    assert_eq!(bursts, 6, "{all:?}");
    let stats = events(&all, "stats").pop().expect("stats").clone();
    assert_eq!(stats["sequence_errors"], 6);
    // 11..=13 in each lap: 3 × 3.
    assert_eq!(stats["missed"], 9);
    let u = events(&all, "universe").pop().expect("universe").clone();
    let warnings: Vec<&str> = u["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        warnings
            .contains(&"'flaky' (07070707-0707-0707-0707-070707070707): 6 packets out of sequence"),
        "{warnings:?}"
    );
}

/// The README's run command: values flow from the test source through patchbay to universe 2,
/// and Ctrl-C ends with termination of both streams and exit status 0.
#[test]
fn demo_routes_changing_values_and_stops_cleanly_on_sigint() {
    patchbay_net::netns::require_private_netns();
    let mut demo = patchbay()
        .arg("--demo")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the demo");
    let out = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let out = Arc::clone(&out);
        let stdout = demo.stdout.take().expect("stdout");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                out.lock().expect("lines").push(line);
            }
        })
    };
    thread::sleep(Duration::from_millis(5200));
    let kill = Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(s) = demo.try_wait().expect("wait") {
            break s;
        }
        assert!(Instant::now() < deadline, "demo did not stop on SIGINT");
        thread::sleep(Duration::from_millis(50));
    };
    reader.join().expect("reader");
    let lines = out.lock().expect("lines").clone();
    assert_eq!(status.code(), Some(0), "{lines:#?}");

    // "  3.0s   in u1 1-8:  30 ...   out u2 11-18:  29 ..."
    let rows: Vec<(Vec<i32>, Vec<i32>)> = lines
        .iter()
        .filter_map(|l| {
            let (_, rest) = l.split_once("in u1 1-8:")?;
            let (ins, outs) = rest.split_once("out u2 11-18:")?;
            let nums = |s: &str| -> Vec<i32> {
                s.split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            };
            Some((nums(ins), nums(outs)))
        })
        .collect();
    let live: Vec<_> = rows
        .iter()
        .filter(|(_, o)| o.iter().any(|&v| v != 0))
        .collect();
    assert!(live.len() >= 2, "{lines:#?}");
    assert_ne!(live[0], live[live.len() - 1], "values must change");
    for (ins, outs) in &live {
        assert_eq!((ins.len(), outs.len()), (8, 8));
        for w in outs.windows(2) {
            assert_eq!((w[0] + 1) % 256, w[1], "out is the ramp: {outs:?}");
        }
        // Out lags in by at most a few frames of the 10 Hz ramp.
        let lag = (ins[0] - outs[0]).rem_euclid(256);
        assert!(lag <= 5, "in {ins:?} out {outs:?}");
    }
    for want in [
        "universe 2: 'patchbay demo' terminated its stream",
        "universe 1: 'patchbay demo source' terminated its stream",
    ] {
        assert!(
            lines.iter().any(|l| l.ends_with(want)),
            "{want}: {lines:#?}"
        );
    }
}

const PY_RECEIVE: &str = r#"
import sys, json, time, sacn
universe, seconds = int(sys.argv[1]), float(sys.argv[2])
r = sacn.sACNreceiver(bind_address="0.0.0.0", bind_port=5568)
r.start()
r.join_multicast(universe)
packets, availability = [], []
start = time.time()
r.register_listener("universe", lambda p: packets.append(p), universe=universe)
r.register_listener("availability", lambda universe, changed: availability.append(changed))
time.sleep(seconds)
r.stop()
p = packets[0] if packets else None
print(json.dumps({
    "name": p.sourceName if p else None,
    "priority": p.priority if p else None,
    "cid": "".join("%02x" % b for b in p.cid) if p else None,
    "data": list(p.dmxData[:4]) if p else None,
    "availability": availability,
}))
"#;

/// python `sacn` as the receiving peer: it sees the name, CID, priority and values, and the
/// termination ends the stream long before its 2.5 s timeout could.
#[test]
fn python_sacn_receives_send_and_its_termination() {
    patchbay_net::netns::require_private_netns();
    let py = Command::new("python3")
        .args(["-c", PY_RECEIVE, "111", "3.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3: scripts/setup installs it and the python package sacn 1.11.0");
    thread::sleep(Duration::from_millis(600));
    let send = patchbay()
        .args([
            "-q",
            "sacn",
            "send",
            "111",
            "--name",
            "to python",
            "--cid",
            CID,
        ])
        .args(["--priority", "170", "--pattern", "static:11,22,33"])
        .args(["--terminate-after", "1.2"])
        .status()
        .expect("run send");
    assert!(send.success());
    let out = py.wait_with_output().expect("python output");
    assert!(
        out.status.success(),
        "python sacn failed (scripts/setup installs python `sacn` 1.11.0): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).expect("python JSON");
    assert_eq!(got["name"], "to python");
    assert_eq!(got["priority"], 170);
    assert_eq!(got["cid"], CID.replace('-', ""));
    assert_eq!(got["data"], serde_json::json!([11, 22, 33, 0]));
    // The last packet left at about 1.8 s; python's own timeout would fire at 4.3 s at the
    // earliest, after it stopped listening. So each "timeout" is one Stream_Terminated packet
    // (python reports every one of them): exactly three.
    assert_eq!(
        got["availability"],
        serde_json::json!(["available", "timeout", "timeout", "timeout"])
    );
}

/// Without a universe list, watch joins what universe discovery announces.
#[test]
fn watch_without_universes_follows_discovery() {
    patchbay_net::netns::require_private_netns();
    let watch = spawn_watch(&[], 3.0);
    let send = patchbay()
        .args([
            "-q",
            "sacn",
            "send",
            "120",
            "--name",
            "discovered",
            "--cid",
            CID,
        ])
        .args(["--pattern", "static:5", "--terminate-after", "2"])
        .status()
        .expect("run send");
    assert!(send.success());
    let all = lines(&watch.wait_with_output().expect("watch output"));
    let ours = |kind: &str| -> Vec<Value> {
        events(&all, kind)
            .into_iter()
            .filter(|e| e["cid"] == CID)
            .cloned()
            .collect()
    };
    assert_eq!(ours("discovery")[0]["universes"], serde_json::json!([120]));
    let new = ours("source_new");
    assert_eq!(new.len(), 1, "{all:?}");
    assert_eq!(
        (new[0]["universe"].as_u64(), new[0]["name"].as_str()),
        (Some(120), Some("discovered"))
    );
    assert_eq!(ours("source_terminated").len(), 1, "{all:?}");
}

/// The live view on a terminal (tmux): redrawn in place with the source row, the diagnosis
/// and the level grid.
#[test]
fn tty_view_in_tmux_shows_the_source_row_and_levels() {
    patchbay_net::netns::require_private_netns();
    let server = format!("patchbay-test-{}", std::process::id());
    let tmux = |args: &[&str]| -> Output {
        Command::new("tmux")
            .args(["-L", &server, "-f", "/dev/null"])
            .args(args)
            .env("TERM", "xterm")
            .output()
            .expect("tmux: scripts/setup installs it")
    };
    let watch = format!(
        "{} sacn watch 130 --duration 8",
        env!("CARGO_BIN_EXE_patchbay")
    );
    let started = tmux(&["new-session", "-d", "-x", "160", "-y", "50", &watch]);
    assert!(started.status.success(), "{started:?}");
    thread::sleep(Duration::from_millis(300));
    let mut send = patchbay()
        .args([
            "-q", "sacn", "send", "130", "--name", "tty row", "--cid", CID,
        ])
        .args(["--priority", "90", "--pattern", "static:77,0,255"])
        .args(["--terminate-after", "4"])
        .spawn()
        .expect("run send");
    thread::sleep(Duration::from_millis(2800));
    let screen = String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).to_string();
    let _ = send.wait();
    let _ = tmux(&["kill-server"]);
    let row = screen
        .lines()
        .find(|l| l.contains(CID))
        .unwrap_or_else(|| panic!("no source row:\n{screen}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..5], ["130", "tty", "row", CID, "90"], "{row}");
    assert!(row.contains(" active "), "{row}");
    assert!(
        screen.contains("Universe 130 merged levels (Decimal):\n   1:  77   0 255   0"),
        "{screen}"
    );
    // Redrawn in place: one header on the screen, not a scrolling log.
    assert_eq!(
        screen.matches("patchbay sacn watch:").count(),
        1,
        "{screen}"
    );
}
