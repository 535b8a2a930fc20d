#!/usr/bin/env bash
# Installs the Debian packages that the tests, the demo and the benchmarks use.
# Each part of the project lists its own packages in scripts/deps.d/*.txt (one per line, # comments).
set -euo pipefail
cd "$(dirname "$0")"
mapfile -t pkgs < <(cat deps.d/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Packages such as haproxy, nginx or mariadb would start their services on install; no service should run
  # outside the test namespaces, so policy-rc.d refuses every start during the install.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
