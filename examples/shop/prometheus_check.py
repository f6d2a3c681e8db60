#!/usr/bin/env python3
"""Checks the Prometheus that run_shop.sh starts beside the demo (Debian's prometheus, scraping
ferryd and the services every second, with deploy/prometheus/ferry-rules.yml loaded):

  * every scrape target is up (Prometheus parsed each /metrics without an error);
  * every alert rule was evaluated without an error;
  * every query of the Grafana dashboard (deploy/grafana/ferry-dashboard.json) is valid PromQL,
    and the metrics the demo must have produced are there with data.

  prometheus_check.py --url http://127.0.0.1:9090 --targets 4 --dashboard deploy/grafana/ferry-dashboard.json
Exits 0 when all holds, 1 otherwise (saying what failed).
"""
import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def get(base, path, **params):
    url = base + path + ("?" + urllib.parse.urlencode(params) if params else "")
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--targets", type=int, required=True, help="scrape targets expected up")
    ap.add_argument("--dashboard", required=True)
    ap.add_argument("--require", action="append", default=[],
                    help="a query that must return a value above 0 (repeatable)")
    ap.add_argument("--wait", type=float, default=20, help="seconds to wait for targets and rules")
    a = ap.parse_args()
    failed = []
    deadline = time.time() + a.wait
    targets, rules = [], []
    while True:
        try:
            targets = get(a.url, "/api/v1/targets")["data"]["activeTargets"]
            rules = [r for g in get(a.url, "/api/v1/rules")["data"]["groups"] for r in g["rules"]]
        except (urllib.error.URLError, OSError) as e:  # Prometheus still starting
            if time.time() > deadline:
                print("   FAILED: Prometheus at %s does not answer: %s" % (a.url, e))
                return 1
            time.sleep(0.5)
            continue
        up = [t for t in targets if t["health"] == "up" and not t.get("lastError")]
        evaluated = [r for r in rules if r.get("health") == "ok" and not r.get("lastError")]
        if (len(up) >= a.targets and len(evaluated) == len(rules) and rules) or time.time() > deadline:
            break
        time.sleep(0.5)
    if len(up) < a.targets:
        failed.append("%d of %d targets up: %s" % (len(up), a.targets, "; ".join(
            "%s %s %s" % (t["scrapeUrl"], t["health"], t.get("lastError", "")) for t in targets)))
    if not rules or len(evaluated) != len(rules):
        failed.append("rules not all evaluated: %s" % "; ".join(
            "%s %s %s" % (r["name"], r.get("health"), r.get("lastError", "")) for r in rules if r not in evaluated))
    firing = [r["name"] for r in rules if r.get("state") == "firing"]

    with open(a.dashboard) as f:
        dash = json.load(f)
    queries = [(p["title"], t["expr"]) for p in dash["panels"] for t in p["targets"]]
    with_data = 0
    for title, expr in queries:
        try:
            r = get(a.url, "/api/v1/query", query=expr)
        except urllib.error.HTTPError as e:
            failed.append("dashboard panel %r: %s: %s" % (title, expr, e.read().decode(errors="replace")))
            continue
        if r.get("status") != "success":
            failed.append("dashboard panel %r: %s: %s" % (title, expr, r.get("error")))
        elif r["data"]["result"]:
            with_data += 1
    for q in a.require:
        r = get(a.url, "/api/v1/query", query=q)
        values = [float(x["value"][1]) for x in r["data"]["result"]]
        if not values or max(values) <= 0:
            failed.append("no data above 0 for %s" % q)
    print("== prometheus: %d targets up, %d alert rules evaluated (firing: %s), %d dashboard queries valid "
          "(%d with data now), %d required series present"
          % (len(up), len(evaluated), ", ".join(firing) or "none", len(queries) - sum(1 for f in failed if f.startswith("dashboard")),
             with_data, len(a.require) - sum(1 for f in failed if f.startswith("no data"))))
    for f in failed:
        print("   FAILED: " + f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
