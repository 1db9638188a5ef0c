//! Backend-level tests: options and channels through the real core, and (inside a private
//! network namespace only) the backend's own sockets on `lo` against plain UDP peers.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use patchbay_artnet::{DmxHeader, Packet, PortAddress, write_dmx};
use patchbay_core::testing::Rig;
use patchbay_core::{Direction, InstanceId, Value};

use super::*;

fn rig() -> Rig<Artnet> {
    Rig::real_time(Artnet::new())
}

fn opts(rig: &Rig<Artnet>, id: InstanceId) -> InstanceOptions {
    rig.backend().instance_options(id).unwrap().clone()
}

#[test]
fn options_and_aliases_as_midimonster_reads_them() {
    let mut rig = rig();
    rig.configure("bind", "127.0.0.1 0").unwrap();
    rig.configure("bind", "0.0.0.0 6454 announce=10.0.0.1")
        .unwrap();
    let a = rig.add_instance("a").unwrap();
    rig.configure("net", "0x10").unwrap();
    let b = rig.add_instance("b").unwrap();
    // Instances take the global net in force when their section began.
    assert_eq!(opts(&rig, a).net, 0);
    assert_eq!(opts(&rig, b).net, 16);
    rig.configure_instance(a, "uni", "0x21").unwrap();
    rig.configure_instance(a, "net", "3").unwrap();
    rig.configure_instance(a, "iface", "1").unwrap();
    rig.configure_instance(a, "dest", "255.255.255.255")
        .unwrap();
    rig.configure_instance(a, "realtime", "1").unwrap();
    let o = opts(&rig, a);
    assert_eq!(o.address(), PortAddress::from_parts(3, 2, 1).unwrap());
    assert_eq!(o.interface, 1);
    assert_eq!(o.destination, Some("255.255.255.255:6454".parse().unwrap()));
    assert!(o.realtime);
    rig.configure_instance(b, "universe", "255").unwrap();
    rig.configure_instance(b, "interface", "0").unwrap();
    rig.configure_instance(b, "destination", "10.0.0.9 7000")
        .unwrap();
    let o = opts(&rig, b);
    assert_eq!(o.address().get(), 16 * 256 + 255);
    assert_eq!(o.destination, Some("10.0.0.9:7000".parse().unwrap()));
    for (key, value, wanted) in [
        ("universe", "256", "0..255"),
        ("net", "128", "0..127"),
        ("iface", "2", "0..1"),
        ("realtime", "yes", "write 1 for on"),
        ("dest", "0.0.0.0", "wildcard"),
        ("priority", "1", "known options: net, universe, uni"),
    ] {
        let e = rig
            .configure_instance(b, key, value)
            .unwrap_err()
            .to_string();
        assert!(e.contains(wanted), "{key} = {value}: {e}");
    }
    let e = rig.configure("port", "1").unwrap_err().to_string();
    assert_eq!(
        e,
        "unknown option 'port' (known options: bind, net, detect)"
    );
    assert!(
        rig.configure("detect", "loud").unwrap()[0]
            .1
            .contains("detection stays off")
    );
}

#[test]
fn channels_as_sacn_and_output_without_destination_warns() {
    let mut rig = rig();
    rig.configure("bind", "127.0.0.1 0").unwrap();
    let a = rig.add_instance("a").unwrap();
    assert!(rig.channel(a, "1", Direction::Input).is_ok());
    assert!(rig.channel(a, "10+11", Direction::Input).is_ok());
    assert!(rig.channel(a, "11", Direction::Input).is_err());
    assert!(rig.channel(a, "513", Direction::Input).is_err());
    assert!(rig.channel(a, "0", Direction::Input).is_err());
    let (_, w) = rig.channel(a, "5", Direction::Output).unwrap();
    assert!(w[0].contains("no destination"), "{w:?}");
}

#[test]
fn collisions_and_missing_binds_are_reported_per_instance() {
    let mut rig = rig();
    let a = rig.add_instance("a").unwrap();
    let e = rig.backend().validate();
    assert!(e[0].to_string().contains("no bind line"), "{e:?}");
    rig.configure("bind", "127.0.0.1 0").unwrap();
    let b = rig.add_instance("b").unwrap();
    rig.configure_instance(a, "uni", "1").unwrap();
    rig.configure_instance(b, "uni", "1").unwrap();
    let e = rig.backend().validate();
    assert_eq!(e.len(), 1);
    assert!(
        e[0].to_string()
            .contains("colliding instances: 'b' and 'a'"),
        "{e:?}"
    );
    rig.configure_instance(b, "net", "1").unwrap();
    assert!(rig.backend().validate().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Sockets: only inside a private network namespace (scripts/test, scripts/netns-run --veth).

fn dmx(address: PortAddress, seq: u8, slots: &[u8]) -> Vec<u8> {
    let mut b = [0u8; 530];
    let h = DmxHeader {
        sequence: seq,
        physical: 0,
        address,
    };
    let n = write_dmx(&mut b, &h, slots).unwrap();
    b[..n].to_vec()
}

fn turn_until(rig: &mut Rig<Artnet>, mut done: impl FnMut(&mut Rig<Artnet>) -> bool) {
    let end = Instant::now() + Duration::from_secs(4);
    while !done(rig) && Instant::now() < end {
        rig.turn(Duration::from_millis(5)).unwrap();
    }
}

#[test]
fn artdmx_in_events_out_frames_and_merge_of_two_sources() {
    patchbay_net::netns::require_private_netns();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let peer2 = UdpSocket::bind("127.0.0.2:0").unwrap();
    let mut rig = rig();
    rig.configure("bind", "127.0.0.1 0").unwrap();
    let i = rig.add_instance("in").unwrap();
    rig.configure_instance(i, "uni", "1").unwrap();
    let o = rig.add_instance("out").unwrap();
    rig.configure_instance(o, "uni", "2").unwrap();
    let dest = peer.local_addr().unwrap();
    rig.configure_instance(o, "dest", &format!("127.0.0.1 {}", dest.port()))
        .unwrap();
    let in1 = rig.input(i, "1").unwrap();
    let in_wide = rig.input(i, "3+4").unwrap();
    let out1 = rig.output(o, "1").unwrap();
    let out_wide = rig.output(o, "511+512").unwrap();
    rig.start().unwrap();
    let to = rig.backend().bind_addr(0).unwrap();
    let u1 = PortAddress::new(1).unwrap();
    // The output universe goes out at start, zeros, as MIDIMonster's does.
    turn_until(&mut rig, |r| r.stat("out", "frames_out") == Some(1));
    let mut buf = [0u8; 1024];
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    let Ok(Packet::Dmx(p)) = Packet::parse(&buf[..n]) else {
        panic!("not ArtDmx: {:?}", &buf[..n]);
    };
    assert_eq!((p.sequence(), p.length()), (1, 512));
    assert!(p.slots().iter().all(|&v| v == 0));

    peer.send_to(&dmx(u1, 1, &[200, 0, 0x12, 0x34]), to)
        .unwrap();
    turn_until(&mut rig, |r| r.events().len() >= 2);
    let ev = rig.take_events();
    assert_eq!(ev[0].channel, in1);
    assert_eq!(ev[0].value.raw(), Some((200, 8)));
    assert_eq!(ev[1].channel, in_wide);
    assert_eq!(ev[1].value.raw(), Some((0x1234, 16)));

    // A second source merges HTP: slot 1 goes to the higher level.
    peer2
        .send_to(&dmx(u1, 1, &[250, 0, 0x12, 0x34]), to)
        .unwrap();
    turn_until(&mut rig, |r| !r.events().is_empty());
    let ev = rig.take_events();
    assert_eq!((ev.len(), ev[0].value.raw()), (1, Some((250, 8))));
    assert_eq!(rig.stat("in", "sources"), Some(2));
    peer2
        .send_to(&dmx(u1, 2, &[10, 0, 0x12, 0x34]), to)
        .unwrap();
    peer.send_to(&dmx(u1, 2, &[20, 0, 0x12, 0x34]), to).unwrap();
    // Each frame is merged on its own: 10 against the first source's 200, then 20 against 10.
    turn_until(&mut rig, |r| {
        r.events().last().and_then(|e| e.value.raw()) == Some((20, 8))
    });
    let ev: Vec<_> = rig.take_events().iter().map(|e| e.value.raw()).collect();
    assert_eq!(ev.last(), Some(&Some((20, 8))), "{ev:?}");

    // Malformed datagrams are counted by reason and dropped.
    peer.send_to(b"Art-Net", to).unwrap();
    peer.send_to(b"Not-Art\0\0\x50", to).unwrap();
    turn_until(&mut rig, |r| r.stat("bind 0", "malformed") == Some(2));
    assert_eq!(rig.stat("bind 0", "malformed.truncated_header"), Some(1));
    assert_eq!(rig.stat("bind 0", "malformed.bad_id"), Some(1));

    // Output: values in, an even-length ArtDmx with a sequence number out.
    rig.set(out1, Value::from_raw(255, 8));
    rig.set(out_wide, Value::from_raw(0xABCD, 16));
    turn_until(&mut rig, |r| r.stat("out", "frames_out") == Some(2));
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    let Ok(Packet::Dmx(p)) = Packet::parse(&buf[..n]) else {
        panic!("not ArtDmx: {:?}", &buf[..n]);
    };
    assert_eq!(p.port_address(), PortAddress::new(2).unwrap());
    assert_eq!((p.length(), p.sequence()), (512, 2));
    assert_eq!(
        (p.slots()[0], p.slots()[510], p.slots()[511]),
        (255, 0xAB, 0xCD)
    );
    // A second change right after waits for its slot (20 ms); only the newest values go.
    rig.set(out1, Value::from_raw(1, 8));
    rig.turn(Duration::ZERO).unwrap();
    rig.set(out1, Value::from_raw(2, 8));
    rig.turn(Duration::ZERO).unwrap();
    assert!(peer.recv_from(&mut buf).is_err(), "rate limited");
    let t = Instant::now();
    turn_until(&mut rig, |r| r.stat("out", "frames_out") == Some(3));
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    let Ok(Packet::Dmx(p)) = Packet::parse(&buf[..n]) else {
        panic!("not ArtDmx");
    };
    assert_eq!((p.sequence(), p.slots()[0]), (3, 2));
    assert!(t.elapsed() < Duration::from_millis(40));
    rig.shutdown();
    let _ = rig.turn(Duration::ZERO);
}

#[test]
fn artpoll_is_answered_with_one_reply_per_instance() {
    patchbay_net::netns::require_private_netns();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut rig = rig();
    rig.configure("bind", "127.0.0.1 0 announce=127.0.0.1")
        .unwrap();
    let a = rig.add_instance("desk").unwrap();
    rig.configure_instance(a, "net", "1").unwrap();
    rig.configure_instance(a, "uni", "0x23").unwrap();
    rig.configure_instance(a, "dest", "127.0.0.1 9").unwrap();
    let b = rig.add_instance("stage").unwrap();
    rig.configure_instance(b, "uni", "5").unwrap();
    rig.input(b, "1").unwrap();
    rig.start().unwrap();
    let to = rig.backend().bind_addr(0).unwrap();
    let mut poll = [0u8; 22];
    let n = patchbay_artnet::write_poll(&mut poll, &patchbay_artnet::Poll::default()).unwrap();
    peer.send_to(&poll[..n], to).unwrap();
    turn_until(&mut rig, |r| {
        r.stat("bind 0", "poll_replies_sent") == Some(2)
    });
    let mut replies = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok((n, _)) = peer.recv_from(&mut buf) {
        if let Ok(Packet::PollReply(r)) = Packet::parse(&buf[..n]) {
            let port = r.ports().next().unwrap();
            replies.push((
                r.short_name().to_string(),
                r.long_name().to_string(),
                r.bind_index(),
                r.ip(),
                port.is_input(),
                port.is_output(),
                r.net_switch(),
                r.sub_switch(),
            ));
        }
        if replies.len() == 2 {
            break;
        }
    }
    replies.sort_by_key(|r| r.2);
    assert_eq!(
        replies,
        vec![
            (
                "stage".into(),
                "patchbay - stage".into(),
                1,
                "127.0.0.1".parse().unwrap(),
                false,
                true,
                0,
                0
            ),
            (
                "desk".into(),
                "patchbay - desk".into(),
                2,
                "127.0.0.1".parse().unwrap(),
                true,
                true,
                1,
                2
            ),
        ]
    );
    assert_eq!(rig.stat("bind 0", "poll"), Some(1));
}

#[test]
fn artsync_holds_input_until_the_next_and_follows_output_with_sync_on() {
    patchbay_net::netns::require_private_netns();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut rig = rig();
    rig.configure("bind", "127.0.0.1 0").unwrap();
    let i = rig.add_instance("in").unwrap();
    rig.configure_instance(i, "uni", "3").unwrap();
    let o = rig.add_instance("out").unwrap();
    rig.configure_instance(o, "uni", "4").unwrap();
    rig.configure_instance(o, "sync", "1").unwrap();
    let dest = peer.local_addr().unwrap();
    rig.configure_instance(o, "dest", &format!("127.0.0.1 {}", dest.port()))
        .unwrap();
    rig.input(i, "1").unwrap();
    rig.start().unwrap();
    let to = rig.backend().bind_addr(0).unwrap();
    // Output: the start frame, then ArtSync after it.
    let mut buf = [0u8; 1024];
    let mut ops = Vec::new();
    turn_until(&mut rig, |r| r.stat("bind 0", "syncs_sent") == Some(1));
    while let Ok((n, _)) = peer.recv_from(&mut buf) {
        ops.push(Packet::parse(&buf[..n]).map(|p| p.opcode()).unwrap());
        if ops.len() == 2 {
            break;
        }
    }
    assert_eq!(
        ops,
        [patchbay_artnet::OpCode::DMX, patchbay_artnet::OpCode::SYNC]
    );
    // Input: after an ArtSync from the peer, its ArtDmx waits for the next one.
    let mut sync = [0u8; 14];
    let n = patchbay_artnet::write_sync(&mut sync).unwrap();
    peer.send_to(&sync[..n], to).unwrap();
    peer.send_to(&dmx(PortAddress::new(3).unwrap(), 1, &[77, 0]), to)
        .unwrap();
    let end = Instant::now() + Duration::from_millis(200);
    while Instant::now() < end {
        rig.turn(Duration::from_millis(5)).unwrap();
    }
    assert!(rig.events().is_empty(), "held until ArtSync");
    assert_eq!(rig.stat("bind 0", "dmx"), Some(1));
    peer.send_to(&sync[..n], to).unwrap();
    turn_until(&mut rig, |r| !r.events().is_empty());
    assert_eq!(rig.events()[0].value.raw(), Some((77, 8)));
}

#[test]
fn frames_of_one_universe_read_together_are_reported_one_per_turn() {
    patchbay_net::netns::require_private_netns();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rig = rig();
    rig.configure("bind", "127.0.0.1 0").unwrap();
    let i = rig.add_instance("in").unwrap();
    rig.configure_instance(i, "uni", "1").unwrap();
    rig.input(i, "1").unwrap();
    rig.start().unwrap();
    let to = rig.backend().bind_addr(0).unwrap();
    let u = PortAddress::new(1).unwrap();
    // Three frames queued before the loop reads: one batch, three turns, no frame merged away.
    // Queued briefly: input that waited 8 ms counts as behind, and then frames merge on purpose,
    // so an attempt the machine stalled in is repeated.
    let mut seq = 0u8;
    let mut last = Vec::new();
    for attempt in 0..5u8 {
        rig.take_events();
        let levels = [10 + attempt, 20 + attempt, 30 + attempt];
        for level in levels {
            seq += 1;
            peer.send_to(&dmx(u, seq, &[level, 0]), to).unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
        turn_until(&mut rig, |r| {
            r.events().last().and_then(|e| e.value.raw()) == Some((u64::from(levels[2]), 8))
        });
        last = rig.events().iter().map(|e| e.value.raw()).collect();
        if last == levels.map(|l| Some((u64::from(l), 8))) {
            assert!(rig.stat("bind 0", "turns_split") >= Some(2));
            return;
        }
    }
    panic!("frames were merged in every attempt: {last:?}");
}
