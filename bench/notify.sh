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
bin=${1:-}
count=${2:-1000}
shift $(( $# > 2 ? 2 : $# )) || true
windows=("$@")
[ ${#windows[@]} -gt 0 ] || windows=(0 1m)
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
if [ -z "$bin" ]; then
	go build -o "$tmp/approvald" ./cmd/approvald
	bin=$tmp/approvald
fi
go build -o "$tmp/load" ./cmd/approvald-load
export APPROVALD_ADMIN_KEY=bench-notify-0123456789abcdef0123456789ab
export APPROVALD_LINK_KEYS="k1:$(head -c 32 /dev/urandom | base64)"
port=18411
for w in "${windows[@]}"; do
	rm -f "$tmp"/n.db*
	"$bin" --addr 127.0.0.1:$port --database "sqlite:$tmp/n.db" --public-url https://approvals.example.com \
		--notify-batch-window "$w" --rate-limit -1 --log-level warn 2>"$tmp/server.log" &
	pid=$!
	for _ in $(seq 50); do curl -fsS http://127.0.0.1:$port/readyz >/dev/null 2>&1 && break; sleep 0.1; done
	echo "== batch window $w, $count requests"
	"$tmp/load" -url http://127.0.0.1:$port -scenario notify -count "$count" -clients 16 -settle 5m
	grep -c '"level":"WARN"' "$tmp/server.log" | sed 's/^/server warnings: /' || true
	kill $pid; wait $pid 2>/dev/null || true
done
