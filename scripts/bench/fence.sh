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

# Duet's unplanned failover with fencing enabled, in the namespace topology: nodes n1 n2, a fence host fv
# running Duet's fence_virtd (netns backend), a client probing the VIP every 10 ms with a new connection.
# Each run pulls the active node's cable and SIGKILLs its clusterd; the survivor fences it, then takes the VIP.
fenced_failover() {
  local runs=${FENCE_FAILOVER_RUNS:-10} fw="$work/ff" out i A S
  mkdir -p "$fw"
  TOPO_PREFIX="dff$$"
  # shellcheck source=../lib/topo.sh
  source scripts/lib/topo.sh
  trap 'topo_cleanup; cleanup' EXIT
  go build -o "$fw/" ./cmd/clusterd ./cmd/crm ./internal/demo/namesrv ./internal/demo/probe
  topo_init
  topo_host fv 10.250.0.1/24; topo_host n1 10.250.0.11/24; topo_host n2 10.250.0.12/24; topo_host client 10.250.0.250/24
  cat >"$fw/fv.conf" <<CONF
fence_virtd { listener = "multicast"; backend = "netns"; }
listeners { multicast { key_file = "$work/key"; interface = "eth0"; } }
backends { netns { prefix = "$TOPO_PREFIX-"; } }
CONF
  topo_spawn fv "$fw/fv.log" "$work/fence_virtd" -F -f "$fw/fv.conf" -p "$fw/fv.pid"
  "$fw/clusterd" keygen "$fw/ckey"
  ff_start() {
    local n=$1 ip o oip
    if [ "$n" = n1 ]; then ip=10.250.0.11 o=n2 oip=10.250.0.12; else ip=10.250.0.12 o=n1 oip=10.250.0.11; fi
    ns "$n" ip link set eth0 up
    ns "$n" "$fw/namesrv" -listen :8080 -names 10.250.0.11=n1,10.250.0.12=n2 >>"$fw/svc$n.log" 2>&1 &
    TOPO_PIDS[svc$n]="${TOPO_PIDS[svc$n]:-} $!"
    topo_spawn "$n" "$fw/$n.log" "$fw/clusterd" --name "$n" --bind "$ip" --peer "$o=$oip" \
      --data-dir "$fw/$n/data" --key-file "$fw/ckey" --socket "$fw/$n.sock"
  }
  ffcrm() { DUET_SOCKET="$fw/n1.sock" "$fw/crm" "$@"; }
  ff_active() { DUET_SOCKET="$fw/$1.sock" "$fw/crm" resource locate vip 2>/dev/null | sed -n 's/.*running on: //p'; }
  ff_wait() { # both online, vip on one node; prints it
    local a
    for _ in $(seq 300); do
      if DUET_SOCKET="$fw/n1.sock" "$fw/crm" status 2>/dev/null | grep -q "Online: \[ n1 n2 \]"; then
        a=$(ff_active n1); [ -n "$a" ] && { echo "$a"; return 0; }
      fi
      sleep 0.1
    done
    echo "fence.sh: cluster did not settle" >&2; return 1
  }
  ff_start n1; ff_start n2
  for _ in $(seq 200); do ffcrm status 2>/dev/null | grep -q "Online: \[ n1 n2 \]" && break; sleep 0.1; done
  ffcrm configure primitive fence_nodes stonith:fence_xvm params "pcmk_host_map=n1:n1;n2:n2" key_file="$work/key" op monitor interval=60s >/dev/null
  ffcrm configure property stonith-action=off >/dev/null
  ffcrm configure primitive vip ocf:duet:vip params ip=10.250.0.100 cidr_netmask=24 op monitor interval=1s >/dev/null
  ffcrm configure rsc_defaults resource-stickiness=100 >/dev/null
  local outs=()
  for i in $(seq "$runs"); do
    A=$(ff_wait); S=n1; [ "$A" = n1 ] && S=n2
    for _ in $(seq 100); do [ "$(ns client curl -s -m 0.3 http://10.250.0.100:8080/ 2>/dev/null)" = "$A" ] && break; sleep 0.05; done
    rm -f "$fw/stop"
    ns client "$fw/probe" -addr 10.250.0.100:8080 -every 10ms -timeout 300ms -stop "$fw/stop" >"$fw/probe.out" 2>&1 &
    local probe=$!
    sleep 0.5
    topo_link "$A" down; topo_kill "$A" KILL
    for _ in $(seq 200); do [ "$(ns client curl -s -m 0.3 http://10.250.0.100:8080/ 2>/dev/null)" = "$S" ] && break; sleep 0.05; done
    sleep 1; touch "$fw/stop"; wait "$probe" || true
    out=$(awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "max_gap_ms") print kv[2] } }' "$fw/probe.out")
    outs+=("$out")
    printf '%-18s run %2d  outage %8s ms\n' "fenced failover" "$i" "$out"
    topo_wait "$A" 2>/dev/null; topo_kill "svc$A" KILL; topo_wait "svc$A" 2>/dev/null
    ns "$A" ip addr del 10.250.0.100/24 dev eth0 2>/dev/null || true
    topo_link "$A" up; ff_start "$A"
  done
  fenced_p50=$(printf '%s\n' "${outs[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
  echo "fenced failover p50: $fenced_p50 ms ($runs runs)"
}
fenced_failover
extra=" fenced_failover_p50_ms=$fenced_p50"

echo "RESULT duet_status_ms=$duet_status real_status_ms=$real_status duet_off_ms=$duet_off real_off_ms=$real_off$extra"
