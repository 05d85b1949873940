#!/usr/bin/env bash
# Decision → waiting client latency at a paced rate of decisions, on SQLite
# and on PostgreSQL, interleaved: approvald-load -scenario approve -watch
# longpoll has each client long-poll its request (GET …?wait=30s&
# after_version=1, as approvalctl wait does) from 50 ms before approving it;
# -watch sse has one subscriber of GET /v1/events. Each latency is the time
# the client got the decision minus the decision's commit time (decided_at,
# the event's timestamp). Requests name no service rule, so the decision is
# final at once. The clients share one reviewer key, so the server runs with
# --max-streams 100 (its default, 32 per principal, would refuse a 33rd
# waiter with 429). Each run has a fresh database. The table has medians.
#   bash bench/watch.sh [postgres-url-of-a-server] [seconds=10] [rounds=2] [rates="100 300"] [clients=32]
# Needs psql, curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
secs=${2:-10}
rounds=${3:-2}
rates=${4:-100 300}
clients=${5:-32}
port=18126
source bench/lib.sh
for tool in psql jq curl; do
  command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done
build
db=approvald_watch
url=$(pg_db "$server" "$db")

echo "# $(date -u +%FT%TZ) $(machine) secs=$secs rounds=$rounds clients=$clients"
results="$bench_tmp/results"
for round in $(seq 1 "$rounds"); do
  for rate in $rates; do
    for watch in longpoll sse; do
      for store in sqlite postgres; do
        if [ "$store" = postgres ]; then
          psql "$server" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
          start_approvald "$port" "$url" --db-max-conns 32 --max-streams 100
        else
          rm -f "$bench_tmp"/watch.db*
          start_approvald "$port" "sqlite:$bench_tmp/watch.db" --max-streams 100
        fi
        out=$("$load" -url "http://127.0.0.1:$port" -scenario approve -watch "$watch" -rate "$rate" -clients "$clients" -duration "${secs}s" -json)
        stop_approvald
        echo "round $round rate $rate $watch $store $out"
        echo "$out" | jq -r --arg s "$store" --arg r "$rate" --arg w "$watch" \
          '(.ops | map({(.name): .}) | add) as $o | [$s + "/" + $w, $r, $o.approve.per_second, $o[$w].count, $o[$w].p50_ms, $o[$w].p90_ms, $o[$w].p99_ms, $o[$w].max_ms, $o[$w].errors] | @tsv' >>"$results"
      done
    done
  done
done

echo
echo "medians of $rounds rounds, ${secs}s each, $clients clients:"
echo "| store / client | decisions/s offered | achieved | decisions seen | p50 ms | p90 ms | p99 ms | max ms | errors |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
medians 2 <"$results" | awk '{ printf "| %s | %d | %.0f | %d | %.1f | %.1f | %.1f | %.1f | %d |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }'
