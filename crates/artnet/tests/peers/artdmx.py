#!/usr/bin/env python3
"""Builds ArtDmx and ArtSync packets with two independent Python implementations, stupidArtnet
and pyartnet, without opening a socket: socket.socket is replaced before either library is
imported, and the replacement records what would have been sent.

stdin: a JSON list of cases {"lib", "universe" (15-bit), "net", "subnet", "uni", "sequence",
"slots" (hex), "simplified" (stupidArtnet), "even" (stupidArtnet)}.
stdout: a JSON list with the hex of every packet built, in order, then one ArtSync from each
library as {"lib": "...-sync", "hex": ...}.
"""
import json
import socket
import sys


class FakeSocket:
    """Records sendto; any other use of the network fails."""

    sent = []

    def __init__(self, *args, **kwargs):
        pass

    def setsockopt(self, *args):
        pass

    def sendto(self, data, addr):
        FakeSocket.sent.append(bytes(data))

    def close(self):
        pass

    def bind(self, *args):
        raise RuntimeError("no socket may be bound in this test")

    def connect(self, *args):
        raise RuntimeError("no socket may be connected in this test")


socket.socket = FakeSocket

import pyartnet  # noqa: E402  (after the socket replacement on purpose)
from stupidArtnet import StupidArtnet  # noqa: E402


class FakeTarget:
    """The only thing pyartnet's ArtNetNode reads from its network target."""

    dst = ("192.0.2.1", 6454)


def stupid(case):
    slots = bytes.fromhex(case["slots"])
    a = StupidArtnet("192.0.2.1", case["universe"], len(slots), 30, case["even"], False)
    if not case["simplified"]:
        a.is_simplified = False
        a.net = case["net"]
        a.subnet = case["subnet"]
        a.universe = case["uni"]
    a.sequence = case["sequence"]
    a.make_artdmx_header()
    buf = bytearray(a.packet_size)
    buf[: len(slots)] = slots
    a.set(buf)
    FakeSocket.sent.clear()
    a.show()
    return FakeSocket.sent[0]


def pyartnet_dmx(case):
    slots = bytes.fromhex(case["slots"])
    node = pyartnet.ArtNetNode(FakeTarget())
    node._socket = FakeSocket()
    # pyartnet counts 1..255 from 1; advance it to the wanted number.
    for _ in range(case["sequence"] - 1):
        node._sequence_ctr.value
    FakeSocket.sent.clear()
    node._send_universe(case["universe"], len(slots), bytearray(slots), None)
    return FakeSocket.sent[0]


def syncs():
    a = StupidArtnet("192.0.2.1", 0, 2, 30, True, False, artsync=True)
    FakeSocket.sent.clear()
    a.send_artsync()
    s1 = FakeSocket.sent[0]
    node = pyartnet.ArtNetNode(FakeTarget(), refresh_every=1)
    node._socket = FakeSocket()
    node.set_synchronous_mode(True)
    FakeSocket.sent.clear()
    node._send_synchronization()
    return s1, FakeSocket.sent[0]


out = []
for case in json.load(sys.stdin):
    build = stupid if case["lib"] == "stupidArtnet" else pyartnet_dmx
    out.append({"lib": case["lib"], "hex": build(case).hex()})
s1, s2 = syncs()
out.append({"lib": "stupidArtnet-sync", "hex": s1.hex()})
out.append({"lib": "pyartnet-sync", "hex": s2.hex()})
json.dump(out, sys.stdout)
