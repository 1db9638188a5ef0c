#!/usr/bin/env python3
"""An independent MQTT client (Eclipse paho-mqtt 2.x) for crates/mqtt/tests/broker.rs.

  paho_peer.py PORT VERSION pub TOPIC PAYLOAD QOS RETAIN
      publish one message and wait for its acknowledgement
  paho_peer.py PORT VERSION sub FILTER COUNT TIMEOUT
      subscribe (QoS 2), print "ready" once the broker granted it, then one line per message:
      "TOPIC<TAB>PAYLOAD-HEX<TAB>RETAIN<TAB>QOS"; exit after COUNT messages or TIMEOUT seconds

VERSION is 5 or 3.1.1. The broker is 127.0.0.1 (the tests run in a private namespace).
"""
import sys
import threading

import paho.mqtt.client as mqtt


def main():
    port, version, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    proto = mqtt.MQTTv5 if version == "5" else mqtt.MQTTv311
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="paho-" + mode, protocol=proto)
    done = threading.Event()
    if mode == "pub":
        topic, payload, qos, retain = sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7] == "1"
        c.connect("127.0.0.1", port)
        c.loop_start()
        info = c.publish(topic, payload.encode(), qos=qos, retain=retain)
        info.wait_for_publish(timeout=10)
        c.disconnect()
        c.loop_stop()
        sys.exit(0 if info.is_published() else 1)
    filt, count, timeout = sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
    got = [0]

    def on_connect(client, userdata, flags, reason, props):
        client.subscribe(filt, qos=2)

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
    sys.exit(0 if got[0] >= count else 3)


if __name__ == "__main__":
    main()
