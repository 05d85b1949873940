#!/usr/bin/env bash
# The CR8TOR gateway's forwarding against nginx's proxy_pass and against
# calling the upstream directly, side by side: approvald-load posts the
# contract's example package body (and a 1 MiB one) with -clients
# concurrent keep-alive clients, each with a run of its own, to
#   direct   the fake Publish service (/data-publish/package)
#   gateway  approvald's /project/package (embedded SQLite default: every
#            call is recorded in the gateway call log)
#   nginx    nginx proxy_pass to the same fake upstream (bench/nginx.conf)
# The fake upstream runs inside approvald-load (-upstream-addr), so it
# shares the load generator's CPU in all three. Rounds are interleaved;
# the table at the end has the medians.
#   bash bench/gateway-vs-nginx.sh [seconds=5] [rounds=3] [clients=16]
# Needs nginx (apt-get install nginx-light), curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
clients=${3:-16}
export UPSTREAM_PORT=18003
gateway_port=18124
nginx_port=18080
source bench/lib.sh
for tool in nginx jq curl; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install nginx-light jq curl)" >&2; exit 1; }
done
build
port_free "$UPSTREAM_PORT"

start_approvald "$gateway_port" "sqlite:$bench_tmp/gateway.db"

prefix="$bench_tmp/nginx"
mkdir -p "$prefix/tmp"
sed -e "s/LISTEN_PORT/$nginx_port/" -e "s/UPSTREAM_PORT/$UPSTREAM_PORT/" bench/nginx.conf >"$prefix/nginx.conf"
port_free "$nginx_port"
nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" &
bench_pids+=($!)
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$nginx_port") 2>/dev/null && break; sleep 0.1; done

echo "# $(date -u +%FT%TZ) $(machine) $(nginx -v 2>&1) $(go version | cut -d' ' -f3) clients=$clients secs=$secs rounds=$rounds"
results="$bench_tmp/results"
for round in $(seq 1 "$rounds"); do
  for size in 0 1048576; do
    for target in direct gateway nginx; do
      case $target in
        direct) url="http://127.0.0.1:$UPSTREAM_PORT" path=/data-publish/package ;;
        gateway) url="http://127.0.0.1:$gateway_port" path=/project/package ;;
        nginx) url="http://127.0.0.1:$nginx_port" path=/data-publish/package ;;
      esac
      out=$("$load" -scenario gateway -url "$url" -path "$path" -upstream-addr "127.0.0.1:$UPSTREAM_PORT" \
        -clients "$clients" -duration "${secs}s" -body-bytes "$size" -json)
      echo "round $round $out"
      echo "$out" | jq -r --arg t "$target" '[$t, .body_bytes, .ops[0].per_second, .ops[0].p50_ms, .ops[0].p99_ms, .errors] | @tsv' >>"$results"
    done
  done
done

echo
echo "medians of $rounds rounds, $clients clients, ${secs}s each:"
echo "| body | path | req/s | ratio to nginx | p50 ms | p99 ms | added p50 ms | added p50 / nginx's | errors |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
medians 2 <"$results" | awk '
  { t[$2, $1] = $0; rps[$2, $1] = $3; p50[$2, $1] = $4; p99[$2, $1] = $5; err[$2, $1] = $6; if (!($2 in seen)) { seen[$2] = 1; sizes[++ns] = $2 } }
  END {
    for (i = 1; i <= ns; i++) {
      s = sizes[i]
      ngx_added = p50[s, "nginx"] - p50[s, "direct"]
      split("direct gateway nginx", ts, " ")
      for (j = 1; j <= 3; j++) {
        k = ts[j]; added = p50[s, k] - p50[s, "direct"]
        rel = (k == "direct" || ngx_added <= 0) ? "—" : sprintf("%.2f", added / ngx_added)
        printf "| %d B | %s | %.0f | %.2f | %.2f | %.2f | %s | %s | %d |\n", s, k, rps[s, k], rps[s, k] / rps[s, "nginx"], p50[s, k], p99[s, k], (k == "direct") ? "—" : sprintf("%.2f", added), rel, err[s, k]
      }
    }
  }'
