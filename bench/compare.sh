#!/usr/bin/env bash
# Side by side: the same load, from bench/nats_load (our own NATS-protocol load generator), against
# two servers in one run, alternating A B B A so that drift on a shared machine hits both; prints
# per scenario the median of each side, the ratio B/A, and each server's CPU per message (from
# /proc, so a client-bound run still shows which server works less).
#
#   bench/compare.sh [--build DIR] [--against nats-server|PATH/TO/ferryd] [--quick] [--only REGEX]
#
# B is DIR/bin/ferryd (default: build). A is Debian's nats-server (default), or another ferryd
# binary: build an older commit in a second directory and pass its ferryd to see a regression
# the day it is made. RUNS=N counted rounds (default 3) after one warm-up round; --quick: one
# round, a quarter of the messages, no warm-up. SERVER_CONF=FILE: both servers start with
# `-c FILE` as well (say `jetstream { sync_interval: always }` for two ferryd binaries; nats-server
# 2.9 does not know `always`).
set -euo pipefail
build=build; against=nats-server; quick=0; only=.
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift ;;
    --against) against=$2; shift ;;
    --quick) quick=1 ;;
    --only) only=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
b_bin=$build/bin/ferryd; load=$build/bench/nats_load
for f in "$b_bin" "$load"; do [ -x "$f" ] || { echo "compare.sh: $f not found (make build)" >&2; exit 1; }; done
if [ "$against" = nats-server ]; then
  command -v nats-server >/dev/null || { echo "compare.sh: nats-server not installed (make deps)" >&2; exit 1; }
  a_bin=nats-server; a_name=nats-server
else
  [ -x "$against" ] || { echo "compare.sh: --against $against is not an executable" >&2; exit 1; }
  a_bin=$against; a_name=A
fi
work=$(mktemp -d)
pa=; pb=
trap 'kill $pa $pb 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
a_port=$(free_port); b_port=$(free_port)
conf=(); [ -n "${SERVER_CONF:-}" ] && conf=(-c "$SERVER_CONF")
"$a_bin" "${conf[@]}" -a 127.0.0.1 -p "$a_port" -js -sd "$work/a" >"$work/a.log" 2>&1 & pa=$!
"$b_bin" "${conf[@]}" -a 127.0.0.1 -p "$b_port" -js -sd "$work/b" >"$work/b.log" 2>&1 & pb=$!
for p in $a_port $b_port; do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.05; done
done
cpu() { awk '{print ($14+$15)/100}' "/proc/$1/stat"; }  # utime + stime, seconds (CLK_TCK 100)
div=1; [ $quick = 1 ] && div=4
scenarios=(
  "raw-pub      raw-pub     $((5000000 / div)) 128"
  "raw-pubsub   raw-pubsub  $((2000000 / div)) 128 1"
  "raw-fanout4  raw-pubsub  $((1000000 / div)) 128 4"
  "pub128       pub         $((2000000 / div)) 128"
  "pubsub       pubsub      $((1000000 / div)) 128 1"
  "queue2       queue       $((1000000 / div)) 128 2"
  "reqrep       reqrep      $((10000 / div))   128"
  "jspub        jspub       $((200000 / div))  128"
  "jsfetch      jsfetch     $((200000 / div))  128"
  "jsfetch-raw  jsfetch-raw $((200000 / div))  128 2"
)
runs=${RUNS:-3}; warm=1
[ $quick = 1 ] && runs=1 && warm=0
median() { printf "%s\n" "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
printf "%-12s %14s %14s %7s %12s %12s  %s\n" scenario "$a_name" ferryd ratio "cpu_us:$a_name" cpu_us:ferryd note
failed=0
for row in "${scenarios[@]}"; do
  read -r name scenario msgs size extra <<<"$row"
  [[ $name =~ $only ]] || continue
  va=(); vb=(); ca=(); cb=(); note=""
  for round in $(seq $((runs + warm))); do
    # A B, then B A: whichever runs second in a round runs right after the other's load (its
    # writeback, its background work); alternating the order cancels that out.
    order="a b"; [ $((round % 2)) = 0 ] && order="b a"
    for side in $order; do
      if [ $side = a ]; then port=$a_port; pid=$pa; else port=$b_port; pid=$pb; fi
      # jsfetch reads what a jspub stored on the same server: store it first, untimed.
      [[ $scenario == jsfetch* ]] && { "$load" 127.0.0.1:$port jspub "$msgs" "$size" >/dev/null 2>&1 || true; }
      c0=$(cpu $pid)
      out=$(timeout 180 "$load" 127.0.0.1:$port "$scenario" "$msgs" "$size" ${extra:-} 2>&1 || echo FAILED)
      c1=$(cpu $pid)
      if [[ $out != *msgs_per_s=* ]]; then
        v=0; m=$msgs; failed=1; note="$note $side failed: $(tail -1 <<<"$out" | cut -c1-60)"
      else
        m=$(sed -n 's/.*msgs=\([0-9]*\).*/\1/p' <<<"$out")
        if [ "$scenario" = reqrep ]; then v=$(sed -n 's/.*p50_us=\([0-9.]*\).*/\1/p' <<<"$out")
        else v=$(sed -n 's/.*msgs_per_s=\([0-9]*\).*/\1/p' <<<"$out"); fi
        [[ $out == *lost=[1-9]* ]] && note="$note $side lost $(sed -n 's/.*lost=\([0-9]*\).*/\1/p' <<<"$out")"
      fi
      us=$(awk -v a="$c0" -v b="$c1" -v m="$m" 'BEGIN { if (m > 0) printf "%.3f", (b - a) / m * 1e6; else print 0 }')
      [ "$round" -le $warm ] && continue
      if [ $side = a ]; then va+=("$v"); ca+=("$us"); else vb+=("$v"); cb+=("$us"); fi
    done
  done
  A=$(median "${va[@]}"); B=$(median "${vb[@]}")
  if [ "$scenario" = reqrep ]; then  # latency: lower is better, so the ratio is A/B
    ratio=$(awk -v a="$A" -v b="$B" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print 0 }'); note="p50 us, ratio A/B;$note"
  else
    ratio=$(awk -v a="$A" -v b="$B" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print 0 }')
  fi
  printf "%-12s %14s %14s %7s %12s %12s  %s\n" "$name" "$A" "$B" "$ratio" "$(median "${ca[@]}")" "$(median "${cb[@]}")" "$note"
done
exit $failed
