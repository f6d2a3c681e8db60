#!/usr/bin/env bash
# JetStream durability figures for docs/benchmarks.md (needs build/bin/ferryd and build/bench/js_bench):
#   1. publish throughput with acknowledgements waited for, `sync always` vs the default interval,
#      with 1, 8 and 64 concurrent publishers (group commit shows as the rate growing with them);
#   2. the time ferryd takes to answer again after a SIGKILL with a 1 GiB file stream.
# Usage: bench/js_durability.sh [BUILD_DIR] [GiB]   (RUNS=N rounds per row, median printed; default 3)
set -euo pipefail
build=${1:-build}; gib=${2:-1}; runs=${RUNS:-3}
ferryd=$build/bin/ferryd; bench=$build/bench/js_bench
work=$(mktemp -d); trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() {  # start DIR SYNC [nowait] -> sets pid, url
  local p; p=${port_fixed:-$(port)}
  printf 'listen: 127.0.0.1:%s\njetstream { store_dir: "%s", sync: %s }\n' "$p" "$1" "$2" >"$1.conf"
  "$ferryd" -c "$1.conf" >>"$work/ferryd.log" 2>&1 & pid=$!
  url=nats://127.0.0.1:$p
  [ "${3:-}" = nowait ] && return
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && return; sleep 0.05; done
  echo "ferryd did not start"; cat "$work/ferryd.log"; exit 1
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== publish with acks (128-byte messages)"
for sync in always 2m; do
  for pubs in 1 8 64; do
    n=$(( pubs == 1 ? 2000 : pubs * 400 )); [ "$sync" = 2m ] && n=$(( n * 10 ))
    rates=(); p50s=()
    for r in $(seq "$runs"); do
      dir=$work/s-$sync-$pubs-$r; mkdir -p "$dir"; start "$dir" "$sync"
      line=$("$bench" publish "$url" B "$pubs" "$n" 128)
      kill "$pid"; wait "$pid" 2>/dev/null || true
      rates+=("$(sed 's/.*rate=\([0-9]*\).*/\1/' <<<"$line")"); p50s+=("$(sed 's/.*ack_p50=\([0-9]*\)us.*/\1/' <<<"$line")")
    done
    printf 'sync %-6s publishers %-3s  median %7s msgs/s   ack p50 %6s us   (runs: %s)\n' "$sync" "$pubs" \
      "$(printf '%s\n' "${rates[@]}" | median)" "$(printf '%s\n' "${p50s[@]}" | median)" "${rates[*]}"
  done
done

echo "== recovery of a ${gib} GiB stream after SIGKILL (1 KiB messages, default sync interval)"
dir=$work/recovery; mkdir -p "$dir"; start "$dir" 2m
"$bench" fill "$url" R $(( gib * 1024 * 1024 * 1024 )) 1024
msgs=$(( gib * 1024 * 1024 ))
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
du -sh "$dir/streams/R" | sed 's/^/on disk: /'
port_fixed=${url##*:}
start "$dir" 2m nowait   # js_bench wait retries the connection: the time includes start-up
"$bench" wait "$url" R "$msgs" 600
kill "$pid"; wait "$pid" 2>/dev/null || true
