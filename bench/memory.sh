#!/usr/bin/env bash
# Resident memory of two builds of approvald side by side, interleaved
# (A, B, A, B, …): idle after start on a fresh and on an existing SQLite
# file, and under a paced create and approve load on SQLite and PostgreSQL
# (each load run on a fresh database). REV is a commit to build A from
# (git archive; the work tree is not touched) or an approvald binary; B is
# the work tree. Each run reads /proc/<pid>/status (VmRSS: resident;
# RssAnon: heap, stacks and SQLite's own allocations; RssFile: the mapped
# binary and libraries) and the Go runtime's figures from --debug-addr's
# /metrics. Under load the RSS quoted is the median of one sample a second
# over the second half of the run; VmHWM is the peak.
#   bash bench/memory.sh REV [postgres-url] [seconds=15] [rounds=3]
#   MEM_PROFILES=/tmp/heap bash bench/memory.sh …  # also keep a heap profile per load run
# Needs curl and jq, and psql for PostgreSQL (an empty URL skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
rev=$1
pgurl=${2-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
secs=${3:-15}
rounds=${4:-3}
port=${MEM_PORT:-18141}
debug=$((port + 1))
source bench/lib.sh
build
if [ -x "$rev" ] && [ -f "$rev" ]; then
  cp "$rev" "$bench_tmp/approvald-a"
else
  mkdir -p "$bench_tmp/a"
  git archive "$rev" | tar -x -C "$bench_tmp/a"
  (cd "$bench_tmp/a" && go build -o "$bench_tmp/approvald-a" ./cmd/approvald)
fi
b=$approvald
db="$bench_tmp/mem.db"
pgdb=""
if [ -n "$pgurl" ]; then
  pgdb=$(pg_db "$pgurl" approvald_mem)
fi
echo "# $(date -u +%FT%TZ) $(machine) A=$rev ($(du -h "$bench_tmp/approvald-a" | cut -f1)) B=work tree ($(du -h "$b" | cut -f1)) secs=$secs rounds=$rounds"

# status FIELD: FIELD of the server's /proc status, in MiB.
status() { awk -v f="$1:" '$1 == f { printf "%.1f", $2 / 1024 }' "/proc/$approvald_pid/status"; }
# gomem: heap in use, stacks in use, and all the runtime took from the OS, in MiB.
gomem() {
  curl -sf "http://127.0.0.1:$debug/metrics" | awk '
    $1 == "go_memstats_heap_inuse_bytes" { h = $2 } $1 == "go_memstats_stack_inuse_bytes" { s = $2 }
    $1 == "go_memstats_sys_bytes" { y = $2 }
    END { printf "%.1f %.1f %.1f", h / 1048576, s / 1048576, y / 1048576 }'
}
fresh() { # store
  if [ "$1" = sqlite ]; then
    rm -f "$db" "$db-wal" "$db-shm"
  else
    local server
    server=$(pg_db "$pgurl" postgres)
    psql "$server" -qc "DROP DATABASE IF EXISTS approvald_mem" -c "CREATE DATABASE approvald_mem" >/dev/null
  fi
}
url() { if [ "$1" = sqlite ]; then echo "sqlite:$db"; else echo "$pgdb"; fi; }

results="$bench_tmp/results"
idle() { # build kind(fresh|existing)
  [ "$2" = fresh ] && fresh sqlite
  start_approvald "$port" "sqlite:$db" --debug-addr "127.0.0.1:$debug"
  sleep 5
  local line
  line="idle-$2 sqlite $1 $(status VmRSS) $(status VmHWM) $(status RssAnon) $(status RssFile) $(gomem) 0"
  stop_approvald
  echo "$line"
}
load() { # build store scenario args…
  local which=$1 store=$2 scenario=$3
  shift 3
  fresh "$store"
  start_approvald "$port" "$(url "$store")" --db-max-conns 32 --debug-addr "127.0.0.1:$debug"
  "$load" -url "http://127.0.0.1:$port" -scenario "$scenario" -duration "${secs}s" "$@" -json >"$bench_tmp/load.json" &
  local lpid=$! samples=() gm i
  for i in $(seq 1 "$secs"); do
    sleep 1
    [ "$i" -gt $((secs / 2)) ] && samples+=("$(status VmRSS)")
    if [ "$i" -eq $((secs - 1)) ]; then
      gm=$(gomem)
      if [ -n "${MEM_PROFILES:-}" ]; then
        mkdir -p "$MEM_PROFILES"
        curl -sf -o "$MEM_PROFILES/heap-$which-$store-$scenario-$(date +%s).pb.gz" "http://127.0.0.1:$debug/debug/pprof/heap"
      fi
    fi
  done
  local anon file
  anon=$(status RssAnon) file=$(status RssFile)
  wait "$lpid"
  local steady
  steady=$(printf '%s\n' "${samples[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  echo "$scenario $store $which $steady $(status VmHWM) $anon $file $gm $(jq -r '.transactions_per_second' "$bench_tmp/load.json")"
  stop_approvald
}

fresh sqlite
for round in $(seq 1 "$rounds"); do
  for which in A B; do
    approvald=$b
    [ "$which" = A ] && approvald="$bench_tmp/approvald-a"
    for kind in fresh existing; do
      line=$(idle "$which" "$kind")
      echo "round $round $line"
      echo "$line" >>"$results"
    done
    stores=(sqlite)
    [ -n "$pgurl" ] && stores+=(postgres)
    for store in "${stores[@]}"; do
      line=$(load "$which" "$store" create -clients 16 -rate 300)
      echo "round $round $line"
      echo "$line" >>"$results"
      line=$(load "$which" "$store" approve -clients 16 -rate 150 -receiver ok)
      echo "round $round $line"
      echo "$line" >>"$results"
    done
  done
done
echo
echo "medians of $rounds rounds (MiB; under load: VmRSS over the second half of the run, VmHWM its peak):"
echo "| run | store | build | VmRSS | VmHWM | RssAnon | RssFile | Go heap in use | Go stacks | Go sys | ops/s |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
medians 3 <"$results" | awk '{ printf "| %s | %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }'
