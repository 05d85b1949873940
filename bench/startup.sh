#!/usr/bin/env bash
# Start-up time and idle memory of approvald on its embedded default
# (SQLite), with a fresh database file (created and migrated at start) and
# with an existing one, interleaved. approvald-load -scenario startup
# measures from exec to the first 200 of /readyz (polled every millisecond)
# and reads VmRSS from /proc/<pid>/status after the server has idled.
#   bash bench/startup.sh [rounds=7] [idle=5s]
# Needs curl.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
idle=${2:-5s}
port=18126
source bench/lib.sh
build
port_free "$port"
db="$bench_tmp/startup.db"
results="$bench_tmp/results"
echo "# $(date -u +%FT%TZ) $(machine) $(go version | cut -d' ' -f3) binary $(du -h "$approvald" | cut -f1) rounds=$rounds idle=$idle"
start() { # fresh|existing
  local remove=()
  [ "$1" = fresh ] && remove=(-remove "$db")
  APPROVALD_RATE_LIMIT=-1 SECRETS_MNT_PATH="$bench_tmp/secrets" \
    "$load" -scenario startup -exec "$approvald" -url "http://127.0.0.1:$port" -runs 1 -idle "$idle" "${remove[@]}" -json \
    -- --addr "127.0.0.1:$port" --database "sqlite:$db" --log-level warn
}
start fresh >/dev/null # the file exists from here on
for round in $(seq 1 "$rounds"); do
  for kind in fresh existing; do
    out=$(start "$kind")
    echo "round $round $kind $out"
    echo "$out" | jq -r --arg k "$kind" '[$k, .ops[0].p50_ms, .idle_rss_mib] | @tsv' >>"$results"
  done
done
echo
echo "medians of $rounds starts each:"
echo "| database file | exec → /readyz 200 (ms) | VmRSS after ${idle} idle (MiB) |"
echo "|---|---:|---:|"
medians 1 <"$results" | awk '{ printf "| %s | %.1f | %.1f |\n", $1, $2, $3 }'
