//! The shipped examples/sacn-*.cfg, run as they are (127.0.0.1, port 5568) with the python peer
//! as console and as receiver: they do what their comments say.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::util::*;

fn example(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn console_cid(n: u8) -> patchbay_sacn::Cid {
    let mut c = test_cid(n);
    c.0[0] = 0xec;
    c
}

#[test]
fn example_patch_shifts_slots_by_ten() {
    let _serial = serial();
    let mut peer = PyPeer::start();
    peer.receiver(SACN_PORT, &[2], true);
    let cap = Capture::v4(
        SACN_PORT,
        Ipv4Addr::LOCALHOST,
        &[group_v4(2), group_v4(64214)],
    );
    let pb = Patchbay::start(&example("sacn-patch.cfg"), SACN_PORT);
    peer.sender("desk", console_cid(1), "console");
    peer.output("desk", 1, 100, None);
    peer.dmx("desk", 1, &pattern(9));
    let mut want = vec![0u8; 512];
    want[10..110].copy_from_slice(&pattern(9)[..100]);
    peer.expect_dmx(&pb, 2, &want, "console 1..100 -> stage 11..110");
    check_example_wire(&cap, &[2]);
}

#[test]
fn example_merge_combines_two_consoles() {
    let _serial = serial();
    let mut peer = PyPeer::start();
    peer.receiver(SACN_PORT, &[10], true);
    let cap = Capture::v4(
        SACN_PORT,
        Ipv4Addr::LOCALHOST,
        &[group_v4(10), group_v4(64214)],
    );
    let pb = Patchbay::start(&example("sacn-merge.cfg"), SACN_PORT);
    peer.sender("a", console_cid(2), "desk a");
    peer.output("a", 1, 100, None);
    peer.sender("b", console_cid(3), "desk b");
    peer.output("b", 2, 100, None);
    let a = pattern(10);
    let b = pattern(11);
    peer.dmx("a", 1, &a);
    peer.dmx("b", 2, &b);
    let mut want = vec![0u8; 512];
    want[..24].copy_from_slice(&a[..24]);
    want[24..48].copy_from_slice(&b[..24]);
    // Slot 49 is fed by desk_a.100 and desk_b.100: the latest event wins; the two arrive in
    // either order, so accept either value there.
    let got = peer.wait_dmx(10, Duration::from_secs(8), |s| {
        s[..48] == want[..48]
            && (s[48] == a[99] || s[48] == b[99])
            && s[49..].iter().all(|v| *v == 0)
    });
    assert!(got.is_ok(), "{got:?}\n{}", pb.log());
    check_example_wire(&cap, &[10]);
}

#[test]
fn example_16bit_moves_wide_channels() {
    let _serial = serial();
    let mut peer = PyPeer::start();
    peer.receiver(SACN_PORT, &[2], true);
    let cap = Capture::v4(
        SACN_PORT,
        Ipv4Addr::LOCALHOST,
        &[group_v4(2), group_v4(64214)],
    );
    let pb = Patchbay::start(&example("sacn-16bit.cfg"), SACN_PORT);
    peer.sender("desk", console_cid(4), "console");
    peer.output("desk", 1, 100, None);
    let mut input = vec![0u8; 512];
    for (slot, v) in [(1, 0x80), (2, 0x7f), (3, 0x12), (10, 0x34), (20, 100)] {
        input[slot - 1] = v;
    }
    peer.dmx("desk", 1, &input);
    let mut want = vec![0u8; 512];
    for (slot, v) in [
        (101, 0x80),
        (102, 0x7f),
        (103, 0x12),
        (104, 0x34),
        (106, 0x12), // fine first: coarse on 106, fine on 105
        (105, 0x34),
        (200, 128), // 0x807f / 65535 * 255 = 127.998 -> 128
        (201, 100), // 100 * 257 = 0x6464
        (202, 100),
    ] {
        want[slot - 1] = v;
    }
    peer.expect_dmx(&pb, 2, &want, "16-bit example");
    check_example_wire(&cap, &[2]);
}

#[test]
fn example_loopback_distributes_one_level() {
    let _serial = serial();
    let mut peer = PyPeer::start();
    peer.receiver(SACN_PORT, &[2], true);
    peer.receiver(5570, &[3], false);
    let cap = Capture::v4(
        SACN_PORT,
        Ipv4Addr::LOCALHOST,
        &[group_v4(2), group_v4(64214)],
    );
    let pb = Patchbay::start(&example("sacn-loopback.cfg"), SACN_PORT);
    peer.sender("desk", console_cid(5), "console");
    peer.output("desk", 1, 100, None);
    peer.dmx("desk", 1, &[200, 0, 0x12, 0x34]);
    let mut dimmers = vec![0u8; 512];
    dimmers[..4].copy_from_slice(&[200, 0, 0x12, 0x34]);
    peer.expect_dmx(&pb, 2, &dimmers, "dimmers (multicast)");
    let mut node = vec![0u8; 512];
    node[0] = 200;
    peer.expect_dmx(&pb, 3, &node, "node (unicast to 127.0.0.1 5570)");
    // Universe 3 went to the python receiver's port: its raw copies are the capture.
    let cid = example_cid(&cap);
    // (the peer's other receiver, on 5568, reports universe 2's packets in the same stream)
    let unicast: Vec<Captured> = peer
        .raw_from(cid)
        .into_iter()
        .filter(|c| c.data().is_some_and(|d| d.universe() == 3))
        .collect();
    E131::new().check_all("loopback example, unicast universe 3", &unicast);
    assert_consecutive("universe 3", &unicast);
    check_example_wire(&cap, &[2, 3]);
}

/// The examples set no `cid`: patchbay's is whatever CID the captured discovery packets carry.
fn example_cid(cap: &Capture) -> patchbay_sacn::Cid {
    let found = poll(Duration::from_secs(11), || {
        cap.all()
            .into_iter()
            .find(|c| c.bytes.len() >= 38 && c.bytes[18..22] == [0, 0, 0, 8])
    });
    let c = found.expect("a discovery packet from the example within 11 s");
    patchbay_sacn::Cid(c.bytes[22..38].try_into().unwrap())
}

/// Every captured packet of the example passes e131_check.py; discovery lists only `outputs`
/// (multicast and unicast universes alike).
fn check_example_wire(cap: &Capture, outputs: &[u16]) {
    let cid = example_cid(cap);
    let parsed = E131::new().check_all("example output", &cap.of_cid(cid));
    check_discovery(&parsed, outputs, 1);
    for p in parsed.iter().filter(|p| p.kind == "data") {
        assert!(
            outputs.contains(&(p.num("universe") as u16)),
            "data for {p:?}"
        );
    }
    for u in outputs {
        assert_consecutive("example output", &cap.data_of(cid, *u));
    }
}
