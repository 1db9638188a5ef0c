#!/usr/bin/env python3
"""An independent JACK peer for patchbay's jack backend tests (python JACK-Client, cffi over libjack).

    jack_peer.py SERVER CLIENT_NAME

Registers MIDI ports `out` and `in` and audio ports `cv_out` and `cv_in`, prints `ready`, then
reads commands from stdin, one per line:

    connect SRC DST     connect two ports (full names); prints `ok` or `error ...`
    midi HEX            write one MIDI event (hex bytes) on `out` in the next period
    cv VALUE            write VALUE as every sample of `cv_out` from the next period on
    quit                close the client and exit

and prints what it sees, one line each:

    midi HEX            a MIDI event arrived on `in`
    cv VALUE            the first sample of a period on `cv_in` differs from the previous one
    shutdown            the server went away
"""

import queue
import sys
import threading

import jack

server, name = sys.argv[1], sys.argv[2]
client = jack.Client(name, servername=server, no_start_server=True)
midi_out = client.midi_outports.register("out")
midi_in = client.midi_inports.register("in")
cv_out = client.outports.register("cv_out")
cv_in = client.inports.register("cv_in")

pending = queue.Queue()
lines = queue.Queue()
cv = [0.0]
last_cv = [None]


@client.set_process_callback
def process(frames):
    midi_out.clear_buffer()
    while True:
        try:
            data = pending.get_nowait()
        except queue.Empty:
            break
        midi_out.write_midi_event(0, data)
    for _offset, data in midi_in.incoming_midi_events():
        lines.put("midi " + bytes(data).hex())
    # memoryviews of the float buffers (get_array would need numpy)
    out = memoryview(cv_out.get_buffer()).cast("f")
    for i in range(len(out)):
        out[i] = cv[0]
    v = float(memoryview(cv_in.get_buffer()).cast("f")[0])
    if v != last_cv[0]:
        last_cv[0] = v
        lines.put("cv " + repr(v))


@client.set_shutdown_callback
def shutdown(status, reason):
    lines.put("shutdown")


def printer():
    while True:
        line = lines.get()
        print(line, flush=True)


threading.Thread(target=printer, daemon=True).start()
client.activate()
lines.put("ready")

for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    if words[0] == "connect":
        try:
            client.connect(words[1], words[2])
            lines.put("ok")
        except jack.JackError as e:
            lines.put("error " + str(e).replace("\n", " "))
    elif words[0] == "midi":
        pending.put(bytes.fromhex(words[1]))
    elif words[0] == "cv":
        cv[0] = float(words[1])
    elif words[0] == "quit":
        break

try:
    client.deactivate()
    client.close()
except jack.JackError:
    pass
