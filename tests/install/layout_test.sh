#!/usr/bin/env bash
# The build's layout: build/bin holds the programs users run and nothing else; the tests and their
# helpers are in build/tests, the benchmarks in build/bench.
#
#   tests/install/layout_test.sh BUILD_DIR
set -euo pipefail
build=$1
status=0
for f in "$build"/bin/*; do
  case $(basename "$f") in
    ferryd | ferry | ferry-kafka-mock | shop-order | shop-inventory | shop-payment | shop-notification | shop-load) ;;
    *) echo "FAILED: $f is in bin/, which holds the programs only"; status=1 ;;
  esac
done
for want in bin/ferryd bin/ferry bin/shop-load tests/grpc_test tests/crash_test bench/nats_load bench/router_bench; do
  [ -x "$build/$want" ] || { echo "FAILED: $build/$want is missing"; status=1; }
done
[ "$status" = 0 ] && echo "layout: bin/ $(ls "$build/bin" | wc -l) programs, tests/ $(ls "$build/tests" | wc -l) files, bench/ $(ls "$build/bench" | wc -l) files"
exit "$status"
