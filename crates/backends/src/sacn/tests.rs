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
    inst_opt(&mut s, 1, "interface", "1").unwrap();
    inst_opt(&mut s, 1, "universe", "5").unwrap();
    // Moving b onto a's bind collides; the failed line changes nothing.
    assert_eq!(
        inst_opt(&mut s, 1, "interface", "0")
            .unwrap_err()
            .to_string(),
        "colliding instances: 'b' and 'a' both use universe 5 on bind 0"
    );
    assert_eq!(s.instance_options(InstanceId(1)).unwrap().interface, 1);
    s.create_instance(InstanceId(2), "c").unwrap();
    assert_eq!(
        inst_opt(&mut s, 2, "universe", "5")
            .unwrap_err()
            .to_string(),
        "colliding instances: 'c' and 'a' both use universe 5 on bind 0"
    );
    assert_eq!(s.instance_options(InstanceId(2)).unwrap().universe, None);
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
            "sacn instance 'out' has no priority, so nothing is ever sent for channel 10+11 (set \
             priority = 1..200 to enable output)"
                .to_string()
        ]
    );
    assert_eq!(
        chan(&mut s, &mut reg, 0, "11", Direction::Input).0,
        Err("sacn instance 'out': channel '11': slot 11 is already the fine slot of wide channel 10+11".into())
    );
    assert_eq!(
        chan(&mut s, &mut reg, 0, "5abc", Direction::Input).0,
        Err("sacn instance 'out': channel '5abc': expected N or N+M with slot numbers 1..512 (e.g. 5 or 10+11)".into())
    );
    assert_eq!(
        chan(&mut s, &mut reg, 0, "3+3", Direction::Input).0,
        Err("sacn instance 'out': channel '3+3': a wide channel needs two different slots (3+3 uses slot 3 twice)".into())
    );
    assert_eq!(
        chan(&mut s, &mut reg, 0, "0", Direction::Output).0,
        Err("sacn instance 'out': channel '0': expected N or N+M with slot numbers 1..512 (e.g. 5 or 10+11)".into())
    );
}

#[test]
fn start_requires_a_universe_and_a_bind() {
    let mut s = Sacn::new();
    s.create_instance(InstanceId(4), "nouni").unwrap();
    let mut reactor = Reactor::new(1).unwrap();
    let e = s.start(Instant::now(), &mut reactor.io(0)).unwrap_err();
    assert_eq!(e.instance, Some(InstanceId(4)));
    assert_eq!(
        e.message,
        "sacn instance 'nouni': please specify a universe (universe = 1..63999)"
    );
    inst_opt(&mut s, 4, "universe", "1").unwrap();
    let e = s.start(Instant::now(), &mut reactor.io(0)).unwrap_err();
    assert_eq!(
        e.message,
        "sacn instance 'nouni': the sacn backend has no bind line (add e.g. bind = 0.0.0.0 to [backend sacn])"
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
            if let Ok(Packet::Data(p)) = Packet::parse(&buf[..n])
                && p.cid() == rig.sacn.cid().unwrap()
            {
                got.push((
                    p.universe(),
                    p.sequence(),
                    p.options_raw(),
                    p.slots().to_vec(),
                ));
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
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
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
    let pool = rig.sacn.rt.as_ref().unwrap().binds[0]
        .ep
        .pool()
        .map(|p| p.group_count());
    assert_eq!(pool.unwrap_or(0), 1);

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
    let got = collect_packets(&mut rig, &listener, Duration::from_secs(2), |g| {
        !g.is_empty()
    });
    let (u, seq, opts, data) = &got[0];
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
    let got = collect_packets(&mut rig, &listener, Duration::from_millis(300), |_| false);
    assert_eq!(
        got.len(),
        3,
        "three repeats, then keep-alive only after ~900 ms"
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
