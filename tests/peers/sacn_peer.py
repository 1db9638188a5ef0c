#!/usr/bin/env python3
"""An independent sACN peer for patchbay's integration tests, built on the pip package `sacn` (1.11.0).

Driven by one JSON object per line on stdin; answers one line per command on stdout, and reports
received data as it arrives. Output lines are space-separated tokens (easy to read from Rust):

    ok CMD                                        command done
    err CMD MESSAGE...                            command failed
    dmx UNIVERSE PRIORITY SEQ TERMINATED CID HEX  sACNreceiver saw new data (HEX = the 512 slots)
    avail UNIVERSE available|timeout              sACNreceiver availability change

Commands ("op"):
    sender    {id, bind, port=0, cid=[16 ints], name, fps=30}   start an sACNsender
    output    {id, universe, priority=100, multicast=true, destination=null}  activate an output
    dmx       {id, universe, data=[ints]}                     set the output's slots (padded to 512)
    preview   {id, universe, on}   set the Preview_Data option of the output
    pap       {id, universe, data=[ints]}  per-address priorities (start code 0xDD packets), 512 values
    terminate {id, universe}     deactivate_output: three Stream_Terminated packets, then stop sending
    stop      {id}               stop the sender thread silently (no termination: network data loss)
    receiver  {bind, port=5568, universes=[...], join=true, raw=false}  start an sACNreceiver;
              with raw, every datagram it reads is also reported as `raw HEX`
    quit
The senders bind to port 0 by default: a socket bound to the wildcard address on 5568 would take
unicast meant for patchbay (Linux gives unicast to the most recently bound SO_REUSEADDR socket).
"""
import importlib.metadata
import json
import sys
import threading

try:
    import sacn
    _version = importlib.metadata.version("sacn")
except ImportError:
    sys.exit("tests/peers/sacn_peer.py: the python package `sacn` is missing: run scripts/setup")
if _version != "1.11.0":
    sys.exit(f"tests/peers/sacn_peer.py: python `sacn` is {_version}, the tests need 1.11.0: run scripts/setup")

_out = threading.Lock()


def emit(*tokens):
    with _out:
        sys.stdout.write(" ".join(str(t) for t in tokens) + "\n")
        sys.stdout.flush()


senders = {}
receivers = []


def pad(data):
    data = [int(x) for x in data][:512]
    return tuple(data + [0] * (512 - len(data)))


def on_packet(packet):
    cid = bytes(packet.cid).hex()
    emit("dmx", packet.universe, packet.priority, packet.sequence,
         int(bool(packet.option_StreamTerminated)), cid, bytes(pad(packet.dmxData)).hex())


def on_availability(universe, changed):
    emit("avail", universe, changed)


def run(c):
    op = c["op"]
    if op == "sender":
        s = sacn.sACNsender(bind_address=c.get("bind", "127.0.0.1"), bind_port=c.get("port", 0),
                            source_name=c.get("name", "python sacn peer"), cid=tuple(c["cid"]),
                            fps=c.get("fps", 30), universeDiscovery=c.get("discovery", False))
        s.start()
        senders[c["id"]] = s
    elif op == "output":
        s = senders[c["id"]]
        u = c["universe"]
        s.activate_output(u)
        s[u].priority = c.get("priority", 100)
        s[u].multicast = c.get("multicast", True)
        if c.get("destination"):
            s[u].destination = c["destination"]
    elif op == "dmx":
        senders[c["id"]][c["universe"]].dmx_data = pad(c["data"])
    elif op == "preview":
        senders[c["id"]][c["universe"]].preview_data = bool(c["on"])
    elif op == "pap":
        senders[c["id"]][c["universe"]].per_address_priority = pad(c["data"])
    elif op == "terminate":
        senders[c["id"]].deactivate_output(c["universe"])
    elif op == "stop":
        senders.pop(c["id"]).stop()
    elif op == "receiver":
        r = sacn.sACNreceiver(bind_address=c.get("bind", "127.0.0.1"), bind_port=c.get("port", 5568))
        r.register_listener("availability", on_availability)
        if c.get("raw", False):
            handler = r._handler  # the socket calls handler.on_data(bytes, time) for every datagram
            inner = handler.on_data

            def on_data(data, now, inner=inner):
                emit("raw", bytes(data).hex())
                inner(data, now)
            handler.on_data = on_data
        for u in c["universes"]:
            r.register_listener("universe", on_packet, universe=u)
            if c.get("join", True):
                r.join_multicast(u)
        r.start()
        receivers.append(r)
    elif op == "quit":
        return False
    else:
        raise ValueError(f"unknown op {op!r}")
    return True


def main():
    go = True
    for line in sys.stdin:
        if not line.strip():
            continue
        c = json.loads(line)
        try:
            go = run(c)
            emit("ok", c["op"])
        except Exception as e:  # reported to the test, which fails with the message
            emit("err", c.get("op"), repr(e).replace("\n", " "))
        if not go:
            break
    for s in senders.values():
        s.stop()
    for r in receivers:
        r.stop()


if __name__ == "__main__":
    main()
