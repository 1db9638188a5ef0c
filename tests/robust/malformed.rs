//! The malformed-packet classes: each a name, the datagram, and the bind counter that must rise.
//!
//! Every datagram is derived from a valid one by changing exactly what its class names (lengths
//! are kept consistent elsewhere), carries CID 0xBB.. and slot values 255, so a packet that was
//! wrongly applied would show at the output (HTP: 255 beats the valid sender's values).

use patchbay_sacn::wire::{write_discovery, write_sync};

use super::harness::{cid, data};

/// The CID of every hostile packet.
pub const HOSTILE: u8 = 0xBB;

pub struct Case {
    pub name: &'static str,
    pub bytes: Vec<u8>,
    /// Bind counter expected to rise by exactly one.
    pub counter: &'static str,
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

fn flags_len(b: &[u8], at: usize) -> (u8, u16) {
    (b[at] >> 4, u16::from_be_bytes([b[at], b[at + 1]]) & 0x0fff)
}

/// A valid hostile data packet for universe 1 with 8 slots of 255.
pub fn base() -> Vec<u8> {
    data(cid(HOSTILE), 1, 100, 0, &[255; 8])
}

/// Cuts `b` to `n` bytes and rewrites every PDU length that still lies inside, so the packet is
/// consistent but short: the parser must notice the missing layer, not a length mismatch.
fn cut(mut b: Vec<u8>, n: usize, discovery: bool) -> Vec<u8> {
    b.truncate(n);
    fit(&mut b, discovery);
    b
}

/// Rewrites the PDU lengths of a data/sync (`discovery` false) or discovery packet for its size.
fn fit(b: &mut [u8], discovery: bool) {
    let n = b.len();
    let inner = if discovery { 112 } else { 115 };
    for at in [16, 38, inner] {
        if n >= at + 2 {
            put16(b, at, 0x7000 | (n - at) as u16);
        }
    }
}

fn sync(addr: u16) -> Vec<u8> {
    let mut b = vec![0u8; 64];
    // write_sync refuses address 0, so build with 1 and patch.
    let n = write_sync(&mut b, cid(HOSTILE), 0, 1).expect("sync");
    b.truncate(n);
    put16(&mut b, 45, addr);
    b
}

fn discovery(list: &[u16]) -> Vec<u8> {
    let mut b = vec![0u8; 1200];
    let n = write_discovery(&mut b, cid(HOSTILE), "robust test", 0, 0, list).expect("discovery");
    b.truncate(n);
    b
}

fn with(mut b: Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    f(&mut b);
    b
}

/// Every class, in the order of the layers.
pub fn cases() -> Vec<Case> {
    let c = |name, bytes, counter| Case {
        name,
        bytes,
        counter,
    };
    let b = base();
    let full = data(cid(HOSTILE), 1, 100, 0, &[255; 512]);
    vec![
        c("zero-length datagram", vec![], "empty"),
        // Truncated at every layer boundary (and inside each layer).
        c(
            "truncated inside the root layer (37 bytes)",
            b[..37].to_vec(),
            "malformed.truncated_root",
        ),
        c(
            "truncated at the root/framing boundary (38 bytes)",
            cut(b.clone(), 38, false),
            "malformed.truncated_framing",
        ),
        c(
            "truncated inside the framing layer (100 bytes)",
            cut(b.clone(), 100, false),
            "malformed.truncated_framing",
        ),
        c(
            "truncated at the framing/DMP boundary (115 bytes)",
            cut(b.clone(), 115, false),
            "malformed.truncated_dmp",
        ),
        c(
            "truncated before the start code (125 bytes)",
            cut(b.clone(), 125, false),
            "malformed.truncated_dmp",
        ),
        c(
            "truncated inside the slots (lengths say more)",
            b[..130].to_vec(),
            "malformed.bad_root_length",
        ),
        c(
            "truncated inside the slots (lengths fit)",
            cut(b.clone(), 130, false),
            "malformed.property_count_mismatch",
        ),
        // Root layer.
        c(
            "wrong preamble size",
            with(b.clone(), |b| b[1] = 0x11),
            "malformed.bad_preamble",
        ),
        c(
            "wrong postamble size",
            with(b.clone(), |b| b[3] = 1),
            "malformed.bad_postamble",
        ),
        c(
            "wrong ACN packet identifier",
            with(b.clone(), |b| b[4] = b'X'),
            "malformed.bad_acn_identifier",
        ),
        c(
            "root flags not 0x7",
            with(b.clone(), |b| b[16] = (b[16] & 0x0f) | 0x50),
            "malformed.bad_root_flags",
        ),
        c(
            "root length one too long",
            with(b.clone(), |b| {
                let (_, l) = flags_len(b, 16);
                put16(b, 16, 0x7000 | (l + 1));
            }),
            "malformed.bad_root_length",
        ),
        c(
            "unknown root vector",
            with(b.clone(), |b| b[21] = 5),
            "malformed.unknown_root_vector",
        ),
        // Framing layer.
        c(
            "framing flags not 0x7",
            with(b.clone(), |b| b[38] = (b[38] & 0x0f) | 0x30),
            "malformed.bad_framing_flags",
        ),
        c(
            "framing length one too short",
            with(b.clone(), |b| {
                let (_, l) = flags_len(b, 38);
                put16(b, 38, 0x7000 | (l - 1));
            }),
            "malformed.bad_framing_length",
        ),
        c(
            "unknown framing vector",
            with(b.clone(), |b| b[43] = 9),
            "malformed.unknown_framing_vector",
        ),
        c(
            "universe 0",
            with(b.clone(), |b| put16(b, 113, 0)),
            "malformed.universe_out_of_range",
        ),
        c(
            "universe 64000",
            with(b.clone(), |b| put16(b, 113, 64000)),
            "malformed.universe_out_of_range",
        ),
        c(
            "universe 65535",
            with(b.clone(), |b| put16(b, 113, 65535)),
            "malformed.universe_out_of_range",
        ),
        // (Priority above 200 and a data packet's sync address above 63999 are accepted, as
        // 200 and 0, and counted as irregular: see the sACN backend README.)
        // DMP layer.
        c(
            "DMP flags not 0x7",
            with(b.clone(), |b| b[115] = (b[115] & 0x0f) | 0x60),
            "malformed.bad_dmp_flags",
        ),
        c(
            "DMP length one too long",
            with(b.clone(), |b| {
                let (_, l) = flags_len(b, 115);
                put16(b, 115, 0x7000 | (l + 1));
            }),
            "malformed.bad_dmp_length",
        ),
        // MIDIMonster's DMP length (517 in a 638-byte packet) is tolerated; nothing next to it.
        c(
            "DMP length 518 in a full packet",
            with(full.clone(), |b| put16(b, 115, 0x7000 | 518)),
            "malformed.bad_dmp_length",
        ),
        c(
            "DMP length 6 short in a short packet",
            with(b.clone(), |b| {
                let (_, l) = flags_len(b, 115);
                put16(b, 115, 0x7000 | (l - 6));
            }),
            "malformed.bad_dmp_length",
        ),
        c(
            "DMP vector not SET_PROPERTY",
            with(b.clone(), |b| b[117] = 0x03),
            "malformed.bad_dmp_vector",
        ),
        c(
            "DMP address type not 0xA1",
            with(b.clone(), |b| b[118] = 0xA0),
            "malformed.bad_address_type",
        ),
        c(
            "DMP first address not 0",
            with(b.clone(), |b| put16(b, 119, 1)),
            "malformed.bad_first_address",
        ),
        c(
            "DMP address increment not 1",
            with(b.clone(), |b| put16(b, 121, 2)),
            "malformed.bad_address_increment",
        ),
        c(
            "property count 0",
            with(b.clone(), |b| put16(b, 123, 0)),
            "malformed.property_count_out_of_range",
        ),
        c(
            "property count one more than the bytes",
            with(b.clone(), |b| put16(b, 123, 10)),
            "malformed.property_count_mismatch",
        ),
        c(
            "property count one less than the bytes",
            with(b.clone(), |b| put16(b, 123, 8)),
            "malformed.property_count_mismatch",
        ),
        c(
            "513 slots with consistent lengths",
            with(full.clone(), |b| {
                b.push(255);
                fit(b, false);
                put16(b, 123, 514);
            }),
            "malformed.oversize",
        ),
        // Start codes: valid packets that are not levels (RDM 0xCC, text 0x17, 0xFF).
        c(
            "start code 0xCC (RDM)",
            with(b.clone(), |b| b[125] = 0xCC),
            "discarded.unsupported_start_code",
        ),
        c(
            "start code 0x17 (text)",
            with(b.clone(), |b| b[125] = 0x17),
            "discarded.unsupported_start_code",
        ),
        c(
            "start code 0xFF",
            with(b.clone(), |b| b[125] = 0xFF),
            "discarded.unsupported_start_code",
        ),
        // Synchronization packets.
        c("sync address 0", sync(0), "malformed.bad_sync_address"),
        c(
            "sync address 64000",
            sync(64000),
            "malformed.bad_sync_address",
        ),
        c(
            "sync truncated (48 bytes)",
            cut(sync(1), 48, false),
            "malformed.truncated_framing",
        ),
        c(
            "sync one byte too long",
            with(sync(1), |b| {
                b.push(0);
                fit(b, false);
            }),
            "malformed.oversize",
        ),
        c(
            "sync framing length wrong",
            with(sync(1), |b| put16(b, 38, 0x7000 | 12)),
            "malformed.bad_framing_length",
        ),
        // Discovery packets.
        c(
            "discovery truncated (119 bytes)",
            cut(discovery(&[1, 2]), 119, true),
            "malformed.truncated_universe_list",
        ),
        c(
            "discovery flags not 0x7",
            with(discovery(&[1, 2]), |b| b[112] = (b[112] & 0x0f) | 0x20),
            "malformed.bad_discovery_flags",
        ),
        c(
            "discovery length wrong",
            with(discovery(&[1, 2]), |b| {
                let (_, l) = flags_len(b, 112);
                put16(b, 112, 0x7000 | (l - 2));
            }),
            "malformed.bad_discovery_length",
        ),
        c(
            "discovery vector not UNIVERSE_LIST",
            with(discovery(&[1, 2]), |b| b[117] = 2),
            "malformed.bad_discovery_vector",
        ),
        c(
            "discovery page after last page",
            with(discovery(&[1, 2]), |b| b[118] = 1),
            "malformed.discovery_page_after_last",
        ),
        c(
            "discovery list not ascending",
            with(discovery(&[1, 2]), |b| {
                put16(b, 120, 2);
                put16(b, 122, 1);
            }),
            "malformed.discovery_list_not_ascending",
        ),
        c(
            "discovery list of odd length",
            with(discovery(&[1, 2]), |b| {
                b.push(3);
                fit(b, true);
            }),
            "malformed.bad_discovery_list_length",
        ),
        // Oversize datagrams.
        // Padding after a packet whose lengths all agree is tolerated; anything else is not.
        c(
            "valid packet plus one byte, only the root length covers it",
            with(b.clone(), |b| {
                b.push(0);
                let (_, l) = flags_len(b, 16);
                put16(b, 16, 0x7000 | (l + 1));
            }),
            "malformed.bad_framing_length",
        ),
        c(
            "valid packet plus one byte, only the inner lengths cover it",
            with(b.clone(), |b| {
                b.push(0);
                fit(b, false);
                let (_, l) = flags_len(b, 16);
                put16(b, 16, 0x7000 | (l - 1));
                put16(b, 123, 10);
            }),
            "malformed.bad_root_length",
        ),
        c(
            "valid packet plus one byte (lengths say so)",
            with(full.clone(), |b| {
                b.push(0);
                fit(b, false);
            }),
            "malformed.oversize",
        ),
        c(
            "1,472-byte datagram (full Ethernet payload)",
            with(b.clone(), |b| b.resize(1472, 255)),
            "malformed.oversize",
        ),
        c(
            "3,000-byte datagram (larger than the receive buffer)",
            with(b.clone(), |b| b.resize(3000, 255)),
            "malformed.oversize",
        ),
        c(
            "garbage",
            (0..200u32).map(|i| (i * 37 % 251) as u8).collect(),
            "malformed.bad_preamble",
        ),
    ]
}
