#!/usr/bin/env python3
"""A stand-in OpenTelemetry collector for the demo: receives OTLP/HTTP trace exports and keeps
each body; then checks them with the OpenTelemetry JS project's protobuf types (npm
@opentelemetry/otlp-transformer, via tests/interop/js/otlp_decode.js).

  otlp_collector.py serve PORT DIR         store each POST /v1/traces body as DIR/<n>.bin (answer 200)
  otlp_collector.py check DIR JS_DIR [--grpc]
                                           decode them all; every span well formed, the four services
                                           present, and one order's trace crossing them (each span's
                                           parent found in another service's span); with --grpc also
                                           a Charge call: shop-inventory's CLIENT span, child of its
                                           handler's span, parent of shop-payment's SERVER span
"""
import glob
import http.server
import itertools
import json
import os
import subprocess
import sys
from collections import defaultdict


def serve(port, out):
    os.makedirs(out, exist_ok=True)

    numbers = itertools.count(1)  # next() is atomic under the GIL: one number per request

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            ok = self.path == "/v1/traces" and self.headers.get("Content-Type") == "application/x-protobuf"
            if ok:
                with open(os.path.join(out, "%06d.bin" % next(numbers)), "wb") as f:
                    f.write(body)
            self.send_response(200 if ok else 400)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


def check_grpc(spans):
    """The Charge calls' spans chain: inventory handler -> CLIENT (inventory) -> SERVER (payment)."""
    by_id = {s["spanId"]: (svc, s) for svc, s in spans}
    chained = 0
    for svc, s in spans:
        if svc != "shop-payment" or s.get("kind") != "SPAN_KIND_SERVER" or s.get("name") != "shop.payment.v1.Payment/Charge":
            continue
        client_svc, client = by_id.get(s.get("parentSpanId"), (None, None))
        if client_svc != "shop-inventory" or client.get("kind") != "SPAN_KIND_CLIENT" or client["traceId"] != s["traceId"]:
            continue
        handler_svc, handler = by_id.get(client.get("parentSpanId"), (None, None))
        if handler_svc == "shop-inventory" and handler.get("kind") == "SPAN_KIND_CONSUMER":
            chained += 1
    servers = sum(1 for svc, s in spans if s.get("kind") == "SPAN_KIND_SERVER")
    print("== otlp: %d gRPC SERVER spans; %d Charge calls chain handler -> CLIENT -> SERVER across the services"
          % (servers, chained))
    return [] if chained > 0 else ["no Charge call whose spans chain from inventory's handler into payment-service"]


def check(out, js_dir, grpc=False):
    spans = []  # (service, span)
    for path in sorted(glob.glob(os.path.join(out, "*.bin"))):
        decoded = subprocess.run(["node", "otlp_decode.js", path], cwd=js_dir, capture_output=True, text=True)
        if decoded.returncode != 0:
            print("   FAILED: %s does not decode: %s" % (path, decoded.stderr.strip()))
            return 1
        for rs in json.loads(decoded.stdout).get("resourceSpans", []):
            service = next(a["value"]["stringValue"] for a in rs["resource"]["attributes"] if a["key"] == "service.name")
            for ss in rs["scopeSpans"]:
                spans.extend((service, s) for s in ss["spans"])
    failed = []
    services = sorted({svc for svc, _ in spans})
    for want in ("shop-order", "shop-inventory", "shop-payment", "shop-notification"):
        if want not in services:
            failed.append("no span from " + want)
    for svc, s in spans:
        if len(s.get("traceId", "")) != 32 or len(s.get("spanId", "")) != 16 or int(s["endTimeUnixNano"]) < int(s["startTimeUnixNano"]):
            failed.append("malformed span from %s: %s" % (svc, s))
            break
    by_id = {s["spanId"]: svc for svc, s in spans}
    traces = defaultdict(set)
    cross = defaultdict(int)
    for svc, s in spans:
        traces[s["traceId"]].add(svc)
        parent = s.get("parentSpanId")
        if parent in by_id and by_id[parent] != svc:
            cross[s["traceId"]] += 1
    best = max(traces, key=lambda t: (len(traces[t]), cross[t]), default=None)
    if best is None or len(traces[best]) < 4 or cross[best] < 3:
        failed.append("no trace crosses the four services with parent links (best: %s)"
                      % (sorted(traces[best]) if best else "none"))
    print("== otlp: %d bodies, %d spans from %s; trace %s crosses %d services with %d parent links between them"
          % (len(glob.glob(os.path.join(out, "*.bin"))), len(spans), ", ".join(services), best,
             len(traces[best]) if best else 0, cross[best] if best else 0))
    if grpc:
        failed += check_grpc(spans)
    for f in failed:
        print("   FAILED: " + f)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3])
    elif len(sys.argv) in (4, 5) and sys.argv[1] == "check" and sys.argv[4:] in ([], ["--grpc"]):
        sys.exit(check(sys.argv[2], sys.argv[3], grpc=len(sys.argv) == 5))
    else:
        print(__doc__)
        sys.exit(2)
