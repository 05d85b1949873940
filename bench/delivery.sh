#!/usr/bin/env bash
# Decision → webhook delivery latency at a paced rate of decisions, on
# SQLite and on PostgreSQL, interleaved. approvald-load -receiver ok runs a
# loopback receiver, creates a service rule pointing at it, and creates and
# approves requests naming that rule at -rate cycles per second; the
# receiver measures each approval.decided event from its timestamp (the
# commit of the decision) to its arrival. Each run has a fresh database.
# The table has medians. The server's delivery settings can be set through
# its environment (APPROVALD_DELIVERY_WORKERS, APPROVALD_DELIVERY_PER_RULE).
#   bash bench/delivery.sh [postgres-url-of-a-server] [seconds=10] [rounds=3] [rates="500"] [clients=32]
# Needs psql, curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
secs=${2:-10}
rounds=${3:-3}
rates=${4:-500}
clients=${5:-32}
port=18125
source bench/lib.sh
for tool in psql jq curl; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done
build
db=approvald_delivery
url=$(pg_db "$server" "$db")

echo "# $(date -u +%FT%TZ) $(machine) $(psql "$server" -Atc 'SHOW server_version') $(go version | cut -d' ' -f3) secs=$secs rounds=$rounds clients=$clients"
results="$bench_tmp/results"
for round in $(seq 1 "$rounds"); do
  for rate in $rates; do
    for store in sqlite postgres; do
      # A fresh database each run: a backlog left by an earlier run (its
      # receiver gone) would take delivery workers from this one.
      if [ "$store" = postgres ]; then
        psql "$server" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
        start_approvald "$port" "$url" --db-max-conns 32
      else
        rm -f "$bench_tmp"/delivery.db*
        start_approvald "$port" "sqlite:$bench_tmp/delivery.db"
      fi
      out=$("$load" -url "http://127.0.0.1:$port" -scenario approve -receiver ok -rate "$rate" -clients "$clients" -duration "${secs}s" -json)
      stop_approvald
      echo "round $round rate $rate $store $out"
      echo "$out" | jq -r --arg s "$store" --arg r "$rate" \
        '(.ops | map({(.name): .}) | add) as $o | [$s, $r, $o.approve.per_second, $o.approve.p99_ms, $o.delivery.count / .seconds, $o.delivery.p50_ms, $o.delivery.p90_ms, $o.delivery.p99_ms, $o.delivery.max_ms, .errors] | @tsv' >>"$results"
    done
  done
done

echo
echo "medians of $rounds rounds, ${secs}s each, $clients clients:"
echo "| store | decisions/s offered | achieved | approve p99 ms | delivery p50 ms | p90 ms | p99 ms | max ms | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
medians 2 <"$results" | awk '{ printf "| %s | %d | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %d |\n", ($1 == "postgres" ? "PostgreSQL" : "SQLite"), $2, $3, $4, $6, $7, $8, $9, $10 }'
