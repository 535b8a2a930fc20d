#!/usr/bin/env bash
# Runs everything the project tests, on a fresh Debian machine, as root:
# installs what the tests use, checks formatting and vet, runs every package's tests with -race
# (the root tests build real network namespaces), then a short run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
[ "$(id -u)" = 0 ] || { echo "scripts/test.sh: run as root (the tests build network namespaces)" >&2; exit 1; }

scripts/deps.sh

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$bad" ] || { echo "gofmt would change:"; echo "$bad"; exit 1; }

echo "== go vet"
go vet ./...

echo "== go test -race"
export DUET_ROOT_TESTS=1
go test -race -count=1 -timeout 30m ./...

echo "== fuzz (short run of every target)"
scripts/fuzz.sh "${DUET_FUZZTIME:-5s}"
echo "== all tests passed"
