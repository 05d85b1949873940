#!/usr/bin/env bash
# approvald's create, approve and get, on PostgreSQL and on SQLite, at 16
# and 64 clients, beside pgbench running a transaction of the same shape as
# a create (bench/pgbench-create.sql: the request row, its history entry and
# its outbox event) on the same PostgreSQL server. Interleaved: each round
# runs pgbench, then approvald on PostgreSQL, then approvald on SQLite, at
# each client count; approvald is stopped while pgbench runs (so that the
# two never hold connections at once). The table at the end has medians.
#   bash bench/compare.sh [postgres-url-of-a-server] [seconds=4] [rounds=3]
# Needs psql, pgbench, curl and jq. Scenarios per run: create (creates
# only), approve (create, then approve as another principal; the ratio
# counts both as transactions), get (reads of 64 requests at random).
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
secs=${2:-4}
rounds=${3:-3}
port=18123
source bench/lib.sh
for tool in psql pgbench jq curl; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done
build
db=approvald_compare
url=$(pg_db "$server" "$db")
psql "$server" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
sqlite="sqlite:$bench_tmp/compare.db"
# Migrate both before the first pgbench run.
start_approvald "$port" "$url" --db-max-conns 32 && stop_approvald
start_approvald "$port" "$sqlite" && stop_approvald

echo "# $(date -u +%FT%TZ) $(machine) $(psql "$server" -Atc 'SHOW server_version') $(go version | cut -d' ' -f3) secs=$secs rounds=$rounds"
results="$bench_tmp/results"
for round in $(seq 1 "$rounds"); do
  for c in 16 64; do
    tps=$(pgbench -n -f bench/pgbench-create.sql -c "$c" -j 2 -T "$secs" "$url" 2>/dev/null | awk '/^tps/ {print $3}')
    echo "round $round clients $c pgbench tps $tps"
    echo "$c pgbench - $tps 0 0 0" >>"$results"
    for store in postgres sqlite; do
      if [ "$store" = postgres ]; then start_approvald "$port" "$url" --db-max-conns 32; else start_approvald "$port" "$sqlite"; fi
      for scenario in create approve get; do
        out=$("$load" -url "http://127.0.0.1:$port" -scenario "$scenario" -clients "$c" -duration "${secs}s" -json)
        echo "round $round clients $c $store $out"
        # clients store scenario requests/s, then per op (the last op is
        # the scenario's own): its ops/s, p50, p99, and the errors.
        echo "$out" | jq -r --arg s "$store" --arg sc "$scenario" \
          '[.clients, $s, $sc, .transactions_per_second, .ops[-1].per_second, .ops[-1].p50_ms, .ops[-1].p99_ms, .errors] | @tsv' >>"$results"
      done
      stop_approvald
    done
  done
done

echo
echo "medians of $rounds rounds, ${secs}s each (ratio: requests/s over pgbench's tx/s at the same client count):"
echo "| clients | store | scenario | requests/s | ratio to pgbench | op/s | p50 ms | p99 ms | errors |"
echo "|---:|---|---|---:|---:|---:|---:|---:|---:|"
medians 3 <"$results" | awk '
  $2 == "pgbench" { pg[$1] = $4; printf "| %d | PostgreSQL | pgbench (create-shaped tx) | %.0f | 1 | | | | |\n", $1, $4; next }
  { printf "| %d | %s | %s | %.0f | %.2f | %.0f | %.2f | %.2f | %d |\n", $1, ($2 == "postgres" ? "PostgreSQL" : "SQLite"), $3, $4, (pg[$1] > 0 ? $4 / pg[$1] : 0), $5, $6, $7, $8 }'
