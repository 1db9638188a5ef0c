#!/usr/bin/env python3
"""python-osc on the network, for tests/osc.rs (the osc backend through the binary).

  osc_peer.py send HOST PORT   stdin: [SPEC, ...]; each packet built by python-osc's builders
                               and sent as one datagram, 20 ms apart
  osc_peer.py serve PORT IDLE  binds 127.0.0.1:PORT, prints "ready", then one JSON line per
                               datagram received (python-osc's OscPacket must accept it; the
                               line describes it as python-osc reads it), until IDLE seconds
                               pass without one
  osc_peer.py tcp-send HOST PORT   as send, over TCP with python-osc's TCPClient in mode 1.1
                               (SLIP framing)
  osc_peer.py tcp-serve PORT IDLE  listens on 127.0.0.1:PORT, prints "ready", accepts one
                               connection and prints one JSON line per SLIP frame (split at END
                               bytes, unescaped by python-osc's slip.decode) as serve does

SPEC and the descriptions are those of crates/osc/tests/peers/python_osc_peer.py (imported, so
both tests read python-osc the same way). Needs python-osc 1.10.2.
"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../crates/osc/tests/peers"))
from python_osc_peer import build, describe  # noqa: E402
from pythonosc import slip  # noqa: E402
from pythonosc.osc_packet import OscPacket  # noqa: E402
from pythonosc.tcp_client import TCPClient  # noqa: E402


def main():
    mode = sys.argv[1]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if mode == "send":
        host, port = sys.argv[2], int(sys.argv[3])
        for spec in json.load(sys.stdin):
            s.sendto(build(spec).dgram, (host, port))
            time.sleep(0.02)
    elif mode == "serve":
        port, idle = int(sys.argv[2]), float(sys.argv[3])
        s.bind(("127.0.0.1", port))
        s.settimeout(idle)
        print("ready", flush=True)
        while True:
            try:
                dgram = s.recv(65536)
            except socket.timeout:
                break
            OscPacket(dgram)
            print(json.dumps(describe(dgram)), flush=True)
    elif mode == "tcp-send":
        client = TCPClient(sys.argv[2], int(sys.argv[3]), mode="1.1")
        for spec in json.load(sys.stdin):
            client.send(build(spec))
            time.sleep(0.02)
        time.sleep(0.2)
        client.close()
    elif mode == "tcp-serve":
        port, idle = int(sys.argv[2]), float(sys.argv[3])
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1)
        listener.settimeout(idle)
        print("ready", flush=True)
        conn, _ = listener.accept()
        conn.settimeout(idle)
        pending = b""
        while True:
            try:
                data = conn.recv(65536)
            except socket.timeout:
                break
            if not data:
                break
            pending += data
            *frames, pending = pending.split(slip.END)
            for f in frames:
                if f:
                    dgram = slip.decode(slip.END + f + slip.END)
                    OscPacket(dgram)
                    print(json.dumps(describe(dgram)), flush=True)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
