//! Cross-check with the independent strict checker `tests/peers/e131_check.py` (Python, written
//! from the standard's packet tables): packets built here must pass it with zero errors and equal
//! fields, packets built there must parse here with the same fields, and every rule it enforces
//! is shown to reject a packet that breaks it (so a lenient checker cannot pass silently).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use patchbay_sacn::Cid;
use patchbay_sacn::wire::{
    DataHeader, MAX_PACKET_LEN, Options, Packet, write_data, write_discovery, write_sync,
};

/// The checker's directory: `tests/peers` at the workspace root.
fn checker_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers");
    assert!(
        dir.join("e131_check.py").is_file(),
        "{} has no e131_check.py",
        dir.display()
    );
    dir
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

/// Runs a python snippet with e131_check importable, feeding `input` on stdin.
fn python(script: &str, input: &str) -> String {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .env("PYTHONPATH", checker_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}): scripts/setup installs it (README, Prerequisites)")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write to python");
    let out = child.wait_with_output().expect("python output");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 from python")
}

const PARSE_SCRIPT: &str = r#"
import sys, e131_check as e131
for line in sys.stdin:
    b = bytes.fromhex(line.strip())
    r = e131.parse(b)
    f = [r["kind"], str(len(r["errors"])), ";".join(r["errors"]).replace("|", "/"), r.get("cid", "")]
    k = r["kind"]
    if k == "data":
        f += [r["name"].encode().hex(), str(r["priority"]), str(r["sync_universe"]), str(r["seq"]),
              str(r["options"]), str(r["universe"]), str(r["start_code"]), bytes(r["slots"]).hex()]
    elif k == "sync":
        f += [str(r["seq"]), str(r["sync_universe"])]
    elif k == "discovery":
        f += [r["name"].encode().hex(), str(r["page"]), str(r["last_page"]),
              ",".join(str(u) for u in r["universes"])]
    print("|".join(f))
"#;

const BUILD_SCRIPT: &str = r#"
import sys, e131_check as e131
for line in sys.stdin:
    f = line.split()
    if f[0] == "data":
        cid, name, uni, seq, slots, prio, sync, opt, sc = f[1:]
        b = e131.build_data(bytes.fromhex(cid), bytes.fromhex(name).decode(), int(uni), int(seq),
                            bytes.fromhex(slots if slots != "-" else ""), priority=int(prio), sync=int(sync),
                            options=int(opt), start_code=int(sc))
    elif f[0] == "sync":
        b = e131.build_sync(bytes.fromhex(f[1]), int(f[2]), int(f[3]))
    else:
        cid, name, page, last, unis = f[1:]
        us = [int(u) for u in unis.split(",")] if unis != "-" else []
        b = e131.build_discovery(bytes.fromhex(cid), bytes.fromhex(name).decode(), us, int(page), int(last))
    print(b.hex())
"#;

fn cid(n: u8) -> Cid {
    Cid(core::array::from_fn(|i| {
        (i as u8).wrapping_mul(17).wrapping_add(n)
    }))
}

fn slots(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn packets_built_here_pass_the_checker() {
    let mut packets: Vec<(Vec<u8>, String)> = Vec::new();
    let names = [
        "patchbay",
        "",
        "Ünïcødé ☃ console",
        &"n".repeat(63),
        &"x".repeat(80),
    ];
    let mut buf = [0u8; MAX_PACKET_LEN];
    let mut k = 0u8;
    for &count in &[0usize, 1, 2, 17, 100, 511, 512] {
        for &start_code in &[0x00u8, 0xDD, 0x17] {
            for &(opts, sync) in &[(0u8, 0u16), (0x80, 0), (0x40, 0), (0x20, 63999), (0xE0, 1)] {
                k = k.wrapping_add(1);
                let name = names[usize::from(k) % names.len()];
                let h = DataHeader {
                    cid: cid(k),
                    source_name: name,
                    priority: k % 201,
                    sync_address: sync,
                    sequence: k.wrapping_mul(7),
                    options: Options::from_bits(opts),
                    universe: 1 + u16::from(k) * 250,
                    start_code,
                };
                let s = slots(count, k);
                let n = write_data(&mut buf, &h, &s).expect("build");
                let want_name: String = {
                    let mut m = name.len().min(63);
                    while !name.is_char_boundary(m) {
                        m -= 1;
                    }
                    name[..m].to_owned()
                };
                let expect = format!(
                    "data|0||{}|{}|{}|{}|{}|{}|{}|{}|{}",
                    h.cid,
                    hex(want_name.as_bytes()),
                    h.priority,
                    h.sync_address,
                    h.sequence,
                    opts,
                    h.universe,
                    start_code,
                    hex(&s)
                );
                packets.push((buf[..n].to_vec(), expect));
            }
        }
    }
    for (seq, sync) in [(0u8, 1u16), (3, 7), (255, 63999)] {
        let n = write_sync(&mut buf, cid(seq), seq, sync).expect("build");
        packets.push((
            buf[..n].to_vec(),
            format!("sync|0||{}|{seq}|{sync}", cid(seq)),
        ));
    }
    let many: Vec<u16> = (1..=512).map(|u| u * 100).collect();
    let lists: [&[u16]; 4] = [&[], &[1], &[1, 2, 10], &many];
    for (i, list) in lists.iter().enumerate() {
        let (page, last) = (i as u8 % 2, 1 + i as u8 % 2);
        let n = write_discovery(&mut buf, cid(9), "patchbay", page, last, list).expect("build");
        let csv: Vec<String> = list.iter().map(|u| u.to_string()).collect();
        packets.push((
            buf[..n].to_vec(),
            format!(
                "discovery|0||{}|{}|{page}|{last}|{}",
                cid(9),
                hex(b"patchbay"),
                csv.join(",")
            ),
        ));
    }
    let input: String = packets.iter().map(|(b, _)| hex(b) + "\n").collect();
    let out = python(PARSE_SCRIPT, &input);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), packets.len());
    for ((_, expect), got) in packets.iter().zip(&lines) {
        assert_eq!(got, expect);
    }
}

#[test]
fn packets_built_by_the_checker_parse_here_with_the_same_fields() {
    struct Want {
        spec: String,
        check: Box<dyn Fn(Packet<'_>)>,
    }
    let mut wants: Vec<Want> = Vec::new();
    let mut k = 0u8;
    for &count in &[0usize, 1, 3, 256, 511, 512] {
        for &start_code in &[0x00u8, 0xDD, 0xCC] {
            for &opts in &[0u8, 0x80, 0x40, 0x20, 0xE0] {
                k = k.wrapping_add(1);
                let c = cid(k);
                let name = if k.is_multiple_of(3) {
                    "Ünï ☃".to_owned()
                } else {
                    format!("src {k}")
                };
                let universe = 63999 - u16::from(k) * 100;
                let (seq, prio, sync) = (k.wrapping_mul(13), 200 - k % 201, u16::from(k) * 3);
                let s = slots(count, k);
                let spec = format!(
                    "data {} {} {universe} {seq} {} {prio} {sync} {opts} {start_code}",
                    hex(&c.0),
                    hex(name.as_bytes()),
                    if s.is_empty() {
                        "-".to_owned()
                    } else {
                        hex(&s)
                    }
                );
                wants.push(Want {
                    spec,
                    check: Box::new(move |p| {
                        let Packet::Data(d) = p else {
                            panic!("not data: {p:?}")
                        };
                        assert_eq!(d.cid(), c);
                        assert_eq!(d.source_name(), name.as_str());
                        assert_eq!(d.universe(), universe);
                        assert_eq!(d.sequence(), seq);
                        assert_eq!(d.priority(), prio);
                        assert_eq!(d.sync_address(), sync);
                        assert_eq!(d.options().bits(), opts);
                        assert_eq!(d.start_code(), start_code);
                        assert_eq!(d.slots(), &s[..]);
                    }),
                });
            }
        }
    }
    for (seq, sync) in [(0u8, 1u16), (200, 4242), (255, 63999)] {
        let c = cid(seq);
        wants.push(Want {
            spec: format!("sync {} {seq} {sync}", hex(&c.0)),
            check: Box::new(move |p| {
                let Packet::Sync(s) = p else {
                    panic!("not sync: {p:?}")
                };
                assert_eq!((s.cid(), s.sequence(), s.sync_address()), (c, seq, sync));
            }),
        });
    }
    let many: Vec<u16> = (0..512).map(|u| 1 + u * 120).collect();
    let lists: Vec<Vec<u16>> = vec![vec![], vec![5], vec![1, 2, 10], many];
    for (i, list) in lists.into_iter().enumerate() {
        let c = cid(40 + i as u8);
        let (page, last) = (i as u8, 3u8);
        let csv: Vec<String> = list.iter().map(|u| u.to_string()).collect();
        let csv = if csv.is_empty() {
            "-".to_owned()
        } else {
            csv.join(",")
        };
        wants.push(Want {
            spec: format!(
                "discovery {} {} {page} {last} {csv}",
                hex(&c.0),
                hex(b"disc")
            ),
            check: Box::new(move |p| {
                let Packet::Discovery(d) = p else {
                    panic!("not discovery: {p:?}")
                };
                assert_eq!(d.cid(), c);
                assert_eq!(d.source_name(), "disc");
                assert_eq!((d.page(), d.last_page()), (page, last));
                assert_eq!(d.universe_count(), list.len());
                assert_eq!(d.universes().collect::<Vec<_>>(), list);
            }),
        });
    }
    let input: String = wants.iter().map(|w| w.spec.clone() + "\n").collect();
    let out = python(BUILD_SCRIPT, &input);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), wants.len());
    for (w, line) in wants.iter().zip(&lines) {
        let bytes = unhex(line.trim());
        match Packet::parse(&bytes) {
            Ok(p) => (w.check)(p),
            Err(e) => panic!("{} rejected: {e}", w.spec),
        }
    }
}

/// Per packet: `KIND|ERROR COUNT|ERRORS`.
const ERRORS_SCRIPT: &str = r#"
import sys, e131_check as e131
for line in sys.stdin:
    r = e131.parse(bytes.fromhex(line.strip()))
    print("|".join([r["kind"], str(len(r["errors"])), ";".join(r["errors"]).replace("|", "/")]))
"#;

/// `packet` with `f` applied.
fn mutated(packet: &[u8], f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut p = packet.to_vec();
    f(&mut p);
    p
}

/// The checker is only worth something if it can say no: one packet per rule it enforces, each
/// breaking only that rule of a packet built here, must be reported with that rule's message.
#[test]
fn the_checker_rejects_every_rule_a_packet_breaks() {
    let mut buf = [0u8; MAX_PACKET_LEN];
    let h = DataHeader {
        cid: cid(1),
        source_name: "rules",
        priority: 100,
        sync_address: 0,
        sequence: 7,
        options: Options::from_bits(0),
        universe: 10,
        start_code: 0,
    };
    let n = write_data(&mut buf, &h, &[1, 2, 3, 4]).expect("build");
    let data = buf[..n].to_vec();
    let n = write_sync(&mut buf, cid(2), 3, 10).expect("build");
    let sync = buf[..n].to_vec();
    let n = write_discovery(&mut buf, cid(3), "rules", 0, 0, &[1, 2, 3]).expect("build");
    let disc = buf[..n].to_vec();
    let set16 =
        |p: &mut Vec<u8>, at: usize, v: u16| p[at..at + 2].copy_from_slice(&v.to_be_bytes());
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (mutated(&data, |p| p[1] = 0x11), "preamble size"),
        (mutated(&data, |p| p[3] = 1), "postamble size"),
        (mutated(&data, |p| p[4] = b'X'), "ACN packet identifier"),
        (mutated(&data, |p| p[16] &= 0x6f), "root layer: flags"),
        (mutated(&data, |p| p[17] += 1), "root layer: PDU length"),
        (
            mutated(&data, |p| p[21] = 5),
            "neither data (4) nor extended",
        ),
        (mutated(&data, |p| p[38] &= 0x6f), "framing layer: flags"),
        (mutated(&data, |p| p[39] += 1), "framing layer: PDU length"),
        (mutated(&data, |p| p[43] = 3), "framing layer: vector"),
        (
            mutated(&data, |p| p[44..108].fill(b'a')),
            "not NUL-terminated",
        ),
        (mutated(&data, |p| p[100] = 1), "after the terminating NUL"),
        (mutated(&data, |p| p[44] = 0xff), "not UTF-8"),
        (mutated(&data, |p| p[108] = 201), "priority 201"),
        (
            mutated(&data, |p| set16(p, 109, 64000)),
            "synchronization address 64000",
        ),
        (mutated(&data, |p| p[112] = 0x01), "reserved bits"),
        (mutated(&data, |p| set16(p, 113, 0)), "universe 0:"),
        (mutated(&data, |p| set16(p, 113, 64000)), "universe 64000"),
        (mutated(&data, |p| p[115] &= 0x6f), "DMP layer: flags"),
        (mutated(&data, |p| p[116] += 1), "DMP layer: PDU length"),
        (mutated(&data, |p| p[117] = 1), "DMP layer: vector"),
        (mutated(&data, |p| p[118] = 0xa2), "address and data type"),
        (mutated(&data, |p| p[120] = 1), "first property address"),
        (mutated(&data, |p| p[122] = 2), "address increment"),
        (mutated(&data, |p| p[124] += 1), "property value count 6"),
        (data[..125].to_vec(), "shorter than its headers"),
        (mutated(&sync, |p| p.push(0)), "must be 49"),
        (
            mutated(&sync, |p| set16(p, 45, 0)),
            "synchronization address 0",
        ),
        (mutated(&sync, |p| p[48] = 1), "sync reserved field"),
        (mutated(&sync, |p| p[39] -= 1), "framing layer: PDU length"),
        (
            mutated(&sync, |p| p[43] = 3),
            "neither sync (1) nor discovery",
        ),
        (mutated(&disc, |p| p[109] = 1), "discovery framing reserved"),
        (mutated(&disc, |p| p[112] &= 0x6f), "discovery layer: flags"),
        (
            mutated(&disc, |p| p[113] += 1),
            "discovery layer: PDU length",
        ),
        (mutated(&disc, |p| p[117] = 2), "discovery layer: vector"),
        (
            mutated(&disc, |p| (p[118], p[119]) = (2, 1)),
            "after the last page",
        ),
        (mutated(&disc, |p| set16(p, 122, 1)), "strictly ascending"),
        (mutated(&disc, |p| set16(p, 120, 0)), "outside 1..63999"),
        (mutated(&disc, |p| p.push(0)), "odd length"),
    ];
    let input: String = cases.iter().map(|(p, _)| hex(p) + "\n").collect();
    let out = python(ERRORS_SCRIPT, &input);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), cases.len());
    for ((_, rule), line) in cases.iter().zip(&lines) {
        let errors = line.split('|').nth(2).unwrap_or("");
        assert!(errors.contains(rule), "expected '{rule}' in: {line}");
    }
    // The unmodified packets pass.
    let input = format!("{}\n{}\n{}\n", hex(&data), hex(&sync), hex(&disc));
    for line in python(ERRORS_SCRIPT, &input).lines() {
        assert_eq!(line.split('|').nth(1), Some("0"), "{line}");
    }
}
