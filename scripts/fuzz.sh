#!/usr/bin/env bash
# Runs every go fuzz target in the project for a short time each: scripts/fuzz.sh [DURATION]
# A target fails the run when the fuzzer finds an input (it writes it under testdata/fuzz/, printed here). When
# Go's fuzzing engine itself fails without a failing input (a worker that hangs or dies under a loaded machine),
# the output is printed and the target is run once more; a second failure fails the run. One engine failure is
# not a failure of the target at all: "context deadline exceeded" as -fuzztime ends, with no input written, is a
# race in Go 1.26's fuzzing coordinator (golang/go#75804, fixed in Go 1.27); the target ran its whole time.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-5s}
log=$(mktemp /tmp/duet-fuzz.XXXXXX)
trap 'rm -f "$log"' EXIT
# deadline_race: the last run failed only by the coordinator's own deadline (the whole -fuzztime ran)
deadline_race() {
  [ "$(grep -c -- '--- FAIL' "$log")" = 1 ] && grep -A1 -- '--- FAIL' "$log" | tail -1 | grep -qx '[[:space:]]*context deadline exceeded'
}
run() { go test -run='^$' -fuzz="^$2\$" -fuzztime="$t" "$1" > "$log" 2>&1; }
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
  dir=$(dirname "$f")
  for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "fuzz $dir $fn ($t)"
    if run "$dir" "$fn"; then continue; fi
    echo "fuzz $dir $fn failed:"; tail -40 "$log"
    if grep -q 'Failing input written to' "$log"; then exit 1; fi
    if deadline_race; then echo "fuzz $dir $fn: Go's fuzztime deadline race (golang/go#75804), no input failed"; continue; fi
    echo "fuzz $dir $fn: no failing input was found (fuzzing engine failure); running it once more"
    run "$dir" "$fn" || { echo "fuzz $dir $fn failed again:"; tail -40 "$log"; exit 1; }
  done
done
