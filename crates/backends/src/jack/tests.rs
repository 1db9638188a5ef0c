//! Options and channel names, without a server (the tests with one are in tests/jack.rs).

use patchbay_core::testing::Rig;
use patchbay_core::{Direction, Part, Value};

use super::*;

fn rig() -> (Rig<Jack>, InstanceId) {
    let mut rig = Rig::new(Jack::new());
    let i = rig.add_instance("j").expect("instance");
    for (k, v) in [
        ("midi_in", "midi in"),
        ("midi_out", "midi out"),
        ("cv_in", "cv in min 0 max 10"),
        ("cv_out", "cv out min -1 max 1"),
    ] {
        assert_eq!(rig.configure_instance(i, k, v), Ok(vec![]), "{k}");
    }
    (rig, i)
}

#[test]
fn midimonster_options() {
    let (mut rig, i) = rig();
    for (k, v) in [
        ("name", "Controller"),
        ("server", "jackserver"),
        ("epn-tx", "short"),
        ("note-off", "note-off"),
        ("sysex.x", "F0 01 {v} F7"),
    ] {
        assert_eq!(rig.configure_instance(i, k, v), Ok(vec![]), "{k}");
    }
    for (k, v) in [("debug", "on"), ("errors", "off"), ("detect", "on")] {
        assert_eq!(rig.configure(k, v), Ok(vec![]), "{k}");
    }
    let e = rig.configure("bind", "x").unwrap_err();
    assert!(e.to_string().contains("debug, errors, detect"), "{e}");
    // A port line MIDIMonster accepts without a direction: an output, with a warning.
    let w = rig
        .configure_instance(i, "legacy", "midi")
        .expect("accepted");
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].0, Part::Value);
}

#[test]
fn refused_option_lines_say_why() {
    let (mut rig, i) = rig();
    let cases = [
        ("midi_in", "midi in", "defined twice"),
        ("a.b", "midi in", "no '.'"),
        ("p", "cv in", "MIN and MAX"),
        ("p", "osc in", "OSC"),
        ("epn-tx", "maybe", "full"),
        ("note-off", "later", "note-off VELOCITY"),
        ("sysex.t", "F0 01 F7", "exactly one value"),
        ("name", "", "client name"),
    ];
    for (k, v, said) in cases {
        let e = rig.configure_instance(i, k, v).unwrap_err();
        assert!(e.to_string().contains(said), "{k} = {v}: {e}");
    }
}

#[test]
fn channel_names_follow_midimonster() {
    let (mut rig, i) = rig();
    rig.configure_instance(i, "sysex.cut", "F0 01 {v} F7")
        .expect("template");
    for name in [
        "midi_in.ch0.note60",
        "midi_in.channel15.cc7",
        "midi_in.ch1.pitch",
        "midi_in.ch0.nrpn900",
        "midi_in.ch0.rpn1",
        "midi_in.ch2.aftertouch",
        "midi_in.ch3.pressure5",
        "midi_in.ch4.program",
        "midi_in.sysex.cut",
        "cv_in",
    ] {
        let (_, warnings) = rig.channel(i, name, Direction::Input).expect(name);
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
    }
    let a = rig
        .channel(i, "midi_in.ch0.cc7", Direction::Input)
        .unwrap()
        .0;
    let b = rig
        .channel(i, "midi_in.channel0.cc7", Direction::Input)
        .unwrap()
        .0;
    assert_eq!(a, b);
    let c = rig
        .channel(i, "midi_out.ch0.cc7", Direction::Output)
        .unwrap()
        .0;
    assert_ne!(a, c);
    let refused = [
        ("nope.ch0.cc1", "no port 'nope'"),
        ("midi_in", "add the MIDI channel"),
        ("midi_in.ch16.cc1", "0..15"),
        ("midi_in.ch0.cc128", "0..127"),
        ("midi_in.ch0.pitch5", "unexpected"),
        ("midi_in.sysex.none", "no SysEx template"),
        ("cv_in.ch0.cc1", "a CV port"),
    ];
    for (name, said) in refused {
        let e = rig.channel(i, name, Direction::Input).unwrap_err();
        assert!(e.message.contains(said), "{name}: {e}");
    }
    // The wrong direction works as in MIDIMonster (nothing happens), with a warning.
    let (_, w) = rig
        .channel(i, "midi_in.ch0.cc1", Direction::Output)
        .unwrap();
    assert!(w[0].contains("sends nothing"), "{w:?}");
    let (_, w) = rig.channel(i, "cv_out", Direction::Input).unwrap();
    assert!(w[0].contains("never has events"), "{w:?}");
}

#[test]
fn an_instance_without_ports_is_refused() {
    let mut rig = Rig::new(Jack::new());
    let i = rig.add_instance("empty").unwrap();
    let errors = rig.backend().validate();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].instance, Some(i));
    assert!(errors[0].message.contains("no ports"));
}

#[test]
fn cv_scaling_is_clipped_to_the_range() {
    assert_eq!(cv_sample(Value::from_normalised(0.0), -1.0, 1.0), -1.0);
    assert_eq!(cv_sample(Value::from_normalised(0.75), -1.0, 1.0), 0.5);
    assert_eq!(cv_sample(Value::from_normalised(2.0), -1.0, 1.0), 1.0);
    assert_eq!(cv_sample(Value::from_normalised(1.0), 10.0, 0.0), 0.0);
    assert_eq!(cv_value(2.5, 0.0, 10.0).normalised(), 0.25);
    assert_eq!(cv_value(-3.0, 0.0, 10.0).normalised(), 0.0);
    assert_eq!(cv_value(12.0, 0.0, 10.0).normalised(), 1.0);
    assert_eq!(cv_value(f32::NAN, 0.0, 10.0).normalised(), 0.0);
    assert_eq!(cv_value(7.5, 10.0, 0.0).normalised(), 0.25);
}

#[test]
fn values_delivered_before_the_server_is_there_are_kept() {
    let (mut rig, i) = rig();
    let cc = rig.output(i, "midi_out.ch0.cc7").expect("cc");
    rig.configure_instance(i, "server", "patchbay-no-such-server")
        .expect("server");
    // Whether or not libjack is installed, nothing is sent and nothing panics.
    if rig.start().is_err() {
        return;
    }
    rig.set(cc, Value::from_raw(5, 7));
    rig.turn(std::time::Duration::from_millis(50))
        .expect("turn");
    assert!(!rig.backend().is_connected("j"));
    assert_eq!(rig.stat("j", "midi_out"), Some(0));
}
