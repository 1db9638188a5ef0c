#!/usr/bin/env python3
"""Writes seed corpora for the MQTT fuzz targets: packets of every type in both versions,
written by hand from the MQTT 3.1.1 and 5.0 specifications (the same examples as the golden
tests in crates/mqtt/src/wire/tests.rs), and client scenarios made of them.

Run from anywhere: python3 fuzz/seed_mqtt.py
"""
import os

here = os.path.dirname(os.path.abspath(__file__))


def s(text):
    b = text.encode()
    return bytes([len(b) >> 8, len(b) & 0xFF]) + b


def pkt(first, body):
    n, enc = len(body), bytearray()
    while True:
        byte, n = n % 128, n // 128
        enc.append(byte | (0x80 if n else 0))
        if not n:
            break
    return bytes([first]) + bytes(enc) + body


packets = {
    "v3_connect_will": pkt(0x10, s("MQTT") + b"\x04\xce\x00\x0a" + s("c") + s("w") + s("x") + s("u") + s("p")),
    "v5_connect_expiry": pkt(0x10, s("MQTT") + b"\x05\xce\x00\x0a\x05\x11\x00\x00\x00\x0a" + s("c") + b"\x00" + s("w") + s("x") + s("u") + s("p")),
    "v3_connack": pkt(0x20, b"\x01\x00"),
    "v3_connack_refused": pkt(0x20, b"\x00\x01"),
    "v5_connack_props": pkt(0x20, b"\x01\x00\x0d\x21\x00\x14\x13\x00\x05\x12" + s("id") + b"\x24\x01"),
    "v5_connack_refused": pkt(0x20, b"\x00\x84\x00"),
    "v3_publish_qos0": pkt(0x30, s("a/b") + b"0.5"),
    "v3_publish_qos1_retain": pkt(0x33, s("a/b") + b"\x00\x0a" + b"1"),
    "v3_publish_qos2_dup": pkt(0x3C, s("a/b") + b"\x00\x0a"),
    "v5_publish_pfi": pkt(0x32, s("a/b") + b"\x00\x0a\x02\x01\x01" + b"1"),
    "v5_publish_subids": pkt(0x3D, s("a/b") + b"\x00\x0a\x05\x0b\x01\x0b\xc8\x01"),
    "v5_publish_alias": pkt(0x30, s("") + b"\x03\x23\x00\x03"),
    "v5_publish_user": pkt(0x30, s("t") + b"\x07\x26" + s("k") + s("v") + b"x"),
    "puback": pkt(0x40, b"\x00\x0a"),
    "v5_puback_reason_string": pkt(0x40, b"\x00\x0a\x87\x05\x1f" + s("no")),
    "pubrec": pkt(0x50, b"\x00\x0a\x10"),
    "pubrel": pkt(0x62, b"\x00\x0a"),
    "pubcomp": pkt(0x70, b"\x00\x0a\x92"),
    "v3_subscribe": pkt(0x82, b"\x00\x0a" + s("a/b") + b"\x01" + s("c/d") + b"\x02"),
    "v5_subscribe": pkt(0x82, b"\x00\x0a\x02\x0b\x07" + s("a/b") + b"\x05" + s("c/+") + b"\x28"),
    "v3_suback": pkt(0x90, b"\x00\x0a\x00\x02\x80"),
    "v5_suback": pkt(0x90, b"\x00\x0a\x00\x00\x01\xa2"),
    "v3_unsubscribe": pkt(0xA2, b"\x00\x0a" + s("a/b") + s("c/d")),
    "v5_unsubscribe": pkt(0xA2, b"\x00\x0a\x00" + s("a/#")),
    "v3_unsuback": pkt(0xB0, b"\x00\x0a"),
    "v5_unsuback": pkt(0xB0, b"\x00\x0a\x00\x00\x11"),
    "pingreq": pkt(0xC0, b""),
    "pingresp": pkt(0xD0, b""),
    "disconnect": pkt(0xE0, b""),
    "v5_disconnect_expiry": pkt(0xE0, b"\x00\x05\x11\x00\x00\x00\x00"),
    "v5_auth": pkt(0xF0, b"\x18\x08\x15" + s("SCRAM")),
    "stream_two": pkt(0xD0, b"") + pkt(0x30, s("x") + b"7"),
    "large_publish": pkt(0x30, s("t") + b"7" * 200),
}
os.makedirs(os.path.join(here, "corpus", "mqtt_packet"), exist_ok=True)
for name, p in packets.items():
    with open(os.path.join(here, "corpus", "mqtt_packet", name), "wb") as f:
        f.write(p)


def rec(op, body=b""):
    """A mqtt_client record: op (0 input, 1 clock, 2 publish, 3 reconnect), length, bytes."""
    return bytes([op, len(body)]) + body


def clock(steps):
    return bytes([1, steps])


scenarios = {
    "messages": rec(0, packets["v3_publish_qos0"]) + rec(0, pkt(0x32, s("a/x") + b"\x00\x05" + b"0.5"))
    + rec(0, pkt(0x34, s("b") + b"\x00\x06" + b"on")) + rec(0, packets["pubrel"][:2] + b"\x00\x06"),
    "publish_each_qos": rec(2, b"0.1") + rec(6, b"0.2") + rec(10, b"0.3")
    + rec(0, pkt(0x40, b"\x00\x02")) + rec(0, pkt(0x50, b"\x00\x03")) + rec(0, pkt(0x70, b"\x00\x03")),
    "keepalive": clock(100) + rec(0, packets["pingresp"]) + clock(100) + clock(100),
    "reconnect_republish": rec(6, b"1") + rec(3) + rec(2, b"x") + rec(3, b"\x00\x00") + clock(5),
    "server_disconnect": rec(0, pkt(0xE0, b"\x8b")) + clock(10) + rec(3),
    "split": rec(0, packets["v3_publish_qos1_retain"][:3]) + rec(0, packets["v3_publish_qos1_retain"][3:]),
}
os.makedirs(os.path.join(here, "corpus", "mqtt_client"), exist_ok=True)
for name, data in scenarios.items():
    with open(os.path.join(here, "corpus", "mqtt_client", name), "wb") as f:
        f.write(data)
