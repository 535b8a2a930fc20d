# shellcheck shell=bash
# The namespace topology of DESIGN.md section 6, for the demo and the benchmarks. Source it, then:
#   topo_init            creates <prefix>-sw with bridge br0 (attached to no host interface)
#   topo_host NAME CIDR  creates <prefix>-NAME joined to the bridge, eth0 = CIDR (10.250.0.0/16 only)
#   topo_link NAME up|down   pulls or plugs NAME's cable (from the switch side)
#   ns NAME CMD...       runs CMD inside NAME's namespace
#   topo_spawn NAME LOG CMD...  starts CMD in NAME's namespace in the background, remembers its PID
#   topo_kill NAME SIG   signals the processes topo_spawn started in NAME
#   topo_cleanup         kills what topo_spawn started (by PID) and deletes every namespace
# The prefix is unique per run (TOPO_PREFIX, default duet<pid>), so runs cannot collide.

TOPO_PREFIX=${TOPO_PREFIX:-d$$}
TOPO_HOSTS=()
declare -A TOPO_PIDS=()
TOPO_IDX=0

topo_init() {
  ip netns add "$TOPO_PREFIX-sw"
  ip -n "$TOPO_PREFIX-sw" link set lo up
  ip -n "$TOPO_PREFIX-sw" link add br0 type bridge stp_state 0 mcast_snooping 0
  ip -n "$TOPO_PREFIX-sw" link set br0 up
}

topo_host() {
  local name=$1 cidr=$2 ns="$TOPO_PREFIX-$1"
  case $cidr in 10.250.*) ;; *) echo "topo: $cidr is outside 10.250.0.0/16" >&2; return 1 ;; esac
  TOPO_IDX=$((TOPO_IDX + 1))
  local short="${TOPO_PREFIX:0:8}$TOPO_IDX"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add "${short}h" netns "$ns" type veth peer name "${short}s" netns "$TOPO_PREFIX-sw"
  ip -n "$ns" link set "${short}h" name eth0
  ip -n "$TOPO_PREFIX-sw" link set "${short}s" master br0 up
  ip -n "$ns" addr add "$cidr" dev eth0
  ip -n "$ns" link set eth0 up
  TOPO_HOSTS+=("$name")
  eval "TOPO_PEER_$name=${short}s"
}

topo_link() {
  local peer
  eval "peer=\$TOPO_PEER_$1"
  ip -n "$TOPO_PREFIX-sw" link set "$peer" "$2"
}

ns() {
  local name=$1
  shift
  ip netns exec "$TOPO_PREFIX-$name" "$@"
}

topo_spawn() {
  local name=$1 log=$2
  shift 2
  ip netns exec "$TOPO_PREFIX-$name" "$@" >>"$log" 2>&1 &
  TOPO_PIDS[$name]="${TOPO_PIDS[$name]:-} $!"
}

topo_kill() {
  local name=$1 sig=${2:-TERM} pid
  for pid in ${TOPO_PIDS[$name]:-}; do
    kill -s "$sig" "$pid" 2>/dev/null || true
  done
}

topo_wait() {
  local name=$1 pid
  for pid in ${TOPO_PIDS[$name]:-}; do
    wait "$pid" 2>/dev/null || true
  done
  TOPO_PIDS[$name]=""
}

topo_cleanup() {
  local name pid
  for name in "${!TOPO_PIDS[@]}"; do
    for pid in ${TOPO_PIDS[$name]}; do kill -9 "$pid" 2>/dev/null || true; done
  done
  for name in "${!TOPO_PIDS[@]}"; do
    for pid in ${TOPO_PIDS[$name]}; do wait "$pid" 2>/dev/null || true; done
  done
  for name in "${TOPO_HOSTS[@]}"; do
    # Anything left in the namespace was started by this run (a script's background child): end it by PID.
    for pid in $(ip netns pids "$TOPO_PREFIX-$name" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$TOPO_PREFIX-$name" 2>/dev/null || true
  done
  ip netns del "$TOPO_PREFIX-sw" 2>/dev/null || true
}
