#!/usr/bin/env bash
# What rules as code cost a create: the same create load (approvald-load
# -scenario create) on a fresh SQLite database with no stored policy, then
# with a stored policy that every request matches (match) whose one rule
# approves automatically (auto_approve_if): each create then evaluates the
# match and the rule and records the automatic approval. In between, the
# same policy without the automatic rule: the match alone.
#
#   bash bench/cel.sh [BINARY] [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-}
count=${2:-3000}
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
if [ -z "$bin" ]; then
	go build -o "$tmp/approvald" ./cmd/approvald
	bin=$tmp/approvald
fi
go build -o "$tmp/load" ./cmd/approvald-load
export APPROVALD_ADMIN_KEY=bench-cel-0123456789abcdef0123456789abcdef
port=18412
for mode in plain match auto; do
	rm -f "$tmp"/c.db*
	"$bin" --addr 127.0.0.1:$port --database "sqlite:$tmp/c.db" --rate-limit -1 --notify=false --log-level warn 2>"$tmp/server.log" &
	pid=$!
	for _ in $(seq 50); do curl -fsS http://127.0.0.1:$port/readyz >/dev/null 2>&1 && break; sleep 0.1; done
	if [ "$mode" = match ]; then
		curl -fsS -o /dev/null http://127.0.0.1:$port/v1/policies -H "Authorization: Bearer $APPROVALD_ADMIN_KEY" \
			-H 'Content-Type: application/json' -d '{"name":"small","match":"payload.currency == \"EUR\"","priority":1,
			"policy":{"rules":[{"name":"small","min_approvals":1}]}}'
	fi
	if [ "$mode" = auto ]; then
		curl -fsS -o /dev/null http://127.0.0.1:$port/v1/policies -H "Authorization: Bearer $APPROVALD_ADMIN_KEY" \
			-H 'Content-Type: application/json' -d '{"name":"small","match":"payload.currency == \"EUR\"","priority":1,
			"policy":{"rules":[{"name":"small","min_approvals":1,"auto_approve_if":"double(payload.amount) < 5000.0"}]}}'
	fi
	echo "== $mode"
	start=$(awk '{print $14+$15}' /proc/$pid/stat)
	"$tmp/load" -url http://127.0.0.1:$port -scenario create -count "$count" -clients 16
	end=$(awk '{print $14+$15}' /proc/$pid/stat)
	echo "server CPU: $(( (end - start) * 10 )) ms for $count creates"
	curl -fsS "http://127.0.0.1:$port/v1/approvals?status=approved&limit=1" -H "Authorization: Bearer $APPROVALD_ADMIN_KEY" | grep -o '"policy_source":"[^"]*"' | head -1 || echo "(none approved)"
	kill $pid; wait $pid 2>/dev/null || true
done
