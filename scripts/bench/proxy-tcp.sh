#!/usr/bin/env bash
# Benchmark: TCP mode through haproxy and duet-proxy with the same configuration (2 nginx backends, roundrobin),
# wrk with keep-alive on the same machine, plus 64 MiB bulk transfers. The two proxies alternate over ROUNDS
# rounds (the order flips every round); each figure is the median of its rounds. Prints a table and
#   RESULT duet_rps=... haproxy_rps=... ratio=... duet_p99_ms=... haproxy_p99_ms=... duet_rss_mb=... haproxy_rss_mb=...
# Environment: DURATION (10s), CONNS (50), THREADS (2), ROUNDS (3).
source "$(dirname "$0")/proxy-lib.sh"
build_duet
start_nginx
BODY="    mode tcp
    balance roundrobin
    server s1 127.0.0.1:$B1
    server s2 127.0.0.1:$B2
"
HPID=; DPID=
declare -A R
for who in haproxy duet; do R[$who-rps]=""; R[$who-p50]=""; R[$who-p99]=""; R[$who-cpu]=""; R[$who-bulk]=""; done
printf '%-6s %-8s %12s %9s %9s %12s %12s\n' round proxy "req/s" "p50 ms" "p99 ms" "cpu us/req" "bulk GiB/s"
for round in $(seq 1 "$ROUNDS"); do
  stop_pair; start_pair "$BODY" # fresh processes every round, as in proxy-http.sh
  order="haproxy duet"; [ $((round % 2)) = 0 ] && order="duet haproxy"
  for who in $order; do
    if [ $who = haproxy ]; then port=$HP; pid=$HPID; else port=$DP; pid=$DPID; fi
    run_wrk "$who-tcp" "$port" / "$pid"
    R[$who-rps]+=" $RPS"; R[$who-p50]+=" $P50"; R[$who-p99]+=" $P99"; R[$who-cpu]+=" $CPU_US"
    rps=$RPS; p50=$P50; p99=$P99; cpu=$CPU_US
    # bulk: 4 connections fetching 64 MiB objects
    CONNS=4 THREADS=2 run_wrk "$who-bulk" "$port" /big "$pid"
    R[$who-bulk]+=" $XFER"
    printf '%-6s %-8s %12s %9s %9s %12s %12s\n' "$round" "$who" "$rps" "$p50" "$p99" "$cpu" "$XFER"
  done
done
for who in haproxy duet; do
  if [ $who = haproxy ]; then pid=$HPID; else pid=$DPID; fi
  R[$who-rss]=$(rss_mb "$pid")
  for k in rps p50 p99 cpu bulk; do
    # shellcheck disable=SC2086
    R[$who-$k]=$(median ${R[$who-$k]})
  done
done
printf '\nmedian of %s rounds\n%-10s %12s %9s %9s %12s %9s %12s\n' "$ROUNDS" proxy "req/s" "p50 ms" "p99 ms" "cpu us/req" "RSS MB" "bulk GiB/s"
for who in haproxy duet; do
  printf '%-10s %12s %9s %9s %12s %9s %12s\n' "$who" "${R[$who-rps]}" "${R[$who-p50]}" "${R[$who-p99]}" "${R[$who-cpu]}" "${R[$who-rss]}" "${R[$who-bulk]}"
done
echo "bulk_ratio=$(ratio "${R[duet-bulk]}" "${R[haproxy-bulk]}")"
echo "RESULT duet_rps=${R[duet-rps]} haproxy_rps=${R[haproxy-rps]} ratio=$(ratio "${R[duet-rps]}" "${R[haproxy-rps]}") duet_p99_ms=${R[duet-p99]} haproxy_p99_ms=${R[haproxy-p99]} duet_rss_mb=${R[duet-rss]} haproxy_rss_mb=${R[haproxy-rss]}"
