#!/usr/bin/env bash
# Failover benchmark: the client-visible outage of the VIP 10.250.0.100 for Duet and for keepalived (VRRPv3,
# advert_int 0.1 s and 1 s) in the same namespaces, with the same client prober (a new connection every
# 10 ms). Each node runs the same small HTTP service outside cluster control; Duet and keepalived each manage
# only the VIP. Unplanned: the active node's cable pulled and its daemon SIGKILLed at once (the killed node's
# VIP is removed before its cable comes back, as a reboot would). Planned: `crm node standby` for Duet; for keepalived
# a priority drop to 0 (a clean stop of the master, which advertises priority 0).
#   BENCH_RUNS (10)  BENCH_IDLE seconds of idle for the false-failover check (300)
BENCH_NAME=failover TOPO_PREFIX="df$$"
# shellcheck source=../lib/bench.sh
source "$(dirname "$0")/../lib/bench.sh"
RUNS=${BENCH_RUNS:-10}
IDLE=${BENCH_IDLE:-300}
exec 3>&2 # the shell reports killed jobs on stderr; keep the table clean
go build -o "$WORK/bin/" ./cmd/clusterd ./cmd/crm ./internal/demo/namesrv ./internal/demo/probe
BIN=$WORK/bin
VIP=10.250.0.100

topo_init
topo_host n1 10.250.0.11/24
topo_host n2 10.250.0.12/24
topo_host client 10.250.0.250/24
ip_of() { [ "$1" = n1 ] && echo 10.250.0.11 || echo 10.250.0.12; }
other() { [ "$1" = n1 ] && echo n2 || echo n1; }
for n in n1 n2; do
  ns "$n" "$BIN/namesrv" -listen :8080 -names 10.250.0.11=n1,10.250.0.12=n2 >"$WORK/svc$n.log" 2>&1 &
  TOPO_PIDS[svc$n]=$!
done

who() { ns client curl -s -m 0.3 "http://$VIP:8080/" 2>/dev/null || true; }
wait_answer() { # wait until the client gets an answer from $1
  for _ in $(seq 300); do [ "$(who)" = "$1" ] && return 0; sleep 0.05; done
  echo "bench: no answer from $1" >&3; return 1
}
probe_start() {
  rm -f "$WORK/stop"
  ns client "$BIN/probe" -addr "$VIP:8080" -every 10ms -timeout 300ms -stop "$WORK/stop" >"$WORK/probe.out" 2>&1 &
  PROBE=$!
  sleep 0.5
}
probe_stop() { # sets OUT (the longest gap between answers, ms) and FAILED (failed requests)
  sleep 1
  touch "$WORK/stop"
  wait "$PROBE" || true
  read -r OUT FAILED < <(awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] } print r["max_gap_ms"], r["failed"] }' "$WORK/probe.out")
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) {print "nan"; exit} printf "%.1f\n", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
drop_vip() { ns "$1" ip addr del "$VIP/24" dev eth0 2>/dev/null || true; }

# ---------------- Duet ----------------
"$BIN/clusterd" keygen "$WORK/key"
duet_start() {
  local n=$1 o
  o=$(other "$n")
  topo_spawn "$n" "$WORK/$n.log" "$BIN/clusterd" --name "$n" --bind "$(ip_of "$n")" --peer "$o=$(ip_of "$o")" \
    --data-dir "$WORK/$n/data" --key-file "$WORK/key" --socket "$WORK/$n.sock"
}
crm() { DUET_SOCKET="$WORK/$1.sock" "$BIN/crm" "${@:2}"; }
duet_active() { crm n1 resource locate vip 2>/dev/null | sed -n 's/.*running on: //p'; }
duet_settled() { # both members, VIP running on exactly one node
  local s
  s=$(crm n1 status 2>/dev/null) || return 1
  grep -q "Online: \[ n1 n2 \]" <<<"$s" && [ -n "$(duet_active)" ] && ! grep -q "pending" <<<"$s"
}
duet_wait() { for _ in $(seq 300); do duet_settled && return 0; sleep 0.1; done; echo "bench: duet did not settle" >&3; return 1; }

duet_start n1; duet_start n2
for _ in $(seq 200); do crm n1 status 2>/dev/null | grep -q "Online: \[ n1 n2 \]" && break; sleep 0.1; done
crm n1 configure property stonith-enabled=false >/dev/null
crm n1 configure primitive vip ocf:duet:vip params ip=$VIP cidr_netmask=24 meta allow-migrate=true op monitor interval=1s >/dev/null
crm n1 configure rsc_defaults resource-stickiness=100 >/dev/null
duet_wait

declare -a DU=() DP=()
for i in $(seq "$RUNS"); do
  duet_wait; A=$(duet_active); wait_answer "$A"
  probe_start
  topo_link "$A" down; topo_kill "$A" KILL
  wait_answer "$(other "$A")"
  probe_stop; out=$OUT failed=$FAILED
  DU+=("$out")
  printf '%-10s %-10s run %2d  outage %8s ms  failed %s\n' duet unplanned "$i" "$out" "$failed"
  topo_wait "$A" 2>/dev/null; drop_vip "$A"; topo_link "$A" up; duet_start "$A"
done
for i in $(seq "$RUNS"); do
  duet_wait; A=$(duet_active); wait_answer "$A"
  probe_start
  crm n1 node standby "$A"
  wait_answer "$(other "$A")"
  probe_stop; out=$OUT failed=$FAILED
  DP+=("$failed")
  printf '%-10s %-10s run %2d  outage %8s ms  failed %s\n' duet planned "$i" "$out" "$failed"
  crm n1 node online "$A"
done
# Idle: count peers declared lost while nothing happens.
lost0=$(cat "$WORK"/n1.log "$WORK"/n2.log | grep -c "peer lost" || true)
echo "duet idle run: ${IDLE}s"
sleep "$IDLE"
lost1=$(cat "$WORK"/n1.log "$WORK"/n2.log | grep -c "peer lost" || true)
FALSE=$((lost1 - lost0))
topo_kill n1 TERM; topo_kill n2 TERM; topo_wait n1 2>/dev/null; topo_wait n2 2>/dev/null
drop_vip n1; drop_vip n2

# ---------------- keepalived ----------------
ka_conf() { # node advert_int priority
  cat >"$WORK/ka-$1.conf" <<KA
global_defs {
  router_id $1
  vrrp_version 3
  enable_script_security
}
vrrp_instance VI_1 {
  state BACKUP
  nopreempt
  interface eth0
  virtual_router_id 51
  priority $3
  advert_int $2
  virtual_ipaddress {
    $VIP/24 dev eth0
  }
}
KA
}
ka_start() {
  mkdir -p "$WORK/ka"
  topo_spawn "$1" "$WORK/ka-$1.log" keepalived -n -l -D -G --vrrp -f "$WORK/ka-$1.conf" \
    -p "$WORK/ka/$1.pid" -r "$WORK/ka/$1.vrrp.pid"
}
ka_active() { local n; for n in n1 n2; do if ns "$n" ip -o addr show dev eth0 | grep -q " $VIP/"; then echo "$n"; return 0; fi; done; return 0; }
ka_wait() { # prints the master once there is one
  local a
  for _ in $(seq 300); do a=$(ka_active); [ -n "$a" ] && { echo "$a"; return 0; }; sleep 0.1; done
  echo "bench: keepalived has no master" >&3; return 1
}

declare -A KU=() KP=()
for adv in 0.1 1; do
  ka_conf n1 "$adv" 100; ka_conf n2 "$adv" 90
  ka_start n1; ka_start n2
  ka_wait >/dev/null
  U=(); P=()
  for i in $(seq "$RUNS"); do
    A=$(ka_wait); wait_answer "$A"; sleep $(( ${adv%.*} * 3 + 1 ))
    probe_start
    # Cable first: keepalived's VRRP child gets SIGTERM when its parent dies (PR_SET_PDEATHSIG) and would
    # otherwise announce priority 0 as on a clean stop, which a dead node cannot do.
    topo_link "$A" down; topo_kill "$A" KILL
    wait_answer "$(other "$A")"
    probe_stop; out=$OUT failed=$FAILED
    U+=("$out")
    printf '%-10s %-10s run %2d  outage %8s ms  failed %s\n' "ka-$adv" unplanned "$i" "$out" "$failed"
    topo_wait "$A" 2>/dev/null; drop_vip "$A"; topo_link "$A" up; ka_start "$A"
  done
  for i in $(seq "$RUNS"); do
    A=$(ka_wait); wait_answer "$A"; sleep $(( ${adv%.*} * 3 + 1 ))
    probe_start
    topo_kill "$A" TERM
    wait_answer "$(other "$A")"
    probe_stop; out=$OUT failed=$FAILED
    P+=("$failed")
    printf '%-10s %-10s run %2d  outage %8s ms  failed %s\n' "ka-$adv" planned "$i" "$out" "$failed"
    topo_wait "$A" 2>/dev/null; ka_start "$A"
  done
  KU[$adv]=$(printf '%s\n' "${U[@]}" | median)
  KP[$adv]=$(printf '%s\n' "${P[@]}" | awk '{s+=$1} END {print s+0}')
  topo_kill n1 TERM; topo_kill n2 TERM; topo_wait n1 2>/dev/null; topo_wait n2 2>/dev/null
  drop_vip n1; drop_vip n2
done

DU50=$(printf '%s\n' "${DU[@]}" | median)
DPF=$(printf '%s\n' "${DP[@]}" | awk '{s+=$1} END {print s+0}')
RATIO=$(awk -v a="$DU50" -v b="${KU[0.1]}" 'BEGIN {printf "%.2f", a / b}')
echo
printf '%-26s %14s %22s\n' "" "unplanned p50 ms" "planned failed (sum)"
printf '%-26s %14s %22s\n' "duet" "$DU50" "$DPF"
printf '%-26s %14s %22s\n' "keepalived advert 0.1s" "${KU[0.1]}" "${KP[0.1]}"
printf '%-26s %14s %22s\n' "keepalived advert 1s" "${KU[1]}" "${KP[1]}"
printf '%-26s %14s\n' "duet false failovers" "$FALSE (idle ${IDLE}s)"
echo "RESULT duet_unplanned_p50_ms=$DU50 keepalived_01_unplanned_p50_ms=${KU[0.1]} keepalived_1_unplanned_p50_ms=${KU[1]} ratio=$RATIO duet_planned_failed=$DPF keepalived_01_planned_failed=${KP[0.1]} duet_false_failovers=$FALSE"
