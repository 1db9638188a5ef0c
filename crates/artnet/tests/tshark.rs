//! An independent parser checks every packet this crate builds: Wireshark's Art-Net dissector.
//!
//! The packets are written as UDP/IPv4 frames into a pcap file (no socket is opened) and read
//! back with `tshark -r FILE -T json`; every field tshark decodes is compared with what was
//! built. tshark is part of the test setup (`.ci/run` installs it): without it this test fails
//! and says so.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use patchbay_artnet::wire::{poll_flags, status};
use patchbay_artnet::{
    DmxHeader, NodeReport, Poll, PollReply, Port, PortAddress, reply_groups, write_dmx, write_poll,
    write_poll_reply, write_sync,
};
use serde_json::Value;

const SRC: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

/// One's-complement sum of the IPv4 header.
fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = h
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An Ethernet frame carrying `payload` in UDP 6454 → 6454 from `SRC` to the broadcast address.
fn frame(payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let mut f = Vec::new();
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&u16::try_from(20 + udp_len).expect("fits").to_be_bytes());
    ip.extend_from_slice(&[0, 1, 0, 0, 64, 17, 0, 0]);
    ip.extend_from_slice(&SRC.octets());
    ip.extend_from_slice(&[10, 0, 0, 255]);
    let sum = ipv4_checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    for v in [6454u16, 6454, u16::try_from(udp_len).expect("fits"), 0] {
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

/// A classic pcap file (link type Ethernet) of `packets`, one frame each.
fn write_pcap(path: &Path, packets: &[Vec<u8>]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        let f = frame(p);
        let len = u32::try_from(f.len()).expect("fits");
        for v in [u32::try_from(i).expect("fits"), 0, len, len] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&f);
    }
    std::fs::write(path, out).expect("write pcap");
}

/// tshark's decoding of every frame: the `layers` object of each.
fn tshark(packets: &[Vec<u8>]) -> Vec<Value> {
    let dir = tempfile::tempdir().expect("temp dir");
    let pcap = dir.path().join("artnet.pcap");
    write_pcap(&pcap, packets);
    let out = Command::new("tshark")
        .args(["-n", "-T", "json", "-r"])
        .arg(&pcap)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "tshark is needed to check the Art-Net packets with Wireshark's dissector ({e}); \
                 run .ci/run, or install it: apt-get install tshark"
            )
        });
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let frames: Vec<Value> = serde_json::from_slice(&out.stdout).expect("tshark JSON");
    assert_eq!(frames.len(), packets.len(), "one decoded frame per packet");
    frames
        .into_iter()
        .map(|f| f["_source"]["layers"].clone())
        .collect()
}

/// The string value of `key` anywhere below `v` (tshark nests fields in `*_tree` objects).
fn find<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    match v {
        Value::Object(m) => m.get(key).or_else(|| m.values().find_map(|x| find(x, key))),
        Value::Array(a) => a.iter().find_map(|x| find(x, key)),
        _ => None,
    }
}

fn field(v: &Value, key: &str) -> String {
    match find(v, key) {
        Some(Value::String(s)) => s.clone(),
        other => panic!("tshark gave no {key} ({other:?}) in {v:#}"),
    }
}

fn num(v: &Value, key: &str) -> u64 {
    let s = field(v, key);
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    }
    .unwrap_or_else(|e| panic!("{key} = {s:?}: {e}"))
}

fn bytes(v: &Value, key: &str) -> Vec<u8> {
    let s = field(v, key);
    s.split(':')
        .map(|h| u8::from_str_radix(h, 16).expect("hex byte"))
        .collect()
}

/// Wireshark found nothing wrong: no malformed-packet marker, no expert warning or error.
fn assert_clean(layers: &Value) {
    let text = layers.to_string();
    assert!(!text.contains("_ws.malformed"), "malformed: {layers:#}");
    for bad in [
        "\"_ws.expert.severity\":\"8388608\"",
        "\"_ws.expert.severity\":\"6291456\"",
    ] {
        assert!(!text.contains(bad), "expert error/warning: {layers:#}");
    }
}

fn addr(net: u8, sub: u8, uni: u8) -> PortAddress {
    PortAddress::from_parts(net, sub, uni).expect("valid")
}

#[test]
fn artdmx_fields_match_wiresharks_reading() {
    let mut full = [0u8; 512];
    for (i, s) in full.iter_mut().enumerate() {
        *s = (i * 7 % 256) as u8;
    }
    let cases: Vec<(DmxHeader, Vec<u8>)> = vec![
        (
            DmxHeader {
                sequence: 1,
                physical: 0,
                address: addr(0, 0, 0),
            },
            full.to_vec(),
        ),
        (
            DmxHeader {
                sequence: 255,
                physical: 3,
                address: PortAddress::from_net_sub_uni(1, 0x23).expect("valid"),
            },
            vec![255, 128, 1],
        ),
        (
            DmxHeader {
                sequence: 0,
                physical: 0,
                address: PortAddress::MAX,
            },
            vec![42; 24],
        ),
    ];
    let packets: Vec<Vec<u8>> = cases
        .iter()
        .map(|(h, s)| {
            let mut buf = [0u8; 600];
            let n = write_dmx(&mut buf, h, s).expect("build");
            buf[..n].to_vec()
        })
        .collect();
    for ((h, slots), l) in cases.iter().zip(tshark(&packets)) {
        assert_clean(&l);
        assert_eq!(field(&l, "artnet.header.id"), "Art-Net");
        assert_eq!(num(&l, "artnet.header.opcode"), 0x5000);
        assert_eq!(num(&l, "artnet.header.protver"), 14);
        assert_eq!(num(&l, "artnet.output.sequence"), u64::from(h.sequence));
        assert_eq!(num(&l, "artnet.output.physical"), u64::from(h.physical));
        assert_eq!(
            num(&l, "artnet.output.universe"),
            u64::from(h.address.get())
        );
        let padded = slots.len() + slots.len() % 2;
        assert_eq!(num(&l, "artnet.output.length"), padded as u64);
        let data = bytes(&l, "dmx_chan.data_filter");
        assert_eq!(data.len(), padded);
        assert_eq!(&data[..slots.len()], &slots[..]);
        assert!(data[slots.len()..].iter().all(|&b| b == 0), "padding is 0");
    }
}

#[test]
fn artsync_and_artpoll_fields_match_wiresharks_reading() {
    let mut buf = [0u8; 64];
    let n = write_sync(&mut buf).expect("sync");
    let sync = buf[..n].to_vec();
    let plain = Poll {
        flags: poll_flags::REPLY_ON_CHANGE,
        diag_priority: 0,
        target: None,
    };
    let n = write_poll(&mut buf, &plain).expect("poll");
    let poll = buf[..n].to_vec();
    let targeted = Poll {
        flags: poll_flags::DIAGNOSTICS,
        diag_priority: 0x40,
        target: Some((addr(0, 0, 1), addr(2, 3, 4))),
    };
    let n = write_poll(&mut buf, &targeted).expect("poll");
    let poll_targeted = buf[..n].to_vec();

    let l = tshark(&[sync, poll, poll_targeted]);
    assert_clean(&l[0]);
    assert_eq!(num(&l[0], "artnet.header.opcode"), 0x5200);
    assert_eq!(num(&l[0], "artnet.header.protver"), 14);
    assert_eq!(bytes(&l[0], "artnet.data"), [0, 0], "Aux1, Aux2");

    for (l, p) in l[1..].iter().zip([plain, targeted]) {
        assert_clean(l);
        assert_eq!(num(l, "artnet.header.opcode"), 0x2000);
        assert_eq!(num(l, "artnet.header.protver"), 14);
        let targeted = p.target.is_some();
        let flags = p.flags | if targeted { poll_flags::TARGETED } else { 0 };
        assert_eq!(num(l, "artnet.poll.talktome"), u64::from(flags));
        assert_eq!(num(l, "artnet.poll.talktome_targeted"), u64::from(targeted));
        assert_eq!(
            num(l, "artnet.poll.talktome_reply_change"),
            u64::from(flags & poll_flags::REPLY_ON_CHANGE != 0)
        );
        assert_eq!(
            num(l, "artnet.poll.talktome_diag"),
            u64::from(flags & poll_flags::DIAGNOSTICS != 0)
        );
        assert_eq!(
            num(l, "artnet.poll.diag_priority"),
            u64::from(p.diag_priority)
        );
        let (bottom, top) = p.target.unwrap_or((PortAddress::ZERO, PortAddress::ZERO));
        assert_eq!(num(l, "artnet.poll.target_port_top"), u64::from(top.get()));
        assert_eq!(
            num(l, "artnet.poll.target_port_bottom"),
            u64::from(bottom.get())
        );
        // tshark 4.0 stops after the target range: ESTA and OEM filters, sent as 0.
        if let Some(rest) = find(l, "artnet.excess_bytes") {
            assert_eq!(rest, "00:00:00:00");
        }
    }
}

#[test]
fn artpollreply_fields_match_wiresharks_reading() {
    let mut ports = vec![
        Port::new(addr(1, 2, 3), true, false),
        Port::new(addr(1, 2, 4), true, true),
        Port::new(addr(1, 2, 5), false, true),
        Port::new(addr(1, 2, 6), true, false),
        Port::new(addr(7, 0, 15), true, true),
    ];
    ports[0].good_output_a = status::GOOD_OUTPUT_DATA;
    ports[1].good_output_a = status::GOOD_OUTPUT_DATA | status::GOOD_OUTPUT_MERGING;
    ports[2].good_input = status::GOOD_INPUT_DATA;
    let reply = |bind_index, counter| PollReply {
        ip: Ipv4Addr::new(10, 0, 0, 1),
        version_info: 0x0001,
        oem: 0x7ff0,
        status1: status::STATUS1_INDICATORS_NORMAL | status::STATUS1_ADDRESS_LOCAL,
        esta_manufacturer: 0x7ff0,
        short_name: "patchbay",
        long_name: "patchbay - Art-Net 4 node",
        report: NodeReport {
            code: status::REPORT_POWER_OK,
            counter,
            text: "patchbay running",
        },
        style: status::STYLE_NODE,
        mac: [2, 0, 0, 0, 0, 1],
        bind_ip: Ipv4Addr::new(10, 0, 0, 1),
        bind_index,
        status2: status::STATUS2_PORT_ADDRESS_15BIT,
    };
    let groups: Vec<(u8, &[Port])> = reply_groups(&ports, 4).collect();
    assert_eq!(groups.len(), 2, "four ports of 1:2, then 7:0:15");
    let packets: Vec<Vec<u8>> = groups
        .iter()
        .map(|(i, g)| {
            let mut buf = [0u8; 300];
            let n = write_poll_reply(&mut buf, &reply(*i, u32::from(*i) + 41), g).expect("build");
            buf[..n].to_vec()
        })
        .collect();
    for ((i, group), l) in groups.iter().zip(tshark(&packets)) {
        assert_clean(&l);
        let r = reply(*i, u32::from(*i) + 41);
        assert_eq!(num(&l, "artnet.header.opcode"), 0x2100);
        assert_eq!(field(&l, "artnet.poll_reply.ip_address"), "10.0.0.1");
        assert_eq!(num(&l, "artnet.poll_reply.port_nr"), 6454);
        assert_eq!(num(&l, "artnet.poll_reply.versinfo"), 1);
        assert_eq!(
            num(&l, "artnet.poll_reply.netswitch"),
            u64::from(group[0].address.net())
        );
        assert_eq!(
            num(&l, "artnet.poll_reply.subswitch"),
            u64::from(group[0].address.sub_net())
        );
        assert_eq!(num(&l, "artnet.poll_reply.oem"), 0x7ff0);
        assert_eq!(num(&l, "artnet.poll_reply.ubea_version"), 0);
        assert_eq!(num(&l, "artnet.poll_reply.status"), 0xd0);
        assert_eq!(num(&l, "artnet.poll_reply.indicator"), 3, "normal");
        assert_eq!(num(&l, "artnet.poll_reply.port_prog"), 1, "front panel");
        assert_eq!(num(&l, "artnet.poll_reply.esta_man"), 0x7ff0);
        assert_eq!(field(&l, "artnet.poll_reply.short_name"), r.short_name);
        assert_eq!(field(&l, "artnet.poll_reply.long_name"), r.long_name);
        assert_eq!(
            field(&l, "artnet.poll_reply.node_report"),
            format!("#0001 [{:04}] patchbay running", u32::from(*i) + 41)
        );
        assert_eq!(num(&l, "artnet.poll_reply.num_ports"), group.len() as u64);
        for k in 0..4 {
            let n = k + 1;
            let port = group.get(k);
            let ty = port.map_or(0, |p| {
                u64::from(p.output) * 0x80 + u64::from(p.input) * 0x40
            });
            assert_eq!(num(&l, &format!("artnet.poll_reply.port_types_{n}")), ty);
            let gi = port.map_or(0, |p| p.good_input);
            assert_eq!(
                num(&l, &format!("artnet.poll_reply.good_input_{n}")),
                u64::from(gi)
            );
            let go = port.map_or(0, |p| p.good_output_a);
            assert_eq!(
                num(&l, &format!("artnet.poll_reply.good_output_{n}")),
                u64::from(go)
            );
            let sw_in = port.filter(|p| p.input).map_or(0, |p| p.address.universe());
            assert_eq!(
                num(&l, &format!("artnet.poll_reply.swin_{n}")),
                u64::from(sw_in)
            );
            let sw_out = port
                .filter(|p| p.output)
                .map_or(0, |p| p.address.universe());
            assert_eq!(
                num(&l, &format!("artnet.poll_reply.swout_{n}")),
                u64::from(sw_out)
            );
            if let Some(p) = port {
                // Wireshark's own 15-bit universe from NetSwitch, SubSwitch and SwIn/SwOut.
                let key = if p.output { "swout" } else { "swin" };
                assert_eq!(
                    num(&l, &format!("artnet.poll_reply.{key}_{n}_universe")),
                    u64::from(p.address.get())
                );
            }
        }
        assert_eq!(num(&l, "artnet.poll_reply.style"), 0);
        assert_eq!(field(&l, "artnet.poll_reply.mac"), "02:00:00:00:00:01");
        assert_eq!(field(&l, "artnet.poll_reply.bind_ip_address"), "10.0.0.1");
        assert_eq!(num(&l, "artnet.poll_reply.bind_index"), u64::from(*i));
        assert_eq!(num(&l, "artnet.poll_reply.status2"), 0x08);
        assert_eq!(
            num(&l, "artnet.poll_reply.addrsupport"),
            1,
            "15-bit Port-Address"
        );
    }
}
