#!/usr/bin/env bash
# Fan-out of notifications: N requests that a group of five people reviews
# (its five addresses and its chat as its contact), with the batching
# window off and on, each on a fresh SQLite database. Prints the load
# tool's report: the mails, their recipients, the chat messages, and when
# the last arrived after the first and the last create.
#
#   bash bench/notify.sh [BINARY] [COUNT] [WINDOW...]
#   bash bench/notify.sh ./approvald 1000 0 1m
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bin=${1:-}
count=${2:-1000}
shift $(( $# > 2 ? 2 : $# )) || true
windows=("$@")
[ ${#windows[@]} -gt 0 ] || windows=(0 1m)
build_or_use "$bin"
export APPROVALD_LINK_KEYS="k1:$(head -c 32 /dev/urandom | base64)"
port=18411
for w in "${windows[@]}"; do
	rm -f "$bench_tmp"/n.db* "$bench_tmp/approvald.log"
	start_approvald $port "sqlite:$bench_tmp/n.db" --public-url https://approvals.example.com --notify-batch-window "$w"
	echo "== batch window $w, $count requests"
	"$load" -url "http://127.0.0.1:$port" -scenario notify -count "$count" -clients 16 -settle 5m
	grep -c '"level":"WARN"' "$bench_tmp/approvald.log" | sed 's/^/server warnings: /' || true
	stop_approvald
done
