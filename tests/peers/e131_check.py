#!/usr/bin/env python3
"""A strict ANSI E1.31-2018 (sACN) packet checker and builder, independent of patchbay's Rust code.

It is written from the standard's packet tables (E1.31-2018 sections 4 to 8 and Table 4-1,
Table 4-2, Table 4-3) and nothing else, so it can catch a mistake that patchbay's own parser
and builder share. The Rust tests use it in two ways:

* as a module (`import e131_check`): `parse(datagram)` returns a dict with the decoded fields
  and a list of "errors" (every rule a transmitter breaks); `build_data`, `build_sync` and
  `build_discovery` build packets the standard's way, for the other direction of the check;
* as a line-oriented process (`python3 e131_check.py`), one request per stdin line and one
  answer line each:

      parse HEX
          -> kind=K len=N errors=N [cid= universe= seq= options= priority= sync= start=
             slots=HEX name_hex=] [universes=1,2 page= last= name_hex=] [seq= sync=]
             [| error; error...]
      build CIDHEX NAMEHEX UNIVERSE SEQ PRIORITY OPTIONS [SLOTSHEX]
          -> HEX of build_data(...)

What a packet must be to pass (a transmitter's duties; a receiver may be more lenient):
  root layer     preamble 0x0010, postamble 0x0000, ACN packet identifier "ASC-E1.17\\0\\0\\0",
                 flags 0x7 and a PDU length that reaches exactly to the end of the datagram,
                 vector 0x00000004 (data) or 0x00000008 (extended: sync, discovery)
  data           datagram 126..638 bytes; framing vector 0x00000002; source name UTF-8,
                 NUL-terminated, zero after the NUL; priority 0..200; synchronization address
                 0..63999; reserved option bits (4..0) clear; universe 1..63999; DMP vector
                 0x02, address and data type 0xa1, first property address 0, increment 1,
                 property value count 1..513 and equal to the bytes present
  sync           exactly 49 bytes; framing vector 0x00000001; flags 0x7 and length 11;
                 synchronization address 1..63999; reserved bytes zero
  discovery      datagram 120..1144 bytes, an even number; framing vector 0x00000002; source
                 name as for data; reserved bytes zero; discovery-layer flags 0x7 and length
                 to the end; list vector 0x00000001; page <= last page; 0..512 universes, each
                 1..63999, strictly ascending
"""
import struct
import sys
import uuid

PORT = 5568
ACN_PACKET_IDENTIFIER = b"ASC-E1.17\x00\x00\x00"

VECTOR_ROOT_E131_DATA = 0x00000004
VECTOR_ROOT_E131_EXTENDED = 0x00000008
VECTOR_E131_DATA_PACKET = 0x00000002
VECTOR_E131_EXTENDED_SYNCHRONIZATION = 0x00000001
VECTOR_E131_EXTENDED_DISCOVERY = 0x00000002
VECTOR_DMP_SET_PROPERTY = 0x02
VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST = 0x00000001
DISCOVERY_UNIVERSE = 64214

# Offsets (E1.31-2018 Table 4-1, 4-2, 4-3 and section 6.4): root layer, framing layer, the
# DMP layer of a data packet and the discovery layer of a discovery packet.
ROOT_FLAGS, ROOT_VECTOR, CID = 16, 18, 22
FRAMING_FLAGS, FRAMING_VECTOR, SOURCE_NAME = 38, 40, 44
PRIORITY, SYNC_ADDRESS, SEQUENCE, OPTIONS, UNIVERSE = 108, 109, 111, 112, 113
DMP_FLAGS, DMP_VECTOR, ADDRESS_TYPE, FIRST_ADDRESS, INCREMENT, COUNT, START_CODE = (
    115, 117, 118, 119, 121, 123, 125)
SYNC_SEQUENCE, SYNC_UNIVERSE, SYNC_RESERVED = 44, 45, 47
DISCOVERY_RESERVED, DISCOVERY_FLAGS, LIST_VECTOR, PAGE, LAST_PAGE, LIST = (
    108, 112, 114, 118, 119, 120)

DATA_HEADER = 126
MAX_SLOTS = 512
SYNC_LEN = 49
MAX_DISCOVERY_UNIVERSES = 512


def mcast_v4(universe):
    """IPv4 multicast group of a universe (E1.31-2018 section 9.3.1)."""
    return f"239.255.{universe >> 8}.{universe & 0xff}"


def _flags_length(length):
    return struct.pack(">H", 0x7000 | length)


def _name_field(name):
    """64 bytes: at most 63 bytes of UTF-8 (cut at a character boundary), then NULs."""
    raw = name.encode("utf-8")
    cut = min(len(raw), 63)
    while cut > 0 and cut < len(raw) and (raw[cut] & 0xC0) == 0x80:
        cut -= 1
    return raw[:cut].ljust(64, b"\x00")


def _root(total, vector, cid):
    cid = bytes(cid)
    if len(cid) != 16:
        raise ValueError("a CID is 16 bytes")
    return (struct.pack(">HH", 0x0010, 0x0000) + ACN_PACKET_IDENTIFIER
            + _flags_length(total - ROOT_FLAGS) + struct.pack(">I", vector) + cid)


def build_data(cid, name, universe, seq, slots, priority=100, sync=0, options=0, start_code=0):
    """A data packet (E1.31-2018 section 4.1) carrying START code `start_code` and `slots`."""
    slots = bytes(slots)
    total = DATA_HEADER + len(slots)
    return (_root(total, VECTOR_ROOT_E131_DATA, cid)
            + _flags_length(total - FRAMING_FLAGS) + struct.pack(">I", VECTOR_E131_DATA_PACKET)
            + _name_field(name)
            + struct.pack(">BHBBH", priority, sync, seq & 0xFF, options, universe)
            + _flags_length(total - DMP_FLAGS)
            + struct.pack(">BBHHH", VECTOR_DMP_SET_PROPERTY, 0xA1, 0x0000, 0x0001, len(slots) + 1)
            + bytes([start_code]) + slots)


def build_sync(cid, seq, sync_universe):
    """A synchronization packet (E1.31-2018 section 4.2)."""
    return (_root(SYNC_LEN, VECTOR_ROOT_E131_EXTENDED, cid)
            + _flags_length(SYNC_LEN - FRAMING_FLAGS)
            + struct.pack(">I", VECTOR_E131_EXTENDED_SYNCHRONIZATION)
            + struct.pack(">BHH", seq & 0xFF, sync_universe, 0))


def build_discovery(cid, name, universes, page=0, last_page=0):
    """A universe discovery packet (E1.31-2018 section 4.3) listing `universes` (sorted here)."""
    listed = sorted(universes)[:MAX_DISCOVERY_UNIVERSES]
    total = LIST + 2 * len(listed)
    return (_root(total, VECTOR_ROOT_E131_EXTENDED, cid)
            + _flags_length(total - FRAMING_FLAGS) + struct.pack(">I", VECTOR_E131_EXTENDED_DISCOVERY)
            + _name_field(name) + bytes(4)
            + _flags_length(total - DISCOVERY_FLAGS)
            + struct.pack(">IBB", VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST, page, last_page)
            + b"".join(struct.pack(">H", u) for u in listed))


class _Check:
    """Collects every broken rule of one datagram."""

    def __init__(self, raw):
        self.raw = raw
        self.errors = []

    def fail(self, text):
        self.errors.append(text)

    def u8(self, at):
        return self.raw[at]

    def u16(self, at):
        return struct.unpack_from(">H", self.raw, at)[0]

    def u32(self, at):
        return struct.unpack_from(">I", self.raw, at)[0]

    def pdu(self, at, layer):
        """A PDU's flags must be 0x7 and its length must reach to the end of the datagram."""
        word = self.u16(at)
        if word >> 12 != 0x7:
            self.fail(f"{layer} layer: flags 0x{word >> 12:x}, must be 0x7")
        want = len(self.raw) - at
        if word & 0x0FFF != want:
            self.fail(f"{layer} layer: PDU length {word & 0x0FFF}, the datagram leaves {want}")

    def vector(self, at, want, layer, width=4):
        got = self.u32(at) if width == 4 else self.u8(at)
        if got != want:
            self.fail(f"{layer} layer: vector 0x{got:0{2 * width}x}, must be 0x{want:0{2 * width}x}")
        return got

    def zero(self, start, end, what):
        if any(self.raw[start:end]):
            self.fail(f"{what} (bytes {start}..{end - 1}) must be zero: {self.raw[start:end].hex()}")

    def name(self):
        field = self.raw[SOURCE_NAME:SOURCE_NAME + 64]
        end = field.find(b"\x00")
        if end < 0:
            self.fail("source name is not NUL-terminated within its 64 bytes")
            end = 64
        elif any(field[end:]):
            self.fail("source name: bytes after the terminating NUL are not zero")
        try:
            return field[:end].decode("utf-8")
        except UnicodeDecodeError as e:
            self.fail(f"source name is not UTF-8: {e.reason} at byte {e.start}")
            return field[:end].decode("utf-8", "replace")


def parse(raw, with_slots=True):
    """Decodes one UDP payload and lists every rule it breaks; never raises."""
    raw = bytes(raw)
    c = _Check(raw)
    r = {"kind": "unknown", "len": len(raw), "errors": c.errors}
    if len(raw) < CID + 16:
        c.fail(f"{len(raw)} bytes: shorter than the root layer (38)")
        return r
    if c.u16(0) != 0x0010:
        c.fail(f"preamble size 0x{c.u16(0):04x}, must be 0x0010")
    if c.u16(2) != 0x0000:
        c.fail(f"postamble size 0x{c.u16(2):04x}, must be 0x0000")
    if raw[4:16] != ACN_PACKET_IDENTIFIER:
        c.fail(f"ACN packet identifier {raw[4:16].hex()}, must be {ACN_PACKET_IDENTIFIER.hex()}")
    c.pdu(ROOT_FLAGS, "root")
    root_vector = c.u32(ROOT_VECTOR)
    r["root_vector"] = root_vector
    r["cid"] = str(uuid.UUID(bytes=raw[CID:CID + 16]))
    if len(raw) < FRAMING_VECTOR + 4:
        c.fail(f"{len(raw)} bytes: no framing layer")
        return r
    framing_vector = c.u32(FRAMING_VECTOR)
    r["framing_vector"] = framing_vector
    if root_vector == VECTOR_ROOT_E131_DATA:
        _data(c, r, with_slots)
    elif root_vector == VECTOR_ROOT_E131_EXTENDED and framing_vector == VECTOR_E131_EXTENDED_SYNCHRONIZATION:
        _sync(c, r)
    elif root_vector == VECTOR_ROOT_E131_EXTENDED and framing_vector == VECTOR_E131_EXTENDED_DISCOVERY:
        _discovery(c, r)
    elif root_vector == VECTOR_ROOT_E131_EXTENDED:
        c.fail(f"framing layer: vector 0x{framing_vector:08x} is neither sync (1) nor discovery (2)")
    else:
        c.fail(f"root layer: vector 0x{root_vector:08x} is neither data (4) nor extended (8)")
    return r


def _data(c, r, with_slots):
    raw = c.raw
    r["kind"] = "data"
    if len(raw) < DATA_HEADER:
        c.fail(f"data packet of {len(raw)} bytes: shorter than its headers and START code (126)")
        return
    if len(raw) > DATA_HEADER + MAX_SLOTS:
        c.fail(f"data packet of {len(raw)} bytes: longer than 638 (512 slots)")
    c.pdu(FRAMING_FLAGS, "framing")
    c.vector(FRAMING_VECTOR, VECTOR_E131_DATA_PACKET, "framing")
    r["name"] = c.name()
    priority, sync, seq, options, universe = struct.unpack_from(">BHBBH", raw, PRIORITY)
    r.update(priority=priority, sync_universe=sync, seq=seq, options=options, universe=universe,
             preview=bool(options & 0x80), terminated=bool(options & 0x40),
             force_sync=bool(options & 0x20))
    if priority > 200:
        c.fail(f"priority {priority}: must be 0..200")
    if sync > 63999:
        c.fail(f"synchronization address {sync}: must be 0 (none) or 1..63999")
    if options & 0x1F:
        c.fail(f"options 0x{options:02x}: reserved bits 4..0 must be clear")
    if not 1 <= universe <= 63999:
        c.fail(f"universe {universe}: must be 1..63999")
    c.pdu(DMP_FLAGS, "DMP")
    c.vector(DMP_VECTOR, VECTOR_DMP_SET_PROPERTY, "DMP", width=1)
    if raw[ADDRESS_TYPE] != 0xA1:
        c.fail(f"DMP address and data type 0x{raw[ADDRESS_TYPE]:02x}, must be 0xa1")
    if c.u16(FIRST_ADDRESS) != 0:
        c.fail(f"DMP first property address {c.u16(FIRST_ADDRESS)}, must be 0")
    if c.u16(INCREMENT) != 1:
        c.fail(f"DMP address increment {c.u16(INCREMENT)}, must be 1")
    count = c.u16(COUNT)
    if not 1 <= count <= MAX_SLOTS + 1:
        c.fail(f"property value count {count}: must be 1..513")
    if count != len(raw) - START_CODE:
        c.fail(f"property value count {count}, but {len(raw) - START_CODE} bytes follow it")
    r["start_code"] = raw[START_CODE]
    r["slot_count"] = len(raw) - DATA_HEADER
    if with_slots:
        r["slots"] = list(raw[DATA_HEADER:])


def _sync(c, r):
    raw = c.raw
    r["kind"] = "sync"
    if len(raw) != SYNC_LEN:
        c.fail(f"sync packet of {len(raw)} bytes: must be 49")
        if len(raw) < SYNC_LEN:
            return
    c.pdu(FRAMING_FLAGS, "framing")
    r["seq"] = raw[SYNC_SEQUENCE]
    r["sync_universe"] = c.u16(SYNC_UNIVERSE)
    if not 1 <= r["sync_universe"] <= 63999:
        c.fail(f"synchronization address {r['sync_universe']}: must be 1..63999")
    c.zero(SYNC_RESERVED, SYNC_LEN, "sync reserved field")


def _discovery(c, r):
    raw = c.raw
    r["kind"] = "discovery"
    if len(raw) < LIST:
        c.fail(f"discovery packet of {len(raw)} bytes: shorter than its headers (120)")
        return
    if (len(raw) - LIST) % 2:
        c.fail(f"discovery packet of {len(raw)} bytes: the universe list has an odd length")
    c.pdu(FRAMING_FLAGS, "framing")
    r["name"] = c.name()
    c.zero(DISCOVERY_RESERVED, DISCOVERY_FLAGS, "discovery framing reserved field")
    c.pdu(DISCOVERY_FLAGS, "discovery")
    c.vector(LIST_VECTOR, VECTOR_UNIVERSE_DISCOVERY_UNIVERSE_LIST, "discovery")
    page, last = raw[PAGE], raw[LAST_PAGE]
    universes = [u for (u,) in struct.iter_unpack(">H", raw[LIST:LIST + (len(raw) - LIST) // 2 * 2])]
    r.update(page=page, last_page=last, universes=universes)
    if page > last:
        c.fail(f"page {page} after the last page {last}")
    if len(universes) > MAX_DISCOVERY_UNIVERSES:
        c.fail(f"{len(universes)} universes on one page: at most 512")
    bad = [u for u in universes if not 1 <= u <= 63999]
    if bad:
        c.fail(f"listed universes outside 1..63999: {bad[:8]}")
    if any(a >= b for a, b in zip(universes, universes[1:])):
        c.fail("universe list is not strictly ascending")


def describe(raw):
    """The one-line answer to `parse HEX`."""
    r = parse(raw)
    t = [f"kind={r['kind']}", f"len={r['len']}", f"errors={len(r['errors'])}"]
    if "cid" in r:
        t.append("cid=" + uuid.UUID(r["cid"]).bytes.hex())
    if r["kind"] == "data" and "universe" in r:
        t += [f"universe={r['universe']}", f"seq={r['seq']}", f"options={r['options']}",
              f"priority={r['priority']}", f"sync={r['sync_universe']}"]
        if "start_code" in r:
            t += [f"start={r['start_code']}", "slots=" + bytes(r["slots"]).hex()]
        t.append("name_hex=" + r["name"].encode().hex())
    elif r["kind"] == "discovery" and "universes" in r:
        t += ["universes=" + ",".join(str(u) for u in r["universes"]), f"page={r['page']}",
              f"last={r['last_page']}", "name_hex=" + r["name"].encode().hex()]
    elif r["kind"] == "sync" and "seq" in r:
        t += [f"seq={r['seq']}", f"sync={r['sync_universe']}"]
    if r["errors"]:
        t.append("| " + "; ".join(r["errors"]))
    return " ".join(t)


def main():
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        if w[0] == "parse":
            out = describe(bytes.fromhex(w[1] if len(w) > 1 else ""))
        elif w[0] == "build":
            cid, name = bytes.fromhex(w[1]), bytes.fromhex(w[2]).decode()
            universe, seq, priority, options = map(int, w[3:7])
            slots = bytes.fromhex(w[7]) if len(w) > 7 else b""
            out = build_data(cid, name, universe, seq, slots, priority=priority, options=options).hex()
        else:
            out = f"error unknown request {w[0]}"
        sys.stdout.write(out + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
