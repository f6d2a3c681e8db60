#!/usr/bin/env bash
# Installs every Debian package ferry needs to build, test, benchmark and run its demo.
# Idempotent: packages already present are left alone, so a second run is quick and offline.
# Uses sudo when not root. Also installs the pinned npm packages of the nats.js interop test.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev lld
  # libraries
  libasio-dev libssl-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libnats-dev libprotobuf-c-dev libsqlite3-dev
  librdkafka-dev libhiredis-dev librabbitmq-dev libpq-dev
  libprotobuf-dev protobuf-compiler libcpp-httplib-dev libjemalloc-dev
  # gRPC beside the bus (ferry::grpc and the shop's payment service)
  libgrpc++-dev protobuf-compiler-grpc
  # reference server and clients we did not write, for interop, differential tests and benchmarks
  nats-server golang-go golang-github-nats-io-go-nats-dev redis-server redis-tools
  rabbitmq-server python3-pika
  # PostgreSQL for the outbox, inbox and saga tests (a server per test run, on loopback)
  postgresql-15
  # test tools
  openssl curl procps psmisc python3
  # promtool (Prometheus's own exposition parser and linter) for the metrics tests
  prometheus
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "deps: all ${#packages[@]} Debian packages present"
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "deps: installing nodejs and npm"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm
fi
if [ -f "$here/tests/interop/js/package-lock.json" ] && { [ ! -d "$here/tests/interop/js/node_modules/nats" ] ||
  [ ! -d "$here/tests/interop/js/node_modules/@opentelemetry/otlp-transformer" ]; }; then
  echo "deps: npm ci (nats.js and the OpenTelemetry OTLP types, pinned in tests/interop/js/package-lock.json)"
  (cd "$here/tests/interop/js" && npm ci --no-audit --no-fund --loglevel=error)
fi
