#!/usr/bin/env bash
# The proxy benchmark of issue 4 in one run: HTTP keep-alive, HTTP with a new connection per request, TCP,
# 64 MiB bulk transfers and idle memory per connection, haproxy and duet-proxy with the same configuration
# and the same nginx backends (proxy-http.sh and proxy-tcp.sh do the measuring). Prints both tables and
#   RESULT http_rps_ratio=... close_rps_ratio=... tcp_rps_ratio=... bulk_ratio=... p99_ratio=... idle_kb_per_conn_ratio=...
#          paced_p99_ratio=...
# (Duet over haproxy; for p99 and idle memory lower is better). p99_ratio is keep-alive HTTP at saturation,
# paced_p99_ratio the same requests at a fixed offered load (about 40 % of saturation, the same for both).
set -euo pipefail
here=$(dirname "$0")
http=$("$here/proxy-http.sh")
echo "$http"
tcp=$("$here/proxy-tcp.sh")
echo "$tcp"
kv() { # output key -> value (from the lines "RESULT ..." and "name_ratio=...")
  tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | tail -1
}
r() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "nan"; else printf "%.3f", a / b }'; }
http_result=$(grep '^RESULT' <<<"$http")
tcp_result=$(grep '^RESULT' <<<"$tcp")
echo "RESULT http_rps_ratio=$(kv "$http_result" ratio) close_rps_ratio=$(kv "$(grep close_ratio <<<"$http")" close_ratio)" \
  "tcp_rps_ratio=$(kv "$tcp_result" ratio) bulk_ratio=$(kv "$(grep bulk_ratio <<<"$tcp")" bulk_ratio)" \
  "p99_ratio=$(r "$(kv "$http_result" duet_p99_ms)" "$(kv "$http_result" haproxy_p99_ms)")" \
  "idle_kb_per_conn_ratio=$(kv "$(grep idle_kb_per_conn_ratio <<<"$http")" idle_kb_per_conn_ratio)" \
  "paced_p99_ratio=$(r "$(kv "$http_result" duet_paced_p99_ms)" "$(kv "$http_result" haproxy_paced_p99_ms)")"
