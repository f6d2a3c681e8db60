#!/bin/bash
# alternate.sh: runs rows of transport_throughput in turn, each in a process of its own, N times
# over, and prints the medians: msgs/s, process CPU (perf stat's task-clock), the publishing
# thread's CPU per message (what the row prints) and, for every row after the first, its ratios
# to the first: the ratio of the medians, and the median and quartiles of the ratios of each
# turn's pair (how far one turn may stray). On a shared machine, alternating many short runs says
# more than one long run: a noisy minute falls on every row of its turn.
#
#   bench/alternate.sh [-n TURNS] [-r RUNS] BINARY ROW [ROW...]
#   bench/alternate.sh -n 12 build/bench/transport_throughput kafka-pub-raw-inline kafka-pub-async kafka-pub-reused
#
# A ROW may name another binary as BINARY:ROW (two builds of one row side by side).
set -euo pipefail
turns=12 runs=3
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
while getopts "n:r:h" o; do
  case $o in
    n) turns=$OPTARG ;;
    r) runs=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
if [ $# -lt 2 ]; then usage >&2; exit 2; fi
binary=$1; shift
command -v perf >/dev/null || { echo "alternate.sh: perf is needed (linux-perf)" >&2; exit 1; }
out=$(mktemp); trap 'rm -f "$out"' EXIT
for ((t = 1; t <= turns; t++)); do
  for spec in "$@"; do
    bin=$binary row=$spec
    if [[ $spec == *:* ]]; then bin=${spec%%:*} row=${spec#*:}; fi
    res=$(perf stat -x, -e task-clock "$bin" --only "$row" --runs "$runs" 2>&1)
    rate=$(awk '/msgs\/s median/ { for (i = 1; i <= NF; i++) if ($i == "msgs/s") { print $(i - 1); exit } }' <<<"$res")
    cpu=$(awk -F, '/task-clock/ { print $1; exit }' <<<"$res")
    # "CPU/msg: publisher 464 ns" (0 where a row prints none)
    pub=$(awk '/msgs\/s median/ { for (i = 1; i < NF; i++) if ($i == "publisher") { print $(i + 1); exit } }' <<<"$res")
    if [ -z "$rate" ]; then echo "alternate.sh: $spec printed no rate:" >&2; echo "$res" | tail -5 >&2; exit 1; fi
    echo "$t $spec $rate $cpu ${pub:-0}" >>"$out"
    printf '\rturn %d of %d: %s' "$t" "$turns" "$spec" >&2
  done
done
echo >&2
awk -v first="$1" '
  function sort(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j > 0 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  }
  # The q-quantile of a sorted a[1..n], interpolated between neighbours.
  function quantile(a, n, q,   h, i) {
    h = (n - 1) * q + 1; i = int(h)
    return i >= n ? a[n] : a[i] + (h - i) * (a[i + 1] - a[i])
  }
  function median(a, n) { sort(a, n); return quantile(a, n, 0.5) }
  { rate[$2, $1] = $3; cpu[$2, $1] = $4; pub[$2, $1] = $5; if (!($2 in seen)) { seen[$2] = 1; order[++rows] = $2 } turns = $1 }
  END {
    for (r = 1; r <= rows; r++) {
      s = order[r]
      for (t = 1; t <= turns; t++) { x[t] = rate[s, t]; y[t] = cpu[s, t]; w[t] = pub[s, t]; z[t] = rate[s, t] / rate[first, t] }
      mr[s] = median(x, turns); mc[s] = median(y, turns)
      line = sprintf("%-40s %10.0f msgs/s  %8.1f ms CPU  %5.0f ns/msg publisher", s, mr[s], mc[s], median(w, turns))
      if (s != first) {
        sort(z, turns)
        line = line sprintf("  ratio %.2f (paired %.2f, quartiles %.2f-%.2f)  CPU first/this %.2f", mr[s] / mr[first],
                            quantile(z, turns, 0.5), quantile(z, turns, 0.25), quantile(z, turns, 0.75), mc[first] / mc[s])
      }
      print line
    }
    printf "medians of %d turns\n", turns
  }' "$out"
