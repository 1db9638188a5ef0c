#!/usr/bin/env python3
"""Writes seed corpora for the Art-Net fuzz targets: packets laid out field by field from the
Art-Net 4 tables (and MIDIMonster's and OLA's packet structs), and receiver scenarios made of
them in fuzz_receiver's record format.

Run from the repository root: python3 fuzz/seed_artnet.py
"""
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))
ID = b"Art-Net\0"


def dmx(seq, sub_uni, net, slots, length=None, version=14):
    length = len(slots) if length is None else length
    return ID + struct.pack("<H", 0x5000) + struct.pack(">HBBBBH", version, seq, 0, sub_uni, net, length) + bytes(slots)


def poll(flags=0x02, prio=0, top=0, bottom=0, art_net_4=True):
    p = ID + struct.pack("<H", 0x2000) + struct.pack(">HBB", 14, flags, prio)
    if art_net_4:
        p += struct.pack(">HHHH", top, bottom, 0, 0)
    return p


def reply(name=b"node", ports=1, legacy=False):
    r = bytearray(239)
    r[0:8] = ID
    r[8:10] = struct.pack("<H", 0x2100)
    r[10:14] = bytes([10, 0, 0, 7])
    r[14:16] = struct.pack("<H", 6454)
    r[18], r[19] = 1, 2
    r[23] = 0xD0
    r[26:26 + len(name)] = name
    report = b"#0001 [0042] running"
    r[108:108 + len(report)] = report
    r[172:174] = struct.pack(">H", ports)
    for i in range(min(ports, 4)):
        r[174 + i] = 0xC0
        r[186 + i] = i
        r[190 + i] = i
    r[207:211] = bytes([10, 0, 0, 7])
    r[211], r[212] = 1, 0x08
    return bytes(r[:207] if legacy else r)


sync = ID + struct.pack("<H", 0x5200) + struct.pack(">HBB", 14, 0, 0)
packets = {
    "dmx_full": dmx(1, 0x01, 0, [255, 128] + [0] * 510),
    "dmx_short": dmx(7, 0x23, 1, [10, 20, 30, 40]),
    "dmx_odd": dmx(0, 0x02, 0, [1, 2, 3]),
    "dmx_trailing": dmx(3, 0x01, 0, [9, 9], length=2) + b"\xee" * 6,
    "dmx_max_address": dmx(255, 0xFF, 0x7F, [42] * 24),
    "sync": sync,
    "poll": poll(),
    "poll_targeted": poll(flags=0x22, prio=0x10, top=256, bottom=1),
    "poll_legacy": poll(art_net_4=False),
    "reply": reply(),
    "reply_four_ports": reply(b"quad", ports=4),
    "reply_legacy": reply(legacy=True),
    "timecode": ID + struct.pack("<H", 0x9700) + struct.pack(">H", 14) + bytes(7),
}
os.makedirs(os.path.join(here, "corpus", "artnet_packet"), exist_ok=True)
for name, pkt in packets.items():
    with open(os.path.join(here, "corpus", "artnet_packet", name), "wb") as f:
        f.write(pkt)


def raw(step_ms, src, pkt, mode=0):
    """A receiver record: mode (0 = raw datagram), clock step, source index, length, bytes."""
    return struct.pack("<BHBH", mode, step_ms, src, len(pkt)) + pkt


def gen_dmx(step_ms, src, universe_index, seq, values, mode=1):
    """A receiver record: mode 1 (generated ArtDmx) with len(values) = 2c + 2 slots."""
    assert len(values) % 2 == 0 and 2 <= len(values) <= 512
    return struct.pack("<BHBBBB", mode, step_ms, src, universe_index, seq, len(values) // 2 - 1) + bytes(values)


def gen(kind, step_ms, src, long_step=False):
    """A receiver record of kind 2 (ArtSync) or 3 (ArtPoll); bit 7: step × 16, bit 5: timers."""
    return struct.pack("<BHB", kind | (0x80 | 0x20 if long_step else 0), step_ms, src)


scenarios = {
    # first byte: bit 6 = LTP
    "two_sources_htp": b"\x00" + raw(0, 0, dmx(1, 1, 0, [100] * 512)) + raw(10, 1, dmx(1, 1, 0, [200] * 4))
    + raw(10, 0, dmx(2, 1, 0, [50, 50])),
    "third_source": b"\x00" + gen_dmx(0, 0, 0, 1, [1] * 8) + gen_dmx(1, 1, 0, 1, [2] * 8)
    + gen_dmx(1, 2, 0, 1, [3] * 8) + gen(3, 700, 0, True) + gen_dmx(1, 2, 0, 2, [3] * 8),
    "ltp": b"\x40" + gen_dmx(0, 0, 1, 1, [10, 200]) + gen_dmx(1, 1, 1, 1, [50, 100]) + gen_dmx(1, 0, 1, 2, [10, 200]),
    "sync_hold": b"\x00" + gen(2, 0, 0) + gen_dmx(5, 0, 2, 1, [7] * 16) + gen(2, 5, 0) + gen(2, 300, 0, True),
    "sequence": b"\x00" + gen_dmx(0, 0, 0, 10, [1, 1]) + gen_dmx(1, 0, 0, 9, [2, 2]) + gen_dmx(1, 0, 0, 0, [3, 3])
    + gen_dmx(1, 0, 0, 200, [4, 4]) + gen_dmx(1, 0, 0, 1, [5, 5]),
    "own_and_unknown": b"\x00" + gen_dmx(0, 4, 0, 1, [9, 9]) + gen_dmx(0, 0, 3, 1, [9, 9]) + raw(1, 1, packets["reply"]),
    "stale": b"\x00" + gen_dmx(0, 0, 0, 1, [1, 1]) + gen_dmx(100, 0, 0, 2, [2, 2], mode=0x11),
}
os.makedirs(os.path.join(here, "corpus", "artnet_receiver"), exist_ok=True)
for name, data in scenarios.items():
    with open(os.path.join(here, "corpus", "artnet_receiver", name), "wb") as f:
        f.write(data)
