#!/usr/bin/env bash
# Fence round trip benchmark: fence_xvm -> fence_virtd (multicast request, TCP callback, sha256 signature and
# challenge-response, libvirt test:///default backend), inside a private network namespace.
# Measures, per pair, the median of N client runs (process start included, as a fence agent is run):
#   status, and off (each off preceded by an untimed on).
# Pairs: Duet's fence_xvm + Duet's fence_virtd, and Debian's fence_xvm + fence_virtd.
# Usage (root): scripts/bench/fence.sh [N]     (default N=20; needs scripts/deps.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/usr/local/go/bin:$PATH
N=${1:-20}
[ "$(id -u)" = 0 ] || { echo "fence.sh: run as root (it builds a network namespace)" >&2; exit 1; }
for b in fence_xvm fence_virtd virsh; do
  command -v "$b" >/dev/null || { echo "fence.sh: $b missing: run scripts/deps.sh" >&2; exit 1; }
done

work=$(mktemp -d /tmp/duet-fence-bench.XXXXXX)
ns="duetfb$$"
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/fence_xvm" ./cmd/fence_xvm
go build -o "$work/fence_virtd" ./cmd/fence_virtd
printf '0123456789abcdef0123456789abcdef' > "$work/key"; chmod 600 "$work/key"
cat > "$work/fence_virt.conf" <<CONF
fence_virtd { listener = "multicast"; backend = "libvirt"; module_path = "/usr/lib/x86_64-linux-gnu/fence-virt"; }
listeners { multicast { key_file = "$work/key"; address = "225.0.0.12"; interface = "lo"; port = "1229"; } }
backends { libvirt { uri = "test:///default"; } }
CONF
chmod 600 "$work/fence_virt.conf"
ip netns add "$ns"
ip -n "$ns" link set lo up

now_ns() { date +%s%N; }

start_daemon() { # $1 = daemon binary
  ip netns exec "$ns" "$1" -F -f "$work/fence_virt.conf" -p "$work/fvd.pid" > "$work/daemon.log" 2>&1 &
  daemon_pid=$!
  for _ in $(seq 100); do
    ip netns exec "$ns" ss -Hlun 'sport = :1229' | grep -q 1229 && return 0
    sleep 0.05
  done
  echo "fence.sh: $1 did not start:" >&2; cat "$work/daemon.log" >&2; exit 1
}
stop_daemon() { kill "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true; daemon_pid=""; }

client() { # $1 = client binary, rest = args; fails the run on an unexpected exit status
  local bin=$1; shift
  ip netns exec "$ns" "$bin" -k "$work/key" -t 20 "$@" > /dev/null
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) printf "%.2f", a[(NR+1)/2]/1e6; else printf "%.2f", (a[NR/2]+a[NR/2+1])/2e6}'; }

measure() { # $1 = client, $2 = daemon; prints "status_ms off_ms"
  local cl=$1 dm=$2 t0 t1 st=() of=()
  start_daemon "$dm"
  client "$cl" -o status -H test   # warm up (virsh session, page cache)
  for _ in $(seq "$N"); do
    t0=$(now_ns); client "$cl" -o status -H test; t1=$(now_ns); st+=($((t1 - t0)))
  done
  for _ in $(seq "$N"); do
    client "$cl" -o on -H test
    t0=$(now_ns); client "$cl" -o off -H test; t1=$(now_ns); of+=($((t1 - t0)))
  done
  client "$cl" -o on -H test
  stop_daemon
  echo "$(printf '%s\n' "${st[@]}" | median) $(printf '%s\n' "${of[@]}" | median)"
}

read -r duet_status duet_off < <(measure "$work/fence_xvm" "$work/fence_virtd")
read -r real_status real_off < <(measure fence_xvm fence_virtd)

printf '\nfence round trip, median of %d runs (ms, client process start included)\n' "$N"
printf '%-34s %10s %10s\n' "pair" "status" "off"
printf '%-34s %10s %10s\n' "Duet fence_xvm + Duet fence_virtd" "$duet_status" "$duet_off"
printf '%-34s %10s %10s\n' "Debian fence_xvm + fence_virtd" "$real_status" "$real_off"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
printf '%-34s %10s %10s\n' "ratio Duet / Debian" "$(ratio "$duet_status" "$real_status")" "$(ratio "$duet_off" "$real_off")"

# CLUSTERD_FAILOVER: the clusterd owner appends the failover-with-fencing figure here
# (e.g. extra="$extra clusterd_failover_ms=..."), measured in its own topology.
extra=""

echo "RESULT duet_status_ms=$duet_status real_status_ms=$real_status duet_off_ms=$duet_off real_off_ms=$real_off$extra"
