#!/usr/bin/env bash
# Cluster core benchmark, in the namespace topology: takeover time after SIGKILL of the DC's clusterd with
# its cable pulled at the same moment (until the survivor reports itself DC with quorum), false failovers in
# an idle run, the `crm configure property` round trip, and idle CPU and RSS of the DC's clusterd and the other's.
#   BENCH_RUNS (10)  BENCH_IDLE seconds (300)  BENCH_RTT_RUNS (20)
BENCH_NAME=bench TOPO_PREFIX="db$$"
# shellcheck source=../lib/bench.sh
source "$(dirname "$0")/../lib/bench.sh"
RUNS=${BENCH_RUNS:-10}
IDLE=${BENCH_IDLE:-300}
RTT_RUNS=${BENCH_RTT_RUNS:-20}

go build -o "$WORK/bin/" ./cmd/clusterd ./cmd/crm ./internal/demo/waitdc
BIN=$WORK/bin
topo_init
topo_host n1 10.250.0.11/24
topo_host n2 10.250.0.12/24
"$BIN/clusterd" keygen "$WORK/key"
start_node() {
  local n=$1 ip o oip
  if [ "$n" = n1 ]; then ip=10.250.0.11 o=n2 oip=10.250.0.12; else ip=10.250.0.12 o=n1 oip=10.250.0.11; fi
  mkdir -p "$WORK/$n"
  topo_spawn "$n" "$WORK/$n/log" "$BIN/clusterd" --name "$n" --bind "$ip" --peer "$o=$oip" \
    --data-dir "$WORK/$n/data" --key-file "$WORK/key" --socket "$WORK/$n/sock"
}
crm() { DUET_SOCKET="$WORK/$1/sock" "$BIN/crm" "${@:2}"; }
dc() {
  local d
  for _ in $(seq 100); do
    d=$(crm "$1" status 2>/dev/null | sed -n 's/.*Current DC: \([^ ]*\) .*with quorum/\1/p')
    [ -n "$d" ] && { echo "$d"; return 0; }
    sleep 0.1
  done
  echo "bench: no DC" >&2; return 1
}
both_members() { # both online, neither pending, one DC
  local s
  s=$(crm "$1" status 2>/dev/null) || return 1
  grep -q "Online: \[ n1 n2 \]" <<<"$s" && grep -q "with quorum" <<<"$s"
}
wait_both() {
  for _ in $(seq 300); do both_members n1 && both_members n2 && return 0; sleep 0.1; done
  echo "bench: cluster did not re-form" >&2; return 1
}
start_node n1; start_node n2
wait_both
crm n1 configure property stonith-enabled=false >/dev/null

printf '%-6s %-8s %-10s\n' run killed takeover_ms
declare -a T=()
i=0
for attempt in $(seq $((RUNS * 2))); do
  [ "${#T[@]}" -ge "$RUNS" ] && break
  wait_both
  sleep 1
  D=$(dc n1)
  S=n1; [ "$D" = n1 ] && S=n2
  rm -f "$WORK/since"
  "$BIN/waitdc" -socket "$WORK/$S/sock" -dc "$S" -since-file "$WORK/since" -timeout 30s >"$WORK/take" &
  W=$!
  sleep 0.2
  topo_kill "$D" KILL
  date +%s%N >"$WORK/since"
  topo_link "$D" down
  wait $W
  ms=$(cat "$WORK/take")
  if [ "${ms#-}" != "$ms" ]; then
    # The survivor was DC already: leadership moved between our look and the kill. Not a takeover.
    printf '%-6s %-8s %-10s\n' "-" "$D" "skipped (DC moved before the kill)"
  else
    i=$((i + 1))
    T+=("$ms")
    printf '%-6s %-8s %-10s\n' "$i" "$D" "$ms"
  fi
  topo_wait "$D"
  topo_link "$D" up
  start_node "$D"
done
stats() { sort -n | awk '{a[NR]=$1} END {printf "%.1f %.1f %.1f\n", a[1], (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2), a[NR]}'; }
read -r TMIN TMED TMAX < <(printf '%s\n' "${T[@]}" | stats)
wait_both

# crm configure property round trip (a crm process per change, on the node that is not DC: forwarded).
D=$(dc n1); O=n1; [ "$D" = n1 ] && O=n2
declare -a R=()
for i in $(seq "$RTT_RUNS"); do
  s=$(date +%s%N); crm "$O" configure property cluster-name="bench$i" >/dev/null; e=$(date +%s%N)
  R+=("$(( (e - s) / 1000 ))")
done
RTT=$(printf '%s\n' "${R[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}')

# Idle run: count peers declared lost while nothing happens; CPU and RSS of the DC's clusterd and of the other
# node's (the DC sends Raft's heartbeats, so it costs about twice as much).
D=$(dc n1); O=n1; [ "$D" = n1 ] && O=n2
pid_of() { if [ "$1" = n1 ]; then pgrep -f -- "--name n1 --bind 10.250.0.11" | head -1; else pgrep -f -- "--name n2 --bind 10.250.0.12" | head -1; fi; }
PD=$(pid_of "$D"); PO=$(pid_of "$O")
lost0=$(cat "$WORK"/n*/log | grep -c "peer lost" || true)
hz=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
cd0=$(cpu "$PD"); co0=$(cpu "$PO"); t0=$(date +%s%N)
echo "idle run: ${IDLE}s"
sleep "$IDLE"
cd1=$(cpu "$PD"); co1=$(cpu "$PO"); t1=$(date +%s%N)
lost1=$(cat "$WORK"/n*/log | grep -c "peer lost" || true)
FALSE=$((lost1 - lost0))
[ "$(dc n1)" = "$D" ] || echo "bench: the DC moved during the idle run" >&2
pct() { awk -v c="$1" -v hz="$hz" -v ns="$((t1 - t0))" 'BEGIN {printf "%.2f", 100 * c / hz / (ns / 1e9)}'; }
CPU_DC=$(pct $((cd1 - cd0))); CPU_OTHER=$(pct $((co1 - co0)))
rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
RSS_DC=$(rss "$PD"); RSS_OTHER=$(rss "$PO")

echo
printf '%-28s %s\n' "takeover min/median/max ms" "$TMIN / $TMED / $TMAX  ($RUNS runs)"
printf '%-28s %s\n' "false failovers (idle ${IDLE}s)" "$FALSE"
printf '%-28s %s\n' "property round trip ms" "$RTT (median of $RTT_RUNS, one crm process each)"
printf '%-28s %s\n' "idle CPU % / RSS MB, DC" "$CPU_DC / $RSS_DC"
printf '%-28s %s\n' "idle CPU % / RSS MB, other" "$CPU_OTHER / $RSS_OTHER"
echo "RESULT takeover_min_ms=$TMIN takeover_median_ms=$TMED takeover_max_ms=$TMAX false_failovers=$FALSE property_rtt_ms=$RTT idle_cpu_dc_pct=$CPU_DC idle_cpu_other_pct=$CPU_OTHER rss_dc_mb=$RSS_DC rss_other_mb=$RSS_OTHER"
