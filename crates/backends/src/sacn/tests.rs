//! Backend-level tests: options and channels through the trait, and (inside a private network
//! namespace only) real sockets end to end.

use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

use patchbay_core::{
    Backend, ChannelCtx, ChannelId, ChannelRegistry, ConfigCtx, Delivery, Direction, Event,
    InstanceId, OptionError, Part, Reactor, Sink, Value,
};
use patchbay_sacn::receiver::Discard;
use patchbay_sacn::{Cid, DataHeader, DropReason, Options, Packet, write_data};

use super::*;

fn ctx<'a>(warnings: &'a mut Vec<(Part, String)>) -> ConfigCtx<'a> {
    ConfigCtx {
        base_dir: Path::new("/tmp"),
        config_path: Path::new("/tmp/test.cfg"),
        warnings,
    }
}

fn global(s: &mut Sacn, key: &str, value: &str) -> Result<Vec<(Part, String)>, OptionError> {
    let mut w = Vec::new();
    s.configure(key, value, &mut ctx(&mut w))?;
    Ok(w)
}

fn inst_opt(
    s: &mut Sacn,
    id: u32,
    key: &str,
    value: &str,
) -> Result<Vec<(Part, String)>, OptionError> {
    let mut w = Vec::new();
    s.configure_instance(InstanceId(id), key, value, &mut ctx(&mut w))?;
    Ok(w)
}

fn chan(
    s: &mut Sacn,
    reg: &mut ChannelRegistry,
    id: u32,
    name: &str,
    dir: Direction,
) -> (Result<ChannelId, String>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut c = ChannelCtx {
        ids: reg,
        warnings: &mut warnings,
    };
    let r = s
        .channel(InstanceId(id), name, dir, &mut c)
        .map_err(|e| e.message);
    (r, warnings)
}

#[test]
fn unknown_options_list_the_known_ones() {
    let mut s = Sacn::new();
    assert_eq!(
        global(&mut s, "port", "1").unwrap_err().to_string(),
        "unknown option 'port' (known options: name, cid, bind, detect)"
    );
    s.create_instance(InstanceId(0), "a").unwrap();
    assert_eq!(
        inst_opt(&mut s, 0, "univers", "1").unwrap_err().to_string(),
        "unknown option 'univers' (known options: universe, interface, priority, destination, from, \
         unicast, realtime, merge, preview, sync, loss)"
    );
}

#[test]
fn every_option_is_stored() {
    let mut s = Sacn::new();
    global(&mut s, "name", "FOH").unwrap();
    global(&mut s, "cid", "00112233-4455-6677-8899-aabbccddeeff").unwrap();
    global(&mut s, "bind", "127.0.0.1").unwrap();
    global(&mut s, "bind", "127.0.0.1 6000 local").unwrap();
    assert_eq!(global(&mut s, "detect", "verbose").unwrap(), vec![]);
    assert_eq!(
        global(&mut s, "detect", "maybe").unwrap(),
        vec![(
            Part::Value,
            "detect = 'maybe' is not one of on, verbose, off; detection stays off".to_string()
        )]
    );
    assert_eq!(s.detect, Detect::Off);
    assert_eq!(s.name, "FOH");
    assert_eq!(s.binds.len(), 2);
    assert!(s.binds[1].local);
    s.create_instance(InstanceId(3), "x").unwrap();
    for (k, v) in [
        ("universe", "7"),
        ("interface", "1"),
        ("priority", "150"),
        ("destination", "10.0.0.9 6001"),
        ("from", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16"),
        ("unicast", "1"),
        ("realtime", "on"),
        ("merge", "ltp"),
        ("preview", "accept"),
        ("sync", "9"),
        ("loss", "zero"),
    ] {
        inst_opt(&mut s, 3, k, v).unwrap();
    }
    let o = s.instance_options(InstanceId(3)).unwrap().clone();
    assert_eq!(
        o,
        InstanceOptions {
            universe: Some(7),
            interface: 1,
            priority: 150,
            destination: Some("10.0.0.9:6001".parse().unwrap()),
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
        s.cid(),
        Some(Cid::parse_uuid("00112233-4455-6677-8899-aabbccddeeff").unwrap())
    );
}

#[test]
fn interface_needs_an_earlier_bind_and_collisions_are_errors() {
    let mut s = Sacn::new();
    s.create_instance(InstanceId(0), "a").unwrap();
    assert!(inst_opt(&mut s, 0, "interface", "0").is_err());
    global(&mut s, "bind", "127.0.0.1").unwrap();
    global(&mut s, "bind", "127.0.0.2").unwrap();
    s.create_instance(InstanceId(1), "b").unwrap();
    inst_opt(&mut s, 0, "universe", "5").unwrap();
    // `universe` before `interface` (MIDIMonster checks collisions only once all is read).
    inst_opt(&mut s, 1, "universe", "5").unwrap();
    inst_opt(&mut s, 1, "interface", "1").unwrap();
    assert!(s.validate().is_empty(), "a on bind 0, b on bind 1");
    s.create_instance(InstanceId(2), "c").unwrap();
    inst_opt(&mut s, 2, "universe", "5").unwrap();
    s.create_instance(InstanceId(3), "d").unwrap();
    let problems: Vec<(Option<InstanceId>, String)> = s
        .validate()
        .into_iter()
        .map(|e| (e.instance, e.message))
        .collect();
    assert_eq!(
        problems,
        [
            (
                Some(InstanceId(2)),
                "colliding instances: 'c' and 'a' both use universe 5 on bind 0".to_string()
            ),
            (
                Some(InstanceId(3)),
                "please specify a universe (universe = 1..63999)".to_string()
            ),
        ],
        "each problem once, at the later instance"
    );
}

#[test]
fn priority_zero_with_destination_warns() {
    let mut s = Sacn::new();
    global(&mut s, "bind", "127.0.0.1").unwrap();
    s.create_instance(InstanceId(0), "a").unwrap();
    inst_opt(&mut s, 0, "destination", "10.0.0.1").unwrap();
    assert_eq!(
        inst_opt(&mut s, 0, "priority", "0").unwrap(),
        vec![(
            Part::Value,
            "priority 0 disables output, so the destination of this instance is never used"
                .to_string()
        )]
    );
    assert_eq!(inst_opt(&mut s, 0, "priority", "10").unwrap(), vec![]);
}

#[test]
fn channels_through_the_trait() {
    let mut s = Sacn::new();
    let mut reg = ChannelRegistry::new();
    global(&mut s, "bind", "127.0.0.1").unwrap();
    s.create_instance(InstanceId(0), "out").unwrap();
    inst_opt(&mut s, 0, "universe", "1").unwrap();
    let (a, w) = chan(&mut s, &mut reg, 0, "5", Direction::Input);
    assert!(w.is_empty());
    let (b, _) = chan(&mut s, &mut reg, 0, "5", Direction::Input);
    assert_eq!(a, b, "same spec, same channel");
    let (r, w) = chan(&mut s, &mut reg, 0, "10+11", Direction::Output);
    assert!(r.is_ok());
    assert_eq!(
        w,
        vec![
            "no priority, so nothing is ever sent for channel 10+11 (set priority = 1..200 to enable \
             output)"
                .to_string()
        ]
    );
    inst_opt(&mut s, 0, "destination", "10.1.1.1").unwrap();
    assert_eq!(
        chan(&mut s, &mut reg, 0, "12", Direction::Output).1,
        vec![
            "no priority, so nothing is ever sent for channel 12 and the destination is unused \
             (set priority = 1..200 to enable output)"
                .to_string()
        ]
    );
    assert_eq!(
        chan(&mut s, &mut reg, 0, "11", Direction::Input).0,
        Err("channel '11': slot 11 is already the fine slot of wide channel 10+11".into())
    );
    assert_eq!(
        chan(&mut s, &mut reg, 0, "5abc", Direction::Input).0,
        Err("channel '5abc': expected N or N+M with slot numbers 1..512 (e.g. 5 or 10+11)".into())
    );
    assert_eq!(
        chan(&mut s, &mut reg, 0, "3+3", Direction::Input).0,
        Err(
            "channel '3+3': a wide channel needs two different slots (3+3 uses slot 3 twice)"
                .into()
        )
    );
    assert_eq!(
        chan(&mut s, &mut reg, 0, "0", Direction::Output).0,
        Err("channel '0': expected N or N+M with slot numbers 1..512 (e.g. 5 or 10+11)".into())
    );
}

#[test]
fn start_requires_a_universe_and_a_bind() {
    let mut s = Sacn::new();
    s.create_instance(InstanceId(4), "nouni").unwrap();
    let mut reactor = Reactor::new(1).unwrap();
    let e = s.start(Instant::now(), &mut reactor.io(0)).unwrap_err();
    assert_eq!(e.instance, Some(InstanceId(4)));
    assert_eq!(e.message, "please specify a universe (universe = 1..63999)");
    inst_opt(&mut s, 4, "universe", "1").unwrap();
    let e = s.start(Instant::now(), &mut reactor.io(0)).unwrap_err();
    assert_eq!(
        e.message,
        "the sacn backend has no bind line (add e.g. bind = 0.0.0.0 to [backend sacn])"
    );
    // Shutdown without start is fine and complete.
    s.shutdown(Instant::now(), &mut reactor.io(0));
    assert!(s.shutdown_complete());
}

#[test]
fn output_without_priority_is_dropped_and_counted() {
    let mut s = Sacn::new();
    let mut reg = ChannelRegistry::new();
    global(&mut s, "bind", "127.0.0.1").unwrap();
    s.create_instance(InstanceId(0), "out").unwrap();
    inst_opt(&mut s, 0, "universe", "1").unwrap();
    let id = chan(&mut s, &mut reg, 0, "1", Direction::Output).0.unwrap();
    let d = [Delivery {
        channel: id,
        key: 0,
        value: Value::from_raw(5, 8),
    }];
    let mut ev = Vec::new();
    s.handle(Instant::now(), InstanceId(0), &d, &mut Sink::new(&mut ev));
    s.handle(Instant::now(), InstanceId(0), &d, &mut Sink::new(&mut ev));
    assert_eq!(
        s.instance_counters(InstanceId(0)).unwrap().output_dropped,
        2
    );
}

// ---------------------------------------------------------------------------------------------
// Sockets: only inside a private network namespace (scripts/test, netns-run --veth).

/// A backend driven by hand with a real reactor.
struct Rig {
    sacn: Sacn,
    reactor: Reactor,
    reg: ChannelRegistry,
    events: Vec<Event>,
    /// Universe lists of our discovery packets seen by `collect_packets`.
    discovery: Vec<Vec<u16>>,
}

impl Rig {
    fn new(sacn: Sacn, reg: ChannelRegistry) -> Rig {
        let mut reactor = Reactor::new(1).unwrap();
        let mut sacn = sacn;
        sacn.start(Instant::now(), &mut reactor.io(0))
            .expect("start");
        Rig {
            sacn,
            reactor,
            reg,
            events: Vec::new(),
            discovery: Vec::new(),
        }
    }

    /// One loop turn as the core runs it (without routing).
    fn turn(&mut self, max: Duration) {
        let now = Instant::now();
        let wait = self
            .sacn
            .poll_timeout()
            .map_or(max, |t| t.saturating_duration_since(now).min(max));
        self.reactor.wait(Some(wait)).unwrap();
        let ready = self.reactor.ready(0).to_vec();
        let now = Instant::now();
        self.sacn
            .process(
                now,
                &ready,
                &mut self.reactor.io(0),
                &mut Sink::new(&mut self.events),
            )
            .unwrap();
        self.sacn.flush(now, &mut self.reactor.io(0));
    }

    fn deliver(&mut self, inst: u32, values: &[(ChannelId, u64, Value)]) {
        let d: Vec<Delivery> = values
            .iter()
            .map(|&(channel, key, value)| Delivery {
                channel,
                key,
                value,
            })
            .collect();
        let now = Instant::now();
        self.sacn
            .handle(now, InstanceId(inst), &d, &mut Sink::new(&mut Vec::new()));
        self.sacn.flush(now, &mut self.reactor.io(0));
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
    rig: &mut Rig,
    sock: &UdpSocket,
    deadline: Duration,
    mut until: impl FnMut(&[(u16, u8, u8, Vec<u8>)]) -> bool,
) -> Vec<(u16, u8, u8, Vec<u8>)> {
    sock.set_nonblocking(true).unwrap();
    let end = Instant::now() + deadline;
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while Instant::now() < end && !until(&got) {
        rig.turn(Duration::from_millis(5));
        while let Ok(n) = sock.recv(&mut buf) {
            match Packet::parse(&buf[..n]) {
                Ok(Packet::Data(p)) if p.cid() == rig.sacn.cid().unwrap() => got.push((
                    p.universe(),
                    p.sequence(),
                    p.options_raw(),
                    p.slots().to_vec(),
                )),
                Ok(Packet::Discovery(p)) if p.cid() == rig.sacn.cid().unwrap() => {
                    rig.discovery.push(p.universes().collect())
                }
                _ => {}
            }
        }
    }
    got
}

fn in_out_config(bind: &str, dest: Option<String>) -> (Sacn, ChannelRegistry, [ChannelId; 4]) {
    let mut s = Sacn::new();
    let mut reg = ChannelRegistry::new();
    global(&mut s, "bind", bind).unwrap();
    s.create_instance(InstanceId(0), "in").unwrap();
    inst_opt(&mut s, 0, "universe", "1").unwrap();
    s.create_instance(InstanceId(1), "out").unwrap();
    inst_opt(&mut s, 1, "universe", "2").unwrap();
    inst_opt(&mut s, 1, "priority", "100").unwrap();
    if let Some(d) = dest {
        inst_opt(&mut s, 1, "destination", &d).unwrap();
    }
    let in1 = chan(&mut s, &mut reg, 0, "1", Direction::Input).0.unwrap();
    let in10 = chan(&mut s, &mut reg, 0, "10+11", Direction::Input)
        .0
        .unwrap();
    let out1 = chan(&mut s, &mut reg, 1, "1", Direction::Output).0.unwrap();
    let out20 = chan(&mut s, &mut reg, 1, "20+21", Direction::Output)
        .0
        .unwrap();
    (s, reg, [in1, in10, out1, out20])
}

/// Sends `packet` to `to` every 50 ms until the rig reported `n` events (or 4 s passed).
fn feed_until_events(rig: &mut Rig, to: &str, packet: &[u8], n: usize) {
    let tx = UdpSocket::bind("0.0.0.0:0").unwrap();
    let end = Instant::now() + Duration::from_secs(4);
    let mut last = Instant::now() - Duration::from_secs(1);
    while rig.events.len() < n && Instant::now() < end {
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
    let (s, reg, [in1, in10, out1, out20]) = in_out_config("127.0.0.1 15601", Some(dest));
    let mut rig = Rig::new(s, reg);
    // Output-only and input universes on a unicast bind join nothing... except input `in`,
    // which is multicast by default: exactly one group (universe 1), not universe 2 (D13).
    let joined = rig.sacn.rt.as_ref().unwrap().binds[0]
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
        .events
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
    assert_eq!(rig.events.len(), 2);
    let c = rig.sacn.bind_counters(0).unwrap().clone();
    assert_eq!(c.empty, 1);
    assert_eq!(c.malformed[DropReason::TruncatedRoot.index()], 1);
    let ic = rig.sacn.instance_counters(InstanceId(0)).unwrap().clone();
    assert!(ic.frames_in >= 2, "{ic:?}");
    assert_eq!(ic.events_in, 2);
    assert_eq!(ic.sources_added, 1);
    assert_eq!(rig.sacn.source_count(InstanceId(0)), 1);

    // Route the events to `out` as the core would.
    let values: Vec<Value> = rig.events.iter().map(|e| e.value).collect();
    rig.deliver(1, &[(out1, 0, values[0]), (out20, 19, values[1])]);
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
    rig.deliver(1, &[(out1, 0, values[0])]);
    let more = collect_packets(&mut rig, &listener, Duration::from_millis(300), |_| false);
    let seqs: Vec<u8> = first.iter().chain(&more).map(|p| p.1).collect();
    assert_eq!(
        seqs,
        vec![0, 1, 2, 3],
        "the change and three repeats, then keep-alive only after ~900 ms"
    );

    // Shutdown: three Stream_Terminated packets with consecutive sequence numbers.
    let now = Instant::now();
    rig.sacn.shutdown(now, &mut rig.reactor.io(0));
    let got = collect_packets(&mut rig, &listener, Duration::from_secs(1), |g| {
        g.len() >= 3
    });
    assert!(rig.sacn.shutdown_complete());
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
        rig.sacn
            .instance_counters(InstanceId(1))
            .unwrap()
            .frames_out,
        1 + 3 + 3
    );
    let _ = rig.reg.len();
    let _ = Discard::OwnCid;
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
fn discovery_lists(rig: &Rig, sock: &UdpSocket) -> Vec<Vec<u16>> {
    let mut buf = [0u8; 2048];
    let mut out = rig.discovery.clone();
    while let Ok(n) = sock.recv(&mut buf) {
        if let Ok(Packet::Discovery(p)) = Packet::parse(&buf[..n])
            && p.cid() == rig.sacn.cid().unwrap()
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
    let mut s = Sacn::new();
    let mut reg = ChannelRegistry::new();
    global(&mut s, "bind", "198.18.0.1 5568 local").unwrap();
    s.create_instance(InstanceId(0), "in").unwrap();
    inst_opt(&mut s, 0, "universe", "1").unwrap();
    s.create_instance(InstanceId(1), "out").unwrap();
    inst_opt(&mut s, 1, "universe", "2").unwrap();
    inst_opt(&mut s, 1, "priority", "100").unwrap();
    s.create_instance(InstanceId(2), "both").unwrap();
    inst_opt(&mut s, 2, "universe", "3").unwrap();
    inst_opt(&mut s, 2, "priority", "50").unwrap();
    let in1 = chan(&mut s, &mut reg, 0, "1", Direction::Input).0.unwrap();
    let out1 = chan(&mut s, &mut reg, 1, "1", Direction::Output).0.unwrap();
    let both_in = chan(&mut s, &mut reg, 2, "2", Direction::Input).0.unwrap();
    let both2 = chan(&mut s, &mut reg, 2, "2", Direction::Output).0.unwrap();
    let mut rig = Rig::new(s, reg);
    let (iface_addr, ifindex) = {
        let ep = &rig.sacn.rt.as_ref().unwrap().binds[0].ep;
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
    assert_eq!(rig.events.len(), 1);
    assert_eq!(rig.events[0].channel, in1);
    assert_eq!(rig.events[0].value.raw(), Some((42, 8)));

    rig.deliver(1, &[(out1, 0, Value::from_raw(200, 8))]);
    rig.deliver(2, &[(both2, 1, Value::from_raw(77, 8))]);
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
    while rig.events.len() < 2 && std::time::Instant::now() < deadline {
        rig.turn(Duration::from_millis(10));
    }
    assert_eq!(rig.events.len(), 2, "{:?}", rig.events);
    assert_eq!(rig.events[1].channel, both_in);
    assert_eq!(rig.events[1].value.raw(), Some((77, 8)));
    // Discovery lists exactly the output universes (MIDIMonster sends struct bytes, D4).
    let lists = discovery_lists(&rig, &listener);
    assert!(!lists.is_empty(), "a discovery packet at start");
    assert!(lists.iter().all(|l| l == &[2, 3]), "{lists:?}");
}

#[test]
fn ipv6_multicast_in_and_out() {
    patchbay_net::netns::require_private_netns();
    let mut s = Sacn::new();
    let mut reg = ChannelRegistry::new();
    global(&mut s, "bind", "2001:db8:5ac::1 15621 local").unwrap();
    s.create_instance(InstanceId(0), "in").unwrap();
    inst_opt(&mut s, 0, "universe", "123").unwrap();
    s.create_instance(InstanceId(1), "out").unwrap();
    inst_opt(&mut s, 1, "universe", "124").unwrap();
    inst_opt(&mut s, 1, "priority", "100").unwrap();
    let in1 = chan(&mut s, &mut reg, 0, "1+2", Direction::Input)
        .0
        .unwrap();
    let out1 = chan(&mut s, &mut reg, 1, "1+2", Direction::Output)
        .0
        .unwrap();
    let mut rig = Rig::new(s, reg);
    let (iface_addr, ifindex) = {
        let i = rig.sacn.rt.as_ref().unwrap().binds[0]
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
    while rig.events.is_empty() && Instant::now() < end {
        tx.send_to(&pkt, "[ff18::8300:7b]:15621").unwrap();
        for _ in 0..5 {
            rig.turn(Duration::from_millis(10));
        }
    }
    assert_eq!(rig.events.len(), 1);
    assert_eq!(rig.events[0].channel, in1);
    assert_eq!(rig.events[0].value.raw(), Some((0xABCD, 16)));

    rig.deliver(1, &[(out1, 0, rig.events[0].value)]);
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
    let mut s = Sacn::new();
    let mut reg = ChannelRegistry::new();
    global(&mut s, "bind", "127.0.0.1 15641").unwrap();
    s.create_instance(InstanceId(0), "in").unwrap();
    inst_opt(&mut s, 0, "universe", "1").unwrap();
    inst_opt(&mut s, 0, "unicast", "1").unwrap();
    chan(&mut s, &mut reg, 0, "1", Direction::Input).0.unwrap();
    let mut rig = Rig::new(s, reg);
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    // The kernel's default receive buffer holds only ~256 small datagrams, so use a small budget.
    rig.sacn.rt.as_mut().unwrap().recv_budget = 16;
    let n = 50;
    for i in 0..n {
        tx.send_to(&[i as u8; 3], "127.0.0.1:15641").unwrap();
    }
    rig.turn(Duration::from_millis(100));
    let after_one = rig.sacn.bind_counters(0).unwrap().datagrams;
    assert_eq!(after_one, 16);
    assert!(rig.sacn.poll_timeout().is_some_and(|t| t <= Instant::now()));
    for _ in 0..5 {
        rig.turn(Duration::from_millis(100));
    }
    let c = rig.sacn.bind_counters(0).unwrap();
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
    let mut s = Sacn::new();
    let mut reg = ChannelRegistry::new();
    global(&mut s, "bind", "127.0.0.1 15651").unwrap();
    s.create_instance(InstanceId(0), "out").unwrap();
    inst_opt(&mut s, 0, "universe", "5").unwrap();
    inst_opt(&mut s, 0, "priority", "120").unwrap();
    inst_opt(&mut s, 0, "destination", &dest).unwrap();
    let c1 = chan(&mut s, &mut reg, 0, "1", Direction::Output).0.unwrap();
    let c2 = chan(&mut s, &mut reg, 0, "7+3", Direction::Output)
        .0
        .unwrap();
    let mut rig = Rig::new(s, reg);
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
    let now = Instant::now();
    for (v, w) in [(1u64, 100u64), (2, 200), (3, 0xBEEF)] {
        rig.sacn.handle(
            now,
            InstanceId(0),
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
            &mut Sink::new(&mut Vec::new()),
        );
    }
    rig.sacn.flush(now, &mut rig.reactor.io(0));
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(read(&listener), vec![(120, 3, 0xBE, 0xEF)]);
    // A change 1 ms later is inside the 1/44 s gap: nothing now, one packet when it ends.
    let t1 = now + Duration::from_millis(1);
    rig.sacn.handle(
        t1,
        InstanceId(0),
        &[Delivery {
            channel: c1,
            key: 0,
            value: Value::from_raw(9, 8),
        }],
        &mut Sink::new(&mut Vec::new()),
    );
    rig.sacn.flush(t1, &mut rig.reactor.io(0));
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(read(&listener), vec![]);
    let due = rig.sacn.poll_timeout().unwrap();
    assert!(
        due > t1 && due <= now + Duration::from_millis(24),
        "{:?}",
        due - now
    );
    let mut buf = Vec::new();
    // As the core turns on the timer: process (which sends nothing), then flush.
    rig.sacn
        .process(due, &[], &mut rig.reactor.io(0), &mut Sink::new(&mut buf))
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(read(&listener), vec![]);
    rig.sacn.flush(due, &mut rig.reactor.io(0));
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(read(&listener), vec![(120, 9, 0xBE, 0xEF)]);
}

/// 1,000 input universes on one bind: one receive socket per group, all registered, and every
/// universe delivers exactly once.
#[test]
fn thousand_input_universes_on_one_bind() {
    patchbay_net::netns::require_private_netns();
    const N: u16 = 1000;
    let mut s = Sacn::new();
    let mut reg = ChannelRegistry::new();
    global(&mut s, "bind", "0.0.0.0 15661").unwrap();
    let mut ids = Vec::new();
    for u in 1..=N {
        let i = u32::from(u) - 1;
        s.create_instance(InstanceId(i), &format!("u{u}")).unwrap();
        inst_opt(&mut s, i, "universe", &u.to_string()).unwrap();
        ids.push(chan(&mut s, &mut reg, i, "1", Direction::Input).0.unwrap());
    }
    let mut rig = Rig::new(s, reg);
    {
        let ep = &rig.sacn.rt.as_ref().unwrap().binds[0].ep;
        assert_eq!(ep.memberships().group_count(), usize::from(N));
        assert_eq!(ep.socket_ids().count(), usize::from(N) + 1);
        assert_eq!(
            rig.reactor.registered(),
            usize::from(N) + 1,
            "every socket registered"
        );
    }
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
        for e in rig.events.drain(..) {
            assert!(seen.insert(e.channel), "one event per universe");
            let u = ids.iter().position(|&c| c == e.channel).unwrap() + 1;
            assert_eq!(e.value.raw(), Some((u64::from((u % 250) as u8 + 1), 8)));
        }
    }
    assert_eq!(seen.len(), usize::from(N));
    for i in 0..u32::from(N) {
        let ic = rig.sacn.instance_counters(InstanceId(i)).unwrap();
        assert_eq!(ic.sources_added, 1, "no receiver event lost for u{}", i + 1);
        assert_eq!(ic.events_in, 1);
    }
    let c = rig.sacn.bind_counters(0).unwrap();
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
    let mut s = Sacn::new();
    let mut reg = ChannelRegistry::new();
    global(&mut s, "bind", "0.0.0.0 15671").unwrap();
    s.create_instance(InstanceId(0), "out").unwrap();
    inst_opt(&mut s, 0, "universe", "5").unwrap();
    inst_opt(&mut s, 0, "priority", "100").unwrap();
    inst_opt(&mut s, 0, "sync", "7").unwrap();
    inst_opt(&mut s, 0, "destination", &dest).unwrap();
    s.create_instance(InstanceId(1), "in").unwrap();
    inst_opt(&mut s, 1, "universe", "1").unwrap();
    let out1 = chan(&mut s, &mut reg, 0, "1", Direction::Output).0.unwrap();
    chan(&mut s, &mut reg, 1, "1", Direction::Input).0.unwrap();
    let mut rig = Rig::new(s, reg);
    rig.deliver(0, &[(out1, 0, Value::from_raw(1, 8))]);
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
    let joined = |rig: &Rig| {
        rig.sacn.rt.as_ref().unwrap().binds[0]
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
    use patchbay_core::Core;
    let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let dest = listener.local_addr().unwrap().to_string().replace(':', " ");
    let mut core = Core::new(vec![Box::new(Sacn::new())]).unwrap();
    {
        let mut w = Vec::new();
        core.backend_mut(0)
            .unwrap()
            .configure("bind", "127.0.0.1 15681", &mut ctx(&mut w))
            .unwrap();
    }
    let opt = |core: &mut Core, id, k: &str, v: &str| {
        let mut w = Vec::new();
        core.configure_instance(id, k, v, &mut ctx(&mut w)).unwrap();
    };
    let in8 = core.add_instance(0, "in8").unwrap();
    opt(&mut core, in8, "universe", "1");
    let out8 = core.add_instance(0, "out8").unwrap();
    opt(&mut core, out8, "universe", "2");
    let in16 = core.add_instance(0, "in16").unwrap();
    opt(&mut core, in16, "universe", "3");
    let out16 = core.add_instance(0, "out16").unwrap();
    opt(&mut core, out16, "universe", "4");
    for o in [out8, out16] {
        opt(&mut core, o, "priority", "100");
        opt(&mut core, o, "realtime", "1");
        opt(&mut core, o, "destination", &dest);
    }
    for i in 1..=256 {
        let s = core
            .channel(in8, &i.to_string(), Direction::Input, &mut Vec::new())
            .unwrap();
        let t = core
            .channel(out8, &i.to_string(), Direction::Output, &mut Vec::new())
            .unwrap();
        core.add_mapping(s, t);
        let wide = format!("{}+{}", 2 * i - 1, 2 * i);
        let s = core
            .channel(in16, &wide, Direction::Input, &mut Vec::new())
            .unwrap();
        let t = core
            .channel(out16, &wide, Direction::Output, &mut Vec::new())
            .unwrap();
        core.add_mapping(s, t);
    }
    core.start().unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let desk = Cid([4; 16]);
    let mut latest: [Option<Vec<u8>>; 2] = [None, None];
    let pump = |core: &mut Core, latest: &mut [Option<Vec<u8>>; 2]| {
        core.turn(Some(Duration::from_millis(2))).unwrap();
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
            pump(&mut core, &mut latest);
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
            pump(&mut core, &mut latest);
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
    let mut s = Sacn::new();
    let mut reg = ChannelRegistry::new();
    global(&mut s, "bind", "127.0.0.1 15701").unwrap();
    s.create_instance(InstanceId(0), "lost").unwrap();
    inst_opt(&mut s, 0, "universe", "1").unwrap();
    inst_opt(&mut s, 0, "priority", "100").unwrap();
    // TEST-NET-2: no route inside the test namespace.
    inst_opt(&mut s, 0, "destination", "198.51.100.7").unwrap();
    s.create_instance(InstanceId(1), "fine").unwrap();
    inst_opt(&mut s, 1, "universe", "2").unwrap();
    inst_opt(&mut s, 1, "priority", "100").unwrap();
    inst_opt(&mut s, 1, "destination", &dest).unwrap();
    let a = chan(&mut s, &mut reg, 0, "1", Direction::Output).0.unwrap();
    let b = chan(&mut s, &mut reg, 1, "1", Direction::Output).0.unwrap();
    let mut rig = Rig::new(s, reg);
    rig.deliver(0, &[(a, 0, Value::from_raw(1, 8))]);
    rig.deliver(1, &[(b, 0, Value::from_raw(2, 8))]);
    let got = collect_packets(&mut rig, &listener, Duration::from_secs(1), |g| {
        !g.is_empty()
    });
    assert_eq!(got[0].0, 2);
    assert_eq!(got[0].3[0], 2);
    let lost = rig.sacn.instance_counters(InstanceId(0)).unwrap();
    assert!(lost.send_errors >= 1, "{lost:?}");
    assert_eq!(lost.frames_out, 0);
    assert!(
        rig.sacn
            .instance_counters(InstanceId(1))
            .unwrap()
            .frames_out
            >= 1
    );
}

/// sACN in (universe 1, unicast on `port`) → core routing → sACN out (universe 2, realtime, to
/// `listener`), on a hand-driven clock whose sampling and 0xDD waits are over and whose desk is
/// known (its warm-up frame, slot 1 = 200, has been forwarded and read).
struct Forward {
    core: patchbay_core::Core,
    clock: patchbay_core::ManualClock,
    listener: UdpSocket,
    tx: UdpSocket,
    to: String,
    seq: u8,
}

impl Forward {
    const DESK: Cid = Cid([6; 16]);
    const WARM_UP: u8 = 200;

    fn new(port: u16) -> Forward {
        use patchbay_core::{Core, ManualClock};
        let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let dest = listener.local_addr().unwrap().to_string().replace(':', " ");
        let clock = ManualClock::new(Instant::now());
        let mut core = Core::new(vec![Box::new(Sacn::new())])
            .unwrap()
            .with_clock(clock.clone());
        let mut w = Vec::new();
        core.backend_mut(0)
            .unwrap()
            .configure("bind", &format!("127.0.0.1 {port}"), &mut ctx(&mut w))
            .unwrap();
        let opt = |core: &mut Core, id, k: &str, v: &str| {
            let mut w = Vec::new();
            core.configure_instance(id, k, v, &mut ctx(&mut w)).unwrap();
        };
        let input = core.add_instance(0, "in").unwrap();
        opt(&mut core, input, "universe", "1");
        opt(&mut core, input, "unicast", "1");
        let output = core.add_instance(0, "out").unwrap();
        for (k, v) in [
            ("universe", "2"),
            ("priority", "100"),
            ("realtime", "1"),
            ("destination", &dest),
        ] {
            opt(&mut core, output, k, v);
        }
        let s = core
            .channel(input, "1", Direction::Input, &mut Vec::new())
            .unwrap();
        let t = core
            .channel(output, "1", Direction::Output, &mut Vec::new())
            .unwrap();
        core.add_mapping(s, t);
        core.start().unwrap();
        let mut f = Forward {
            core,
            clock,
            listener,
            tx: UdpSocket::bind("127.0.0.1:0").unwrap(),
            to: format!("127.0.0.1:{port}"),
            seq: 0,
        };
        // Past the sampling period; the new desk's levels then wait 1.5 s for 0xDD.
        f.clock.advance(Duration::from_secs(2));
        f.queue(&[Forward::WARM_UP]);
        f.turns(1, Duration::ZERO);
        f.clock.advance(Duration::from_secs(2));
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
            self.clock.advance(step);
            self.core.turn(Some(Duration::ZERO)).unwrap();
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
        self.core
            .stats()
            .iter()
            .find(|g| g.scope == "bind 0")
            .and_then(|g| g.counters.iter().find(|(n, _)| n == name))
            .map(|(_, v)| *v)
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

/// `bind = HOST PORT ttl=N` reaches the socket: multicast TTL of the bind's family, and for a
/// dual-stack `::` bind the IPv4 TTL too (the kernel applies it: crates/net/tests/ttl.rs).
#[test]
fn bind_ttl_sets_the_multicast_ttl_of_the_socket() {
    patchbay_net::netns::require_private_netns();
    for (bind, v4, v6) in [
        ("127.0.0.1 15731", Some(1), None),
        ("127.0.0.1 15732 ttl=16", Some(16), None),
        ("::1 15733 ttl=32", None, Some(32)),
        (":: 15734 ttl=64", Some(64), Some(64)),
    ] {
        let mut s = Sacn::new();
        global(&mut s, "bind", bind).unwrap();
        let mut rig = Rig::new(s, ChannelRegistry::new());
        let ep = &mut rig.sacn.rt.as_mut().unwrap().binds[0].ep;
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
