#!/usr/bin/env python3
"""Line-oriented front end to ../shared/tools/e131.py (the strict builder/parser) for the Rust tests.

Usage: e131_tool.py PATH/TO/e131.py, then one request per stdin line, one answer line each:

    parse HEX
        -> kind=K len=N errors=N [universe= seq= options= priority= sync= start= cid= name_hex=
           slots=HEX] [universes=1,2 page= last=] [| error; error...]
    build CIDHEX NAMEHEX UNIVERSE SEQ PRIORITY OPTIONS SLOTSHEX
        -> HEX of e131.build_data(...)
"""
import importlib.util
import sys
import uuid


def load(path):
    spec = importlib.util.spec_from_file_location("e131", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def describe(e131, raw):
    r = e131.parse(raw)
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
    e131 = load(sys.argv[1])
    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        if w[0] == "parse":
            out = describe(e131, bytes.fromhex(w[1] if len(w) > 1 else ""))
        elif w[0] == "build":
            cid, name, uni, seq, prio, opt = bytes.fromhex(w[1]), bytes.fromhex(w[2]).decode(), *map(int, w[3:7])
            slots = bytes.fromhex(w[7]) if len(w) > 7 else b""
            out = e131.build_data(cid, name, uni, seq, slots, priority=prio, options=opt).hex()
        else:
            out = f"error unknown request {w[0]}"
        sys.stdout.write(out + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
