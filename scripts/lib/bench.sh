# shellcheck shell=bash
# The common start of the namespace benchmarks. Set BENCH_NAME and TOPO_PREFIX, then source this file: it
# checks for root, installs the packages, makes $WORK, loads the topology helpers (lib/topo.sh) and arranges
# for everything to be removed on exit, also on Ctrl-C (BENCH_KEEP=1 keeps $WORK for a look at the logs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export PATH=/usr/local/go/bin:$PATH
[ "$(id -u)" = 0 ] || { echo "bench: run as root" >&2; exit 1; }
scripts/deps.sh >/dev/null
WORK=$(mktemp -d "/tmp/duet-$BENCH_NAME.XXXXXX")
# shellcheck source=topo.sh
source scripts/lib/topo.sh
trap 'set +e; topo_cleanup; [ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
