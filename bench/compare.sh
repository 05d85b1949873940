#!/usr/bin/env bash
# Side by side on one PostgreSQL server: approvald's create (and create +
# approve) under approvald-load, and pgbench running a transaction of the same
# shape (bench/pgbench-create.sql), at 16 and 64 clients, interleaved and
# repeated so that noise hits both alike. Prints one line per run.
#   bash bench/compare.sh [postgres-url-of-a-server] [seconds] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
server=${1:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
secs=${2:-15}
rounds=${3:-3}
db=approvald_compare
base=${server%%\?*}; base=${base%/*}
url="$base/$db?sslmode=disable"
psql "$server" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" 2>/dev/null

bin=$(mktemp -d)
go build -o "$bin/approvald" ./cmd/approvald
go build -o "$bin/approvald-load" ./cmd/approvald-load
export APPROVALD_ADMIN_KEY="apd_compare-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
"$bin/approvald" --addr 127.0.0.1:18123 --database "$url" --db-max-conns 32 --log-level warn &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$bin"' EXIT
for _ in $(seq 1 50); do curl -sf http://127.0.0.1:18123/readyz >/dev/null && break; sleep 0.2; done

for round in $(seq 1 "$rounds"); do
  for c in 16 64; do
    tps=$(pgbench -n -f bench/pgbench-create.sql -c "$c" -j 2 -T "$secs" "$url" 2>/dev/null | awk '/^tps/ {print $3}')
    echo "round $round clients $c pgbench-create tps $tps"
    out=$("$bin/approvald-load" -url http://127.0.0.1:18123 -clients "$c" -duration "${secs}s" -approve=false -json)
    echo "round $round clients $c approvald-create tps $(echo "$out" | sed 's/.*"transactions_per_second":\([0-9.]*\).*/\1/') $out"
    out=$("$bin/approvald-load" -url http://127.0.0.1:18123 -clients "$c" -duration "${secs}s" -json)
    echo "round $round clients $c approvald-create+approve tps $(echo "$out" | sed 's/.*"transactions_per_second":\([0-9.]*\).*/\1/') $out"
  done
done
