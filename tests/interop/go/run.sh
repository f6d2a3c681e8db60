#!/usr/bin/env bash
# Runs the nats.go interop suite (package ferry_interop) in GOPATH mode with Debian's Go and
# nats.go (golang-go, golang-github-nats-io-go-nats-dev): no modules, no network.
#
#   tests/interop/go/run.sh [-run REGEXP] [other go test flags...]
#
# Environment (all optional):
#   FERRYD        ferryd binary (default: build/bin/ferryd in this repository)
#   FERRY_SERVER  set to "nats-server" (or a path to it) to run the suite against nats-server
#   FERRY_CERTS   directory for the TLS material from ../make_certs.sh (default: a temp dir)
#   GOCACHE       Go build cache (default: a throw-away directory, removed at exit)
#   GO            the go command (default: go)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/../../.." && pwd -P)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ferry-go-interop.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src"
ln -s "$here" "$tmp/src/ferry_interop"

export GO111MODULE=off
export GOPATH="$tmp:/usr/share/gocode"
export GOFLAGS=
export GOPROXY=off
export GOTOOLCHAIN=local
export CGO_ENABLED=0
export GOCACHE=${GOCACHE:-$tmp/gocache}
export GOTMPDIR="$tmp"
export HOME=${HOME:-$tmp}
export FERRYD=${FERRYD:-$repo/build/bin/ferryd}

cd "$tmp/src/ferry_interop"
# -p 1: one package, built once, its tests run one after another (they start servers).
exec_rc=0
"${GO:-go}" test -count=1 -p 1 -v -timeout 20m "$@" ferry_interop || exec_rc=$?
exit $exec_rc
