#!/usr/bin/env bash
# A CPU profile of approvald under one load scenario: starts approvald on
# DATABASE, runs approvald-load with the given arguments for SECONDS,
# samples the server for the middle of the run, and prints the functions
# with the largest share of the server's CPU, callees included. It uses
# approvald's /debug/pprof/profile when the binary has --debug-addr, and
# Linux perf from the outside otherwise.
#   bash bench/profile.sh DATABASE SECONDS [approvald-load arguments…]
#   bash bench/profile.sh sqlite:/tmp/p.db 10 -scenario approve -receiver ok -rate 500 -clients 32
#   bash bench/profile.sh sqlite:/tmp/p.db 10 -scenario gateway -upstream-addr 127.0.0.1:18003 -body-bytes 1048576
# Needs curl, and perf (apt-get install linux-perf) without --debug-addr.
# The profile is kept as $PROFILE_OUT (default /tmp/approvald.prof, for
# `go tool pprof`; /tmp/approvald.perf for `perf report -i` with perf).
set -euo pipefail
cd "$(dirname "$0")/.."
db=$1
secs=$2
shift 2
port=18130
debug_port=18131
source bench/lib.sh
build
pprof=false
if "$approvald" --help 2>&1 | grep -q -- '-debug-addr'; then pprof=true; fi
if $pprof; then
  out=${PROFILE_OUT:-/tmp/approvald.prof}
  start_approvald "$port" "$db" --db-max-conns 32 --debug-addr "127.0.0.1:$debug_port"
else
  out=${PROFILE_OUT:-/tmp/approvald.perf}
  command -v perf >/dev/null || { echo "perf is needed (apt-get install linux-perf)" >&2; exit 1; }
  start_approvald "$port" "$db" --db-max-conns 32
fi
"$load" -url "http://127.0.0.1:$port" -duration "${secs}s" "$@" >"$bench_tmp/load.out" &
load_pid=$!
sleep 1
if $pprof; then
  curl -sf -o "$out" "http://127.0.0.1:$debug_port/debug/pprof/profile?seconds=$((secs - 2))"
else
  perf record -q -F 999 -g -p "$approvald_pid" -o "$out" -- sleep $((secs - 2)) 2>/dev/null
fi
wait "$load_pid"
cat "$bench_tmp/load.out"
echo
echo "approvald's CPU by function, callees included (top 70):"
if $pprof; then
  go tool pprof -top -cum -nodecount 70 "$approvald" "$out" 2>/dev/null | tail -n +6 | cut -c1-150
else
  perf report -i "$out" --children --sort symbol --stdio -g none 2>/dev/null | grep '%' | head -70 | cut -c1-150
fi
