//! The connection: a broker restarted during traffic, a broker that is not there at start,
//! mqtts:// with the test CA (and one the broker's certificate does not chain to), the MQTT 5 →
//! 3.1.1 fallback against a broker that only speaks 3.1.1, and `--check` never looking a host up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use crate::harness::*;
use crate::util::*;

#[test]
fn broker_restart_during_traffic_loses_nothing_after_it() {
    let mut broker = Mosquitto::start();
    // patchbay reaches the broker through a gate, which holds its reconnection back until the
    // test's subscriber is in place to see what patchbay publishes on reconnecting.
    let gate = Gate::start(broker.port, false);
    let s = setup(
        5,
        &format!("host = mqtt://127.0.0.1:{}", gate.port),
        "in.1 > mq.out/level\nmq.in/x > mq.out/x\nmq.in/x > out.1\n",
    );
    s.wait_log("instance 'mq': subscribed to 'in/x'", 1);
    let sub = Sub::start(broker.port, "5", "out/x");
    let values: Vec<String> = (1..=5).map(|i| f6(f64::from(i) / 10.0)).collect();
    let msgs: Vec<(&str, &str)> = values.iter().map(|v| ("in/x", v.as_str())).collect();
    publish(broker.port, "5", 1, false, &msgs);
    let got: Vec<String> = sub.wait(5, &s.pb).into_iter().map(|m| m.payload).collect();
    assert_eq!(got, values, "in/x → out/x before the restart");
    drop(sub);

    // sACN traffic into out/level all along: patchbay publishes while the broker goes away.
    let stop = Arc::new(AtomicBool::new(false));
    let last = Arc::new(AtomicU8::new(0));
    let traffic = {
        let (stop, last) = (Arc::clone(&stop), Arc::clone(&last));
        let mut tx = RawSender::v4(std::net::Ipv4Addr::LOCALHOST, test_cid(105));
        let to = s.to;
        std::thread::spawn(move || {
            let mut v = 0u8;
            while !stop.load(Ordering::SeqCst) {
                v = v % 250 + 1;
                let p = tx.build(IN_U, 100, 0, &[v]);
                tx.send_raw(to, &p);
                last.store(v, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    gate.set_open(false);
    broker.restart();
    s.wait_log("instance 'mq': connection to 127.0.0.1:", 1);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    traffic.join().expect("traffic");
    let last = last.load(Ordering::SeqCst);
    // Let patchbay take the last sACN packet in before it reconnects.
    std::thread::sleep(Duration::from_millis(200));

    let sub = Sub::start(broker.port, "5", "out/#");
    gate.set_open(true);
    s.wait_log("instance 'mq': connected to", 2);
    // The new broker has no session: patchbay subscribes again and publishes the last value
    // of every output (the values given while it was away are coalesced to the newest).
    let mut first = pairs(&sub.wait(2, &s.pb)[..2]);
    first.sort();
    assert_eq!(
        first,
        [
            ("out/level".to_string(), f6(f64::from(last) / 255.0)),
            ("out/x".to_string(), "0.500000".to_string())
        ]
    );
    s.wait_log("instance 'mq': subscribed to 'in/x'", 2);
    // Nothing lost after the reconnection: 50 values, every one through.
    let values: Vec<String> = (0..50).map(|i| f6(f64::from(i) / 50.0)).collect();
    let msgs: Vec<(&str, &str)> = values.iter().map(|v| ("in/x", v.as_str())).collect();
    publish(broker.port, "3.1.1", 1, false, &msgs);
    let got: Vec<String> = sub
        .wait(52, &s.pb)
        .into_iter()
        .skip(2)
        .filter(|m| m.topic == "out/x")
        .map(|m| m.payload)
        .collect();
    assert_eq!(got, values);
    s.expect_out(&[(49.0f64 / 50.0 * 255.0).round() as u8], "in/x → sACN");
    let k = s.stats();
    assert_eq!((k["reconnects"], k["connections_lost"]), (1, 1), "{k:?}");
    assert!(k["connect_failures"] >= 1, "the gate was closed: {k:?}");
}

#[test]
fn a_broker_that_is_not_there_at_start_is_connected_to_later() {
    let port = tcp_free_port();
    let s = setup(
        6,
        &format!("host = mqtt://127.0.0.1:{port}"),
        "mq.in/x > out.1\n",
    );
    s.wait_log("instance 'mq': cannot connect to 127.0.0.1:", 1);
    let mut pb = s.pb;
    pb.assert_running();
    let broker = Mosquitto::on(port, None);
    wait_log(&pb, "instance 'mq': subscribed to 'in/x'", 1);
    assert!(full_log(&pb).contains("failed attempt(s)"), "{}", pb.log());
    publish(broker.port, "5", 0, false, &[("in/x", "1")]);
    let got = s
        .cap
        .wait_slots(s.cid, OUT_U, Duration::from_secs(8), |sl| {
            sl.first() == Some(&255)
        });
    assert!(got.is_ok(), "{got:?}\n{}", pb.log());
}

#[test]
fn mqtts_with_a_given_ca_and_one_the_broker_does_not_chain_to() {
    let broker = Mosquitto::start_tls();
    let tls = broker.tls_port.expect("tls port");
    let c = certs();
    let s = setup(
        7,
        &format!(
            "host = mqtts://localhost:{tls}\ncafile = {}\n\n[mqtt wrongca]\nhost = mqtts://127.0.0.1:{tls}\ncafile = {}",
            c.join("ca.pem").display(),
            c.join("server.pem").display()
        ),
        "mq.in/x > out.1\nin.1 > mq.out/x\nwrongca.in/y > out.2\n",
    );
    s.wait_log("instance 'mq': subscribed to 'in/x'", 1);
    // paho on the plain listener, patchbay over TLS.
    publish(broker.port, "5", 0, false, &[("in/x", "0.5")]);
    s.expect_out(&[128], "over TLS");
    let sub = Sub::start(broker.port, "5", "out/x");
    let mut s = s;
    let got = poll(Duration::from_secs(8), || {
        s.send(&[255]);
        sub.messages().first().cloned()
    })
    .unwrap_or_else(|| panic!("nothing published over TLS\n{}", s.pb.log()));
    assert_eq!(got.payload, "1.000000");
    let k = wait_stats(&s.pb, "wrongca", "a TLS failure", |k| k["tls_errors"] >= 1);
    assert_eq!(k["connected"], 0, "{k:?}");
    assert_eq!(k["sessions"], 0, "{k:?}");
    let log = full_log(&s.pb);
    assert!(
        log.contains("instance 'wrongca': cannot connect to 127.0.0.1:")
            && log.contains("UnknownIssuer"),
        "{log}"
    );
}

#[test]
fn mqtt5_falls_back_to_311_against_a_311_only_broker() {
    let broker = Mosquitto::start();
    let gate = Gate::start(broker.port, true);
    let s = setup(
        8,
        &format!("host = mqtt://127.0.0.1:{}", gate.port),
        "mq.in/x > out.1\n",
    );
    s.wait_log("does not accept MQTT 5: using 3.1.1", 1);
    s.wait_log("instance 'mq': subscribed to 'in/x'", 1);
    assert_eq!(gate.levels(), [5, 4]);
    publish(broker.port, "3.1.1", 0, false, &[("in/x", "0.2")]);
    s.expect_out(&[51], "through the 3.1.1 broker");
    let k = s.stats();
    assert_eq!((k["connect_failures"], k["sessions"]), (0, 1), "{k:?}");
}

#[test]
fn protocol_311_never_tries_mqtt5() {
    let broker = Mosquitto::start();
    let gate = Gate::start(broker.port, true);
    let s = setup(
        9,
        &format!("host = mqtt://127.0.0.1:{}\nprotocol = 3.1.1", gate.port),
        "mq.in/x > out.1\n",
    );
    s.wait_log("instance 'mq': subscribed to 'in/x'", 1);
    assert_eq!(gate.levels(), [4]);
    assert!(full_log(&s.pb).contains("(MQTT 3.1.1)"), "{}", s.pb.log());
}

fn check(cfg: &str) -> std::process::Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("check.cfg");
    std::fs::write(&path, cfg).expect("write");
    std::process::Command::new(env!("CARGO_BIN_EXE_patchbay"))
        .arg("--check")
        .arg(&path)
        .output()
        .expect("run patchbay")
}

#[test]
fn check_looks_no_host_up_and_points_at_bad_lines() {
    // A name no resolver knows: --check passes without asking one, and at once.
    let t = Instant::now();
    let out = check(
        "[mqtt mq]\nhost = mqtts://user:pw@no-such-host.invalid:8884\nclientid = pb-check\n\
         /a/topic = range -10 10\n\n[loopback l]\n\n[map]\nmq./a/topic > l.x\nmq.lights/+ > l.y\n",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    let out = check(
        "[mqtt mq]\nhost = tcp://broker\n/t = range 0 x\nqos = 3\n\n[loopback l]\n\n[map]\nl.x > mq.lights/#\n",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for want in [
        ":2:8: error: mqtt instance 'mq': host = 'tcp://broker': unknown scheme `tcp://`: use \
         mqtt:// or mqtts://",
        ":3:6: error: mqtt instance 'mq': topic '/t' = 'range 0 x': MAX is not a number",
        ":4:7: error: mqtt instance 'mq': invalid value '3' for option 'qos'",
        ":9:10: error: mqtt instance 'mq': output topic 'lights/#': `+` and `#` are wildcards",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
    let out = check("[mqtt mq]\nuser = a\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("has no broker: set host = mqtt://"), "{err}");
}
