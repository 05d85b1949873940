#!/usr/bin/env bash
# A few seconds of every load scenario against an approvald this script
# starts (a fresh SQLite file by default, or the database URL given), with
# the fake Publish upstream for the gateway: fails if any call fails or an
# operation never succeeds. For CI; needs Go and curl only.
#   bash bench/smoke.sh [database-url]
set -euo pipefail
cd "$(dirname "$0")/.."
port=18128
export UPSTREAM_PORT=18129
source bench/lib.sh
build
port_free "$UPSTREAM_PORT"
start_approvald "$port" "${1:-sqlite:$bench_tmp/smoke.db}"
url="http://127.0.0.1:$port"
run() { "$load" -url "$url" -clients 4 -fail-on-error "$@"; }
status=0
run -scenario approve -receiver ok -duration 2s || status=1
run -scenario get -duration 1s || status=1
run -scenario list -duration 1s || status=1
run -scenario inbox -duration 1s || status=1
run -scenario gateway -upstream-addr "127.0.0.1:$UPSTREAM_PORT" -count 200 || status=1
run -scenario gateway -upstream-addr "127.0.0.1:$UPSTREAM_PORT" -count 20 -body-bytes 1048576 || status=1
if [ "$status" -ne 0 ]; then
  echo "smoke: a load scenario failed; approvald's log:" >&2
  tail -n 50 "$bench_tmp/approvald.log" >&2
fi
exit "$status"
