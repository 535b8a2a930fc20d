#!/usr/bin/env bash
# Benchmark: HTTP keep-alive through haproxy and duet-proxy with the same configuration (2 nginx backends,
# roundrobin), wrk on the same machine. Also measures new-connection-per-request and memory per idle keep-alive
# connection (measured first, on freshly started proxies: after one request each, and silent). The two proxies
# alternate over ROUNDS rounds, both started afresh every round (the order flips every round); each figure is the
# median of its rounds. Prints a table with every round and
#   RESULT duet_rps=... haproxy_rps=... ratio=... duet_p99_ms=... haproxy_p99_ms=... duet_paced_p99_ms=...
#          haproxy_paced_p99_ms=... duet_rss_mb=... haproxy_rss_mb=...
# p50/p99 are measured twice: at saturation (wrk as fast as it can) and at a fixed offered load (wrk-pace.lua:
# every connection waits PACE_MS after each response, about 40 % of saturation on this machine), the same load for both.
# Environment: DURATION (10s), CONNS (50), THREADS (2), ROUNDS (3), IDLE (3000), PACE_MS (2).
source "$(dirname "$0")/proxy-lib.sh"
build_duet
start_nginx
BODY="    mode http
    balance roundrobin
    server s1 127.0.0.1:$B1
    server s2 127.0.0.1:$B2
"
declare -A R
# memory first, each figure on freshly started proxies (so that neither reuses memory freed by an earlier run)
start_pair "$BODY"
R[haproxy-idle]=$(idle_kb "$HP" "$HPID"); R[duet-idle]=$(idle_kb "$DP" "$DPID")
stop_pair; start_pair "$BODY"
R[haproxy-silent]=$(idle_kb "$HP" "$HPID" silent); R[duet-silent]=$(idle_kb "$DP" "$DPID" silent)
PACE=$(dirname "$0")/wrk-pace.lua
export PACE_MS=${PACE_MS:-2}
for who in haproxy duet; do for k in rps p50 p99 cpu close prps pp50 pp99; do R[$who-$k]=""; done; done
printf '%-6s %-8s %12s %9s %9s %12s %12s %12s %9s %9s\n' round proxy "req/s" "p50 ms" "p99 ms" "cpu us/req" "close req/s" "paced req/s" "p50 ms" "p99 ms"
for round in $(seq 1 "$ROUNDS"); do
  # fresh processes every round: where the kernel puts a process's threads beside wrk's and nginx's stays for the
  # process's life and moved one proxy's p99 by 1.5x from one process to the next; new ones average that out
  stop_pair; start_pair "$BODY"
  order="haproxy duet"; [ $((round % 2)) = 0 ] && order="duet haproxy"
  for who in $order; do
    if [ $who = haproxy ]; then port=$HP; pid=$HPID; else port=$DP; pid=$DPID; fi
    run_wrk "$who-ka" "$port" / "$pid"
    R[$who-rps]+=" $RPS"; R[$who-p50]+=" $P50"; R[$who-p99]+=" $P99"; R[$who-cpu]+=" $CPU_US"
    ka=$RPS; p50=$P50; p99=$P99; cpu=$CPU_US
    run_wrk "$who-close" "$port" / "$pid" -H "Connection: close"
    R[$who-close]+=" $RPS"; close=$RPS
    run_wrk "$who-paced" "$port" / "$pid" -s "$PACE"
    R[$who-prps]+=" $RPS"; R[$who-pp50]+=" $P50"; R[$who-pp99]+=" $P99"
    printf '%-6s %-8s %12s %9s %9s %12s %12s %12s %9s %9s\n' "$round" "$who" "$ka" "$p50" "$p99" "$cpu" "$close" "$RPS" "$P50" "$P99"
  done
done
for who in haproxy duet; do
  if [ $who = haproxy ]; then port=$HP; pid=$HPID; else port=$DP; pid=$DPID; fi
  R[$who-rss]=$(rss_mb "$pid")
  for k in rps p50 p99 cpu close prps pp50 pp99; do
    # shellcheck disable=SC2086
    R[$who-$k]=$(median ${R[$who-$k]})
  done
done
printf '\nmedian of %s rounds (paced: PACE_MS=%s)\n%-10s %12s %9s %9s %12s %9s %14s %14s %16s %12s %9s %9s\n' "$ROUNDS" "$PACE_MS" proxy "req/s" "p50 ms" "p99 ms" "cpu us/req" "RSS MB" "close req/s" "idle kB/conn" "silent kB/conn" "paced req/s" "p50 ms" "p99 ms"
for who in haproxy duet; do
  printf '%-10s %12s %9s %9s %12s %9s %14s %14s %16s %12s %9s %9s\n' "$who" "${R[$who-rps]}" "${R[$who-p50]}" "${R[$who-p99]}" "${R[$who-cpu]}" "${R[$who-rss]}" "${R[$who-close]}" "${R[$who-idle]}" "${R[$who-silent]}" "${R[$who-prps]}" "${R[$who-pp50]}" "${R[$who-pp99]}"
done
echo "close_ratio=$(ratio "${R[duet-close]}" "${R[haproxy-close]}") idle_kb_per_conn_ratio=$(ratio "${R[duet-idle]}" "${R[haproxy-idle]}") silent_kb_per_conn_ratio=$(ratio "${R[duet-silent]}" "${R[haproxy-silent]}")"
echo "RESULT duet_rps=${R[duet-rps]} haproxy_rps=${R[haproxy-rps]} ratio=$(ratio "${R[duet-rps]}" "${R[haproxy-rps]}") duet_p99_ms=${R[duet-p99]} haproxy_p99_ms=${R[haproxy-p99]} duet_paced_p99_ms=${R[duet-pp99]} haproxy_paced_p99_ms=${R[haproxy-pp99]} duet_rss_mb=${R[duet-rss]} haproxy_rss_mb=${R[haproxy-rss]}"
