//! Values through mosquitto, both ways, exact: paho publishes, sACN output shows the levels;
//! sACN input changes, paho receives MIDIMonster's payload text. Range, discrete, 16-bit,
//! wildcard inputs, retained initial values, QoS 1 and retained output.

use crate::harness::*;

#[test]
fn mqtt_to_sacn_levels_are_exact() {
    let broker = Mosquitto::start();
    let s = setup(
        1,
        &format!(
            "host = mqtt://127.0.0.1:{}\n\
             dim/range = range 0 255\n\
             dim/wide = range 0 65535\n\
             mode = discrete !0 0.5 off\n\
             mode = discrete 0.5 !1 on\n\
             dimmers/+ = range 0 100",
            broker.port
        ),
        "mq.dim/plain > out.1\nmq.dim/range > out.2\nmq.dim/wide > out.3+4\nmq.mode > out.5\n\
         mq.dimmers/+ > out.6\n",
    );
    s.wait_log("instance 'mq': subscribed to '", 5);
    // MQTT 5, QoS 0.
    publish(
        broker.port,
        "5",
        0,
        false,
        &[
            ("dim/plain", "0.5"),
            ("dim/range", "200"),
            ("dim/wide", "40000"),
            ("mode", "on"),
            ("dimmers/kitchen", "50"),
        ],
    );
    // 0.5 × 255 = 127.5 rounds up; 40000 = 0x9C40.
    s.expect_out(&[128, 200, 0x9C, 0x40, 255, 128], "round 1");
    // MQTT 3.1.1, QoS 1; payloads that are dropped, clamped or not plain numbers.
    publish(
        broker.port,
        "3.1.1",
        1,
        false,
        &[
            ("dim/plain", "abc"),
            ("dim/plain", " 0.2 lux"),
            ("dim/range", "-5"),
            ("dim/wide", "0xffff"),
            ("mode", "bogus"),
            ("mode", "off"),
            ("dimmers/hall", "12.5"),
        ],
    );
    // strtod reads " 0.2 lux" as 0.2 (51), -5 clamps to 0, 0xffff is 65535, 12.5 % is 31.875.
    s.expect_out(&[51, 0, 255, 255, 0, 32], "round 2");
    let k = s.stats();
    assert_eq!(k["messages_in"], 12, "{k:?}");
    assert_eq!(k["events_in"], 10, "{k:?}");
    assert_eq!(k["in_dropped.not_a_number"], 1, "{k:?}");
    assert_eq!(k["in_dropped.no_discrete_match"], 1, "{k:?}");
    assert_eq!(k["connected"], 1, "{k:?}");
}

#[test]
fn sacn_to_mqtt_payloads_are_midimonsters_text() {
    let broker = Mosquitto::start();
    let mut s = setup(
        2,
        &format!(
            "host = 127.0.0.1:{}\n\
             out/r = range -10 10\n\
             out/d = discrete 0 0.5 low\n\
             out/d = discrete 0.5 1 high",
            broker.port
        ),
        "in.1 > mq.out/plain\nin.2 > mq.out/r\nin.3+4 > mq.out/wide\nin.5 > mq.out/d\n",
    );
    s.wait_log("instance 'mq': connected to", 1);
    let sub = Sub::start(broker.port, "5", "out/#");
    s.send(&[128, 64, 0x9C, 0x40, 200]);
    let x = 64.0 / 255.0;
    let mut want = vec![
        ("out/plain".to_string(), "0.501961".to_string()),
        ("out/r".to_string(), f6(x * 20.0 - 10.0)),
        ("out/wide".to_string(), f6(40000.0 / 65535.0)),
        ("out/d".to_string(), "high".to_string()),
    ];
    assert_eq!(want[1].1, "-4.980392");
    let mut got = pairs(&sub.wait(4, &s.pb));
    got.sort();
    want.sort();
    assert_eq!(got, want);
    s.send(&[255, 0, 0, 0, 0]);
    let mut got = pairs(&sub.wait(8, &s.pb)[4..]);
    got.sort();
    let mut want = vec![
        ("out/plain".to_string(), "1.000000".to_string()),
        ("out/r".to_string(), "-10.000000".to_string()),
        ("out/wide".to_string(), "0.000000".to_string()),
        ("out/d".to_string(), "low".to_string()),
    ];
    want.sort();
    assert_eq!(got, want);
    // sACN repeats its packets; unchanged levels publish nothing.
    s.send(&[255, 0, 0, 0, 0]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(sub.messages().len(), 8, "{:?}", sub.messages());
    assert!(sub.messages().iter().all(|m| !m.retain && m.qos == 0));
    let k = s.stats();
    assert_eq!(k["messages_out"], 8, "{k:?}");
}

#[test]
fn retained_values_are_initial_values_and_wildcards_match() {
    let broker = Mosquitto::start();
    publish(
        broker.port,
        "5",
        1,
        true,
        &[("state/lamp", "0.25"), ("sensors/a/level", "1")],
    );
    let s = setup(
        3,
        &format!("host = mqtt://127.0.0.1:{}", broker.port),
        "mq.state/lamp > out.1\nmq.sensors/+/level > out.2\n",
    );
    // No live publication: the broker's retained values are the inputs' initial values.
    s.expect_out(&[64, 255], "retained values at subscription");
    let k = s.stats();
    assert_eq!((k["retained_in"], k["messages_in"]), (2, 2), "{k:?}");
    publish(
        broker.port,
        "5",
        0,
        false,
        &[("sensors/b/level", "0.5"), ("sensors/b/other", "0")],
    );
    s.expect_out(&[64, 128], "wildcard input");
    let k = s.stats();
    assert_eq!(
        k["messages_in"], 3,
        "sensors/b/other matches nothing: {k:?}"
    );
}

#[test]
fn qos1_and_retained_output() {
    let broker = Mosquitto::start();
    let mut s = setup(
        4,
        &format!(
            "host = mqtt://127.0.0.1:{}\nqos = 1\nretain = on",
            broker.port
        ),
        "in.1 > mq.out/q\nmq.in/q > out.1\n",
    );
    s.wait_log("instance 'mq': subscribed to 'in/q' (QoS 1)", 1);
    s.send(&[255]);
    wait_stats(&s.pb, "mq", "published and acknowledged", |k| {
        k["messages_out"] == 1 && k["in_flight"] == 0
    });
    // The publication is retained: a subscriber that comes later gets it, at QoS 1.
    let sub = Sub::start(broker.port, "3.1.1", "out/q");
    let stored = sub.wait(1, &s.pb)[0].clone();
    assert_eq!(
        stored,
        Msg {
            topic: "out/q".into(),
            payload: "1.000000".into(),
            retain: true,
            qos: 1
        }
    );
    publish(broker.port, "5", 1, false, &[("in/q", "0.5")]);
    s.expect_out(&[128], "QoS 1 input");
    let k = s.stats();
    assert_eq!(k["in_flight"], 0, "acknowledged: {k:?}");
}
