#!/usr/bin/env python3
"""Writes seed corpora for the OSC fuzz targets (osc_packet, osc_framing, osc_pipeline).

Packets come from python-osc's builders (every type it has, nested bundles) plus hand-built
bytes for the types it lacks (S, c, I, t), address patterns, and one malformed packet per
kind of rule. Run from the repository root: python3 fuzz/seed_osc.py (needs python-osc).
"""
import os
import struct

from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.parsing import osc_types

here = os.path.dirname(os.path.abspath(__file__))


def msg(address, *args):
    b = OscMessageBuilder(address=address)
    for v, t in args:
        b.add_arg(v, t)
    return b.build()


def bundle(time, *contents):
    b = OscBundleBuilder(time)
    for c in contents:
        b.add_content(c)
    return b.build()


def pad(b):
    return b + b"\0" * (4 - len(b) % 4)


now = osc_types.IMMEDIATELY
packets = {
    "all_types": msg("/another/address/1", (4, "i"), (-(2**40), "h"), (0.5, "f"), (1e-300, "d"),
                     ("text", "s"), (b"\x01\x02\x03", "b"), (True, "T"), (False, "F"),
                     (None, "N"), ((1, 0x90, 60, 127), "m"), (0xFFC02A0D, "r"),
                     ([42, [1.5, 2.5], "x"], ["i", ["f", "f"], "s"])).dgram,
    "no_args": msg("/xremote").dgram,
    "fader": msg("/1/fader1", (0.75, "f")).dgram,
    "fader10_int": msg("/1/fader10", (200, "i")).dgram,
    "xy": msg("/1/xy1", (0.25, "f"), (0.5, "f")).dgram,
    "hash": msg("/ch/#01/mix", (0.5, "f")).dgram,
    "pattern_star": msg("/1/fader*", (1.0, "f")).dgram,
    "pattern_star_segment": msg("/*/fader1", (1.0, "f")).dgram,
    "pattern_class": msg("/[12]/fader?", (0.0, "f")).dgram,
    "pattern_negated": msg("/[!2]/fader[!2-9]", (0.0, "f")).dgram,
    "pattern_braces": msg("/{a,ab}/b", (1, "i")).dgram,
    "pattern_multi": msg("/4/multifader*/*", (0.5, "f")).dgram,
    "pattern_hash": msg("/ch/#0[1-2]/mix", (0.5, "f")).dgram,
    "pattern_unclosed": msg("/1/fader[", (0.5, "f")).dgram,
    "pattern_unclosed_brace": msg("/a{b", (0.5, "f")).dgram,
    "pattern_star_run": msg("/*a*b*c*", (0.5, "f")).dgram,
    "liblo_types": pad(b"/a/b") + pad(b",SctI") + pad(b"sym") + struct.pack(">I", ord("x"))
                   + struct.pack(">Q", (3208988800 << 32) | 0x80000000),
    "no_type_tags": pad(b"/a"),
    "bundle_nested": bundle(now, msg("/view/1"),
                            msg("/1/fader2", (0.9, "f")),
                            bundle(1_000_000_000.5, msg("/2/push1", (1.0, "f")),
                                   bundle(now, msg("/a/b/c", (True, "T"))))).dgram,
    "bundle_empty": bundle(now).dgram,
}

# Eight bundles deep (the limit) and nine (one too many).
deep = msg("/a")
for _ in range(8):
    deep = bundle(now, deep)
packets["bundle_depth_8"] = deep.dgram
packets["bundle_depth_9"] = bundle(now, deep).dgram

# Malformed: one per kind of rule.
good = msg("/a", (1, "i")).dgram
packets.update({
    "bad_unaligned": b"/a\0",
    "bad_padding": b"/a\0x,i\0\0\0\0\0\x01",
    "bad_untyped": b"/a\0\0\0\0\0\x01",
    "bad_unknown_tag": b"/a\0\0,x\0\0\0\0\0\x01",
    "bad_truncated": b"/a\0\0,h\0\0\0\0\0\x01",
    "bad_blob": b"/a\0\0,b\0\0\0\0\0\x05abcd",
    "bad_array": b"/a\0\0,[\0\0",
    "bad_trailing": good + b"\0\0\0\0",
    "bad_element": b"#bundle\0" + b"\0" * 7 + b"\x01" + struct.pack(">i", 8) + b"/a\0\0",
})

out = os.path.join(here, "corpus", "osc_packet")
os.makedirs(out, exist_ok=True)
for name, data in packets.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


def slip(p):
    e = p.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc")
    return b"\xc0" + e + b"\xc0"


def prefixed(p):
    return struct.pack(">I", len(p)) + p


# osc_framing input: a control byte (frame limit in the low 6 bits, chunk size in the top 2),
# then the stream.
stream_packets = [packets["fader"], packets["bundle_nested"], packets["all_types"], b"\xc0\xdb"]
streams = {
    "slip": bytes([0xFF]) + b"".join(slip(p) for p in stream_packets),
    "slip_small_chunks": bytes([0x3F]) + b"".join(slip(p) for p in stream_packets),
    "slip_too_long": bytes([0x02]) + b"".join(slip(p) for p in stream_packets),
    "slip_bad_escape": bytes([0xFF]) + b"\xc0/a\xdb\x01\0\xc0" + slip(packets["fader"]),
    "length_prefix": bytes([0xBF]) + b"".join(prefixed(p) for p in stream_packets),
    "length_prefix_too_long": bytes([0x43]) + b"".join(prefixed(p) for p in stream_packets),
}
out = os.path.join(here, "corpus", "osc_framing")
os.makedirs(out, exist_ok=True)
for name, data in streams.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

# osc_pipeline input: records [op, len_hi, len_lo, bytes]: op even a datagram to an instance with
# root /r (crates/backends/src/osc/fuzz.rs), op odd the clock moving len ms.
def dgram(p):
    return bytes([0]) + struct.pack(">H", len(p)) + p


def step(ms):
    return bytes([1]) + struct.pack(">H", ms)


NOW_UNIX = 1_700_000_000  # the fixture's wall clock at its start
pipeline = {
    "faders": dgram(msg("/r/f1", (0.5, "f")).dgram) + dgram(msg("/r/f2", (1.0, "f")).dgram),
    "types": b"".join(dgram(p) for p in [
        msg("/r/xy", (0.25, "f"), (0.75, "f")).dgram, msg("/r/i1", (200, "i")).dgram,
        msg("/r/w", (40000, "i")).dgram, msg("/r/m", ((0, 0xB0, 7, 100), "m")).dgram,
        msg("/r/s", ("2.5", "s")).dgram, msg("/r/t", (True, "T")).dgram, msg("/r/n").dgram,
        msg("/r/h", (512, "h"), (0.25, "d")).dgram, msg("/r/u", (0.5, "f"), (1, "i"), ("x", "s"),
                                                      (0.1, "d")).dgram,
        msg("/r/c#1", (0.5, "f")).dgram]),
    "patterns": b"".join(dgram(msg(a, (0.5, "f")).dgram) for a in
                         ["/r/f*", "/r/f[12]", "/*/f1", "/r/{f1,xy}", "/r/f*", "/r/x?"]),
    "outside_and_wrong": dgram(msg("/q/f1", (0.5, "f")).dgram) + dgram(msg("/r/xy", (0.5, "f")).dgram),
    "bundle_later": dgram(bundle(NOW_UNIX + 0.5, msg("/r/f1", (0.2, "f")),
                                 bundle(osc_types.IMMEDIATELY, msg("/r/f2", (0.3, "f")))).dgram)
                    + step(400) + step(200),
    "junk": dgram(b"/r/f1\0\0\0,f\0\0") + dgram(b"#bundle\0") + step(1),
}
out = os.path.join(here, "corpus", "osc_pipeline")
os.makedirs(out, exist_ok=True)
for name, data in pipeline.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"{len(packets)} osc_packet seeds, {len(streams)} osc_framing seeds, {len(pipeline)} osc_pipeline seeds")
