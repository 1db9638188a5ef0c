#!/usr/bin/env python3
"""Art-Net peers for the integration tests (tests/artnet.rs), from independent implementations.

  send stupid|pyartnet HOST PORT SOURCE_IP UNIVERSE HEXSLOTS SECONDS
      Sends the slots to Port-Address UNIVERSE (15 bit) at HOST:PORT for SECONDS, about 30 times
      a second, from SOURCE_IP.
  recv PORT UNIVERSE SECONDS
      Listens with stupidArtnet's server on PORT and prints the hex of the universe's buffer
      each time it changes, one line each; exits after SECONDS.
"""
import asyncio
import sys
import time


def send_stupid(host, port, source, universe, slots, seconds):
    from stupidArtnet import StupidArtnet

    a = StupidArtnet(host, universe, len(slots), 30, True, False, (source, 0), False, port)
    a.set(bytearray(slots))
    end = time.time() + seconds
    while time.time() < end:
        a.show()
        time.sleep(1 / 30)


async def send_pyartnet(host, port, source, universe, slots, seconds):
    import pyartnet

    node = pyartnet.ArtNetNode.create(
        host, port, source_ip=source, max_fps=30, refresh_every=0.1
    )
    u = node.add_universe(universe)
    ch = u.add_channel(start=1, width=len(slots))
    async with node:
        ch.set_values(list(slots))
        await asyncio.sleep(seconds)


def recv(port, universe, seconds):
    from stupidArtnet import StupidArtnetServer

    s = StupidArtnetServer(port)
    net, rest = universe >> 8, universe & 0xFF
    lid = s.register_listener(rest & 0x0F, rest >> 4, net, is_simplified=False)
    last = None
    end = time.time() + seconds
    while time.time() < end:
        buf = s.get_buffer(lid)
        if buf and bytes(buf) != last:
            last = bytes(buf)
            print(last.hex(), flush=True)
        time.sleep(0.005)
    s.close()


def main():
    cmd = sys.argv[1]
    if cmd == "send":
        lib, host, port, source, universe, hexslots, seconds = sys.argv[2:9]
        slots = bytes.fromhex(hexslots)
        if lib == "stupid":
            send_stupid(host, int(port), source, int(universe), slots, float(seconds))
        else:
            asyncio.run(
                send_pyartnet(host, int(port), source, int(universe), slots, float(seconds))
            )
    elif cmd == "recv":
        port, universe, seconds = sys.argv[2:5]
        recv(int(port), int(universe), float(seconds))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
