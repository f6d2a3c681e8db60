#!/usr/bin/env bash
# ferry used from another project, as a new user would: `cmake --install` into a temporary prefix,
# then examples/hello (a project of its own: find_package(ferry), the SDK with the in-process
# transport, and ferryd embedded with the JetStream transport) configured, built and run against
# it; the same program built with pkg-config alone; and what the install holds (programs, public
# headers that include nothing from src/, the CMake package, the .pc files).
#
#   tests/install/install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
prefix=$(mktemp -d "${TMPDIR:-/tmp}/ferry-install.XXXXXX")
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >"$prefix/install.log"
echo "== installed into $prefix: $(find "$prefix" -type f | wc -l) files"
for f in bin/ferryd bin/ferry include/ferry/transport.h include/ferry/router.h include/ferry/outbox.h \
  include/ferry/saga.h include/ferry/broker.h; do
  [ -e "$prefix/$f" ] || { echo "FAILED: $f is not installed"; exit 1; }
done
cmake_dir=$(dirname "$(find "$prefix" -name ferryConfig.cmake)")
pc_dir=$(dirname "$(find "$prefix" -name ferry.pc)")
[ -f "$cmake_dir/ferryTargets.cmake" ] && [ -f "$pc_dir/ferry-broker.pc" ] || { echo "FAILED: package files"; exit 1; }
if grep -rlE '#include "(base|broker|protocol|store|sdk|sql|transport)/' "$prefix/include"; then
  echo "FAILED: an installed header includes a header of src/ (above)"
  exit 1
fi
"$prefix/bin/ferryd" --version
"$prefix/bin/ferry" --version

echo "== examples/hello against the install (find_package(ferry))"
cmake -S "$src/examples/hello" -B "$prefix/hello-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" >"$prefix/configure.log" || { cat "$prefix/configure.log"; exit 1; }
cmake --build "$prefix/hello-build" >"$prefix/build.log" || { cat "$prefix/build.log"; exit 1; }
out=$("$prefix/hello-build/hello")
[ "$out" = "hello, ferry" ] || { echo "FAILED: hello printed '$out'"; exit 1; }
echo "hello: $out"
out=$("$prefix/hello-build/hello_broker")
[ "$out" = "stored in stream HELLO at sequence 1" ] || { echo "FAILED: hello_broker printed '$out'"; exit 1; }
echo "hello_broker: $out"

echo "== the same program with pkg-config alone"
export PKG_CONFIG_PATH=$pc_dir
# shellcheck disable=SC2046
g++ -O1 "$src/examples/hello/hello.cc" -o "$prefix/hello-pc" $(pkg-config --cflags --libs ferry)
out=$("$prefix/hello-pc")
[ "$out" = "hello, ferry" ] || { echo "FAILED: hello (pkg-config) printed '$out'"; exit 1; }
# shellcheck disable=SC2046
g++ -O1 "$src/examples/hello/hello_broker.cc" -o "$prefix/hello-broker-pc" \
  $(pkg-config --cflags --libs ferry ferry-broker)
out=$("$prefix/hello-broker-pc")
[ "$out" = "stored in stream HELLO at sequence 1" ] || { echo "FAILED: hello_broker (pkg-config) printed '$out'"; exit 1; }
echo "pkg-config: both programs built and ran"
