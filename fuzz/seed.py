#!/usr/bin/env python3
"""Writes seed corpora for the sACN fuzz targets from packets built by tests/peers/e131_check.py,
the project's strict checker and builder written from the E1.31 standard (not from the Rust code).

Run from anywhere: python3 fuzz/seed.py
"""
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests", "peers"))
import e131_check as e131  # noqa: E402

cid = bytes(range(16))
other = bytes([0xAB] * 16)
packets = {
    "data_full": e131.build_data(cid, "patchbay", 1, 0, [255, 128] + [0] * 510),
    "data_short": e131.build_data(cid, "desk", 2, 7, [10, 20, 30]),
    "data_empty": e131.build_data(cid, "desk", 3, 9, []),
    "data_dd": e131.build_data(cid, "desk", 1, 1, [100] * 512, start_code=0xDD),
    "data_preview": e131.build_data(other, "viz", 1, 2, [1] * 64, options=0x80),
    "data_terminated": e131.build_data(other, "desk", 1, 3, [5] * 16, options=0x40),
    "data_sync": e131.build_data(cid, "desk", 7, 4, [9] * 512, sync=7, options=0x20),
    "data_prio200": e131.build_data(other, "backup", 1, 5, [77] * 512, priority=200),
    "sync": e131.build_sync(cid, 3, 7),
    "discovery": e131.build_discovery(cid, "patchbay", [1, 2, 10]),
    "discovery_pages": e131.build_discovery(cid, "big", list(range(1, 513)), page=0, last_page=1),
}
for name, pkt in packets.items():
    with open(os.path.join(here, "corpus", "sacn_packet", name), "wb") as f:
        f.write(pkt)


def raw(step_ms, pkt):
    """A receiver-target record: mode 0 (raw datagram), clock step, length, bytes."""
    return struct.pack("<BHH", 0, step_ms, len(pkt)) + pkt


scenarios = {
    "two_sources": raw(0, packets["data_full"]) + raw(10, packets["data_prio200"]) + raw(3000, packets["data_full"]),
    "sync_hold": raw(0, packets["data_sync"]) + raw(5, packets["sync"]),
    "terminate": raw(0, packets["data_preview"]) + raw(1, packets["data_terminated"]),
    "per_address": raw(0, packets["data_dd"]) + raw(1, packets["data_full"]) + raw(2000, packets["data_full"]),
    "discovery": raw(0, packets["discovery"]) + raw(20000, packets["discovery_pages"]),
}
for name, data in scenarios.items():
    with open(os.path.join(here, "corpus", "sacn_receiver", name), "wb") as f:
        f.write(data)


def prec(step_10ms, pkt, long_step=False):
    """A pipeline-target record: kind 0 (raw datagram, bit 7: step x100 ms), step, length, bytes."""
    return struct.pack("<BBH", 0x80 if long_step else 0, step_10ms, len(pkt)) + pkt


def pdata(cid_index, priority, seq, value, step_10ms=2):
    """A pipeline-target record: kind 1 (generated data packet for universe 1), 512 slots."""
    return struct.pack("<BBBBBBB", 1, step_10ms, cid_index, priority, seq, 0, 255) + bytes([value]) * 512


u1 = {k: e131.build_data(c, n, 1, s, v, priority=p) for k, (c, n, s, v, p) in {
    "a": (cid, "desk", 0, [200] * 512, 100),
    "b": (other, "backup", 0, [50] * 512, 150),
    "a2": (cid, "desk", 1, [10, 20, 30, 40, 50] + [0] * 507, 100),
}.items()}
pipelines = {
    # mode byte: bit 0 LTP, bit 1 realtime output
    "one_source": b"\x00" + prec(0, u1["a"]) + prec(20, u1["a"], True) + prec(1, u1["a2"]),
    "priority_takeover": b"\x02" + prec(0, u1["a"]) + prec(20, u1["a"], True) + prec(1, u1["b"]) + prec(30, b"", True),
    "ltp_two_sources": b"\x01" + b"".join(pdata(i % 2, 100, i // 2, i * 7) for i in range(12)),
    "termination": b"\x03" + prec(20, u1["a"], True) + prec(1, packets["data_terminated"]) + prec(1, u1["a"]),
    "per_address": b"\x00" + prec(0, packets["data_dd"]) + prec(0, packets["data_full"]) + prec(20, packets["data_full"], True),
    "sync_and_discovery": b"\x00" + prec(0, packets["data_sync"]) + prec(1, packets["sync"]) + prec(1, packets["discovery"]),
}
os.makedirs(os.path.join(here, "corpus", "sacn_pipeline"), exist_ok=True)
for name, data in pipelines.items():
    with open(os.path.join(here, "corpus", "sacn_pipeline", name), "wb") as f:
        f.write(data)
print(f"wrote {len(packets)} packet seeds, {len(scenarios)} receiver seeds, {len(pipelines)} pipeline seeds")
