#!/usr/bin/env bash
# Shared helpers of proxy-http.sh and proxy-tcp.sh: nginx backends, haproxy and duet-proxy on the same
# configuration, wrk runs, RSS and CPU readings. Everything runs on loopback in a private temporary directory;
# every process started here is killed by PID on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH=/usr/local/go/bin:$PATH
DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
WORK=$(mktemp -d /tmp/duet-proxy-bench.XXXXXX)
chmod 755 "$WORK" # nginx workers run as nobody
PIDS=()
cleanup() {
  # TERM first (nginx's master then stops its worker), KILL what is left, and reap.
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 1 40); do
    alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.05
  done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null || { echo "missing $1: run scripts/deps.sh" >&2; exit 1; }; }
need wrk; need haproxy; need nginx

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

wait_port() {
  for _ in $(seq 1 200); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "port $1 never opened" >&2; return 1
}

# start_nginx: two backends answering "s1"/"s2" (about 160 bytes per response) and /big (64 MiB).
start_nginx() {
  B1=$(free_port); B2=$(free_port)
  mkdir -p "$WORK/www" "$WORK/ngx"
  head -c $((64*1024*1024)) /dev/zero > "$WORK/www/big.bin"
  cat > "$WORK/nginx.conf" <<NGX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
daemon off;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on; tcp_nopush on; # as in Debian's /etc/nginx/nginx.conf (only /big is a file)
  keepalive_requests 1000000;
  client_body_temp_path $WORK/ngx/body; proxy_temp_path $WORK/ngx/proxy; fastcgi_temp_path $WORK/ngx/fcgi; uwsgi_temp_path $WORK/ngx/uwsgi; scgi_temp_path $WORK/ngx/scgi;
  server { listen 127.0.0.1:$B1; location / { add_header X-Server s1; return 200 "s1\n"; } location /big { alias $WORK/www/big.bin; } }
  server { listen 127.0.0.1:$B2; location / { add_header X-Server s2; return 200 "s2\n"; } location /big { alias $WORK/www/big.bin; } }
}
NGX
  nginx -c "$WORK/nginx.conf" -p "$WORK" > /dev/null 2>&1 & PIDS+=($!)
  wait_port "$B1"; wait_port "$B2"
}

build_duet() {
  (cd "$ROOT" && go build -o "$WORK/duet-proxy" ./cmd/duet-proxy)
}

# start_pair BODY: writes the same listen section twice (haproxy on HP, duet on DP) and starts both. DUETENV
# (e.g. "GOMAXPROCS=3") is put in duet-proxy's environment, for experiments.
start_pair() {
  local body=$1
  HP=$(free_port); DP=$(free_port)
  local head="global
    maxconn 8000
defaults
    timeout connect 2s
    timeout client 30s
    timeout server 30s
"
  printf '%slisten bench\n    bind 127.0.0.1:%s\n%s' "$head" "$HP" "$body" > "$WORK/haproxy.cfg"
  printf '%slisten bench\n    bind 127.0.0.1:%s\n%s' "$head" "$DP" "$body" > "$WORK/duet.cfg"
  haproxy -db -f "$WORK/haproxy.cfg" > "$WORK/haproxy.log" 2>&1 & HPID=$!; PIDS+=($HPID)
  env ${DUETENV:-} "$WORK/duet-proxy" -q -f "$WORK/duet.cfg" > "${DUETLOG:-$WORK/duet.log}" 2>&1 & DPID=$!; PIDS+=($DPID)
  wait_port "$HP"; wait_port "$DP"
}

# stop_pair: ends the pair start_pair started (TERM, then KILL after 2 s) and forgets their PIDs, so that cleanup
# never signals a number the system may have given to another process since.
stop_pair() {
  local p
  for p in "$HPID" "$DPID"; do kill -TERM "$p" 2>/dev/null || true; done
  for _ in $(seq 1 40); do
    kill -0 "$HPID" 2>/dev/null || kill -0 "$DPID" 2>/dev/null || break
    sleep 0.05
  done
  for p in "$HPID" "$DPID"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  local keep=()
  for p in "${PIDS[@]}"; do [ "$p" = "$HPID" ] || [ "$p" = "$DPID" ] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

rss_mb() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# run_wrk NAME PORT PATH [extra wrk args]: sets RPS, P50, P99 (ms) and CPU_US (proxy CPU per request, µs)
run_wrk() {
  local name=$1 port=$2 path=$3 pid=$4; shift 4
  wrk -t"$THREADS" -c"$CONNS" -d2s "$@" "http://127.0.0.1:$port$path" > /dev/null 2>&1 || true
  local t0; t0=$(cpu_ticks "$pid")
  wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "http://127.0.0.1:$port$path" > "$WORK/wrk-$name.txt" 2>&1
  local t1; t1=$(cpu_ticks "$pid")
  RPS=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk-$name.txt")
  P50=$(awk '$1=="50%" {print $2}' "$WORK/wrk-$name.txt" | to_ms)
  P99=$(awk '$1=="99%" {print $2}' "$WORK/wrk-$name.txt" | to_ms)
  local total; total=$(awk '/requests in/ {print $1}' "$WORK/wrk-$name.txt")
  CPU_US=$(python3 -c "print('%.1f' % (($t1-$t0)*1e6/$(getconf CLK_TCK)/max($total,1)))")
  XFER=$(awk '/Transfer\/sec/ {print $2}' "$WORK/wrk-$name.txt" | python3 -c '
import sys
v=sys.stdin.read().strip()
m={"KB":1/1024/1024,"MB":1/1024,"GB":1.0,"B":1/1024**3}
for u in ("KB","MB","GB","B"):
    if v.endswith(u):
        print("%.2f" % (float(v[:-len(u)])*m[u])); break
else: print("nan")')
  if grep -q "Non-2xx" "$WORK/wrk-$name.txt"; then echo "warning: $name had non-2xx answers" >&2; fi
}

to_ms() { python3 -c '
import sys
v=sys.stdin.read().strip()
m={"us":0.001,"ms":1,"s":1000}
for u in ("us","ms","s"):
    if v.endswith(u):
        print("%.3f" % (float(v[:-len(u)])*m[u])); break
else: print("nan")'; }

# median V...: the median of the values (the benchmarks alternate the two proxies over ROUNDS rounds and report
# each one's median, so that a burst of load from elsewhere on the machine does not decide the ratio)
median() { python3 -c 'import sys,statistics; print(repr(round(statistics.median(float(v) for v in sys.argv[1:]), 3)))' "$@"; }
ROUNDS=${ROUNDS:-3}

ratio() { python3 -c "print('%.3f' % (float('$1')/float('$2')) if float('$2') else 'nan')"; }

# idle_kb PORT PID [silent]: opens IDLE (3000) keep-alive client connections, one request each, and prints the
# proxy's RSS growth per idle connection in kB (connections opened one after the other, each then left idle).
# With "silent", the connections send nothing at all (a burst of pre-connects) and are opened as fast as possible.
idle_kb() {
  local port=$1 pid=$2 n=${IDLE:-3000} silent=${3:-}
  local before; before=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  python3 - "$port" "$n" "$WORK/idle-ready" "$silent" > /dev/null 2>&1 <<'PY' &
import socket, sys, time
port, n, ready, silent = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    if silent:
        socks.append(s)
        continue
    # one request per connection, one connection after the other: n idle keep-alive connections remain
    s.settimeout(5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    socks.append(s)
open(ready, "w").write("ok")
time.sleep(60)
PY
  local py=$!; PIDS+=($py)
  for _ in $(seq 1 600); do [ -s "$WORK/idle-ready" ] && break; sleep 0.1; done
  sleep 1
  local after; after=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$py" 2>/dev/null || true; wait "$py" 2>/dev/null || true
  rm -f "$WORK/idle-ready"
  python3 -c "print('%.2f' % (($after-$before)/$n))"
}
