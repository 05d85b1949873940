#!/usr/bin/env bash
# What a GitHub deployment and a receipt cost: on a fresh SQLite database
# each, COUNT requests opened by signed deployment_protection_rule
# deliveries to the GitHub App's webhook (approvald-load -scenario github),
# beside COUNT opened by the API (-scenario create), and COUNT receipts
# read (-scenario receipt -verify: the requests are made and approved
# first, untimed; every envelope is checked against the server's keys
# after the timed run). Per scenario: the load tool's report, with the
# server's CPU time per call over the timed run (-server-pid, from
# /proc/<pid>/stat); then one line each, side by side.
#
# The server acts as a GitHub App whose API is http://127.0.0.1:1, where
# nothing answers: the requests stay pending, so no callback is made.
#
#   bash bench/github.sh [BINARY] [COUNT] [CLIENTS]
#   bash bench/github.sh ./approvald 3000
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
count=${2:-3000}
clients=${3:-16}
build_or_use "${1:-}"
export APPROVALD_GITHUB_WEBHOOK_SECRET="bench-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
APPROVALD_GITHUB_APP_PRIVATE_KEY=$(openssl genrsa 2048 2>/dev/null)
export APPROVALD_GITHUB_APP_PRIVATE_KEY
APPROVALD_RECEIPT_KEYS=$(openssl genpkey -algorithm ed25519 2>/dev/null)
export APPROVALD_RECEIPT_KEYS
api=http://127.0.0.1:1
port=18413
echo "$(machine); $count operations, $clients clients"
for scenario in create github receipt; do
	rm -f "$bench_tmp"/g.db* "$bench_tmp/approvald.log"
	start_approvald $port "sqlite:$bench_tmp/g.db" --notify=false --github-app-id 1 --github-api-url "$api"
	echo "== $scenario"
	args=(-url http://127.0.0.1:$port -scenario "$scenario" -count "$count" -clients "$clients" -server-pid "$approvald_pid" -fail-on-error)
	case $scenario in
	github) args+=(-github-api-url "$api") ;;
	receipt) args+=(-verify) ;;
	esac
	"$load" "${args[@]}" | tee "$bench_tmp/$scenario.txt"
	grep -c '"level":"WARN"' "$bench_tmp/approvald.log" | sed 's/^/server warnings: /' || true
	stop_approvald
done
echo "== side by side (load average $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-8s %9s %9s %9s %14s\n' scenario ops/s "p50 ms" "p99 ms" "server µs/call"
for scenario in create github receipt; do
	# The table's op row: op count ops/s p50 p90 p99 max errors.
	awk -v s="$scenario" '
		$1 == "create" || $1 == "deliver" || $1 == "receipt" { rate = $3; p50 = $4; p99 = $6 }
		/^server CPU:/ { cpu = $5 }
		END { printf "%-8s %9s %9s %9s %14s\n", s, rate, p50, p99, cpu }' "$bench_tmp/$scenario.txt"
done
