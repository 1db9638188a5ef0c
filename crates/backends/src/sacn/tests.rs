//! Backend-level tests: options and channels through the trait, and (inside a private network
//! namespace only) real sockets end to end.

use std::net::UdpSocket;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use patchbay_core::testing::Rig;
use patchbay_core::{
    ChannelId, CoreError, Delivery, Direction, InstanceId, OptionError, Part, Value,
};
use patchbay_sacn::{Cid, DataHeader, DropReason, Options, Packet, write_data};

use super::*;

/// The rig of every test here: the sACN backend in a real core.
fn rig() -> Rig<Sacn> {
    Rig::real_time(Sacn::new())
}

fn global(rig: &mut Rig<Sacn>, key: &str, value: &str) -> Result<Vec<(Part, String)>, OptionError> {
    rig.configure(key, value)
}

fn inst_opt(
    rig: &mut Rig<Sacn>,
    id: InstanceId,
    key: &str,
    value: &str,
) -> Result<Vec<(Part, String)>, OptionError> {
    rig.configure_instance(id, key, value)
}

fn instance(rig: &mut Rig<Sacn>, name: &str) -> InstanceId {
    rig.add_instance(name).unwrap()
}

fn chan(
    rig: &mut Rig<Sacn>,
    id: InstanceId,
    name: &str,
    dir: Direction,
) -> (Result<ChannelId, String>, Vec<String>) {
    match rig.channel(id, name, dir) {
        Ok((c, warnings)) => (Ok(c), warnings),
        Err(e) => (Err(e.message), Vec::new()),
    }
}

#[test]
fn unknown_options_list_the_known_ones() {
    let mut rig = rig();
    assert_eq!(
        global(&mut rig, "port", "1").unwrap_err().to_string(),
        "unknown option 'port' (known options: name, cid, bind, detect)"
    );
    let a = instance(&mut rig, "a");
    assert_eq!(
        inst_opt(&mut rig, a, "univers", "1")
            .unwrap_err()
            .to_string(),
        "unknown option 'univers' (known options: universe, interface, priority, destination, from, \
         unicast, realtime, merge, preview, sync, loss)"
    );
}

#[test]
fn every_option_is_stored() {
    let mut rig = rig();
    global(&mut rig, "name", "FOH").unwrap();
    global(&mut rig, "cid", "00112233-4455-6677-8899-aabbccddeeff").unwrap();
    global(&mut rig, "bind", "127.0.0.1").unwrap();
    global(&mut rig, "bind", "127.0.0.1 6000 local").unwrap();
    assert_eq!(global(&mut rig, "detect", "verbose").unwrap(), vec![]);
    assert_eq!(
        global(&mut rig, "detect", "maybe").unwrap(),
        vec![(
            Part::Value,
            "detect = 'maybe' is not one of on, verbose, off; detection stays off".to_string()
        )]
    );
    {
        let s = rig.backend();
        assert_eq!(s.detect, Detect::Off);
        assert_eq!(s.name, "FOH");
        assert_eq!(s.binds.len(), 2);
        assert!(s.binds[1].local);
    }
    let x = instance(&mut rig, "x");
    for (k, v) in [
        ("universe", "7"),
        ("interface", "1"),
        ("priority", "150"),
        ("destination", "10.0.0.9 6001"),
        ("from", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"),
        ("unicast", "1"),
        ("realtime", "1"),
        ("merge", "ltp"),
        ("preview", "accept"),
        ("sync", "9"),
        ("loss", "zero"),
    ] {
        inst_opt(&mut rig, x, k, v).unwrap();
    }
    let o = rig.backend().instance_options(x).unwrap().clone();
    assert_eq!(
        o,
        InstanceOptions {
            universe: Some(7),
            interface: 1,
            priority: 150,
            destination: Some("10.0.0.9:6001".parse().unwrap()),
            destination_name: None,
            from: Some(Cid([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16])),
            unicast: true,
            realtime: true,
            merge: MergeMode::Ltp,
            accept_preview: true,
            sync: 9,
            loss: LossBehavior::Zero,
        }
    );
    assert_eq!(
        rig.backend().cid(),
        Some(Cid::parse_uuid("00112233-4455-6677-8899-aabbccddeeff").unwrap())
    );
}

#[test]
fn interface_needs_an_earlier_bind_and_collisions_are_errors() {
    let mut rig = rig();
    let a = instance(&mut rig, "a");
    assert!(inst_opt(&mut rig, a, "interface", "0").is_err());
    global(&mut rig, "bind", "127.0.0.1").unwrap();
    global(&mut rig, "bind", "127.0.0.2").unwrap();
    let b = instance(&mut rig, "b");
    inst_opt(&mut rig, a, "universe", "5").unwrap();
    // `universe` before `interface` (MIDIMonster checks collisions only once all is read).
    inst_opt(&mut rig, b, "universe", "5").unwrap();
    inst_opt(&mut rig, b, "interface", "1").unwrap();
    assert!(
        rig.backend().validate().is_empty(),
        "a on bind 0, b on bind 1"
    );
    let c = instance(&mut rig, "c");
    inst_opt(&mut rig, c, "universe", "5").unwrap();
    let d = instance(&mut rig, "d");
    let problems: Vec<(Option<InstanceId>, String)> = rig
        .backend()
        .validate()
        .into_iter()
        .map(|e| (e.instance, e.message))
        .collect();
    assert_eq!(
        problems,
        [
            (
                Some(c),
                "colliding instances: 'c' and 'a' both use universe 5 on bind 0".to_string()
            ),
            (
                Some(d),
                "please specify a universe (universe = 1..63999)".to_string()
            ),
        ],
        "each problem once, at the later instance"
    );
}

#[test]
fn priority_zero_with_destination_warns() {
    let mut rig = rig();
    global(&mut rig, "bind", "127.0.0.1").unwrap();
    let a = instance(&mut rig, "a");
    inst_opt(&mut rig, a, "destination", "10.0.0.1").unwrap();
    assert_eq!(
        inst_opt(&mut rig, a, "priority", "0").unwrap(),
        vec![(
            Part::Value,
            "priority 0 disables output, so the destination of this instance is never used"
                .to_string()
        )]
    );
    assert_eq!(inst_opt(&mut rig, a, "priority", "10").unwrap(), vec![]);
}

#[test]
fn channels_through_the_trait() {
    let mut rig = rig();
    global(&mut rig, "bind", "127.0.0.1").unwrap();
    let out = instance(&mut rig, "out");
    inst_opt(&mut rig, out, "universe", "1").unwrap();
    let (a, w) = chan(&mut rig, out, "5", Direction::Input);
    assert!(w.is_empty());
    let (b, _) = chan(&mut rig, out, "5", Direction::Input);
    assert_eq!(a, b, "same spec, same channel");
    let (r, w) = chan(&mut rig, out, "10+11", Direction::Output);
    assert!(r.is_ok());
    assert_eq!(
        w,
        vec![
            "no priority, so this instance never sends (set priority = 1..200 to enable output)"
                .to_string()
        ]
    );
    inst_opt(&mut rig, out, "destination", "10.1.1.1").unwrap();
    assert_eq!(
        chan(&mut rig, out, "12", Direction::Output).1,
        vec![
            "no priority, so this instance never sends and its destination is unused (set \
             priority = 1..200 to enable output)"
                .to_string()
        ]
    );
    assert_eq!(
        chan(&mut rig, out, "11", Direction::Input).0,
        Err("channel '11': slot 11 is already the fine slot of wide channel 10+11".into())
    );
    assert_eq!(
        chan(&mut rig, out, "5abc", Direction::Input).0,
        Err("channel '5abc': expected N or N+M with slot numbers 1..512 (e.g. 5 or 10+11)".into())
    );
    assert_eq!(
        chan(&mut rig, out, "3+3", Direction::Input).0,
        Err(
            "channel '3+3': a wide channel needs two different slots (3+3 uses slot 3 twice)"
                .into()
        )
    );
    assert_eq!(
        chan(&mut rig, out, "0", Direction::Output).0,
        Err("channel '0': expected N or N+M with slot numbers 1..512 (e.g. 5 or 10+11)".into())
    );
}

/// The start error of a rig whose configuration `setup` wrote.
fn start_error(setup: impl FnOnce(&mut Rig<Sacn>)) -> (Rig<Sacn>, StartError) {
    let mut rig = rig();
    setup(&mut rig);
    match rig.start() {
        Err(CoreError::Start { backend, source }) => {
            assert_eq!(backend, "sacn");
            (rig, source)
        }
        other => panic!("expected a start error, got {other:?}"),
    }
}

#[test]
fn start_requires_a_universe_and_a_bind() {
    let mut nouni = None;
    let (_, e) = start_error(|rig| nouni = Some(instance(rig, "nouni")));
    assert_eq!(e.instance, nouni);
    assert_eq!(e.message, "please specify a universe (universe = 1..63999)");
    let (rig, e) = start_error(|rig| {
        let i = instance(rig, "nouni");
        inst_opt(rig, i, "universe", "1").unwrap();
    });
    assert_eq!(
        e.message,
        "the sacn backend has no bind line (add e.g. bind = 0.0.0.0 to [backend sacn])"
    );
    // A failed start shuts every backend down: without a start that is fine and complete.
    assert!(rig.backend().shutting_down);
    assert!(rig.backend().shutdown_complete());
}

#[test]
fn output_without_priority_is_dropped_and_counted() {
    let mut rig = rig();
    global(&mut rig, "bind", "127.0.0.1").unwrap();
    let out = instance(&mut rig, "out");
    inst_opt(&mut rig, out, "universe", "1").unwrap();
    let id = chan(&mut rig, out, "1", Direction::Output).0.unwrap();
    let d = [Delivery {
        channel: id,
        key: 0,
        value: Value::from_raw(5, 8),
    }];
    // Not started (no sockets outside a private namespace): `handle` directly.
    rig.call(|s, now, _, sink| {
        s.handle(now, out, &d, sink);
        s.handle(now, out, &d, sink);
    });
    assert_eq!(
        rig.backend().instance_counters(out).unwrap().output_dropped,
        2
    );
}

// ---------------------------------------------------------------------------------------------
// Sockets: only inside a private network namespace (scripts/test, scripts/netns-run --veth).

/// The rig, and the discovery pages `collect_packets` read on the side.
struct Net {
    rig: Rig<Sacn>,
    /// Universe lists of our discovery packets seen by `collect_packets`.
    discovery: Vec<Vec<u16>>,
}

impl Net {
    /// Starts the configured rig.
    fn start(mut rig: Rig<Sacn>) -> Net {
        rig.start().expect("start");
        Net {
            rig,
            discovery: Vec::new(),
        }
    }

    /// One loop turn, waiting at most `max`.
    fn turn(&mut self, max: Duration) {
        self.rig.turn(max).unwrap();
    }

    /// Sends values to output channels (looked up with `Rig::output`) in one turn.
    fn deliver(&mut self, values: &[(ChannelId, Value)]) {
        for &(channel, value) in values {
            self.rig.set(channel, value);
        }
        self.turn(Duration::ZERO);
    }

    fn cid(&self) -> Cid {
        self.rig.backend().cid().unwrap()
    }
}

impl Deref for Net {
    type Target = Rig<Sacn>;
    fn deref(&self) -> &Rig<Sacn> {
        &self.rig
    }
}

impl DerefMut for Net {
    fn deref_mut(&mut self) -> &mut Rig<Sacn> {
        &mut self.rig
    }
}

fn data_packet(cid: Cid, universe: u16, seq: u8, slots: &[u8], terminated: bool) -> Vec<u8> {
    let mut buf = [0u8; 700];
    let h = DataHeader {
        cid,
        source_name: "test desk",
        priority: 100,
        sync_address: 0,
        sequence: seq,
        options: Options::NONE.with_stream_terminated(terminated),
        universe,
        start_code: 0,
    };
    let n = write_data(&mut buf, &h, slots).unwrap();
    buf[..n].to_vec()
}

/// Data packets (universe, sequence, options, slots) read from `sock` until `until` says stop
/// or `deadline` passes; the rig keeps turning meanwhile.
fn collect_packets(
    rig: &mut Net,
    sock: &UdpSocket,
    deadline: Duration,
    mut until: impl FnMut(&[(u16, u8, u8, Vec<u8>)]) -> bool,
) -> Vec<(u16, u8, u8, Vec<u8>)> {
    sock.set_nonblocking(true).unwrap();
    let end = Instant::now() + deadline;
    let cid = rig.cid();
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while Instant::now() < end && !until(&got) {
        rig.turn(Duration::from_millis(5));
        while let Ok(n) = sock.recv(&mut buf) {
            match Packet::parse(&buf[..n]) {
                Ok(Packet::Data(p)) if p.cid() == cid => got.push((
                    p.universe(),
                    p.sequence(),
                    p.options_raw(),
                    p.slots().to_vec(),
                )),
                Ok(Packet::Discovery(p)) if p.cid() == cid => {
                    rig.discovery.push(p.universes().collect())
                }
                _ => {}
            }
        }
    }
    got
}

/// Instance `in` (universe 1; inputs 1 and 10+11 recorded) and `out` (universe 2, priority
/// 100; outputs 1 and 20+21 driven) on one bind.
fn in_out_config(bind: &str, dest: Option<String>) -> (Rig<Sacn>, [ChannelId; 4]) {
    let mut rig = rig();
    global(&mut rig, "bind", bind).unwrap();
    let i = instance(&mut rig, "in");
    inst_opt(&mut rig, i, "universe", "1").unwrap();
    let o = instance(&mut rig, "out");
    inst_opt(&mut rig, o, "universe", "2").unwrap();
    inst_opt(&mut rig, o, "priority", "100").unwrap();
    if let Some(d) = dest {
        inst_opt(&mut rig, o, "destination", &d).unwrap();
    }
    let in1 = rig.input(i, "1").unwrap();
    let in10 = rig.input(i, "10+11").unwrap();
    let out1 = rig.output(o, "1").unwrap();
    let out20 = rig.output(o, "20+21").unwrap();
    (rig, [in1, in10, out1, out20])
}

/// Sends `packet` to `to` every 50 ms until the rig recorded `n` events (or 4 s passed).
fn feed_until_events(rig: &mut Net, to: &str, packet: &[u8], n: usize) {
    let tx = UdpSocket::bind("0.0.0.0:0").unwrap();
    let end = Instant::now() + Duration::from_secs(4);
    let mut last = Instant::now() - Duration::from_secs(1);
    while rig.events().len() < n && Instant::now() < end {
        if last.elapsed() >= Duration::from_millis(50) {
            tx.send_to(packet, to).unwrap();
            last = Instant::now();
        }
        rig.turn(Duration::from_millis(10));
    }
}

#[test]
fn unicast_in_events_and_unicast_out_bytes() {
    patchbay_net::netns::require_private_netns();
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dest = listener.local_addr().unwrap().to_string().replace(':', " ");
    let (rig, [in1, in10, out1, out20]) = in_out_config("127.0.0.1 15601", Some(dest));
    let mut rig = Net::start(rig);
    // Output-only and input universes on a unicast bind join nothing... except input `in`,
    // which is multicast by default: exactly one group (universe 1), not universe 2 (D13).
    let joined = rig.backend().rt.as_ref().unwrap().binds[0]
        .ep
        .memberships()
        .group_count();
    assert_eq!(joined, 1);

    let mut slots = [0u8; 512];
    slots[0] = 255;
    slots[9] = 0x12;
    slots[10] = 0x34;
    let desk = Cid([9; 16]);
    let pkt = data_packet(desk, 1, 0, &slots, false);
    feed_until_events(&mut rig, "127.0.0.1:15601", &pkt, 2);
    let got: Vec<(ChannelId, Option<(u64, u8)>)> = rig
        .events()
        .iter()
        .map(|e| (e.channel, e.value.raw()))
        .collect();
    assert_eq!(got, vec![(in1, Some((255, 8))), (in10, Some((0x1234, 16)))]);
    // The same data again: nothing changed, no events.
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.send_to(&data_packet(desk, 1, 1, &slots, false), "127.0.0.1:15601")
        .unwrap();
    // Junk: an empty datagram (D8) and a malformed one are counted, nothing stops.
    tx.send_to(&[], "127.0.0.1:15601").unwrap();
    tx.send_to(b"hello", "127.0.0.1:15601").unwrap();
    for _ in 0..20 {
        rig.turn(Duration::from_millis(5));
    }
    assert_eq!(rig.events().len(), 2);
    let c = rig.backend().bind_counters(0).unwrap().clone();
    assert_eq!(c.empty, 1);
    assert_eq!(c.malformed[DropReason::TruncatedRoot.index()], 1);
    let ic = rig
        .backend()
        .instance_counters(InstanceId(0))
        .unwrap()
        .clone();
    assert!(ic.frames_in >= 2, "{ic:?}");
    assert_eq!(ic.events_in, 2);
    assert_eq!(ic.sources_added, 1);
    assert_eq!(rig.backend().source_count(InstanceId(0)), 1);

    // Send the values on to `out`.
    let values: Vec<Value> = rig.events().iter().map(|e| e.value).collect();
    rig.deliver(&[(out1, values[0]), (out20, values[1])]);
    let first = collect_packets(&mut rig, &listener, Duration::from_secs(2), |g| {
        !g.is_empty()
    });
    let (u, seq, opts, data) = &first[0];
    assert_eq!((*u, *seq, *opts), (2, 0, 0));
    assert_eq!(data.len(), 512);
    assert_eq!((data[0], data[19], data[20]), (255, 0x12, 0x34));
    assert!(
        data.iter()
            .enumerate()
            .all(|(i, &v)| matches!(i, 0 | 19 | 20) || v == 0)
    );

    // Unchanged values: no new packet beyond the scheduled repeats (3 after the change).
    rig.deliver(&[(out1, values[0])]);
    let more = collect_packets(&mut rig, &listener, Duration::from_millis(300), |_| false);
    let seqs: Vec<u8> = first.iter().chain(&more).map(|p| p.1).collect();
    assert_eq!(
        seqs,
        vec![0, 1, 2, 3],
        "the change and three repeats, then keep-alive only after ~900 ms"
    );

    // Shutdown: three Stream_Terminated packets with consecutive sequence numbers.
    rig.shutdown();
    let got = collect_packets(&mut rig, &listener, Duration::from_secs(1), |g| {
        g.len() >= 3
    });
    assert!(rig.backend().shutdown_complete());
    let term: Vec<u8> = got
        .iter()
        .filter(|p| p.2 & 0x40 != 0)
        .map(|p| p.1)
        .collect();
    assert_eq!(term.len(), 3, "{got:?}");
    assert_eq!(
        term,
        vec![term[0], term[0].wrapping_add(1), term[0].wrapping_add(2)]
    );
    assert!(
        got.iter().all(|p| p.3[0] == 255),
        "termination carries the last data"
    );
    assert_eq!(
        rig.backend()
            .instance_counters(InstanceId(1))
            .unwrap()
            .frames_out,
        1 + 3 + 3
    );
}

/// A plain listener on `port` that shares the port (SO_REUSEADDR) and joins `groups` on the
/// interface `iface` (address for IPv4, index for IPv6).
fn group_listener(
    v6: bool,
    port: u16,
    groups: &[u16],
    iface_addr: std::net::IpAddr,
    ifindex: u32,
) -> UdpSocket {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(
        if v6 { Domain::IPV6 } else { Domain::IPV4 },
        Type::DGRAM,
        None,
    )
    .unwrap();
    sock.set_reuse_address(true).unwrap();
    let any: std::net::SocketAddr = if v6 {
        format!("[::]:{port}").parse().unwrap()
    } else {
        format!("0.0.0.0:{port}").parse().unwrap()
    };
    sock.bind(&any.into()).unwrap();
    for &u in groups {
        match (super::start::group_ip(v6, u), iface_addr) {
            (std::net::IpAddr::V4(g), std::net::IpAddr::V4(a)) => {
                sock.join_multicast_v4(&g, &a).unwrap()
            }
            (std::net::IpAddr::V6(g), _) => sock.join_multicast_v6(&g, ifindex).unwrap(),
            _ => panic!("family mismatch"),
        }
    }
    sock.into()
}

/// Discovery universe lists (from our CID) read from `sock`.
fn discovery_lists(rig: &Net, sock: &UdpSocket) -> Vec<Vec<u16>> {
    let mut buf = [0u8; 2048];
    let mut out = rig.discovery.clone();
    while let Ok(n) = sock.recv(&mut buf) {
        if let Ok(Packet::Discovery(p)) = Packet::parse(&buf[..n])
            && p.cid() == rig.cid()
        {
            out.push(p.universes().collect());
        }
    }
    out
}

/// Multicast on a bind to a specific address (Linux delivers no multicast to such sockets; the
/// endpoint's group-bound receive sockets must), output to the groups, own output mirrored into own
/// input with `local`,
/// output-only universes not joined, discovery listing exactly the output universes.
#[test]
fn ipv4_multicast_on_a_specific_bind() {
    patchbay_net::netns::require_private_netns();
    let mut rig = rig();
    global(&mut rig, "bind", "198.18.0.1 5568 local").unwrap();
    let i = instance(&mut rig, "in");
    inst_opt(&mut rig, i, "universe", "1").unwrap();
    let o = instance(&mut rig, "out");
    inst_opt(&mut rig, o, "universe", "2").unwrap();
    inst_opt(&mut rig, o, "priority", "100").unwrap();
    let b = instance(&mut rig, "both");
    inst_opt(&mut rig, b, "universe", "3").unwrap();
    inst_opt(&mut rig, b, "priority", "50").unwrap();
    let in1 = rig.input(i, "1").unwrap();
    let out1 = rig.output(o, "1").unwrap();
    let both_in = rig.input(b, "2").unwrap();
    let both2 = rig.output(b, "2").unwrap();
    let mut rig = Net::start(rig);
    let (iface_addr, ifindex) = {
        let s = rig.backend();
        let ep = &s.rt.as_ref().unwrap().binds[0].ep;
        let i = ep.interface().unwrap();
        assert_eq!(i.name, "sacn0");
        let groups = ep.memberships();
        assert_eq!(
            groups.group_count(),
            2,
            "universes 1 and 3, not output-only 2 (D13)"
        );
        assert!(groups.socket_of("239.255.0.2".parse().unwrap()).is_none());
        (i.addr, i.index)
    };
    let listener = group_listener(false, 5568, &[2, 3, 64214], iface_addr, ifindex);
    listener.set_nonblocking(true).unwrap();

    let mut slots = [0u8; 512];
    slots[0] = 42;
    let tx = UdpSocket::bind("198.18.0.1:0").unwrap();
    let pkt = data_packet(Cid([7; 16]), 1, 0, &slots, false);
    feed_until_events(&mut rig, "239.255.0.1:5568", &pkt, 1);
    drop(tx);
    assert_eq!(rig.events().len(), 1);
    assert_eq!(rig.events()[0].channel, in1);
    assert_eq!(rig.events()[0].value.raw(), Some((42, 8)));

    // Both outputs start in one turn, so the discovery that follows their first packets lists
    // both (discovery lists only universes that are transmitting).
    rig.deliver(&[
        (out1, Value::from_raw(200, 8)),
        (both2, Value::from_raw(77, 8)),
    ]);
    let got = collect_packets(&mut rig, &listener, Duration::from_secs(2), |g| {
        g.iter().any(|p| p.0 == 2) && g.iter().any(|p| p.0 == 3)
    });
    let u2 = got.iter().find(|p| p.0 == 2).expect("universe 2 sent");
    assert_eq!(u2.3[0], 200);
    let u3 = got.iter().find(|p| p.0 == 3).expect("universe 3 sent");
    assert_eq!(u3.3[1], 77);
    // `local`: our own universe-3 packets come back and feed instance `both`'s input (MIDIMonster
    // HEAD's mirror), once its 1.5 s sampling period is over.
    let deadline = std::time::Instant::now() + Duration::from_secs(4);
    while rig.events().len() < 2 && std::time::Instant::now() < deadline {
        rig.turn(Duration::from_millis(10));
    }
    let events = rig.events();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1].channel, both_in);
    assert_eq!(events[1].value.raw(), Some((77, 8)));
    // Discovery lists exactly the output universes (MIDIMonster sends struct bytes, D4).
    let lists = discovery_lists(&rig, &listener);
    assert!(
        !lists.is_empty(),
        "a discovery packet with the first output"
    );
    assert!(lists.iter().all(|l| l == &[2, 3]), "{lists:?}");
}

#[test]
fn ipv6_multicast_in_and_out() {
    patchbay_net::netns::require_private_netns();
    let mut rig = rig();
    global(&mut rig, "bind", "2001:db8:5ac::1 15621 local").unwrap();
    let i = instance(&mut rig, "in");
    inst_opt(&mut rig, i, "universe", "123").unwrap();
    let o = instance(&mut rig, "out");
    inst_opt(&mut rig, o, "universe", "124").unwrap();
    inst_opt(&mut rig, o, "priority", "100").unwrap();
    let in1 = rig.input(i, "1+2").unwrap();
    let out1 = rig.output(o, "1+2").unwrap();
    let mut rig = Net::start(rig);
    let (iface_addr, ifindex) = {
        let i = rig.backend().rt.as_ref().unwrap().binds[0]
            .ep
            .interface()
            .unwrap()
            .clone();
        assert_eq!(i.name, "sacn0");
        (i.addr, i.index)
    };
    let listener = group_listener(true, 5568, &[124], iface_addr, ifindex);
    listener.set_nonblocking(true).unwrap();

    let mut slots = [0u8; 512];
    slots[0] = 0xAB;
    slots[1] = 0xCD;
    let pkt = data_packet(Cid([8; 16]), 123, 0, &slots, false);
    let tx = UdpSocket::bind("[2001:db8:5ac::2]:0").unwrap();
    let end = Instant::now() + Duration::from_secs(4);
    while rig.events().is_empty() && Instant::now() < end {
        tx.send_to(&pkt, "[ff18::8300:7b]:15621").unwrap();
        for _ in 0..5 {
            rig.turn(Duration::from_millis(10));
        }
    }
    let events = rig.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].channel, in1);
    assert_eq!(events[0].value.raw(), Some((0xABCD, 16)));

    rig.deliver(&[(out1, events[0].value)]);
    let got = collect_packets(&mut rig, &listener, Duration::from_secs(2), |g| {
        !g.is_empty()
    });
    assert_eq!(got[0].0, 124);
    assert_eq!((got[0].3[0], got[0].3[1]), (0xAB, 0xCD));
}

/// A flood larger than the per-turn budget is still read completely (over several turns), and
/// the backend asks for an immediate turn while a socket has data left.
#[test]
fn receive_budget_carries_over_to_the_next_turn() {
    patchbay_net::netns::require_private_netns();
    let mut rig = rig();
    global(&mut rig, "bind", "127.0.0.1 15641").unwrap();
    let i = instance(&mut rig, "in");
    inst_opt(&mut rig, i, "universe", "1").unwrap();
    inst_opt(&mut rig, i, "unicast", "1").unwrap();
    chan(&mut rig, i, "1", Direction::Input).0.unwrap();
    let mut rig = Net::start(rig);
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    // The kernel's default receive buffer holds only ~256 small datagrams, so use a small budget.
    rig.backend_mut().rt.as_mut().unwrap().recv_budget = 16;
    let n = 50;
    for i in 0..n {
        tx.send_to(&[i as u8; 3], "127.0.0.1:15641").unwrap();
    }
    rig.turn(Duration::from_millis(100));
    let after_one = rig.backend().bind_counters(0).unwrap().datagrams;
    assert_eq!(after_one, 16);
    assert!(
        rig.backend()
            .poll_timeout()
            .is_some_and(|t| t <= Instant::now())
    );
    for _ in 0..5 {
        rig.turn(Duration::from_millis(100));
    }
    let s = rig.backend();
    let c = s.bind_counters(0).unwrap();
    assert_eq!(c.datagrams as usize, n);
    assert_eq!(c.malformed[DropReason::TruncatedRoot.index()] as usize, n);
}

/// Several routing rounds in one turn make one packet per universe, carrying the last values;
/// a change inside the rate-limit gap is deferred, not lost.
#[test]
fn output_is_coalesced_per_turn_and_deferred_changes_are_kept() {
    patchbay_net::netns::require_private_netns();
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let dest = listener.local_addr().unwrap().to_string().replace(':', " ");
    // The gap is timed on the rig's clock: a manual one, so that only the test moves it.
    let mut rig = Rig::new(Sacn::new());
    global(&mut rig, "bind", "127.0.0.1 15651").unwrap();
    let o = instance(&mut rig, "out");
    inst_opt(&mut rig, o, "universe", "5").unwrap();
    inst_opt(&mut rig, o, "priority", "120").unwrap();
    inst_opt(&mut rig, o, "destination", &dest).unwrap();
    let c1 = rig.output(o, "1").unwrap();
    let c2 = rig.output(o, "7+3").unwrap();
    rig.start().unwrap();
    let read = |sock: &UdpSocket| {
        let mut buf = [0u8; 2048];
        let mut out = Vec::new();
        while let Ok(n) = sock.recv(&mut buf) {
            if let Ok(Packet::Data(p)) = Packet::parse(&buf[..n]) {
                out.push((p.priority(), p.slots()[0], p.slots()[6], p.slots()[2]));
            }
        }
        out
    };
    // Three routing rounds in one turn (no turn makes three for one instance, so by hand),
    // then the turn's flush.
    let now = rig.now();
    rig.call(|s, now, io, sink| {
        for (v, w) in [(1u64, 100u64), (2, 200), (3, 0xBEEF)] {
            s.handle(
                now,
                o,
                &[
                    Delivery {
                        channel: c1,
                        key: 0,
                        value: Value::from_raw(v, 8),
                    },
                    Delivery {
                        channel: c2,
                        key: 6,
                        value: Value::from_raw(w, 16),
                    },
                ],
                sink,
            );
        }
        s.flush(now, io);
    });
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(read(&listener), vec![(120, 3, 0xBE, 0xEF)]);
    // A change 1 ms later is inside the 1/44 s gap: nothing now, one packet when it ends.
    rig.advance(Duration::from_millis(1));
    let t1 = rig.now();
    rig.set(c1, Value::from_raw(9, 8));
    rig.turn(Duration::ZERO).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(read(&listener), vec![]);
    let due = rig.backend().poll_timeout().unwrap();
    assert!(
        due > t1 && due <= now + Duration::from_millis(24),
        "{:?}",
        due - now
    );
    // As the core turns on the timer: process (which sends nothing), then flush.
    rig.advance(due - t1);
    rig.call(|s, now, io, sink| s.process(now, &[], io, sink))
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(read(&listener), vec![]);
    rig.call(|s, now, io, _| s.flush(now, io));
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(read(&listener), vec![(120, 9, 0xBE, 0xEF)]);
}

/// 1,000 input universes on one bind: one receive socket per group, all registered, and every
/// universe delivers exactly once.
#[test]
fn thousand_input_universes_on_one_bind() {
    patchbay_net::netns::require_private_netns();
    const N: u16 = 1000;
    let mut rig = rig();
    global(&mut rig, "bind", "0.0.0.0 15661").unwrap();
    let mut ids = Vec::new();
    for u in 1..=N {
        let i = instance(&mut rig, &format!("u{u}"));
        inst_opt(&mut rig, i, "universe", &u.to_string()).unwrap();
        ids.push(rig.input(i, "1").unwrap());
    }
    let mut rig = Net::start(rig);
    {
        let s = rig.backend();
        let ep = &s.rt.as_ref().unwrap().binds[0].ep;
        assert_eq!(ep.memberships().group_count(), usize::from(N));
        assert_eq!(ep.socket_ids().count(), usize::from(N) + 1);
    }
    assert_eq!(
        rig.registered(),
        usize::from(N) + 1,
        "every socket registered"
    );
    let tx = UdpSocket::bind("0.0.0.0:0").unwrap();
    let desk = Cid([5; 16]);
    let mut slots = [0u8; 1];
    let end = Instant::now() + Duration::from_secs(6);
    let mut seq = 0u8;
    let mut seen = std::collections::HashSet::new();
    while seen.len() < usize::from(N) && Instant::now() < end {
        for u in 1..=N {
            slots[0] = (u % 250) as u8 + 1;
            let pkt = data_packet(desk, u, seq, &slots, false);
            let group = super::start::group_addr(false, u);
            tx.send_to(&pkt, std::net::SocketAddr::new(group.ip(), 15661))
                .unwrap();
            if u % 50 == 0 {
                rig.turn(Duration::ZERO);
            }
        }
        seq = seq.wrapping_add(1);
        for _ in 0..20 {
            rig.turn(Duration::from_millis(5));
        }
        for e in rig.take_events() {
            assert!(seen.insert(e.channel), "one event per universe");
            let u = ids.iter().position(|&c| c == e.channel).unwrap() + 1;
            assert_eq!(e.value.raw(), Some((u64::from((u % 250) as u8 + 1), 8)));
        }
    }
    assert_eq!(seen.len(), usize::from(N));
    let s = rig.backend();
    for i in 0..u32::from(N) {
        let ic = s.instance_counters(InstanceId(i)).unwrap();
        assert_eq!(ic.sources_added, 1, "no receiver event lost for u{}", i + 1);
        assert_eq!(ic.events_in, 1);
    }
    let c = s.bind_counters(0).unwrap();
    assert_eq!(c.discarded.iter().sum::<u64>(), 0, "{c:?}");
}

/// `sync = U` on an output: data packets name U and each flush ends with a sync packet for U
/// (to U's group and to the instance's unicast destination). On an input, a source naming a
/// sync universe makes the bind join that universe's group, or its sync packets never arrive.
#[test]
fn synchronization_out_and_sync_group_join_in() {
    patchbay_net::netns::require_private_netns();
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let dest = listener.local_addr().unwrap().to_string().replace(':', " ");
    let mut rig = rig();
    global(&mut rig, "bind", "0.0.0.0 15671").unwrap();
    let o = instance(&mut rig, "out");
    inst_opt(&mut rig, o, "universe", "5").unwrap();
    inst_opt(&mut rig, o, "priority", "100").unwrap();
    inst_opt(&mut rig, o, "sync", "7").unwrap();
    inst_opt(&mut rig, o, "destination", &dest).unwrap();
    let i = instance(&mut rig, "in");
    inst_opt(&mut rig, i, "universe", "1").unwrap();
    let out1 = rig.output(o, "1").unwrap();
    chan(&mut rig, i, "1", Direction::Input).0.unwrap();
    let mut rig = Net::start(rig);
    rig.deliver(&[(out1, Value::from_raw(1, 8))]);
    std::thread::sleep(Duration::from_millis(5));
    let mut buf = [0u8; 2048];
    let mut kinds = Vec::new();
    while let Ok(n) = listener.recv(&mut buf) {
        match Packet::parse(&buf[..n]) {
            Ok(Packet::Data(p)) => kinds.push(("data", p.sync_address())),
            Ok(Packet::Sync(p)) => kinds.push(("sync", p.sync_address())),
            _ => {}
        }
    }
    assert_eq!(kinds, vec![("data", 7), ("sync", 7)]);

    let sync_group: std::net::IpAddr = "239.255.0.9".parse().unwrap();
    let joined = |rig: &Net| {
        rig.backend().rt.as_ref().unwrap().binds[0]
            .ep
            .memberships()
            .socket_of(sync_group)
            .is_some()
    };
    assert!(!joined(&rig));
    let mut buf = [0u8; 700];
    let h = DataHeader {
        cid: Cid([3; 16]),
        source_name: "synced desk",
        priority: 100,
        sync_address: 9,
        sequence: 0,
        options: Options::NONE,
        universe: 1,
        start_code: 0,
    };
    let n = write_data(&mut buf, &h, &[10]).unwrap();
    let tx = UdpSocket::bind("0.0.0.0:0").unwrap();
    tx.send_to(&buf[..n], "239.255.0.1:15671").unwrap();
    for _ in 0..20 {
        rig.turn(Duration::from_millis(5));
        if joined(&rig) {
            break;
        }
    }
    assert!(joined(&rig), "sync universe 9's group joined on demand");
}

/// Every 8-bit and every 16-bit value goes sACN → core routing → sACN unchanged: 256 wide
/// channels per packet, 256 packets, so all 65,536 values pass once (plus all 256 8-bit values
/// in one packet).
#[test]
fn every_value_passes_sacn_to_sacn_through_the_core() {
    patchbay_net::netns::require_private_netns();
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let dest = listener.local_addr().unwrap().to_string().replace(':', " ");
    let mut rig = rig();
    global(&mut rig, "bind", "127.0.0.1 15681").unwrap();
    let opt = |rig: &mut Rig<Sacn>, id, k: &str, v: &str| {
        inst_opt(rig, id, k, v).unwrap();
    };
    let in8 = instance(&mut rig, "in8");
    opt(&mut rig, in8, "universe", "1");
    let out8 = instance(&mut rig, "out8");
    opt(&mut rig, out8, "universe", "2");
    let in16 = instance(&mut rig, "in16");
    opt(&mut rig, in16, "universe", "3");
    let out16 = instance(&mut rig, "out16");
    opt(&mut rig, out16, "universe", "4");
    for o in [out8, out16] {
        opt(&mut rig, o, "priority", "100");
        opt(&mut rig, o, "realtime", "1");
        opt(&mut rig, o, "destination", &dest);
    }
    for i in 1..=256 {
        let s = chan(&mut rig, in8, &i.to_string(), Direction::Input)
            .0
            .unwrap();
        let t = chan(&mut rig, out8, &i.to_string(), Direction::Output)
            .0
            .unwrap();
        rig.map(s, t);
        let wide = format!("{}+{}", 2 * i - 1, 2 * i);
        let s = chan(&mut rig, in16, &wide, Direction::Input).0.unwrap();
        let t = chan(&mut rig, out16, &wide, Direction::Output).0.unwrap();
        rig.map(s, t);
    }
    rig.start().unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let desk = Cid([4; 16]);
    let mut latest: [Option<Vec<u8>>; 2] = [None, None];
    let pump = |rig: &mut Rig<Sacn>, latest: &mut [Option<Vec<u8>>; 2]| {
        rig.turn(Duration::from_millis(2)).unwrap();
        let mut buf = [0u8; 2048];
        while let Ok(n) = listener.recv(&mut buf) {
            if let Ok(Packet::Data(p)) = Packet::parse(&buf[..n]) {
                let k = usize::from(p.universe() == 4);
                latest[k] = Some(p.slots().to_vec());
            }
        }
    };
    // 8 bit: slot i carries i - 1; the sampling period (1.5 s) passes first.
    let slots8: Vec<u8> = (0..512).map(|i| (i % 256) as u8).collect();
    let end = Instant::now() + Duration::from_secs(5);
    let mut seq = 0u8;
    while latest[0].as_deref().map(|s| &s[..256]) != Some(&slots8[..256]) {
        assert!(Instant::now() < end, "8-bit values did not come through");
        tx.send_to(
            &data_packet(desk, 1, seq, &slots8, false),
            "127.0.0.1:15681",
        )
        .unwrap();
        seq = seq.wrapping_add(1);
        for _ in 0..5 {
            pump(&mut rig, &mut latest);
        }
    }
    // 16 bit: wide channel j carries j * 256 + k in packet k.
    for k in 0..=255u8 {
        let slots: Vec<u8> = (0..512)
            .map(|i| if i % 2 == 0 { (i / 2) as u8 } else { k })
            .collect();
        let end = Instant::now() + Duration::from_secs(3);
        let mut sent_at = Instant::now() - Duration::from_secs(1);
        while latest[1].as_deref() != Some(&slots[..]) {
            assert!(
                Instant::now() < end,
                "16-bit values of packet {k} did not come through"
            );
            if sent_at.elapsed() > Duration::from_millis(100) {
                tx.send_to(&data_packet(desk, 3, k, &slots, false), "127.0.0.1:15681")
                    .unwrap();
                sent_at = Instant::now();
            }
            pump(&mut rig, &mut latest);
        }
    }
}

/// An unreachable unicast destination is counted and logged for its instance; other universes
/// keep going.
#[test]
fn unreachable_destination_does_not_stop_other_universes() {
    patchbay_net::netns::require_private_netns();
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let dest = listener.local_addr().unwrap().to_string().replace(':', " ");
    let mut rig = rig();
    global(&mut rig, "bind", "127.0.0.1 15701").unwrap();
    let lost = instance(&mut rig, "lost");
    inst_opt(&mut rig, lost, "universe", "1").unwrap();
    inst_opt(&mut rig, lost, "priority", "100").unwrap();
    // TEST-NET-2: no route inside the test namespace.
    inst_opt(&mut rig, lost, "destination", "198.51.100.7").unwrap();
    let fine = instance(&mut rig, "fine");
    inst_opt(&mut rig, fine, "universe", "2").unwrap();
    inst_opt(&mut rig, fine, "priority", "100").unwrap();
    inst_opt(&mut rig, fine, "destination", &dest).unwrap();
    let a = rig.output(lost, "1").unwrap();
    let b = rig.output(fine, "1").unwrap();
    let mut rig = Net::start(rig);
    rig.deliver(&[(a, Value::from_raw(1, 8))]);
    rig.deliver(&[(b, Value::from_raw(2, 8))]);
    let got = collect_packets(&mut rig, &listener, Duration::from_secs(1), |g| {
        !g.is_empty()
    });
    assert_eq!(got[0].0, 2);
    assert_eq!(got[0].3[0], 2);
    let s = rig.backend();
    let lost = s.instance_counters(InstanceId(0)).unwrap();
    assert!(lost.send_errors >= 1, "{lost:?}");
    assert_eq!(lost.frames_out, 0);
    assert!(s.instance_counters(InstanceId(1)).unwrap().frames_out >= 1);
}

/// sACN in (universe 1, unicast on `port`) → core routing → sACN out (universe 2, realtime, to
/// `listener`), on a hand-driven clock whose sampling and 0xDD waits are over and whose desk is
/// known (its warm-up frame, slot 1 = 200, has been forwarded and read).
struct Forward {
    rig: Rig<Sacn>,
    listener: UdpSocket,
    tx: UdpSocket,
    to: String,
    seq: u8,
}

impl Forward {
    const DESK: Cid = Cid([6; 16]);
    const WARM_UP: u8 = 200;

    fn new(port: u16) -> Forward {
        let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let dest = listener.local_addr().unwrap().to_string().replace(':', " ");
        let mut rig = Rig::new(Sacn::new());
        global(&mut rig, "bind", &format!("127.0.0.1 {port}")).unwrap();
        let input = instance(&mut rig, "in");
        inst_opt(&mut rig, input, "universe", "1").unwrap();
        inst_opt(&mut rig, input, "unicast", "1").unwrap();
        let output = instance(&mut rig, "out");
        for (k, v) in [
            ("universe", "2"),
            ("priority", "100"),
            ("realtime", "1"),
            ("destination", &dest),
        ] {
            inst_opt(&mut rig, output, k, v).unwrap();
        }
        let s = chan(&mut rig, input, "1", Direction::Input).0.unwrap();
        let t = chan(&mut rig, output, "1", Direction::Output).0.unwrap();
        rig.map(s, t);
        rig.start().unwrap();
        let mut f = Forward {
            rig,
            listener,
            tx: UdpSocket::bind("127.0.0.1:0").unwrap(),
            to: format!("127.0.0.1:{port}"),
            seq: 0,
        };
        // Past the sampling period; the new desk's levels then wait 1.5 s for 0xDD.
        f.rig.advance(Duration::from_secs(2));
        f.queue(&[Forward::WARM_UP]);
        f.turns(1, Duration::ZERO);
        f.rig.advance(Duration::from_secs(2));
        assert_eq!(f.turns(1, Duration::ZERO), vec![Forward::WARM_UP]);
        f
    }

    /// Sends one frame per value (slot 1) before the next turn reads any.
    fn queue(&mut self, values: &[u8]) {
        for &v in values {
            let pkt = data_packet(Forward::DESK, 1, self.seq, &[v], false);
            self.tx.send_to(&pkt, &self.to).unwrap();
            self.seq = self.seq.wrapping_add(1);
        }
        // Loopback delivers synchronously: the datagrams are queued now. No sleep: how long
        // they wait decides whether they coalesce (`COALESCE_AFTER`).
    }

    /// Runs `n` turns, the clock moving `step` before each; slot 1 of every packet sent.
    fn turns(&mut self, n: usize, step: Duration) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        for _ in 0..n {
            self.rig.advance(step);
            self.rig.turn(Duration::ZERO).unwrap();
            while let Ok(len) = self.listener.recv(&mut buf) {
                if let Ok(Packet::Data(p)) = Packet::parse(&buf[..len]) {
                    assert_eq!(p.universe(), 2);
                    got.push(p.slots()[0]);
                }
            }
        }
        got
    }

    fn stat(&self, name: &str) -> u64 {
        self.rig
            .stat("bind 0", name)
            .unwrap_or_else(|| panic!("no counter {name}"))
    }
}

/// Frames of one universe that queued up during a stall are each forwarded: the turn ends at
/// the first repeat of the universe, the rest waits for the next turn, which follows at once.
#[test]
fn queued_frames_of_one_universe_are_each_forwarded() {
    patchbay_net::netns::require_private_netns();
    let mut f = Forward::new(15711);
    let values: Vec<u8> = (1..=10).collect();
    f.queue(&values);
    // 300 µs apart on the manual clock (and well within `COALESCE_AFTER` of real time, which
    // decides coalescing), and the realtime output (at most
    // one packet per 250 µs) defers none.
    let got = f.turns(values.len() + 3, Duration::from_micros(300));
    assert_eq!(got, values, "each queued frame once, in order");
    assert_eq!(f.stat("turns_split"), 9);
    assert_eq!(f.stat("coalesced_in"), 0);
    assert_eq!(f.stat("coalesce_mode_datagrams"), 0);
    // An unchanged frame does not end a turn: no repeat of 10 is forwarded, and 11 follows.
    f.queue(&[10, 11]);
    assert_eq!(f.turns(3, Duration::from_millis(1)), vec![11]);
    assert_eq!(f.stat("turns_split"), 9);
}

/// Input that waited longer than `COALESCE_AFTER` in the kernel (the loop fell behind) coalesces,
/// latest values winning; once a datagram is read within `SPLIT_BELOW` of its arrival, frames
/// are forwarded one by one again.
#[test]
fn input_that_waited_too_long_coalesces_and_the_last_value_wins() {
    patchbay_net::netns::require_private_netns();
    let mut f = Forward::new(15721);
    let values: Vec<u8> = (1..=10).collect();
    f.queue(&values);
    std::thread::sleep(super::input::COALESCE_AFTER + Duration::from_millis(2));
    assert_eq!(f.turns(3, Duration::from_millis(1)), vec![10]);
    assert_eq!(f.stat("turns_split"), 0);
    assert_eq!(
        f.stat("coalesced_in"),
        9,
        "2..=10 each replaced a pending change"
    );
    assert_eq!(f.stat("coalesce_mode_datagrams"), 10);
    // Fresh input: forwarded frame by frame again.
    f.queue(&[11, 12, 13]);
    assert_eq!(f.turns(4, Duration::from_millis(1)), vec![11, 12, 13]);
    assert_eq!(f.stat("turns_split"), 2);
    assert_eq!(f.stat("coalesced_in"), 9);
}

/// A full send buffer is waited out by the socket's writability, not polled for: while packets
/// wait there is no retry deadline, the loop sleeps until the kernel has room, and the turn the
/// socket wakes sends what waited.
///
/// How the buffer fills: 198.18.0.99 is on `sacn0`'s subnet, but nobody answers ARP for it, so
/// the kernel queues our packets on the unresolved neighbour, where they keep their send-buffer
/// space until the resolution fails (three probes a second apart) and they are dropped. A send
/// buffer shrunk to the kernel's minimum holds only a few of them.
#[test]
fn a_full_send_buffer_is_waited_out_by_writability_not_a_timer() {
    patchbay_net::netns::require_private_netns();
    use patchbay_net::SocketId;
    let mut rig = rig();
    global(&mut rig, "bind", "198.18.0.1 15731").unwrap();
    // No link-watch timer to wake the loop during the test.
    rig.backend_mut()
        .set_link_check_period(Duration::from_secs(3600));
    let mut outputs = Vec::new();
    for u in 1..=16 {
        let o = instance(&mut rig, &format!("out{u}"));
        inst_opt(&mut rig, o, "universe", &u.to_string()).unwrap();
        inst_opt(&mut rig, o, "priority", "100").unwrap();
        inst_opt(&mut rig, o, "destination", "198.18.0.99").unwrap();
        outputs.push(rig.output(o, "1").unwrap());
    }
    let mut rig = Net::start(rig);
    {
        let mut s = rig.backend_mut();
        let sock = s.rt.as_mut().unwrap().binds[0]
            .ep
            .socket_mut(SocketId::Main)
            .unwrap();
        socket2::SockRef::from(&*sock)
            .set_send_buffer_size(1)
            .unwrap();
    }
    let values: Vec<(ChannelId, Value)> = outputs
        .iter()
        .map(|&c| (c, Value::from_raw(1, 8)))
        .collect();
    rig.deliver(&values);
    let (out, blocked) = {
        let c = rig.backend().bind_counters(0).unwrap().clone();
        (c.packets_out, c.send_would_block)
    };
    assert!(blocked >= 1, "the buffer filled ({out} packets out)");
    assert!(out < 16, "{out} packets out");
    let now = Instant::now();
    assert!(
        rig.backend()
            .poll_timeout()
            .is_none_or(|t| t > now + Duration::from_secs(60)),
        "no retry deadline while packets wait for room"
    );

    // Each turn waits up to the loop's 1 s cap; only the socket ends a wait early.
    let main = super::start::tag(0, SocketId::Main);
    let end = Instant::now() + Duration::from_secs(10);
    let mut turns = 0;
    while !rig.ready().iter().any(|r| r.tag == main && r.writable) {
        assert!(Instant::now() < end, "never woken by writability");
        rig.turn(Duration::from_secs(10));
        turns += 1;
    }
    // ARP gives up after about 3 s: a 2 ms retry would have turned ~1,500 times.
    assert!(turns <= 8, "{turns} turns while the buffer was full");
    let c = rig.backend().bind_counters(0).unwrap().clone();
    assert!(
        c.packets_out > out,
        "the turn woken by writability sent what waited ({} then {})",
        out,
        c.packets_out
    );
}

/// `bind = HOST PORT ttl=N` reaches the socket: multicast TTL of the bind's family, and for a
/// dual-stack `::` bind the IPv4 TTL too (the kernel applies it: crates/net/tests/ttl.rs).
#[test]
fn bind_ttl_sets_the_multicast_ttl_of_the_socket() {
    patchbay_net::netns::require_private_netns();
    for (bind, v4, v6) in [
        ("127.0.0.1 15741", Some(1), None),
        ("127.0.0.1 15742 ttl=16", Some(16), None),
        ("::1 15743 ttl=32", None, Some(32)),
        (":: 15744 ttl=64", Some(64), Some(64)),
    ] {
        let mut rig = rig();
        global(&mut rig, "bind", bind).unwrap();
        // The core starts a backend that has an instance.
        let o = instance(&mut rig, "out");
        inst_opt(&mut rig, o, "universe", "1").unwrap();
        let rig = Net::start(rig);
        let mut s = rig.backend_mut();
        let ep = &mut s.rt.as_mut().unwrap().binds[0].ep;
        assert_eq!(ep.spec().multicast_ttl, v4.or(v6).unwrap(), "{bind}");
        let sock = socket2::SockRef::from(&*ep.socket_mut(patchbay_net::SocketId::Main).unwrap());
        if let Some(t) = v4 {
            assert_eq!(sock.multicast_ttl_v4().unwrap(), t, "{bind}");
        }
        if let Some(t) = v6 {
            assert_eq!(sock.multicast_hops_v6().unwrap(), t, "{bind}");
        }
    }
}
/// One source as the monitor showed it: id, name, state, priority, [packets, sequence errors,
/// missed], losses.
type ShownSource = (
    String,
    String,
    &'static str,
    Option<u8>,
    [Option<u64>; 3],
    u64,
);

/// What `Backend::monitor` showed of one instance.
#[derive(Default)]
struct Shown {
    properties: Vec<(&'static str, String)>,
    frames: Vec<(Direction, Vec<u8>)>,
    /// (id, name, state, priority, packets, sequence errors, missed, losses)
    sources: Vec<ShownSource>,
}

impl Shown {
    fn of(rig: &Net, id: InstanceId) -> Shown {
        let mut shown = Shown::default();
        patchbay_core::Backend::monitor(&*rig.backend(), id, &mut shown);
        shown
    }

    fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl patchbay_core::MonitorSink for Shown {
    fn property(&mut self, name: &'static str, value: &dyn std::fmt::Display) {
        self.properties.push((name, value.to_string()));
    }
    fn wants_frames(&self) -> bool {
        true
    }
    fn frame(&mut self, direction: Direction, bytes: &[u8]) {
        self.frames.push((direction, bytes.to_vec()));
    }
    fn source(&mut self, s: &patchbay_core::monitor::Source<'_>) {
        self.sources.push((
            s.id.to_string(),
            s.name.to_string(),
            s.state.as_str(),
            s.priority,
            [s.packets, s.sequence_errors, s.missed],
            s.losses,
        ));
    }
}

/// The monitor shows the input universe's source with its traffic (a gap and a duplicate
/// counted), the merged levels, and the output levels once values were delivered; a terminated
/// source stays listed as terminated.
#[test]
fn monitor_shows_sources_traffic_and_both_frames() {
    patchbay_net::netns::require_private_netns();
    let (rig, [_, _, out1, _]) = in_out_config("127.0.0.1 15611", None);
    let mut rig = Net::start(rig);
    let before = Shown::of(&rig, InstanceId(0));
    assert_eq!(before.property("universe"), Some("1"));
    assert_eq!(before.property("state"), Some("sampling"));
    assert!(before.sources.is_empty());

    let desk = Cid([7; 16]);
    let mut slots = [0u8; 512];
    slots[0] = 200;
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let end = Instant::now() + Duration::from_secs(4);
    let mut seq = 0u8;
    while rig.events().is_empty() && Instant::now() < end {
        tx.send_to(&data_packet(desk, 1, seq, &slots, false), "127.0.0.1:15611")
            .unwrap();
        seq += 1;
        for _ in 0..10 {
            rig.turn(Duration::from_millis(5));
        }
    }
    assert!(!rig.events().is_empty(), "the source's levels arrived");
    // A gap of 4, then a duplicate.
    for s in [seq + 4, seq + 4] {
        tx.send_to(&data_packet(desk, 1, s, &slots, false), "127.0.0.1:15611")
            .unwrap();
    }
    for _ in 0..20 {
        rig.turn(Duration::from_millis(5));
    }
    let shown = Shown::of(&rig, InstanceId(0));
    assert_eq!(shown.property("state"), Some("receiving"));
    assert_eq!(
        shown.sources,
        [(
            desk.to_string(),
            "test desk".to_string(),
            "active",
            Some(100),
            [Some(u64::from(seq) + 1), Some(1), Some(4)],
            0
        )]
    );
    let input = shown.frames.iter().find(|(d, _)| *d == Direction::Input);
    assert_eq!(input.map(|(_, f)| f[0]), Some(200));

    rig.deliver(&[(out1, Value::from_raw(77, 8))]);
    rig.turn(Duration::from_millis(5));
    let out = Shown::of(&rig, InstanceId(1));
    assert_eq!(out.property("priority"), Some("100"));
    assert_eq!(out.property("state"), Some("sending"));
    let output = out.frames.iter().find(|(d, _)| *d == Direction::Output);
    assert_eq!(output.map(|(_, f)| (f.len(), f[0])), Some((512, 77)));

    tx.send_to(
        &data_packet(desk, 1, seq + 5, &slots, true),
        "127.0.0.1:15611",
    )
    .unwrap();
    for _ in 0..20 {
        rig.turn(Duration::from_millis(5));
    }
    let gone = Shown::of(&rig, InstanceId(0));
    assert_eq!(gone.sources.len(), 1);
    assert_eq!(
        (gone.sources[0].2, gone.sources[0].4),
        ("terminated", [None, None, None])
    );
}
