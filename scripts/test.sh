#!/usr/bin/env bash
# The body of `make test`: runs every test suite and prints one summary at the end.
# Assumes `make build` has run (the Makefile does it first).
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
build=${BUILD:-build}
asan=${ASAN_BUILD:-build-asan}
start=$(date +%s)
failed=()

step() { echo; echo "==== $*"; }

step "tests in the optimised build ($build)"
if ! ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 300; then failed+=("ctest ($build)"); fi
failed_tests() { # the tests ctest names as failed in its last run in $1
  local log="$1/Testing/Temporary/LastTestsFailed.log"
  [ -s "$log" ] && sed 's/^[0-9]*:/  /' "$log"
}

step "unit and conformance tests under AddressSanitizer + UndefinedBehaviorSanitizer ($asan)"
# One file per translation unit here (the optimised build is a unity build): each source of the
# libraries and their tests must compile on its own.
cmake -S . -B "$asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DFERRY_SANITIZE=ON -DFERRY_UNIT_ONLY=ON \
  -DFERRY_UNITY_BUILD=OFF -DFERRY_WERROR="${FERRY_WERROR:-OFF}" >/dev/null &&
  cmake --build "$asan" -j "$jobs" || failed+=("asan build")
if [ -d "$asan" ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  if ! ctest --test-dir "$asan" --output-on-failure -j "$jobs" --timeout 600; then failed+=("ctest under ASan+UBSan"); fi
fi

step "parser fuzzing (bounded run)"
if ! bash scripts/fuzz.sh 30; then failed+=("fuzz"); fi

echo
echo "make test: $(( $(date +%s) - start ))s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  failed_tests "$build"
  failed_tests "$asan"
  exit 1
fi
echo "all test suites passed"
