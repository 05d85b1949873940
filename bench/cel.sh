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
source bench/lib.sh
count=${2:-3000}
build_or_use "${1:-}"
port=18412
url=http://127.0.0.1:$port
policy() {
	curl -fsS -o /dev/null "$url/v1/policies" -H "Authorization: Bearer $APPROVALD_ADMIN_KEY" \
		-H 'Content-Type: application/json' -d '{"name":"small","match":"payload.currency == \"EUR\"","priority":1,
		"policy":{"rules":[{"name":"small","min_approvals":1'"$1"'}]}}'
}
for mode in plain match auto; do
	rm -f "$bench_tmp"/c.db*
	start_approvald $port "sqlite:$bench_tmp/c.db" --notify=false
	case $mode in
	match) policy "" ;;
	auto) policy ',"auto_approve_if":"double(payload.amount) < 5000.0"' ;;
	esac
	echo "== $mode"
	start=$(proc_ticks "$approvald_pid")
	"$load" -url "$url" -scenario create -count "$count" -clients 16
	end=$(proc_ticks "$approvald_pid")
	echo "server CPU: $(( (end - start) * 10 )) ms for $count creates"
	curl -fsS "$url/v1/approvals?status=approved&limit=1" -H "Authorization: Bearer $APPROVALD_ADMIN_KEY" | grep -o '"policy_source":"[^"]*"' | head -1 || echo "(none approved)"
	stop_approvald
done
