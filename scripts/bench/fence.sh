#!/usr/bin/env bash
# Fence round trip benchmark: fence_xvm -> fence_virtd (multicast request, TCP callback, sha256 signature and
# challenge-response, libvirt test:///default backend), inside a private network namespace.
# Measures, per pair, the median of N client runs (process start included, as a fence agent is run):
#   status, and off (each off preceded by an untimed on).
# Pairs: Duet's fence_xvm + Duet's fence_virtd, and Debian's fence_xvm + fence_virtd. Both daemons run at
# once (Duet's on port 1229, Debian's on 1230; each client is given its daemon's port with -p) and the two
# pairs' runs alternate, so a change in the machine's background load hits both alike. A run is timed with
# bash's $EPOCHREALTIME around the client (no date(1) processes inside the timed interval).
# Duet's fence_xvm is built as it is meant to be shipped: CGO_ENABLED=0, a static binary (fencing/README.md).
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
daemon_pids=()
cleanup() {
  local p
  for p in "${daemon_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

CGO_ENABLED=0 go build -o "$work/fence_xvm" ./cmd/fence_xvm
go build -o "$work/fence_virtd" ./cmd/fence_virtd
printf '0123456789abcdef0123456789abcdef' > "$work/key"; chmod 600 "$work/key"
for port in 1229 1230; do
  cat > "$work/fence_virt.$port.conf" <<CONF
fence_virtd { listener = "multicast"; backend = "libvirt"; module_path = "/usr/lib/x86_64-linux-gnu/fence-virt"; }
listeners { multicast { key_file = "$work/key"; address = "225.0.0.12"; interface = "lo"; port = "$port"; } }
backends { libvirt { uri = "test:///default"; } }
CONF
  chmod 600 "$work/fence_virt.$port.conf"
done
ip netns add "$ns"
ip -n "$ns" link set lo up

start_daemon() { # $1 = daemon binary, $2 = port
  ip netns exec "$ns" "$1" -F -f "$work/fence_virt.$2.conf" -p "$work/fvd.$2.pid" > "$work/daemon.$2.log" 2>&1 &
  daemon_pids+=($!)
  for _ in $(seq 100); do
    ip netns exec "$ns" ss -Hlun "sport = :$2" | grep -q "$2" && return 0
    sleep 0.05
  done
  echo "fence.sh: $1 did not start:" >&2; cat "$work/daemon.$2.log" >&2; exit 1
}

client() { # $1 = client binary, $2 = port, rest = args; fails the run on an unexpected exit status
  local bin=$1 port=$2; shift 2
  ip netns exec "$ns" "$bin" -k "$work/key" -t 20 -p "$port" "$@" > /dev/null
}

# timed CLIENT PORT ARGS...: runs the client, prints its wall time in ns
timed() {
  local t0 t1
  t0=$EPOCHREALTIME; client "$@"; t1=$EPOCHREALTIME
  echo $(( (${t1/./} - ${t0/./}) * 1000 ))
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) printf "%.2f", a[(NR+1)/2]/1e6; else printf "%.2f", (a[NR/2]+a[NR/2+1])/2e6}'; }

start_daemon "$work/fence_virtd" 1229
start_daemon fence_virtd 1230
duet=("$work/fence_xvm" 1229) real=(fence_xvm 1230)
client "${duet[@]}" -o status -H test; client "${real[@]}" -o status -H test # warm up (page cache, virsh)
ds=() rs=() dof=() rof=()
for _ in $(seq "$N"); do
  ds+=("$(timed "${duet[@]}" -o status -H test)")
  rs+=("$(timed "${real[@]}" -o status -H test)")
done
for _ in $(seq "$N"); do
  client "${duet[@]}" -o on -H test; dof+=("$(timed "${duet[@]}" -o off -H test)")
  client "${real[@]}" -o on -H test; rof+=("$(timed "${real[@]}" -o off -H test)")
done
client "${duet[@]}" -o on -H test; client "${real[@]}" -o on -H test
for p in "${daemon_pids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
daemon_pids=()
duet_status=$(printf '%s\n' "${ds[@]}" | median) real_status=$(printf '%s\n' "${rs[@]}" | median)
duet_off=$(printf '%s\n' "${dof[@]}" | median) real_off=$(printf '%s\n' "${rof[@]}" | median)

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
