#!/usr/bin/env python3
"""python-osc as an independent peer for crates/osc/tests/python_osc.rs, without sockets.

stdin: {"mode": "build", "packets": [SPEC...]}  -> stdout: ["hex", ...]
       {"mode": "parse", "packets": ["hex", ...]} -> stdout: [DESCRIPTION, ...]

SPEC = {"message": {"address": A, "args": [ARG...]}}
     | {"bundle": {"time": "immediately" | {"unix": SECONDS}, "elements": [SPEC...]}}
ARG  = {"t": TYPE, "v": VALUE}, arrays {"t": "[", "v": [ARG...]}

Building uses OscMessageBuilder / OscBundleBuilder; parsing uses OscPacket (which must accept
the datagram) and OscBundle / OscMessage for the structure. Needs python-osc 1.10.2.
"""
import datetime
import json
import struct
import sys

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.osc_packet import OscPacket
from pythonosc.parsing import osc_types


def value_and_type(arg):
    t = arg["t"]
    if t == "[":
        items = [value_and_type(a) for a in arg["v"]]
        return [v for v, _ in items], [ty for _, ty in items]
    v = arg.get("v")
    if t == "b":
        v = bytes.fromhex(v)
    elif t == "m":
        v = tuple(v)
    elif t in "TFN":
        v = {"T": True, "F": False, "N": None}[t]
    return v, t


def build(spec):
    if "message" in spec:
        m = spec["message"]
        b = OscMessageBuilder(address=m["address"])
        for a in m["args"]:
            v, t = value_and_type(a)
            b.add_arg(v, t)
        return b.build()
    bundle = spec["bundle"]
    time = bundle["time"]
    b = OscBundleBuilder(osc_types.IMMEDIATELY if time == "immediately" else time["unix"])
    for e in bundle["elements"]:
        b.add_content(build(e))
    return b.build()


NTP_EPOCH = datetime.datetime(1900, 1, 1)


def describe_arg(v):
    if isinstance(v, bool):
        return {"bool": v}
    if v is None:
        return {"nil": None}
    if isinstance(v, int):
        return {"int": v}
    if isinstance(v, float):
        # The bits of the double, so no decimal conversion can blur the comparison.
        return {"float": struct.pack(">d", v).hex()}
    if isinstance(v, str):
        return {"str": v}
    if isinstance(v, bytes):
        return {"blob": v.hex()}
    if isinstance(v, list):
        return {"array": [describe_arg(x) for x in v]}
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], datetime.datetime):
        seconds = (v[0] - NTP_EPOCH) // datetime.timedelta(seconds=1)
        return {"time": [seconds, v[1]]}
    if isinstance(v, tuple):
        return {"midi": list(v)}
    raise ValueError(f"unexpected parameter {v!r}")


def describe(dgram):
    if OscBundle.dgram_is_bundle(dgram):
        b = OscBundle(dgram)
        return {
            "bundle": {
                "time": dgram[8:16].hex(),
                "elements": [describe(c.dgram) for c in b],
            }
        }
    m = OscMessage(dgram)
    return {"message": {"address": m.address, "args": [describe_arg(p) for p in m.params]}}


def main():
    request = json.load(sys.stdin)
    if request["mode"] == "build":
        out = [build(p).dgram.hex() for p in request["packets"]]
    else:
        out = []
        for h in request["packets"]:
            dgram = bytes.fromhex(h)
            # OscPacket is python-osc's entry point for received datagrams; it must accept it.
            packet = OscPacket(dgram)
            d = describe(dgram)
            d["messages"] = len(packet.messages)
            out.append(d)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
