#!/usr/bin/env bash
# Duet's demo, on a fresh Debian machine, as root: two cluster nodes, two real servers and a client in
# network namespaces; clusterd on both nodes; a VIP in a group with a service; live status; a planned move
# (standby) and an unplanned failover (SIGKILL of the active node with its cable pulled), seen from the
# client. Everything it creates is removed at the end, also on Ctrl-C (DUET_DEMO_KEEP=1 keeps the logs).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it builds network namespaces)" >&2; exit 1; }
scripts/deps.sh

WORK=$(mktemp -d /tmp/duet-demo.XXXXXX)
TOPO_PREFIX="dd$$"
# shellcheck source=lib/topo.sh
source scripts/lib/topo.sh
cleanup() {
  set +e
  touch "$WORK/stop"
  topo_cleanup
  if [ -n "${DUET_DEMO_KEEP:-}" ]; then
    echo "demo: logs kept in $WORK (DUET_DEMO_KEEP)"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "building Duet"
go build -o "$WORK/bin/" ./cmd/clusterd ./cmd/crm ./cmd/crm_mon ./internal/demo/namesrv ./internal/demo/probe
BIN=$WORK/bin

say "network: switch, nodes n1 n2 (10.250.0.11-12), real servers rs1 rs2 (10.250.0.21-22), client (10.250.0.250); VIP 10.250.0.100"
topo_init
topo_host n1 10.250.0.11/24
topo_host n2 10.250.0.12/24
topo_host rs1 10.250.0.21/24
topo_host rs2 10.250.0.22/24
topo_host client 10.250.0.250/24
VIA=10.250.0.11=n1,10.250.0.12=n2
topo_spawn rs1 "$WORK/rs1.log" "$BIN/namesrv" -listen :80 -names 10.250.0.21=rs1 -via $VIA
topo_spawn rs2 "$WORK/rs2.log" "$BIN/namesrv" -listen :80 -names 10.250.0.22=rs2 -via $VIA

"$BIN/clusterd" keygen "$WORK/cluster.key"
for n in 1 2; do
  o=$((3 - n))
  mkdir -p "$WORK/n$n"
  cat >"$WORK/n$n/clusterd.conf" <<CONF
# clusterd configuration of node n$n
node_name = n$n
bind = 10.250.0.1$n
peer = n$o 10.250.0.1$o
data_dir = $WORK/n$n/data
key_file = $WORK/cluster.key
socket = $WORK/n$n/clusterd.sock
CONF
done

start_node() {
  # Each node gets a private /run (ip netns exec already gives it a mount namespace), as separate
  # machines would have: agents keep pid files there.
  topo_spawn "$1" "$WORK/$1/clusterd.log" sh -c 'mount -t tmpfs duet-run /run && mkdir -p /run/resource-agents && exec "$@"' sh \
    "$BIN/clusterd" --config "$WORK/$1/clusterd.conf"
}
say "starting clusterd on n1 and n2"
for n in n1 n2; do
  echo "  clusterd --config $WORK/$n/clusterd.conf"
  start_node "$n"
done
crm() { DUET_SOCKET="$WORK/$1/clusterd.sock" "$BIN/crm" "${@:2}"; }
crm_mon() { DUET_SOCKET="$WORK/$1/clusterd.sock" "$BIN/crm_mon" "${@:2}"; }
for _ in $(seq 100); do
  crm n1 status 2>/dev/null | grep -q "Current DC: n" && crm n1 status | grep -q "Online: \[ n1 n2 \]" && break
  sleep 0.1
done

say "configuring with crm (crmsh syntax)"
run() { echo "  crm $*"; crm n1 "$@"; }
run configure property stonith-enabled=false no-quorum-policy=ignore
cat >"$WORK/haproxy.cfg" <<CFG
# HAProxy's own dialect, run by Duet's embedded proxy on both nodes (a clone); it binds the VIP before the
# VIP arrives (non-local bind), so a failover only moves the address.
global
    maxconn 1000
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend web
    bind 10.250.0.100:80
    default_backend servers
backend servers
    balance roundrobin
    server rs1 10.250.0.21:80 check inter 1s
    server rs2 10.250.0.22:80 check inter 1s
listen stats
    bind 10.250.0.100:8404
    stats enable
    stats uri /stats
CFG
cat >"$WORK/web.crm" <<CRM
# the service: a VIP and, in the same group, a small HTTP server answering with its node's name (:8080);
# the proxy runs on both nodes and balances the VIP's port 80 over the real servers rs1 and rs2
primitive vip ocf:duet:vip \\
	params ip=10.250.0.100 cidr_netmask=24 \\
	meta allow-migrate=true \\
	op monitor interval=1s
primitive web ocf:heartbeat:anything \\
	params binfile="$BIN/namesrv" cmdline_options="-listen :8080 -names 10.250.0.11=n1,10.250.0.12=n2" \\
	op monitor interval=2s timeout=10s
primitive proxy ocf:duet:proxy \\
	params config="$WORK/haproxy.cfg" \\
	op monitor interval=2s
group g_web vip web
clone proxy-clone proxy
# the VIP goes only where a proxy runs, and leaves a node before its proxy stops (order is symmetrical)
colocation g_web-with-proxy inf: g_web proxy-clone
order proxy-before-g_web Mandatory: proxy-clone g_web
rsc_defaults rsc-options: \\
	resource-stickiness=100 \\
	migration-threshold=3
CRM
echo "  crm configure load update web.crm"; sed 's/^/    /' "$WORK/web.crm"
crm n1 configure load update "$WORK/web.crm"
for _ in $(seq 200); do
  crm n1 resource locate g_web 2>/dev/null | grep -q "running on: n[12]$" && break
  sleep 0.1
done
say "crm configure show"
crm n1 configure show
say "crm_mon -1 -r"
crm_mon n1 -1 -r
say "through the proxy: four requests to http://10.250.0.100/ (roundrobin over rs1 and rs2; the real server names the proxy node)"
for _ in 1 2 3 4; do printf '  %s\n' "$(ns client curl -s -m 1 http://10.250.0.100/)"; done
echo "  stats page: $(ns client curl -s -m 1 'http://10.250.0.100:8404/stats;csv' | grep -c '^servers,') lines for backend servers in http://10.250.0.100:8404/stats;csv"

active() { crm n1 resource locate g_web 2>/dev/null | sed -n 's/.*running on: //p'; }
A=$(active)
say "the client probes http://10.250.0.100/ (through the proxy) every 10 ms with a new connection"
rm -f "$WORK/stop"
ns client "$BIN/probe" -addr 10.250.0.100:80 -every 10ms -timeout 300ms -live -stop "$WORK/stop" >"$WORK/probe1.log" &
PROBE=$!
sleep 1
say "planned move: crm node standby $A, then online again"
crm n1 node standby "$A"
for _ in $(seq 100); do [ "$(active)" != "$A" ] && [ -n "$(active)" ] && break; sleep 0.1; done
crm_mon n1 -1 | sed -n '/Node List/,$p'
sleep 1
crm n1 node online "$A"
sleep 1
touch "$WORK/stop"; wait $PROBE || true
cat "$WORK/probe1.log"

A=$(active)
S=n1; [ "$A" = n1 ] && S=n2
say "unplanned: SIGKILL clusterd on $A and pull its cable at the same moment"
rm -f "$WORK/stop"
ns client "$BIN/probe" -addr 10.250.0.100:80 -every 10ms -timeout 300ms -live -stop "$WORK/stop" >"$WORK/probe2.log" &
PROBE=$!
sleep 1
topo_kill "$A" KILL
topo_link "$A" down
for _ in $(seq 100); do
  ns client curl -s -m 0.3 http://10.250.0.100/ 2>/dev/null | grep -q "via $S" && break
  sleep 0.05
done
sleep 1
touch "$WORK/stop"; wait $PROBE || true
say "the client's view"
cat "$WORK/probe2.log"
say "crm_mon -1 on the survivor $S (the last failover's timeline at the end)"
crm_mon "$S" -1 -r
say "through the proxy on $S: four requests to http://10.250.0.100/"
for _ in 1 2 3 4; do printf '  %s\n' "$(ns client curl -s -m 1 http://10.250.0.100/)"; done
say "done: cleaning up namespaces and processes"
