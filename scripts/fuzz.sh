#!/usr/bin/env bash
# Runs every go fuzz target in the project for a short time each: scripts/fuzz.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-5s}
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
  dir=$(dirname "$f")
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz $dir $fn ($t)"
    go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$t" "$dir" >/dev/null || { echo "fuzz $dir $fn failed"; go test -run='^$' -fuzz="^${fn}\$" -fuzztime="$t" "$dir" | tail -30; exit 1; }
  done
done
