//! Cross-check of ArtDmx and ArtSync bytes with two independent Python implementations,
//! stupidArtnet and pyartnet (tests/peers/artdmx.py builds their packets with `socket.socket`
//! replaced, so nothing is sent): for the same header and slots they must build the bytes
//! `write_dmx` builds, and this crate's parser must read theirs back field for field.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use patchbay_artnet::wire::MAX_DMX_PACKET_LEN;
use patchbay_artnet::{DmxHeader, Packet, PortAddress, Quirk, write_dmx, write_sync};
use serde_json::{Value, json};

struct Case {
    lib: &'static str,
    address: PortAddress,
    sequence: u8,
    slots: Vec<u8>,
    /// stupidArtnet: the plain 15-bit universe word (true) or net/sub-net/universe fields.
    simplified: bool,
    /// stupidArtnet: pad to an even length.
    even: bool,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex from python"))
        .collect()
}

/// Runs tests/peers/artdmx.py on `cases`; returns (library, packet) pairs, the two ArtSyncs last.
fn python(cases: &[Case]) -> Vec<(String, Vec<u8>)> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/artdmx.py");
    let input: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({
                "lib": c.lib,
                "universe": c.address.get(),
                "net": c.address.net(),
                "subnet": c.address.sub_net(),
                "uni": c.address.universe(),
                "sequence": c.sequence,
                "slots": hex(&c.slots),
                "simplified": c.simplified,
                "even": c.even,
            })
        })
        .collect();
    let setup = "run .ci/run, or: pip install stupidArtnet==1.6.0 pyartnet==2.0";
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python3 is needed for the Art-Net peer check ({e}); {setup}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&input).expect("json").as_bytes())
        .expect("write cases");
    let out = child.wait_with_output().expect("python3 runs");
    assert!(
        out.status.success(),
        "artdmx.py failed ({setup}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<Value> = serde_json::from_slice(&out.stdout).expect("json from python");
    v.iter()
        .map(|p| {
            let lib = p["lib"].as_str().expect("lib").to_string();
            (lib, unhex(p["hex"].as_str().expect("hex")))
        })
        .collect()
}

fn ours(c: &Case) -> Vec<u8> {
    let mut buf = [0u8; MAX_DMX_PACKET_LEN];
    let h = DmxHeader {
        sequence: c.sequence,
        physical: 0,
        address: c.address,
    };
    let n = write_dmx(&mut buf, &h, &c.slots).expect("build");
    buf[..n].to_vec()
}

fn cases() -> Vec<Case> {
    let full: Vec<u8> = (0..512).map(|i| (i * 13 % 256) as u8).collect();
    let a = |n, s, u| PortAddress::from_parts(n, s, u).expect("valid");
    let mut v = Vec::new();
    for (address, slots) in [
        (a(0, 0, 0), full.clone()),
        (a(1, 2, 3), vec![255, 128, 1]),
        (a(127, 15, 15), vec![42; 24]),
        (a(0, 1, 0), vec![7, 8]),
    ] {
        for (lib, simplified, even) in [
            ("stupidArtnet", true, true),
            ("stupidArtnet", false, true),
            ("stupidArtnet", false, false),
            ("pyartnet", true, true),
        ] {
            v.push(Case {
                lib,
                address,
                // stupidArtnet sends what its header holds; pyartnet counts from 1.
                sequence: if lib == "pyartnet" { 77 } else { 0 },
                slots: slots.clone(),
                simplified,
                even,
            });
        }
    }
    v
}

#[test]
fn python_artdmx_bytes_equal_ours_and_parse_here() {
    let cases = cases();
    let got = python(&cases);
    assert_eq!(got.len(), cases.len() + 2);
    for (c, (lib, theirs)) in cases.iter().zip(&got) {
        assert_eq!(lib, c.lib);
        let what = format!("{} {} {} slots", c.lib, c.address, c.slots.len());
        let odd = c.slots.len() % 2 == 1;
        // pyartnet and an unpadded stupidArtnet send an odd length as it is; everything else
        // must equal what write_dmx builds, byte for byte.
        let pads = c.lib == "stupidArtnet" && c.even;
        if !odd || pads {
            assert_eq!(hex(theirs), hex(&ours(c)), "{what}");
        }
        let p = match Packet::parse(theirs) {
            Ok(Packet::Dmx(p)) => p,
            other => panic!("{what}: {other:?}"),
        };
        assert_eq!(p.port_address(), c.address, "{what}");
        assert_eq!(p.sequence(), c.sequence, "{what}");
        assert_eq!((p.protocol_version(), p.physical()), (14, 0), "{what}");
        assert_eq!(&p.slots()[..c.slots.len()], &c.slots[..], "{what}");
        assert_eq!(
            p.quirks().contains(Quirk::OddLength),
            odd && !pads,
            "{what}"
        );
        assert!(!p.quirks().contains(Quirk::TrailingBytes), "{what}");
    }
    let mut buf = [0u8; 16];
    let n = write_sync(&mut buf).expect("sync");
    for (lib, sync) in &got[cases.len()..] {
        assert_eq!(hex(sync), hex(&buf[..n]), "{lib}");
        assert!(matches!(Packet::parse(sync), Ok(Packet::Sync(_))), "{lib}");
    }
}
