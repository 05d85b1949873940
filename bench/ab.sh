#!/usr/bin/env bash
# Two builds of approvald side by side under one load scenario, interleaved
# (A, B, A, B, …), each run on a server of its own started fresh on the
# same database, so that a change's cost shows beside the noise. REV is a
# commit to build A from (exported with git archive; the work tree and the
# index are not touched), or the path of an approvald binary; B is the work
# tree, or the binary $AB_B when set. The table's latency columns are the
# last operation's (approve for -scenario approve, delivery with -receiver ok); the CPU
# columns are approvald's and (PostgreSQL) the database's CPU time per API call.
#   [AB_PORT=18133] bash bench/ab.sh REV DATABASE [seconds=5] [rounds=3] [approvald-load arguments…]
#   bash bench/ab.sh HEAD postgres://postgres@127.0.0.1:5432/approvald_ab 5 3 -scenario create -clients 16
# A PostgreSQL database named in DATABASE is created when missing; with
# AB_FRESH=1 it is made anew (a SQLite file removed) before every run, as
# delivery runs need: a backlog left by an earlier run, whose receiver is
# gone, takes delivery workers from the next. Needs
# curl and jq (and psql for PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
rev=$1
db=$2
secs=${3:-5}
rounds=${4:-3}
shift $(($# < 4 ? $# : 4))
port=${AB_PORT:-18132} # another port lets two comparisons run at once
source bench/lib.sh
if [ -n "${AB_B:-}" ]; then build load; else build; fi
if [ -x "$rev" ] && [ -f "$rev" ]; then
  cp "$rev" "$bench_tmp/approvald-a"
else
  mkdir -p "$bench_tmp/a"
  git archive "$rev" | tar -x -C "$bench_tmp/a"
  (cd "$bench_tmp/a" && go build -o "$bench_tmp/approvald-a" ./cmd/approvald)
fi
if [ -n "${AB_B:-}" ]; then approvald=$AB_B; fi
if [[ $db == postgres* ]]; then
  name=${db##*/}; name=${name%%\?*}
  server=$(pg_db "$db" postgres)
  psql "$server" -Atc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1 || psql "$server" -qc "CREATE DATABASE $name"
fi
b=$approvald
echo "# $(date -u +%FT%TZ) $(machine) A=$rev B=${AB_B:-work tree}, secs=$secs rounds=$rounds: $*"
results="$bench_tmp/results"
for round in $(seq 1 "$rounds"); do
  for which in A B; do
    approvald=$b
    [ "$which" = A ] && approvald="$bench_tmp/approvald-a"
    if [ "${AB_FRESH:-}" = 1 ]; then
      if [[ $db == postgres* ]]; then
        psql "$server" -qc "DROP DATABASE IF EXISTS $name" -c "CREATE DATABASE $name" >/dev/null
      else
        f=${db#sqlite:}; rm -f "$f" "$f-wal" "$f-shm"
      fi
    fi
    start_approvald "$port" "$db" --db-max-conns 32
    # CPU per API call, of approvald and (on PostgreSQL) of the database,
    # from /proc over the load run (set-up included: it is a few calls).
    s0=$(proc_ticks "$approvald_pid"); d0=$(pg_ticks)
    out=$("$load" -url "http://127.0.0.1:$port" -duration "${secs}s" "$@" -json)
    s1=$(proc_ticks "$approvald_pid"); d1=$(pg_ticks)
    stop_approvald
    echo "round $round $which $out"
    [[ $db == postgres* ]] || { d0=0; d1=0; }
    echo "$out" | jq -r --arg w "$which" --argjson s $((s1 - s0)) --argjson d $((d1 - d0)) --argjson hz "$(getconf CLK_TCK)" '
      ([.ops[] | select(.name != "delivery") | .count] | add) as $calls
      | [$w, .transactions_per_second, .ops[-1].p50_ms, .ops[-1].p99_ms, .errors,
         (if $calls > 0 then $s / $hz * 1e6 / $calls else 0 end), (if $calls > 0 then $d / $hz * 1e6 / $calls else 0 end)] | @tsv' >>"$results"
  done
done
approvald=$b
echo
echo "medians of $rounds rounds:"
echo "| build | requests/s | ratio to A | p50 ms | p99 ms | errors | approvald CPU µs/call | database CPU µs/call |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
medians 1 <"$results" | awk '{ if ($1 == "A") a = $2; printf "| %s | %.0f | %.2f | %.2f | %.2f | %d | %.0f | %.0f |\n", $1, $2, $2 / a, $3, $4, $5, $6, $7 }'
