#!/usr/bin/env python3
"""An independent MQTT client (Eclipse paho-mqtt 2.x) for tests/mqtt.rs.

  mqtt_peer.py PORT VERSION pub QOS RETAIN TOPIC PAYLOAD [TOPIC PAYLOAD ...]
      publish the messages in order over one connection, waiting for each to be sent (and,
      QoS 1/2, acknowledged); an empty retained PAYLOAD clears a topic's retained value
  mqtt_peer.py PORT VERSION sub FILTER COUNT TIMEOUT [QOS]
      subscribe (QoS 2 unless given), print "ready" once the broker granted it, then one line per
      message: "TOPIC<TAB>PAYLOAD-HEX<TAB>RETAIN<TAB>QOS"; exit after COUNT messages or TIMEOUT
      seconds (status 3 when fewer came)

VERSION is 5 or 3.1.1. The broker is 127.0.0.1 (the tests run in a private namespace).
"""
import sys
import threading

import paho.mqtt.client as mqtt


def client(port, version, name):
    proto = mqtt.MQTTv5 if version == "5" else mqtt.MQTTv311
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=name, protocol=proto)
    return c


def publish(port, version, qos, retain, pairs):
    c = client(port, version, "peer-pub")
    c.connect("127.0.0.1", port)
    c.loop_start()
    ok = True
    for topic, payload in pairs:
        info = c.publish(topic, payload.encode(), qos=qos, retain=retain)
        info.wait_for_publish(timeout=10)
        ok = ok and info.is_published()
    c.disconnect()
    c.loop_stop()
    return 0 if ok else 1


def subscribe(port, version, filt, count, timeout, qos):
    c = client(port, version, "peer-sub")
    done = threading.Event()
    got = [0]

    def on_connect(client, userdata, flags, reason, props):
        client.subscribe(filt, qos=qos)

    def on_subscribe(client, userdata, mid, reasons, props):
        print("ready", flush=True)

    def on_message(client, userdata, msg):
        print("%s\t%s\t%d\t%d" % (msg.topic, msg.payload.hex(), int(msg.retain), msg.qos), flush=True)
        got[0] += 1
        if got[0] >= count:
            done.set()

    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
    c.connect("127.0.0.1", port)
    c.loop_start()
    done.wait(timeout)
    c.disconnect()
    c.loop_stop()
    return 0 if got[0] >= count else 3


def main():
    port, version, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if mode == "pub":
        qos, retain = int(sys.argv[4]), sys.argv[5] == "1"
        rest = sys.argv[6:]
        pairs = list(zip(rest[0::2], rest[1::2]))
        sys.exit(publish(port, version, qos, retain, pairs))
    filt, count, timeout = sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
    qos = int(sys.argv[7]) if len(sys.argv) > 7 else 2
    sys.exit(subscribe(port, version, filt, count, timeout, qos))


if __name__ == "__main__":
    main()
