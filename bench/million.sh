#!/usr/bin/env bash
# The reviewer's inbox (GET /v1/approvals?awaiting=me) and the pending list
# (GET /v1/approvals?status=pending), first page of 50, through HTTP, on a
# PostgreSQL database of a million requests (bench/pg-million.sql), at 1, 4
# and 16 clients, interleaved. The database approvald_m1 is filled once
# (about 70-120 s) and kept for later runs; pass "refill" to make it anew.
#   bash bench/million.sh [postgres-url-of-a-server] [seconds=5] [rounds=3] [refill]
# Needs psql, curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
secs=${2:-5}
rounds=${3:-3}
refill=${4:-}
port=18127
source bench/lib.sh
for tool in psql jq curl; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done
build
db=approvald_m1
url=$(pg_db "$server" "$db")
if [ "$refill" = refill ]; then psql "$server" -qc "DROP DATABASE IF EXISTS $db"; fi
if ! psql "$server" -Atc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
  psql "$server" -qc "CREATE DATABASE $db"
fi
start_approvald "$port" "$url" --db-max-conns 32 # migrates
if [ "$(psql "$url" -Atc 'SELECT count(*) FROM approvals')" -lt 1000000 ]; then
  stop_approvald
  echo "filling $db with a million requests…"
  psql "$url" -q -v n=1000000 -f bench/pg-million.sql >/dev/null
  start_approvald "$port" "$url" --db-max-conns 32
fi

echo "# $(date -u +%FT%TZ) $(machine) $(psql "$server" -Atc 'SHOW server_version') $(go version | cut -d' ' -f3) $(psql "$url" -Atc 'SELECT count(*) FROM approvals') requests, secs=$secs rounds=$rounds"
results="$bench_tmp/results"
for round in $(seq 1 "$rounds"); do
  for c in 1 4 16; do
    for scenario in inbox list; do
      out=$("$load" -url "http://127.0.0.1:$port" -scenario "$scenario" -clients "$c" -duration "${secs}s" -json)
      echo "round $round $out"
      echo "$out" | jq -r --arg sc "$scenario" '[.clients, $sc, .ops[0].per_second, .ops[0].p50_ms, .ops[0].p90_ms, .ops[0].p99_ms, .errors] | @tsv' >>"$results"
    done
  done
done
echo
echo "medians of $rounds rounds, ${secs}s each:"
echo "| clients | read | reads/s | p50 ms | p90 ms | p99 ms | errors |"
echo "|---:|---|---:|---:|---:|---:|---:|"
medians 2 <"$results" | awk '{ printf "| %d | %s | %.0f | %.2f | %.2f | %.2f | %d |\n", $1, $2, $3, $4, $5, $6, $7 }'
