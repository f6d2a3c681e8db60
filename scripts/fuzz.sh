#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS (default 30).
# `make test` runs a short bounded run; `make fuzz` a longer one. New corpus entries go to
# build-fuzz/corpus (the seeds in fuzz/corpus stay untouched). Exit 1 on any crash.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
dir=${FUZZ_BUILD:-build-fuzz}
if ! command -v clang++ >/dev/null; then echo "fuzz: clang++ not found (make deps installs it)"; exit 1; fi
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DFERRY_FUZZ=ON -DFERRY_UNIT_ONLY=ON -DFERRY_WERROR="${FERRY_WERROR:-OFF}" >/dev/null
cmake --build "$dir" -j "$(nproc)" --target parser_fuzz subject_fuzz input_fuzz
for t in parser subject input; do
  mkdir -p "$dir/corpus/$t"
  echo "fuzz: ${t}_fuzz for ${secs}s"
  "$dir/bin/${t}_fuzz" -max_total_time="$secs" -max_len=4096 -print_final_stats=0 "$dir/corpus/$t" "fuzz/corpus/$t" \
    2>"$dir/${t}_fuzz.log" || { tail -40 "$dir/${t}_fuzz.log"; echo "fuzz: ${t}_fuzz FAILED"; exit 1; }
  grep -E "^#[0-9]+.*DONE" "$dir/${t}_fuzz.log" | tail -1 || true
done
