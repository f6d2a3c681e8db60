#!/usr/bin/env bash
# The files in deploy/ are what Prometheus and Grafana accept: the alert rules pass
# `promtool check rules` and their unit tests (`promtool test rules`: each alert fires on the series
# that should fire it and not on healthy ones), the example configuration passes
# `promtool check config`, and the Grafana dashboard is JSON whose every panel has a PromQL query.
# (A real Prometheus evaluating the rules and every dashboard query against live metrics is
# examples/shop/prometheus_check.py, run by the shop_e2e tests.) Exit 77 (skipped) without promtool.
set -euo pipefail
deploy=$(cd "$(dirname "$0")/../../deploy" && pwd)
if ! command -v promtool >/dev/null; then
  echo "SKIP: promtool is not installed (make deps installs Debian's prometheus)"
  exit 77
fi
cd "$deploy/prometheus"
promtool check rules ferry-rules.yml
promtool test rules ferry-rules.test.yml
promtool check config prometheus.yml
python3 - "$deploy/grafana/ferry-dashboard.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["panels"], "no panels"
for p in d["panels"]:
    assert p["targets"] and all(t["expr"].strip() for t in p["targets"]), "panel without a query: " + p["title"]
print("dashboard: %d panels, %d queries" % (len(d["panels"]), sum(len(p["targets"]) for p in d["panels"])))
PY
