#!/usr/bin/env bash
# `make demo`: starts ferryd and shows, through the ferry CLI, a subscriber with wildcards, a
# queue group sharing work, request/reply, headers and no-responders; prints a summary and
# stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BUILD:-build}/bin
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); http=$(free_port)
url="nats://127.0.0.1:$port"
export FERRY_SERVER=$url

echo "== starting ferryd on $url (monitoring on http://127.0.0.1:$http)"
"$bin/ferryd" -a 127.0.0.1 -p "$port" -m "$http" >"$work/ferryd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.05; done

echo "== 1. a subscriber on orders.> sees every order event, with its headers"
"$bin/ferry" sub 'orders.>' --count 3 >"$work/audit.out" 2>/dev/null &
audit=$!; pids+=($audit)
sleep 0.3
"$bin/ferry" pub orders.created '{"order":1,"sku":"book"}' -H Trace-Id:demo-1 -H Tenant:acme --quiet
"$bin/ferry" pub orders.paid '{"order":1}' --quiet
"$bin/ferry" pub orders.shipped '{"order":1}' --quiet
wait "$audit" || true
sed 's/^/   | /' "$work/audit.out"

echo "== 2. a queue group: two workers share 20 jobs, each job goes to exactly one of them"
"$bin/ferry" sub jobs.resize --queue workers --raw >"$work/w1.out" 2>/dev/null &
w1=$!; pids+=($w1)
"$bin/ferry" sub jobs.resize --queue workers --raw >"$work/w2.out" 2>/dev/null &
w2=$!; pids+=($w2)
sleep 0.3
"$bin/ferry" pub jobs.resize 'image-{{Count}}' --count 20 --quiet
sleep 0.3
kill "$w1" "$w2" 2>/dev/null || true
n1=$(wc -l <"$work/w1.out"); n2=$(wc -l <"$work/w2.out")
dups=$(cat "$work/w1.out" "$work/w2.out" | sort | uniq -d | wc -l)
echo "   worker 1 handled $n1 jobs, worker 2 handled $n2 jobs, $dups handled twice"

echo "== 3. request/reply: the inventory service answers a stock check"
"$bin/ferry" reply inventory.check '{"sku":"book","in_stock":12}' --count 1 --quiet 2>/dev/null &
pids+=($!)
sleep 0.3
reply=$("$bin/ferry" request inventory.check '{"sku":"book"}' --raw)
echo "   request inventory.check -> $reply"

echo "== 4. no responders: a request nobody can answer fails at once instead of timing out"
if out=$("$bin/ferry" request payments.refund '{}' --timeout 5s 2>&1); then nr="unexpected reply: $out"; else nr="$out"; fi
echo "   $nr"

varz=$(curl -s "http://127.0.0.1:$http/varz")
in_msgs=$(sed -n 's/.*"in_msgs":\([0-9]*\).*/\1/p' <<<"$varz")
out_msgs=$(sed -n 's/.*"out_msgs":\([0-9]*\).*/\1/p' <<<"$varz")
total=$(sed -n 's/.*"total_connections":\([0-9]*\).*/\1/p' <<<"$varz")
echo
echo "== summary"
echo "   audit subscriber received:   $(grep -c '^\[#' "$work/audit.out") of 3 events (headers shown above)"
echo "   queue group:                 $((n1 + n2)) of 20 jobs, split $n1/$n2, $dups duplicates"
echo "   request/reply:               $([ -n "$reply" ] && echo ok || echo FAILED)"
echo "   no responders:               $([[ $nr == *"no responders"* ]] && echo ok || echo FAILED)"
echo "   ferryd (from /varz):         $in_msgs messages in, $out_msgs out, $total connections served"
echo "== stopping ferryd"
ok=1
[ "$(grep -c '^\[#' "$work/audit.out")" = 3 ] || ok=0
[ $((n1 + n2)) = 20 ] && [ "$dups" = 0 ] || ok=0
[ -n "$reply" ] && [[ $nr == *"no responders"* ]] || ok=0
[ $ok = 1 ] && echo "demo: all good" || { echo "demo: something went wrong (ferryd log: see above)"; cat "$work/ferryd.log"; exit 1; }
