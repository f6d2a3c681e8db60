#!/usr/bin/python3
"""pika_peer: the other side of the RabbitMQ interop test, with pika (Debian python3-pika), a
client we did not write.

  pika_peer.py publish PORT EXCHANGE ROUTING_KEY N
      Publishes N persistent messages (confirm mode) with message-id "pika-<i>", body "from pika <i>",
      headers Source=pika, Seq=<i> (an integer) and Tags=[a, b] (an array); prints "published N".
  pika_peer.py consume PORT EXCHANGE PATTERN N
      Binds a queue of its own to EXCHANGE with PATTERN, prints "ready", then prints one JSON line
      per message (routing_key, message_id, headers, body) until it has N; acks each.
"""
import json
import sys

import pika


def connect(port):
    return pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=int(port)))


def text(v):
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, list):
        return [text(x) for x in v]
    return v


def publish(port, exchange, routing_key, n):
    c = connect(port)
    ch = c.channel()
    ch.confirm_delivery()
    for i in range(int(n)):
        props = pika.BasicProperties(delivery_mode=2, message_id=f"pika-{i}",
                                     headers={"Source": "pika", "Seq": i, "Tags": ["a", "b"]})
        ch.basic_publish(exchange, routing_key, f"from pika {i}".encode(), props, mandatory=True)
    print(f"published {n}", flush=True)
    c.close()


def consume(port, exchange, pattern, n):
    c = connect(port)
    ch = c.channel()
    q = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(q, exchange, pattern)
    print("ready", flush=True)
    got = 0
    for method, props, body in ch.consume(q, inactivity_timeout=60):
        if method is None:
            break
        print(json.dumps({"routing_key": method.routing_key, "message_id": props.message_id,
                          "headers": {k: text(v) for k, v in (props.headers or {}).items()},
                          "body": body.decode("latin-1")}), flush=True)
        ch.basic_ack(method.delivery_tag)
        got += 1
        if got == int(n):
            break
    c.close()


if __name__ == "__main__":
    {"publish": publish, "consume": consume}[sys.argv[1]](*sys.argv[2:])
