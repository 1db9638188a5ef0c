//! Backend-level tests: options and channels through the trait (no sockets), and, inside a
//! private network namespace only, real UDP sockets end to end through the rig.

use std::net::UdpSocket;
use std::time::Duration;

use patchbay_core::testing::Rig;
use patchbay_core::{ChannelId, Direction, InstanceId, OptionError, Value};
use patchbay_osc::wire::{Arg, BundleWriter, Packet, TimeTag, write_message};

use super::*;

fn rig() -> Rig<Osc> {
    Rig::new(Osc::new())
}

/// An instance `name` with option lines `opts`.
fn instance(rig: &mut Rig<Osc>, name: &str, opts: &[(&str, &str)]) -> InstanceId {
    let id = rig.add_instance(name).expect("instance");
    for (k, v) in opts {
        rig.configure_instance(id, k, v)
            .unwrap_or_else(|e| panic!("{k} = {v}: {e}"));
    }
    id
}

fn msg(address: &str, args: &[Arg<'_>]) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    let n = write_message(&mut buf, address, args.iter().copied()).expect("fits");
    buf.truncate(n);
    buf
}

#[test]
fn options_are_checked_and_listed() {
    let mut r = rig();
    assert_eq!(r.configure("detect", "on"), Ok(vec![]));
    assert_eq!(r.configure("detect", "yes").map(|w| w.len()), Ok(1));
    assert!(r.backend().detect);
    assert_eq!(r.configure("detect", "off"), Ok(vec![]));
    assert!(!r.backend().detect);
    assert!(matches!(
        r.configure("bind", "1"),
        Err(OptionError::Unknown { .. })
    ));
    let a = r.add_instance("a").expect("a");
    let e = r.configure_instance(a, "port", "8000").unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown option 'port' (known options: bind, destination, dest, root, bundle, keepalive, transport)"
    );
    for (k, v) in [
        ("bind", "0.0.0.0"),
        ("dest", "learn@x"),
        ("root", "x"),
        ("/a b", "f 0 1"),
        ("/a", "f 1 1"),
        ("/a", "q"),
        ("keepalive", "/xremote"),
    ] {
        assert!(r.configure_instance(a, k, v).is_err(), "{k} = {v}");
    }
}

#[test]
fn channels_resolve_to_one_id_per_path_and_argument() {
    let mut r = rig();
    let a = instance(
        &mut r,
        "a",
        &[("dest", "127.0.0.1 9000"), ("/*/xy", "ff 0 1 0 2")],
    );
    let x = r.input(a, "/1/xy").expect("xy");
    assert_eq!(r.input(a, "/1/xy:0"), Ok(x));
    let y = r.input(a, "/1/xy:1").expect("xy:1");
    assert_ne!(x, y);
    let e = r.channel(a, "/1/xy:2", Direction::Input).unwrap_err();
    assert!(
        e.message.contains("argument 2 does not exist"),
        "{}",
        e.message
    );
    for bad in ["fader", "/a b", "/a:x", "/a*", "/a:999"] {
        assert!(r.channel(a, bad, Direction::Input).is_err(), "{bad}");
    }
    // Output without preconfiguration: a warning, sent as float.
    let (_, w) = r.channel(a, "/fader1", Direction::Output).expect("out");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("float"), "{w:?}");
    let (_, w) = r.channel(a, "/2/xy:1", Direction::Output).expect("out");
    assert!(w.is_empty(), "{w:?}");
    // No destination: the output would send nothing.
    let b = instance(&mut r, "b", &[("bind", "127.0.0.1 0"), ("/x", "f 0 1")]);
    let (_, w) = r.channel(b, "/x", Direction::Output).expect("out");
    assert!(w[0].contains("no destination"), "{w:?}");
}

#[test]
fn validate_refuses_keepalive_and_learn_without_their_sockets() {
    let mut r = rig();
    instance(&mut r, "k", &[("keepalive", "/xremote 9")]);
    instance(&mut r, "l", &[("dest", "learn@9000")]);
    let problems = r.backend().validate();
    assert_eq!(problems.len(), 2);
    assert_eq!(problems[0].about, Some("keepalive"));
    assert_eq!(problems[1].about, Some("destination"));
}

/// A started rig with one instance bound to a free port on 127.0.0.1; returns the port.
struct Net {
    rig: Rig<Osc>,
    addr: std::net::SocketAddr,
    peer: UdpSocket,
}

impl Net {
    fn start(mut rig: Rig<Osc>, id: InstanceId) -> Net {
        rig.start().expect("start");
        let addr = rig.backend().local_addr(id).expect("bound");
        let peer = UdpSocket::bind("127.0.0.1:0").expect("peer");
        peer.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        Net { rig, addr, peer }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.peer.send_to(bytes, self.addr).expect("send");
    }

    /// Turns until `n` events were recorded (or 100 turns).
    fn events(&mut self, n: usize) -> Vec<(ChannelId, Value)> {
        for _ in 0..100 {
            if self.rig.events().len() >= n {
                break;
            }
            self.rig.turn(Duration::from_millis(10)).expect("turn");
        }
        for _ in 0..3 {
            self.rig.turn(Duration::from_millis(2)).expect("turn");
        }
        self.rig
            .take_events()
            .iter()
            .map(|e| (e.channel, e.value))
            .collect()
    }

    fn counters(&self) -> InstanceCounters {
        self.rig
            .backend()
            .instance_counters(InstanceId(0))
            .expect("instance")
            .clone()
    }
}

#[test]
fn input_maps_every_type_and_patterns_and_triggers() {
    patchbay_net::netns::require_private_netns();
    let mut r = rig();
    let a = instance(
        &mut r,
        "a",
        &[
            ("bind", "127.0.0.1 0"),
            ("root", "/4"),
            ("/xy", "ff 0.0 2.0 0.0 2.0"),
            ("/wide", "i 0 65535"),
        ],
    );
    let fader = r.input(a, "/fader1").expect("c");
    let fader2 = r.input(a, "/fader2").expect("c");
    let x = r.input(a, "/xy").expect("c");
    let y = r.input(a, "/xy:1").expect("c");
    let int = r.input(a, "/int").expect("c");
    let wide = r.input(a, "/wide").expect("c");
    let push = r.input(a, "/push").expect("c");
    let text = r.input(a, "/text").expect("c");
    let toggle = r.input(a, "/toggle").expect("c");
    let mut n = Net::start(r, a);
    n.send(&msg("/4/fader1", &[Arg::Float(0.25)]));
    n.send(&msg("/4/xy", &[Arg::Float(0.5), Arg::Float(2.0)]));
    n.send(&msg("/4/int", &[Arg::Int(200)]));
    n.send(&msg("/4/wide", &[Arg::Int(40000)]));
    n.send(&msg("/4/push", &[]));
    n.send(&msg("/4/text", &[Arg::Str("0.75")]));
    n.send(&msg("/4/toggle", &[Arg::False]));
    // A pattern names both faders.
    n.send(&msg("/4/fader[12]", &[Arg::Double(1.0)]));
    let got = n.events(10);
    assert_eq!(
        got,
        vec![
            (fader, Value::from_normalised(0.25)),
            (x, Value::from_normalised(0.25)),
            (y, Value::from_normalised(1.0)),
            (int, Value::from_raw(200, 8)),
            (wide, Value::from_raw(40000, 16)),
            (push, Value::from_raw(1, 1)),
            (text, Value::from_normalised(0.75)),
            (toggle, Value::from_raw(0, 1)),
            (fader, Value::from_normalised(1.0)),
            (fader2, Value::from_normalised(1.0)),
        ]
    );
    assert_eq!(got[3].1.raw(), Some((200, 8)), "8-bit passes unchanged");
    // Outside the root, unknown paths, wrong argument counts and junk: counted, no events.
    n.send(&msg("/5/fader1", &[Arg::Float(0.5)]));
    n.send(&msg("/4/nothing", &[Arg::Float(0.5)]));
    n.send(&msg("/4/xy", &[Arg::Float(0.5)]));
    n.send(b"/bad");
    n.send(b"junk\0\0\0\0,f\0\0");
    n.send(&msg("/4/fader[1", &[Arg::Float(0.5)]));
    for _ in 0..20 {
        n.rig.turn(Duration::from_millis(5)).expect("turn");
    }
    assert!(n.rig.take_events().is_empty());
    let k = n.counters();
    assert_eq!(k.outside_root, 1);
    assert_eq!(k.unmatched, 1);
    assert_eq!(k.wrong_arguments, 1);
    assert_eq!(k.malformed[DropReason::UnterminatedString.index()], 1);
    assert_eq!(k.malformed[DropReason::BadAddress.index()], 1);
    assert_eq!(k.bad_pattern, 1);
    assert_eq!(k.datagrams_in, 14);
    assert_eq!(n.rig.stat("a", "malformed"), Some(3));
}

use patchbay_osc::wire::DropReason;

#[test]
fn bundles_nested_and_future_ones_at_their_time() {
    patchbay_net::netns::require_private_netns();
    let mut r = rig();
    let a = instance(&mut r, "a", &[("bind", "127.0.0.1 0")]);
    let f1 = r.input(a, "/f1").expect("c");
    let f2 = r.input(a, "/f2").expect("c");
    let f3 = r.input(a, "/f3").expect("c");
    let mut n = Net::start(r, a);
    let (at, unix) = n.rig.backend().wall_clock().expect("started");
    let wall_now = unix + n.rig.now().duration_since(at);
    let later = TimeTag::from_unix(wall_now + Duration::from_secs(2));
    let mut buf = [0u8; 512];
    let len = {
        let mut w = BundleWriter::new(&mut buf, TimeTag::IMMEDIATELY).expect("bundle");
        w.message("/f1", [Arg::Float(0.5)]).expect("m");
        w.begin_bundle(TimeTag::IMMEDIATELY).expect("nested");
        w.message("/f2", [Arg::Float(0.25)]).expect("m");
        w.begin_bundle(later).expect("nested");
        w.message("/f3", [Arg::Float(1.0)]).expect("m");
        w.end_bundle().expect("end");
        w.end_bundle().expect("end");
        w.finish()
    };
    n.send(&buf[..len]);
    let got = n.events(2);
    assert_eq!(
        got,
        vec![
            (f1, Value::from_normalised(0.5)),
            (f2, Value::from_normalised(0.25))
        ]
    );
    assert_eq!(n.counters().scheduled, 1);
    assert_eq!(
        n.rig.backend().poll_timeout().map(|d| d > n.rig.now()),
        Some(true)
    );
    n.rig.advance(Duration::from_millis(1900));
    n.rig.turn(Duration::ZERO).expect("turn");
    assert!(n.rig.take_events().is_empty(), "not yet");
    n.rig.advance(Duration::from_millis(150));
    n.rig.turn(Duration::ZERO).expect("turn");
    assert_eq!(n.events(1), vec![(f3, Value::from_normalised(1.0))]);
    assert_eq!(n.counters().bundles_in, 1);
}

fn recv(peer: &UdpSocket) -> Option<Vec<u8>> {
    let mut buf = [0u8; 2048];
    match peer.recv(&mut buf) {
        Ok(len) => Some(buf[..len].to_vec()),
        Err(_) => None,
    }
}

/// (address, args) of a received message.
fn parse_msg(bytes: &[u8]) -> (String, Vec<String>) {
    match Packet::parse(bytes) {
        Ok(Packet::Message(m)) => (
            m.address().to_string(),
            m.args().map(|a| format!("{a:?}")).collect(),
        ),
        other => panic!("not a message: {other:?}"),
    }
}

#[test]
fn output_sends_whole_messages_on_change_without_bind() {
    patchbay_net::netns::require_private_netns();
    let listener = UdpSocket::bind("127.0.0.1:0").expect("listener");
    listener
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let dest = listener
        .local_addr()
        .expect("addr")
        .to_string()
        .replace(':', " ");
    let mut r = rig();
    let a = instance(
        &mut r,
        "a",
        &[
            ("dest", &dest),
            ("root", "/desk"),
            ("/xy", "ff 0.0 1.0 -1.0 1.0"),
            ("/level", "i 0 255"),
            ("/go", "N"),
        ],
    );
    let x = r.output(a, "/xy").expect("c");
    let y = r.output(a, "/xy:1").expect("c");
    let level = r.output(a, "/level").expect("c");
    let go = r.output(a, "/go").expect("c");
    r.start().expect("start");
    r.set(y, Value::from_normalised(1.0));
    r.set(level, Value::from_raw(128, 8));
    r.turn(Duration::ZERO).expect("turn");
    let m1 = parse_msg(&recv(&listener).expect("xy"));
    let m2 = parse_msg(&recv(&listener).expect("level"));
    assert_eq!(
        m1,
        (
            "/desk/xy".into(),
            vec!["Float(0.0)".into(), "Float(1.0)".into()]
        )
    );
    assert_eq!(m2, ("/desk/level".into(), vec!["Int(128)".into()]));
    // Unchanged: nothing. A trigger: every time.
    r.set(level, Value::from_raw(128, 8));
    r.set(go, Value::from_normalised(1.0));
    r.turn(Duration::ZERO).expect("turn");
    assert_eq!(
        parse_msg(&recv(&listener).expect("go")),
        ("/desk/go".into(), vec!["Nil".into()])
    );
    r.set(x, Value::from_normalised(0.5));
    r.set(go, Value::from_normalised(1.0));
    r.turn(Duration::ZERO).expect("turn");
    assert_eq!(
        parse_msg(&recv(&listener).expect("xy")).1,
        vec!["Float(0.5)".to_string(), "Float(1.0)".into()]
    );
    assert_eq!(parse_msg(&recv(&listener).expect("go")).0, "/desk/go");
    let k = r.backend().instance_counters(a).expect("a").clone();
    assert_eq!(k.messages_out, 5);
    assert_eq!(k.send_errors, 0);
}

#[test]
fn bundle_output_learn_and_keepalive() {
    patchbay_net::netns::require_private_netns();
    let listener = UdpSocket::bind("127.0.0.1:0").expect("listener");
    listener
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let port = listener.local_addr().expect("addr").port();
    let learn = format!("learn@{port}");
    let mut r = rig();
    let a = instance(
        &mut r,
        "a",
        &[
            ("bind", "127.0.0.1 0"),
            ("dest", &learn),
            ("bundle", "on"),
            ("keepalive", "/xremote 9"),
            ("/f*", "f 0 1"),
        ],
    );
    let outs: Vec<ChannelId> = (1..=3)
        .map(|i| r.output(a, &format!("/f{i}")).expect("c"))
        .collect();
    let mut n = Net::start(r, a);
    // Nothing learned yet: no keep-alive, changes dropped.
    n.rig.set(outs[0], Value::from_normalised(0.5));
    n.rig.turn(Duration::ZERO).expect("turn");
    assert_eq!(n.counters().no_destination, 1);
    // Any datagram teaches the destination: its host, the forced port.
    n.send(&msg("/hello", &[]));
    for _ in 0..5 {
        n.rig.turn(Duration::from_millis(5)).expect("turn");
    }
    assert_eq!(
        n.rig.backend().destination(a),
        Some(format!("127.0.0.1:{port}").parse().expect("addr"))
    );
    n.rig.advance(Duration::from_secs(9));
    n.rig.turn(Duration::ZERO).expect("turn");
    assert_eq!(
        parse_msg(&recv(&listener).expect("keepalive")),
        ("/xremote".into(), vec![])
    );
    for (i, c) in outs.iter().enumerate() {
        n.rig.set(*c, Value::from_normalised(0.1 * (i + 1) as f64));
    }
    n.rig.turn(Duration::ZERO).expect("turn");
    let b = recv(&listener).expect("bundle");
    let Ok(Packet::Bundle(bundle)) = Packet::parse(&b) else {
        panic!("not a bundle")
    };
    assert!(bundle.time().is_immediate());
    let mut addresses = Vec::new();
    Packet::Bundle(bundle).for_each_message(|m| {
        addresses.push(m.expect("valid").1.address().to_string());
    });
    assert_eq!(addresses, ["/f1", "/f2", "/f3"]);
    let k = n.counters();
    assert_eq!((k.bundles_out, k.messages_out, k.keepalives_out), (1, 3, 1));
}

fn slip_frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut d = patchbay_osc::framing::Decoder::new(patchbay_osc::framing::Framing::Slip, 4096);
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (used, ev) = d.feed(rest);
        if let Some(Ok(f)) = ev {
            out.push(f.to_vec());
        }
        rest = &rest[used..];
    }
    out
}

fn slip(packet: &[u8]) -> Vec<u8> {
    let f = patchbay_osc::framing::Framing::Slip;
    let mut out = vec![0u8; f.encoded_len(packet)];
    let n = f.write(packet, &mut out).expect("fits");
    out.truncate(n);
    out
}

#[test]
fn tcp_slip_listens_and_connects_out() {
    use std::io::{Read, Write};
    patchbay_net::netns::require_private_netns();
    let peer = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let dest = peer
        .local_addr()
        .expect("addr")
        .to_string()
        .replace(':', " ");
    let mut r = rig();
    let a = instance(
        &mut r,
        "a",
        &[
            ("transport", "tcp"),
            ("bind", "127.0.0.1 0"),
            ("dest", &dest),
            ("/out", "i 0 255"),
        ],
    );
    let input = r.input(a, "/in").expect("c");
    let out = r.output(a, "/out").expect("c");
    r.start().expect("start");
    // The instance connects out to the peer...
    let (mut outgoing, _) = peer.accept().expect("accept");
    outgoing
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    // ... and a client connects to the instance's listener.
    let listen = r.backend().local_addr(a).expect("listening");
    let mut client = std::net::TcpStream::connect(listen).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    for _ in 0..10 {
        r.turn(Duration::from_millis(10)).expect("turn");
    }
    assert_eq!(r.backend().instance_counters(a).expect("a").connections, 2);
    // A frame split across writes, with bytes that need escaping in the argument.
    let framed = slip(&msg("/in", &[Arg::Int(0xC0)]));
    client.write_all(&framed[..5]).expect("write");
    r.turn(Duration::from_millis(10)).expect("turn");
    client.write_all(&framed[5..]).expect("write");
    for _ in 0..20 {
        if !r.events().is_empty() {
            break;
        }
        r.turn(Duration::from_millis(10)).expect("turn");
    }
    let got: Vec<_> = r
        .take_events()
        .iter()
        .map(|e| (e.channel, e.value))
        .collect();
    assert_eq!(got, vec![(input, Value::from_raw(0xC0, 8))]);
    // Output reaches both streams, framed.
    r.set(out, Value::from_raw(0xDB, 8));
    r.turn(Duration::ZERO).expect("turn");
    for stream in [&mut outgoing, &mut client] {
        let mut buf = [0u8; 256];
        let n = stream.read(&mut buf).expect("read");
        let frames = slip_frames(&buf[..n]);
        assert_eq!(frames, vec![msg("/out", &[Arg::Int(0xDB)])]);
    }
    // The peer goes away: the instance connects again later.
    drop(outgoing);
    for _ in 0..10 {
        r.turn(Duration::from_millis(10)).expect("turn");
    }
    r.advance(link::RECONNECT);
    r.turn(Duration::ZERO).expect("turn");
    peer.set_nonblocking(false).expect("blocking");
    let (_again, _) = peer.accept().expect("reconnected");
    for _ in 0..5 {
        r.turn(Duration::from_millis(10)).expect("turn");
    }
    assert_eq!(r.backend().instance_counters(a).expect("a").connections, 3);
}

/// The properties `Backend::monitor` shows of one instance.
#[derive(Default)]
struct Properties(Vec<(&'static str, String)>);

impl patchbay_core::MonitorSink for Properties {
    fn property(&mut self, name: &'static str, value: &dyn std::fmt::Display) {
        self.0.push((name, value.to_string()));
    }
    fn wants_frames(&self) -> bool {
        false
    }
    fn frame(&mut self, _: Direction, _: &[u8]) {}
    fn source(&mut self, _: &patchbay_core::monitor::Source<'_>) {}
}

#[test]
fn monitor_shows_transport_addresses_and_state() {
    patchbay_net::netns::require_private_netns();
    let mut r = rig();
    let a = instance(
        &mut r,
        "a",
        &[
            ("bind", "127.0.0.1 0"),
            ("dest", "learn@9000"),
            ("root", "/4"),
        ],
    );
    r.input(a, "/x").expect("c");
    let n = Net::start(r, a);
    let mut p = Properties::default();
    patchbay_core::Backend::monitor(&*n.rig.backend(), a, &mut p);
    let get = |k: &str| p.0.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    assert_eq!(get("transport").as_deref(), Some("udp"));
    assert_eq!(get("bind"), Some(n.addr.to_string()));
    assert_eq!(get("root").as_deref(), Some("/4"));
    assert_eq!(
        get("destination").as_deref(),
        Some("learn (nobody heard yet)")
    );
    assert_eq!(get("state").as_deref(), Some("waiting"));
}

mod exactness {
    //! 8- and 16-bit values through a path's output and back through its input: unchanged at
    //! their own width, exact at the ends across widths (the core's rule).
    use super::*;
    use patchbay_core::testing::sink;
    use patchbay_osc::channel::Root;
    use patchbay_osc::preconfig::Preconfig;
    use patchbay_osc::value::OutArg;
    use proptest::prelude::*;

    struct Ids(patchbay_core::ChannelRegistry);

    impl patchbay_core::ChannelIds for Ids {
        fn resolve(&mut self, instance: InstanceId, key: u64) -> ChannelId {
            self.0.resolve(instance, key)
        }
    }

    /// A path `/p` preconfigured as `spec`, used both ways: (paths, its key, its channel).
    fn path(spec: &str) -> (paths::Paths, u64, ChannelId) {
        let pre = [Preconfig::parse("/p", spec).expect("spec")];
        let mut ids = Ids(patchbay_core::ChannelRegistry::new());
        let mut p = paths::Paths::default();
        for dir in [Direction::Input, Direction::Output] {
            p.channel(InstanceId(0), "/p", dir, &Root::NONE, &pre, true, &mut ids)
                .expect("channel");
        }
        let id = ids.0.get(InstanceId(0), 0).expect("id");
        (p, 0, id)
    }

    /// What `/p` sends after `v` was delivered, and what its input reports for that message.
    fn round_trip(spec: &str, v: Value) -> (OutArg, Value) {
        let (mut p, key, id) = path(spec);
        let mut dirty = Vec::new();
        p.set(key, v, &mut dirty);
        let out = p.entries[0].out[0];
        let mut buf = [0u8; 64];
        let n = write_message(&mut buf, "/p", [out.arg()]).expect("fits");
        let mut events = Vec::new();
        let mut k = InstanceCounters::default();
        let (mut held, mut throttle, mut cache) = (
            Vec::new(),
            patchbay_kit::throttle::Throttle::default(),
            patchbay_osc::address::PatternCache::new(),
        );
        let now = std::time::Instant::now();
        input::Input {
            name: "t",
            root: &Root::NONE,
            paths: &p,
            cache: &mut cache,
            k: &mut k,
            held: &mut held,
            throttle: &mut throttle,
            detect: false,
        }
        .packet(
            &buf[..n],
            now,
            input::Wall {
                at: now,
                unix: Duration::from_secs(1_700_000_000),
            },
            &mut sink(&mut events),
        );
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].channel, id);
        (out, events[0].value)
    }

    proptest! {
        #[test]
        fn eight_bit_values_pass_unchanged(v in 0u64..=255) {
            let (out, back) = round_trip("i 0 255", Value::from_raw(v, 8));
            prop_assert_eq!(out, OutArg::Int(v as i32));
            prop_assert_eq!(back.raw(), Some((v, 8)));
        }

        #[test]
        fn sixteen_bit_values_pass_unchanged(v in 0u64..=65535) {
            let (out, back) = round_trip("i 0 65535", Value::from_raw(v, 16));
            prop_assert_eq!(out, OutArg::Int(v as i32));
            prop_assert_eq!(back.raw(), Some((v, 16)));
        }

        #[test]
        fn floats_keep_their_level(v in 0u64..=255) {
            let (_, back) = round_trip("f 0.0 1.0", Value::from_raw(v, 8));
            prop_assert_eq!(back.to_raw(8), v);
        }
    }

    #[test]
    fn widths_meet_exactly_at_the_ends() {
        let (out, back) = round_trip("i 0 65535", Value::from_raw(255, 8));
        assert_eq!(out, OutArg::Int(65535));
        assert_eq!(back.to_raw(8), 255);
        let (out, _) = round_trip("i 0 255", Value::from_raw(65535, 16));
        assert_eq!(out, OutArg::Int(255));
        let (out, _) = round_trip("i 0 255", Value::from_raw(0, 16));
        assert_eq!(out, OutArg::Int(0));
    }
}
