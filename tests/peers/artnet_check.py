#!/usr/bin/env python3
"""A strict Art-Net 4 parser written from the specification (Art-Net 4, Artistic Licence),
independent of patchbay's crates/artnet: the integration tests hand it every datagram patchbay
sent and expect zero errors.

stdin: one datagram per line, as hex. stdout: one JSON object per line: {"op": "dmx" | "poll" |
"poll_reply" | "sync" | "other", "errors": [...], and the fields of the packet}.
"""
import json
import struct
import sys

ID = b"Art-Net\x00"
OP_POLL, OP_REPLY, OP_DMX, OP_SYNC = 0x2000, 0x2100, 0x5000, 0x5200


def text(field, name, errors):
    if b"\x00" not in field:
        errors.append(f"{name} is not NUL-terminated")
        return field.decode("latin-1")
    return field.split(b"\x00", 1)[0].decode("latin-1")


def parse(b):
    errors = []
    out = {"errors": errors, "op": "other", "len": len(b)}
    if len(b) < 10 or b[:8] != ID:
        errors.append("not Art-Net (ID)")
        return out
    (op,) = struct.unpack_from("<H", b, 8)
    if op == OP_DMX:
        out["op"] = "dmx"
        if len(b) < 18:
            errors.append("ArtDmx shorter than 18 bytes")
            return out
        ver = struct.unpack_from(">H", b, 10)[0]
        if ver != 14:
            errors.append(f"ProtVer {ver}, not 14")
        seq, phys, subuni, net = b[12], b[13], b[14], b[15]
        (length,) = struct.unpack_from(">H", b, 16)
        if net > 127:
            errors.append(f"Net {net} > 127")
        if length < 2 or length > 512 or length % 2:
            errors.append(f"Length {length} not even in 2..512")
        if len(b) != 18 + length:
            errors.append(f"datagram of {len(b)} bytes for Length {length}")
        out.update(
            sequence=seq,
            physical=phys,
            port_address=(net << 8) | subuni,
            length=length,
            slots=b[18 : 18 + length].hex(),
        )
    elif op == OP_POLL:
        out["op"] = "poll"
        if len(b) < 14:
            errors.append("ArtPoll shorter than 14 bytes")
        if len(b) >= 12 and struct.unpack_from(">H", b, 10)[0] < 14:
            errors.append("ProtVer below 14")
        out["flags"] = b[12] if len(b) > 12 else None
    elif op == OP_SYNC:
        out["op"] = "sync"
        if len(b) != 14:
            errors.append(f"ArtSync of {len(b)} bytes, not 14")
        elif struct.unpack_from(">H", b, 10)[0] != 14:
            errors.append("ProtVer not 14")
        elif b[12] or b[13]:
            errors.append("Aux bytes not 0")
    elif op == OP_REPLY:
        out["op"] = "poll_reply"
        if len(b) != 239:
            errors.append(f"ArtPollReply of {len(b)} bytes, not 239 (Art-Net 4)")
            if len(b) < 207:
                return out
        b = b + bytes(239 - len(b)) if len(b) < 239 else b
        ip = ".".join(str(x) for x in b[10:14])
        (port,) = struct.unpack_from("<H", b, 14)
        if port != 0x1936:
            errors.append(f"Port {port:#x}, not 0x1936")
        net_switch, sub_switch = b[18], b[19]
        if net_switch > 127:
            errors.append("NetSwitch > 127")
        if sub_switch > 15:
            errors.append("SubSwitch > 15")
        short = text(b[26:44], "ShortName", errors)
        long_name = text(b[44:108], "LongName", errors)
        report = text(b[108:172], "NodeReport", errors)
        if report and not report.startswith("#"):
            errors.append("NodeReport does not start with #xxxx")
        (num_ports,) = struct.unpack_from(">H", b, 172)
        if num_ports > 4:
            errors.append(f"NumPorts {num_ports} > 4")
        ports = []
        for i in range(min(num_ports, 4)):
            t = b[174 + i]
            sw_in, sw_out = b[186 + i], b[190 + i]
            if sw_in > 15 or sw_out > 15:
                errors.append(f"SwIn/SwOut of port {i} above 15")
            ports.append(
                {
                    "output": bool(t & 0x80),
                    "input": bool(t & 0x40),
                    "protocol": t & 0x3F,
                    "port_address_in": (net_switch << 8) | (sub_switch << 4) | sw_in,
                    "port_address_out": (net_switch << 8) | (sub_switch << 4) | sw_out,
                }
            )
        out.update(
            ip=ip,
            short_name=short,
            long_name=long_name,
            report=report,
            ports=ports,
            bind_ip=".".join(str(x) for x in b[207:211]),
            bind_index=b[211],
            status2=b[212],
        )
        if ports and not b[212] & 0x08:
            errors.append("Status2 does not announce 15-bit Port-Addresses")
    else:
        out["opcode"] = op
    return out


for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    print(json.dumps(parse(bytes.fromhex(line))), flush=True)
